//! Answering `elicitation/create` with nobody at the keyboard: a gateway call has no user to
//! ask, so a form is accepted with the defaults its schema declares (SEP-1034), or declined.
//!
//! Invariants:
//! - The answer is `accept` with `content` holding exactly the properties that declare a
//!   `default` of an allowed type (string, number, integer, boolean, array of strings); a
//!   property without a default is left out.
//! - It is `decline` when a `required` property has no usable default, when the request is not a
//!   form (`mode` other than `"form"`, e.g. URL mode, which needs a browser), when the schema is
//!   missing, or when the content would exceed [`MAX_CONTENT_BYTES`]. Never `cancel`, never an
//!   error: the server always gets an answer it can act on, at once.
//! - Pure: no I/O, bounded by the size of the request (itself capped by the SSE event limit).

use serde_json::{json, Map, Value};

/// Largest `content` we send back.
pub const MAX_CONTENT_BYTES: usize = 64 << 10;

/// The `ElicitResult` for the params of an `elicitation/create` request.
pub fn answer(params: &Value) -> Value {
    let mode = params.get("mode").and_then(Value::as_str).unwrap_or("form");
    if mode != "form" {
        return decline();
    }
    let Some(schema) = params.get("requestedSchema").filter(|s| s.is_object()) else {
        return decline();
    };
    let mut content = Map::new();
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, prop) in props {
            if let Some(default) = prop.get("default").filter(|d| allowed(d)) {
                content.insert(name.clone(), default.clone());
            }
        }
    }
    let required = schema.get("required").and_then(Value::as_array);
    let missing = required.is_some_and(|list| {
        list.iter()
            .any(|r| r.as_str().is_none_or(|r| !content.contains_key(r)))
    });
    if missing {
        return decline();
    }
    let content = Value::Object(content);
    if content.to_string().len() > MAX_CONTENT_BYTES {
        return decline();
    }
    json!({ "action": "accept", "content": content })
}

fn decline() -> Value {
    json!({ "action": "decline" })
}

/// The value types an elicitation answer may carry.
fn allowed(v: &Value) -> bool {
    match v {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => true,
        Value::Array(items) => items.iter().all(Value::is_string),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(properties: Value, required: Value) -> Value {
        json!({
            "message": "m",
            "requestedSchema": { "type": "object", "properties": properties, "required": required }
        })
    }

    #[test]
    fn accepts_with_the_declared_defaults() {
        let got = answer(&form(
            json!({
                "name": {"type": "string", "default": "John Doe"},
                "age": {"type": "integer", "default": 30},
                "score": {"type": "number", "default": 95.5},
                "status": {"type": "string", "enum": ["active", "inactive"], "default": "active"},
                "verified": {"type": "boolean", "default": true},
                "tags": {"type": "array", "items": {"type": "string"}, "default": ["a"]},
                "nickname": {"type": "string"},
                "weird": {"type": "object", "default": {"x": 1}}
            }),
            json!(["name"]),
        ));
        assert_eq!(
            got,
            json!({"action": "accept", "content": {
                "name": "John Doe", "age": 30, "score": 95.5, "status": "active",
                "verified": true, "tags": ["a"]
            }})
        );
    }

    #[test]
    fn declines_when_a_required_field_has_no_default() {
        let got = answer(&form(
            json!({"name": {"type": "string"}, "n": {"type": "integer", "default": 1}}),
            json!(["name"]),
        ));
        assert_eq!(got, json!({"action": "decline"}));
        let got = answer(&form(json!({}), json!([7])));
        assert_eq!(got["action"], "decline", "a non-string required entry");
    }

    #[test]
    fn declines_url_mode_missing_schemas_and_huge_answers() {
        let url = json!({"mode": "url", "url": "https://x", "message": "m", "elicitationId": "e"});
        assert_eq!(answer(&url)["action"], "decline");
        assert_eq!(answer(&json!({"message": "m"}))["action"], "decline");
        assert_eq!(answer(&Value::Null)["action"], "decline");
        let big = "x".repeat(MAX_CONTENT_BYTES + 1);
        let got = answer(&form(
            json!({"a": {"type": "string", "default": big}}),
            json!([]),
        ));
        assert_eq!(got["action"], "decline");
    }

    #[test]
    fn an_empty_form_is_accepted_empty() {
        let got = answer(&form(json!({}), json!([])));
        assert_eq!(got, json!({"action": "accept", "content": {}}));
    }
}
