//! Answers one MCP request over a [`Backend`] (the gateway's forwards to `list_tools` and
//! `call_tool`): `initialize`, `server/discover`, `ping`, `logging/setLevel`, `tools/list`,
//! `tools/call` (with [`start_streamed`] for a call answered as an event stream).
//!
//! Invariants:
//! - `tools/list` lists exactly what `list_tools` lists for the caller (enabled tools of
//!   active servers of the caller's team), so nothing is listed that cannot be called.
//! - `tools/call` resolves the name through `list_tools`' own mapping and runs the tool only
//!   through `call_tool`; a name that maps to no tool is `-32602` and calls nothing.
//! - What `call_tool` answers becomes a tool result when it is about the call (the tool's own
//!   error, refused arguments, confirmation needed, upstream failure or timeout: `isError`,
//!   for the model), and a JSON-RPC error with the same HTTP status when it is about the
//!   caller (auth, membership, rate limit, size, internal).
//! - 2026-07-28 results carry `resultType: "complete"`; `tools/list` and `server/discover`
//!   also `ttlMs: 0` and `cacheScope: "private"` (the list is the caller's team's, and an
//!   admin's change must show at once).
//! - A tool that requires confirmation answers `isError` with the token and how to confirm:
//!   the same call again with `_meta["mcp-edge/confirmation_token"]`; a 2026-07-28 client
//!   that declares elicitation is asked instead (`super::confirm`).

use serde_json::{json, Map, Value};

use super::message::{RpcFailure, INTERNAL_ERROR, INVALID_PARAMS, METHOD_NOT_FOUND, SERVER_ERROR};
use super::{confirm, version};
use crate::error::Error;

/// Where a `call_tool` answer's confirmation token goes back in, and other `_meta` keys.
pub const META_CONFIRMATION_TOKEN: &str = "mcp-edge/confirmation_token";
pub const META_EXECUTION_ID: &str = "mcp-edge/execution_id";

/// Which tools an endpoint serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// `/mcp`: every tool of the team, under namespaced names.
    Team,
    /// `/mcp/servers/<name>`: one server's tools under their own names.
    Server(&'a str),
}

/// What answering needs from the action workers.
#[allow(async_fn_in_trait)]
pub trait Backend {
    /// `list_tools` with `format: "mcp"`: `{tools, mapping}`.
    async fn tools(&self) -> Result<Value, Error>;
    /// Whether the caller's team has an active server named `name`.
    async fn has_server(&self, name: &str) -> Result<bool, Error>;
    /// `call_tool` with this request body: the action's HTTP status and body.
    async fn call(&self, request: Value) -> Result<(u16, Value), Error>;
}

/// One request to answer.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    pub params: &'a Value,
    /// A 2026-07-28 request (results carry `resultType`).
    pub stateless: bool,
    pub scope: Scope<'a>,
    pub request_id: &'a str,
}

/// The `result` of `req`, or why not.
pub async fn respond<B: Backend>(req: &Request<'_>, backend: &B) -> Result<Value, RpcFailure> {
    let api = |e: Error| super::message::rpc_error(&e, req.request_id);
    let mut result = match req.method {
        "initialize" => {
            check_server(req, backend).await?;
            let requested = req.params.get("protocolVersion").and_then(Value::as_str);
            let mut r = about(req.scope, true);
            r.insert(
                "protocolVersion".into(),
                json!(version::negotiate(requested)),
            );
            Value::Object(r)
        }
        "server/discover" => {
            check_server(req, backend).await?;
            // 2026-07-28 has no standalone stream (its list changes come on
            // `subscriptions/listen`, not served here).
            let mut r = about(req.scope, false);
            r.insert("supportedVersions".into(), json!(version::supported()));
            Value::Object(r)
        }
        "ping" => json!({}),
        "logging/setLevel" => {
            let level = req.params.get("level").and_then(Value::as_str);
            if !level.is_some_and(|l| super::relay::LOG_LEVELS.contains(&l)) {
                return Err(RpcFailure::new(
                    200,
                    INVALID_PARAMS,
                    format!(
                        "'level' must be one of {}",
                        super::relay::LOG_LEVELS.join(", ")
                    ),
                ));
            }
            // Valid: the gateway keeps it in KV for the caller's streamed calls (`super::relay`).
            json!({})
        }
        "tools/list" => {
            let listed = backend.tools().await.map_err(api)?;
            json!({ "tools": scoped_tools(&listed, req.scope) })
        }
        "tools/call" => call(req, backend).await?,
        other => {
            return Err(RpcFailure::new(
                200,
                METHOD_NOT_FOUND,
                format!(
                    "method '{}' is not served here (tools only)",
                    other.chars().take(64).collect::<String>()
                ),
            ))
        }
    };
    if req.stateless {
        if result.get("resultType").is_none() {
            result["resultType"] = json!("complete");
        }
        if matches!(req.method, "tools/list" | "server/discover") {
            // Required on cacheable results since 2026-07-28. Per caller (team, membership),
            // and an admin's change shows at once: not to be reused.
            result["ttlMs"] = json!(0);
            result["cacheScope"] = json!("private");
        }
    }
    Ok(result)
}

/// `serverInfo`, `capabilities` and `instructions`; `list_changed`: the era has the
/// standalone stream on which `notifications/tools/list_changed` comes (`super::listen`).
fn about(scope: Scope<'_>, list_changed: bool) -> Map<String, Value> {
    let (name, instructions) = match scope {
        Scope::Team => (
            "mcp-edge".to_string(),
            "The team's tools from every server, named <server>__<tool>.".to_string(),
        ),
        Scope::Server(s) => (
            format!("mcp-edge/{s}"),
            format!("The tools of server '{s}'."),
        ),
    };
    let mut m = Map::new();
    m.insert(
        "capabilities".into(),
        json!({ "tools": { "listChanged": list_changed }, "logging": {} }),
    );
    m.insert(
        "serverInfo".into(),
        json!({ "name": name, "version": env!("CARGO_PKG_VERSION") }),
    );
    m.insert("instructions".into(), json!(instructions));
    m
}

async fn check_server<B: Backend>(req: &Request<'_>, backend: &B) -> Result<(), RpcFailure> {
    if let Scope::Server(name) = req.scope {
        let known = backend
            .has_server(name)
            .await
            .map_err(|e| super::message::rpc_error(&e, req.request_id))?;
        if !known {
            return Err(RpcFailure::new(
                404,
                INVALID_PARAMS,
                format!("no active server named '{name}' in your team"),
            ));
        }
    }
    Ok(())
}

/// The MCP tools of `listed` (a `list_tools` `mcp` answer) that `scope` serves, named as it
/// names them.
fn scoped_tools(listed: &Value, scope: Scope<'_>) -> Vec<Value> {
    let tools = listed["tools"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    match scope {
        Scope::Team => tools.to_vec(),
        Scope::Server(server) => tools
            .iter()
            .filter_map(|tool| {
                let target = &listed["mapping"][tool["name"].as_str()?];
                if target["server_name"] != server {
                    return None;
                }
                let mut tool = tool.clone();
                tool["name"] = target["tool_name"].clone();
                Some(tool)
            })
            .collect(),
    }
}

/// The `(server_id, tool_name)` that `name` means on `scope`.
fn resolve(listed: &Value, scope: Scope<'_>, name: &str) -> Option<(String, String)> {
    let mapping = listed["mapping"].as_object()?;
    let target = match scope {
        Scope::Team => mapping.get(name)?,
        Scope::Server(server) => mapping
            .values()
            .find(|t| t["server_name"] == server && t["tool_name"] == name)?,
    };
    Some((
        target["server_id"].as_str()?.to_string(),
        target["tool_name"].as_str()?.to_string(),
    ))
}

/// A `tools/call` ready for `call_tool`, or its answer already.
enum Prepared {
    Answered(Value),
    Call {
        body: Value,
        name: String,
        arguments: Value,
    },
}

async fn prepare<B: Backend>(req: &Request<'_>, backend: &B) -> Result<Prepared, RpcFailure> {
    let api = |e: Error| super::message::rpc_error(&e, req.request_id);
    let invalid = |m: &str| RpcFailure::new(200, INVALID_PARAMS, m.to_string());
    let name = req
        .params
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("tools/call needs a 'name'"))?;
    let arguments = match req.params.get("arguments") {
        None | Some(Value::Null) => None,
        Some(a @ Value::Object(_)) => Some(a.clone()),
        Some(_) => return Err(invalid("'arguments' must be an object")),
    };
    let listed = backend.tools().await.map_err(api)?;
    let (server_id, tool_name) = resolve(&listed, req.scope, name).ok_or_else(|| {
        invalid(&format!(
            "Unknown tool: '{}'",
            name.chars().take(128).collect::<String>()
        ))
    })?;
    let mut body = json!({
        "action": "call_tool",
        "server_id": server_id,
        "tool_name": tool_name,
    });
    if let Some(arguments) = arguments {
        body["parameters"] = arguments;
    }
    let mut token = req
        .params
        .get("_meta")
        .and_then(|m| m.get(META_CONFIRMATION_TOKEN))
        .and_then(Value::as_str)
        .map(str::to_string);
    if req.stateless {
        match confirm::answer(req.params) {
            Some(Ok(confirmed)) => token = Some(confirmed),
            Some(Err(refusal)) => return Ok(Prepared::Answered(text_result(refusal, Map::new()))),
            None => {}
        }
    }
    if let Some(token) = token {
        body["confirmation_token"] = json!(token);
    }
    let arguments = body.get("parameters").cloned().unwrap_or(json!({}));
    Ok(Prepared::Call {
        body,
        name: name.to_string(),
        arguments,
    })
}

/// What `call_tool` answered, as a `tools/call` result.
fn answered(
    req: &Request<'_>,
    name: &str,
    arguments: &Value,
    (status, answer): (u16, Value),
) -> Result<Value, RpcFailure> {
    if status == 200
        && answer["confirmation_required"] == true
        && confirm::can_elicit(req.params, req.stateless)
    {
        if let Some(token) = answer["confirmation_token"].as_str() {
            return Ok(confirm::ask(name, arguments, token));
        }
    }
    tool_result(status, &answer, name, req.request_id)
}

async fn call<B: Backend>(req: &Request<'_>, backend: &B) -> Result<Value, RpcFailure> {
    let api = |e: Error| super::message::rpc_error(&e, req.request_id);
    match prepare(req, backend).await? {
        Prepared::Answered(result) => Ok(result),
        Prepared::Call {
            body,
            name,
            arguments,
        } => {
            let answer = backend.call(body).await.map_err(api)?;
            answered(req, &name, &arguments, answer)
        }
    }
}

/// A `tools/call` started for an event-stream answer (`super::relay`).
#[derive(Debug, Clone, PartialEq)]
pub enum Started {
    /// Running in the background: relay this execution's events.
    Running { execution_id: String, name: String },
    /// Answered at once (refused, confirmation needed, a cached result…): the JSON answer.
    Answered(Value),
}

/// Starts a `tools/call` as a background execution (`call_tool` with `"mode": "async"`);
/// every check before the upstream call is the synchronous call's.
pub async fn start_streamed<B: Backend>(
    req: &Request<'_>,
    backend: &B,
) -> Result<Started, RpcFailure> {
    let api = |e: Error| super::message::rpc_error(&e, req.request_id);
    let (mut body, name, arguments) = match prepare(req, backend).await? {
        Prepared::Answered(result) => return Ok(Started::Answered(result)),
        Prepared::Call {
            body,
            name,
            arguments,
        } => (body, name, arguments),
    };
    body["mode"] = json!("async");
    body["ask_watchers"] = json!(true);
    let (status, answer) = backend.call(body).await.map_err(api)?;
    match (status, answer["execution_id"].as_str()) {
        (202, Some(id)) => Ok(Started::Running {
            execution_id: id.to_string(),
            name,
        }),
        _ => answered(req, &name, &arguments, (status, answer)).map(Started::Answered),
    }
}

fn text_result(text: String, meta: Map<String, Value>) -> Value {
    let mut r = json!({ "content": [{ "type": "text", "text": text }], "isError": true });
    if !meta.is_empty() {
        r["_meta"] = Value::Object(meta);
    }
    r
}

/// A `call_tool` answer as a `tools/call` result (see the module invariants).
pub fn tool_result(
    status: u16,
    answer: &Value,
    name: &str,
    request_id: &str,
) -> Result<Value, RpcFailure> {
    let execution_id = answer
        .get("execution_id")
        .or_else(|| answer.pointer("/details/execution_id"))
        .cloned();
    let mut meta = Map::new();
    if let Some(id) = execution_id.filter(|v| v.is_string()) {
        meta.insert(META_EXECUTION_ID.into(), id);
    }
    if status == 200 && answer["confirmation_required"] == true {
        let token = answer["confirmation_token"].as_str().unwrap_or_default();
        meta.insert(META_CONFIRMATION_TOKEN.into(), json!(token));
        let text = format!(
            "Tool '{name}' requires confirmation before it runs. Ask the user to confirm this \
             exact call; then call tools/call again with the same name and arguments and \
             params._meta {{\"{META_CONFIRMATION_TOKEN}\": \"{token}\"}} (valid until {}, once).",
            answer["expires_at"]
                .as_str()
                .unwrap_or("a few minutes from now")
        );
        return Ok(text_result(text, meta));
    }
    if status == 200 {
        let mut result = match answer.get("result") {
            Some(Value::Object(r)) => Value::Object(r.clone()),
            _ => json!({ "content": [] }),
        };
        if result.get("content").is_none() {
            result["content"] = json!([]);
        }
        if answer["success"] == false && result.get("isError").is_none() {
            result["isError"] = json!(true);
        }
        if !meta.is_empty() {
            let mut m = result["_meta"].as_object().cloned().unwrap_or_default();
            m.extend(meta);
            result["_meta"] = Value::Object(m);
        }
        return Ok(result);
    }
    let code = answer["code"].as_str().unwrap_or("internal_error");
    let message = answer["message"]
        .as_str()
        .unwrap_or("the call failed")
        .to_string();
    match code {
        "validation_error" | "not_found" | "conflict" | "tool_error" | "upstream_error"
        | "timeout" => Ok(text_result(format!("{code}: {message}"), meta)),
        _ => {
            let rpc = if status >= 500 {
                INTERNAL_ERROR
            } else {
                SERVER_ERROR
            };
            Err(RpcFailure::new(status, rpc, message).with_data(json!({
                "code": code,
                "details": answer.get("details").cloned().unwrap_or(json!({})),
                "request_id": request_id,
            })))
        }
    }
}

#[cfg(test)]
mod tests;
