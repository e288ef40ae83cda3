//! `/mcp` and `/mcp/servers/<name>` under `wrangler dev`, driven by real MCP clients: the
//! official Python SDK client, the official TypeScript SDK client and MCP Inspector's CLI
//! (both protocol eras), plus raw JSON-RPC for the statuses. The upstreams are our Python SDK
//! server (`demo`) and the conformance fixture (`fixture`, for a tool that elicits); the SDK
//! clients each make a call with progress and one whose elicitation their handler answers.
//! The D1 rows are checked afterwards. One stack; scenarios run in order on it.

use std::process::Command;

use integration::servers::{python_script, python_streamable};
use integration::stack::{Answer, Stack};
use integration::{free_port, root, tool_path};
use serde_json::{json, Value};

/// `team-r` has a tiny budget: the rate-limit scenario spends it.
const SEED: &str = "INSERT INTO teams (id, name, tier, rate_limit_per_hour) VALUES \
    ('team-a', 'Team A', 'enterprise', 100000), ('team-b', 'Team B', 'enterprise', 100000), \
    ('team-r', 'Team R', 'enterprise', 6);";

struct World {
    stack: Stack,
    admin: String,
    member: String,
    outsider: String,
    server_id: String,
}

impl World {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.stack.base)
    }

    fn rpc(
        &self,
        path: &str,
        token: Option<&str>,
        body: Value,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut all = vec![("accept", "application/json, text/event-stream")];
        all.extend_from_slice(headers);
        self.stack
            .request("POST", path, token, Some(&body.to_string()), &all)
    }

    fn call(&self, token: &str, name: &str, arguments: Value) -> Answer {
        self.rpc(
            "/mcp",
            Some(token),
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                   "params": {"name": name, "arguments": arguments}}),
            &[],
        )
    }

    fn executions(&self, user: &str) -> Vec<Value> {
        self.stack.d1(&format!(
            "SELECT tool_name, status, input FROM mcp_tool_executions WHERE user_id = '{user}' ORDER BY started_at"
        ))
    }
}

/// Runs a client program; its stdout's last line is JSON.
fn run_client(program: &str, args: &[&str]) -> Value {
    let out = Command::new(program)
        .args(args)
        .env("PATH", tool_path())
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {stdout}\n{stderr}"
    );
    let last = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'));
    serde_json::from_str(last.unwrap_or_default())
        .unwrap_or_else(|e| panic!("{program}: {e}; stdout:\n{stdout}\nstderr:\n{stderr}"))
}

#[test]
fn mcp_clients_use_the_teams_tools_through_the_gateway() {
    let python = python_streamable();
    let stack = Stack::start(SEED);
    let admin = stack.token("alice", "team-a", "admin");
    let member = stack.token("bob", "team-a", "member");
    let outsider = stack.token("mallory", "team-b", "admin");
    let created = stack.call(
        &admin,
        json!({"action": "create_server", "name": "demo", "server_type": "http",
               "config": {"url": python.url}, "sync": true}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["sync"]["success"], true, "{}", created.text);
    let server_id = created.body["server"]["id"].as_str().unwrap().to_string();
    // The conformance fixture's tools include one that elicits (the SDK clients' scenario).
    let fixture = python_script(
        "conformance-fixture",
        "tests/servers/conformance_fixture.py",
        &[],
        free_port(),
        "/mcp",
    );
    // The same server spoken to as 2026-07-28 (stateless): its questions are input_required
    // rounds, not server→client requests.
    for (name, transport) in [("fixture", "streamable_http"), ("modern", "stateless")] {
        let added = stack.call(
            &admin,
            json!({"action": "create_server", "name": name, "server_type": "http",
                   "config": {"url": fixture.url, "transport": transport}, "sync": true}),
        );
        assert_eq!(added.status, 201, "{}", added.text);
        assert_eq!(added.body["sync"]["success"], true, "{}", added.text);
    }
    // Memberships are written by the harness on a request of its own, before any client's.
    assert_eq!(
        stack
            .call(&outsider, json!({"action": "list_servers"}))
            .status,
        200
    );
    assert_eq!(
        stack
            .call(&member, json!({"action": "list_servers"}))
            .status,
        200
    );
    let w = World {
        stack,
        admin,
        member,
        outsider,
        server_id,
    };
    the_handshake_negotiates_and_answers_json(&w);
    no_token_is_401_with_a_bearer_challenge_and_delete_is_405(&w);
    a_foreign_origin_is_refused(&w);
    tools_list_namespaces_and_tools_call_runs_through_call_tool(&w);
    model_ready_lists_name_tools_as_mcp_does(&w);
    the_python_sdk_client_lists_and_calls(&w);
    the_typescript_sdk_client_lists_and_calls(&w);
    mcp_inspector_cli_lists_and_calls_in_both_eras(&w);
    stateless_requests_need_matching_routing_headers(&w);
    a_server_endpoint_serves_its_own_names(&w);
    another_team_sees_none_of_the_tools(&w);
    a_tool_that_requires_confirmation_says_how_to_confirm(&w);
    a_held_stream_hears_the_catalogue_change(&w);
    the_clients_log_level_drops_lower_messages_of_streamed_calls(&w);
    tools_call_spends_the_call_tool_budget(&w);
}

fn the_handshake_negotiates_and_answers_json(w: &World) {
    for (asked, answered) in [
        ("2025-06-18", "2025-06-18"),
        ("2025-11-25", "2025-11-25"),
        ("2024-01-01", "2025-11-25"),
    ] {
        let a = w.rpc(
            "/mcp",
            Some(&w.member),
            json!({"jsonrpc": "2.0", "id": "init", "method": "initialize",
                   "params": {"protocolVersion": asked, "capabilities": {},
                              "clientInfo": {"name": "raw", "version": "1"}}}),
            &[],
        );
        assert_eq!(a.status, 200, "{}", a.text);
        assert!(a
            .header("content-type")
            .unwrap()
            .starts_with("application/json"));
        assert_eq!(a.body["id"], "init");
        assert_eq!(a.body["result"]["protocolVersion"], answered, "{}", a.text);
        assert!(a.body["result"]["capabilities"]["tools"].is_object());
        assert!(
            a.header("mcp-session-id").is_none(),
            "stateless: no session"
        );
    }
    let n = w.rpc(
        "/mcp",
        Some(&w.member),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        &[],
    );
    assert_eq!(n.status, 202, "{}", n.text);
    let ping = w.rpc(
        "/mcp",
        Some(&w.member),
        json!({"jsonrpc": "2.0", "id": 2, "method": "ping"}),
        &[("mcp-protocol-version", "2025-11-25")],
    );
    assert_eq!(ping.body["result"], json!({}), "{}", ping.text);
    let bad_version = w.rpc(
        "/mcp",
        Some(&w.member),
        json!({"jsonrpc": "2.0", "id": 3, "method": "ping"}),
        &[("mcp-protocol-version", "1999-01-01")],
    );
    assert_eq!(bad_version.status, 400, "{}", bad_version.text);
    let batch = w.stack.request(
        "POST",
        "/mcp",
        Some(&w.member),
        Some(r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#),
        &[],
    );
    assert_eq!(batch.status, 400, "{}", batch.text);
    assert_eq!(batch.body["error"]["code"], -32600);
}

fn no_token_is_401_with_a_bearer_challenge_and_delete_is_405(w: &World) {
    let a = w.rpc(
        "/mcp",
        None,
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        &[],
    );
    assert_eq!(a.status, 401, "{}", a.text);
    assert!(a.header("www-authenticate").unwrap().starts_with("Bearer"));
    assert!(a.body["error"]["code"].is_i64());
    assert!(!a.text.contains("echo"), "nothing of the team's tools");
    let forged = w.rpc(
        "/mcp",
        Some("not.a.jwt"),
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        &[],
    );
    assert_eq!(forged.status, 401, "{}", forged.text);
    // GET is the standalone stream (`a_held_stream_hears_the_catalogue_change`): the same
    // bearer; a GET that does not accept an event stream, and DELETE, are 405.
    let anonymous = w.stack.request(
        "GET",
        "/mcp",
        None,
        None,
        &[("accept", "text/event-stream")],
    );
    assert_eq!(anonymous.status, 401, "{}", anonymous.text);
    for (method, accept) in [("GET", "application/json"), ("DELETE", "*/*")] {
        let refused = w
            .stack
            .request(method, "/mcp", Some(&w.member), None, &[("accept", accept)]);
        assert_eq!(refused.status, 405, "{method}: {}", refused.text);
        assert_eq!(refused.header("allow"), Some("GET, POST"));
    }
}

fn a_foreign_origin_is_refused(w: &World) {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    let evil = w.rpc(
        "/mcp",
        Some(&w.member),
        body.clone(),
        &[("origin", "http://evil.example.com")],
    );
    assert_eq!(evil.status, 403, "{}", evil.text);
    assert!(!evil.text.contains("echo"));
    let listed = w.rpc(
        "/mcp",
        Some(&w.member),
        body,
        &[("origin", "http://localhost:5173")],
    );
    assert_eq!(listed.status, 200, "{}", listed.text);
}

fn tool_names(answer: &Answer) -> Vec<String> {
    answer.body["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", answer.text))
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

fn tools_list_namespaces_and_tools_call_runs_through_call_tool(w: &World) {
    let listed = w.rpc(
        "/mcp",
        Some(&w.member),
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        &[],
    );
    assert_eq!(listed.status, 200, "{}", listed.text);
    let names = tool_names(&listed);
    assert!(names.contains(&"demo__echo".to_string()), "{names:?}");
    assert!(names.contains(&"demo__add".to_string()), "{names:?}");
    let echo = listed.body["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "demo__echo")
        .unwrap();
    assert_eq!(echo["inputSchema"]["required"], json!(["message"]));

    let before = w.executions("bob").len();
    let called = w.call(&w.member, "demo__add", json!({"a": 2, "b": 3}));
    assert_eq!(called.status, 200, "{}", called.text);
    assert_eq!(
        called.body["result"]["content"][0]["text"], "5",
        "{}",
        called.text
    );
    assert!(called.body["result"]["_meta"]["mcp-edge/execution_id"].is_string());
    let rows = w.stack.await_rows(
        "SELECT tool_name, status FROM mcp_tool_executions WHERE user_id = 'bob' AND status = 'success'",
        before + 1,
    );
    assert_eq!(rows.last().unwrap()["tool_name"], "add");

    // Arguments are validated by call_tool: the model reads why, nothing ran.
    let refused = w.call(&w.member, "demo__add", json!({"a": "two"}));
    assert_eq!(refused.status, 200, "{}", refused.text);
    assert_eq!(refused.body["result"]["isError"], true, "{}", refused.text);
    assert!(refused.body["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with("validation_error"));
    // A tool's own failure is a tool result too.
    let failed = w.call(&w.member, "demo__fail", json!({"message": "boom"}));
    assert_eq!(failed.body["result"]["isError"], true, "{}", failed.text);
    let unknown = w.call(&w.member, "demo__nope", json!({}));
    assert_eq!(unknown.body["error"]["code"], -32602, "{}", unknown.text);
}

fn model_ready_lists_name_tools_as_mcp_does(w: &World) {
    for format in ["openai", "anthropic", "gemini"] {
        let a = w
            .stack
            .call(&w.member, json!({"action": "list_tools", "format": format}));
        assert_eq!(a.status, 200, "{}", a.text);
        let target = &a.body["mapping"]["demo__echo"];
        assert_eq!(
            target["server_id"],
            w.server_id.as_str(),
            "{format}: {}",
            a.text
        );
        assert_eq!(target["tool_name"], "echo");
    }
}

/// What the SDK clients do on one session: an echo, a call with progress (`demo__progress`
/// reports 1, 2, 3 of 3) and two calls whose tool elicits (the fixture's `test_elicitation`
/// asks for a `username` and `email`, both with defaults: only the client's handler can make
/// the result name `username`): once as a server→client request of the handshake era, once
/// as a 2026-07-28 `input_required` round (`modern__test_elicitation_round`, the same
/// question through the SDK's resolver). The elicitation calls carry a progress token too:
/// under the default `MCP_STREAM_CALLS = "progress"` only such a call is streamed, and only a
/// streamed call can ask its client (README "What travels during a call").
fn sdk_calls(client: &str) -> String {
    json!([
        {"tool": "demo__echo", "arguments": {"message": format!("from {client}")}},
        {"tool": "demo__progress", "arguments": {"steps": 3}, "progress": true},
        {"tool": "fixture__test_elicitation", "arguments": {"message": "Who are you?"},
         "progress": true, "answer": {"username": format!("{client}-user"),
                                      "email": format!("{client}@example.com")}},
        {"tool": "modern__test_elicitation_round", "arguments": {"message": "And in a round?"},
         "progress": true, "answer": {"username": format!("{client}-round"),
                                      "email": format!("{client}@example.com")}},
    ])
    .to_string()
}

/// The progress and elicitation calls of [`sdk_calls`], as a client reported them.
fn assert_relayed_progress_and_elicitation(out: &Value, client: &str) {
    let calls = out["calls"].as_array().unwrap_or_else(|| panic!("{out}"));
    let progress = &calls[1];
    assert_eq!(progress["result"]["content"][0]["text"], "done", "{out}");
    let seen: Vec<f64> = progress["progress"]
        .as_array()
        .unwrap_or_else(|| panic!("{out}"))
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    assert_eq!(seen, [1.0, 2.0, 3.0], "{out}");
    for (call, question, user) in [
        (&calls[2], "Who are you?", "user"),
        (&calls[3], "And in a round?", "round"),
    ] {
        assert_eq!(call["elicited"], json!([question]), "{out}");
        let text = call["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_else(|| panic!("{out}"));
        assert!(
            text.starts_with("User response: accept")
                && text.contains(&format!("{client}-{user}"))
                && text.contains(&format!("{client}@example.com")),
            "{out}"
        );
    }
}

fn the_python_sdk_client_lists_and_calls(w: &World) {
    let python = root().join(".venv/bin/python");
    let out = run_client(
        python.to_str().unwrap(),
        &[
            "tests/clients/py_client.py",
            &w.url("/mcp"),
            &w.member,
            &sdk_calls("python"),
        ],
    );
    assert_eq!(out["serverName"], "mcp-edge", "{out}");
    assert!(
        out["tools"]
            .as_array()
            .unwrap()
            .contains(&json!("demo__echo")),
        "{out}"
    );
    assert_eq!(
        out["calls"][0]["result"]["content"][0]["text"], "from python",
        "{out}"
    );
    assert_relayed_progress_and_elicitation(&out, "python");
    let rows = w.executions("bob");
    assert!(rows.iter().any(|r| r["input"]
        .as_str()
        .is_some_and(|i| i.contains("from python"))));
}

fn the_typescript_sdk_client_lists_and_calls(w: &World) {
    let out = run_client(
        "node",
        &[
            "tests/clients/ts_client.mjs",
            &w.url("/mcp"),
            &w.member,
            &sdk_calls("typescript"),
        ],
    );
    assert_eq!(out["protocolVersion"], "2025-11-25", "{out}");
    assert!(
        out["tools"]
            .as_array()
            .unwrap()
            .contains(&json!("demo__add")),
        "{out}"
    );
    assert_eq!(
        out["calls"][0]["result"]["content"][0]["text"], "from typescript",
        "{out}"
    );
    assert_relayed_progress_and_elicitation(&out, "typescript");
}

fn mcp_inspector_cli_lists_and_calls_in_both_eras(w: &World) {
    let url = w.url("/mcp");
    let auth = format!("Authorization: Bearer {}", w.member);
    for era in ["legacy", "modern"] {
        let base = [
            "--cli",
            "--server-url",
            &url,
            "--transport",
            "http",
            "--header",
            &auth,
            "--protocol-era",
            era,
            "--format",
            "json",
            "-q",
        ];
        let mut list = base.to_vec();
        list.extend(["--method", "tools/list"]);
        // `--format json`: `{"result": …}`.
        let out = run_client("mcp-inspector", &list)["result"].take();
        let names: Vec<&str> = out["tools"]
            .as_array()
            .unwrap_or_else(|| panic!("{era}: {out}"))
            .iter()
            .filter_map(|t| t["name"].as_str())
            .collect();
        assert!(names.contains(&"demo__echo"), "{era}: {out}");
        let mut call = base.to_vec();
        call.extend([
            "--method",
            "tools/call",
            "--tool-name",
            "demo__echo",
            "--tool-arg",
            "message=inspected",
        ]);
        let out = run_client("mcp-inspector", &call)["result"].take();
        assert_eq!(out["content"][0]["text"], "inspected", "{era}: {out}");
    }
}

fn stateless_requests_need_matching_routing_headers(w: &World) {
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}});
    let discover = w.rpc(
        "/mcp",
        Some(&w.member),
        json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": meta}}),
        &[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "server/discover"),
        ],
    );
    assert_eq!(discover.status, 200, "{}", discover.text);
    assert_eq!(
        discover.body["result"]["supportedVersions"][0],
        "2026-07-28"
    );
    assert_eq!(discover.body["result"]["resultType"], "complete");
    let body = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                      "params": {"name": "demo__echo", "arguments": {"message": "m"}, "_meta": meta}});
    let mismatched = w.rpc(
        "/mcp",
        Some(&w.member),
        body.clone(),
        &[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "demo__add"),
        ],
    );
    assert_eq!(mismatched.status, 400, "{}", mismatched.text);
    let ok = w.rpc(
        "/mcp",
        Some(&w.member),
        body,
        &[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "demo__echo"),
        ],
    );
    assert_eq!(ok.body["result"]["content"][0]["text"], "m", "{}", ok.text);
}

fn a_server_endpoint_serves_its_own_names(w: &World) {
    let listed = w.rpc(
        "/mcp/servers/demo",
        Some(&w.member),
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        &[],
    );
    let names = tool_names(&listed);
    assert!(names.contains(&"echo".to_string()) && !names.iter().any(|n| n.contains("__")));
    let called = w.rpc(
        "/mcp/servers/demo",
        Some(&w.member),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
               "params": {"name": "echo", "arguments": {"message": "direct"}}}),
        &[],
    );
    assert_eq!(
        called.body["result"]["content"][0]["text"], "direct",
        "{}",
        called.text
    );
    let missing = w.rpc(
        "/mcp/servers/nope",
        Some(&w.member),
        json!({"jsonrpc": "2.0", "id": 3, "method": "initialize",
               "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                          "clientInfo": {"name": "raw", "version": "1"}}}),
        &[],
    );
    assert_eq!(missing.status, 404, "{}", missing.text);
}

fn another_team_sees_none_of_the_tools(w: &World) {
    let listed = w.rpc(
        "/mcp",
        Some(&w.outsider),
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        &[],
    );
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.body["result"]["tools"], json!([]), "{}", listed.text);
    let before = w.executions("mallory").len();
    let called = w.call(&w.outsider, "demo__echo", json!({"message": "x"}));
    assert_eq!(called.body["error"]["code"], -32602, "{}", called.text);
    let direct = w.rpc(
        "/mcp/servers/demo",
        Some(&w.outsider),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
               "params": {"name": "echo", "arguments": {"message": "x"}}}),
        &[],
    );
    assert_eq!(direct.body["error"]["code"], -32602, "{}", direct.text);
    // Naming team-a explicitly is refused as for the action API.
    let named = w.rpc(
        "/mcp",
        Some(&w.outsider),
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"}),
        &[("x-team-id", "team-a")],
    );
    assert_eq!(named.status, 403, "{}", named.text);
    assert!(!named.text.contains("echo"));
    assert_eq!(w.executions("mallory").len(), before);
}

fn a_tool_that_requires_confirmation_says_how_to_confirm(w: &World) {
    let updated = w.stack.call(
        &w.admin,
        json!({"action": "update_tool", "server_id": w.server_id, "tool_name": "echo",
               "requires_confirmation": true}),
    );
    assert_eq!(updated.status, 200, "{}", updated.text);
    let before = w.executions("bob").len();
    let asked = w.call(&w.member, "demo__echo", json!({"message": "careful"}));
    let result = &asked.body["result"];
    assert_eq!(result["isError"], true, "{}", asked.text);
    let text = result["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("requires confirmation") && text.contains("mcp-edge/confirmation_token"),
        "{text}"
    );
    let token = result["_meta"]["mcp-edge/confirmation_token"]
        .as_str()
        .unwrap();
    assert_eq!(w.executions("bob").len(), before, "nothing ran");
    let confirmed = w.rpc(
        "/mcp",
        Some(&w.member),
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
               "params": {"name": "demo__echo", "arguments": {"message": "careful"},
                          "_meta": {"mcp-edge/confirmation_token": token}}}),
        &[],
    );
    assert_eq!(
        confirmed.body["result"]["content"][0]["text"], "careful",
        "{}",
        confirmed.text
    );

    // A 2026-07-28 client that can elicit is asked, statelessly (input_required round).
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}}});
    let headers = [
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", "demo__echo"),
    ];
    let call = |extra: Value| {
        let mut params =
            json!({"name": "demo__echo", "arguments": {"message": "asked"}, "_meta": meta});
        params
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        w.rpc(
            "/mcp",
            Some(&w.member),
            json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": params}),
            &headers,
        )
    };
    let before = w.executions("bob").len();
    let asked = call(json!({}));
    let result = &asked.body["result"];
    assert_eq!(result["resultType"], "input_required", "{}", asked.text);
    assert_eq!(
        result["inputRequests"]["confirm"]["method"],
        "elicitation/create"
    );
    let state = result["requestState"].as_str().unwrap();
    let declined = call(json!({"requestState": state,
                               "inputResponses": {"confirm": {"action": "decline"}}}));
    assert_eq!(
        declined.body["result"]["isError"], true,
        "{}",
        declined.text
    );
    assert_eq!(w.executions("bob").len(), before, "nothing ran");
    let accepted = call(json!({"requestState": state,
        "inputResponses": {"confirm": {"action": "accept", "content": {"confirm": true}}}}));
    assert_eq!(
        accepted.body["result"]["content"][0]["text"], "asked",
        "{}",
        accepted.text
    );
    assert_eq!(accepted.body["result"]["resultType"], "complete");
    w.stack.call(
        &w.admin,
        json!({"action": "update_tool", "server_id": w.server_id, "tool_name": "echo",
               "requires_confirmation": false}),
    );
}

/// The TypeScript SDK client holds `/mcp`'s standalone stream (it opens it itself after
/// `initialize`, as the gateway declares `tools.listChanged`); an admin disables a tool; the
/// client gets `notifications/tools/list_changed` and its re-list no longer has the tool.
fn a_held_stream_hears_the_catalogue_change(w: &World) {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let mut child = Command::new("node")
        .args(["tests/clients/ts_listen.mjs", &w.url("/mcp"), &w.member])
        .env("PATH", tool_path())
        .current_dir(root())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push(line.clone());
        if line == "listening" {
            break;
        }
    }
    assert_eq!(
        seen.last().map(String::as_str),
        Some("listening"),
        "{seen:?}"
    );
    let disabled = w.stack.call(
        &w.admin,
        json!({"action": "update_tool", "server_id": w.server_id, "tool_name": "add",
               "is_enabled": false}),
    );
    assert_eq!(disabled.status, 200, "{}", disabled.text);
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    let out: Value = rest
        .iter()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no answer: {rest:?}"));
    assert!(status.success(), "{out}");
    assert_eq!(out["listChanged"], true, "{out}");
    let has_add = |names: &Value| names.as_array().unwrap().contains(&json!("demo__add"));
    assert!(has_add(&out["before"]), "{out}");
    assert!(!has_add(&out["after"]), "{out}");
    let enabled = w.stack.call(
        &w.admin,
        json!({"action": "update_tool", "server_id": w.server_id, "tool_name": "add",
               "is_enabled": true}),
    );
    assert_eq!(enabled.status, 200, "{}", enabled.text);
}

/// The messages of an event-stream answer.
fn sse_messages(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str(d.trim()).ok())
        .collect()
}

/// `logging/setLevel` is kept for the caller (KV, no session): a streamed call of the
/// fixture's `test_tool_with_logging` (three `info` lines) relays none of them at `warning`,
/// all three at `info`.
fn the_clients_log_level_drops_lower_messages_of_streamed_calls(w: &World) {
    let logged_at = |level: &str| {
        let set = w.rpc(
            "/mcp",
            Some(&w.member),
            json!({"jsonrpc": "2.0", "id": 1, "method": "logging/setLevel",
                   "params": {"level": level}}),
            &[],
        );
        assert_eq!(set.body["result"], json!({}), "{}", set.text);
        let called = w.rpc(
            "/mcp",
            Some(&w.member),
            json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                   "params": {"name": "fixture__test_tool_with_logging", "arguments": {},
                              "_meta": {"progressToken": "levels"}}}),
            &[],
        );
        let messages = sse_messages(&called.text);
        let last = messages.last().unwrap_or_else(|| panic!("{}", called.text));
        assert_eq!(last["id"], 2, "{}", called.text);
        assert_eq!(last["result"]["isError"], false, "{}", called.text);
        messages
            .iter()
            .filter(|m| m["method"] == "notifications/message")
            .map(|m| {
                m["params"]["level"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(logged_at("warning"), Vec::<String>::new());
    assert_eq!(logged_at("info"), ["info", "info", "info"]);
    assert_eq!(logged_at("debug").len(), 3);
}

fn tools_call_spends_the_call_tool_budget(w: &World) {
    // team-r: 6 units an hour, a call costs 2: three calls, then 429.
    let carol = w.stack.token("carol", "team-r", "member");
    let mut admitted = 0;
    let mut limited = None;
    for _ in 0..6 {
        let a = w.call(&carol, "demo__echo", json!({"message": "x"}));
        if a.status == 429 {
            limited = Some(a);
            break;
        }
        assert_eq!(a.status, 200, "{}", a.text);
        admitted += 1;
    }
    let limited = limited.expect("tools/call is rate limited");
    assert_eq!(admitted, 3, "a tools/call costs what call_tool costs");
    assert_eq!(
        limited.body["error"]["data"]["code"], "rate_limit",
        "{}",
        limited.text
    );
    assert!(limited.header("retry-after").is_some());
    assert!(limited.header("ratelimit-limit").is_some());
}
