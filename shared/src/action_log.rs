//! The one structured log line an action worker writes per action, with OpenTelemetry's
//! semantic names where one exists (`http.response.status_code`, `server.address`,
//! `mcp.method.name`, `gen_ai.tool.name`, `error.type`, `trace_id`, `span_id`) beside ours
//! (`request_id`, `team_id`, `user_id`, `server_id`, `execution_id`, `duration_ms`,
//! `mcp_edge.action`).
//!
//! Invariants: the fields come only from the envelope's identity and ids, the action's name,
//! the request's `server_id`/`tool_name`, and the reply's status, code and execution id —
//! never a tool's arguments or result, a credential or a server's config; so no secret can
//! reach a log line through them. `error.type` is set exactly when the action failed: the
//! error code of an error answer, or `tool_error` / `confirmation_required` / `failed` for an
//! answer with `success: false`.

use serde_json::{json, Map, Value};

use crate::actions::Reply;
use crate::api::{Action, ActionRequest};
use crate::identity::Identity;
use crate::trace::TraceContext;

/// What the line is made of.
pub struct ActionOutcome<'a> {
    pub identity: &'a Identity,
    /// The public request the envelope carried, as the action decoded it (`None`: it did not
    /// decode, and the line says only who called and how it ended).
    pub request: Option<&'a ActionRequest>,
    pub reply: &'a Reply,
    pub duration_ms: u64,
    /// The upstream server's host (and port) the action last sent a request to, if any.
    pub upstream: Option<&'a str>,
    pub trace: Option<&'a TraceContext>,
}

/// The MCP method an action sends upstream, if it sends one.
pub fn mcp_method(action: Action) -> Option<&'static str> {
    match action {
        Action::CallTool => Some("tools/call"),
        Action::SyncTools => Some("tools/list"),
        _ => None,
    }
}

/// The line's fields (the caller adds `level`, `worker`, `request_id` and `msg`).
pub fn fields(outcome: &ActionOutcome) -> Map<String, Value> {
    let ActionOutcome {
        identity,
        request,
        reply,
        ..
    } = outcome;
    let action = request.map(|r| r.action);
    let field = |name: &str| request.and_then(|r| r.body.get(name)?.as_str());
    let mut f = Map::new();
    if let Some(action) = action {
        f.insert("mcp_edge.action".into(), json!(action.name()));
        if let Some(method) = mcp_method(action) {
            f.insert("mcp.method.name".into(), json!(method));
        }
    }
    f.insert("team_id".into(), json!(identity.team_id));
    f.insert("user_id".into(), json!(identity.user_id));
    f.insert("http.response.status_code".into(), json!(reply.status));
    f.insert("duration_ms".into(), json!(outcome.duration_ms));
    if let Some(server_id) = field("server_id") {
        f.insert("server_id".into(), json!(server_id));
    }
    if let (Some(Action::CallTool), Some(tool)) = (action, field("tool_name")) {
        f.insert("gen_ai.tool.name".into(), json!(tool));
    }
    if let Some(host) = outcome.upstream {
        let (address, port) = match host.rsplit_once(':') {
            Some((a, p)) if !a.is_empty() && p.parse::<u16>().is_ok() => (a, p.parse().ok()),
            _ => (host, None::<u16>),
        };
        f.insert("server.address".into(), json!(address));
        if let Some(port) = port {
            f.insert("server.port".into(), json!(port));
        }
    }
    let body = &reply.body;
    if let Some(id) = body["execution_id"]
        .as_str()
        .or_else(|| body["details"]["execution_id"].as_str())
    {
        f.insert("execution_id".into(), json!(id));
    }
    if let Some(kind) = error_type(action, reply) {
        f.insert("error.type".into(), json!(kind));
    }
    if let Some(trace) = outcome.trace {
        f.insert("trace_id".into(), json!(trace.trace_id));
        f.insert("span_id".into(), json!(trace.span_id));
    }
    f
}

fn error_type(action: Option<Action>, reply: &Reply) -> Option<String> {
    let body = &reply.body;
    if reply.status >= 400 {
        return Some(body["code"].as_str().unwrap_or("http_error").to_string());
    }
    if body["success"] != json!(false) {
        return None;
    }
    Some(
        if body["confirmation_required"] == json!(true) {
            "confirmation_required"
        } else if action == Some(Action::CallTool) {
            "tool_error"
        } else {
            "failed"
        }
        .to_string(),
    )
}

/// The host (and port) of an absolute URL, for `server.address`: what follows `://` up to the
/// path, without userinfo.
pub fn host_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Role;

    fn identity() -> Identity {
        Identity {
            user_id: "u1".into(),
            team_id: "t1".into(),
            role: Role::Member,
        }
    }

    fn line(request: Value, reply: Reply, upstream: Option<&str>) -> Map<String, Value> {
        let trace = TraceContext {
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
            span_id: "00f067aa0ba902b7".into(),
            flags: "01".into(),
        };
        fields(&ActionOutcome {
            identity: &identity(),
            request: Some(&ActionRequest::parse(request.to_string().as_bytes()).unwrap()),
            reply: &reply,
            duration_ms: 12,
            upstream,
            trace: Some(&trace),
        })
    }

    #[test]
    fn a_request_that_did_not_decode_leaves_only_who_called_and_how_it_ended() {
        let f = fields(&ActionOutcome {
            identity: &identity(),
            request: None,
            reply: &Reply::error(&crate::Error::validation("bad"), "r1", Map::new()),
            duration_ms: 3,
            upstream: None,
            trace: None,
        });
        assert_eq!(
            Value::Object(f),
            json!({
                "team_id": "t1", "user_id": "u1", "http.response.status_code": 400,
                "duration_ms": 3, "error.type": "validation_error",
            })
        );
    }

    #[test]
    fn a_tool_call_names_its_tool_method_server_execution_and_trace() {
        let f = line(
            json!({"action": "call_tool", "server_id": "s1", "tool_name": "echo",
                   "parameters": {"api_key": "sk-secret"}}),
            Reply::ok(json!({"success": true, "result": {"content": []}, "execution_id": "e1"})),
            Some("mcp.example.com:8443"),
        );
        assert_eq!(
            Value::Object(f.clone()),
            json!({
                "mcp_edge.action": "call_tool", "mcp.method.name": "tools/call",
                "team_id": "t1", "user_id": "u1", "http.response.status_code": 200,
                "duration_ms": 12, "server_id": "s1", "gen_ai.tool.name": "echo",
                "server.address": "mcp.example.com", "server.port": 8443,
                "execution_id": "e1",
                "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7",
            })
        );
        assert!(!Value::Object(f).to_string().contains("sk-secret"));
    }

    #[test]
    fn error_type_is_set_exactly_when_the_action_failed() {
        let failed_call = line(
            json!({"action": "call_tool", "server_id": "s1", "tool_name": "fail"}),
            Reply::ok(json!({"success": false, "error": "boom", "execution_id": "e2"})),
            None,
        );
        assert_eq!(failed_call["error.type"], "tool_error");
        let timeout = line(
            json!({"action": "call_tool", "server_id": "s1", "tool_name": "slow"}),
            Reply {
                status: 504,
                body: json!({"code": "timeout", "details": {"execution_id": "e3"}}),
            },
            None,
        );
        assert_eq!(timeout["error.type"], "timeout");
        assert_eq!(timeout["execution_id"], "e3");
        let confirm = line(
            json!({"action": "call_tool", "tool_name": "t"}),
            Reply::ok(json!({"success": false, "confirmation_required": true})),
            None,
        );
        assert_eq!(confirm["error.type"], "confirmation_required");
        let sync = line(
            json!({"action": "sync_tools"}),
            Reply::ok(json!({"success": false, "error": "one server failed"})),
            None,
        );
        assert_eq!(sync["error.type"], "failed");
        assert_eq!(sync["mcp.method.name"], "tools/list");
        let listed = line(
            json!({"action": "list_servers"}),
            Reply::ok(json!({"servers": []})),
            None,
        );
        assert!(!listed.contains_key("error.type"));
        assert!(!listed.contains_key("mcp.method.name"));
        assert!(!listed.contains_key("gen_ai.tool.name"));
    }

    #[test]
    fn host_of_reads_the_authority_without_userinfo() {
        assert_eq!(
            host_of("https://mcp.example.com/mcp"),
            Some("mcp.example.com")
        );
        assert_eq!(host_of("http://127.0.0.1:8080"), Some("127.0.0.1:8080"));
        assert_eq!(
            host_of("https://user:pw@h.example:1/x?y"),
            Some("h.example:1")
        );
        assert_eq!(host_of("not a url"), None);
    }
}
