//! The HTTP face: Streamable HTTP on `/t/{team}/s/{server}/mcp`, `/health`, and the stderr tail.
//!
//! Invariants:
//! - every route but `GET /health` needs `Authorization: Bearer <token>`, compared in
//!   constant time, before anything else is looked at;
//! - every `/t/…` request carries its launch spec, checked against the allow-list before any
//!   process starts (403 otherwise);
//! - request bodies are capped at `max_line_bytes`; one JSON-RPC message per POST;
//! - a reply goes to the HTTP request that sent the call; if that request goes away first,
//!   the call is abandoned (the child gets `notifications/cancelled`).

use crate::bridge::{Bridge, BridgeError, Key, SessionError};
use crate::child::{codes, error_reply, CallHandle};
use crate::spec::{LaunchSpec, SpecError};
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{HeaderMap, HeaderValue, ACCEPT, ALLOW, AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use shared::stdio_spec::BridgePath;
use std::convert::Infallible;
use std::sync::Arc;
use subtle::ConstantTimeEq;

pub type Body = UnsyncBoxBody<Bytes, Infallible>;

pub const SESSION_HEADER: &str = "mcp-session-id";
pub const SPEC_HEADER: &str = "x-bridge-command";

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed_unsync()
}

fn json_response(status: StatusCode, v: &Value) -> Response<Body> {
    let mut r = Response::new(full(serde_json::to_vec(v).expect("JSON serializes")));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn rpc_error(
    status: StatusCode,
    id: Value,
    code: i64,
    message: impl Into<String>,
) -> Response<Body> {
    json_response(status, &error_reply(id, code, message))
}

fn empty(status: StatusCode) -> Response<Body> {
    let mut r = Response::new(full(Bytes::new()));
    *r.status_mut() = status;
    r
}

fn header(h: &HeaderMap, name: impl hyper::header::AsHeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn authorized(h: &HeaderMap, token: &str) -> bool {
    let Some(given) = header(h, AUTHORIZATION).and_then(|v| v.strip_prefix("Bearer ")) else {
        return false;
    };
    given.trim().as_bytes().ct_eq(token.as_bytes()).into()
}

pub async fn handle(
    bridge: Arc<Bridge>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    if path == "/health" {
        return Ok(json_response(
            StatusCode::OK,
            &json!({"status": "ok", "children": bridge.child_count(), "sessions": bridge.session_count(),
                "sandbox": bridge.sandbox().mode.to_string(), "limits": bridge.sandbox().limits.to_json()}),
        ));
    }
    if !authorized(req.headers(), &bridge.config().token) {
        let mut r = rpc_error(
            StatusCode::UNAUTHORIZED,
            Value::Null,
            codes::REJECTED,
            "Unauthorized: bad or missing bearer token",
        );
        r.headers_mut()
            .insert("www-authenticate", HeaderValue::from_static("Bearer"));
        return Ok(r);
    }
    let (key, leaf) = match BridgePath::parse(&path) {
        Some(p) => (
            Key {
                team: p.team.to_string(),
                server: p.server.to_string(),
            },
            p.leaf.to_string(),
        ),
        _ => {
            return Ok(rpc_error(
                StatusCode::NOT_FOUND,
                Value::Null,
                codes::REJECTED,
                "Not found",
            ))
        }
    };
    let method = req.method().clone();
    Ok(match (leaf.as_str(), method) {
        ("mcp", Method::POST) => post(&bridge, key, req).await,
        ("mcp", Method::DELETE) => {
            match bridge.check_session(header(req.headers(), SESSION_HEADER), &key) {
                Ok(id) => {
                    bridge.close_session(&id);
                    empty(StatusCode::OK)
                }
                Err(e) => session_error(e),
            }
        }
        ("mcp", _) => {
            let mut r = rpc_error(
                StatusCode::METHOD_NOT_ALLOWED,
                Value::Null,
                -32600,
                "Method not allowed: this bridge has no standalone GET stream",
            );
            r.headers_mut()
                .insert(ALLOW, HeaderValue::from_static("POST, DELETE"));
            r
        }
        ("stderr", Method::GET) => match bridge.current(&key).await {
            Some(child) => {
                let mut r = Response::new(full(child.stderr_tail(usize::MAX)));
                r.headers_mut().insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                );
                r
            }
            None => rpc_error(
                StatusCode::NOT_FOUND,
                Value::Null,
                codes::REJECTED,
                "No child for this key",
            ),
        },
        _ => rpc_error(
            StatusCode::NOT_FOUND,
            Value::Null,
            codes::REJECTED,
            "Not found",
        ),
    })
}

fn session_error(e: SessionError) -> Response<Body> {
    match e {
        SessionError::Missing => rpc_error(
            StatusCode::BAD_REQUEST,
            Value::Null,
            -32600,
            "Bad Request: Mcp-Session-Id header is required",
        ),
        SessionError::Unknown => rpc_error(
            StatusCode::NOT_FOUND,
            Value::Null,
            codes::REJECTED,
            "Session not found",
        ),
    }
}

fn spec_error(e: &SpecError, id: Value) -> Response<Body> {
    match e {
        SpecError::NotAllowed(_) => {
            rpc_error(StatusCode::FORBIDDEN, id, codes::NOT_ALLOWED, e.to_string())
        }
        SpecError::NotFound(_) => rpc_error(
            StatusCode::BAD_GATEWAY,
            id,
            codes::START_FAILED,
            e.to_string(),
        ),
        SpecError::Missing | SpecError::Invalid(_) => {
            rpc_error(StatusCode::BAD_REQUEST, id, -32600, e.to_string())
        }
    }
}

fn bridge_error(e: BridgeError, id: Value) -> Response<Body> {
    match e {
        BridgeError::Spec(s) => spec_error(&s, id),
        BridgeError::Start(m) => rpc_error(StatusCode::BAD_GATEWAY, id, codes::START_FAILED, m),
        BridgeError::AtCapacity(m) => {
            rpc_error(StatusCode::SERVICE_UNAVAILABLE, id, codes::AT_CAPACITY, m)
        }
    }
}

async fn post(bridge: &Bridge, key: Key, req: Request<Incoming>) -> Response<Body> {
    let headers = req.headers().clone();
    let spec = match header(&headers, SPEC_HEADER)
        .ok_or(SpecError::Missing)
        .and_then(LaunchSpec::decode)
    {
        Ok(s) => s,
        Err(e) => return spec_error(&e, Value::Null),
    };
    if let Err(e) = bridge.resolve(&spec) {
        return spec_error(&e, Value::Null);
    }
    let accept = header(&headers, ACCEPT).unwrap_or("");
    let takes_sse = accept.contains("text/event-stream");
    let takes_json =
        accept.is_empty() || accept.contains("application/json") || accept.contains("*/*");

    let max = bridge.config().max_line_bytes;
    let body = match Limited::new(req.into_body(), max).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return rpc_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                Value::Null,
                -32600,
                format!("request body over {max} bytes"),
            )
        }
    };
    let msg: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return rpc_error(
                StatusCode::BAD_REQUEST,
                Value::Null,
                -32700,
                format!("Parse error: {e}"),
            )
        }
    };
    if !msg.is_object() {
        return rpc_error(
            StatusCode::BAD_REQUEST,
            Value::Null,
            -32600,
            "Invalid Request: one JSON-RPC message per POST (batches are not supported)",
        );
    }
    let method = msg
        .get("method")
        .and_then(Value::as_str)
        .map(str::to_string);
    let id = msg.get("id").filter(|v| !v.is_null()).cloned();

    if method.as_deref() == Some("initialize") {
        let Some(id) = id else {
            return rpc_error(
                StatusCode::BAD_REQUEST,
                Value::Null,
                -32600,
                "initialize needs an id",
            );
        };
        let version = msg
            .pointer("/params/protocolVersion")
            .and_then(Value::as_str);
        return match bridge.ensure(&key, &spec, version).await {
            Ok((_, init)) => {
                let session = bridge.open_session(&key);
                let reply = json!({"jsonrpc": "2.0", "id": id, "result": init});
                let mut r = if takes_json || !takes_sse {
                    json_response(StatusCode::OK, &reply)
                } else {
                    sse_once(&reply)
                };
                r.headers_mut().insert(
                    SESSION_HEADER,
                    HeaderValue::from_str(&session).expect("hex id"),
                );
                r
            }
            Err(e) => bridge_error(e, id),
        };
    }

    let session = match bridge.check_session(header(&headers, SESSION_HEADER), &key) {
        Ok(s) => s,
        Err(e) => return session_error(e),
    };
    match (method.as_deref(), id) {
        (Some("notifications/initialized"), None) => empty(StatusCode::ACCEPTED),
        (Some("notifications/cancelled"), None) => {
            if let Some(child) = bridge.running(&key, &spec).await {
                child.cancel_from(&session, msg);
            }
            empty(StatusCode::ACCEPTED)
        }
        (Some(_), None) => {
            if let Some(child) = bridge.running(&key, &spec).await {
                child.notify(&msg);
            }
            empty(StatusCode::ACCEPTED)
        }
        // A reply to a server→client request: the bridge never sends those to HTTP clients.
        (None, Some(_)) => empty(StatusCode::ACCEPTED),
        (None, None) => rpc_error(
            StatusCode::BAD_REQUEST,
            Value::Null,
            -32600,
            "Invalid Request",
        ),
        (Some(_), Some(id)) => {
            let streams_progress = msg.pointer("/params/_meta/progressToken").is_some();
            let call = match start_call(bridge, &key, &spec, &session, msg).await {
                Ok(c) => c,
                Err(r) => return bridge_error(r, id),
            };
            if takes_sse && (streams_progress || !takes_json) {
                sse_stream(call, id, bridge.config().request_timeout)
            } else {
                json_reply(call, id, bridge.config().request_timeout).await
            }
        }
    }
}

/// Sends the call, starting the child if needed; retries once if the child died in between.
async fn start_call(
    bridge: &Bridge,
    key: &Key,
    spec: &LaunchSpec,
    session: &str,
    msg: Value,
) -> Result<CallHandle, BridgeError> {
    let mut last = String::new();
    for _ in 0..2 {
        let (child, _) = bridge.ensure(key, spec, None).await?;
        match child.call(session, msg.clone()).await {
            Ok(c) => return Ok(c),
            Err(e) => last = e.0,
        }
    }
    Err(BridgeError::Start(last))
}

async fn json_reply(
    mut call: CallHandle,
    id: Value,
    timeout: std::time::Duration,
) -> Response<Body> {
    match tokio::time::timeout(timeout, call.reply()).await {
        Ok(Some(reply)) => json_response(StatusCode::OK, &reply),
        Ok(None) => rpc_error(
            StatusCode::OK,
            id,
            codes::CHILD_GONE,
            "the stdio server went away",
        ),
        Err(_) => rpc_error(
            StatusCode::OK,
            id,
            codes::TIMEOUT,
            format!("no reply within {timeout:?}"),
        ),
    }
}

fn sse_event(v: &Value) -> Bytes {
    let mut out = b"event: message\ndata: ".to_vec();
    out.extend(serde_json::to_vec(v).expect("JSON serializes"));
    out.extend(b"\n\n");
    Bytes::from(out)
}

fn sse_headers(mut r: Response<Body>) -> Response<Body> {
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert("cache-control", HeaderValue::from_static("no-cache"));
    r
}

fn sse_once(v: &Value) -> Response<Body> {
    sse_headers(Response::new(full(sse_event(v))))
}

/// Progress notifications as they come, then the reply, then the stream ends. Dropping the
/// body (the client left) drops the call, which abandons it.
fn sse_stream(call: CallHandle, id: Value, timeout: std::time::Duration) -> Response<Body> {
    let deadline = tokio::time::Instant::now() + timeout;
    let state = Some((call, id));
    let stream = futures::stream::unfold(state, move |state| async move {
        let (mut call, id) = state?;
        if call.is_done() {
            return None;
        }
        let event = match tokio::time::timeout_at(deadline, call.next()).await {
            Ok(Some(v)) => v,
            Ok(None) => error_reply(id.clone(), codes::CHILD_GONE, "the stdio server went away"),
            Err(_) => {
                let e = error_reply(id, codes::TIMEOUT, format!("no reply within {timeout:?}"));
                return Some((Ok::<_, Infallible>(Frame::data(sse_event(&e))), None));
            }
        };
        Some((Ok(Frame::data(sse_event(&event))), Some((call, id))))
    });
    sse_headers(Response::new(BodyExt::boxed_unsync(StreamBody::new(
        stream,
    ))))
}
