//! Following one request from the PWA to the upstream server: a W3C `traceparent` sent to the
//! gateway reaches the upstream MCP server (our Python SDK server's `header` tool answers what
//! it received) with the same trace id, an invalid one is replaced by a new valid trace, and the
//! gateway's and the action worker's log lines carry the OpenTelemetry fields
//! (`http.*`, `url.path`, `server.address`, `mcp.method.name`, `gen_ai.tool.name`,
//! `error.type`) with the request, trace, team, user and execution ids — and no tool argument.

use integration::servers::python_streamable;
use integration::stack::{Answer, Stack};
use serde_json::{json, Value};

const SEED: &str = "INSERT INTO teams (id, name, tier) VALUES ('team-o', 'Team O', 'pro');";
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PWA_SPAN: &str = "00f067aa0ba902b7";

fn is_traceparent(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    parts.len() == 4
        && parts[0] == "00"
        && hex(parts[1], 32)
        && hex(parts[2], 16)
        && hex(parts[3], 2)
}

fn text_of(answer: &Answer) -> String {
    answer.body["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text: {}", answer.text))
        .to_string()
}

/// The JSON log line of `worker` for `request_id` (waiting for wrangler to print it).
fn line_of(stack: &Stack, worker: &str, request_id: &str) -> Value {
    let needle = format!("\"worker\":\"{worker}\"");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let log = stack.await_log(request_id);
        let found = log
            .lines()
            .filter(|l| l.contains(request_id) && l.contains(&needle))
            .filter_map(|l| serde_json::from_str::<Value>(&l[l.find('{')?..]).ok())
            .find(|v| v["request_id"] == request_id);
        if let Some(line) = found {
            return line;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {worker} line for {request_id}:\n{log}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn a_pwa_trace_reaches_the_upstream_server_and_every_log_line_carries_the_fields() {
    let python = python_streamable();
    let stack = Stack::start(SEED);
    let admin = stack.token("olga", "team-o", "admin");
    let member = stack.token("oscar", "team-o", "member");
    let created = stack.call(
        &admin,
        json!({"action": "create_server", "name": "py", "server_type": "http",
               "config": {"url": python.url}, "sync": true}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let server_id = created.body["server"]["id"].as_str().unwrap().to_string();
    let call = |traceparent: &str, tool: &str, parameters: Value| {
        let body = json!({"action": "call_tool", "server_id": server_id, "tool_name": tool,
                          "parameters": parameters});
        stack.request(
            "POST",
            "/",
            Some(&member),
            Some(&body.to_string()),
            &[("traceparent", traceparent)],
        )
    };

    // The PWA's trace reaches the server: same trace id and flags, our span as the parent.
    let pwa = format!("00-{TRACE_ID}-{PWA_SPAN}-01");
    let traced = call(&pwa, "header", json!({"name": "traceparent"}));
    assert_eq!(traced.status, 200, "{}", traced.text);
    let upstream = text_of(&traced);
    assert!(is_traceparent(&upstream), "{upstream}");
    assert!(
        upstream.starts_with(&format!("00-{TRACE_ID}-")),
        "{upstream}"
    );
    assert!(upstream.ends_with("-01"), "{upstream}");
    assert!(
        !upstream.contains(PWA_SPAN),
        "the parent is our span: {upstream}"
    );

    // An invalid trace context starts a new, valid trace.
    let invalid = call(
        "00-not-a-trace-01",
        "header",
        json!({"name": "traceparent"}),
    );
    let replaced = text_of(&invalid);
    assert!(is_traceparent(&replaced), "{replaced}");
    assert!(!replaced.contains(TRACE_ID), "{replaced}");

    // The gateway's line and call_tool's line for the traced request.
    let request_id = traced.header("x-request-id").unwrap();
    let execution_id = traced.body["execution_id"].as_str().unwrap();
    let gateway = line_of(&stack, "gateway", request_id);
    for (field, expected) in [
        ("http.request.method", json!("POST")),
        ("url.path", json!("/")),
        ("http.response.status_code", json!(200)),
        ("mcp_edge.action", json!("call_tool")),
        ("team_id", json!("team-o")),
        ("user_id", json!("oscar")),
        ("trace_id", json!(TRACE_ID)),
    ] {
        assert_eq!(gateway[field], expected, "{field} in {gateway}");
    }
    assert!(gateway["duration_ms"].is_u64(), "{gateway}");
    let action = line_of(&stack, "call_tool", request_id);
    for (field, expected) in [
        ("mcp.method.name", json!("tools/call")),
        ("gen_ai.tool.name", json!("header")),
        ("server.address", json!("127.0.0.1")),
        ("server.port", json!(python.port)),
        ("http.response.status_code", json!(200)),
        ("execution_id", json!(execution_id)),
        ("server_id", json!(server_id)),
        ("team_id", json!("team-o")),
        ("user_id", json!("oscar")),
        ("trace_id", json!(TRACE_ID)),
    ] {
        assert_eq!(action[field], expected, "{field} in {action}");
    }
    assert!(action["duration_ms"].is_u64(), "{action}");
    assert!(action.get("error.type").is_none(), "{action}");
    // The span the server saw as its parent is the one the lines name.
    assert_eq!(
        upstream,
        format!("00-{TRACE_ID}-{}-01", action["span_id"].as_str().unwrap())
    );

    // Failures say what kind in error.type; arguments never reach a line.
    let secret = "argument-value-5f1c9e";
    let failed = call(&pwa, "fail", json!({"message": secret}));
    assert_eq!(failed.body["success"], false, "{}", failed.text);
    let failed_line = line_of(&stack, "call_tool", failed.header("x-request-id").unwrap());
    assert_eq!(failed_line["error.type"], "tool_error", "{failed_line}");
    assert_eq!(failed_line["gen_ai.tool.name"], "fail", "{failed_line}");
    let refused = call(&pwa, "echo", json!({}));
    assert_eq!(refused.status, 400, "{}", refused.text);
    let refused_line = line_of(&stack, "call_tool", refused.header("x-request-id").unwrap());
    assert_eq!(
        refused_line["error.type"], "validation_error",
        "{refused_line}"
    );
    let unauthenticated =
        stack.request("POST", "/", None, Some(r#"{"action":"list_servers"}"#), &[]);
    let gateway_refusal = line_of(
        &stack,
        "gateway",
        unauthenticated.header("x-request-id").unwrap(),
    );
    assert_eq!(
        gateway_refusal["error.type"], "auth_error",
        "{gateway_refusal}"
    );
    assert_eq!(gateway_refusal["http.response.status_code"], 401);
    assert!(
        !stack.log_text().contains(secret),
        "a tool argument reached the log"
    );
}
