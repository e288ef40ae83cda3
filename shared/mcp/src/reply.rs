//! Reading what a server answered to one HTTP request: the status, then JSON-RPC messages from
//! either a JSON body or an SSE stream, under hard size caps.
//!
//! Invariants:
//! - A JSON reply body is read whole but never beyond [`MAX_REPLY_BYTES`]; an SSE reply is read
//!   event by event, each event at most [`MAX_EVENT_BYTES`], the stream at most
//!   [`MAX_REPLY_BYTES`]. Error bodies are read at most [`MAX_ERROR_BODY_BYTES`].
//! - A reply that is neither JSON nor SSE (HTML error pages, plain text) is a [`Failure`] whose
//!   message says what came back and what to check, never a panic.
//! - Messages are scrubbed with the endpoint's [`Redactor`] before they become errors.
//! - [`Failure`] keeps the HTTP status and JSON-RPC error apart so callers can decide on
//!   fallback (detection), session recovery and retries ([`super::retry`]) without parsing
//!   strings; a 429/503 message carries the server's `Retry-After`.

use std::collections::VecDeque;

use super::jsonrpc::{self, Incoming, RpcError};
use super::sse::SseStream;
use super::text::{self, Redactor};
use crate::error::McpError;
use crate::http::HttpResponse;

pub const MAX_REPLY_BYTES: usize = 4 << 20;
pub const MAX_EVENT_BYTES: usize = 1 << 20;
pub const MAX_ERROR_BODY_BYTES: usize = 16 << 10;

/// Why a request did not produce a result.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// The server answered a non-2xx status. `rpc` is the JSON-RPC error in the body, if any.
    Status {
        status: u16,
        rpc: Option<RpcError>,
        /// `Retry-After` of a 429/503, as the server wrote it.
        retry_after: Option<String>,
        message: String,
    },
    /// The server answered with a JSON-RPC error for our request.
    Rpc { error: RpcError, message: String },
    /// The session the request ran on is gone (404 on a session, "no valid session"…).
    SessionLost { message: String },
    /// The request never reached the server (DNS, connection refused, TLS…).
    Unreachable(McpError),
    /// Anything else (garbage, caps, truncation, timeout): no recovery applies.
    Fatal(McpError),
}

impl Failure {
    pub fn into_error(self) -> McpError {
        match self {
            Failure::Status {
                status,
                retry_after,
                message,
                ..
            } => McpError::HttpStatus {
                status,
                retry_after,
                message,
            },
            Failure::Rpc { error, message } => McpError::JsonRpc {
                code: error.code,
                message,
            },
            Failure::SessionLost { message } => McpError::SessionExpired(message),
            Failure::Unreachable(e) | Failure::Fatal(e) => e,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            Failure::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The JSON-RPC error, whether it came with a 2xx or an error status.
    pub fn rpc(&self) -> Option<&RpcError> {
        match self {
            Failure::Status { rpc, .. } => rpc.as_ref(),
            Failure::Rpc { error, .. } => Some(error),
            _ => None,
        }
    }

    pub fn rpc_error(what: &str, error: RpcError, redactor: &Redactor) -> Self {
        let message = redactor.scrub(&format!(
            "{what} failed on the server: {}",
            error.describe()
        ));
        Failure::Rpc { error, message }
    }

    pub fn upstream(message: impl Into<String>) -> Self {
        Failure::Fatal(McpError::Protocol(message.into()))
    }
}

impl From<McpError> for Failure {
    fn from(e: McpError) -> Self {
        Failure::Fatal(e)
    }
}

fn status_hint(status: u16) -> &'static str {
    match status {
        400 => " (Bad Request)",
        401 => " (Unauthorized: check the server's credential)",
        403 => " (Forbidden: check the server's credential and its permissions)",
        404 => " (Not Found: is the URL the MCP endpoint?)",
        405 => " (Method Not Allowed: is the URL the MCP endpoint?)",
        406 => " (Not Acceptable: the server rejected our Accept header)",
        408 | 504 => " (the server or a proxy timed out)",
        413 => " (the request is too large for the server)",
        415 => " (Unsupported Media Type: the server rejected our JSON body)",
        429 => " (Too Many Requests: the server is rate limiting us)",
        521..=523 => " (Cloudflare could not connect to the server behind it)",
        500..=599 => " (server error)",
        _ => "",
    }
}

/// Checks the status; a non-2xx answer becomes [`Failure::Status`] with a readable message.
pub async fn check_status(
    mut resp: HttpResponse,
    what: &str,
    redactor: &Redactor,
) -> Result<HttpResponse, Failure> {
    if (200..300).contains(&resp.status) {
        return Ok(resp);
    }
    let status = resp.status;
    let content_type = resp.header("content-type").map(str::to_string);
    let retry_after = resp
        .header("retry-after")
        .filter(|_| matches!(status, 429 | 503))
        .map(str::to_string);
    let asks = retry_after
        .as_deref()
        .map(|v| format!("; it asks to be retried after {}", describe_retry_after(v)))
        .unwrap_or_default();
    let body = read_capped(&mut resp, MAX_ERROR_BODY_BYTES).await;
    let rpc = jsonrpc::parse_body(&body).ok().and_then(|msgs| {
        msgs.into_iter().find_map(|m| match m {
            Incoming::Response {
                outcome: Err(e), ..
            } => Some(e),
            _ => None,
        })
    });
    let said = match &rpc {
        Some(e) => e.describe(),
        None => text::describe_body(content_type.as_deref(), &body),
    };
    let message = redactor.scrub(&format!(
        "{what}: the server answered HTTP {status}{}: {said}{asks}",
        status_hint(status)
    ));
    Err(Failure::Status {
        status,
        rpc,
        retry_after,
        message,
    })
}

/// `Retry-After` for a message: "30 s", or the date as the server wrote it (clipped).
fn describe_retry_after(value: &str) -> String {
    let v = value.trim();
    match v.parse::<u64>() {
        Ok(secs) => format!("{secs} s"),
        Err(_) => text::clip(v, 40),
    }
}

/// Reads at most `limit` bytes of the body, ignoring read errors (it is only for messages).
async fn read_capped(resp: &mut HttpResponse, limit: usize) -> Vec<u8> {
    use futures::StreamExt;
    let mut out = Vec::new();
    while let Some(Ok(chunk)) = resp.body.next().await {
        let room = limit - out.len();
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= limit {
            break;
        }
    }
    out
}

/// JSON-RPC messages of one 2xx reply, in order.
pub enum Messages {
    Json(VecDeque<Incoming>),
    Sse(Box<SseStream>),
}

impl Messages {
    /// Opens a 2xx reply that must carry JSON-RPC messages (JSON or SSE).
    pub async fn open(
        mut resp: HttpResponse,
        what: &str,
        redactor: &Redactor,
    ) -> Result<Self, Failure> {
        let content_type = resp
            .header("content-type")
            .unwrap_or("")
            .to_ascii_lowercase();
        if content_type.starts_with("text/event-stream") {
            return Ok(Messages::Sse(Box::new(SseStream::new(
                std::mem::replace(&mut resp.body, Box::pin(futures::stream::empty())),
                MAX_EVENT_BYTES,
                MAX_REPLY_BYTES,
            ))));
        }
        if resp.status == 202 || resp.status == 204 {
            return Err(Failure::upstream(format!(
                "{what}: the server accepted the request (HTTP {}) but sent no reply",
                resp.status
            )));
        }
        let is_json = content_type.starts_with("application/json")
            || (content_type.starts_with("application/") && content_type.contains("+json"));
        if !is_json && !content_type.is_empty() {
            let body = read_capped(&mut resp, MAX_ERROR_BODY_BYTES).await;
            let essence = content_type.split(';').next().unwrap_or("").trim();
            let message = redactor.scrub(&format!(
                "{what}: the reply was {essence}, not JSON or SSE ({}): is the URL the MCP endpoint?",
                text::describe_body(Some(&content_type), &body)
            ));
            return Err(Failure::Fatal(McpError::UnexpectedContentType {
                content_type: essence.to_string(),
                message,
            }));
        }
        let body = resp
            .read_to_end(MAX_REPLY_BYTES)
            .await
            .map_err(|e| Failure::Fatal(prefix(what, e)))?;
        let msgs = jsonrpc::parse_body(&body)
            .map_err(|m| Failure::upstream(redactor.scrub(&format!("{what}: {m}"))))?;
        Ok(Messages::Json(msgs.into()))
    }

    /// The next message, `None` at the end of the reply.
    pub async fn next(&mut self, what: &str) -> Result<Option<Incoming>, Failure> {
        match self {
            Messages::Json(queue) => Ok(queue.pop_front()),
            Messages::Sse(stream) => loop {
                let Some(event) = stream.next_event().await.map_err(|e| prefix(what, e))? else {
                    return Ok(None);
                };
                if event.event != "message" {
                    continue;
                }
                let value: serde_json::Value = serde_json::from_str(&event.data).map_err(|e| {
                    Failure::upstream(format!(
                        "{what}: an SSE event from the server is not JSON ({e})"
                    ))
                })?;
                let msg = jsonrpc::parse_message(value)
                    .map_err(|m| Failure::upstream(format!("{what}: {m}")))?;
                return Ok(Some(msg));
            },
        }
    }

    /// Where an interrupted SSE reply may be resumed: `(Last-Event-ID, retry ms)`.
    pub fn resume_point(&self) -> Option<(String, Option<u64>)> {
        match self {
            Messages::Sse(stream) => stream
                .last_event_id()
                .filter(|id| !id.is_empty())
                .map(|id| (id.to_string(), stream.retry_ms())),
            Messages::Json(_) => None,
        }
    }
}

fn prefix(what: &str, e: McpError) -> McpError {
    if e.is_upstream() {
        e.map_message(|m| format!("{what}: {m}"))
    } else {
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::stream;

    fn resp(status: u16, content_type: &str, body: &[u8]) -> HttpResponse {
        let chunks: Vec<crate::error::Result<Vec<u8>>> = vec![Ok(body.to_vec())];
        HttpResponse {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: Box::pin(stream::iter(chunks)),
        }
    }

    #[tokio::test]
    async fn html_error_pages_become_readable_upstream_errors() {
        let r = Redactor::default();
        let err = check_status(
            resp(502, "text/html", b"<html><title>Bad Gateway</title></html>"),
            "tools/call",
            &r,
        )
        .await
        .unwrap_err();
        assert_eq!(err.status(), Some(502));
        let msg = err.into_error().to_string();
        assert!(
            msg.contains("HTTP 502") && msg.contains("Bad Gateway"),
            "{msg}"
        );
    }

    #[tokio::test]
    async fn rate_limits_say_when_to_retry() {
        let r = Redactor::default();
        let mut limited = resp(429, "text/plain", b"slow down");
        limited.headers.push(("retry-after".into(), "30".into()));
        let msg = check_status(limited, "tools/call", &r)
            .await
            .unwrap_err()
            .into_error()
            .to_string();
        assert!(
            msg.contains("HTTP 429") && msg.contains("retried after 30 s"),
            "{msg}"
        );
    }

    #[tokio::test]
    async fn json_rpc_errors_in_error_statuses_are_kept() {
        let r = Redactor::default();
        let err = check_status(
            resp(
                400,
                "application/json",
                br#"{"jsonrpc":"2.0","id":"server-error","error":{"code":-32000,"message":"Bad Request: No valid session ID provided"}}"#,
            ),
            "tools/call",
            &r,
        ).await
        .unwrap_err();
        assert_eq!(err.rpc().unwrap().code, -32000);
    }

    #[tokio::test]
    async fn a_2xx_html_reply_says_to_check_the_url() {
        let r = Redactor::default();
        let err = Messages::open(
            resp(200, "text/html; charset=utf-8", b"<html>hi</html>"),
            "initialize",
            &r,
        )
        .await
        .err()
        .unwrap();
        let msg = err.into_error().to_string();
        assert!(
            msg.contains("text/html, not JSON or SSE") && msg.contains("MCP endpoint"),
            "{msg}"
        );
    }

    #[tokio::test]
    async fn invalid_json_and_truncated_sse_are_errors() {
        let r = Redactor::default();
        let err = Messages::open(resp(200, "application/json", b"{\"jsonrpc\":"), "x", &r)
            .await
            .err()
            .unwrap();
        assert!(matches!(err, Failure::Fatal(McpError::Protocol(_))));

        let mut m = Messages::open(
            resp(
                200,
                "text/event-stream",
                b"event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"res",
            ),
            "x",
            &r,
        )
        .await
        .ok()
        .unwrap();
        assert_eq!(
            m.next("x").await.unwrap(),
            None,
            "a cut-off event is dropped"
        );

        let mut m = Messages::open(
            resp(200, "text/event-stream", b"data: not json\n\n"),
            "x",
            &r,
        )
        .await
        .ok()
        .unwrap();
        assert!(m.next("x").await.is_err());
    }

    #[tokio::test]
    async fn oversized_json_replies_are_refused() {
        let r = Redactor::default();
        let big = vec![b' '; MAX_REPLY_BYTES + 1];
        let err = Messages::open(resp(200, "application/json", &big), "x", &r)
            .await
            .err()
            .unwrap();
        assert!(err.into_error().to_string().contains("limit"));
    }

    #[tokio::test]
    async fn accepted_without_reply_is_an_error() {
        let r = Redactor::default();
        let err = Messages::open(resp(202, "", b""), "tools/call", &r)
            .await
            .err()
            .unwrap();
        assert!(err.into_error().to_string().contains("HTTP 202"));
    }
}
