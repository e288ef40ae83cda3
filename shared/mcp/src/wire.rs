//! The one place requests leave for the upstream: adds the endpoint's headers, counts requests,
//! mints request ids and remembers what is in flight so a timeout can cancel it.
//!
//! Invariants:
//! - Every upstream HTTP request goes through [`Wire::send`], so [`Wire::sent`] is exact.
//! - Protocol headers are ours: an endpoint header with the same name as one of them
//!   (`Accept`, `Content-Type`, `Mcp-Session-Id`, …) is not sent, so configuration cannot break
//!   the protocol. The `Mcp-Param-*` namespace is ours too, so a configured header can never
//!   stand in for an argument that was not sent.
//! - Errors from the HTTP client are scrubbed of header values before they go further.
//! - Request ids are unique per client and start at a random base, so two worker invocations
//!   sharing one upstream session never reuse an id (servers stall on duplicate ids).
//! - For retries ([`super::retry`]): every POST sent while a request of the watched method
//!   ([`Wire::watch`]) is in flight, and that did not fail before a connection was made (nor
//!   got Cloudflare's 521–523), is counted in [`Wire::reached`] (it may have reached the
//!   server); the `Retry-After` of the
//!   last 429/503 answer is kept for [`Wire::take_retry_after`].

use std::cell::{Cell, RefCell};

use serde_json::Value;

use super::text::Redactor;
use crate::error::{McpError, Result};
use crate::events::{self, CallEvents};
use crate::http::{HttpClient, HttpRequest, HttpResponse, Method};
use crate::model::ServerEndpoint;
use crate::redact::names;

pub const ACCEPT_BOTH: &str = "application/json, text/event-stream";

const RESERVED: &[&str] = &[
    "accept",
    "content-type",
    "content-length",
    "host",
    "mcp-session-id",
    "mcp-protocol-version",
    "mcp-method",
    "mcp-name",
    "last-event-id",
];

/// Where to send `notifications/cancelled` for the request in flight.
/// `Debug` shows the header names only (they carry the session id and credentials).
#[derive(Clone, PartialEq)]
pub enum CancelRoute {
    /// POST to `url` with these protocol headers (Streamable HTTP or legacy SSE message URL).
    Post {
        url: String,
        headers: Vec<(String, String)>,
    },
    /// 2026-07-28: closing the response stream is the cancellation; nothing to send.
    CloseStream,
}

impl std::fmt::Debug for CancelRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CancelRoute::Post { url, headers } => f
                .debug_struct("Post")
                .field("url", url)
                .field("header_names", &names(headers))
                .finish(),
            CancelRoute::CloseStream => f.write_str("CloseStream"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct InFlight {
    pub id: u64,
    pub method: String,
    pub route: CancelRoute,
}

pub struct Wire<'a, H> {
    pub http: &'a H,
    pub endpoint: ServerEndpoint,
    pub redactor: Redactor,
    sent: Cell<u32>,
    next_id: Cell<u64>,
    in_flight: RefCell<Option<InFlight>>,
    watched: Cell<Option<&'static str>>,
    reached: Cell<u32>,
    retry_after: RefCell<Option<String>>,
    /// Where a running call's notifications go (`crate::events`), with the call's progress
    /// token; `None`: they are dropped.
    events: Cell<Option<&'a dyn CallEvents>>,
    progress_token: RefCell<Option<String>>,
}

impl<'a, H: HttpClient> Wire<'a, H> {
    pub fn new(http: &'a H, endpoint: ServerEndpoint) -> Self {
        let redactor = Redactor::new(endpoint.headers.iter().map(|(_, v)| v.as_str()));
        // Random base below 2^48, so ids stay well within JavaScript's safe integers.
        let base = (uuid::Uuid::new_v4().as_u128() as u64) & ((1 << 48) - 1);
        Wire {
            http,
            endpoint,
            redactor,
            sent: Cell::new(0),
            next_id: Cell::new(base.max(1)),
            in_flight: RefCell::new(None),
            watched: Cell::new(None),
            reached: Cell::new(0),
            retry_after: RefCell::new(None),
            events: Cell::new(None),
            progress_token: RefCell::new(None),
        }
    }

    /// Counts, from now on, the POSTs of requests of `method` that may have reached the server.
    pub fn watch(&self, method: &'static str) {
        self.watched.set(Some(method));
    }

    /// POSTs of the watched method that may have reached the server so far.
    pub fn reached(&self) -> u32 {
        self.reached.get()
    }

    /// The `Retry-After` header of the last 429 or 503 answer, once.
    pub fn take_retry_after(&self) -> Option<String> {
        self.retry_after.borrow_mut().take()
    }

    pub fn sent(&self) -> u32 {
        self.sent.get()
    }

    pub fn next_id(&self) -> u64 {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        id
    }

    /// Sends the notifications of calls from now on to `sink`.
    pub fn set_events(&self, sink: &'a dyn CallEvents) {
        self.events.set(Some(sink));
    }

    /// The call's sink, if one is set.
    pub fn events(&self) -> Option<&'a dyn CallEvents> {
        self.events.get()
    }

    pub fn has_events(&self) -> bool {
        self.events.get().is_some()
    }

    /// The progress token of the call in flight (its progress notifications are the ones the
    /// sink sees).
    pub fn set_progress_token(&self, token: Option<String>) {
        *self.progress_token.borrow_mut() = token;
    }

    /// A notification read while waiting for a reply: to the sink, if there is one.
    pub fn notified(&self, method: &str, params: &Value) {
        if let Some(sink) = self.events.get() {
            let token = self.progress_token.borrow();
            events::dispatch(sink, token.as_deref(), method, params);
        }
    }

    pub fn set_in_flight(&self, in_flight: Option<InFlight>) {
        *self.in_flight.borrow_mut() = in_flight;
    }

    pub fn take_in_flight(&self) -> Option<InFlight> {
        self.in_flight.borrow_mut().take()
    }

    /// A POST of `body` as JSON with the given protocol headers.
    pub fn post(
        &self,
        url: &str,
        protocol_headers: &[(String, String)],
        body: &Value,
    ) -> HttpRequest {
        let mut req = HttpRequest::new(Method::Post, url)
            .header("content-type", "application/json")
            .header("accept", ACCEPT_BOTH)
            .body(serde_json::to_vec(body).unwrap_or_default());
        req.headers.extend(protocol_headers.iter().cloned());
        req
    }

    pub fn get_stream(&self, url: &str, protocol_headers: &[(String, String)]) -> HttpRequest {
        let mut req = HttpRequest::new(Method::Get, url).header("accept", "text/event-stream");
        req.headers.extend(protocol_headers.iter().cloned());
        req
    }

    /// A `DELETE` (session termination) with the given protocol headers.
    pub fn delete(&self, url: &str, protocol_headers: &[(String, String)]) -> HttpRequest {
        let mut req = HttpRequest::new(Method::Delete, url);
        req.headers.extend(protocol_headers.iter().cloned());
        req
    }

    pub async fn send(&self, mut req: HttpRequest) -> Result<HttpResponse> {
        for (name, value) in &self.endpoint.headers {
            let lower = name.to_ascii_lowercase();
            if !RESERVED.contains(&lower.as_str()) && !lower.starts_with("mcp-param-") {
                req.headers.push((name.clone(), value.clone()));
            }
        }
        self.sent.set(self.sent.get() + 1);
        let watched = req.method == Method::Post
            && self.watched.get().is_some_and(|m| {
                self.in_flight
                    .borrow()
                    .as_ref()
                    .is_some_and(|f| f.method == m)
            });
        let outcome = self.http.send(req).await.map_err(|e| self.scrub_error(e));
        match &outcome {
            Ok(resp) => {
                if matches!(resp.status, 429 | 503) {
                    *self.retry_after.borrow_mut() = resp.header("retry-after").map(str::to_string);
                }
                if watched && !super::retry::edge_not_connected(resp.status) {
                    self.reached.set(self.reached.get() + 1);
                }
            }
            Err(e) if watched && !e.is_connect() => {
                self.reached.set(self.reached.get() + 1);
            }
            Err(_) => {}
        }
        outcome
    }

    pub fn scrub_error(&self, e: McpError) -> McpError {
        e.map_message(|m| self.redactor.scrub(&m))
    }
}
