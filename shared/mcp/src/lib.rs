//! mcp-edge's MCP client (DESIGN.md §5), a crate of its own: one client for every protocol
//! generation a remote server may speak, over the [`http::HttpClient`] seam so it runs in a
//! Worker (`edge_cloudflare::fetch` implements the seam over `worker::Fetch`) and natively
//! against real servers (feature `native`: `native_http::NativeHttp` over reqwest + tokio).
//! It knows nothing of teams, D1 or the API contract; core maps its [`McpError`] to the API
//! error in one place (`impl From<McpError> for shared::Error`).
//!
//! Layout, one job per file: [`model`] the protocol's data (a leaf: it imports nothing from
//! the crate), [`error`] the typed error, [`http`] the network seam, [`jsonrpc`] messages,
//! [`sse`] event-stream parsing, [`events`] a running call's notifications to a sink, [`reply`] reading one HTTP answer, [`wire`] sending,
//! [`session`] session state in a [`SessionStore`], [`detect`] the protocol verdicts,
//! [`elicit`] answering elicitation without a user, [`param_headers`] the `Mcp-Param-*`
//! headers of 2026-07-28, [`retry`] the retry policy, [`tools`] reading `tools/list` pages,
//! [`redact`] the one redactor (credential values and their encoded forms out of text; the
//! `Debug` stand-ins for secrets), [`text`] clipping and scrubbing what a server said, [`tasks`]
//! the 2025-11-25 tasks utility (task-augmented `tools/call`, `tasks/*`), and one
//! file per transport: [`streamable`], [`stateless`], [`legacy_sse`]. Core re-exports
//! [`redact`] as `shared::redact`.
//!
//! The session store seam: the client keeps upstream session state between invocations
//! through the small [`SessionStore`] trait defined here (keyed by server id, infallible: the
//! store is an optimisation). Core owns the KV cache and adapts it (`shared::cache::CacheSessions`
//! wraps any `Cache`, under `keys::mcp_session`), so neither crate depends on the other's
//! storage types and there is no cycle.
//!
//! Invariants:
//! - Each public call opens a connection from the stored session state when there is one
//!   (a warm call costs exactly one upstream request on Streamable HTTP and 2026-07-28),
//!   otherwise detects/initializes once and stores the state for the next invocation.
//! - A lost session is recovered once per call: drop the stored state, re-initialize, retry.
//! - Every public call is bounded in time by [`Clock::sleep_ms`]; on expiry the request in
//!   flight is cancelled (best effort) and the answer is [`McpError::Timeout`] (after more
//!   than one attempt, [`McpError::GaveUp`] around it).
//! - A session we replace while it is still valid (the endpoint's URL or transport pin changed)
//!   is ended with a best-effort `DELETE`, sent only to the URL it was made for and only when
//!   that URL has the endpoint's origin (the endpoint's credentials never go to another
//!   origin). A session the server already lost is just forgotten.
//! - Server→client requests are answered at once (elicitation from the form's defaults:
//!   [`elicit`]); with [`McpClient::with_standalone_stream`] a `tools/call` on Streamable HTTP
//!   also listens on the standalone `GET` stream, at the cost of one more request.
//! - Upstream trouble is a typed [`McpError`] whose message is written for a team admin; no
//!   header value ever appears in a message.
//! - Only [`McpClient::call_tool_with`] retries, as [`retry`] decides: transient failures only,
//!   within the call's time budget, and never a `tools/call` whose POST may have reached the
//!   server unless the caller says the tool is idempotent; a call that gave up says how many
//!   attempts it made ([`McpError::GaveUp`]). The other calls try once (and recover a lost
//!   session once).

pub mod detect;
pub mod elicit;
pub mod error;
pub mod events;
pub mod http;
pub mod jsonrpc;
pub mod legacy_sse;
pub mod model;
#[cfg(feature = "native")]
pub mod native_http;
pub mod param_headers;
pub mod redact;
pub mod reply;
pub mod retry;
pub mod session;
pub mod sse;
pub mod stateless;
pub mod streamable;
pub mod tasks;
pub mod text;
pub mod tools;
pub mod wire;

pub use error::McpError;
pub use model::{ServerEndpoint, ToolDef, TransportPin};
pub use session::{MemorySessions, SessionStore};

use std::cell::Cell;
use std::future::Future;

use futures::future::{select, Either};
use serde_json::{json, Map, Value};

use crate::error::Result;
use crate::http::{Clock, HttpClient};

use detect::DiscoverVerdict;
use legacy_sse::LegacySse;
use reply::Failure;
use retry::{RetryPolicy, Situation};
use session::{SessionState, TransportKind};
use streamable::Streamable;
use wire::{CancelRoute, InFlight, Wire};

/// `clientInfo.name` we announce.
pub const CLIENT_NAME: &str = "mcp-edge";
/// Time budget of [`McpClient::list_tools`], which takes none.
pub const LIST_TIMEOUT_MS: u64 = 30_000;
/// `tools/list` pages followed before giving up.
pub const MAX_TOOL_PAGES: usize = 100;
/// Time given to the best-effort `notifications/cancelled` after a timeout.
pub const CANCEL_BUDGET_MS: u64 = 2_000;
/// Time given to a `DELETE` that ends a session ([`McpClient::close_session`], or a session
/// replaced after a configuration change).
pub const CLOSE_BUDGET_MS: u64 = 2_000;

/// The capabilities we declare, on every protocol generation. Elicitation is answered without a
/// user, from the form's defaults ([`elicit`]); `{}` is form mode only (2025-11-25), and reads
/// the same to servers of earlier versions.
pub fn client_capabilities() -> Value {
    json!({ "elicitation": {} })
}

/// How [`McpClient::call_tool_with`] runs one `tools/call`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallOptions<'s> {
    /// The tool's `inputSchema`, for the `Mcp-Param-*` headers of 2026-07-28.
    pub input_schema: Option<&'s Value>,
    /// The whole call's time budget, retries and their waits included.
    pub timeout_ms: u64,
    /// The tool may run twice with the same arguments (`idempotentHint`/`readOnlyHint`):
    /// transient failures are retried even after the request may have reached the server.
    pub idempotent: bool,
    /// [`RetryPolicy::NONE`] (the default) tries once.
    pub retry: RetryPolicy,
}

/// What [`McpClient::call_tool_with`] ended with.
#[derive(Debug)]
pub struct CallOutcome {
    /// As [`McpClient::call_tool`] answers. A call that failed after retries (or was not
    /// retried for a reason worth stating) fails as [`McpError::GaveUp`]: the attempts and the
    /// last attempt's error, its message saying how many attempts were made and why no more.
    pub result: Result<Value>,
    /// Attempts made (1 = no retry). An attempt includes connecting and one session recovery.
    pub attempts: u32,
    /// The failure says the server is unwell (unreachable, broken connection, 5xx, 429,
    /// garbage, oversized, timeout), as opposed to answering properly with an error (JSON-RPC
    /// error, 4xx). `false` on success. For circuit breakers.
    pub server_fault: bool,
}

/// An open connection of one of the three transports.
enum Conn {
    Streamable(Streamable),
    Stateless,
    Legacy(Box<LegacySse>),
}

impl Conn {
    async fn request<H: HttpClient + Clock>(
        &mut self,
        wire: &Wire<'_, H>,
        method: &str,
        params: Value,
    ) -> Result<Value, Failure> {
        match self {
            Conn::Streamable(s) => s.request(wire, method, params).await,
            Conn::Stateless => stateless::request(wire, method, params).await,
            Conn::Legacy(l) => l.request(wire, method, params).await,
        }
    }

    fn kind(&self) -> TransportKind {
        match self {
            Conn::Streamable(_) => TransportKind::StreamableHttp,
            Conn::Stateless => TransportKind::Stateless,
            Conn::Legacy(_) => TransportKind::Sse,
        }
    }
}

fn pin_allows(pin: TransportPin, kind: TransportKind) -> bool {
    matches!(
        (pin, kind),
        (TransportPin::Auto, _)
            | (TransportPin::StreamableHttp, TransportKind::StreamableHttp)
            | (TransportPin::Sse, TransportKind::Sse)
            | (TransportPin::Stateless, TransportKind::Stateless)
    )
}

pub struct McpClient<'a, H, S> {
    wire: Wire<'a, H>,
    sessions: S,
    standalone: bool,
}

impl<'a, H: HttpClient + Clock, S: SessionStore> McpClient<'a, H, S> {
    /// A client for one server; `sessions` keeps its upstream session between invocations.
    pub fn new(http: &'a H, sessions: S, endpoint: ServerEndpoint) -> Self {
        McpClient {
            wire: Wire::new(http, endpoint),
            sessions,
            standalone: false,
        }
    }

    /// Whether `tools/call` on Streamable HTTP keeps the standalone `GET` stream open while the
    /// call runs (off by default). Servers send requests not tied to a call (e.g. an
    /// `elicitation/create` made outside the call's context) only there, and drop them when no
    /// stream is open; listening costs one more upstream request per call (GET + POST).
    pub fn with_standalone_stream(mut self, on: bool) -> Self {
        self.standalone = on;
        self
    }

    /// Sends the progress and log notifications of this client's calls to `sink`
    /// ([`events`]); without one they are dropped (the synchronous path).
    pub fn with_events(self, sink: &'a dyn events::CallEvents) -> Self {
        self.wire.set_events(sink);
        self
    }

    /// Upstream HTTP requests this client has sent so far.
    pub fn upstream_requests(&self) -> u32 {
        self.wire.sent()
    }

    /// `tools/list` following `nextCursor` to the end (at most [`MAX_TOOL_PAGES`] pages).
    pub async fn list_tools(&self) -> Result<Vec<ToolDef>> {
        let op = self.run(async |conn: &mut Conn| self.list_on(conn).await);
        self.bounded("tools/list", LIST_TIMEOUT_MS, op).await
    }

    /// `tools/call`; answers the raw `CallToolResult` object untouched. A result with
    /// `isError: true` is `Ok`; a JSON-RPC error is `Err(Upstream)`; on timeout,
    /// `notifications/cancelled` is sent (best effort) and the answer is `Err(Timeout)`.
    pub async fn call_tool(
        &self,
        name: &str,
        arguments: Map<String, Value>,
        timeout_ms: u64,
    ) -> Result<Value> {
        self.call_tool_with_schema(name, arguments, None, timeout_ms)
            .await
    }

    /// [`Self::call_tool`] knowing the tool's `inputSchema` (from `tools/list`): on 2026-07-28
    /// the arguments its properties mark with `x-mcp-header` are mirrored into `Mcp-Param-*`
    /// headers ([`param_headers`]), which servers of that version require; a schema whose
    /// annotations are invalid is refused before the call is sent (`Err(Upstream)`), as the
    /// spec asks of clients. Other protocol generations ignore the schema.
    pub async fn call_tool_with_schema(
        &self,
        name: &str,
        arguments: Map<String, Value>,
        input_schema: Option<&Value>,
        timeout_ms: u64,
    ) -> Result<Value> {
        let options = CallOptions {
            input_schema,
            timeout_ms,
            ..CallOptions::default()
        };
        self.call_tool_with(name, arguments, options).await.result
    }

    /// [`Self::call_tool_with_schema`] with retries ([`CallOptions::retry`], decided by
    /// [`retry::decide`]) inside the one time budget, reporting attempts and whether the
    /// failure is the server's fault.
    pub async fn call_tool_with(
        &self,
        name: &str,
        arguments: Map<String, Value>,
        options: CallOptions<'_>,
    ) -> CallOutcome {
        let CallOptions {
            input_schema,
            timeout_ms,
            idempotent,
            retry: policy,
        } = options;
        let what = format!("tools/call {}", text::clip(name, 80));
        let param_headers = match input_schema {
            Some(schema) => param_headers::headers_for(schema, &arguments),
            None => Ok(Vec::new()),
        };
        // Asking for progress keeps long calls visibly alive on SSE replies; the notifications
        // are read and skipped until the result arrives.
        let token = format!("mcp-edge-{}", self.wire.next_id());
        self.wire.set_progress_token(Some(token.clone()));
        let mut params = json!({
            "name": name,
            "arguments": arguments,
            "_meta": { "progressToken": token },
        });
        if self.wire.has_events() {
            // 2026-07-28 sends log lines only to requests that opt in (earlier versions send
            // them anyway); only a call whose notifications go somewhere asks.
            params["_meta"][events::LOG_LEVEL_META] = json!(events::LOG_LEVEL);
        }
        // Refused here, before anything was sent: not the server's fault.
        let refused_here = Cell::new(false);
        let mut op = async |conn: &mut Conn| {
            let result = match conn {
                Conn::Streamable(s) if self.standalone => {
                    s.request_listening(&self.wire, "tools/call", params.clone())
                        .await?
                }
                Conn::Stateless => {
                    let headers = param_headers.as_ref().map_err(|m| {
                        refused_here.set(true);
                        Failure::Fatal(McpError::Validation(format!(
                            "{what}: the tool's inputSchema is invalid, so mcp-edge will not call it: {m}"
                        )))
                    })?;
                    stateless::request_with(&self.wire, "tools/call", params.clone(), headers)
                        .await?
                }
                other => {
                    other
                        .request(&self.wire, "tools/call", params.clone())
                        .await?
                }
            };
            if result.is_object() {
                Ok(result)
            } else {
                Err(Failure::upstream(format!(
                    "{what}: the server's result is not an object"
                )))
            }
        };
        let attempts = Cell::new(0u32);
        let fault = Cell::new(false);
        let deadline_ms = self.wire.http.now_ms().saturating_add(timeout_ms);
        self.wire.watch("tools/call");
        let retrying = async {
            loop {
                let attempt = attempts.get() + 1;
                attempts.set(attempt);
                let reached_before = self.wire.reached();
                self.wire.take_retry_after();
                let failure = match self.run_attempt(&mut op).await {
                    Ok(v) => return Ok(v),
                    Err(f) => f,
                };
                fault.set(retry::counts_against_server(&failure) && !refused_here.get());
                let now_ms = self.wire.http.now_ms();
                let situation = Situation {
                    attempt,
                    kind: retry::kind_of(&failure),
                    may_have_reached: self.wire.reached() > reached_before,
                    idempotent,
                    retry_after_ms: self
                        .wire
                        .take_retry_after()
                        .and_then(|v| retry::parse_retry_after(&v, now_ms)),
                    now_ms,
                    deadline_ms,
                    jitter: jitter(),
                };
                match retry::decide(&policy, &situation) {
                    retry::Decision::Retry { delay_ms } => self.wire.http.sleep_ms(delay_ms).await,
                    retry::Decision::Stop(stop) => {
                        return Err(McpError::gave_up(
                            failure.into_error(),
                            attempt,
                            &stop.explain(attempt),
                        ))
                    }
                }
            }
        };
        let result = match self.bounded(&what, timeout_ms, retrying).await {
            Err(timeout @ McpError::Timeout(_)) => {
                fault.set(true);
                let n = attempts.get();
                let suffix = if n > 1 {
                    format!(" ({n} attempts)")
                } else {
                    String::new()
                };
                Err(McpError::gave_up(timeout, n, &suffix))
            }
            other => other,
        };
        CallOutcome {
            server_fault: result.is_err() && fault.get(),
            attempts: attempts.get().max(1),
            result,
        }
    }

    /// [`Self::call_tool_with`] that also ends when `cancelled` resolves (to the reason): the
    /// request in flight is then cancelled upstream with `notifications/cancelled` carrying
    /// the reason (best effort, within [`CANCEL_BUDGET_MS`]) and the answer is `None` (the
    /// caller knows why it stopped). A call that ends first answers its outcome.
    pub async fn call_tool_cancellable(
        &self,
        name: &str,
        arguments: Map<String, Value>,
        options: CallOptions<'_>,
        cancelled: impl Future<Output = String>,
    ) -> Option<CallOutcome> {
        let call = Box::pin(self.call_tool_with(name, arguments, options));
        match select(call, Box::pin(cancelled)).await {
            Either::Left((outcome, _)) => Some(outcome),
            Either::Right((reason, call)) => {
                // Cancel while the call (and a legacy SSE stream with it) is still alive.
                if let Some(in_flight) = self.wire.take_in_flight() {
                    self.cancel(in_flight, &reason).await;
                }
                drop(call);
                None
            }
        }
    }

    /// How tool `name` takes task augmentation ([`tasks`]): `Forbidden` unless this session's
    /// server advertised task-augmented `tools/call`; then its `execution.taskSupport` from
    /// `tools/list`. Tried once; a stored session of a server without tasks answers without
    /// a request.
    pub async fn tool_task_support(
        &self,
        name: &str,
        timeout_ms: u64,
    ) -> Result<tasks::TaskSupport> {
        // A stored session says whether the server offers tasks without connecting.
        let ep = &self.wire.endpoint;
        if let Some(state) = session::load(&self.sessions, &ep.server_id, &ep.url).await {
            if !state.tool_tasks {
                return Ok(tasks::TaskSupport::Forbidden);
            }
        }
        let op = self.run(async |conn: &mut Conn| {
            if !matches!(conn, Conn::Streamable(s) if s.tool_tasks) {
                return Ok(tasks::TaskSupport::Forbidden);
            }
            let mut cursor: Option<String> = None;
            for _ in 0..MAX_TOOL_PAGES {
                let params = match &cursor {
                    Some(c) => json!({ "cursor": c }),
                    None => json!({}),
                };
                let page = conn.request(&self.wire, "tools/list", params).await?;
                if let Some(found) = tasks::support_in_page(&page, name) {
                    return Ok(found);
                }
                match page["nextCursor"].as_str().filter(|c| !c.is_empty()) {
                    Some(next) if cursor.as_deref() != Some(next) => {
                        cursor = Some(next.to_string())
                    }
                    _ => break,
                }
            }
            Ok(tasks::TaskSupport::Forbidden)
        });
        self.bounded("tools/list", timeout_ms, op).await
    }

    /// A task-augmented `tools/call` (`task: {ttl}`): the server's task, or its result when it
    /// answered the call directly. Tried once: the request may have reached the server.
    pub async fn start_tool_task(
        &self,
        name: &str,
        arguments: Map<String, Value>,
        ttl_ms: u64,
        timeout_ms: u64,
    ) -> Result<tasks::Started> {
        let what = format!("tools/call {} as a task", text::clip(name, 80));
        let params = json!({ "name": name, "arguments": arguments, "task": { "ttl": ttl_ms } });
        let op = self.run(async |conn: &mut Conn| {
            conn.request(&self.wire, "tools/call", params.clone()).await
        });
        let result = self.bounded(&what, timeout_ms, op).await?;
        tasks::started(&result).map_err(|m| McpError::Protocol(format!("{what}: {m}")))
    }

    /// `tasks/get`, `tasks/result` or `tasks/cancel` of `task_id`; tried once (a lost session
    /// recovered once).
    pub async fn task_request(
        &self,
        method: tasks::TaskMethod,
        task_id: &str,
        timeout_ms: u64,
    ) -> Result<Value> {
        let op = self.run(async |conn: &mut Conn| {
            conn.request(&self.wire, method.as_str(), json!({ "taskId": task_id }))
                .await
        });
        self.bounded(method.as_str(), timeout_ms, op).await
    }

    /// Cheap health check: `ping` (initializing if needed); `server/discover` on 2026-07-28,
    /// which has no `ping`.
    pub async fn ping(&self, timeout_ms: u64) -> Result<()> {
        let op = self.run(async |conn: &mut Conn| match conn {
            Conn::Stateless => stateless::discover(&self.wire).await.map(drop),
            other => other.request(&self.wire, "ping", json!({})).await.map(drop),
        });
        self.bounded("ping", timeout_ms, op).await
    }

    /// Ends the cached upstream session, if any, and forgets it: `DELETE` on Streamable HTTP
    /// (other transports have nothing to end). For admin code when a server is deleted or its
    /// configuration changes: call it with the endpoint as it was *before* the change. `Ok(true)`
    /// when the server confirmed; `Ok(false)` when there was nothing to end (no session, the
    /// server already forgot it, or it does not let clients end sessions). The cache entry is
    /// gone in every case, errors included.
    pub async fn close_session(&self) -> Result<bool> {
        let ep = &self.wire.endpoint;
        let state = session::load_any(&self.sessions, &ep.server_id).await;
        session::forget(&self.sessions, &ep.server_id).await;
        match state {
            Some(state) => self.end_session(&state).await,
            None => Ok(false),
        }
    }

    /// `DELETE` of a stored Streamable HTTP session, within [`CLOSE_BUDGET_MS`]; only to the
    /// session's URL and only when it has the endpoint's origin.
    async fn end_session(&self, state: &SessionState) -> Result<bool> {
        let ep = &self.wire.endpoint;
        let (TransportKind::StreamableHttp, Some(session_id)) =
            (state.transport, state.session_id.as_ref())
        else {
            return Ok(false);
        };
        if !same_origin(&state.url, &ep.url) {
            return Ok(false);
        }
        let s = Streamable {
            session_id: Some(session_id.clone()),
            protocol_version: state
                .protocol_version
                .clone()
                .unwrap_or_else(|| detect::LATEST_HANDSHAKE_VERSION.into()),
            tool_tasks: state.tool_tasks,
        };
        let delete = Box::pin(s.terminate(&self.wire, &state.url));
        let timer = Box::pin(self.wire.http.sleep_ms(CLOSE_BUDGET_MS));
        let outcome = match select(delete, timer).await {
            Either::Left((outcome, _)) => outcome.map_err(Failure::into_error),
            Either::Right(..) => Err(McpError::Timeout(format!(
                "ending the session (DELETE): the server did not answer within {CLOSE_BUDGET_MS} ms"
            ))),
        };
        outcome
    }

    async fn list_on(&self, conn: &mut Conn) -> Result<Vec<ToolDef>, Failure> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_TOOL_PAGES {
            let params = match &cursor {
                Some(c) => json!({ "cursor": c }),
                None => json!({}),
            };
            let result = conn.request(&self.wire, "tools/list", params).await?;
            let (mut tools, next) = tools::parse_page(&result)
                .map_err(|m| Failure::upstream(format!("tools/list: {m}")))?;
            all.append(&mut tools);
            match next {
                None => return Ok(all),
                Some(next) if cursor.as_ref() == Some(&next) => {
                    return Err(Failure::upstream(
                        "tools/list: the server answered the same nextCursor twice",
                    ))
                }
                Some(next) => cursor = Some(next),
            }
        }
        Err(Failure::upstream(format!(
            "tools/list: the server has more than {MAX_TOOL_PAGES} pages of tools"
        )))
    }

    /// Runs `op` on a connection; if the session turns out to be lost, once more on a fresh one.
    async fn run<T>(&self, mut op: impl AsyncFnMut(&mut Conn) -> Result<T, Failure>) -> Result<T> {
        self.run_attempt(&mut op).await.map_err(Failure::into_error)
    }

    /// One attempt of [`Self::run`], keeping the [`Failure`] for the retry policy.
    async fn run_attempt<T>(
        &self,
        op: &mut impl AsyncFnMut(&mut Conn) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        let (mut conn, cached) = self.open().await?;
        let failure = match op(&mut conn).await {
            Ok(v) => return Ok(v),
            Err(f) => f,
        };
        let recover = match (&conn, &failure) {
            (_, Failure::SessionLost { .. }) => true,
            // A cached 2026-07-28 verdict no longer holds (the server was replaced by one of
            // the handshake era, which refuses the request as a whole).
            (Conn::Stateless, f)
                if cached && self.wire.endpoint.transport == TransportPin::Auto =>
            {
                detect::modern_refused(f)
            }
            _ => false,
        };
        if !recover {
            return Err(failure);
        }
        session::forget(&self.sessions, &self.wire.endpoint.server_id).await;
        let mut conn = match conn {
            Conn::Streamable(_) => {
                let fresh = Streamable::initialize(&self.wire).await?;
                let conn = Conn::Streamable(fresh);
                self.remember(&conn).await;
                conn
            }
            _ => self.establish().await?,
        };
        op(&mut conn).await
    }

    /// A connection from the cached state when it fits the pin, else a newly established one.
    /// The flag says whether it came from the cache.
    async fn open(&self) -> Result<(Conn, bool), Failure> {
        let ep = &self.wire.endpoint;
        if let Some(state) = session::load_any(&self.sessions, &ep.server_id).await {
            if state.url != ep.url || !pin_allows(ep.transport, state.transport) {
                // Replaced by what `establish` makes below; end it while it is still valid.
                let _ = self.end_session(&state).await;
                session::forget(&self.sessions, &ep.server_id).await;
            } else {
                match state.transport {
                    TransportKind::StreamableHttp => {
                        let s = Streamable {
                            session_id: state.session_id,
                            protocol_version: state
                                .protocol_version
                                .unwrap_or_else(|| detect::LATEST_HANDSHAKE_VERSION.into()),
                            tool_tasks: state.tool_tasks,
                        };
                        return Ok((Conn::Streamable(s), true));
                    }
                    TransportKind::Stateless => return Ok((Conn::Stateless, true)),
                    TransportKind::Sse => match LegacySse::connect(&self.wire).await {
                        Ok(c) => return Ok((Conn::Legacy(Box::new(c)), true)),
                        // The URL stopped being an SSE endpoint: detect again.
                        Err(Failure::Status { .. }) if ep.transport == TransportPin::Auto => {
                            session::forget(&self.sessions, &ep.server_id).await;
                        }
                        Err(f) => return Err(f),
                    },
                }
            }
        }
        Ok((self.establish().await?, false))
    }

    /// Connects as the pin says (detecting with `Auto`) and stores the session state.
    async fn establish(&self) -> Result<Conn, Failure> {
        let conn = match self.wire.endpoint.transport {
            TransportPin::Auto => self.detect().await?,
            TransportPin::StreamableHttp => {
                Conn::Streamable(Streamable::initialize(&self.wire).await?)
            }
            TransportPin::Sse => Conn::Legacy(Box::new(LegacySse::connect(&self.wire).await?)),
            TransportPin::Stateless => Conn::Stateless,
        };
        self.remember(&conn).await;
        Ok(conn)
    }

    /// Newest first: `server/discover`, then `initialize`, then the legacy SSE stream.
    async fn detect(&self) -> Result<Conn, Failure> {
        let discovered = stateless::discover(&self.wire).await;
        match detect::after_discover(&discovered) {
            DiscoverVerdict::Modern => return Ok(Conn::Stateless),
            DiscoverVerdict::Incompatible(m) => return Err(Failure::upstream(m)),
            DiscoverVerdict::GiveUp => {
                return Err(discovered.err().unwrap_or_else(|| {
                    Failure::Fatal(McpError::Internal(
                        "discover verdict without a failure".into(),
                    ))
                }))
            }
            DiscoverVerdict::Legacy => {}
        }
        match Streamable::initialize(&self.wire).await {
            Ok(s) => Ok(Conn::Streamable(s)),
            Err(f) if detect::initialize_means_legacy_sse(&f) => {
                match LegacySse::connect(&self.wire).await {
                    Ok(c) => Ok(Conn::Legacy(Box::new(c))),
                    Err(g) => Err(Failure::upstream(format!(
                        "no MCP server found at this URL: POST initialize answered HTTP {}, and the legacy SSE attempt failed: {}",
                        f.status().unwrap_or_default(),
                        g.into_error()
                    ))),
                }
            }
            Err(f) => Err(f),
        }
    }

    async fn remember(&self, conn: &Conn) {
        let ep = &self.wire.endpoint;
        let (session_id, protocol_version, tool_tasks) = match conn {
            Conn::Streamable(s) => (
                s.session_id.clone(),
                s.protocol_version.clone(),
                s.tool_tasks,
            ),
            Conn::Stateless => (None, detect::MODERN_VERSION.to_string(), false),
            Conn::Legacy(l) => (None, l.protocol_version.clone(), false),
        };
        let state = SessionState {
            transport: conn.kind(),
            session_id,
            protocol_version: Some(protocol_version),
            url: ep.url.clone(),
            tool_tasks,
        };
        session::store(&self.sessions, &ep.server_id, &state).await;
    }

    /// Races `op` against the clock; on expiry cancels what is in flight.
    async fn bounded<T>(
        &self,
        what: &str,
        timeout_ms: u64,
        op: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        self.wire.set_in_flight(None);
        let op = Box::pin(op);
        let timer = Box::pin(self.wire.http.sleep_ms(timeout_ms));
        match select(op, timer).await {
            Either::Left((result, _)) => {
                self.wire.set_in_flight(None);
                result
            }
            Either::Right(((), op)) => {
                // Cancel while the op (and a legacy SSE stream with it) is still alive.
                if let Some(in_flight) = self.wire.take_in_flight() {
                    self.cancel(in_flight, "mcp-edge timed out waiting for the reply")
                        .await;
                }
                drop(op);
                Err(McpError::Timeout(format!(
                    "{what}: the server did not answer within {timeout_ms} ms"
                )))
            }
        }
    }

    async fn cancel(&self, in_flight: InFlight, reason: &str) {
        // The spec forbids cancelling `initialize`; 2026-07-28 cancels by closing the stream.
        let CancelRoute::Post { url, headers } = in_flight.route else {
            return;
        };
        if in_flight.method == "initialize" {
            return;
        }
        let body = jsonrpc::notification(
            "notifications/cancelled",
            json!({ "requestId": in_flight.id, "reason": reason }),
        );
        let send = Box::pin(self.wire.send(self.wire.post(&url, &headers, &body)));
        let timer = Box::pin(self.wire.http.sleep_ms(CANCEL_BUDGET_MS));
        let _ = select(send, timer).await;
    }
}

/// Uniform in `[0, 1)`, for retry jitter.
fn jitter() -> f64 {
    // The top 48 bits of a v4 UUID are all random (version and variant bits come later).
    (uuid::Uuid::new_v4().as_u128() >> 80) as f64 / (1u64 << 48) as f64
}

/// Same scheme, host and port.
fn same_origin(a: &str, b: &str) -> bool {
    match (url::Url::parse(a), url::Url::parse(b)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{HttpRequest, HttpResponse};

    /// Refuses every connection; its clock moves only when the client sleeps.
    #[derive(Default)]
    struct Refusing {
        now: Cell<u64>,
        sent: Cell<u32>,
    }

    impl HttpClient for Refusing {
        async fn send(&self, _: HttpRequest) -> Result<HttpResponse> {
            self.sent.set(self.sent.get() + 1);
            Err(McpError::transport("connect(): Connection refused"))
        }
    }

    impl Clock for Refusing {
        fn now_ms(&self) -> u64 {
            self.now.get()
        }
        async fn sleep_ms(&self, ms: u64) {
            self.now.set(self.now.get() + ms);
        }
    }

    fn refused_call(retry: RetryPolicy) -> CallOutcome {
        let http = Refusing::default();
        let endpoint = ServerEndpoint {
            server_id: "srv".into(),
            url: "http://127.0.0.1:9/mcp".into(),
            headers: Vec::new(),
            transport: TransportPin::StreamableHttp,
        };
        let client = McpClient::new(&http, MemorySessions::new(), endpoint);
        let options = CallOptions {
            timeout_ms: 30_000,
            retry,
            ..CallOptions::default()
        };
        let outcome = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(client.call_tool_with("echo", Map::new(), options));
        assert_eq!(http.sent.get(), outcome.attempts, "one request per attempt");
        outcome
    }

    #[test]
    fn a_retried_call_that_fails_says_its_attempts_in_the_typed_error() {
        let outcome = refused_call(RetryPolicy::STANDARD);
        assert_eq!(outcome.attempts, 4);
        let err = outcome.result.unwrap_err();
        let McpError::GaveUp { attempts, last, .. } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(*attempts, 4);
        assert!(matches!(**last, McpError::Unreachable(_)), "{last:?}");
        assert!(
            err.to_string().ends_with(" (gave up after 4 attempts)"),
            "{err}"
        );
        assert!(err.is_connect() && outcome.server_fault);
    }

    #[test]
    fn a_call_tried_once_fails_with_its_own_error() {
        let outcome = refused_call(RetryPolicy::NONE);
        assert_eq!(outcome.attempts, 1);
        let err = outcome.result.unwrap_err();
        assert!(matches!(err, McpError::Unreachable(_)), "{err:?}");
        assert_eq!(err.attempts(), 1);
    }

    #[test]
    fn same_origin_compares_scheme_host_and_port() {
        assert!(same_origin("http://h:1/mcp", "http://h:1/v2/mcp?x=1"));
        assert!(!same_origin("http://h:1/mcp", "http://h:2/mcp"));
        assert!(!same_origin("http://h/mcp", "https://h/mcp"));
        assert!(!same_origin("http://h/mcp", "http://evil/mcp"));
        assert!(!same_origin("not a url", "not a url"));
    }
}
