//! The TypeScript client (`clients/ts`) proven in a real browser: a test page served on an
//! origin of its own loads the bundle in headless Chromium and, with a member's bearer token,
//! calls the gateway across origins (CORS) as a PWA would: lists servers and tools, calls
//! server-everything's echo tool, and makes a failing call that must arrive as the typed
//! `McpEdgeError` with its code and request id; the seed's `MCPClientService` adapter runs too.
//! Every request carries the page's `traceparent`, which the gateway's log lines show.
//! The test reads the page's results and checks them against D1 and the gateway's log.

use integration::browser::BrowserPage;
use integration::servers::everything_streamable;
use integration::stack::Stack;
use serde_json::{json, Value};

const SEED: &str = "INSERT INTO teams (id, name, tier) VALUES ('team-a', 'Team A', 'pro');";
/// The page's W3C trace context, sent with every request (the CORS preflight allows it).
const TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

fn str_of<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| panic!("{what} is not a non-empty string: {v}"))
}

#[test]
fn the_typescript_client_works_in_chromium_across_origins_with_typed_errors() {
    let everything = everything_streamable();
    let page = BrowserPage::new();
    let stack = Stack::start_with_vars(SEED, &[("CORS_ALLOWED_ORIGINS", &page.origin())]);
    let admin = stack.token("alice", "team-a", "admin");
    let member = stack.token("bob", "team-a", "member");
    let created = stack.call(
        &admin,
        json!({"action": "create_server", "name": "everything", "server_type": "http",
               "config": {"url": everything.url}, "sync": true}),
    );
    assert_eq!(created.status, 201, "{}", created.text);

    let results = page.run(
        &stack.base,
        &member,
        "everything",
        &[
            "list_servers",
            "list_tools",
            "call_tool",
            "failing_call",
            "seed_adapter",
        ],
        Some(TRACEPARENT),
    );
    let context = results.to_string();
    assert_ne!(
        results["page_origin"].as_str(),
        Some(stack.base.as_str()),
        "the page is on an origin of its own"
    );

    let servers = &results["list_servers"];
    assert_eq!(servers["names"], json!(["everything"]), "{context}");
    // X-Request-Id and the RateLimit-* headers are readable across origins.
    str_of(&servers["request_id"], "list_servers' request id");
    assert!(
        servers["rate_limit"]["remaining"].is_u64(),
        "rate-limit headers exposed to the page: {context}"
    );

    let tools = &results["list_tools"];
    assert!(
        tools["names"]
            .as_array()
            .is_some_and(|n| n.contains(&json!("echo"))),
        "{context}"
    );
    assert_eq!(
        tools["all_count"].as_u64(),
        tools["names"].as_array().map(|n| n.len() as u64),
        "one server: every server's tools are its tools ({context})"
    );

    let call = &results["call_tool"];
    assert_eq!(call["success"], true, "{context}");
    assert!(
        str_of(&call["text"], "echo's text").contains("hello from chromium"),
        "{context}"
    );
    let execution_id = str_of(&call["execution_id"], "execution id");
    let rows = stack.await_rows(
        &format!(
            "SELECT status, user_id, request_id FROM mcp_tool_executions WHERE id = '{execution_id}'"
        ),
        1,
    );
    assert_eq!(rows[0]["status"], "success", "{rows:?}");
    assert_eq!(rows[0]["user_id"], "bob", "{rows:?}");
    assert_eq!(rows[0]["request_id"], call["request_id"], "{rows:?}");

    // The page's trace id is in the gateway's line for the call.
    let call_id = str_of(&call["request_id"], "the call's request id");
    let log = stack.await_log(call_id);
    assert!(
        log.lines().any(|l| l.contains(call_id)
            && l.contains("\"worker\":\"gateway\"")
            && l.contains("\"trace_id\":\"0af7651916cd43dd8448eb211c80319c\"")),
        "the gateway's line for {call_id} carries the page's trace id"
    );

    let failed = &results["failing_call"]["thrown"];
    assert_eq!(failed["mcp_edge_error"], true, "{context}");
    assert_eq!(failed["name"], "McpEdgeError", "{context}");
    assert_eq!(failed["code"], "validation_error", "{context}");
    assert_eq!(failed["status"], 400, "{context}");
    str_of(&failed["message"], "the error's message");
    let failed_id = str_of(&failed["request_id"], "the error's request id");
    let log = stack.await_log(failed_id);
    assert!(
        log.lines()
            .any(|l| l.contains(failed_id) && l.contains("\"http.response.status_code\":400")),
        "the gateway logged the failed request under the id the page saw ({failed_id})"
    );

    let seed = &results["seed_adapter"];
    assert_eq!(seed["servers"], 1, "{context}");
    assert_eq!(
        seed["tools"],
        tools["names"].as_array().map(|n| n.len()).unwrap(),
        "{context}"
    );
    assert_eq!(seed["executed"]["success"], true, "{context}");
    assert_eq!(seed["missing"]["success"], false, "{context}");
    assert_eq!(seed["missing"]["code"], "not_found", "{context}");
    str_of(&seed["missing"]["error"], "the seed adapter's error text");
    str_of(
        &seed["missing"]["request_id"],
        "the seed adapter's request id",
    );
}
