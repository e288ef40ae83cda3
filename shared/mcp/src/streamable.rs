//! Streamable HTTP, protocol versions 2025-03-26 … 2025-11-25 (the handshake era).
//!
//! Invariants:
//! - `initialize` is sent without session headers and offers [`LATEST_HANDSHAKE_VERSION`]; the
//!   negotiated version must be one of
//!   [`HANDSHAKE_VERSIONS`](super::detect::HANDSHAKE_VERSIONS), else the session is refused.
//! - Every later POST carries `Mcp-Session-Id` (when the server issued one) and
//!   `MCP-Protocol-Version`.
//! - A reply is the response with our id, from a JSON body or an SSE stream; notifications
//!   (progress, logging) and empty priming events before it are read and passed to the
//!   call's sink if it has one (`crate::events`), else skipped; server→client
//!   requests are answered at once (see [`jsonrpc::answer_server_request`]) so the server never
//!   waits on us, unless the call's sink asks someone (`crate::events::CallEvents::ask`,
//!   bounded by its own timeout).
//! - A 404 on a request that carried a session id, or a 400 that names a missing session, is
//!   [`Failure::SessionLost`]: the caller re-initializes once.
//! - With [`Streamable::request_listening`] the standalone `GET` stream is open for the duration
//!   of the request (opened before the POST, so nothing the server sends there is lost) and
//!   requests on it are answered the same way; it ends with the request.
//! - A session is ended with `DELETE` (best effort) when it is replaced or closed; 404/405 and
//!   "no such session" answers mean there is nothing left to end.
//! - An SSE reply cut off before the answer is resumed with `GET` + `Last-Event-ID` after the
//!   server's `retry:` delay (capped), at most [`MAX_RESUMES`] times.

use std::pin::pin;

use futures::future::{select, Either};
use serde_json::{json, Value};

use super::detect::{is_lost_session, negotiated_version, LATEST_HANDSHAKE_VERSION};
use super::jsonrpc::{self, Incoming};
use super::reply::{check_status, Failure, Messages, MAX_ERROR_BODY_BYTES};
use super::wire::{CancelRoute, InFlight, Wire};
use super::CLIENT_NAME;
use crate::error::McpError;
use crate::http::{Clock, HttpClient, HttpResponse};
use crate::redact::hidden;

pub const MAX_RESUMES: u32 = 3;
/// Time the standalone `GET` stream has to open before a call goes ahead without it.
pub const STANDALONE_OPEN_MS: u64 = 1000;
const DEFAULT_RETRY_MS: u64 = 1000;
const MAX_RETRY_MS: u64 = 5000;

/// `Debug` says whether there is a session id, never which.
#[derive(Clone, PartialEq)]
pub struct Streamable {
    pub session_id: Option<String>,
    pub protocol_version: String,
    /// The server's `initialize` advertised task-augmented `tools/call` (`crate::tasks`).
    pub tool_tasks: bool,
}

impl std::fmt::Debug for Streamable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streamable")
            .field("session_id", &hidden(&self.session_id))
            .field("protocol_version", &self.protocol_version)
            .finish()
    }
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
                "capabilities": super::client_capabilities(),
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
            tool_tasks: false,
        };
        let result = session.read_reply(wire, resp, id, "initialize").await?;
        let version = negotiated_version(&result)?;
        session.protocol_version = version.to_string();
        session.tool_tasks = crate::tasks::offers_tool_tasks(&result["capabilities"]);
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

    /// [`Self::request`] while the standalone `GET` stream is open, so server→client requests
    /// not tied to this request (the server has nowhere else to send them) are answered too.
    /// Costs one more upstream request (the `GET`); without a session, or when the server
    /// refuses the stream (405…) or does not open it within [`STANDALONE_OPEN_MS`], this is
    /// plain [`Self::request`]. The stream never fails or delays the request's own answer.
    pub async fn request_listening<H: HttpClient + Clock>(
        &self,
        wire: &Wire<'_, H>,
        method: &str,
        params: Value,
    ) -> Result<Value, Failure> {
        let Some(stream) = self.open_standalone(wire).await else {
            return self.request(wire, method, params).await;
        };
        let listener = async {
            self.serve_standalone(wire, stream).await;
            futures::future::pending::<()>().await
        };
        let request = self.request(wire, method, params);
        match select(pin!(request), pin!(listener)).await {
            Either::Left((result, _)) => result,
            Either::Right(((), request)) => request.await,
        }
    }

    /// Opens the standalone stream: `Some` only for a 2xx event stream within the budget.
    async fn open_standalone<H: HttpClient + Clock>(
        &self,
        wire: &Wire<'_, H>,
    ) -> Option<HttpResponse> {
        self.session_id.as_ref()?;
        let open = wire.send(wire.get_stream(&wire.endpoint.url, &self.headers()));
        let timer = wire.http.sleep_ms(STANDALONE_OPEN_MS);
        let resp = match select(pin!(open), pin!(timer)).await {
            Either::Left((Ok(resp), _)) => resp,
            _ => return None,
        };
        let is_sse = resp
            .header("content-type")
            .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("text/event-stream"));
        ((200..300).contains(&resp.status) && is_sse).then_some(resp)
    }

    /// Answers every server→client request on the standalone stream until it ends, breaks or
    /// exceeds its caps (the caps of any reply: [`Messages`]).
    async fn serve_standalone<H: HttpClient + Clock>(
        &self,
        wire: &Wire<'_, H>,
        resp: HttpResponse,
    ) {
        const WHAT: &str = "the standalone stream";
        let Ok(mut messages) = Messages::open(resp, WHAT, &wire.redactor).await else {
            return;
        };
        while let Ok(Some(msg)) = messages.next(WHAT).await {
            if let Incoming::Request { id, method, params } = msg {
                self.answer(wire, &id, &method, &params).await;
            }
        }
    }

    /// Answers a server→client request at once. Best effort: if the answer cannot be delivered
    /// the reply to our own request may still come.
    async fn answer<H: HttpClient>(
        &self,
        wire: &Wire<'_, H>,
        id: &Value,
        method: &str,
        params: &Value,
    ) {
        let answer = jsonrpc::answer_asking(wire.events(), id, method, params).await;
        if let Ok(mut resp) = wire
            .send(wire.post(&wire.endpoint.url, &self.headers(), &answer))
            .await
        {
            // Drain the (empty, 202) body so the connection can be reused.
            let _ = resp.read_to_end(MAX_ERROR_BODY_BYTES).await;
        }
    }

    /// `DELETE` of the session at `url` (the URL it was made for). `Ok(true)`: the server
    /// ended it; `Ok(false)`: nothing to end (no session id, already gone, or the server does
    /// not let clients end sessions: 405).
    pub async fn terminate<H: HttpClient>(
        &self,
        wire: &Wire<'_, H>,
        url: &str,
    ) -> Result<bool, Failure> {
        if self.session_id.is_none() {
            return Ok(false);
        }
        let resp = wire
            .send(wire.delete(url, &self.headers()))
            .await
            .map_err(Failure::Unreachable)?;
        match check_status(resp, "ending the session (DELETE)", &wire.redactor).await {
            Ok(mut resp) => {
                let _ = resp.read_to_end(MAX_ERROR_BODY_BYTES).await;
                Ok(true)
            }
            Err(Failure::Status {
                status: 404 | 405, ..
            }) => Ok(false),
            Err(Failure::Status {
                status, message, ..
            }) if is_lost_session(status, &message, true) => Ok(false),
            Err(f) => Err(f),
        }
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
                Some(Incoming::Request { id, method, params }) => {
                    self.answer(wire, &id, &method, &params).await;
                }
                Some(Incoming::Notification { method, params }) => wire.notified(&method, &params),
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
                        Failure::Fatal(McpError::Protocol(format!(
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
