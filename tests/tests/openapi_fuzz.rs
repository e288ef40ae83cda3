//! The running API keeps the promises of `openapi/openapi.json` (issue 19): the gateway serves
//! the document at `GET /openapi.json` without a token, the document is valid OpenAPI 3.1
//! (`openapi-spec-validator`), and schemathesis, generating requests from it for every action
//! with a member's and an admin's token, gets only documented answers: never a 5xx, every
//! status documented, every body matching its schema.
//!
//! The team's budgets are raised for this stack so that the fuzzer meets the actions, not the
//! rate limiter (a 429 would be documented, and would hide everything behind it).

use std::process::Command;

use integration::root;
use integration::stack::Stack;
use serde_json::Value;

const TEAM: &str = "team-f";

/// A server (nothing listens there), one of its tools and a past call of the member's, so that
/// lists and reads answer with rows, not only empty arrays.
const SEED: &str = "INSERT INTO teams (id, name, tier, rate_limit_per_hour, user_calls_per_day) \
    VALUES ('team-f', 'Fuzzed', 'enterprise', 1000000, 1000000); \
    INSERT INTO mcp_servers (id, team_id, name, server_type, config) VALUES \
    ('srv-f', 'team-f', 'dead-end', 'http', '{\"url\":\"http://127.0.0.1:9/mcp\"}'); \
    INSERT INTO mcp_tools (id, server_id, team_id, tool_name, description, input_schema) VALUES \
    ('tool-f', 'srv-f', 'team-f', 'echo', 'Echoes', \
     '{\"type\":\"object\",\"properties\":{\"message\":{\"type\":\"string\"}}}'); \
    INSERT INTO mcp_tool_executions (id, team_id, user_id, server_id, tool_id, server_name, \
     tool_name, input, output, status, started_at, completed_at, duration_ms) VALUES \
    ('exec-f', 'team-f', 'fuzz-member', 'srv-f', 'tool-f', 'dead-end', 'echo', '{}', '{}', \
     'success', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 5);";

/// Generated test cases per operation in the fuzzing phase (a bound on the run's length).
const MAX_EXAMPLES: &str = "150";

fn document_path() -> std::path::PathBuf {
    root().join("openapi/openapi.json")
}

fn python() -> std::path::PathBuf {
    root().join(".venv/bin/python")
}

#[test]
fn the_running_api_answers_every_generated_request_as_its_openapi_document_says() {
    let stack = Stack::start_with_vars(
        SEED,
        &[
            ("RATE_LIMIT_ADMIN_PER_HOUR", "1000000"),
            ("RATE_LIMIT_USER_CALLS_PER_DAY", "1000000"),
        ],
    );
    the_gateway_serves_the_document_without_a_token(&stack);
    the_document_is_valid_openapi_3_1();
    let member = stack.token("fuzz-member", TEAM, "member");
    let admin = stack.token("fuzz-admin", TEAM, "admin");
    // Writes the promised memberships before the fuzzer's first request.
    assert_eq!(
        stack
            .call(&admin, serde_json::json!({"action": "list_servers"}))
            .status,
        200
    );
    for (who, token) in [("member", &member), ("admin", &admin)] {
        schemathesis_finds_nothing(&stack, who, token);
    }
}

fn the_gateway_serves_the_document_without_a_token(stack: &Stack) {
    let answer = stack.request("GET", "/openapi.json", None, None, &[]);
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert!(
        answer
            .header("content-type")
            .is_some_and(|ct| ct.starts_with("application/json")),
        "{:?}",
        answer.headers
    );
    assert!(answer.header("x-request-id").is_some());
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
            "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance",
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
