//! Property tests for everything that parses bytes from the outside world: the public request
//! body, JWTs, SSE streams, JSON-RPC messages and input schemas. None may panic on any input;
//! each answers a documented error; the SSE parser sees the same events however the bytes are
//! split into chunks. Runs in the test command with a bounded number of cases.

use mcp_client::http::{HttpClient, HttpRequest, HttpResponse};
use mcp_client::jsonrpc::{parse_body, parse_message};
use mcp_client::sse::{SseEvent, SseParser};
use mcp_client::McpError;
use proptest::prelude::*;
use serde_json::{json, Value};
use shared::api::ActionRequest;
use shared::auth::{authenticate, AuthConfig};
use shared::cache::MemoryCache;
use shared::error::Error;
use shared::schema::validate;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Arbitrary JSON, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map("[a-z_$]{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn request_parser_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Err(e) = ActionRequest::parse(&bytes) {
            prop_assert!(matches!(e.status(), 400 | 413), "{e:?}");
        }
    }

    #[test]
    fn request_parser_never_panics_on_json(value in json_value()) {
        let bytes = value.to_string().into_bytes();
        match ActionRequest::parse(&bytes) {
            Ok(r) => prop_assert!(shared::api::Action::NAMES.contains(&r.action.name())),
            Err(e) => prop_assert_eq!(e.code(), "validation_error"),
        }
    }

    #[test]
    fn request_parser_checks_field_types_whatever_they_hold(action in prop::sample::select(shared::api::Action::NAMES), server_id in json_value(), parameters in json_value()) {
        let body = json!({"action": action, "server_id": server_id, "parameters": parameters});
        if let Ok(r) = ActionRequest::parse(body.to_string().as_bytes()) {
            prop_assert!(r.body["server_id"].is_string() || r.body["server_id"].is_null());
            prop_assert!(r.body["parameters"].is_object() || r.body["parameters"].is_null());
        }
    }

    #[test]
    fn sse_events_do_not_depend_on_chunking(
        // Events with data (empty-data events carry no JSON-RPC message; the parser skips them).
        events in prop::collection::vec(("[a-z]{0,6}", "[!-~][ -~]{0,39}", proptest::option::of("[0-9]{1,4}")), 0..8),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
        crlf in any::<bool>(),
    ) {
        let nl = if crlf { "\r\n" } else { "\n" };
        let mut text = String::new();
        for (event, data, id) in &events {
            if !event.is_empty() { text.push_str(&format!("event: {event}{nl}")); }
            if let Some(id) = id { text.push_str(&format!("id: {id}{nl}")); }
            text.push_str(&format!(": comment{nl}data: {data}{nl}{nl}"));
        }
        let bytes = text.as_bytes();
        let whole = feed_all(&[bytes]);
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
        points.sort();
        let mut chunks = Vec::new();
        let mut last = 0;
        for p in points { chunks.push(&bytes[last..p]); last = p; }
        chunks.push(&bytes[last..]);
        prop_assert_eq!(feed_all(&chunks), whole.clone());
        prop_assert_eq!(whole.len(), events.len());
        for ((event, data, _), got) in events.iter().zip(&whole) {
            prop_assert_eq!(&got.data, data);
            let expected = if event.is_empty() { "message" } else { event.as_str() };
            prop_assert_eq!(got.event.as_str(), expected);
        }
    }

    #[test]
    fn sse_parser_never_panics_and_caps_events(bytes in prop::collection::vec(any::<u8>(), 0..1024), cap in 1usize..64) {
        let mut parser = SseParser::new(cap);
        let mut out = Vec::new();
        for chunk in bytes.chunks(7) {
            if parser.feed(chunk, &mut out).is_err() { break; }
        }
        for e in &out { prop_assert!(e.data.len() <= cap, "{} > {cap}", e.data.len()); }
    }

    #[test]
    fn jsonrpc_decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512), value in json_value()) {
        let _ = parse_body(&bytes);
        let _ = parse_body(value.to_string().as_bytes());
        let _ = parse_message(value);
    }

    #[test]
    fn schema_validation_never_panics(schema in json_value(), value in json_value()) {
        let _ = validate(&schema, &value);
    }

    #[test]
    fn garbage_tokens_are_auth_errors(token in "[ -~]{0,300}") {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let cfg = AuthConfig::hs256("0123456789abcdef0123456789abcdef-test-secret");
        let outcome = rt.block_on(authenticate(&token, &cfg, 1_800_000_000, &NoHttp, &MemoryCache::new()));
        prop_assert!(matches!(outcome, Err(Error::Auth(_))), "{outcome:?}");
    }
}

fn feed_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
    let mut parser = SseParser::new(1 << 20);
    let mut out = Vec::new();
    for c in chunks {
        parser.feed(c, &mut out).unwrap();
    }
    out
}

struct NoHttp;

impl HttpClient for NoHttp {
    async fn send(&self, _request: HttpRequest) -> mcp_client::error::Result<HttpResponse> {
        Err(McpError::Unreachable("no network in this test".into()))
    }
}
