//! The running API keeps the promises of `openapi/openapi.json` (issue 19): the gateway serves
//! the document at `GET /openapi.json` without a token (with CORS, like every answer), the
//! document is valid OpenAPI 3.1 (`openapi-spec-validator`), and schemathesis, sending the
//! document's request examples and generating boundary and random requests from it for every
//! action with a member's and an admin's token, gets only documented answers: never a 5xx,
//! every status documented, every body and header matching its schema.
//!
//! The team's budgets are raised for this stack so that the fuzzer meets the actions, not the
//! rate limiter (a 429 would be documented, and would hide everything behind it).

use std::process::Command;

use integration::root;
use integration::servers::python_streamable;
use integration::stack::Stack;
use serde_json::{json, Value};

const TEAM: &str = "team-f";
/// The PWA's origin, allowed by this stack's CORS setting.
const PWA_ORIGIN: &str = "https://pwa.example";

/// The ids the document's request examples name (`components.requestBodies.Action`): `srv-demo`
/// (`demo`, our Python MCP server at `{url}`), `srv-old` (nothing listens there; the
/// `delete_server` example deletes it), members `user-2` and `user-old`, and a past call of
/// the member's, `exec-demo`. So the examples phase runs every action for real, and lists and
/// reads answer with rows, not only empty arrays.
fn seed(url: &str) -> String {
    format!(
        "INSERT INTO teams (id, name, tier, rate_limit_per_hour, user_calls_per_day) \
         VALUES ('{TEAM}', 'Fuzzed', 'enterprise', 1000000, 1000000); \
         INSERT INTO team_members (team_id, user_id, role) VALUES \
         ('{TEAM}', 'user-2', 'member'), ('{TEAM}', 'user-old', 'member'); \
         INSERT INTO mcp_servers (id, team_id, name, server_type, config) VALUES \
         ('srv-demo', '{TEAM}', 'demo', 'http', '{{\"url\":\"{url}\"}}'), \
         ('srv-old', '{TEAM}', 'old', 'http', '{{\"url\":\"http://127.0.0.1:9/mcp\"}}'); \
         INSERT INTO mcp_tool_executions (id, team_id, user_id, server_id, server_name, \
         tool_name, input, output, status, started_at, completed_at, duration_ms) VALUES \
         ('exec-demo', '{TEAM}', 'fuzz-member', 'srv-demo', 'demo', 'echo', '{{}}', '{{}}', \
         'success', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), \
         strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 5);"
    )
}

/// Generated test cases per operation in the fuzzing phase (a bound on the run's length).
const MAX_EXAMPLES: &str = "100";

fn document_path() -> std::path::PathBuf {
    root().join("openapi/openapi.json")
}

fn python() -> std::path::PathBuf {
    root().join(".venv/bin/python")
}

#[test]
fn the_running_api_answers_every_generated_request_as_its_openapi_document_says() {
    let server = python_streamable();
    let stack = Stack::start_with_vars(
        &seed(&server.url),
        &[
            ("RATE_LIMIT_ADMIN_PER_HOUR", "1000000"),
            ("RATE_LIMIT_USER_CALLS_PER_DAY", "1000000"),
            ("CORS_ALLOWED_ORIGINS", PWA_ORIGIN),
        ],
    );
    the_gateway_serves_the_document_without_a_token(&stack);
    the_document_is_valid_openapi_3_1();
    let member = stack.token("fuzz-member", TEAM, "member");
    let admin = stack.token("fuzz-admin", TEAM, "admin");
    // The demo server's tools (`echo`, `fail`, `add`, …), `add` behind a confirmation.
    let synced = stack.call(
        &admin,
        json!({"action": "sync_tools", "server_id": "srv-demo"}),
    );
    assert_eq!(synced.status, 200, "{}", synced.text);
    let confirm = json!({"action": "update_tool", "server_id": "srv-demo", "tool_name": "add",
                         "requires_confirmation": true});
    let updated = stack.call(&admin, confirm);
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_eq!(
        stack
            .call(&member, json!({"action": "list_servers"}))
            .status,
        200
    );
    for (who, token) in [("member", &member), ("admin", &admin)] {
        schemathesis_finds_nothing(&stack, who, token);
    }
}

fn the_gateway_serves_the_document_without_a_token(stack: &Stack) {
    let answer = stack.request(
        "GET",
        "/openapi.json",
        None,
        None,
        &[("origin", PWA_ORIGIN)],
    );
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert!(
        answer
            .header("content-type")
            .is_some_and(|ct| ct.starts_with("application/json")),
        "{:?}",
        answer.headers
    );
    assert!(answer.header("x-request-id").is_some());
    // A PWA on another origin reads it like any other answer.
    assert_eq!(
        answer.header("access-control-allow-origin"),
        Some(PWA_ORIGIN)
    );
    let file: Value = serde_json::from_str(
        &std::fs::read_to_string(document_path()).expect("openapi/openapi.json"),
    )
    .expect("JSON");
    assert_eq!(answer.body, file, "the served document is the file");
}

fn the_document_is_valid_openapi_3_1() {
    let out = Command::new(python())
        .args(["-m", "openapi_spec_validator"])
        .arg(document_path())
        .output()
        .expect("run .venv/bin/python -m openapi_spec_validator (scripts/install.sh)");
    assert!(
        out.status.success(),
        "openapi-spec-validator refused the document:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn schemathesis_finds_nothing(stack: &Stack, who: &str, token: &str) {
    let mut command = Command::new(root().join(".venv/bin/schemathesis"));
    command.arg("run");
    // Every request and answer as a HAR file, to read what a failure was about.
    if let Ok(dir) = std::env::var("MCP_EDGE_FUZZ_REPORT") {
        command.args(["--report", "har", "--report-dir", &format!("{dir}/{who}")]);
    }
    let out = command
        .arg(document_path())
        .args(["--url", &stack.base])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--header", &format!("X-Team-Id: {TEAM}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance,response_headers_conformance",
        ])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", MAX_EXAMPLES])
        .args(["--seed", "19"])
        .args(["--workers", "1"])
        .args(["--request-timeout", "60"])
        .args(["--suppress-health-check", "all"])
        .args(["--warnings", "off"])
        .env("PYTHONPATH", root().join("tests/openapi"))
        .env("SCHEMATHESIS_HOOKS", "fuzz_hooks")
        .env("MCP_EDGE_FUZZ_TEAM", TEAM)
        .env("NO_COLOR", "1")
        .current_dir(stack.state_dir())
        .output()
        .expect("run .venv/bin/schemathesis (scripts/install.sh)");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("schemathesis as {who}:\n{report}");
    assert!(
        out.status.success(),
        "schemathesis as {who} found answers the document does not describe:\n{report}"
    );
}
