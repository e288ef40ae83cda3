//! The MCP client over the 2026-07-28 stateless protocol against the Python SDK server (which
//! speaks it beside the handshake era), and the Auto detection between the two.

mod support;

use mcp_client::native_http::NativeHttp;
use mcp_client::McpError;
use mcp_client::TransportPin;
use serde_json::json;
use shared::cache::MemoryCache;
use support::{args, cached_state, client, first_text, put_state, Server};

#[tokio::test(flavor = "current_thread")]
async fn a_dual_era_server_is_spoken_to_statelessly() {
    let server = Server::python(&["--transport", "streamable-http"]);
    let (http, cache) = (NativeHttp::new(), MemoryCache::new());
    let ep = server.endpoint("/mcp", TransportPin::Auto);

    let first = client(&http, &cache, ep.clone());
    let r = first
        .call_tool("echo", args(json!({"message": "modern"})), 10_000)
        .await
        .unwrap();
    assert_eq!(first_text(&r), "modern");
    assert_eq!(r["resultType"], "complete", "a 2026-07-28 result: {r}");
    assert_eq!(first.upstream_requests(), 2, "server/discover + tools/call");
    let state = cached_state(&cache, &ep).await.unwrap();
    assert_eq!(state["transport"], "stateless");
    assert_eq!(state["protocol_version"], "2026-07-28");

    let second = client(&http, &cache, ep.clone());
    let r = second
        .call_tool("add", args(json!({"a": 4, "b": 5})), 10_000)
        .await
        .unwrap();
    assert_eq!(r["structuredContent"]["result"], 9);
    assert_eq!(second.upstream_requests(), 1);

    let failed = second
        .call_tool("fail", args(json!({"message": "x"})), 10_000)
        .await
        .unwrap();
    assert_eq!(failed["isError"], true);
    second.ping(5_000).await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn stateless_headers_and_meta_are_accepted_in_both_reply_modes() {
    for extra in [None, Some("--json-response")] {
        let mut argv = vec![
            "--transport",
            "streamable-http",
            "--page-size",
            "2",
            "--extra-tools",
            "3",
        ];
        argv.extend(extra);
        let server = Server::python(&argv);
        let (http, cache) = (NativeHttp::new(), MemoryCache::new());
        let mut ep = server.endpoint("/mcp", TransportPin::Stateless);
        ep.headers = vec![("Authorization".into(), "Bearer s3cret-value-1".into())];
        let c = client(&http, &cache, ep);
        let tools = c.list_tools().await.unwrap();
        assert_eq!(tools.len(), 13);
        assert_eq!(
            c.upstream_requests(),
            7,
            "pinned: no discover; 7 pages of 2"
        );
        let r = c
            .call_tool("header", args(json!({"name": "Authorization"})), 10_000)
            .await
            .unwrap();
        assert_eq!(first_text(&r), "Bearer s3cret-value-1");
        let p = c
            .call_tool("progress", args(json!({"steps": 3})), 10_000)
            .await
            .unwrap();
        assert_eq!(first_text(&p), "done");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_legacy_only_server_falls_back_to_initialize() {
    let server = Server::python(&["--transport", "streamable-http", "--legacy-only"]);
    let (http, cache) = (NativeHttp::new(), MemoryCache::new());
    let ep = server.endpoint("/mcp", TransportPin::Auto);
    let c = client(&http, &cache, ep.clone());
    let r = c
        .call_tool("echo", args(json!({"message": "old"})), 10_000)
        .await
        .unwrap();
    assert_eq!(first_text(&r), "old");
    assert!(r.get("resultType").is_none(), "a handshake-era result: {r}");
    assert_eq!(c.upstream_requests(), 4);
    assert_eq!(
        cached_state(&cache, &ep).await.unwrap()["transport"],
        "streamable_http"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_stale_stateless_verdict_is_detected_again() {
    let server = Server::python(&["--transport", "streamable-http", "--legacy-only"]);
    let (http, cache) = (NativeHttp::new(), MemoryCache::new());
    let ep = server.endpoint("/mcp", TransportPin::Auto);
    put_state(
        &cache,
        &ep,
        json!({"transport": "stateless", "protocol_version": "2026-07-28", "url": ep.url}),
    )
    .await;
    let c = client(&http, &cache, ep.clone());
    let r = c
        .call_tool("echo", args(json!({"message": "re-detected"})), 10_000)
        .await
        .unwrap();
    assert_eq!(first_text(&r), "re-detected");
    assert_eq!(
        cached_state(&cache, &ep).await.unwrap()["transport"],
        "streamable_http"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_timeout_on_a_stateless_call() {
    let server = Server::python(&["--transport", "streamable-http"]);
    let (http, cache) = (NativeHttp::new(), MemoryCache::new());
    let c = client(
        &http,
        &cache,
        server.endpoint("/mcp", TransportPin::Stateless),
    );
    let err = c
        .call_tool("sleep", args(json!({"seconds": 30})), 800)
        .await
        .unwrap_err();
    assert!(matches!(err, McpError::Timeout(_)), "{err:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn wrong_urls_and_dead_servers_give_actionable_errors_without_secrets() {
    const SECRET: &str = "Bearer sk-very-secret-token";
    let server = Server::everything("streamableHttp");
    let (http, cache) = (NativeHttp::new(), MemoryCache::new());

    let mut ep = server.endpoint("/nope", TransportPin::Auto);
    ep.headers = vec![("Authorization".into(), SECRET.into())];
    let err = client(&http, &cache, ep).list_tools().await.unwrap_err();
    let msg = err.to_string();
    assert!(err.is_upstream(), "{err:?}");
    assert!(
        msg.contains("HTTP 404") && msg.contains("MCP endpoint"),
        "{msg}"
    );
    assert!(!msg.contains("sk-very-secret"), "{msg}");

    let dead_port = support::free_port();
    let ep = mcp_client::ServerEndpoint {
        server_id: "dead".into(),
        url: format!("http://127.0.0.1:{dead_port}/mcp?api_key=sk-very-secret-token"),
        headers: vec![("Authorization".into(), SECRET.into())],
        transport: TransportPin::Auto,
    };
    let c = client(&http, &cache, ep);
    let err = c
        .call_tool("echo", args(json!({})), 5_000)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("could not connect"), "{msg}");
    assert!(!msg.contains("sk-very-secret"), "{msg}");
    assert_eq!(
        c.upstream_requests(),
        1,
        "an outage is not a reason to probe further"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn mcp_param_headers_mirror_the_arguments_the_schema_marks() {
    // py_server's `header(name)` answers the value of request header `name`; the schema we
    // pass marks `name` and an extra `region` argument with x-mcp-header.
    let server = Server::python(&["--transport", "streamable-http"]);
    let (http, cache) = (NativeHttp::new(), MemoryCache::new());
    let mut ep = server.endpoint("/mcp", TransportPin::Auto);
    // A configured header may not stand in for an argument.
    ep.headers = vec![("Mcp-Param-Forged".into(), "from-config".into())];
    let c = client(&http, &cache, ep);
    let schema = json!({"type": "object", "properties": {
        "name": {"type": "string", "x-mcp-header": "Probe"},
        "region": {"type": "string", "x-mcp-header": "Region"}
    }});
    let call = |arguments: serde_json::Value, schema: Option<&serde_json::Value>| {
        let arguments = args(arguments);
        let c = &c;
        let schema = schema.cloned();
        async move {
            c.call_tool_with_schema("header", arguments, schema.as_ref(), 10_000)
                .await
        }
    };
    let r = call(json!({"name": "mcp-param-probe"}), Some(&schema))
        .await
        .unwrap();
    assert_eq!(first_text(&r), "mcp-param-probe");
    let r = call(
        json!({"name": "mcp-param-region", "region": "é-west"}),
        Some(&schema),
    )
    .await
    .unwrap();
    assert_eq!(
        first_text(&r),
        "=?base64?w6ktd2VzdA==?=",
        "non-ASCII is base64-wrapped"
    );
    let r = call(json!({"name": "mcp-param-probe"}), None)
        .await
        .unwrap();
    assert_eq!(first_text(&r), "", "no schema, no Mcp-Param header");
    let r = call(json!({"name": "mcp-param-forged"}), Some(&schema))
        .await
        .unwrap();
    assert_eq!(
        first_text(&r),
        "",
        "configured Mcp-Param-* headers are not sent"
    );

    // An invalid annotation: the tool is refused before anything is sent.
    let before = c.upstream_requests();
    let bad = json!({"properties": {"name": {"type": "string", "x-mcp-header": "Bad Name"}}});
    let err = call(json!({"name": "x"}), Some(&bad)).await.unwrap_err();
    assert!(
        matches!(&err, McpError::Validation(m) if m.contains("inputSchema is invalid")),
        "{err}"
    );
    assert_eq!(c.upstream_requests(), before);
}
