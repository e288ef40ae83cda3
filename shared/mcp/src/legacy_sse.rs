//! Legacy HTTP+SSE transport (protocol 2024-11-05): one `GET` stream carries every reply; the
//! messages go by POST to the URL the stream's first `endpoint` event names.
//!
//! Invariants:
//! - A connection lives for one public call (list, call, ping) and is closed by dropping it:
//!   the server ties its session to the open stream, so nothing can be reused across worker
//!   invocations. A call costs GET + `initialize` + `notifications/initialized` + the request.
//! - The `endpoint` URL is resolved against the SSE URL and must have the same origin
//!   (scheme, host, port): the endpoint headers carry credentials, and a server must not be
//!   able to redirect them elsewhere.
//! - Replies are matched by id on the stream; notifications are skipped; server→client
//!   requests are answered by POST at once.
//! - The stream is capped at [`MAX_STREAM_BYTES`] and each event at `MAX_EVENT_BYTES`.

use serde_json::{json, Value};

use super::detect::{negotiated_version, LEGACY_SSE_VERSION};
use super::jsonrpc::{self, Incoming};
use super::reply::{check_status, Failure, MAX_EVENT_BYTES};
use super::sse::SseStream;
use super::wire::{CancelRoute, InFlight, Wire};
use super::CLIENT_NAME;
use crate::http::{Clock, HttpClient};

pub const MAX_STREAM_BYTES: usize = 16 << 20;

pub struct LegacySse {
    stream: SseStream,
    post_url: String,
    pub protocol_version: String,
}

impl LegacySse {
    /// Opens the stream, waits for the `endpoint` event and runs the handshake.
    pub async fn connect<H: HttpClient + Clock>(wire: &Wire<'_, H>) -> Result<Self, Failure> {
        const WHAT: &str = "opening the SSE stream (GET)";
        let resp = wire
            .send(wire.get_stream(&wire.endpoint.url, &[]))
            .await
            .map_err(Failure::Unreachable)?;
        let mut resp = check_status(resp, WHAT, &wire.redactor).await?;
        let content_type = resp
            .header("content-type")
            .unwrap_or("")
            .to_ascii_lowercase();
        if !content_type.starts_with("text/event-stream") {
            let essence = content_type
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_string();
            return Err(Failure::upstream(format!(
                "{WHAT}: the server answered {}, not an event stream: is the URL the server's SSE endpoint?",
                if essence.is_empty() { "without a content type".to_string() } else { essence }
            )));
        }
        let body = std::mem::replace(&mut resp.body, Box::pin(futures::stream::empty()));
        let mut stream = SseStream::new(body, MAX_EVENT_BYTES, MAX_STREAM_BYTES);
        let post_url = loop {
            let Some(event) = stream.next_event().await? else {
                return Err(Failure::upstream(format!(
                    "{WHAT}: the stream closed before the server sent its endpoint event"
                )));
            };
            if event.event == "endpoint" {
                break resolve_endpoint(&wire.endpoint.url, event.data.trim())?;
            }
        };
        let mut conn = LegacySse {
            stream,
            post_url,
            protocol_version: LEGACY_SSE_VERSION.to_string(),
        };
        let result = conn
            .request(
                wire,
                "initialize",
                json!({
                    "protocolVersion": LEGACY_SSE_VERSION,
                    "capabilities": super::client_capabilities(),
                    "clientInfo": { "name": CLIENT_NAME, "version": env!("CARGO_PKG_VERSION") },
                }),
            )
            .await?;
        let version = negotiated_version(&result)?;
        conn.protocol_version = version.to_string();
        conn.post(
            wire,
            "notifications/initialized",
            &jsonrpc::notification("notifications/initialized", Value::Null),
        )
        .await?;
        Ok(conn)
    }

    pub async fn request<H: HttpClient + Clock>(
        &mut self,
        wire: &Wire<'_, H>,
        method: &str,
        params: Value,
    ) -> Result<Value, Failure> {
        let id = wire.next_id();
        wire.set_in_flight(Some(InFlight {
            id,
            method: method.to_string(),
            route: CancelRoute::Post {
                url: self.post_url.clone(),
                headers: Vec::new(),
            },
        }));
        self.post(wire, method, &jsonrpc::request(id, method, params))
            .await?;
        loop {
            let Some(event) = self.stream.next_event().await? else {
                return Err(Failure::upstream(format!(
                    "{method}: the server closed the SSE stream before answering"
                )));
            };
            if event.event != "message" {
                continue;
            }
            let value: Value = serde_json::from_str(&event.data).map_err(|e| {
                Failure::upstream(format!(
                    "{method}: an SSE event from the server is not JSON ({e})"
                ))
            })?;
            let msg = jsonrpc::parse_message(value)
                .map_err(|m| Failure::upstream(format!("{method}: {m}")))?;
            match msg {
                msg if msg.answers(id) => {
                    let Incoming::Response { outcome, .. } = msg else {
                        unreachable!("answers() holds only for responses")
                    };
                    wire.set_in_flight(None);
                    return outcome.map_err(|e| Failure::rpc_error(method, e, &wire.redactor));
                }
                Incoming::Request {
                    id,
                    method: m,
                    params,
                } => {
                    let answer = jsonrpc::answer_asking(wire.events(), &id, &m, &params).await;
                    let _ = self.post(wire, &m, &answer).await;
                }
                Incoming::Notification { method: m, params } => wire.notified(&m, &params),
                _ => {}
            }
        }
    }

    async fn post<H: HttpClient>(
        &self,
        wire: &Wire<'_, H>,
        what: &str,
        body: &Value,
    ) -> Result<(), Failure> {
        let resp = wire
            .send(wire.post(&self.post_url, &[], body))
            .await
            .map_err(Failure::Unreachable)?;
        check_status(resp, what, &wire.redactor).await.map(drop)
    }
}

/// Resolves the `endpoint` event's URL against the SSE URL, refusing other origins.
pub fn resolve_endpoint(sse_url: &str, endpoint: &str) -> Result<String, Failure> {
    let base = url::Url::parse(sse_url)
        .map_err(|_| Failure::upstream("the server URL is not a valid URL"))?;
    let target = base.join(endpoint).map_err(|_| {
        Failure::upstream(format!(
            "the server's endpoint event holds an invalid URL (\"{}\")",
            super::text::clip(endpoint, 100)
        ))
    })?;
    if target.origin() != base.origin() {
        return Err(Failure::upstream(format!(
            "the server's endpoint event points to another origin ({}); refusing to send credentials there",
            target.host_str().unwrap_or("?")
        )));
    }
    Ok(target.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_resolve_relative_to_the_sse_url() {
        assert_eq!(
            resolve_endpoint("http://127.0.0.1:3002/sse", "/message?sessionId=a-b").unwrap(),
            "http://127.0.0.1:3002/message?sessionId=a-b"
        );
        assert_eq!(
            resolve_endpoint("http://h:1/base/sse", "messages/?session_id=x").unwrap(),
            "http://h:1/base/messages/?session_id=x"
        );
        assert_eq!(
            resolve_endpoint("http://h:1/sse", "http://h:1/m?x=1").unwrap(),
            "http://h:1/m?x=1"
        );
    }

    #[test]
    fn endpoints_on_another_origin_are_refused() {
        for bad in [
            "http://evil.example/m",
            "https://h:1/m",
            "http://h:2/m",
            "//evil/m",
        ] {
            assert!(resolve_endpoint("http://h:1/sse", bad).is_err(), "{bad}");
        }
    }
}
