//! The MCP client over legacy HTTP+SSE (2024-11-05) against real servers:
//! `@modelcontextprotocol/server-everything sse` and the Python SDK's SSE app.

mod support;

use mcp_client::native_http::NativeHttp;
use mcp_client::McpError;
use mcp_client::TransportPin;
use serde_json::json;
use shared::cache::MemoryCache;
use support::{args, cached_state, client, first_text, Server};

#[tokio::test(flavor = "current_thread")]
async fn everything_sse_is_detected_once_then_used_directly() {
    let server = Server::everything("sse");
    let (http, cache) = (NativeHttp::new(), MemoryCache::new());
    let ep = server.endpoint("/sse", TransportPin::Auto);

    let first = client(&http, &cache, ep.clone());
    let tools = first.list_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "echo"));
    // discover (404) + initialize (404) + GET + initialize + initialized + tools/list.
    assert_eq!(first.upstream_requests(), 6);
    assert_eq!(cached_state(&cache, &ep).await.unwrap()["transport"], "sse");

    let second = client(&http, &cache, ep.clone());
    let result = second
        .call_tool("echo", args(json!({"message": "over sse"})), 10_000)
        .await
        .unwrap();
    assert!(first_text(&result).contains("over sse"), "{result}");
    // No probing: GET + initialize + initialized + tools/call.
    assert_eq!(second.upstream_requests(), 4);
    second.ping(5_000).await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn python_sse_calls_tools_and_reports_tool_errors() {
    let server = Server::python(&["--transport", "sse"]);
    let (http, cache) = (NativeHttp::new(), MemoryCache::new());
    let c = client(&http, &cache, server.endpoint("/sse", TransportPin::Sse));

    let sum = c
        .call_tool("add", args(json!({"a": 1, "b": 2})), 10_000)
        .await
        .unwrap();
    assert_eq!(sum["structuredContent"]["result"], 3, "{sum}");
    let failed = c
        .call_tool("fail", args(json!({"message": "nope"})), 10_000)
        .await
        .unwrap();
    assert_eq!(failed["isError"], true);
    let done = c
        .call_tool("progress", args(json!({"steps": 3})), 10_000)
        .await
        .unwrap();
    assert_eq!(first_text(&done), "done");
    assert_eq!(c.list_tools().await.unwrap().len(), 10);
}

#[tokio::test(flavor = "current_thread")]
async fn python_sse_is_detected_after_405() {
    let server = Server::python(&["--transport", "sse"]);
    let (http, cache) = (NativeHttp::new(), MemoryCache::new());
    let ep = server.endpoint("/sse", TransportPin::Auto);
    let c = client(&http, &cache, ep.clone());
    let r = c
        .call_tool("echo", args(json!({"message": "hi"})), 10_000)
        .await
        .unwrap();
    assert_eq!(first_text(&r), "hi");
    assert_eq!(cached_state(&cache, &ep).await.unwrap()["transport"], "sse");
}

#[tokio::test(flavor = "current_thread")]
async fn a_timeout_over_sse_is_a_timeout() {
    let server = Server::python(&["--transport", "sse"]);
    let (http, cache) = (NativeHttp::new(), MemoryCache::new());
    let c = client(&http, &cache, server.endpoint("/sse", TransportPin::Sse));
    let err = c
        .call_tool("sleep", args(json!({"seconds": 30})), 1_500)
        .await
        .unwrap_err();
    assert!(matches!(err, McpError::Timeout(_)), "{err:?}");
}
