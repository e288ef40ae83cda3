//! The benchmark's `/mcp` client: the same `echo` as `call_tool`, as an MCP `tools/call`
//! (JSON-RPC over Streamable HTTP, stateless: no `initialize`, no session; the bearer JWT, the
//! `Accept` both answers and the protocol version header a client sends after negotiating).
//! Every call's answer is checked: a JSON-RPC result without `isError`, carrying the echo.

use serde_json::{json, Value};

use crate::stack::Stack;

/// The protocol version the benchmark's calls declare.
pub const PROTOCOL_VERSION: &str = "2025-11-25";

/// The name `/mcp` lists `tool` of `server_id` under (from `list_tools` `format: "mcp"`'s
/// mapping: the one naming rule of `/mcp`).
pub fn tool_name(stack: &Stack, token: &str, server_id: &str, tool: &str) -> String {
    let listed = stack.call(token, json!({"action": "list_tools", "format": "mcp"}));
    assert_eq!(listed.status, 200, "{}", listed.text);
    listed.body["mapping"]
        .as_object()
        .and_then(|m| {
            m.iter()
                .find(|(_, to)| to["server_id"] == server_id && to["tool_name"] == tool)
        })
        .map(|(name, _)| name.clone())
        .unwrap_or_else(|| panic!("no /mcp name for {tool} of {server_id}: {}", listed.text))
}

/// The `tools/call` body for `echo` under its `/mcp` name.
pub fn echo_call(name: &str, message: &str) -> String {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
           "params": {"name": name, "arguments": {"message": message}}})
    .to_string()
}

/// One `tools/call` on `/mcp`; panics unless it answered the echo.
pub fn call(stack: &Stack, token: &str, body: &str) {
    let a = stack.request(
        "POST",
        "/mcp",
        Some(token),
        Some(body),
        &[
            ("accept", "application/json, text/event-stream"),
            ("mcp-protocol-version", PROTOCOL_VERSION),
        ],
    );
    assert_eq!(a.status, 200, "{}", a.text);
    let result: &Value = &a.body["result"];
    assert!(
        result["content"][0]["text"].is_string() && result["isError"] != true,
        "/mcp tools/call did not answer the echo: {}",
        a.text
    );
}
