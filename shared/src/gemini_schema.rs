//! JSON Schema (as MCP tools declare it) → the OpenAPI 3.0 subset Gemini's
//! `FunctionDeclaration.parameters` accepts.
//!
//! What changes (README, "Model-ready tool lists"):
//! - Kept: `type`, `format` (only `date-time`/`enum` on strings, `int32`/`int64` on integers,
//!   `float`/`double` on numbers), `title`, `description`, `nullable`, `enum` (strings only),
//!   `properties`, `required` (only names present in `properties`), `items`, `anyOf`,
//!   `minItems`, `maxItems`, `minLength`, `maxLength`, `pattern`, `minimum`, `maximum`,
//!   `minProperties`, `maxProperties`, `default`, `example`, `propertyOrdering`.
//! - Translated: `"type": [T, "null"]` → `"type": T, "nullable": true` (several non-null
//!   types → `anyOf`); `const` → a one-value `enum`; `oneOf` → `anyOf`; local `$ref`s
//!   (`#/$defs/…`, `#/definitions/…`) are inlined, up to [`MAX_REF_DEPTH`] deep (deeper or
//!   recursive ones become `{"type": "object"}`); `allOf` of object schemas is merged.
//! - Dropped: everything else, notably `$schema`, `$id`, `$defs`, `definitions`,
//!   `additionalProperties`, `patternProperties`, `exclusiveMinimum`/`exclusiveMaximum`,
//!   `not`, `if`/`then`/`else`, `examples`, `$comment`, non-string enums.
//!
//! Invariants: the output is a JSON object; an object schema without properties carries no
//! `properties` and no `required` (Gemini refuses an empty `properties`); the input is
//! never modified.

use serde_json::{Map, Value};

/// How many `$ref`s deep a schema is inlined.
pub const MAX_REF_DEPTH: usize = 8;

const COPIED: &[&str] = &[
    "title",
    "description",
    "nullable",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "minProperties",
    "maxProperties",
    "default",
    "example",
    "propertyOrdering",
];

/// The Gemini form of `schema` (the root of a tool's input schema, also where `$ref`s
/// resolve).
pub fn translate(schema: &Value) -> Value {
    Value::Object(node(schema, schema, 0))
}

fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    let path = reference.strip_prefix("#/")?;
    let mut at = root;
    for part in path.split('/') {
        let part = part.replace("~1", "/").replace("~0", "~");
        at = at.get(part.as_str())?;
    }
    Some(at)
}

fn node(schema: &Value, root: &Value, depth: usize) -> Map<String, Value> {
    let Some(obj) = schema.as_object() else {
        // `true`, `false` or garbage: anything goes.
        return Map::new();
    };
    if let Some(reference) = obj.get("$ref").and_then(Value::as_str) {
        let target = resolve(root, reference).filter(|_| depth < MAX_REF_DEPTH);
        let mut out = match target {
            Some(t) => node(t, root, depth + 1),
            None => object_type(),
        };
        if let Some(d) = obj.get("description") {
            out.insert("description".into(), d.clone());
        }
        return out;
    }
    let mut out = Map::new();
    for key in COPIED {
        if let Some(v) = obj.get(*key) {
            out.insert((*key).into(), v.clone());
        }
    }
    let mut ty = obj.get("type").cloned();
    if let Some(Value::Array(types)) = &ty {
        let non_null: Vec<&Value> = types
            .iter()
            .filter(|t| t.as_str() != Some("null"))
            .collect();
        if non_null.len() < types.len() {
            out.insert("nullable".into(), Value::Bool(true));
        }
        ty = match non_null.as_slice() {
            [] => None,
            [one] => Some((*one).clone()),
            many => {
                let variants = many
                    .iter()
                    .map(|t| {
                        let mut m = Map::new();
                        m.insert("type".into(), (*t).clone());
                        Value::Object(m)
                    })
                    .collect();
                out.insert("anyOf".into(), Value::Array(variants));
                None
            }
        };
    }
    if let Some(t) = &ty {
        out.insert("type".into(), t.clone());
    }
    let type_name = ty.as_ref().and_then(Value::as_str).unwrap_or_default();
    if let Some(format) = obj.get("format").and_then(Value::as_str) {
        let ok = matches!(
            (type_name, format),
            ("string", "date-time" | "enum")
                | ("integer", "int32" | "int64")
                | ("number", "float" | "double")
        );
        if ok {
            out.insert("format".into(), Value::String(format.into()));
        }
    }
    let enum_values = match (obj.get("enum"), obj.get("const")) {
        (Some(Value::Array(values)), _) => Some(values.clone()),
        (None, Some(c)) => Some(vec![c.clone()]),
        _ => None,
    };
    if let Some(values) = enum_values.filter(|v| !v.is_empty() && v.iter().all(Value::is_string)) {
        out.insert("enum".into(), Value::Array(values));
        out.entry("type").or_insert(Value::String("string".into()));
    }
    if let Some(items) = obj.get("items") {
        out.insert("items".into(), Value::Object(node(items, root, depth)));
    }
    let mut properties = Map::new();
    let mut required: Vec<Value> = Vec::new();
    collect_object(obj, root, depth, &mut properties, &mut required);
    if let Some(Value::Array(parts)) = obj.get("allOf") {
        for part in parts {
            let part = match part.get("$ref").and_then(Value::as_str) {
                Some(r) if depth < MAX_REF_DEPTH => resolve(root, r).unwrap_or(part),
                _ => part,
            };
            if let Some(p) = part.as_object() {
                collect_object(p, root, depth + 1, &mut properties, &mut required);
                if !out.contains_key("type") && p.contains_key("properties") {
                    out.insert("type".into(), Value::String("object".into()));
                }
            }
        }
    }
    if !properties.is_empty() {
        required.retain(|r| r.as_str().is_some_and(|name| properties.contains_key(name)));
        required.dedup();
        out.insert("properties".into(), Value::Object(properties));
        if !required.is_empty() {
            out.insert("required".into(), Value::Array(required));
        }
    }
    let alternatives = obj
        .get("anyOf")
        .or_else(|| obj.get("oneOf"))
        .and_then(Value::as_array);
    if let Some(alternatives) = alternatives {
        let translated = alternatives
            .iter()
            .map(|a| Value::Object(node(a, root, depth)))
            .collect();
        out.insert("anyOf".into(), Value::Array(translated));
    }
    out
}

fn collect_object(
    obj: &Map<String, Value>,
    root: &Value,
    depth: usize,
    properties: &mut Map<String, Value>,
    required: &mut Vec<Value>,
) {
    if let Some(Value::Object(props)) = obj.get("properties") {
        for (name, schema) in props {
            properties.insert(name.clone(), Value::Object(node(schema, root, depth)));
        }
    }
    if let Some(Value::Array(names)) = obj.get("required") {
        required.extend(names.iter().cloned());
    }
}

fn object_type() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("type".into(), Value::String("object".into()));
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unsupported_keywords_are_dropped_and_supported_ones_kept() {
        let schema = json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "q": {"type": "string", "description": "query", "minLength": 1, "format": "uri"},
                "when": {"type": "string", "format": "date-time"},
                "n": {"type": "integer", "exclusiveMinimum": 0, "maximum": 10}
            },
            "required": ["q", "missing"]
        });
        assert_eq!(
            translate(&schema),
            json!({
                "type": "object",
                "properties": {
                    "q": {"type": "string", "description": "query", "minLength": 1},
                    "when": {"type": "string", "format": "date-time"},
                    "n": {"type": "integer", "maximum": 10}
                },
                "required": ["q"]
            })
        );
    }

    #[test]
    fn nullable_type_arrays_const_and_one_of_are_translated() {
        let schema = json!({
            "type": "object",
            "properties": {
                "a": {"type": ["string", "null"]},
                "b": {"const": "fixed"},
                "c": {"oneOf": [{"type": "string"}, {"type": "number"}]},
                "d": {"enum": [1, 2]},
                "e": {"type": ["string", "integer"]}
            }
        });
        let out = translate(&schema);
        assert_eq!(
            out["properties"]["a"],
            json!({"type": "string", "nullable": true})
        );
        assert_eq!(
            out["properties"]["b"],
            json!({"type": "string", "enum": ["fixed"]})
        );
        assert_eq!(
            out["properties"]["c"],
            json!({"anyOf": [{"type": "string"}, {"type": "number"}]})
        );
        assert_eq!(
            out["properties"]["d"],
            json!({}),
            "non-string enums are dropped"
        );
        assert_eq!(
            out["properties"]["e"],
            json!({"anyOf": [{"type": "string"}, {"type": "integer"}]})
        );
    }

    #[test]
    fn local_refs_are_inlined_and_recursion_stops() {
        let schema = json!({
            "type": "object",
            "$defs": {
                "point": {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]},
                "tree": {"type": "object", "properties": {"child": {"$ref": "#/$defs/tree"}}}
            },
            "properties": {
                "p": {"$ref": "#/$defs/point", "description": "where"},
                "t": {"$ref": "#/$defs/tree"},
                "x": {"$ref": "https://example.com/remote.json"}
            }
        });
        let out = translate(&schema);
        assert_eq!(
            out["properties"]["p"],
            json!({"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"], "description": "where"})
        );
        assert_eq!(out["properties"]["x"], json!({"type": "object"}));
        assert!(out.get("$defs").is_none());
        // Recursion is cut at the depth limit, not followed forever.
        let mut at = &out["properties"]["t"];
        let mut depth = 0;
        while let Some(child) = at.get("properties").and_then(|p| p.get("child")) {
            at = child;
            depth += 1;
        }
        assert_eq!(depth, MAX_REF_DEPTH);
    }

    #[test]
    fn empty_objects_carry_no_properties_and_all_of_merges() {
        assert_eq!(
            translate(&json!({"type": "object", "properties": {}, "required": []})),
            json!({"type": "object"})
        );
        let merged = translate(&json!({"allOf": [
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
            {"properties": {"b": {"type": "boolean"}}}
        ]}));
        assert_eq!(
            merged,
            json!({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "boolean"}}, "required": ["a"]})
        );
    }
}
