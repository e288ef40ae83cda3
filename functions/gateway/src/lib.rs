//! The public gateway worker: the one function URL the PWA calls. It answers CORS preflights,
//! `GET /health` and `GET /openapi.json` (the API's description, `openapi/openapi.json`, no auth),
//! serves `/mcp` and `/mcp/servers/<name>` (the team's tools as an MCP server, `mcp`),
//! admits requests (size, JWT, shape; see `shared::gateway`), picks the team
//! (`shared::membership`), asks the team's gate (`edge_cloudflare::limiter`, the `RateLimiter`
//! Durable Object in `edge_cloudflare::rate_limiter`, hosted here: membership, role, limits),
//! forwards admitted requests to the action worker over a Service Binding with the identity,
//! and stamps every answer with `X-Request-Id`, CORS and rate-limit headers. It never holds a
//! credential key.

pub use edge_cloudflare::rate_limiter::RateLimiter;

mod mcp;
mod mcp_listen;
mod mcp_stream;

use edge_cloudflare::fetch::FetchHttp;
use edge_cloudflare::limiter;
use std::cell::RefCell;

use edge_cloudflare::log::log_with;
use edge_cloudflare::{Bindings, WorkerResultExt};
use mcp_client::http::Clock;
use serde_json::json;
use shared::api::{Action, BackgroundAction, MAX_BODY_BYTES};
use shared::auth::AuthConfig;
use shared::background::stream;
use shared::cache::answers::{self, AnswerMemo};
use shared::cache::{Cache, Memo, Memoized};
use shared::gateway::{
    admit, binding_of, check_content_type, check_declared_length, is_api_path, read_body,
    CorsPolicy,
};
use shared::identity::{Identity, Role};
use shared::internal::{
    action_url, is_refused_envelope, Envelope, SIGNATURE_HEADER, SIGNING_KEY_VAR,
};
use shared::ledger::reservation::{self, Reservation, ReserveRequest};
use shared::membership::{keys, requested_team, resolve_team, TEAMS_HINT_MEMO_MS, TEAM_HEADER};
use shared::timing::{self, Timings};
use shared::trace::{self, TraceContext};
use shared::Error;
use worker::{event, Context, Env, Headers, Method, Request, RequestInit, Response};

pub(crate) const WORKER: &str = "gateway";

/// The OpenAPI 3.1 description of the API (`openapi/openapi.json`), served without auth.
const OPENAPI_PATH: &str = "/openapi.json";
const OPENAPI_DOCUMENT: &str = include_str!("../../../openapi/openapi.json");

/// Who asked what of which team, for the request's log line (known once the gate admitted it).
pub(crate) struct Who {
    pub(crate) action: &'static str,
    pub(crate) user_id: String,
    pub(crate) team_id: String,
}

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    let request_id = uuid_v4();
    let origin = req.headers().get("origin")?;
    let random_hex = format!("{}{}", uuid_v4(), uuid_v4()).replace('-', "");
    let trace =
        TraceContext::continue_or_start(req.headers().get(trace::HEADER)?.as_deref(), &random_hex);
    let cors = CorsPolicy::from_setting(
        env.var("CORS_ALLOWED_ORIGINS")
            .ok()
            .map(|v| v.to_string())
            .as_deref(),
    );
    let started = worker::Date::now().as_millis();

    // Rate-limit headers, set once the limiter has decided (on 429s and admitted answers).
    let mut limit_headers = Vec::new();
    let timings = Timings::new();
    let who: RefCell<Option<Who>> = RefCell::new(None);
    let mut error_type = None;
    let (mut response, cors_headers) = if req.method() == Method::Options {
        (
            Response::empty()?.with_status(204),
            cors.preflight_headers(origin.as_deref()),
        )
    } else {
        let response = match handle(
            &mut req,
            &env,
            &request_id,
            &mut limit_headers,
            &timings,
            &who,
            &trace,
        )
        .await
        {
            Ok(response) => response,
            Err(err) => {
                // Said once, in the request's line below (its details never leave the logs).
                error_type = Some((err.code(), err.to_string()));
                Response::from_json(&err.to_body(&request_id))?.with_status(err.status())
            }
        };
        (response, cors.headers(origin.as_deref()))
    };
    let headers = response.headers_mut();
    headers.set("x-request-id", &request_id)?;
    for (name, value) in cors_headers.into_iter().chain(limit_headers) {
        headers.set(name, &value)?;
    }
    if timing::enabled(
        env.var(timing::SETTING)
            .ok()
            .map(|v| v.to_string())
            .as_deref(),
    ) {
        timings.add("total", now_ms() - started as f64);
        let relayed = timing::relay(&timings, headers.get(timing::HEADER)?.as_deref());
        headers.set(timing::HEADER, &relayed)?;
    } else {
        // The action's stages too: the header leaves the gateway only when turned on.
        headers.delete(timing::HEADER)?;
    }
    // One line per request, with who asked what of which team.
    let duration_ms = worker::Date::now().as_millis().saturating_sub(started);
    let status = response.status_code();
    let mut fields = serde_json::Map::new();
    fields.insert(
        "http.request.method".into(),
        json!(req.method().to_string()),
    );
    fields.insert("url.path".into(), json!(req.path()));
    fields.insert("http.response.status_code".into(), json!(status));
    fields.insert("duration_ms".into(), json!(duration_ms));
    fields.insert("trace_id".into(), json!(trace.trace_id));
    fields.insert("span_id".into(), json!(trace.span_id));
    if let Some((code, _)) = &error_type {
        fields.insert("error.type".into(), json!(code));
    }
    let who = who.into_inner();
    let mut message = format!(
        "{} {} -> {status} in {duration_ms} ms",
        req.method(),
        req.path()
    );
    if let Some(w) = &who {
        fields.insert("mcp_edge.action".into(), json!(w.action));
        fields.insert("user_id".into(), json!(w.user_id));
        fields.insert("team_id".into(), json!(w.team_id));
        message = format!(
            "{} by user {} of team {}: {message}",
            w.action, w.user_id, w.team_id
        );
    }
    let mut level = "info";
    if let Some((code, why)) = &error_type {
        message = format!("{message}: {code}: {why}");
        if status >= 500 {
            level = "error";
        }
    }
    log_with(level, WORKER, &request_id, &message, fields);
    Ok(response)
}

async fn handle(
    req: &mut Request,
    env: &Env,
    request_id: &str,
    limit_headers: &mut Vec<(&'static str, String)>,
    timings: &Timings,
    who: &RefCell<Option<Who>>,
    trace: &TraceContext,
) -> Result<Response, Error> {
    let path = req.path();
    if path == "/health" && req.method() == Method::Get {
        return Response::from_json(&json!({ "status": "ok" })).or_internal("health answer");
    }
    if path == OPENAPI_PATH && req.method() == Method::Get {
        let response = Response::ok(OPENAPI_DOCUMENT).or_internal("openapi answer")?;
        response
            .headers()
            .set("content-type", "application/json")
            .or_internal("openapi answer")?;
        return Ok(response);
    }
    if let Some(mcp_path) = shared::mcp_server::path::parse(&path) {
        let traceparent = trace.header();
        return mcp::handle(
            req,
            env,
            mcp_path,
            request_id,
            limit_headers,
            timings,
            who,
            &traceparent,
        )
        .await;
    }
    if !is_api_path(&path) {
        return Err(Error::NotFound(format!(
            "no such endpoint '{path}'; POST to /"
        )));
    }
    if req.method() != Method::Post {
        return Err(Error::validation("use POST with a JSON body"));
    }
    let header = |name: &str| req.headers().get(name).ok().flatten();
    check_declared_length(header("content-length").as_deref())?;
    check_content_type(header("content-type").as_deref())?;
    let authorization = header("authorization");
    let team_header = header(TEAM_HEADER);
    let last_event_id = header("last-event-id");
    // Streamed and counted: a body without Content-Length stops at the limit, unread beyond.
    let body = match req.stream() {
        Ok(stream) => read_body(stream, MAX_BODY_BYTES).await?,
        Err(_) => Vec::new(),
    };

    let mut at = now_ms();
    let auth = AuthConfig::from_settings(|name| env.var(name).ok().map(|v| v.to_string()))?;
    let http = FetchHttp::new();
    let cache = Bindings::new(env).cache()?;
    let now_secs = http.now_ms() / 1000;
    let (verified, request) = admit(
        authorization.as_deref(),
        &body,
        &auth,
        now_secs,
        &http,
        &cache,
    )
    .await?;
    at = timings.lap("auth", at, now_ms());
    let action = request.action;
    let mut config_version = None;
    let mut reservation = None;
    let identity = if action.needs_team() {
        let requested = request.optional_str("team_id", shared::api::MAX_ID_LEN)?;
        let entered = enter_team(
            env,
            verified,
            requested,
            team_header.as_deref(),
            action,
            request_id,
            limit_headers,
            timings,
            reservation::wanted(action, &request),
        )
        .await?;
        config_version = entered.config_version;
        reservation = entered.reservation;
        at = now_ms();
        entered.identity
    } else {
        // create_team: the admin worker creates this team, owned by the caller, only if the
        // caller is in no team yet.
        Identity {
            user_id: verified.user_id,
            team_id: shared::repo::new_id(),
            role: Role::Owner,
        }
    };
    *who.borrow_mut() = Some(Who {
        action: action.name(),
        user_id: identity.user_id.clone(),
        team_id: identity.team_id.clone(),
    });
    let mut fields = request.to_value();
    if action == Action::Background(BackgroundAction::WatchExecution) {
        // The resume point travels in the envelope: the header (a browser's reconnect) or the
        // body's field, which must agree.
        let resume = stream::resume_point(last_event_id.as_deref(), fields.get("last_event_id"))?;
        fields["last_event_id"] = resume.map_or(serde_json::Value::Null, serde_json::Value::from);
    }
    // A read-only answer this isolate gave for the same team, configuration and request.
    let memo_key = answers::key(
        action,
        &identity.team_id,
        config_version.as_deref(),
        &fields,
    );
    if let Some(body) = memo_key
        .as_deref()
        .and_then(|k| answer_memo().recall(k, http.now_ms()))
    {
        timings.lap("memo", at, now_ms());
        let response = Response::from_bytes(body).or_internal("remembered answer")?;
        response
            .headers()
            .set("content-type", "application/json")
            .or_internal("remembered answer")?;
        return Ok(response);
    }
    let envelope = Envelope {
        request_id: request_id.to_string(),
        identity,
        request: fields,
        config_version,
        traceparent: Some(trace.header()),
        reservation,
    };
    let remember = memo_key.as_deref().map(|key| (key, http.now_ms()));
    let forwarded = forward(
        env,
        binding_of(action.route()),
        action.name(),
        &envelope,
        remember,
    )
    .await;
    timings.lap("forward", at, now_ms());
    // The admin worker dropped the KV hint of whoever's teams changed; this isolate forgets
    // its memory of it too (others within TEAMS_HINT_MEMO_MS, and only ever as a hint).
    let changed = if action.is_member_change() {
        request
            .optional_str("user_id", shared::api::MAX_ID_LEN)
            .ok()
            .flatten()
    } else if !action.needs_team() {
        Some(envelope.identity.user_id.as_str())
    } else {
        None
    };
    if let Some(user) = changed {
        hint_memo().forget(&keys::teams_of_user(user));
    }
    forwarded
}

/// What [`enter_team`] found: who the caller is in the team, the team's configuration version,
/// and the `call_tool` record the gate reserved, if it was asked to and did.
pub(crate) struct Entered {
    pub(crate) identity: Identity,
    pub(crate) config_version: Option<String>,
    pub(crate) reservation: Option<Reservation>,
}

/// The caller's identity in the team they chose (`requested` in the body, `team_header`),
/// once the team's gate admitted them for `action` (membership, role, rate limit: the
/// limiter's headers land in `limit_headers`); also the team's configuration version and,
/// for `reserve`, the reserved record (`shared::ledger::reservation`).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn enter_team(
    env: &Env,
    verified: shared::auth::Verified,
    requested: Option<&str>,
    team_header: Option<&str>,
    action: shared::api::Action,
    request_id: &str,
    limit_headers: &mut Vec<(&'static str, String)>,
    timings: &Timings,
    reserve: Option<ReserveRequest>,
) -> Result<Entered, Error> {
    let mut at = now_ms();
    let http = FetchHttp::new();
    let cache = Bindings::new(env).cache()?;
    let requested = requested_team(requested, team_header)?;
    let db = Bindings::new(env).db()?;
    // The user's teams hint, remembered by this isolate for a few seconds (KV otherwise).
    let hints = Memoized {
        cache: &cache,
        memo: hint_memo(),
        now_ms: http.now_ms(),
    };
    let choice = resolve_team(&verified, requested, &db, &hints).await?;
    at = timings.lap("team", at, now_ms());
    let answer = limiter::consult(
        env,
        &choice,
        &verified.user_id,
        action,
        request_id,
        WORKER,
        reserve,
    )
    .await?;
    timings.lap("gate", at, now_ms());
    let role = match answer.admission.into_role(&choice.team_id, action) {
        Ok(role) => role,
        Err(err) => {
            if choice.from_hint {
                // The hint was stale; the next request reads the user's teams again.
                let _ = hints.delete(&keys::teams_of_user(&verified.user_id)).await;
            }
            return Err(err);
        }
    };
    if let Some(decision) = answer.decision {
        *limit_headers = decision.headers();
        if !decision.allowed {
            return Err(decision.to_error());
        }
    }
    let identity = Identity {
        user_id: verified.user_id,
        team_id: choice.team_id,
        role,
    };
    Ok(Entered {
        identity,
        config_version: answer.config_version,
        reservation: answer.reservation,
    })
}

/// Signs the envelope (serialised once: the MAC covers exactly the bytes sent), sends it to
/// an action worker and relays its answer (status and body) as is; a successful answer is
/// kept in the isolate's memory under `remember`'s key (at its time), when given.
async fn forward(
    env: &Env,
    binding: &str,
    action: &str,
    envelope: &Envelope,
    remember: Option<(&str, u64)>,
) -> Result<Response, Error> {
    let answer = match forward_raw(env, binding, action, envelope, remember).await? {
        Relayed::Answer(answer) => answer,
        Relayed::Stream(response) => return Ok(response),
    };
    let response = Response::from_bytes(answer.body)
        .or_internal("relaying the answer")?
        .with_status(answer.status);
    let headers = response.headers();
    headers
        .set("content-type", "application/json")
        .or_internal("relaying the answer")?;
    // The action's stages, relayed (prefixed, filtered) with the gateway's own by `fetch`.
    if let Some(stages) = answer.stages {
        headers
            .set(timing::HEADER, &stages)
            .or_internal("relaying the answer")?;
    }
    Ok(response)
}

/// An action worker's answer: status, body and its `Server-Timing` stages.
pub(crate) struct Forwarded {
    pub status: u16,
    pub body: Vec<u8>,
    pub stages: Option<String>,
}

/// What an action worker answered: a JSON answer, or an event stream relayed as it comes.
pub(crate) enum Relayed {
    Answer(Forwarded),
    Stream(Response),
}

/// [`forward`] without building the response of a JSON answer.
pub(crate) async fn forward_raw(
    env: &Env,
    binding: &str,
    action: &str,
    envelope: &Envelope,
    remember: Option<(&str, u64)>,
) -> Result<Relayed, Error> {
    let bindings = Bindings::new(env);
    let service = bindings.service(binding)?;
    let key = bindings.signing_key()?;
    let body = serde_json::to_string(envelope).map_err(Error::internal)?;
    let signature = key.sign(body.as_bytes(), worker::Date::now().as_millis() / 1000);
    let headers = Headers::new();
    headers
        .set("content-type", "application/json")
        .or_internal("request headers")?;
    headers
        .set(SIGNATURE_HEADER, &signature)
        .or_internal("request headers")?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(body.into()));
    let mut upstream = service
        .fetch(action_url(action), Some(init))
        .await
        .or_internal(&format!("calling {binding}"))?;
    let status = upstream.status_code();
    let content_type = upstream.headers().get("content-type").ok().flatten();
    if status == 200 && content_type.as_deref() == Some(stream::CONTENT_TYPE) {
        // An event stream (watch_execution) is relayed as it comes, never buffered.
        let body = upstream.stream().or_internal("relaying the event stream")?;
        let response = edge_cloudflare::event_stream::response(body, "relaying the event stream")?;
        return Ok(Relayed::Stream(response));
    }
    let bytes = upstream
        .bytes()
        .await
        .or_internal(&format!("reading {binding}'s answer"))?;
    if is_refused_envelope(status, &bytes) {
        // Our own envelope refused: the keys differ between workers (a deployment error, not
        // the caller's fault).
        return Err(Error::internal(format!(
            "{binding} refused the gateway's signed envelope: is {SIGNING_KEY_VAR} the same on every worker?"
        )));
    }
    if let (Some((key, at_ms)), 200) = (remember, status) {
        answer_memo().remember(key, &bytes, at_ms);
    }
    Ok(Relayed::Answer(Forwarded {
        status,
        body: bytes,
        stages: upstream.headers().get(timing::HEADER).ok().flatten(),
    }))
}

/// The isolate's memory of read-only answers (`shared::cache::answers`).
pub(crate) fn answer_memo() -> &'static AnswerMemo {
    thread_local! {
        static MEMO: &'static AnswerMemo = Box::leak(Box::new(AnswerMemo::new()));
    }
    MEMO.with(|m| *m)
}

/// Milliseconds with sub-millisecond precision (the clock advances across I/O).
pub(crate) fn now_ms() -> f64 {
    worker::js_sys::Date::now()
}

/// The isolate's memory of users' teams hints (`shared::membership::TEAMS_HINT_MEMO_MS`).
fn hint_memo() -> &'static Memo {
    thread_local! {
        static MEMO: &'static Memo = Box::leak(Box::new(Memo::new(TEAMS_HINT_MEMO_MS)));
    }
    MEMO.with(|m| *m)
}

fn uuid_v4() -> String {
    shared::repo::new_id()
}
