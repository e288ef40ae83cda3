//! `Mcp-Param-{Name}` headers of 2026-07-28 (SEP-2243, "custom headers from tool parameters"):
//! a tool's `inputSchema` may mark a property with `"x-mcp-header": "Region"`, and a
//! `tools/call` then mirrors that argument into `Mcp-Param-Region`, so intermediaries can route
//! on it without reading the body. Servers compare header and body and refuse a disagreement
//! (HTTP 400, `HeaderMismatch`).
//!
//! Invariants:
//! - Only annotations statically reachable through a chain of `properties` keys count, as in the
//!   spec; an annotation anywhere else (under `items`, `anyOf`, `additionalProperties`, `$defs`…
//!   or on the root) makes the schema invalid, and so do a name that is not an RFC 9110 token,
//!   two names equal ignoring case, and a property whose `type` is not string, integer or
//!   boolean (`number` is tolerated, as the TypeScript SDK does). Clients must reject a tool
//!   whose schema is invalid: [`headers_for`] is then an `Err` naming the problem.
//! - An argument that is absent or `null`, or not a scalar, gets no header. Booleans are
//!   `true`/`false`, numbers their JSON text, strings as they are; values that are not plain
//!   printable ASCII are sent in the `=?base64?…?=` form ([`encode_header_value`]).
//! - Pure: the walk uses an explicit stack bounded by the schema's size.

use serde_json::{Map, Value};

use super::stateless::encode_header_value;

pub const ANNOTATION: &str = "x-mcp-header";
pub const HEADER_PREFIX: &str = "mcp-param-";

/// Keywords whose value is one subschema, a list of them, or a map of them: crossing one leaves
/// the statically reachable `properties` chain.
const SUBSCHEMA_ONE: &[&str] = &[
    "items",
    "contains",
    "unevaluatedItems",
    "additionalProperties",
    "propertyNames",
    "unevaluatedProperties",
    "not",
    "if",
    "then",
    "else",
    "contentSchema",
];
const SUBSCHEMA_LIST: &[&str] = &["allOf", "anyOf", "oneOf", "prefixItems"];
const SUBSCHEMA_MAP: &[&str] = &[
    "patternProperties",
    "dependentSchemas",
    "$defs",
    "definitions",
];

/// One valid annotation: the header name part and the property path to the argument.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    pub name: String,
    pub path: Vec<String>,
}

/// The annotations of `schema`, or why the schema is invalid.
pub fn bindings(schema: &Value) -> Result<Vec<Binding>, String> {
    let mut out: Vec<Binding> = Vec::new();
    // (path from the root through `properties` only — `None` once off that chain, node)
    let mut stack: Vec<(Option<Vec<String>>, &Value)> = vec![(Some(Vec::new()), schema)];
    while let Some((path, node)) = stack.pop() {
        let Value::Object(obj) = node else { continue };
        if let Some(annotation) = obj.get(ANNOTATION) {
            let path = match &path {
                Some(p) if !p.is_empty() => p.clone(),
                _ => {
                    return Err(format!(
                        "{ANNOTATION} sits where no argument can be named (only properties reached through \"properties\" may carry it)"
                    ))
                }
            };
            let at = path.join(".");
            let Some(name) = annotation.as_str() else {
                return Err(format!("property {at}: {ANNOTATION} is not a string"));
            };
            if !is_token(name) {
                return Err(format!(
                    "property {at}: {ANNOTATION} \"{}\" is not a valid HTTP header name",
                    super::text::clip(name, 60)
                ));
            }
            let ty = obj.get("type").and_then(Value::as_str).unwrap_or("");
            if !matches!(ty, "string" | "integer" | "boolean" | "number") {
                return Err(format!(
                    "property {at}: {ANNOTATION} is only allowed on string, integer and boolean properties"
                ));
            }
            if out.iter().any(|b| b.name.eq_ignore_ascii_case(name)) {
                return Err(format!(
                    "property {at}: {ANNOTATION} \"{name}\" is declared twice"
                ));
            }
            out.push(Binding {
                name: name.to_string(),
                path,
            });
        }
        for (key, value) in obj {
            let key = key.as_str();
            if key == "properties" {
                if let Value::Object(props) = value {
                    for (prop, sub) in props {
                        let next = path.as_ref().map(|p| {
                            let mut p = p.clone();
                            p.push(prop.clone());
                            p
                        });
                        stack.push((next, sub));
                    }
                }
            } else if SUBSCHEMA_ONE.contains(&key) {
                stack.push((None, value));
            } else if SUBSCHEMA_LIST.contains(&key) {
                if let Value::Array(items) = value {
                    stack.extend(items.iter().map(|s| (None, s)));
                }
            } else if SUBSCHEMA_MAP.contains(&key) {
                if let Value::Object(map) = value {
                    stack.extend(map.values().map(|s| (None, s)));
                }
            }
        }
    }
    Ok(out)
}

/// The `Mcp-Param-*` headers of a `tools/call` of a tool with `schema` with `arguments`.
pub fn headers_for(
    schema: &Value,
    arguments: &Map<String, Value>,
) -> Result<Vec<(String, String)>, String> {
    let mut headers = Vec::new();
    for b in bindings(schema)? {
        let mut node = arguments.get(&b.path[0]);
        for key in &b.path[1..] {
            node = node.and_then(|n| n.get(key));
        }
        let rendered = match node {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Bool(v)) => v.to_string(),
            Some(Value::Number(n)) => n.to_string(),
            _ => continue,
        };
        headers.push((
            format!("{HEADER_PREFIX}{}", b.name.to_ascii_lowercase()),
            encode_header_value(&rendered),
        ));
    }
    Ok(headers)
}

/// RFC 9110 `token`: one or more tchar.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn mirrors_annotated_arguments() {
        let schema = json!({"type": "object", "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "count": {"type": "integer", "x-mcp-header": "Count"},
            "dry": {"type": "boolean", "x-mcp-header": "Dry-Run"},
            "query": {"type": "string"},
            "opts": {"type": "object", "properties": {
                "tenant": {"type": "string", "x-mcp-header": "Tenant"}}},
            "absent": {"type": "string", "x-mcp-header": "Absent"},
            "nothing": {"type": "string", "x-mcp-header": "Nothing"}
        }});
        let mut got = headers_for(
            &schema,
            &args(
                json!({"region": "eu-west-1", "count": 42, "dry": false, "query": "x",
                "opts": {"tenant": "café"}, "nothing": null}),
            ),
        )
        .unwrap();
        got.sort();
        assert_eq!(
            got,
            vec![
                ("mcp-param-count".into(), "42".into()),
                ("mcp-param-dry-run".into(), "false".into()),
                ("mcp-param-region".into(), "eu-west-1".into()),
                ("mcp-param-tenant".into(), "=?base64?Y2Fmw6k=?=".into()),
            ]
        );
        assert!(headers_for(&json!({"type": "object"}), &Map::new())
            .unwrap()
            .is_empty());
    }

    #[test]
    fn invalid_annotations_reject_the_tool() {
        for schema in [
            json!({"x-mcp-header": "Root", "type": "object"}),
            json!({"properties": {"a": {"type": "array", "items": {"type": "string", "x-mcp-header": "A"}}}}),
            json!({"properties": {"a": {"anyOf": [{"type": "string", "x-mcp-header": "A"}]}}}),
            json!({"$defs": {"a": {"type": "string", "x-mcp-header": "A"}}}),
            json!({"properties": {"a": {"type": "string", "x-mcp-header": "Bad Name"}}}),
            json!({"properties": {"a": {"type": "string", "x-mcp-header": "X\r\nEvil: 1"}}}),
            json!({"properties": {"a": {"type": "string", "x-mcp-header": ""}}}),
            json!({"properties": {"a": {"type": "string", "x-mcp-header": 5}}}),
            json!({"properties": {"a": {"type": "object", "x-mcp-header": "A"}}}),
            json!({"properties": {"a": {"x-mcp-header": "A"}}}),
            json!({"properties": {
                "a": {"type": "string", "x-mcp-header": "Region"},
                "b": {"type": "string", "x-mcp-header": "region"}}}),
        ] {
            assert!(bindings(&schema).is_err(), "{schema}");
            assert!(headers_for(&schema, &Map::new()).is_err(), "{schema}");
        }
    }

    #[test]
    fn data_keywords_are_not_walked() {
        // `default`, `enum`, `const`, `examples` hold data, not schemas.
        let schema = json!({"properties": {"a": {"type": "object",
            "default": {"x-mcp-header": "NotReal"}, "examples": [{"x-mcp-header": "No"}]}}});
        assert_eq!(bindings(&schema).unwrap(), vec![]);
    }
}
