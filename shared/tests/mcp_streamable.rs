//! The MCP client over Streamable HTTP (2025-03-26 … 2025-11-25) against real servers:
//! `@modelcontextprotocol/server-everything` (TypeScript SDK, SSE-framed replies) and the
//! Python SDK server in `tests/servers/py_server.py` (SSE and JSON reply modes).

mod support;

use std::time::Instant;

use mcp_client::native_http::NativeHttp;
use mcp_client::McpError;
use mcp_client::TransportPin;
use serde_json::json;
use shared::cache::MemoryCache;
use support::{args, cached_state, client, first_text, put_state, Server};

#[tokio::test(flavor = "current_thread")]
async fn everything_lists_and_calls_tools_and_detection_costs_one_probe() {
    let server = Server::everything("streamableHttp");
    let (http, cache) = (NativeHttp::new(), MemoryCache::new());
    let ep = server.endpoint("/mcp", TransportPin::Auto);
    let c = client(&http, &cache, ep.clone());

    let tools = c.list_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    for expected in ["echo", "get-sum", "get-structured-content"] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    let echo = tools.iter().find(|t| t.name == "echo").unwrap();
    assert_eq!(echo.input_schema["type"], "object");
    // server/discover (refused) + initialize + notifications/initialized + tools/list.
    assert_eq!(c.upstream_requests(), 4);
    let state = cached_state(&cache, &ep).await.expect("session stored");
    assert_eq!(state["transport"], "streamable_http");
    assert_eq!(state["protocol_version"], "2025-11-25");
    assert!(state["session_id"].as_str().is_some_and(|s| !s.is_empty()));

    let result = c
        .call_tool("echo", args(json!({"message": "hello edge"})), 10_000)
        .await
        .unwrap();
    assert!(first_text(&result).contains("hello edge"), "{result}");
    let sum = c
        .call_tool("get-sum", args(json!({"a": 2, "b": 3})), 10_000)
        .await
        .unwrap();
    assert!(first_text(&sum).contains('5'), "{sum}");
    let structured = c
        .call_tool(
            "get-structured-content",
            args(json!({"location": "New York"})),
            10_000,
        )
        .await
        .unwrap();
    assert!(structured["structuredContent"].is_object(), "{structured}");
    c.ping(5_000).await.unwrap();
    assert_eq!(c.upstream_requests(), 8, "warm calls cost one request each");
}

#[tokio::test(flavor = "current_thread")]
async fn a_warm_call_from_a_new_client_costs_exactly_one_request() {
    let everything = Server::everything("streamableHttp");
    let py = Server::python(&["--transport", "streamable-http"]);
    let py_json = Server::python(&["--transport", "streamable-http", "--json-response"]);
    let cases = [
        (&everything, "echo", TransportPin::Auto),
        (&py, "echo", TransportPin::StreamableHttp),
        (&py_json, "echo", TransportPin::StreamableHttp),
    ];
    for (server, tool, pin) in cases {
        let (http, cache) = (NativeHttp::new(), MemoryCache::new());
        let ep = server.endpoint("/mcp", pin);
        // First worker invocation: initializes and stores the session.
        let first = client(&http, &cache, ep.clone());
        first
            .call_tool(tool, args(json!({"message": "one"})), 10_000)
            .await
            .unwrap();
        // Second invocation: a new client sharing only the cache.
        let second = client(&http, &cache, ep.clone());
        let result = second
            .call_tool(tool, args(json!({"message": "two"})), 10_000)
            .await
            .unwrap();
        assert!(
            first_text(&result).contains("two"),
            "{}: {result}",
            server.name
        );
        assert_eq!(second.upstream_requests(), 1, "{}", server.name);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn an_unknown_session_id_recovers_once() {
    // server-everything answers an unknown session id with 400/404.
    let server = Server::everything("streamableHttp");
    let (http, cache) = (NativeHttp::new(), MemoryCache::new());
    let ep = server.endpoint("/mcp", TransportPin::Auto);
    put_state(
        &cache,
        &ep,
        json!({"transport": "streamable_http", "session_id": "no-such-session",
               "protocol_version": "2025-11-25", "url": ep.url}),
    )
    .await;
    let c = client(&http, &cache, ep.clone());
    let result = c
        .call_tool("echo", args(json!({"message": "again"})), 10_000)
        .await
        .unwrap();
    assert!(first_text(&result).contains("again"));
    // Refused call + initialize + initialized + the call again.
    assert_eq!(c.upstream_requests(), 4);
    let state = cached_state(&cache, &ep).await.unwrap();
    assert_ne!(state["session_id"], "no-such-session");
}

#[tokio::test(flavor = "current_thread")]
async fn a_restarted_server_is_reinitialized() {
    let mut server = Server::python(&["--transport", "streamable-http"]);
    let port = server.port;
    let (http, cache) = (NativeHttp::new(), MemoryCache::new());
    let ep = server.endpoint("/mcp", TransportPin::StreamableHttp);
    client(&http, &cache, ep.clone())
        .call_tool("echo", args(json!({"message": "before"})), 10_000)
        .await
        .unwrap();
    let before = cached_state(&cache, &ep).await.unwrap();

    server.stop();
    let _server = Server::python_on(port, &["--transport", "streamable-http"]);

    // A new worker invocation: new connections, the same cache.
    let http = NativeHttp::new();
    let c = client(&http, &cache, ep.clone());
    let result = c
        .call_tool("echo", args(json!({"message": "after"})), 10_000)
        .await
        .unwrap();
    assert!(first_text(&result).contains("after"));
    assert_eq!(
        c.upstream_requests(),
        4,
        "404 + initialize + initialized + call"
    );
    let after = cached_state(&cache, &ep).await.unwrap();
    assert_ne!(before["session_id"], after["session_id"]);
}

#[tokio::test(flavor = "current_thread")]
async fn tool_errors_structured_content_and_progress_with_the_python_sdk() {
    for json_mode in [false, true] {
        let mut argv = vec!["--transport", "streamable-http"];
        if json_mode {
            argv.push("--json-response");
        }
        let server = Server::python(&argv);
        let (http, cache) = (NativeHttp::new(), MemoryCache::new());
        let c = client(
            &http,
            &cache,
            server.endpoint("/mcp", TransportPin::StreamableHttp),
        );

        let failed = c
            .call_tool("fail", args(json!({"message": "kaput"})), 10_000)
            .await
            .expect("a tool error is a result, not a transport error");
        assert_eq!(failed["isError"], true, "{failed}");
        assert!(first_text(&failed).contains("kaput"));

        let weather = c
            .call_tool("weather", args(json!({"city": "Lisbon"})), 10_000)
            .await
            .unwrap();
        assert_eq!(weather["structuredContent"]["city"], "Lisbon", "{weather}");

        let sum = c
            .call_tool("add", args(json!({"a": 20, "b": 22})), 10_000)
            .await
            .unwrap();
        assert_eq!(sum["structuredContent"]["result"], 42, "{sum}");

        // Progress notifications precede the reply on the SSE stream; they are skipped.
        let done = c
            .call_tool("progress", args(json!({"steps": 5})), 10_000)
            .await
            .unwrap();
        assert_eq!(first_text(&done), "done");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn endpoint_headers_reach_the_server() {
    let server = Server::python(&["--transport", "streamable-http"]);
    let (http, cache) = (NativeHttp::new(), MemoryCache::new());
    let mut ep = server.endpoint("/mcp", TransportPin::StreamableHttp);
    ep.headers = vec![
        ("Authorization".into(), "Bearer tok-123456789".into()),
        // A configured header may not override the protocol's own.
        ("Accept".into(), "text/html".into()),
    ];
    let c = client(&http, &cache, ep);
    let result = c
        .call_tool("header", args(json!({"name": "authorization"})), 10_000)
        .await
        .unwrap();
    assert_eq!(first_text(&result), "Bearer tok-123456789");
}

#[tokio::test(flavor = "current_thread")]
async fn list_tools_follows_next_cursor() {
    let server = Server::python(&[
        "--transport",
        "streamable-http",
        "--page-size",
        "3",
        "--extra-tools",
        "7",
    ]);
    let (http, cache) = (NativeHttp::new(), MemoryCache::new());
    let c = client(
        &http,
        &cache,
        server.endpoint("/mcp", TransportPin::StreamableHttp),
    );
    let tools = c.list_tools().await.unwrap();
    // 10 tools of our own + 7 fillers, 3 a page: 6 pages.
    assert_eq!(
        tools.len(),
        17,
        "{:?}",
        tools.iter().map(|t| &t.name).collect::<Vec<_>>()
    );
    assert!(tools.iter().any(|t| t.name == "filler_6"));
    assert_eq!(c.upstream_requests(), 2 + 6);
}

#[tokio::test(flavor = "current_thread")]
async fn a_timeout_cancels_the_call_on_the_server() {
    let server = Server::python(&["--transport", "streamable-http"]);
    let (http, cache) = (NativeHttp::new(), MemoryCache::new());
    let ep = server.endpoint("/mcp", TransportPin::StreamableHttp);
    let c = client(&http, &cache, ep.clone());
    c.ping(5_000).await.unwrap();

    let started = Instant::now();
    let err = c
        .call_tool("sleep", args(json!({"seconds": 30})), 700)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, McpError::Timeout(m) if m.contains("700 ms")),
        "{err:?}"
    );
    assert!(started.elapsed().as_millis() < 5_000);

    // notifications/cancelled reached the server and it cancelled the handler.
    let mut cancelled = 0;
    for _ in 0..20 {
        let r = c
            .call_tool("cancelled", args(json!({})), 5_000)
            .await
            .unwrap();
        cancelled = r["structuredContent"]["result"].as_i64().unwrap();
        if cancelled > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(cancelled, 1);
}

#[tokio::test(flavor = "current_thread")]
async fn unknown_tools_and_bad_arguments_are_reported() {
    let server = Server::everything("streamableHttp");
    let (http, cache) = (NativeHttp::new(), MemoryCache::new());
    let c = client(
        &http,
        &cache,
        server.endpoint("/mcp", TransportPin::StreamableHttp),
    );
    match c.call_tool("no-such-tool", args(json!({})), 10_000).await {
        Err(e) if e.is_upstream() => {
            assert!(e.message().contains("tools/call no-such-tool"), "{e}")
        }
        Ok(r) => assert_eq!(r["isError"], true, "{r}"),
        Err(e) => panic!("unexpected {e:?}"),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_broken_reply_stream_is_resumed_with_last_event_id() {
    let server = Server::python(&["--transport", "streamable-http", "--resumable"]);
    let (http, cache) = (NativeHttp::new(), MemoryCache::new());
    let c = client(
        &http,
        &cache,
        server.endpoint("/mcp", TransportPin::StreamableHttp),
    );
    let r = c
        .call_tool("interrupted", args(json!({})), 10_000)
        .await
        .unwrap();
    assert_eq!(first_text(&r), "resumed");
    // initialize + initialized + tools/call + the resuming GET.
    assert_eq!(c.upstream_requests(), 4);
}
