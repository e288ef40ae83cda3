//! Streamable HTTP, protocol versions 2025-03-26 … 2025-11-25 (the handshake era).
//!
//! Invariants:
//! - `initialize` is sent without session headers and offers [`LATEST_HANDSHAKE_VERSION`]; the
//!   negotiated version must be one of [`HANDSHAKE_VERSIONS`], else the session is refused.
//! - Every later POST carries `Mcp-Session-Id` (when the server issued one) and
//!   `MCP-Protocol-Version`.
//! - A reply is the response with our id, from a JSON body or an SSE stream; notifications
//!   (progress, logging) and empty priming events before it are read and skipped; server→client
//!   requests are answered at once (see [`jsonrpc::answer_server_request`]) so the server never
//!   waits on us.
//! - A 404 on a request that carried a session id, or a 400 that names a missing session, is
//!   [`Failure::SessionLost`]: the caller re-initializes once.
//! - An SSE reply cut off before the answer is resumed with `GET` + `Last-Event-ID` after the
//!   server's `retry:` delay (capped), at most [`MAX_RESUMES`] times.

use serde_json::{json, Value};

use super::detect::{is_lost_session, HANDSHAKE_VERSIONS, LATEST_HANDSHAKE_VERSION};
use super::jsonrpc::{self, Incoming};
use super::reply::{check_status, Failure, Messages};
use super::wire::{CancelRoute, InFlight, Wire};
use super::CLIENT_NAME;
use crate::error::Error;
use crate::http::{Clock, HttpClient, HttpResponse};

pub const MAX_RESUMES: u32 = 3;
const DEFAULT_RETRY_MS: u64 = 1000;
const MAX_RETRY_MS: u64 = 5000;

#[derive(Debug, Clone, PartialEq)]
pub struct Streamable {
    pub session_id: Option<String>,
    pub protocol_version: String,
}

impl Streamable {
    /// `initialize` → `notifications/initialized`: two requests.
    pub async fn initialize<H: HttpClient + Clock>(wire: &Wire<'_, H>) -> Result<Self, Failure> {
        let id = wire.next_id();
        let body = jsonrpc::request(
            id,
            "initialize",
            json!({
                "protocolVersion": LATEST_HANDSHAKE_VERSION,
                "capabilities": {},
                "clientInfo": { "name": CLIENT_NAME, "version": env!("CARGO_PKG_VERSION") },
            }),
        );
        let resp = wire
            .send(wire.post(&wire.endpoint.url, &[], &body))
            .await
            .map_err(Failure::Unreachable)?;
        let resp = check_status(resp, "initialize", &wire.redactor).await?;
        let mut session = Streamable {
            session_id: resp
                .header("mcp-session-id")
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            protocol_version: LATEST_HANDSHAKE_VERSION.to_string(),
        };
        let result = session.read_reply(wire, resp, id, "initialize").await?;
        let version = result
            .get("protocolVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !HANDSHAKE_VERSIONS.contains(&version) {
            return Err(Failure::upstream(format!(
                "initialize: the server wants MCP protocol version \"{}\", which mcp-edge does not speak (it speaks {})",
                super::text::clip(version, 40),
                HANDSHAKE_VERSIONS.join(", ")
            )));
        }
        session.protocol_version = version.to_string();
        session
            .notify(wire, "notifications/initialized", Value::Null)
            .await?;
        Ok(session)
    }

    pub fn headers(&self) -> Vec<(String, String)> {
        let mut h = Vec::with_capacity(2);
        if let Some(id) = &self.session_id {
            h.push(("mcp-session-id".to_string(), id.clone()));
        }
        h.push((
            "mcp-protocol-version".to_string(),
            self.protocol_version.clone(),
        ));
        h
    }

    pub async fn request<H: HttpClient + Clock>(
        &self,
        wire: &Wire<'_, H>,
        method: &str,
        params: Value,
    ) -> Result<Value, Failure> {
        let id = wire.next_id();
        let headers = self.headers();
        wire.set_in_flight(Some(InFlight {
            id,
            method: method.to_string(),
            route: CancelRoute::Post {
                url: wire.endpoint.url.clone(),
                headers: headers.clone(),
            },
        }));
        let body = jsonrpc::request(id, method, params);
        let resp = wire
            .send(wire.post(&wire.endpoint.url, &headers, &body))
            .await
            .map_err(Failure::Unreachable)?;
        let resp = self.check(resp, method, wire).await?;
        let out = self.read_reply(wire, resp, id, method).await;
        wire.set_in_flight(None);
        out
    }

    pub async fn notify<H: HttpClient>(
        &self,
        wire: &Wire<'_, H>,
        method: &str,
        params: Value,
    ) -> Result<(), Failure> {
        let body = jsonrpc::notification(method, params);
        let resp = wire
            .send(wire.post(&wire.endpoint.url, &self.headers(), &body))
            .await
            .map_err(Failure::Unreachable)?;
        self.check(resp, method, wire).await.map(drop)
    }

    async fn check<H: HttpClient>(
        &self,
        resp: HttpResponse,
        what: &str,
        wire: &Wire<'_, H>,
    ) -> Result<HttpResponse, Failure> {
        match check_status(resp, what, &wire.redactor).await {
            Err(Failure::Status {
                status, message, ..
            }) if is_lost_session(status, &message, self.session_id.is_some()) => {
                Err(Failure::SessionLost { message })
            }
            other => other,
        }
    }

    async fn read_reply<H: HttpClient + Clock>(
        &self,
        wire: &Wire<'_, H>,
        resp: HttpResponse,
        id: u64,
        what: &str,
    ) -> Result<Value, Failure> {
        let mut messages = Messages::open(resp, what, &wire.redactor).await?;
        let mut resumes = 0;
        loop {
            match messages.next(what).await? {
                Some(msg) if msg.answers(id) => {
                    let Incoming::Response { outcome, .. } = msg else {
                        unreachable!("answers() holds only for responses")
                    };
                    return outcome.map_err(|e| Failure::rpc_error(what, e, &wire.redactor));
                }
                Some(Incoming::Request { id, method, .. }) => {
                    let answer = jsonrpc::answer_server_request(&id, &method);
                    // Best effort: if the answer cannot be delivered the reply still may come.
                    let _ = wire
                        .send(wire.post(&wire.endpoint.url, &self.headers(), &answer))
                        .await;
                }
                Some(_) => {}
                None => {
                    let Some((last_id, retry)) = messages.resume_point() else {
                        return Err(Failure::upstream(format!(
                            "{what}: the server closed the reply stream before answering"
                        )));
                    };
                    if resumes == MAX_RESUMES {
                        return Err(Failure::upstream(format!(
                            "{what}: the reply stream broke off {MAX_RESUMES} times without an answer"
                        )));
                    }
                    resumes += 1;
                    wire.http
                        .sleep_ms(retry.unwrap_or(DEFAULT_RETRY_MS).min(MAX_RETRY_MS))
                        .await;
                    let mut headers = self.headers();
                    headers.push(("last-event-id".to_string(), last_id));
                    let resp = wire
                        .send(wire.get_stream(&wire.endpoint.url, &headers))
                        .await
                        .map_err(Failure::Unreachable)?;
                    let resp = self.check(resp, what, wire).await.map_err(|f| {
                        Failure::Fatal(Error::Upstream(format!(
                            "{} (while resuming an interrupted reply)",
                            f.into_error()
                        )))
                    })?;
                    messages = Messages::open(resp, what, &wire.redactor).await?;
                }
            }
        }
    }
}
