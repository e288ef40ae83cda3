//! Session teardown and server→client requests over Streamable HTTP against
//! `@modelcontextprotocol/server-everything`: `DELETE` when a session is closed or replaced,
//! elicitation answered from the form's defaults, and the opt-in standalone GET stream.

mod support;

use mcp_client::native_http::NativeHttp;
use mcp_client::{ServerEndpoint, TransportPin};
use serde_json::{json, Value};
use shared::cache::MemoryCache;
use support::{args, cached_state, client, first_text, Server};

/// The session id the cache holds for `ep`.
async fn session_id(cache: &MemoryCache, ep: &ServerEndpoint) -> String {
    let state = cached_state(cache, ep).await.expect("a cached session");
    state["session_id"]
        .as_str()
        .expect("a session id")
        .to_string()
}

/// The HTTP status of a raw `tools/list` on session `id` (bypassing our client).
async fn status_on_session(url: &str, id: &str) -> u16 {
    reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", id)
        .header("mcp-protocol-version", "2025-11-25")
        .body(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).to_string())
        .send()
        .await
        .expect("the server answers")
        .status()
        .as_u16()
}

/// DELETEs server-everything logged ("Received session termination request for session …").
fn deletes_in(log: &str) -> usize {
    log.lines()
        .filter(|l| l.contains("session termination request"))
        .count()
}

#[tokio::test(flavor = "current_thread")]
async fn close_session_deletes_the_upstream_session_and_forgets_it() {
    let server = Server::everything("streamableHttp");
    let (http, cache) = (NativeHttp::new(), MemoryCache::new());
    let ep = server.endpoint("/mcp", TransportPin::Auto);
    let c = client(&http, &cache, ep.clone());
    c.call_tool("echo", args(json!({"message": "x"})), 10_000)
        .await
        .unwrap();
    let old = session_id(&cache, &ep).await;
    assert_eq!(status_on_session(&ep.url, &old).await, 200, "valid before");

    let before = c.upstream_requests();
    assert!(c.close_session().await.unwrap(), "the server confirmed");
    assert_eq!(c.upstream_requests(), before + 1, "one DELETE");
    assert!(cached_state(&cache, &ep).await.is_none(), "forgotten");
    assert_eq!(deletes_in(&server.log_text()), 1, "{}", server.log_text());
    let refused = status_on_session(&ep.url, &old).await;
    assert!(
        refused == 404 || refused == 400,
        "the old session must be refused, got {refused}"
    );

    // Nothing left to close: no request.
    assert!(!c.close_session().await.unwrap());
    assert_eq!(c.upstream_requests(), before + 1);

    // The next call starts a new session.
    let r = c
        .call_tool("echo", args(json!({"message": "again"})), 10_000)
        .await
        .unwrap();
    assert!(first_text(&r).contains("again"));
    assert_ne!(session_id(&cache, &ep).await, old);
}

#[tokio::test(flavor = "current_thread")]
async fn a_session_replaced_after_a_url_change_is_deleted_on_the_same_origin_only() {
    let server = Server::everything("streamableHttp");
    let (http, cache) = (NativeHttp::new(), MemoryCache::new());
    let ep1 = server.endpoint("/mcp", TransportPin::Auto);
    client(&http, &cache, ep1.clone())
        .call_tool("echo", args(json!({"message": "1"})), 10_000)
        .await
        .unwrap();
    let s1 = session_id(&cache, &ep1).await;

    // An admin edits the URL (same origin): the old session is ended, a new one made.
    let ep2 = ServerEndpoint {
        url: format!("{}?v=2", ep1.url),
        ..ep1.clone()
    };
    let c2 = client(&http, &cache, ep2.clone());
    c2.call_tool("echo", args(json!({"message": "2"})), 10_000)
        .await
        .unwrap();
    // DELETE + server/discover + initialize + notifications/initialized + tools/call.
    assert_eq!(c2.upstream_requests(), 5);
    assert_eq!(deletes_in(&server.log_text()), 1, "{}", server.log_text());
    let refused = status_on_session(&ep1.url, &s1).await;
    assert!(refused == 404 || refused == 400, "got {refused}");
    let state = cached_state(&cache, &ep2).await.unwrap();
    assert_eq!(state["url"], Value::String(ep2.url.clone()));
    let s2 = session_id(&cache, &ep2).await;

    // Another origin (localhost instead of 127.0.0.1): the endpoint's credentials must not go
    // to the old origin, so the old session is only forgotten.
    let ep3 = ServerEndpoint {
        url: format!("http://localhost:{}/mcp", server.port),
        ..ep1.clone()
    };
    let c3 = client(&http, &cache, ep3.clone());
    c3.call_tool("echo", args(json!({"message": "3"})), 10_000)
        .await
        .unwrap();
    assert_eq!(c3.upstream_requests(), 4, "no DELETE across origins");
    assert_eq!(status_on_session(&ep2.url, &s2).await, 200, "left alone");
}

#[tokio::test(flavor = "current_thread")]
async fn elicitation_is_answered_from_defaults_or_declined() {
    let server = Server::everything("streamableHttp");
    let (http, cache) = (NativeHttp::new(), MemoryCache::new());
    let ep = server.endpoint("/mcp", TransportPin::Auto);
    let c = client(&http, &cache, ep);
    let tools = c.list_tools().await.unwrap();
    assert!(
        tools
            .iter()
            .any(|t| t.name == "trigger-elicitation-request"),
        "server-everything offers its elicitation tool to clients declaring elicitation"
    );
    // Its form requires `name`, which has no default: we decline, at once.
    let before = c.upstream_requests();
    let r = c
        .call_tool("trigger-elicitation-request", args(json!({})), 10_000)
        .await
        .unwrap();
    let text = r["content"].to_string();
    assert!(text.contains("declined"), "{r}");
    // tools/call + the POST answering elicitation/create on the call's stream.
    assert_eq!(c.upstream_requests(), before + 2);
}

#[tokio::test(flavor = "current_thread")]
async fn the_standalone_stream_costs_one_get_per_call_and_is_opt_in() {
    let server = Server::everything("streamableHttp");
    let py = Server::python(&["--transport", "streamable-http"]);
    for (srv, pin) in [
        (&server, TransportPin::Auto),
        (&py, TransportPin::StreamableHttp),
    ] {
        let (http, cache) = (NativeHttp::new(), MemoryCache::new());
        let ep = srv.endpoint("/mcp", pin);
        let c = client(&http, &cache, ep.clone()).with_standalone_stream(true);
        for i in 0..3 {
            let before = c.upstream_requests();
            let msg = format!("listening {i}");
            let r = c
                .call_tool("echo", args(json!({"message": msg})), 10_000)
                .await
                .unwrap();
            assert!(first_text(&r).contains(&msg), "{}: {r}", srv.name);
            if i > 0 {
                assert_eq!(
                    c.upstream_requests(),
                    before + 2,
                    "{}: GET + POST",
                    srv.name
                );
            }
        }
        let off = client(&http, &cache, ep);
        off.call_tool("echo", args(json!({"message": "plain"})), 10_000)
            .await
            .unwrap();
        assert_eq!(off.upstream_requests(), 1, "{}: off by default", srv.name);
    }
}
