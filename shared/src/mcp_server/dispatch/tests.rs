use std::cell::RefCell;

use serde_json::{json, Value};

use super::*;
use crate::tool_formats::{render, CatalogTool, ToolFormat};

/// A team with `demo` (echo, add) and `other.srv` (echo); `call_tool` answers are scripted.
struct Team {
    answer: (u16, Value),
    calls: RefCell<Vec<Value>>,
}

impl Team {
    fn answering(status: u16, body: Value) -> Team {
        Team {
            answer: (status, body),
            calls: RefCell::new(Vec::new()),
        }
    }
}

fn tool(server_id: &str, server: &str, name: &str) -> CatalogTool {
    CatalogTool {
        server_id: server_id.into(),
        server_name: server.into(),
        tool_name: name.into(),
        title: None,
        description: Some(format!("{name} on {server}")),
        input_schema: json!({"type": "object"}),
        annotations: Some(json!({"readOnlyHint": true})),
    }
}

impl Backend for Team {
    async fn tools(&self) -> Result<Value, Error> {
        Ok(render(
            ToolFormat::Mcp,
            &[
                tool("s1", "demo", "add"),
                tool("s1", "demo", "echo"),
                tool("s2", "other.srv", "echo"),
            ],
        ))
    }
    async fn has_server(&self, name: &str) -> Result<bool, Error> {
        Ok(name == "demo" || name == "other.srv")
    }
    async fn call(&self, request: Value) -> Result<(u16, Value), Error> {
        self.calls.borrow_mut().push(request);
        Ok(self.answer.clone())
    }
}

fn ok_team() -> Team {
    Team::answering(
        200,
        json!({"success": true, "execution_id": "ex-1",
               "result": {"content": [{"type": "text", "text": "hi"}]}}),
    )
}

async fn ask(
    team: &Team,
    scope: Scope<'_>,
    method: &str,
    params: Value,
) -> Result<Value, RpcFailure> {
    respond(
        &Request {
            method,
            params: &params,
            stateless: false,
            scope,
            request_id: "req-1",
        },
        team,
    )
    .await
}

#[tokio::test(flavor = "current_thread")]
async fn initialize_negotiates_and_declares_tools_and_logging() {
    let r = ask(
        &ok_team(),
        Scope::Team,
        "initialize",
        json!({"protocolVersion": "2025-06-18"}),
    )
    .await
    .unwrap();
    assert_eq!(r["protocolVersion"], "2025-06-18");
    assert_eq!(
        r["capabilities"],
        json!({"tools": {"listChanged": true}, "logging": {}})
    );
    let r = ask(
        &ok_team(),
        Scope::Team,
        "initialize",
        json!({"protocolVersion": "2099-01-01"}),
    )
    .await
    .unwrap();
    assert_eq!(r["protocolVersion"], version::LATEST_HANDSHAKE);
    let err = ask(&ok_team(), Scope::Server("nope"), "initialize", json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.status, 404);
}

#[tokio::test(flavor = "current_thread")]
async fn discover_lists_every_version_and_stateless_results_say_complete() {
    let params = json!({});
    let r = respond(
        &Request {
            method: "server/discover",
            params: &params,
            stateless: true,
            scope: Scope::Team,
            request_id: "r",
        },
        &ok_team(),
    )
    .await
    .unwrap();
    assert_eq!(r["supportedVersions"][0], version::STATELESS);
    assert_eq!(r["resultType"], "complete");
    assert_eq!(
        r["capabilities"]["tools"]["listChanged"], false,
        "no standalone stream in 2026-07-28"
    );
    assert_eq!(
        (r["ttlMs"].clone(), r["cacheScope"].clone()),
        (json!(0), json!("private"))
    );
    assert!(r["serverInfo"]["name"].is_string());
}

#[tokio::test(flavor = "current_thread")]
async fn the_team_endpoint_lists_namespaced_names_and_a_server_endpoint_its_own() {
    let team = ok_team();
    let r = ask(&team, Scope::Team, "tools/list", json!({}))
        .await
        .unwrap();
    let names: Vec<&str> = r["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 3);
    assert!(names.contains(&"demo__echo") && names.contains(&"demo__add"));
    assert!(names.iter().all(|n| crate::tool_names::is_valid(n)));
    assert_eq!(r["tools"][0]["annotations"]["readOnlyHint"], true);
    let r = ask(&team, Scope::Server("other.srv"), "tools/list", json!({}))
        .await
        .unwrap();
    assert_eq!(r["tools"].as_array().unwrap().len(), 1);
    assert_eq!(r["tools"][0]["name"], "echo");
}

#[tokio::test(flavor = "current_thread")]
async fn a_call_goes_to_call_tool_with_the_mapped_server_and_tool() {
    let team = ok_team();
    let r = ask(
        &team,
        Scope::Team,
        "tools/call",
        json!({"name": "demo__echo", "arguments": {"message": "hi"}}),
    )
    .await
    .unwrap();
    assert_eq!(r["content"][0]["text"], "hi");
    assert_eq!(r["_meta"][META_EXECUTION_ID], "ex-1");
    ask(
        &team,
        Scope::Server("other.srv"),
        "tools/call",
        json!({"name": "echo"}),
    )
    .await
    .unwrap();
    assert_eq!(
        *team.calls.borrow(),
        vec![
            json!({"action": "call_tool", "server_id": "s1", "tool_name": "echo", "parameters": {"message": "hi"}}),
            json!({"action": "call_tool", "server_id": "s2", "tool_name": "echo"}),
        ]
    );
}

#[tokio::test(flavor = "current_thread")]
async fn an_unknown_name_calls_nothing() {
    let team = ok_team();
    for (scope, name) in [
        (Scope::Team, "echo"),
        (Scope::Server("demo"), "demo__echo"),
        (Scope::Team, "nope__x"),
    ] {
        let err = ask(&team, scope, "tools/call", json!({"name": name}))
            .await
            .unwrap_err();
        assert_eq!((err.status, err.code), (200, INVALID_PARAMS));
    }
    assert!(team.calls.borrow().is_empty());
    let err = ask(&team, Scope::Team, "resources/list", json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.code, METHOD_NOT_FOUND);
}

#[tokio::test(flavor = "current_thread")]
async fn confirmation_is_a_tool_error_saying_how_to_confirm_and_the_token_goes_back() {
    let team = Team::answering(
        200,
        json!({"success": false, "confirmation_required": true,
        "confirmation_token": "v1.tok", "expires_at": "2026-11-30T06:00:00Z"}),
    );
    let r = ask(
        &team,
        Scope::Team,
        "tools/call",
        json!({"name": "demo__add"}),
    )
    .await
    .unwrap();
    assert_eq!(r["isError"], true);
    let text = r["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("requires confirmation")
            && text.contains("v1.tok")
            && text.contains(META_CONFIRMATION_TOKEN)
    );
    assert_eq!(r["_meta"][META_CONFIRMATION_TOKEN], "v1.tok");
    ask(
        &team,
        Scope::Team,
        "tools/call",
        json!({"name": "demo__add", "_meta": {META_CONFIRMATION_TOKEN: "v1.tok"}}),
    )
    .await
    .unwrap();
    assert_eq!(team.calls.borrow()[1]["confirmation_token"], "v1.tok");
}

#[test]
fn call_failures_are_tool_errors_and_caller_failures_rpc_errors() {
    let tool_error = tool_result(
        200,
        &json!({"success": false, "execution_id": "e",
        "result": {"content": [{"type": "text", "text": "bad"}], "isError": true}}),
        "t",
        "r",
    )
    .unwrap();
    assert_eq!(tool_error["isError"], true);
    for (status, code) in [
        (400, "validation_error"),
        (502, "upstream_error"),
        (504, "timeout"),
    ] {
        let r = tool_result(
            status,
            &json!({"code": code, "message": "m", "details": {"execution_id": "e"}}),
            "t",
            "r",
        )
        .unwrap();
        assert_eq!(r["isError"], true, "{code}");
        assert_eq!(r["_meta"][META_EXECUTION_ID], "e");
    }
    for (status, code) in [
        (429, "rate_limit"),
        (403, "authorization_error"),
        (500, "internal_error"),
    ] {
        let e = tool_result(status, &json!({"code": code, "message": "m"}), "t", "r").unwrap_err();
        assert_eq!(e.status, status);
        assert_eq!(e.data.unwrap()["code"], code);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_stateless_client_with_elicitation_is_asked_and_its_yes_runs_the_call() {
    use crate::mcp_server::confirm::INPUT_KEY;
    use crate::mcp_server::version::META_CLIENT_CAPABILITIES;
    let team = Team::answering(
        200,
        json!({"success": false, "confirmation_required": true,
        "confirmation_token": "v1.tok", "expires_at": "2026-11-30T06:00:00Z"}),
    );
    let meta = json!({META_CLIENT_CAPABILITIES: {"elicitation": {}}});
    let ask_stateless = |params: Value| {
        let team = &team;
        async move {
            respond(
                &Request {
                    method: "tools/call",
                    params: &params,
                    stateless: true,
                    scope: Scope::Team,
                    request_id: "r",
                },
                team,
            )
            .await
        }
    };
    let asked = ask_stateless(json!({"name": "demo__add", "arguments": {"a": 1}, "_meta": meta}))
        .await
        .unwrap();
    assert_eq!(asked["resultType"], "input_required");
    assert_eq!(asked["requestState"], "v1.tok");
    assert_eq!(
        asked["inputRequests"][INPUT_KEY]["method"],
        "elicitation/create"
    );
    let declined = ask_stateless(
        json!({"name": "demo__add", "arguments": {"a": 1}, "_meta": meta,
        "requestState": "v1.tok", "inputResponses": {INPUT_KEY: {"action": "decline"}}}),
    )
    .await
    .unwrap();
    assert_eq!(declined["isError"], true);
    assert_eq!(team.calls.borrow().len(), 1, "a refusal calls nothing");
    ask_stateless(
        json!({"name": "demo__add", "arguments": {"a": 1}, "_meta": meta,
        "requestState": "v1.tok",
        "inputResponses": {INPUT_KEY: {"action": "accept", "content": {"confirm": true}}}}),
    )
    .await
    .unwrap();
    assert_eq!(team.calls.borrow()[1]["confirmation_token"], "v1.tok");
}

#[tokio::test(flavor = "current_thread")]
async fn a_streamed_call_runs_in_the_background_and_an_immediate_answer_stays_json() {
    let params = json!({"name": "demo__echo", "arguments": {"message": "hi"},
                        "_meta": {"progressToken": "p"}});
    let req = Request {
        method: "tools/call",
        params: &params,
        stateless: false,
        scope: Scope::Team,
        request_id: "req-1",
    };
    let running = Team::answering(
        202,
        json!({"success": true, "execution_id": "ex-9", "status": "running"}),
    );
    assert_eq!(
        start_streamed(&req, &running).await.unwrap(),
        Started::Running {
            execution_id: "ex-9".into(),
            name: "demo__echo".into()
        }
    );
    assert_eq!(running.calls.borrow()[0]["mode"], "async");
    assert_eq!(running.calls.borrow()[0]["ask_watchers"], true);
    assert_eq!(running.calls.borrow()[0]["tool_name"], "echo");
    let refused = Team::answering(
        400,
        json!({"code": "validation_error", "message": "bad arguments"}),
    );
    match start_streamed(&req, &refused).await.unwrap() {
        Started::Answered(r) => assert_eq!(r["isError"], true),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn set_level_accepts_the_spec_levels_only() {
    let ok = ask(
        &ok_team(),
        Scope::Team,
        "logging/setLevel",
        json!({"level": "debug"}),
    )
    .await
    .unwrap();
    assert_eq!(ok, json!({}));
    let err = ask(
        &ok_team(),
        Scope::Team,
        "logging/setLevel",
        json!({"level": "loud"}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, INVALID_PARAMS);
}
