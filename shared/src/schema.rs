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
//! - Bounded work, whatever the schema and the arguments: every schema node visited (each
//!   `$ref` expansion and each combinator branch included), every enum entry and every
//!   `uniqueItems` comparison costs a step, and a validation that would take more than
//!   [`MAX_STEPS`] steps or follow more than [`MAX_REF_DEPTH`] nested `$ref`s stops at once with
//!   a `validation_error` saying the schema is too complex to validate. A schema such as
//!   `{"allOf":[{"$ref":"#"},{"$ref":"#"}]}` is answered after at most [`MAX_STEPS`] steps.
//! - At most [`MAX_ERRORS`] errors are reported.

use serde_json::{json, Map, Value};

use crate::error::Error;

pub const MAX_ERRORS: usize = 20;
/// Total work budget of one validation (see the module invariants).
pub const MAX_STEPS: u64 = 100_000;
/// Most `$ref`s followed inside one another.
pub const MAX_REF_DEPTH: usize = 32;
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq)]
pub struct SchemaError {
    /// JSON Pointer to the offending value, e.g. `/items/0/name` (`""` is the whole object).
    pub path: String,
    pub message: String,
}

/// Validates `arguments` against `schema`; the error lists every failing path found.
pub fn validate_arguments(schema: &Value, arguments: &Value) -> Result<(), Error> {
    let errors = match run(schema, arguments) {
        Outcome::Checked(errors) => errors,
        Outcome::TooComplex(why) => {
            return Err(Error::validation_with(
                format!("the tool's input schema is too complex to validate ({why}); an admin can ask the server's maintainers to simplify it"),
                json!({ "field": "parameters", "reason": "schema_too_complex", "max_steps": MAX_STEPS, "max_ref_depth": MAX_REF_DEPTH }),
            ))
        }
    };
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

/// What a validation found, or that the schema needs more work than the budget allows.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Checked(Vec<SchemaError>),
    TooComplex(String),
}

/// The errors of `value` against `schema`; a schema too complex to validate is reported as
/// one error at the root.
pub fn validate(schema: &Value, value: &Value) -> Vec<SchemaError> {
    match run(schema, value) {
        Outcome::Checked(errors) => errors,
        Outcome::TooComplex(why) => vec![SchemaError {
            path: String::new(),
            message: format!("cannot be checked: the schema is too complex to validate ({why})"),
        }],
    }
}

/// Validates within the work budget.
pub fn run(schema: &Value, value: &Value) -> Outcome {
    let mut v = Validator {
        root: schema,
        errors: Vec::new(),
        stop_at: MAX_ERRORS,
        steps: 0,
        ref_depth: 0,
        exhausted: None,
    };
    v.check(schema, value, &mut String::new(), 0);
    match v.exhausted {
        Some(why) => Outcome::TooComplex(why),
        None => Outcome::Checked(v.errors),
    }
}

struct Validator<'a> {
    root: &'a Value,
    errors: Vec<SchemaError>,
    /// Checking stops once this many errors are known (1 inside combinator probes).
    stop_at: usize,
    steps: u64,
    ref_depth: usize,
    /// Set once the budget is spent; every check then returns at once.
    exhausted: Option<String>,
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
    /// Charges `n` steps; false once the budget is spent.
    fn spend(&mut self, n: u64) -> bool {
        if self.exhausted.is_some() {
            return false;
        }
        self.steps = self.steps.saturating_add(n);
        if self.steps > MAX_STEPS {
            self.exhausted = Some(format!("more than {MAX_STEPS} steps"));
            return false;
        }
        true
    }

    fn done(&self) -> bool {
        self.exhausted.is_some() || self.errors.len() >= self.stop_at
    }

    fn fail(&mut self, path: &str, message: String) {
        if self.errors.len() < self.stop_at {
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

    /// Whether `value` is valid against `schema`, without recording errors; stops at the
    /// first error and spends from the same budget.
    fn is_valid(&mut self, schema: &Value, value: &Value, depth: usize) -> bool {
        let saved = std::mem::take(&mut self.errors);
        let saved_stop = std::mem::replace(&mut self.stop_at, 1);
        self.check(schema, value, &mut String::new(), depth);
        let valid = self.errors.is_empty();
        self.errors = saved;
        self.stop_at = saved_stop;
        valid
    }

    fn check(&mut self, schema: &Value, value: &Value, path: &mut String, depth: usize) {
        if depth > MAX_DEPTH || self.done() || !self.spend(1) {
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
                if self.ref_depth >= MAX_REF_DEPTH {
                    self.exhausted = Some(format!("more than {MAX_REF_DEPTH} nested $refs"));
                    return;
                }
                self.ref_depth += 1;
                self.check(resolved, value, path, depth + 1);
                self.ref_depth -= 1;
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
            if !self.spend(allowed.len() as u64) {
                return;
            }
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
            if self.done() || !self.spend(1) {
                return;
            }
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
                if self.done() {
                    return;
                }
                let len = path.len();
                path.push_str(&format!("/{i}"));
                self.check(item_schema, item, path, depth + 1);
                path.truncate(len);
            }
        }
        self.check_count(s, items.len(), "minItems", "maxItems", "items", path);
        if s.get("uniqueItems") == Some(&Value::Bool(true)) {
            for (i, a) in items.iter().enumerate() {
                if !self.spend(i as u64) {
                    return;
                }
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
                if self.done() {
                    return;
                }
                self.check(sub, value, path, depth + 1);
            }
        }
        if self.exhausted.is_some() {
            return;
        }
        if let Some(Value::Array(any)) = s.get("anyOf") {
            if !any.iter().any(|sub| self.is_valid(sub, value, depth + 1))
                && self.exhausted.is_none()
            {
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
        assert!(validate(&json!({"$ref": "#", "type": "object"}), &json!(1)).len() == 1);
        assert!(validate(&json!("garbage"), &json!({"a": 1})).is_empty());
        assert!(validate(&json!({"format": "email", "pattern": "^x"}), &json!("y")).is_empty());
    }

    #[test]
    fn a_self_referencing_schema_is_too_complex_not_a_hang() {
        let schema = json!({"$ref": "#"});
        assert!(
            matches!(run(&schema, &json!({"a": 1})), Outcome::TooComplex(why) if why.contains("$ref"))
        );
    }

    fn assert_too_complex(schema: Value, arguments: Value) {
        let err = validate_arguments(&schema, &arguments).unwrap_err();
        assert_eq!(err.status(), 400, "{schema}");
        assert_eq!(err.code(), "validation_error");
        assert!(
            err.to_string().contains("too complex to validate"),
            "{schema}: {err}"
        );
        assert_eq!(err.details()["reason"], "schema_too_complex");
    }

    #[test]
    fn exponential_ref_combinators_are_refused_within_the_budget() {
        // Without the budget each of these takes 2^64 (or more) steps: the test would hang.
        let args = json!({"a": 1});
        assert_too_complex(
            json!({"allOf": [{"$ref": "#"}, {"$ref": "#"}]}),
            args.clone(),
        );
        assert_too_complex(
            json!({"anyOf": [{"$ref": "#"}, {"$ref": "#"}], "type": "string"}),
            args.clone(),
        );
        assert_too_complex(
            json!({"oneOf": [{"$ref": "#"}, {"$ref": "#"}, {"$ref": "#"}]}),
            args.clone(),
        );
        assert_too_complex(
            json!({"not": {"anyOf": [{"$ref": "#"}, {"not": {"$ref": "#"}}]}}),
            args.clone(),
        );
        // Fan-out through $defs instead of the root.
        assert_too_complex(
            json!({"$ref": "#/$defs/a", "$defs": {
                "a": {"allOf": [{"$ref": "#/$defs/b"}, {"$ref": "#/$defs/b"}, {"$ref": "#/$defs/b"}]},
                "b": {"allOf": [{"$ref": "#/$defs/a"}, {"$ref": "#/$defs/a"}, {"$ref": "#/$defs/a"}]}}}),
            args.clone(),
        );
        // A chain of 25 definitions, each checking the previous one twice: 2^25 steps, yet
        // fewer nested $refs than the cap, so the step budget is what stops it.
        let mut defs = serde_json::Map::new();
        defs.insert("d0".into(), json!({"type": "object"}));
        for i in 1..=25 {
            let prev = format!("#/$defs/d{}", i - 1);
            defs.insert(
                format!("d{i}"),
                json!({"anyOf": [{"type": "string"}, {"allOf": [{"$ref": prev}, {"$ref": prev}]}]}),
            );
        }
        let chain = json!({"$ref": "#/$defs/d25", "$defs": defs});
        assert!(matches!(run(&chain, &args), Outcome::TooComplex(why) if why.contains("steps")));
        assert_too_complex(chain, args);
    }

    #[test]
    fn quadratic_unique_items_and_huge_enums_count_against_the_budget() {
        let items: Vec<Value> = (0..20_000).map(|i| json!(i)).collect();
        assert_too_complex(
            json!({"type": "object", "properties": {"xs": {"type": "array", "uniqueItems": true}}}),
            json!({"xs": items}),
        );
        let few: Vec<Value> = (0..100).map(|i| json!(i)).collect();
        assert!(validate_arguments(
            &json!({"type": "object", "properties": {"xs": {"type": "array", "uniqueItems": true}}}),
            &json!({"xs": few})
        )
        .is_ok());
    }

    #[test]
    fn recursive_schemas_within_the_budget_still_validate() {
        let tree = json!({"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string"},
            "children": {"type": "array", "items": {"$ref": "#"}}}});
        let mut value = json!({"name": "leaf"});
        for i in 0..10 {
            value = json!({"name": format!("n{i}"), "children": [value.clone(), value]});
        }
        assert!(validate_arguments(&tree, &value).is_ok());
        let bad = json!({"name": "root", "children": [{"name": 5}]});
        assert_eq!(paths(tree, bad), ["/children/0/name"]);
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
