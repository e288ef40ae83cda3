//! The TypeScript client (`clients/ts`) proven in a real browser: a test page served on an
//! origin of its own loads the bundle in headless Chromium and, with a member's bearer token,
//! calls the gateway across origins (CORS) as a PWA would: lists servers and tools, calls
//! server-everything's echo tool, and makes a failing call that must arrive as the typed
//! `McpEdgeError` with its code and request id; the seed's `MCPClientService` adapter runs too.
//! It lists the tools in OpenAI's shape (names valid for every provider, `mapping` back to the
//! server and tool), starts server-everything's long-running tool in the background and watches
//! it over `fetch` (progress events, contiguous ids, one final `result`; resumed with
//! `Last-Event-ID`, it replays exactly the rest), and cancels another
//! at its first progress event (the watch ends at `cancelled`; a second cancel is 409).
//! Every request carries the page's `traceparent`, which the gateway's log lines show.
//! The test reads the page's results and checks them against D1 and the gateway's log.

use integration::browser::{watch_seconds, BrowserPage};
use integration::servers::everything_streamable;
use integration::stack::Stack;
use serde_json::{json, Value};

const SEED: &str = "INSERT INTO teams (id, name, tier) VALUES ('team-a', 'Team A', 'pro');";
/// The page's W3C trace context, sent with every request (the CORS preflight allows it).
const TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

/// The one final row of an execution, once the team's ledger flushed it to D1.
fn final_row(stack: &Stack, execution_id: &str) -> Value {
    let rows = stack.await_rows(
        &format!(
            "SELECT status, user_id, tool_name FROM mcp_tool_executions \
             WHERE id = '{execution_id}' AND status != 'pending'"
        ),
        1,
    );
    rows[0].clone()
}

/// Whether `name` is valid as a tool name for every major model API.
fn valid_model_tool_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The events' ids and kinds, in order.
fn ids_and_kinds(events: &Value) -> Vec<(u64, String)> {
    events
        .as_array()
        .unwrap_or_else(|| panic!("events are not an array: {events}"))
        .iter()
        .map(|e| {
            (
                e["id"].as_u64().unwrap_or_else(|| panic!("event id: {e}")),
                str_of(&e["kind"], "event kind").to_string(),
            )
        })
        .collect()
}

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
            "list_tools_format",
            "watch_execution",
            "cancel_execution",
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

    // Model-ready list: OpenAI's shape, names valid everywhere, the mapping leads back.
    let formatted = &results["list_tools_format"];
    assert_eq!(formatted["format"], "openai", "{context}");
    assert_eq!(formatted["types"], json!(["function"]), "{context}");
    assert_eq!(formatted["parameter_roots"], json!(["object"]), "{context}");
    let names = formatted["names"].as_array().expect("openai names");
    assert_eq!(
        names.len(),
        tools["names"].as_array().unwrap().len(),
        "{context}"
    );
    let server_id = str_of(&formatted["server_id"], "the server's id");
    let mapping = formatted["mapping"].as_object().expect("mapping");
    assert_eq!(
        mapping.len(),
        names.len(),
        "one mapping entry per tool: {context}"
    );
    let mut mapped_tools = Vec::new();
    for name in names {
        let name = str_of(name, "an openai tool name");
        assert!(
            valid_model_tool_name(name),
            "{name} is not ^[a-zA-Z0-9_-]{{1,64}}$"
        );
        let back = &mapping[name];
        assert_eq!(back["server_id"], server_id, "{name}: {back}");
        assert_eq!(back["server_name"], "everything", "{name}: {back}");
        mapped_tools.push(back["tool_name"].clone());
    }
    let mut listed: Vec<Value> = tools["names"].as_array().unwrap().clone();
    let by_text = |a: &Value, b: &Value| a.to_string().cmp(&b.to_string());
    listed.sort_by(by_text);
    mapped_tools.sort_by(by_text);
    assert_eq!(
        mapped_tools, listed,
        "the mapping leads back to every listed tool"
    );
    assert_eq!(
        mapping["everything__echo"]["tool_name"], "echo",
        "the readable <server>__<tool> name: {context}"
    );

    // A background call watched in the browser: 202, progress, contiguous ids, one result.
    let watch = &results["watch_execution"];
    assert_eq!(watch["started_status"], 202, "{context}");
    assert_eq!(watch["started"]["status"], "running", "{context}");
    let watched_id = str_of(
        &watch["started"]["execution_id"],
        "the background execution id",
    );
    let events = ids_and_kinds(&watch["events"]);
    let ids: Vec<u64> = events.iter().map(|(id, _)| *id).collect();
    assert_eq!(
        ids,
        (1..=ids.len() as u64).collect::<Vec<_>>(),
        "contiguous from 1: {events:?}"
    );
    let (last, before) = events.split_last().expect("at least the final event");
    assert_eq!(last.1, "result", "{events:?}");
    assert!(
        before
            .iter()
            .all(|(_, kind)| kind == "progress" || kind == "log"),
        "exactly one final event, the last: {events:?}"
    );
    assert!(
        before.iter().filter(|(_, kind)| kind == "progress").count() >= 2,
        "the tool's two progress steps reached the browser: {events:?}"
    );
    let final_data = &watch["events"][events.len() - 1]["data"];
    assert_eq!(final_data["status"], "success", "{context}");
    assert!(
        str_of(
            &final_data["result"]["content"][0]["text"],
            "the result's text"
        )
        .contains(&format!("Duration: {}", watch_seconds())),
        "{context}"
    );
    assert_eq!(
        watch["resumed"],
        json!(ids[1..]),
        "a watch resumed with Last-Event-ID 1 (across origins) replays exactly the rest"
    );
    assert_eq!(watch["polled"]["id"], watched_id, "{context}");
    let row = final_row(&stack, watched_id);
    assert_eq!(row["status"], "success", "{row}");
    assert_eq!(row["user_id"], "bob", "{row}");
    assert_eq!(row["tool_name"], "trigger-long-running-operation", "{row}");

    // Cancelled at its first progress event: the watch ends at `cancelled`, a second cancel
    // is 409, and D1 keeps `cancelled`.
    let cancel = &results["cancel_execution"];
    let cancelled_id = str_of(&cancel["execution_id"], "the cancelled execution id");
    assert_eq!(cancel["cancelled"]["success"], true, "{context}");
    assert_eq!(
        cancel["cancelled"]["execution"]["status"], "cancelled",
        "{context}"
    );
    assert_eq!(
        cancel["cancelled"]["execution"]["execution_id"], cancelled_id,
        "{context}"
    );
    let events = ids_and_kinds(&cancel["events"]);
    assert_eq!(
        events.first().map(|e| e.1.as_str()),
        Some("progress"),
        "{events:?}"
    );
    assert_eq!(
        events.last().map(|e| e.1.as_str()),
        Some("cancelled"),
        "{events:?}"
    );
    assert_eq!(cancel["again"]["thrown"]["code"], "conflict", "{context}");
    assert_eq!(cancel["again"]["thrown"]["status"], 409, "{context}");
    let row = final_row(&stack, cancelled_id);
    assert_eq!(row["status"], "cancelled", "{row}");
}
