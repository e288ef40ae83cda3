//! Validation of tool arguments against the tool's `inputSchema` before anything goes
//! upstream, so a malformed call costs nothing upstream and the PWA learns exactly which
//! argument is wrong (`details.errors[].path`).
//!
//! A deliberately small JSON Schema subset (a full validator would add ~0.5 MB to the worker):
//! `type` (incl. `integer` and type lists), `enum`, `const`, `required`, `properties`,
//! `additionalProperties`, `items`, length/size/range bounds, `allOf`/`anyOf`/`oneOf`/`not`,
//! and local `$ref`s (`#/$defs/…`, `#/definitions/…`).
//!
//! Invariants:
//! - Unknown keywords (`format`, `pattern`, …) are accepted, never rejected: the upstream server
//!   stays the authority, we only refuse what is certainly invalid.
//! - A schema we cannot read (not an object, a `$ref` we cannot resolve, nesting past the depth
//!   cap) validates nothing rather than blocking the tool.
//! - At most [`MAX_ERRORS`] errors are reported.

use serde_json::{json, Map, Value};

use crate::error::Error;

pub const MAX_ERRORS: usize = 20;
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq)]
pub struct SchemaError {
    /// JSON Pointer to the offending value, e.g. `/items/0/name` (`""` is the whole object).
    pub path: String,
    pub message: String,
}

/// Validates `arguments` against `schema`; the error lists every failing path found.
pub fn validate_arguments(schema: &Value, arguments: &Value) -> Result<(), Error> {
    let errors = validate(schema, arguments);
    if errors.is_empty() {
        return Ok(());
    }
    let first = &errors[0];
    let summary = if first.path.is_empty() {
        format!("parameters {}", first.message)
    } else {
        format!("parameter {} {}", first.path, first.message)
    };
    let list: Vec<Value> = errors
        .iter()
        .map(|e| json!({ "path": e.path, "message": e.message }))
        .collect();
    Err(Error::validation_with(
        format!("parameters do not match the tool's input schema: {summary}"),
        json!({ "field": "parameters", "errors": list }),
    ))
}

pub fn validate(schema: &Value, value: &Value) -> Vec<SchemaError> {
    let mut v = Validator {
        root: schema,
        errors: Vec::new(),
    };
    v.check(schema, value, &mut String::new(), 0);
    v.errors
}

struct Validator<'a> {
    root: &'a Value,
    errors: Vec<SchemaError>,
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn matches_type(expected: &str, value: &Value) -> bool {
    let actual = type_name(value);
    expected == actual || (expected == "number" && actual == "integer")
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

impl<'a> Validator<'a> {
    fn fail(&mut self, path: &str, message: String) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(SchemaError {
                path: path.to_string(),
                message,
            });
        }
    }

    fn resolve(&self, reference: &str) -> Option<&'a Value> {
        let pointer = reference.strip_prefix('#')?;
        self.root.pointer(pointer)
    }

    /// Whether `value` is valid against `schema`, without recording errors.
    fn is_valid(&self, schema: &Value, value: &Value, depth: usize) -> bool {
        let mut probe = Validator {
            root: self.root,
            errors: Vec::new(),
        };
        probe.check(schema, value, &mut String::new(), depth);
        probe.errors.is_empty()
    }

    fn check(&mut self, schema: &Value, value: &Value, path: &mut String, depth: usize) {
        if depth > MAX_DEPTH || self.errors.len() >= MAX_ERRORS {
            return;
        }
        let Some(s) = schema.as_object() else {
            if schema == &Value::Bool(false) {
                self.fail(path, "is not allowed".into());
            }
            return;
        };
        if let Some(target) = s.get("$ref").and_then(Value::as_str) {
            if let Some(resolved) = self.resolve(target) {
                self.check(resolved, value, path, depth + 1);
            }
        }
        self.check_type(s, value, path);
        self.check_enum(s, value, path);
        match value {
            Value::Object(obj) => self.check_object(s, obj, path, depth),
            Value::Array(items) => self.check_array(s, items, path, depth),
            Value::String(text) => self.check_string(s, text, path),
            Value::Number(n) => self.check_number(s, n.as_f64().unwrap_or_default(), path),
            _ => {}
        }
        self.check_combinators(s, value, path, depth);
    }

    fn check_type(&mut self, s: &Map<String, Value>, value: &Value, path: &str) {
        let ok = match s.get("type") {
            Some(Value::String(t)) => matches_type(t, value),
            Some(Value::Array(types)) => types
                .iter()
                .filter_map(Value::as_str)
                .any(|t| matches_type(t, value)),
            _ => true,
        };
        if !ok {
            let expected = match &s["type"] {
                Value::String(t) => t.clone(),
                other => other
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(" or ")
                    })
                    .unwrap_or_default(),
            };
            self.fail(
                path,
                format!("must be {expected}, not {}", type_name(value)),
            );
        }
    }

    fn check_enum(&mut self, s: &Map<String, Value>, value: &Value, path: &str) {
        if let Some(Value::Array(allowed)) = s.get("enum") {
            if !allowed.contains(value) {
                let list: Vec<String> = allowed.iter().take(10).map(Value::to_string).collect();
                self.fail(path, format!("must be one of {}", list.join(", ")));
            }
        }
        if let Some(expected) = s.get("const") {
            if expected != value {
                self.fail(path, format!("must be {expected}"));
            }
        }
    }

    fn check_object(
        &mut self,
        s: &Map<String, Value>,
        obj: &Map<String, Value>,
        path: &mut String,
        depth: usize,
    ) {
        if let Some(Value::Array(required)) = s.get("required") {
            for name in required.iter().filter_map(Value::as_str) {
                if !obj.contains_key(name) {
                    self.fail(&format!("{path}/{}", escape(name)), "is required".into());
                }
            }
        }
        let properties = s.get("properties").and_then(Value::as_object);
        for (name, item) in obj {
            let len = path.len();
            path.push('/');
            path.push_str(&escape(name));
            match properties.and_then(|p| p.get(name)) {
                Some(sub) => self.check(sub, item, path, depth + 1),
                None => match s.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        self.fail(path, "is not an accepted parameter".into())
                    }
                    Some(extra @ Value::Object(_)) => self.check(extra, item, path, depth + 1),
                    _ => {}
                },
            }
            path.truncate(len);
        }
        self.check_count(
            s,
            obj.len(),
            "minProperties",
            "maxProperties",
            "properties",
            path,
        );
    }

    fn check_array(
        &mut self,
        s: &Map<String, Value>,
        items: &[Value],
        path: &mut String,
        depth: usize,
    ) {
        if let Some(item_schema @ Value::Object(_)) = s.get("items") {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("/{i}"));
                self.check(item_schema, item, path, depth + 1);
                path.truncate(len);
            }
        }
        self.check_count(s, items.len(), "minItems", "maxItems", "items", path);
        if s.get("uniqueItems") == Some(&Value::Bool(true)) {
            for (i, a) in items.iter().enumerate() {
                if items[..i].contains(a) {
                    self.fail(
                        path,
                        format!("must not repeat items (item {i} repeats an earlier one)"),
                    );
                    break;
                }
            }
        }
    }

    fn check_string(&mut self, s: &Map<String, Value>, text: &str, path: &str) {
        self.check_count(
            s,
            text.chars().count(),
            "minLength",
            "maxLength",
            "characters",
            path,
        );
    }

    fn check_count(
        &mut self,
        s: &Map<String, Value>,
        n: usize,
        min_key: &str,
        max_key: &str,
        unit: &str,
        path: &str,
    ) {
        if let Some(min) = s.get(min_key).and_then(Value::as_u64) {
            if (n as u64) < min {
                self.fail(path, format!("must have at least {min} {unit}"));
            }
        }
        if let Some(max) = s.get(max_key).and_then(Value::as_u64) {
            if (n as u64) > max {
                self.fail(path, format!("must have at most {max} {unit}"));
            }
        }
    }

    fn check_number(&mut self, s: &Map<String, Value>, n: f64, path: &str) {
        let bound = |key: &str| s.get(key).and_then(Value::as_f64);
        if let Some(min) = bound("minimum") {
            if n < min {
                self.fail(path, format!("must be at least {min}"));
            }
        }
        if let Some(max) = bound("maximum") {
            if n > max {
                self.fail(path, format!("must be at most {max}"));
            }
        }
        if let Some(min) = bound("exclusiveMinimum") {
            if n <= min {
                self.fail(path, format!("must be greater than {min}"));
            }
        }
        if let Some(max) = bound("exclusiveMaximum") {
            if n >= max {
                self.fail(path, format!("must be less than {max}"));
            }
        }
        if let Some(step) = bound("multipleOf").filter(|m| *m > 0.0) {
            let q = n / step;
            if (q - q.round()).abs() > 1e-9 {
                self.fail(path, format!("must be a multiple of {step}"));
            }
        }
    }

    fn check_combinators(
        &mut self,
        s: &Map<String, Value>,
        value: &Value,
        path: &mut String,
        depth: usize,
    ) {
        if let Some(Value::Array(all)) = s.get("allOf") {
            for sub in all {
                self.check(sub, value, path, depth + 1);
            }
        }
        if let Some(Value::Array(any)) = s.get("anyOf") {
            if !any.iter().any(|sub| self.is_valid(sub, value, depth + 1)) {
                self.fail(path, "matches none of the accepted forms (anyOf)".into());
            }
        }
        if let Some(Value::Array(one)) = s.get("oneOf") {
            let matching = one
                .iter()
                .filter(|sub| self.is_valid(sub, value, depth + 1))
                .count();
            if matching != 1 {
                self.fail(
                    path,
                    format!("must match exactly one accepted form (oneOf), matches {matching}"),
                );
            }
        }
        if let Some(not) = s.get("not") {
            if self.is_valid(not, value, depth + 1) {
                self.fail(path, "matches a form that is not allowed (not)".into());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(schema: Value, value: Value) -> Vec<String> {
        validate(&schema, &value)
            .into_iter()
            .map(|e| e.path)
            .collect()
    }

    #[test]
    fn server_everything_echo_schema_requires_a_string_message() {
        let schema = json!({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
            "properties": {"message": {"type": "string", "description": "Message to echo"}}, "required": ["message"]});
        assert!(validate(&schema, &json!({"message": "hi"})).is_empty());
        assert_eq!(paths(schema.clone(), json!({})), ["/message"]);
        assert_eq!(paths(schema, json!({"message": 5})), ["/message"]);
    }

    #[test]
    fn integers_numbers_and_bounds() {
        let schema = json!({"type": "object", "properties": {
            "a": {"type": "integer", "minimum": 0, "maximum": 10},
            "b": {"type": "number", "exclusiveMinimum": 0}}});
        assert!(validate(&schema, &json!({"a": 3, "b": 0.5})).is_empty());
        assert!(
            validate(&schema, &json!({"a": 3.0})).is_empty(),
            "3.0 is an integer in JSON Schema"
        );
        assert_eq!(paths(schema.clone(), json!({"a": 2.5})), ["/a"]);
        assert_eq!(
            paths(schema.clone(), json!({"a": 11, "b": 0})),
            ["/a", "/b"]
        );
        assert_eq!(paths(schema, json!({"a": "3"})), ["/a"]);
    }

    #[test]
    fn nested_arrays_objects_and_additional_properties() {
        let schema = json!({"type": "object", "additionalProperties": false, "properties": {
            "items": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["name"],
                "properties": {"name": {"type": "string", "minLength": 1}}}}}});
        assert!(validate(&schema, &json!({"items": [{"name": "x"}]})).is_empty());
        assert_eq!(
            paths(
                schema.clone(),
                json!({"items": [{"name": ""}, {}], "extra": 1})
            ),
            ["/extra", "/items/0/name", "/items/1/name"]
        );
        assert_eq!(paths(schema, json!({"items": []})), ["/items"]);
    }

    #[test]
    fn enums_consts_and_combinators() {
        let schema = json!({"type": "object", "properties": {
            "kind": {"enum": ["error", "success"]},
            "v": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "w": {"oneOf": [{"type": "integer"}, {"type": "number"}]}}});
        assert!(validate(&schema, &json!({"kind": "error", "v": null})).is_empty());
        assert_eq!(paths(schema.clone(), json!({"kind": "debug"})), ["/kind"]);
        assert_eq!(paths(schema.clone(), json!({"v": 1})), ["/v"]);
        assert_eq!(
            paths(schema, json!({"w": 1})),
            ["/w"],
            "1 matches both integer and number"
        );
    }

    #[test]
    fn local_refs_resolve_and_unreadable_schemas_validate_nothing() {
        let schema = json!({"type": "object", "properties": {"p": {"$ref": "#/$defs/point"}},
            "$defs": {"point": {"type": "object", "required": ["x"]}}});
        assert_eq!(paths(schema, json!({"p": {}})), ["/p/x"]);
        assert!(validate(&json!({"$ref": "#/nowhere"}), &json!(1)).is_empty());
        assert!(validate(&json!("garbage"), &json!({"a": 1})).is_empty());
        assert!(validate(&json!({"format": "email", "pattern": "^x"}), &json!("y")).is_empty());
    }

    #[test]
    fn recursive_refs_stop_at_the_depth_cap() {
        let schema = json!({"$ref": "#"});
        assert!(validate(&schema, &json!({"a": 1})).is_empty());
    }

    #[test]
    fn error_reports_paths_in_details_and_caps_their_number() {
        let schema = json!({"type": "object", "additionalProperties": false});
        let many: Map<String, Value> = (0..50).map(|i| (format!("k{i}"), json!(i))).collect();
        let err = validate_arguments(&schema, &Value::Object(many)).unwrap_err();
        assert_eq!(err.code(), "validation_error");
        assert_eq!(
            err.details()["errors"].as_array().unwrap().len(),
            MAX_ERRORS
        );
        assert_eq!(err.details()["field"], "parameters");
    }

    #[test]
    fn pointer_segments_are_escaped() {
        let schema = json!({"type": "object", "properties": {"a/b": {"type": "string"}}});
        assert_eq!(paths(schema, json!({"a/b": 1})), ["/a~1b"]);
    }
}
