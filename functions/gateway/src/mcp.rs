//! `/mcp` and `/mcp/servers/<name>`: the team's tools as an MCP server (Streamable HTTP,
//! JSON answers, no sessions; a `tools/call` with a `progressToken` from a client that accepts
//! `text/event-stream` is answered as an event stream, `crate::mcp_stream`). The I/O around `shared::mcp_server`: the origin check, the
//! body, the bearer JWT, the team and its gate (as the action API: `tools/call` is charged
//! as `call_tool`, everything else as `list_tools`), then the answer, whose `list_tools` and
//! `call_tool` steps are signed envelopes to the action workers (so every rule of those
//! actions applies unchanged).
//!
//! `GET` with `Accept: text/event-stream` (handshake era) is the standalone stream, on which
//! `notifications/tools/list_changed` comes (`crate::mcp_listen`): the same bearer, team and
//! gate (charged as `list_tools`).
//!
//! Statuses: 202 for notifications and responses; 401 with `WWW-Authenticate: Bearer` for a
//! missing or bad token; 403 for a refused origin or team; 405 for DELETE (no session to end)
//! and for a GET that is not for the standalone stream; 429 with the rate-limit headers;
//! errors otherwise as `shared::mcp_server::message` maps them.

use std::cell::RefCell;

use edge_cloudflare::fetch::FetchHttp;
use edge_cloudflare::{Bindings, WorkerResultExt};
use mcp_client::http::Clock;
use serde_json::{json, Value};
use shared::api::{Action, ActionRequest, BackgroundAction, MAX_BODY_BYTES};
use shared::auth::{authenticate, bearer_token, AuthConfig};
use shared::cache::{answers, Cache};
use shared::gateway::{binding_of, check_content_type, check_declared_length, read_body};
use shared::identity::Identity;
use shared::internal::Envelope;
use shared::mcp_server::dispatch::{
    respond, start_streamed, Backend, Request as McpRequest, Scope, Started,
};
use shared::mcp_server::message::{self, error_of_answer, rpc_error, Incoming, RpcFailure};
use shared::mcp_server::origin::OriginPolicy;
use shared::mcp_server::path::McpPath;
use shared::mcp_server::version;
use shared::mcp_server::{listen, relay};
use shared::membership::TEAM_HEADER;
use shared::timing::Timings;
use shared::Error;
use worker::{Env, Method, Request, Response};

use crate::mcp_stream::{
    answer_request, cancel, relay_call, take_cancelled, Answering, StreamedCall,
};
use crate::{answer_memo, enter_team, forward_raw, now_ms, Relayed, Who};

/// Answers one request to an MCP path; every failure is already a JSON-RPC answer.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn handle(
    req: &mut Request,
    env: &Env,
    path: McpPath,
    request_id: &str,
    limit_headers: &mut Vec<(&'static str, String)>,
    timings: &Timings,
    who: &RefCell<Option<Who>>,
    traceparent: &str,
) -> Result<Response, Error> {
    let mut id = Value::Null;
    let outcome = answer(
        req,
        env,
        &path,
        request_id,
        limit_headers,
        timings,
        who,
        traceparent,
        &mut id,
    )
    .await;
    let (status, body) = match outcome {
        Ok(Answered::Json(result)) => (200, Some(message::result(&id, result))),
        Ok(Answered::Accepted) => (202, None),
        Ok(Answered::Stream(response)) => return Ok(response),
        Err(failure) => (failure.status, Some(failure.to_body(&id))),
    };
    let response = match body {
        Some(body) => Response::from_json(&body).or_internal("mcp answer")?,
        None => Response::empty().or_internal("mcp answer")?,
    }
    .with_status(status);
    let headers = response.headers();
    match status {
        401 => headers
            .set(
                "www-authenticate",
                "Bearer realm=\"mcp-edge\", error=\"invalid_token\"",
            )
            .or_internal("mcp answer")?,
        405 => headers
            .set("allow", "GET, POST")
            .or_internal("mcp answer")?,
        _ => {}
    }
    Ok(response)
}

/// What a request is answered with (besides a failure).
enum Answered {
    Json(Value),
    /// 202, no body (a notification or a response).
    Accepted,
    /// A `tools/call` answered as an event stream (`crate::mcp_stream`).
    Stream(Response),
}

/// The answer to send, or the failure; `id` is set once known.
#[allow(clippy::too_many_arguments)]
async fn answer(
    req: &mut Request,
    env: &Env,
    path: &McpPath,
    request_id: &str,
    limit_headers: &mut Vec<(&'static str, String)>,
    timings: &Timings,
    who: &RefCell<Option<Who>>,
    traceparent: &str,
    id: &mut Value,
) -> Result<Answered, RpcFailure> {
    let api = |e: Error| rpc_error(&e, request_id);
    let header = |name: &str| req.headers().get(name).ok().flatten();
    let var = |name: &str| env.var(name).ok().map(|v| v.to_string());
    let origin = header("origin");
    let url = req.url().map_err(|e| api(Error::internal(e)))?;
    let host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => String::new(),
    };
    let policy = OriginPolicy::from_settings(
        var("MCP_ALLOWED_ORIGINS").as_deref(),
        var("CORS_ALLOWED_ORIGINS").as_deref(),
    );
    if !policy.allows(origin.as_deref(), &host) {
        return Err(RpcFailure::new(
            403,
            message::SERVER_ERROR,
            "this origin may not call the MCP endpoint (MCP_ALLOWED_ORIGINS)",
        ));
    }
    let listening = req.method() == Method::Get;
    if listening
        && !listen::offered(
            header("accept").as_deref(),
            header("mcp-protocol-version").as_deref(),
        )
    {
        return Err(RpcFailure::new(
            405,
            message::SERVER_ERROR,
            "GET opens the standalone stream (Accept: text/event-stream; not in 2026-07-28)",
        ));
    }
    if !listening && req.method() != Method::Post {
        return Err(RpcFailure::new(
            405,
            message::SERVER_ERROR,
            "POST JSON-RPC messages here, or GET the standalone stream; there is no session to end",
        ));
    }
    if !listening {
        check_declared_length(header("content-length").as_deref()).map_err(api)?;
        check_content_type(header("content-type").as_deref()).map_err(api)?;
    }
    let authorization = header("authorization");
    let team_header = header(TEAM_HEADER);
    let accept = header("accept");
    let session = header("mcp-session-id");
    let last_event_id = header("last-event-id");
    let routing = (
        header("mcp-protocol-version"),
        header("mcp-method"),
        header("mcp-name"),
    );
    let body = match req.stream() {
        Ok(stream) => read_body(stream, MAX_BODY_BYTES).await.map_err(api)?,
        Err(_) => Vec::new(),
    };

    let at = now_ms();
    let auth = AuthConfig::from_settings(var).map_err(api)?;
    let http = FetchHttp::new();
    let cache = Bindings::new(env).cache().map_err(api)?;
    let token = bearer_token(authorization.as_deref()).map_err(api)?;
    let verified = authenticate(token, &auth, http.now_ms() / 1000, &http, &cache)
        .await
        .map_err(api)?;
    timings.lap("auth", at, now_ms());
    // The team's gate, as the action API enters it; `/mcp` reserves no `call_tool` record (a
    // `tools/call` names a tool, whose server is known only after the gate: call_tool starts
    // the record itself).
    let team_header = team_header.as_deref();
    let mut enter = async |verified, action| {
        enter_team(
            env,
            verified,
            None,
            team_header,
            action,
            request_id,
            limit_headers,
            timings,
            None,
        )
        .await
        .map_err(api)
    };

    if listening {
        let lifetime = listen::lifetime_ms(var("MCP_LISTEN_SECS").as_deref()).map_err(api)?;
        let entered = enter(verified, Action::ListTools).await?;
        let (identity, config_version) = (entered.identity, entered.config_version);
        *who.borrow_mut() = Some(Who {
            action: "mcp listen",
            user_id: identity.user_id.clone(),
            team_id: identity.team_id.clone(),
        });
        if let McpPath::Server(name) = path {
            let backend = Forwarder {
                env,
                identity: &identity,
                config_version: config_version.as_deref(),
                request_id,
                traceparent,
                now_ms: http.now_ms(),
            };
            if !backend.has_server(name).await.map_err(api)? {
                return Err(RpcFailure::new(
                    404,
                    message::SERVER_ERROR,
                    format!("no active server named '{name}' in your team"),
                ));
            }
        }
        return crate::mcp_listen::open(env, &identity.team_id, last_event_id.as_deref(), lifetime)
            .await
            .map(Answered::Stream)
            .map_err(api);
    }

    let (method, params) = match message::parse(&body)? {
        Incoming::Accepted => {
            if let Some((execution_id, asked, response)) = relay::routed_answer(&body) {
                let identity = enter(
                    verified,
                    Action::Background(BackgroundAction::AnswerExecution),
                )
                .await?
                .identity;
                let answering = Answering {
                    execution_id: &execution_id,
                    request_id: &asked,
                    response,
                };
                answer_request(env, &identity, request_id, traceparent, answering)
                    .await
                    .map_err(api)?;
            } else if let Some(rpc_id) = relay::cancelled_request(&body) {
                let user_id = verified.user_id.clone();
                let found = take_cancelled(env, &user_id, session.as_deref(), &rpc_id)
                    .await
                    .map_err(api)?;
                if let Some(execution_id) = found {
                    let identity = enter(
                        verified,
                        Action::Background(BackgroundAction::CancelExecution),
                    )
                    .await?
                    .identity;
                    cancel(env, &identity, request_id, traceparent, &execution_id)
                        .await
                        .map_err(api)?;
                }
            }
            return Ok(Answered::Accepted);
        }
        Incoming::Request {
            id: rid,
            method,
            params,
        } => {
            *id = rid;
            (method, params)
        }
    };
    let headers = version::Headers {
        protocol_version: routing.0.as_deref(),
        method: routing.1.as_deref(),
        name: routing.2.as_deref(),
    };
    let stateless = version::check(&headers, &method, &params)?;
    let action = if method == "tools/call" {
        Action::CallTool
    } else {
        Action::ListTools
    };
    let entered = enter(verified, action).await?;
    let (identity, config_version) = (entered.identity, entered.config_version);
    *who.borrow_mut() = Some(Who {
        action: match method.as_str() {
            "tools/call" => "mcp tools/call",
            "tools/list" => "mcp tools/list",
            _ => "mcp",
        },
        user_id: identity.user_id.clone(),
        team_id: identity.team_id.clone(),
    });
    let scope = match path {
        McpPath::Team => Scope::Team,
        McpPath::Server(name) => Scope::Server(name),
    };
    let backend = Forwarder {
        env,
        identity: &identity,
        config_version: config_version.as_deref(),
        request_id,
        traceparent,
        now_ms: http.now_ms(),
    };
    let mcp_request = McpRequest {
        method: &method,
        params: &params,
        stateless,
        scope,
        request_id,
    };
    let at = now_ms();
    let policy =
        relay::StreamPolicy::from_setting(var("MCP_STREAM_CALLS").as_deref()).map_err(api)?;
    if method == "tools/call" && relay::wants_stream(policy, accept.as_deref(), &params, stateless)
    {
        let started = start_streamed(&mcp_request, &backend).await;
        timings.lap("forward", at, now_ms());
        let (execution_id, name) = match started? {
            Started::Answered(result) => return Ok(Answered::Json(result)),
            Started::Running { execution_id, name } => (execution_id, name),
        };
        let token = relay::progress_token(&params).cloned();
        let call = StreamedCall {
            identity: &identity,
            request_id,
            traceparent,
            rpc_id: id.clone(),
            token,
            session: session.as_deref(),
            name: &name,
            execution_id: &execution_id,
        };
        return relay_call(env, call)
            .await
            .map(Answered::Stream)
            .map_err(api);
    }
    let result = respond(&mcp_request, &backend).await;
    timings.lap("forward", at, now_ms());
    if result.is_ok() && method == "logging/setLevel" {
        // Valid (`respond` checked it): kept for this client's streamed calls (`relay`).
        if let Some(level) = params["level"].as_str() {
            let key = relay::level_key(&identity.user_id, session.as_deref());
            cache
                .put(&key, level, relay::LEVEL_TTL_SECS)
                .await
                .map_err(api)?;
        }
    }
    result.map(Answered::Json)
}

/// The answer steps as signed envelopes to the action workers, as the caller.
struct Forwarder<'a> {
    env: &'a Env,
    identity: &'a Identity,
    config_version: Option<&'a str>,
    request_id: &'a str,
    /// The request's W3C trace context (`shared::trace`), sent on to the action worker.
    traceparent: &'a str,
    now_ms: u64,
}

impl Forwarder<'_> {
    /// One action request: its status and body (read-only answers from the isolate's memory
    /// when the action API would serve them from it too).
    async fn send(&self, fields: Value) -> Result<(u16, Value), Error> {
        let request = ActionRequest::from_value(fields)?;
        let action = request.action;
        let fields = request.to_value();
        let key = answers::key(action, &self.identity.team_id, self.config_version, &fields);
        let remembered = key
            .as_deref()
            .and_then(|k| answer_memo().recall(k, self.now_ms));
        let (status, bytes) = match remembered {
            Some(bytes) => (200, bytes),
            None => {
                let envelope = Envelope {
                    request_id: self.request_id.to_string(),
                    identity: self.identity.clone(),
                    request: fields,
                    config_version: self.config_version.map(str::to_string),
                    traceparent: Some(self.traceparent.to_string()),
                    // `/mcp` learns the server of a tool after its gate: nothing reserved.
                    reservation: None,
                };
                let remember = key.as_deref().map(|k| (k, self.now_ms));
                let answer = forward_raw(
                    self.env,
                    binding_of(action.route()),
                    action.name(),
                    &envelope,
                    remember,
                )
                .await?;
                match answer {
                    Relayed::Answer(answer) => (answer.status, answer.body),
                    // `/mcp` asks only for list_tools and call_tool, which answer JSON.
                    Relayed::Stream(_) => {
                        return Err(Error::internal("an event stream where JSON was expected"))
                    }
                }
            }
        };
        let body = serde_json::from_slice(&bytes).map_err(Error::internal)?;
        Ok((status, body))
    }

    async fn read(&self, fields: Value) -> Result<Value, Error> {
        match self.send(fields).await? {
            (200, body) => Ok(body),
            (status, body) => Err(error_of_answer(status, &body)),
        }
    }
}

impl Backend for Forwarder<'_> {
    async fn tools(&self) -> Result<Value, Error> {
        self.read(json!({ "action": "list_tools", "format": "mcp" }))
            .await
    }

    async fn has_server(&self, name: &str) -> Result<bool, Error> {
        let listed = self.read(json!({ "action": "list_servers" })).await?;
        Ok(listed["servers"]
            .as_array()
            .is_some_and(|servers| servers.iter().any(|s| s["name"] == name)))
    }

    async fn call(&self, request: Value) -> Result<(u16, Value), Error> {
        self.send(request).await
    }
}
