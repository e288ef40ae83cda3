//! `call_tool`: run one tool on one of the caller's team's servers and record it.
//!
//! Invariants:
//! - Validation (ids, team scope, tool enabled, not held for approval, arguments against the
//!   tool's approved input schema, a usable credential bound to the server's current
//!   destination, confirmation) happens before anything is recorded or sent; a refused call
//!   leaves no execution row.
//! - A tool that requires confirmation runs only with a confirmation token issued for this
//!   user, server, tool and exact arguments, unexpired and never redeemed before; the first
//!   call answers `confirmation_required` (HTTP 200, `success: false`) with that token.
//! - A cacheable tool's successful result is served from KV for a short time (`cached: true`,
//!   the `execution_id` of the call that produced it, no new row); see `crate::result_cache`.
//! - When the team's gate reserved the call's `pending` record (`crate::ledger::reservation`:
//!   admission and the ledger's start in one request to the team's object), the call runs
//!   under that record's id and stores nothing before going upstream (its end completes the
//!   record); a call that never goes upstream (refused, cached, confirmation asked) discards
//!   it, so a refused call still leaves no execution.
//! - Once the `pending` row exists, the call ends with that row in exactly one final state
//!   (`success`, `error`, `timeout`) and the tool's statistics updated, whatever upstream did.
//! - The server's credential values are scrubbed from the result, the error and the stored
//!   input/output, even when the tool echoes them (`crate::redact`).
//! - A server marked `error` by failed health checks is refused at once (no upstream wait), and
//!   so is a server whose circuit breaker is open (`crate::breaker`): 502 `upstream_error`,
//!   `details.circuit_open`, no execution row. Every finished call feeds the breaker.
//! - Transient upstream failures are retried within the tool's timeout (`mcp_client::retry`);
//!   a call whose request may have reached the server is retried only when the tool is
//!   annotated `idempotentHint` or `readOnlyHint`. The row records the final outcome once, with
//!   the attempts in its error text.
//! - `"mode": "async"` (or a tool marked `long_running`) runs the same steps up to the ledger's
//!   record, then hands the call to its own Durable Object and answers `202` at once
//!   ([`run_in_background`], `crate::background`); the synchronous path is unchanged. A stated
//!   `wait_seconds` starts it the same way and answers synchronously if its final event comes
//!   within the wait, else the same `202` (`crate::background::wait`).
//! - A tool that reports `isError` is a completed call: HTTP 200 with `success: false` and the
//!   tool's own result, so the model in the PWA can read what went wrong. Transport failures
//!   and timeouts are 502/504 with the execution id in `details`.

use std::cell::Cell;

use serde_json::{json, Map, Value};

use super::{Ctx, Reply, Upstream};
use crate::api::{ActionRequest, MAX_ID_LEN, MAX_NAME_LEN};
use crate::background;
use crate::background::wait::Plan;
use crate::breaker::Gate;
use crate::cache::{Cache, CacheSessions, Memo, Memoized};
use crate::call_target;
use crate::confirmation::{self, ConfirmationKey, MAX_TOKEN_LEN};
use crate::db::Database;
use crate::error::{Error, Result};
use crate::ledger::{Admit, DirectLedger, End, Ledger, Record, ABANDON_MARGIN_MS};
use crate::repo::executions::Status;
use crate::repo::servers::{ConnectionStatus, Server};
use crate::repo::tools::{ApprovalState, OnToolChange, Tool};
use crate::repo::{confirmations, new_id, tools};
use crate::result_cache;
use crate::schema::validate_arguments;
use crate::time::iso_from_ms;
use crate::upstream::{authorize, Authorized};
use mcp_client::retry::{self, RetryPolicy};
use mcp_client::{CallOptions, McpClient};

/// Stored input/output are capped; the row keeps a marker when a value was cut.
pub const MAX_STORED_INPUT: usize = 64 * 1024;
pub const MAX_STORED_OUTPUT: usize = 256 * 1024;
pub const MAX_STORED_ERROR: usize = 2000;

/// Runs one tool call as its steps: `admit` (may answer at once: confirmation required),
/// `confirm` (a tool that requires confirmation: the circuit breaker's verdict, then the
/// token's redemption), `cached` (a cacheable tool's recent result), `run` (the ledger's
/// `start`, which also asks the breaker when `confirm` did not, then upstream) and `record`
/// (the reply, the record's end, the breaker fed).
pub async fn call_tool<D: Database, C: Cache, H: Upstream>(
    ctx: &Ctx<'_, D, C, H>,
    req: &ActionRequest,
) -> Result<Reply> {
    let s = &ctx.services;
    let direct = DirectLedger {
        db: s.db,
        cache: s.cache,
        team_id: ctx.team(),
        now_ms: s.http.now_ms(),
    };
    let ledger = ctx.ledger.unwrap_or(&direct);
    let taken = Cell::new(false);
    let reply = steps(ctx, req, ledger, &taken).await;
    // A record the gate reserved for a call that never went upstream is dropped (after the
    // reply, where the ledger can): a refused call leaves no execution.
    if let (Some(id), false) = (ledger.reserved(), taken.get()) {
        if let Err(e) = ledger.discard(id).await {
            ctx.log(&format!("discarding the reservation {id} failed: {e}"));
        }
    }
    reply
}

/// [`call_tool`]'s steps; `taken` is set once the ledger holds the call's record as started
/// (the gate's reservation included), so that it is not discarded.
async fn steps<D: Database, C: Cache, H: Upstream>(
    ctx: &Ctx<'_, D, C, H>,
    req: &ActionRequest,
    ledger: &dyn Ledger,
    taken: &Cell<bool>,
) -> Result<Reply> {
    let s = &ctx.services;
    let (clock, t) = (s.http, ctx.timings);
    let mut at = clock.now_precise_ms();
    let admitted = admit(ctx, req).await;
    at = t.lap("config", at, clock.now_precise_ms());
    let call = match admitted? {
        Admission::Admitted(call) => call,
        Admission::Answered(reply) => return Ok(reply),
    };
    // Refused before a confirmation token is used up.
    let plan = background::wait::plan_of(req, call.tool.long_running)?;
    let ask_watchers = req.optional_bool("ask_watchers")?.unwrap_or(false);
    // A reservation means the gate found the breaker closed and stored the record already.
    let reserved = ledger.reserved().is_some();
    let ask = if call.needs_redemption() {
        let confirmed = confirm(ctx, &call, ledger).await;
        at = t.lap("breaker", at, clock.now_precise_ms());
        if let Some(refusal) = confirmed? {
            return Ok(refusal);
        }
        if reserved {
            Admit::Reserved
        } else {
            Admit::Admitted
        }
    } else if reserved {
        Admit::Reserved
    } else {
        Admit::AskBreaker
    };
    let background_plan = match plan {
        Plan::Sync => None,
        Plan::Async => Some(None),
        Plan::Wait(seconds) => Some(Some(seconds)),
    };
    if let Some(wait) = background_plan {
        return run_in_background(ctx, &call, ledger, ask, wait, ask_watchers, taken).await;
    }
    let cache_key = call.cache_key(ctx.team());
    if let Some(hit) = cached(ctx, &call, &cache_key).await {
        t.lap("cache", at, clock.now_precise_ms());
        return Ok(hit);
    }
    let ran = match run(ctx, &call, ledger, ask, taken).await? {
        Started::Ran(ran) => ran,
        Started::Refused(refusal) => return Ok(refusal),
    };
    at = clock.now_precise_ms();
    let reply = record(ctx, &call, &cache_key, ledger, *ran).await;
    t.lap("finish", at, clock.now_precise_ms());
    reply
}

/// A call that passed [`admit`]: everything the later steps need.
struct Admitted<'r> {
    tool_name: &'r str,
    /// The `parameters` object (empty when absent), valid against the tool's schema.
    arguments: Value,
    confirmation_token: Option<&'r str>,
    server: Server,
    tool: Tool,
    /// The server's endpoint with its credential, and the redactor of its values.
    upstream: Authorized,
    timeout_ms: u64,
}

impl Admitted<'_> {
    fn subject<'s>(&'s self, user_id: &'s str, team_id: &'s str) -> confirmation::Subject<'s> {
        confirmation::Subject {
            user_id,
            team_id,
            server_id: &self.server.id,
            tool_name: self.tool_name,
            arguments: &self.arguments,
        }
    }

    /// A tool that requires confirmation, called with a token: redeemed before it runs.
    fn needs_redemption(&self) -> bool {
        self.tool.requires_confirmation && self.confirmation_token.is_some()
    }

    fn cache_key<'s>(&'s self, team_id: &'s str) -> result_cache::CallKey<'s> {
        result_cache::CallKey {
            team_id,
            server_id: &self.server.id,
            server_config: &self.server.config,
            tool_name: self.tool_name,
            tool_synced_at: self.tool.synced_at.as_deref(),
            arguments: &self.arguments,
            credential_scope: self.upstream.credential.as_ref().map(|c| c.scope.as_str()),
        }
    }
}

enum Admission<'r> {
    Admitted(Box<Admitted<'r>>),
    /// Answered without running: a tool that requires confirmation, called without a token.
    Answered(Reply),
}

/// The checks before anything is recorded or sent: the request's fields, the server (in the
/// caller's team, active, not marked `error`), the tool (enabled, not held for approval),
/// the arguments against the tool's schema, a usable credential bound to the server's
/// current destination, and, for a tool that requires confirmation, a token presented (none:
/// the answer is a new one). Every refusal is an error and leaves no row.
async fn admit<'r, D: Database, C: Cache, H: Upstream>(
    ctx: &Ctx<'_, D, C, H>,
    req: &'r ActionRequest,
) -> Result<Admission<'r>> {
    let s = &ctx.services;
    let server_id = req.required_str("server_id", MAX_ID_LEN)?;
    let tool_name = req.required_str("tool_name", MAX_NAME_LEN)?;
    let arguments = Value::Object(
        req.optional_object("parameters")?
            .cloned()
            .unwrap_or_default(),
    );
    let confirmation_token = req.optional_str("confirmation_token", MAX_TOKEN_LEN)?;

    let target = call_target::read(
        s.db,
        ctx.targets,
        ctx.team(),
        server_id,
        tool_name,
        s.http.now_ms(),
    )
    .await?;
    let server = target.server;
    if !server.is_active {
        return Err(Error::Conflict(format!(
            "server '{}' is deactivated; an admin can reactivate it with update_server",
            server.name
        )));
    }
    if server.connection_status == ConnectionStatus::Error {
        return Err(Error::Upstream(format!(
            "server '{}' is unavailable: its last {} checks failed ({}); calls resume as soon as a health check succeeds",
            server.name,
            server.consecutive_failures,
            server.last_error.as_deref().unwrap_or("no detail")
        )));
    }
    let tool = target
        .tool
        .ok_or_else(|| tools::not_found(server_id, tool_name))?;
    if !tool.is_enabled {
        return Err(Error::Authorization(format!(
            "tool '{tool_name}' is disabled by your team's admin"
        )));
    }
    // A changed definition is served as previously approved; teams that `disable` changed
    // tools refuse them until an admin approves.
    if tool.approval_state == ApprovalState::PendingApproval
        && target.on_tool_change == OnToolChange::Disable
    {
        return Err(Error::Conflict(format!(
            "tool '{tool_name}' of server '{}' changed its definition since it was approved; \
             your team holds changed tools until an admin approves the new definition with \
             approve_tool",
            server.name
        )));
    }
    if let Some(schema) = &tool.input_schema {
        validate_arguments(schema, &arguments)?;
    }
    let upstream = authorize(s, &server, target.credential)?;
    let timeout_ms = (tool.timeout_seconds.max(1) as u64) * 1000;
    let call = Admitted {
        tool_name,
        arguments,
        confirmation_token,
        server,
        tool,
        upstream,
        timeout_ms,
    };
    if call.tool.requires_confirmation && call.confirmation_token.is_none() {
        let subject = call.subject(&ctx.identity.user_id, ctx.team());
        return confirmation_required(ctx, &subject).map(Admission::Answered);
    }
    Ok(Admission::Admitted(Box::new(call)))
}

/// For a call that redeems a confirmation: the circuit breaker's verdict unless the gate
/// reserved the record (an open one answers at once: nothing recorded or sent), then the token
/// redeemed, in that order: a refused call
/// must not use the token up.
async fn confirm<D: Database, C: Cache, H: Upstream>(
    ctx: &Ctx<'_, D, C, H>,
    call: &Admitted<'_>,
    ledger: &dyn Ledger,
) -> Result<Option<Reply>> {
    // A reservation says the breaker was closed when the gate admitted the call.
    if ledger.reserved().is_none() {
        let gate = ledger.admit(&call.server.id, call.timeout_ms).await?;
        if let Some(refusal) = refusal(ctx, call, gate) {
            return Ok(Some(refusal));
        }
    }
    if let Some(token) = call.confirmation_token {
        let subject = call.subject(&ctx.identity.user_id, ctx.team());
        redeem_confirmation(ctx, &subject, token).await?;
    }
    Ok(None)
}

/// The answer to a breaker's refusal (`None`: the call may go; a probe is logged).
fn refusal<D, C, H>(ctx: &Ctx<'_, D, C, H>, call: &Admitted<'_>, gate: Gate) -> Option<Reply> {
    match gate {
        Gate::Allow => None,
        Gate::Probe => {
            ctx.log(&format!(
                "circuit breaker of server {} is half-open: this call is the probe",
                call.server.id
            ));
            None
        }
        Gate::Reject {
            retry_in_ms,
            failures,
            last_error,
        } => Some(circuit_open(
            ctx,
            &call.server.name,
            retry_in_ms,
            failures,
            last_error,
        )),
    }
}

/// A cacheable tool's recent successful result for the same call, if KV has one: answered
/// with `cached: true` and the producing call's `execution_id`, no new row.
async fn cached<D, C: Cache, H>(
    ctx: &Ctx<'_, D, C, H>,
    call: &Admitted<'_>,
    cache_key: &result_cache::CallKey<'_>,
) -> Option<Reply> {
    if !call.tool.cacheable {
        return None;
    }
    let hit = result_cache::get(ctx.services.cache, cache_key).await?;
    Some(Reply::ok(json!({
        "success": true,
        "result": hit.result,
        "duration_ms": hit.duration_ms,
        "execution_id": hit.execution_id,
        "cached": true,
    })))
}

/// What [`run`] did: refused by the breaker (nothing stored, nothing sent), or ran.
enum Started {
    Refused(Reply),
    Ran(Box<Ran>),
}

/// What [`run`] did upstream.
struct Ran {
    /// What the ledger took at the start (the execution's id is `record.id`).
    record: Record,
    started_ms: u64,
    ended_ms: u64,
    /// The tool's result (redacted) or the transport failure.
    outcome: Result<Value>,
    attempts: u32,
    /// The failure says the server is unwell (for the breaker).
    server_fault: bool,
}

/// The ledger's `start` (the breaker's verdict when `ask` says so; then the record, with the
/// redacted, capped input and the credential it carries), then the upstream call, retried on
/// transient failures within the tool's timeout (only idempotent or read-only tools once the
/// request may have reached the server). Only a failure to store the record is an error here;
/// from then on [`record`] must end it.
async fn run<D: Database, C: Cache, H: Upstream>(
    ctx: &Ctx<'_, D, C, H>,
    call: &Admitted<'_>,
    ledger: &dyn Ledger,
    ask: Admit,
    taken: &Cell<bool>,
) -> Result<Started> {
    let s = &ctx.services;
    let start_at = s.http.now_precise_ms();
    let (server, tool, tool_name) = (&call.server, &call.tool, call.tool_name);
    let redactor = &call.upstream.redactor;

    let record = new_record(ctx, call, ledger, call.timeout_ms);
    let started_ms = record.started_ms;
    // With a reservation ([`Admit::Reserved`]) the record is durable already: no trip.
    let gate = ledger.start(&record, ask, call.timeout_ms).await?;
    if let Some(refused) = refusal(ctx, call, gate) {
        return Ok(Started::Refused(refused));
    }
    taken.set(true);

    let upstream_at = ctx.timings.lap("start", start_at, s.http.now_precise_ms());
    // The session id from the isolate's memory when it has it, else KV (a memo that
    // remembers nothing when the worker gives none).
    let no_memo = Memo::new(0);
    let sessions = Memoized {
        cache: s.cache,
        memo: ctx.sessions.unwrap_or(&no_memo),
        now_ms: s.http.now_ms(),
    };
    let client = McpClient::new(
        s.http,
        CacheSessions(&sessions),
        call.upstream.endpoint.clone(),
    );
    let options = CallOptions {
        input_schema: tool.input_schema.as_ref(),
        timeout_ms: call.timeout_ms,
        idempotent: retry::idempotent_from_annotations(tool.annotations.as_ref()),
        retry: RetryPolicy::STANDARD,
    };
    let arguments = call.arguments.as_object().cloned().unwrap_or_default();
    let called = client.call_tool_with(tool_name, arguments, options).await;
    ctx.timings
        .lap("upstream", upstream_at, s.http.now_precise_ms());
    if called.attempts > 1 {
        ctx.log(&format!(
            "call_tool {tool_name} on server {}: {} attempts",
            server.id, called.attempts
        ));
    }
    let outcome = called
        .result
        .map(|result| redactor.value(result))
        .map_err(Error::from);
    Ok(Started::Ran(Box::new(Ran {
        record,
        started_ms,
        ended_ms: s.http.now_ms(),
        outcome,
        attempts: called.attempts,
        server_fault: called.server_fault,
    })))
}

/// The ledger's record of a call about to start, with `timeout_ms` as its budget (the record
/// is abandoned that long plus a margin after it starts); under the id of the record the gate
/// reserved, if it did (this record completes it).
fn new_record<D, C, H: Upstream>(
    ctx: &Ctx<'_, D, C, H>,
    call: &Admitted<'_>,
    ledger: &dyn Ledger,
    timeout_ms: u64,
) -> Record {
    let started_ms = ctx.services.http.now_ms();
    Record {
        id: ledger.reserved().map_or_else(new_id, str::to_string),
        team_id: ctx.team().to_string(),
        user_id: ctx.identity.user_id.clone(),
        server_id: call.server.id.clone(),
        server_name: call.server.name.clone(),
        tool_id: call.tool.id.clone(),
        tool_name: call.tool_name.to_string(),
        request_id: ctx.request_id.to_string(),
        input: capped_json(
            &call.upstream.redactor.value(call.arguments.clone()),
            MAX_STORED_INPUT,
        ),
        started_ms,
        deadline_ms: started_ms + timeout_ms + ABANDON_MARGIN_MS,
        credential_id: call.upstream.credential.as_ref().map(|c| c.id.clone()),
    }
}

/// `"mode": "async"`: the record taken by the team's ledger (counted against the team's cap
/// of running background executions; the breaker asked as in [`run`]), then the prepared call
/// handed to its execution's object (`crate::background`), and `202` with the execution id.
/// Nothing is cached. If the object never takes the call, the record ends as `error` at once.
/// With a stated wait (`wait_seconds`), the object is then asked for the final event for up
/// to that long: arrived, the synchronous answer (`background::wait`); not, the same `202`.
async fn run_in_background<D, C, H: Upstream>(
    ctx: &Ctx<'_, D, C, H>,
    call: &Admitted<'_>,
    ledger: &dyn Ledger,
    ask: Admit,
    wait_seconds: Option<u64>,
    ask_watchers: bool,
    taken: &Cell<bool>,
) -> Result<Reply> {
    let s = &ctx.services;
    let background = ctx.background.ok_or_else(|| {
        Error::Conflict(
            "background executions are not available here (the call_tool worker has no EXECUTION binding); call without \"mode\": \"async\"".into(),
        )
    })?;
    let timeout_ms = call
        .tool
        .async_timeout_seconds
        .map(|t| t.clamp(1, background::MAX_ASYNC_TIMEOUT_SECS as i64) as u64 * 1000)
        .unwrap_or(call.timeout_ms);
    let record = new_record(ctx, call, ledger, timeout_ms);
    let cap = s.settings.max_running_executions;
    // A reservation is completed by this start (or dropped by it when the team is full).
    let gate = ledger
        .start_background(&record, ask, timeout_ms, cap)
        .await?;
    if let Some(refused) = refusal(ctx, call, gate) {
        return Ok(refused);
    }
    taken.set(true);
    let endpoint = &call.upstream.endpoint;
    let handoff = background::Handoff {
        record: record.clone(),
        url: endpoint.url.clone(),
        headers: endpoint.headers.clone(),
        transport: endpoint.transport,
        arguments: call.arguments.as_object().cloned().unwrap_or_default(),
        input_schema: call.tool.input_schema.clone(),
        idempotent: retry::idempotent_from_annotations(call.tool.annotations.as_ref()),
        timeout_ms,
        secrets: call.upstream.secrets.clone(),
        ask_watchers,
    };
    if let Err(err) = background.start(&handoff).await {
        let now_ms = s.http.now_ms();
        let end = End {
            id: record.id.clone(),
            tool_id: record.tool_id.clone(),
            status: Status::Error,
            output: None,
            error: Some(format!(
                "the background execution could not be started: {}",
                err.public_message()
            )),
            duration_ms: now_ms.saturating_sub(record.started_ms),
            ended_ms: now_ms,
        };
        if let Err(e) = ledger.finish(&record, &end, None).await {
            ctx.log(&format!("ending execution {} failed: {e}", record.id));
        }
        return Err(err);
    }
    if let Some(seconds) = wait_seconds {
        match background
            .wait(&record.id, ctx.identity, seconds * 1000)
            .await
        {
            Ok(Some(event)) => {
                return Ok(background::wait::reply_of_final(
                    &record.id,
                    &event,
                    ctx.request_id,
                ))
            }
            Ok(None) => {}
            // The call goes on regardless: the caller follows it like an async one.
            Err(e) => ctx.log(&format!("waiting for execution {} failed: {e}", record.id)),
        }
    }
    Ok(Reply {
        status: 202,
        body: json!({
            "success": true,
            "execution_id": record.id,
            "status": "running",
            "mode": background::Mode::Async,
            "timeout_seconds": timeout_ms / 1000,
            "watch": background::watch_hint(&record.id),
        }),
    })
}

/// The call's end, whatever upstream did: the reply (see [`answer`]), the record's final
/// state (one retry if the ledger fails), with which the ledger feeds the server's breaker.
async fn record<D: Database, C: Cache, H: Upstream>(
    ctx: &Ctx<'_, D, C, H>,
    call: &Admitted<'_>,
    cache_key: &result_cache::CallKey<'_>,
    ledger: &dyn Ledger,
    ran: Ran,
) -> Result<Reply> {
    let execution_id = &ran.record.id;
    let duration_ms = ran.ended_ms.saturating_sub(ran.started_ms);
    let (status, output, error_text, reply) = answer(ctx, call, cache_key, &ran, duration_ms).await;

    let end = End {
        id: execution_id.clone(),
        tool_id: call.tool.id.clone(),
        status,
        output,
        error: error_text.clone(),
        duration_ms,
        ended_ms: ran.ended_ms,
    };
    let fault = error_text.as_deref().filter(|_| ran.server_fault);
    let mut recorded = ledger.finish(&ran.record, &end, fault).await;
    if let Err(first) = &recorded {
        // One retry: losing the final state of a call that happened is worse than a slow reply.
        ctx.log(&format!(
            "recording execution {execution_id} failed, retrying: {first}"
        ));
        recorded = ledger.finish(&ran.record, &end, fault).await;
    }
    recorded?;
    Ok(reply)
}

/// The reply to a call that ran, with what its row stores (status, capped output, error
/// text). A result, even one with `isError`, is HTTP 200 (a successful one of a cacheable
/// tool is cached); a transport failure or timeout is the error contract with the execution
/// id, duration and attempts in `details`, redacted.
async fn answer<D, C: Cache, H>(
    ctx: &Ctx<'_, D, C, H>,
    call: &Admitted<'_>,
    cache_key: &result_cache::CallKey<'_>,
    ran: &Ran,
    duration_ms: u64,
) -> (Status, Option<String>, Option<String>, Reply) {
    let (tool_name, redactor) = (call.tool_name, &call.upstream.redactor);
    let execution_id = &ran.record.id;
    match &ran.outcome {
        Ok(result) => {
            let is_error = result.get("isError").and_then(Value::as_bool) == Some(true);
            let output = capped_json(result, MAX_STORED_OUTPUT);
            if call.tool.cacheable && !is_error {
                let entry = result_cache::CachedResult {
                    result: result.clone(),
                    execution_id: execution_id.clone(),
                    duration_ms,
                };
                if let Err(e) = result_cache::put(ctx.services.cache, cache_key, &entry).await {
                    ctx.log(&format!("caching the result of {tool_name} failed: {e}"));
                }
            }
            let mut reply = Reply::ok(json!({
                "success": !is_error,
                "result": result,
                "duration_ms": duration_ms,
                "execution_id": execution_id,
                "cached": false,
            }));
            if is_error {
                let text = error_text_of(result);
                // Every `success: false` says why in `error` (the seed client shows that text).
                reply.body["error"] = Value::String(text.clone());
                (Status::Error, Some(output), Some(text), reply)
            } else {
                (Status::Success, Some(output), None, reply)
            }
        }
        Err(err) => {
            // Upstream text may quote the credential (also encoded): redacted before logging.
            ctx.log(&redactor.text(&format!(
                "call_tool {tool_name} on server {} failed: {err}",
                call.server.id
            )));
            let status = if matches!(err, Error::Timeout(_)) {
                Status::Timeout
            } else {
                Status::Error
            };
            let mut extra = Map::new();
            extra.insert("execution_id".into(), execution_id.clone().into());
            extra.insert("duration_ms".into(), duration_ms.into());
            extra.insert("attempts".into(), ran.attempts.into());
            let mut reply = Reply::error(err, ctx.request_id, extra);
            reply.body = redactor.value(reply.body);
            (
                status,
                None,
                Some(truncate(
                    &redactor.text(&err.public_message()),
                    MAX_STORED_ERROR,
                )),
                reply,
            )
        }
    }
}

/// The fast refusal of an open circuit breaker: nothing recorded, nothing sent.
fn circuit_open<D, C, H>(
    ctx: &Ctx<'_, D, C, H>,
    server_name: &str,
    retry_in_ms: u64,
    failures: u32,
    last_error: Option<String>,
) -> Reply {
    let retry_after_secs = retry_in_ms.div_ceil(1000).max(1);
    let err = Error::Upstream(format!(
        "server '{server_name}' is failing: its last {failures} calls failed (last: {}); mcp-edge is not calling it for about {retry_after_secs} s, then lets one call through to test it (a successful health check also ends the pause)",
        last_error.as_deref().unwrap_or("no detail")
    ));
    let mut extra = Map::new();
    extra.insert("circuit_open".into(), true.into());
    extra.insert("retry_after_secs".into(), retry_after_secs.into());
    Reply::error(&err, ctx.request_id, extra)
}

/// The first answer to a call that needs confirmation: a token bound to this exact call, and
/// nothing recorded or sent.
fn confirmation_required<D, C, H: Upstream>(
    ctx: &Ctx<'_, D, C, H>,
    subject: &confirmation::Subject<'_>,
) -> Result<Reply> {
    let key = confirmation_key(ctx)?;
    let token = confirmation::issue(key, subject, &new_id(), ctx.services.http.now_ms());
    let message = format!(
        "tool '{}' requires confirmation: repeat the call with this confirmation_token to run it",
        subject.tool_name
    );
    Ok(Reply::ok(json!({
        "success": false,
        "confirmation_required": true,
        "confirmation_token": token.text,
        "expires_at": iso_from_ms(token.expires_ms),
        "server_id": subject.server_id,
        "tool_name": subject.tool_name,
        "parameters": subject.arguments,
        "message": &message,
        "error": &message,
    })))
}

/// Accepts a presented token once: genuine, current, for this call, and not used before.
async fn redeem_confirmation<D: Database, C, H: Upstream>(
    ctx: &Ctx<'_, D, C, H>,
    subject: &confirmation::Subject<'_>,
    text: &str,
) -> Result<()> {
    let now_ms = ctx.services.http.now_ms();
    let token = confirmation::verify(confirmation_key(ctx)?, subject, text, now_ms)?;
    let fresh = confirmations::redeem(
        ctx.services.db,
        confirmations::Redemption {
            token_id: &token.id,
            team_id: subject.team_id,
            user_id: subject.user_id,
            server_id: subject.server_id,
            tool_name: subject.tool_name,
            expires_at: &iso_from_ms(token.expires_ms),
            now: &iso_from_ms(now_ms),
        },
    )
    .await?;
    if !fresh {
        return Err(Error::Conflict(
            "confirmation_token was already used; call again without it to get a new one".into(),
        ));
    }
    Ok(())
}

fn confirmation_key<'a, D, C, H>(ctx: &Ctx<'a, D, C, H>) -> Result<&'a ConfirmationKey> {
    ctx.services
        .settings
        .confirmation_key
        .as_ref()
        .ok_or_else(|| Error::internal("CONFIRMATION_SECRET is not set on the call_tool worker"))
}

/// The text a tool reported with `isError`, for the execution's `error` column.
pub(crate) fn error_text_of(result: &Value) -> String {
    let text: Vec<&str> = result
        .get("content")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|c| c.get("text").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    let joined = if text.is_empty() {
        "tool reported an error".to_string()
    } else {
        text.join("\n")
    };
    truncate(&joined, MAX_STORED_ERROR)
}

pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// JSON text of a value, replaced by a valid JSON marker when it is over the cap.
pub fn capped_json(value: &Value, max: usize) -> String {
    let text = value.to_string();
    if text.len() <= max {
        text
    } else {
        json!({ "truncated": true, "original_bytes": text.len() }).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::testing::{identity, NoNetwork, SqliteDb, TWO_TEAMS};
    use crate::actions::{Services, Settings};
    use crate::breaker::{COOLDOWN_MS, FAILURE_THRESHOLD};
    use crate::cache::MemoryCache;
    use crate::identity::Role;

    async fn call(db: &SqliteDb, cache: &MemoryCache, net: &NoNetwork) -> Reply {
        call_with(db, cache, net, None, "echo").await
    }

    async fn call_with(
        db: &SqliteDb,
        cache: &MemoryCache,
        net: &NoNetwork,
        ledger: Option<&dyn Ledger>,
        tool_name: &str,
    ) -> Reply {
        let settings = Settings {
            allow_private_upstreams: true,
            ..Settings::default()
        };
        let log = |_: &str| {};
        let who = identity("team-a", Role::Member);
        let ctx = Ctx {
            services: Services {
                db,
                cache,
                http: net,
                settings: &settings,
                log: &log,
            },
            identity: &who,
            request_id: "req-test",
            timings: &crate::timing::Timings::new(),
            ledger,
            targets: None,
            sessions: None,
            background: None,
        };
        let req = ActionRequest::parse(
            json!({"action": "call_tool", "server_id": "srv-a", "tool_name": tool_name, "parameters": {"message": "hi"}})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        match call_tool(&ctx, &req).await {
            Ok(reply) => reply,
            Err(e) => Reply::error(&e, "req-test", Map::new()),
        }
    }

    /// The database as the ledger, holding a record the gate reserved (`reserved`), and
    /// saying what call_tool asked of it.
    struct Reserving<'d> {
        direct: DirectLedger<'d, SqliteDb, MemoryCache>,
        reserved: &'static str,
        asked: std::cell::RefCell<Vec<String>>,
    }

    impl Ledger for Reserving<'_> {
        fn start<'a>(
            &'a self,
            record: &'a Record,
            admit: Admit,
            budget_ms: u64,
        ) -> futures::future::LocalBoxFuture<'a, Result<Gate>> {
            self.asked
                .borrow_mut()
                .push(format!("start {} {admit:?}", record.id));
            self.direct.start(record, admit, budget_ms)
        }
        fn admit<'a>(
            &'a self,
            server_id: &'a str,
            budget_ms: u64,
        ) -> futures::future::LocalBoxFuture<'a, Result<Gate>> {
            self.asked.borrow_mut().push("admit".into());
            self.direct.admit(server_id, budget_ms)
        }
        fn finish<'a>(
            &'a self,
            record: &'a Record,
            end: &'a End,
            fault: Option<&'a str>,
        ) -> futures::future::LocalBoxFuture<'a, Result<()>> {
            self.asked
                .borrow_mut()
                .push(format!("finish {} input {}", end.id, record.input));
            self.direct.finish(record, end, fault)
        }
        fn reserved(&self) -> Option<&str> {
            Some(self.reserved)
        }
        fn discard<'a>(&'a self, id: &'a str) -> futures::future::LocalBoxFuture<'a, Result<()>> {
            self.asked.borrow_mut().push(format!("discard {id}"));
            Box::pin(async { Ok(()) })
        }
    }

    fn reserving<'d>(db: &'d SqliteDb, cache: &'d MemoryCache) -> Reserving<'d> {
        Reserving {
            direct: DirectLedger {
                db,
                cache,
                team_id: "team-a",
                now_ms: 0,
            },
            reserved: "exec-reserved",
            asked: Default::default(),
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_reserved_call_runs_under_the_gates_record_without_asking_the_breaker_again() {
        let db = SqliteDb::migrated();
        db.exec(TWO_TEAMS);
        let (cache, net) = (MemoryCache::new(), NoNetwork::default());
        net.now.set(1_795_292_256_000);
        let ledger = reserving(&db, &cache);
        let reply = call_with(&db, &cache, &net, Some(&ledger), "echo").await;
        // It went upstream (the test network refuses) under the reserved id.
        assert_eq!(reply.status, 502, "{}", reply.body);
        assert_eq!(reply.body["details"]["execution_id"], "exec-reserved");
        assert!(net.attempts.get() > 0, "it went upstream");
        assert_eq!(
            *ledger.asked.borrow(),
            vec![
                "start exec-reserved Reserved".to_string(),
                // The end carries the completed record: redacted input included.
                r#"finish exec-reserved input {"message":"hi"}"#.to_string(),
            ],
            "no breaker asked, nothing discarded"
        );
        assert_eq!(
            db.scalar("SELECT status FROM mcp_tool_executions WHERE id = 'exec-reserved'"),
            json!("error")
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_reserved_call_refused_after_the_gate_discards_its_record_and_sends_nothing() {
        let db = SqliteDb::migrated();
        db.exec(TWO_TEAMS);
        let (cache, net) = (MemoryCache::new(), NoNetwork::default());
        net.now.set(1_795_292_256_000);
        for (tool, status) in [("secret", 403), ("no-such-tool", 404)] {
            let ledger = reserving(&db, &cache);
            let reply = call_with(&db, &cache, &net, Some(&ledger), tool).await;
            assert_eq!(reply.status, status, "{tool}: {}", reply.body);
            assert_eq!(
                *ledger.asked.borrow(),
                vec!["discard exec-reserved".to_string()],
                "{tool}: only the discard"
            );
        }
        assert_eq!(net.attempts.get(), 0, "nothing sent");
        assert_eq!(
            db.scalar("SELECT count(*) FROM mcp_tool_executions"),
            json!(0)
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_dead_server_opens_the_breaker_which_answers_fast_then_probes_once() {
        let db = SqliteDb::migrated();
        db.exec(TWO_TEAMS);
        let (cache, net) = (MemoryCache::new(), NoNetwork::default());
        net.now.set(1_795_292_256_000);
        let rows = || db.scalar("SELECT count(*) FROM mcp_tool_executions");

        for n in 1..=FAILURE_THRESHOLD {
            let reply = call(&db, &cache, &net).await;
            assert_eq!(reply.status, 502, "{}", reply.body);
            let message = reply.body["message"].as_str().unwrap();
            // Nothing was sent (the connection failed before initialize), so every call is
            // retried, within its budget, whatever the tool's annotations.
            assert!(message.contains("gave up after 4 attempts"), "{message}");
            assert_eq!(reply.body["details"]["attempts"], 4);
            assert_eq!(rows(), json!(n));
        }
        let sent = net.attempts.get();
        let refused = call(&db, &cache, &net).await;
        assert_eq!(refused.status, 502);
        assert_eq!(refused.body["code"], "upstream_error");
        assert_eq!(refused.body["details"]["circuit_open"], true);
        let message = refused.body["message"].as_str().unwrap();
        assert!(
            message.contains("is failing") && message.contains("test network refuses"),
            "{message}"
        );
        assert_eq!(net.attempts.get(), sent, "nothing sent");
        assert_eq!(
            rows(),
            json!(FAILURE_THRESHOLD),
            "no execution row for a refusal"
        );

        // After the cool-down one call goes through (one more row), fails, and re-opens it.
        net.now.set(net.now.get() + COOLDOWN_MS);
        let probe = call(&db, &cache, &net).await;
        assert!(
            probe.body["details"]["execution_id"].is_string(),
            "{}",
            probe.body
        );
        assert_eq!(rows(), json!(FAILURE_THRESHOLD + 1));
        let again = call(&db, &cache, &net).await;
        assert_eq!(
            again.body["details"]["circuit_open"], true,
            "{}",
            again.body
        );
        assert_eq!(
            db.scalar("SELECT count(*) FROM mcp_tool_executions WHERE status = 'error' AND duration_ms IS NOT NULL"),
            json!(FAILURE_THRESHOLD + 1),
            "every started call is final"
        );

        // A successful health check closes it: calls go upstream again.
        assert!(crate::breaker::close(&cache, "team-a", "srv-a").await);
        let reopened = call(&db, &cache, &net).await;
        assert!(reopened.body["details"]["execution_id"].is_string());
    }

    #[test]
    fn oversized_values_become_a_valid_marker() {
        let big = json!({ "s": "x".repeat(100) });
        let stored: Value = serde_json::from_str(&capped_json(&big, 50)).unwrap();
        assert_eq!(stored["truncated"], true);
        assert_eq!(capped_json(&json!({"a": 1}), 50), r#"{"a":1}"#);
    }

    #[test]
    fn error_text_joins_text_content_and_truncates_on_char_boundaries() {
        let r = json!({"isError": true, "content": [{"type": "text", "text": "bad"}, {"type": "image"}, {"type": "text", "text": "worse"}]});
        assert_eq!(error_text_of(&r), "bad\nworse");
        assert_eq!(
            error_text_of(&json!({"isError": true})),
            "tool reported an error"
        );
        assert_eq!(truncate("ééé", 3), "é…");
    }
}
