//! `openapi/openapi.json` (served by the gateway at `GET /openapi.json`) describes exactly the
//! API the code implements:
//! - every action of [`Action::ALL`] is one variant of the request body's `oneOf` (and its
//!   discriminator mapping), with the role the gate enforces and an answer schema, and the
//!   document describes no action the code does not have;
//! - every error code of [`Error`] is documented under its status, and no other code is;
//! - every path the gateway takes actions on is documented.
//!
//! The running API is fuzzed against the same document by `tests/tests/openapi_fuzz.rs`.

use std::collections::BTreeSet;

use serde_json::Value;
use shared::api::{Action, ActionRequest};
use shared::gateway::API_PATHS;
use shared::Error;

const DOCUMENT: &str = include_str!("../../openapi/openapi.json");

fn document() -> Value {
    serde_json::from_str(DOCUMENT).expect("openapi/openapi.json is JSON")
}

/// Follows a local `$ref` (`#/a/b`) to what it names.
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.strip_prefix('#').expect("local reference");
            resolve(
                doc,
                doc.pointer(pointer)
                    .unwrap_or_else(|| panic!("{reference} resolves")),
            )
        }
        None => value,
    }
}

/// The request variants: (the `action` constant, the variant schema).
fn request_variants(doc: &Value) -> Vec<(String, &Value)> {
    let request = &doc["components"]["schemas"]["ActionRequest"];
    request["oneOf"]
        .as_array()
        .expect("ActionRequest is a oneOf")
        .iter()
        .map(|v| {
            let schema = resolve(doc, v);
            let name = schema["properties"]["action"]["const"]
                .as_str()
                .expect("each variant has a constant action")
                .to_string();
            (name, schema)
        })
        .collect()
}

/// One error of each variant; the `match` stops compiling when a variant is added.
fn one_of_each_error() -> Vec<Error> {
    let all = vec![
        Error::Auth("x".into()),
        Error::Authorization("x".into()),
        Error::validation("x"),
        Error::NotFound("x".into()),
        Error::Conflict("x".into()),
        Error::Quota {
            message: "x".into(),
            limit: 1,
            current: 1,
        },
        Error::PayloadTooLarge("x".into()),
        Error::RateLimit {
            message: "x".into(),
            retry_after_secs: 1,
        },
        Error::Tool("x".into()),
        Error::Upstream("x".into()),
        Error::Timeout("x".into()),
        Error::Internal("x".into()),
    ];
    for e in &all {
        match e {
            Error::Auth(_)
            | Error::Authorization(_)
            | Error::Validation { .. }
            | Error::NotFound(_)
            | Error::Conflict(_)
            | Error::Quota { .. }
            | Error::PayloadTooLarge(_)
            | Error::RateLimit { .. }
            | Error::Tool(_)
            | Error::Upstream(_)
            | Error::Timeout(_)
            | Error::Internal(_) => {}
        }
    }
    all
}

#[test]
fn the_document_is_openapi_3_1_with_both_api_paths_health_and_itself() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in API_PATHS {
        let post = &doc["paths"][path]["post"];
        let body = resolve(&doc, &post["requestBody"]);
        assert_eq!(
            resolve(&doc, &body["content"]["application/json"]["schema"]),
            &doc["components"]["schemas"]["ActionRequest"],
            "{path}"
        );
    }
    assert!(doc["paths"]["/health"]["get"].is_object());
    assert!(doc["paths"]["/openapi.json"]["get"].is_object());
    assert_eq!(
        doc["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );
}

#[test]
fn every_action_is_described_and_the_document_describes_no_other() {
    let doc = document();
    let variants = request_variants(&doc);
    let described: Vec<&str> = variants.iter().map(|(n, _)| n.as_str()).collect();
    let described_set: BTreeSet<&str> = described.iter().copied().collect();
    assert_eq!(described.len(), described_set.len(), "an action twice");
    let actions: BTreeSet<&str> = Action::NAMES.iter().copied().collect();
    assert_eq!(
        actions.difference(&described_set).collect::<Vec<_>>(),
        Vec::<&&str>::new(),
        "actions the document does not describe"
    );
    assert_eq!(
        described_set.difference(&actions).collect::<Vec<_>>(),
        Vec::<&&str>::new(),
        "actions the document describes that do not exist"
    );
    let mapping = doc["components"]["schemas"]["ActionRequest"]["discriminator"]["mapping"]
        .as_object()
        .expect("a discriminator mapping");
    let mapped: BTreeSet<&str> = mapping.keys().map(String::as_str).collect();
    assert_eq!(mapped, actions, "discriminator mapping");
}

#[test]
fn each_action_states_the_role_the_gate_enforces_and_an_answer_schema() {
    let doc = document();
    for (name, schema) in request_variants(&doc) {
        let action = Action::parse(&name).expect("a known action");
        let role = if !action.needs_team() {
            "any"
        } else if action.requires_admin() {
            "admin"
        } else {
            "member"
        };
        assert_eq!(schema["x-role"], role, "{name}");
        assert_eq!(schema["required"][0], "action", "{name}");
        let answer = schema["x-answer"].as_str().expect("x-answer");
        let pointer = answer.strip_prefix('#').expect("a local pointer");
        assert!(doc.pointer(pointer).is_some(), "{name}: {answer}");
    }
}

/// Whether `body` has every field `schema` requires (and those of one `anyOf` alternative).
fn has_required_fields(schema: &Value, body: &Value) -> bool {
    let has_all = |required: &Value| {
        required.as_array().is_none_or(|fields| {
            fields
                .iter()
                .all(|f| body.get(f.as_str().unwrap_or_default()).is_some())
        })
    };
    has_all(&schema["required"])
        && schema["anyOf"]
            .as_array()
            .is_none_or(|alternatives| alternatives.iter().any(|a| has_all(&a["required"])))
}

#[test]
fn every_action_has_an_example_and_every_example_is_a_valid_request() {
    let doc = document();
    let examples = doc["components"]["requestBodies"]["Action"]["content"]["application/json"]
        ["examples"]
        .as_object()
        .expect("request examples");
    let variants = request_variants(&doc);
    let mut shown = BTreeSet::new();
    for (name, example) in examples {
        let body = &example["value"];
        let request = ActionRequest::parse(body.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("example {name} is refused: {e}"));
        let action = request.action.name();
        shown.insert(action);
        let (_, schema) = variants
            .iter()
            .find(|(n, _)| n == action)
            .expect("a described action");
        assert!(
            has_required_fields(schema, body),
            "example {name} lacks a required field"
        );
    }
    let all: BTreeSet<&str> = Action::NAMES.iter().copied().collect();
    assert_eq!(shown, all, "actions with an example");
}

#[test]
fn every_error_code_is_documented_under_its_status_and_no_other_code_is() {
    let doc = document();
    let mut codes = BTreeSet::new();
    for path in API_PATHS {
        let responses = &doc["paths"][path]["post"]["responses"];
        for err in one_of_each_error() {
            let (status, code) = (err.status(), err.code());
            codes.insert(code);
            let response = resolve(&doc, &responses[status.to_string()]);
            let schema = &response["content"]["application/json"]["schema"];
            assert_eq!(
                resolve(&doc, &schema["allOf"][0]),
                &doc["components"]["schemas"]["Error"],
                "{path} {status}: the one error shape"
            );
            let documented = schema["allOf"][1]["properties"]["code"]["enum"]
                .as_array()
                .unwrap_or_else(|| panic!("{path} {status} lists its codes"));
            assert!(
                documented.iter().any(|c| c == code),
                "{path} {status} lacks {code}"
            );
        }
    }
    let listed: BTreeSet<&str> = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("ErrorCode enum")
        .iter()
        .map(|c| c.as_str().expect("a code"))
        .collect();
    assert_eq!(listed, codes);
    let shape = &doc["components"]["schemas"]["Error"]["required"];
    let body = Error::NotFound("x".into()).to_body("r");
    let fields: BTreeSet<&str> = body
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    let required: BTreeSet<&str> = shape
        .as_array()
        .expect("required fields")
        .iter()
        .map(|f| f.as_str().expect("a name"))
        .collect();
    assert_eq!(required, fields, "the error body's fields");
}

#[test]
fn the_rate_limit_headers_the_limiter_sends_are_documented() {
    let doc = document();
    let headers = doc["components"]["headers"]
        .as_object()
        .expect("components.headers");
    let documented: BTreeSet<String> = headers.keys().map(|h| h.to_ascii_lowercase()).collect();
    let decision = shared::ratelimit::Decision {
        allowed: false,
        scope: shared::ratelimit::Scope::Team,
        limit: 10,
        remaining: 0,
        reset_secs: 5,
        retry_after_secs: 5,
        window_secs: 60,
    };
    for (name, _) in decision.headers() {
        assert!(documented.contains(name), "{name} is not documented");
    }
    for name in ["x-request-id", "server-timing"] {
        assert!(documented.contains(name), "{name}");
    }
}

#[test]
fn list_tools_formats_are_the_ones_the_code_renders() {
    let doc = document();
    let documented: BTreeSet<String> = doc["components"]["schemas"]["ListToolsRequest"]
        ["properties"]["format"]["enum"]
        .as_array()
        .expect("format is an enum")
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let rendered: BTreeSet<String> = shared::tool_formats::ToolFormat::names()
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(documented, rendered);
    let answer: BTreeSet<String> = doc["components"]["schemas"]["FormattedToolList"]["properties"]
        ["format"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(answer, rendered);
}
