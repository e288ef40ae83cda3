//! What every action worker does around its action: check the gateway's signature over the
//! envelope's exact bytes, decode the envelope, build the services from the bindings, run the
//! action, and answer the reply or the error contract. A worker crate is then one
//! `#[event(fetch)]` calling [`serve`] with its action.
//!
//! Invariants:
//! - Nothing of the body is decoded before its signature is verified (`crate::internal`); an
//!   unsigned, forged or stale envelope is a 401 `auth_error`, a missing or short
//!   `INTERNAL_SIGNING_KEY` a 500 `internal_error`; neither runs the action.
//! - The request is decoded once, straight from the signed bytes (`shared::internal::Received`
//!   keeps it as the body's slice; `ActionRequest::parse` builds it): what the action trusts is
//!   what the MAC covered, with the same validation the gateway applied.
//! - Every action that ran writes exactly one structured line (`shared::action_log`:
//!   OpenTelemetry names, the request and trace ids, never a secret), and its upstream requests
//!   carry the envelope's `traceparent`.
//! - The shell's own work is the `shell` stage of the action's `Server-Timing` (relayed by the
//!   gateway as `a-shell`): from the moment the envelope's bytes have arrived (reading them is
//!   the hop's) to the action's start (checking the signature, decoding, building the services),
//!   plus, after the action, its log line and serialising its reply. It is CPU work: on
//!   Cloudflare, where the clock advances only across I/O, it reads 0; under `wrangler dev` the
//!   clock runs (in whole milliseconds: take means over many calls).

use serde_json::Map;
use worker::{Context, Env, Request, Response};

use shared::action_log::{self, ActionOutcome};
use shared::actions::{Ctx, Reply, Services};
use shared::api::ActionRequest;
use shared::cache::{Memo, SESSION_MEMO_MS};
use shared::call_target::{TargetCache, Versioned};
use shared::error::{Error, Result};
use shared::gateway::read_body;
use shared::internal::{Received, SigningKey, MAX_ENVELOPE_BYTES, SIGNATURE_HEADER};
use shared::ledger::Ledger;
use shared::timing::{self, Timings};
use shared::trace::TraceContext;

use crate::bindings::Bindings;
use crate::d1::D1Store;
use crate::fetch::FetchHttp;
use crate::kv::KvCache;
use crate::ledger::TeamLedger;
use crate::log::{log, log_with};

/// The concrete context an action runs with inside a worker.
pub type WorkerCtx<'a> = Ctx<'a, D1Store, KvCache, FetchHttp>;

/// What an action answers: a JSON reply, or a response of its own (an event stream).
pub enum Answer {
    Reply(Reply),
    Response(Response),
}

/// Serves one envelope with `action`. Never fails: every outcome is a response.
pub async fn serve<F>(
    worker_name: &'static str,
    req: Request,
    env: Env,
    context: &Context,
    action: F,
) -> worker::Result<Response>
where
    F: AsyncFn(&WorkerCtx<'_>, &ActionRequest) -> Result<Reply>,
{
    serve_answer(worker_name, req, env, context, async |ctx, request| {
        action(ctx, request).await.map(Answer::Reply)
    })
    .await
}

/// [`serve`] for actions that may answer with a response of their own ([`Answer`]).
pub async fn serve_answer<F>(
    worker_name: &'static str,
    mut req: Request,
    env: Env,
    context: &Context,
    action: F,
) -> worker::Result<Response>
where
    F: AsyncFn(&WorkerCtx<'_>, &ActionRequest) -> Result<Answer>,
{
    let received = receive(&mut req, &env).await;
    let shell_at = now_ms();
    let body = match received.and_then(|(key, header, body)| {
        check_signature(key, header.as_deref(), &body).map(|()| body)
    }) {
        Ok(body) => body,
        Err(err) => return refuse(worker_name, &err),
    };
    let envelope = match Received::decode(&body) {
        Ok(e) => e,
        Err(err) => return refuse(worker_name, &err),
    };
    // Decoded once, from the signed bytes (`shared::internal::Received`).
    let request = ActionRequest::parse(envelope.request_bytes());
    let request_id = envelope.request_id.clone();
    let timings = Timings::new();
    let started = worker::Date::now().as_millis();
    let http = Bindings::new(&env)
        .http()
        .with_traceparent(envelope.traceparent.clone());
    let mut failure = None;
    let ran = match &request {
        Ok(request) => {
            let call = Call {
                envelope: &envelope,
                request,
                timings: &timings,
                shell_at,
            };
            run(worker_name, &env, context, call, &http, action).await
        }
        Err(err) => Err(err.clone()),
    };
    let reply = match ran {
        Ok(Answer::Reply(reply)) => reply,
        Ok(Answer::Response(mut response)) => {
            // A stream: its one line says it started (what it carries is the execution's).
            response.headers_mut().set("x-request-id", &request_id)?;
            log(
                "info",
                worker_name,
                &request_id,
                &format!("{worker_name} -> {} (stream)", response.status_code()),
            );
            return Ok(response);
        }
        Err(err) => {
            failure = Some(format!("{} {}: {err}", err.status(), err.code()));
            Reply::error(&err, &request_id, Map::new())
        }
    };
    let ending_at = now_ms();
    // The action's one line (its fields say what happened; the message repeats the gist).
    let upstream = http.last_host();
    let trace = envelope
        .traceparent
        .as_deref()
        .and_then(TraceContext::from_header);
    let fields = action_log::fields(&ActionOutcome {
        identity: &envelope.identity,
        request: request.as_ref().ok(),
        reply: &reply,
        duration_ms: worker::Date::now().as_millis().saturating_sub(started),
        upstream: upstream.as_deref(),
        trace: trace.as_ref(),
    });
    let level = if reply.status >= 500 { "error" } else { "info" };
    let message = match failure {
        Some(failure) => format!("{worker_name} failed: {failure}"),
        None => format!("{worker_name} -> {}", reply.status),
    };
    log_with(level, worker_name, &request_id, &message, fields);
    let mut response = respond(&reply, &request_id)?;
    timings.add(SHELL_STAGE, now_ms() - ending_at);
    let stages = timings.header();
    if !stages.is_empty() {
        response.headers_mut().set(timing::HEADER, &stages)?;
    }
    Ok(response)
}

async fn run<F>(
    worker_name: &'static str,
    env: &Env,
    context: &Context,
    call: Call<'_>,
    http: &FetchHttp,
    action: F,
) -> Result<Answer>
where
    F: AsyncFn(&WorkerCtx<'_>, &ActionRequest) -> Result<Answer>,
{
    let envelope = call.envelope;
    let bindings = Bindings::new(env);
    let db = bindings.db()?;
    let cache = bindings.cache()?;
    let settings = bindings.settings();
    let request_id = envelope.request_id.as_str();
    let reserved = envelope
        .reservation
        .as_ref()
        .map(|r| r.execution_id.clone());
    let ledger = TeamLedger::for_team(&bindings, &envelope.identity.team_id, context, reserved);
    let targets = envelope.config_version.as_deref().map(|version| Versioned {
        cache: isolate_targets(),
        version,
    });
    let log_line = |message: &str| log("info", worker_name, request_id, message);
    let objects = crate::executions::ExecutionObjects::for_env(env);
    let ctx = Ctx {
        services: Services {
            db: &db,
            cache: &cache,
            http,
            settings,
            log: &log_line,
        },
        identity: &envelope.identity,
        request_id,
        timings: call.timings,
        ledger: ledger.as_ref().map(|l| l as &dyn Ledger),
        targets,
        sessions: Some(isolate_sessions()),
        background: objects
            .as_ref()
            .map(|o| o as &dyn shared::background::Background),
    };
    call.timings.lap(SHELL_STAGE, call.shell_at, now_ms());
    action(&ctx, call.request).await
}

/// What the action runs on: the envelope, its request (decoded once), the request's stages
/// and when the shell's own work began.
struct Call<'a> {
    envelope: &'a Received<'a>,
    request: &'a ActionRequest,
    timings: &'a Timings,
    shell_at: f64,
}

/// The answer to an envelope that was not accepted (see the module invariants).
fn refuse(worker_name: &str, err: &Error) -> worker::Result<Response> {
    // The key is never part of an error's text; the body is not logged either.
    log(
        if err.status() >= 500 { "error" } else { "warn" },
        worker_name,
        "-",
        &format!("refused envelope: {} {}: {err}", err.status(), err.code()),
    );
    respond(&Reply::error(err, "-", Map::new()), "-")
}

/// The action's stage for the shell's own work (see the module doc).
const SHELL_STAGE: &str = "shell";

/// Milliseconds, as precise as the runtime's clock (which advances across I/O on Cloudflare).
fn now_ms() -> f64 {
    worker::js_sys::Date::now()
}

/// The key, the signature header and the envelope's bytes (read only under a header that can
/// hold a signature): the hop's part, before the shell's own work.
async fn receive(
    req: &mut Request,
    env: &Env,
) -> Result<(&'static SigningKey, Option<String>, Vec<u8>)> {
    let key = Bindings::new(env).signing_key()?;
    let header = req.headers().get(SIGNATURE_HEADER).ok().flatten();
    SigningKey::precheck(header.as_deref())?;
    let body = match req.stream() {
        Ok(stream) => read_body(stream, MAX_ENVELOPE_BYTES).await?,
        Err(_) => Vec::new(),
    };
    Ok((key, header, body))
}

/// Whether the signature is genuine and current over the exact bytes received (nothing of
/// them is decoded before).
fn check_signature(key: &SigningKey, header: Option<&str>, body: &[u8]) -> Result<()> {
    key.verify(header, body, worker::Date::now().as_millis() / 1000)
}

/// The isolate's call targets (`shared::call_target`): one cache per isolate, which serves one
/// request at a time between awaits (JavaScript's single thread), kept for the isolate's life.
fn isolate_targets() -> &'static TargetCache {
    thread_local! {
        static TARGETS: &'static TargetCache = Box::leak(Box::new(TargetCache::new()));
    }
    TARGETS.with(|t| *t)
}

/// The isolate's memory of upstream session ids (`shared::cache::Memo` in front of KV).
fn isolate_sessions() -> &'static Memo {
    thread_local! {
        static SESSIONS: &'static Memo = Box::leak(Box::new(Memo::new(SESSION_MEMO_MS)));
    }
    SESSIONS.with(|m| *m)
}

fn respond(reply: &Reply, request_id: &str) -> worker::Result<Response> {
    let mut response = Response::from_json(&reply.body)?.with_status(reply.status);
    response.headers_mut().set("x-request-id", request_id)?;
    Ok(response)
}
