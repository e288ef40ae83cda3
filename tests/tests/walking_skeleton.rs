//! The core path end to end, as the PWA drives it: real workers under `wrangler dev`, real MCP
//! servers (server-everything over Streamable HTTP, our Python SDK server), and the D1 rows
//! checked afterwards. One stack per test binary; scenarios run in order on it.

use integration::servers::{everything_streamable, python_streamable};
use integration::stack::{Answer, Stack};
use serde_json::{json, Value};

const SEED: &str = "INSERT INTO teams (id, name, tier) VALUES ('team-a', 'Team A', 'pro'), ('team-b', 'Team B', 'free');";

struct World {
    stack: Stack,
    admin: String,
    member: String,
    other_admin: String,
    everything_id: String,
    python_id: String,
}

fn assert_error(answer: &Answer, status: u16, code: &str) {
    assert_eq!(answer.status, status, "{}", answer.text);
    assert_eq!(answer.body["status"], "error", "{}", answer.text);
    assert_eq!(answer.body["code"], code, "{}", answer.text);
    assert!(answer.body["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
    assert_eq!(answer.body["error"], answer.body["message"]);
    let header = answer
        .header("x-request-id")
        .expect("X-Request-Id on every answer");
    assert_eq!(
        answer.body["request_id"], header,
        "body and header carry the same request id"
    );
}

fn one(stack: &Stack, sql: &str) -> Value {
    let rows = stack.d1(sql);
    assert_eq!(rows.len(), 1, "{sql}: {rows:?}");
    rows.into_iter().next().unwrap()
}

#[test]
fn core_path_end_to_end_against_real_servers() {
    let everything = everything_streamable();
    let python = python_streamable();
    let stack = Stack::start(SEED);
    let admin = stack.token("alice", "team-a", "admin");
    let member = stack.token("bob", "team-a", "member");
    let other_admin = stack.token("mallory", "team-b", "admin");

    let created = stack.call(
        &admin,
        json!({"action": "create_server", "name": "everything", "server_type": "http",
               "config": {"url": everything.url}, "sync": true}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["sync"]["success"], true, "{}", created.text);
    let everything_id = created.body["server"]["id"].as_str().unwrap().to_string();

    let created = stack.call(
        &admin,
        json!({"action": "create_server", "name": "python", "server_type": "http", "config": {"url": python.url}}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let python_id = created.body["server"]["id"].as_str().unwrap().to_string();

    let w = World {
        stack,
        admin,
        member,
        other_admin,
        everything_id,
        python_id,
    };
    sync_fills_the_catalogue_and_marks_servers_connected(&w);
    list_servers_is_scoped_to_the_callers_team(&w);
    list_tools_is_cached_and_the_cache_is_dropped_by_sync(&w);
    call_tool_records_the_execution_and_statistics(&w);
    tool_errors_are_completed_calls_with_success_false(&w);
    tool_timeout_is_504_and_recorded_as_timeout(&w);
    sync_removes_tools_the_server_no_longer_lists(&w);
    bad_requests_get_the_error_contract_and_never_a_500(&w);
    other_teams_ids_are_not_found_and_admin_work_needs_admin(&w);
    disabled_tools_are_hidden_and_refused(&w);
}

fn sync_fills_the_catalogue_and_marks_servers_connected(w: &World) {
    let s = &w.stack;
    let synced = s.call(
        &w.admin,
        json!({"action": "sync_tools", "server_id": w.python_id}),
    );
    assert_eq!(synced.status, 200, "{}", synced.text);
    assert_eq!(synced.body["success"], true);
    let python_tools = synced.body["tools_synced"].as_u64().unwrap();
    assert!(python_tools >= 8, "{}", synced.text);

    for (id, at_least) in [(&w.everything_id, 10), (&w.python_id, python_tools)] {
        let row = one(
            s,
            &format!(
                "SELECT connection_status, last_connected_at, last_error, \
                 (SELECT count(*) FROM mcp_tools WHERE server_id = '{id}') AS tools FROM mcp_servers WHERE id = '{id}'"
            ),
        );
        assert_eq!(row["connection_status"], "connected", "{row}");
        assert!(row["last_connected_at"].is_string(), "{row}");
        assert!(row["last_error"].is_null(), "{row}");
        assert!(row["tools"].as_u64().unwrap() >= at_least, "{row}");
    }
    let echo = one(
        s,
        &format!("SELECT input_schema, team_id FROM mcp_tools WHERE server_id = '{}' AND tool_name = 'echo'", w.everything_id),
    );
    assert_eq!(echo["team_id"], "team-a");
    let schema: Value = serde_json::from_str(echo["input_schema"].as_str().unwrap()).unwrap();
    assert_eq!(schema["required"], json!(["message"]));
}

fn list_servers_is_scoped_to_the_callers_team(w: &World) {
    let mine = w.stack.call(&w.member, json!({"action": "list_servers"}));
    assert_eq!(mine.status, 200, "{}", mine.text);
    let mut names: Vec<&str> = mine.body["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["everything", "python"]);
    let server = &mine.body["servers"][0];
    for field in [
        "id",
        "name",
        "description",
        "server_type",
        "is_active",
        "last_connected_at",
        "connection_status",
    ] {
        assert!(server.get(field).is_some(), "missing {field}: {server}");
    }
    assert!(server.get("config").is_none(), "config stays private");
    let theirs = w
        .stack
        .call(&w.other_admin, json!({"action": "list_servers"}));
    assert_eq!(theirs.body["servers"], json!([]), "{}", theirs.text);
}

fn list_tools_is_cached_and_the_cache_is_dropped_by_sync(w: &World) {
    let s = &w.stack;
    let body = json!({"action": "list_tools", "server_id": w.everything_id});
    let first = s.call(&w.member, body.clone());
    assert_eq!(first.status, 200, "{}", first.text);
    let tools = first.body["tools"].as_array().unwrap();
    let echo = tools
        .iter()
        .find(|t| t["tool_name"] == "echo")
        .expect("echo listed");
    for field in [
        "id",
        "tool_name",
        "description",
        "input_schema",
        "execution_count",
    ] {
        assert!(echo.get(field).is_some(), "missing {field}: {echo}");
    }
    let second = s.call(&w.member, body.clone());
    assert_eq!(second.body["cached"], true, "second read comes from KV");
    assert_eq!(second.body["tools"], first.body["tools"]);

    s.call(
        &w.admin,
        json!({"action": "sync_tools", "server_id": w.everything_id}),
    );
    let third = s.call(&w.member, body);
    assert_eq!(third.body["cached"], false, "sync dropped the cached list");

    let all = s.call(&w.member, json!({"action": "list_tools"}));
    let servers: std::collections::BTreeSet<&str> = all.body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["server_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        servers.len(),
        2,
        "without server_id: every server of the team"
    );
}

fn call_tool_records_the_execution_and_statistics(w: &World) {
    let s = &w.stack;
    let mut execution_ids = Vec::new();
    for i in 0..3 {
        let answer = s.call(
            &w.member,
            json!({"action": "call_tool", "server_id": w.everything_id, "tool_name": "echo",
                   "parameters": {"message": format!("hello {i}")}}),
        );
        assert_eq!(answer.status, 200, "{}", answer.text);
        assert_eq!(answer.body["success"], true);
        assert_eq!(
            answer.body["result"]["content"][0]["text"],
            format!("Echo: hello {i}")
        );
        assert!(answer.body["duration_ms"].is_u64());
        execution_ids.push(answer.body["execution_id"].as_str().unwrap().to_string());
    }
    let add = s.call(
        &w.member,
        json!({"action": "call_tool", "server_id": w.python_id, "tool_name": "add", "parameters": {"a": 2, "b": 40}}),
    );
    assert_eq!(add.status, 200, "{}", add.text);
    assert_eq!(
        add.body["result"]["structuredContent"]["result"], 42,
        "{}",
        add.text
    );

    let row = one(
        s,
        &format!(
            "SELECT status, user_id, team_id, tool_name, input, output, duration_ms, completed_at \
             FROM mcp_tool_executions WHERE id = '{}'",
            execution_ids[2]
        ),
    );
    assert_eq!(row["status"], "success");
    assert_eq!(row["user_id"], "bob");
    assert_eq!(row["team_id"], "team-a");
    assert_eq!(row["tool_name"], "echo");
    assert_eq!(
        serde_json::from_str::<Value>(row["input"].as_str().unwrap()).unwrap(),
        json!({"message": "hello 2"})
    );
    assert!(row["output"].as_str().unwrap().contains("Echo: hello 2"));
    assert!(row["completed_at"].is_string() && row["duration_ms"].is_u64());

    let stats = one(
        s,
        &format!(
            "SELECT execution_count, success_count, error_count, last_executed_at FROM mcp_tools \
             WHERE server_id = '{}' AND tool_name = 'echo'",
            w.everything_id
        ),
    );
    assert_eq!(
        (
            stats["execution_count"].as_u64(),
            stats["success_count"].as_u64(),
            stats["error_count"].as_u64()
        ),
        (Some(3), Some(3), Some(0))
    );
    assert!(stats["last_executed_at"].is_string());
}

fn tool_errors_are_completed_calls_with_success_false(w: &World) {
    let s = &w.stack;
    let answer = s.call(
        &w.member,
        json!({"action": "call_tool", "server_id": w.python_id, "tool_name": "fail", "parameters": {"message": "disk on fire"}}),
    );
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.body["success"], false);
    assert_eq!(answer.body["result"]["isError"], true);
    // The seed client reads `error` from every `success: false` answer.
    assert!(
        answer.body["error"]
            .as_str()
            .is_some_and(|e| e.contains("disk on fire")),
        "{}",
        answer.text
    );
    let row = one(
        s,
        &format!(
            "SELECT status, error FROM mcp_tool_executions WHERE id = '{}'",
            answer.body["execution_id"].as_str().unwrap()
        ),
    );
    assert_eq!(row["status"], "error");
    assert!(
        row["error"].as_str().unwrap().contains("disk on fire"),
        "{row}"
    );
}

fn tool_timeout_is_504_and_recorded_as_timeout(w: &World) {
    let s = &w.stack;
    let tool_id = one(
        s,
        &format!(
            "SELECT id FROM mcp_tools WHERE server_id = '{}' AND tool_name = 'sleep'",
            w.python_id
        ),
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    let policy = s.call(
        &w.admin,
        json!({"action": "update_tool", "tool_id": tool_id, "timeout_seconds": 1}),
    );
    assert_eq!(policy.status, 200, "{}", policy.text);
    let answer = s.call(
        &w.member,
        json!({"action": "call_tool", "server_id": w.python_id, "tool_name": "sleep", "parameters": {"seconds": 5}}),
    );
    assert_error(&answer, 504, "timeout");
    let execution_id = answer.body["details"]["execution_id"]
        .as_str()
        .expect("execution id in details");
    let row = one(s, &format!("SELECT status, duration_ms, error FROM mcp_tool_executions WHERE id = '{execution_id}'"));
    assert_eq!(row["status"], "timeout", "{row}");
    let duration = row["duration_ms"].as_u64().unwrap();
    assert!(
        (900..5000).contains(&duration),
        "gave up near the 1 s budget: {row}"
    );
    let stats = one(
        s,
        &format!("SELECT execution_count, error_count FROM mcp_tools WHERE id = '{tool_id}'"),
    );
    assert_eq!(
        (
            stats["execution_count"].as_u64(),
            stats["error_count"].as_u64()
        ),
        (Some(1), Some(1))
    );
}

fn sync_removes_tools_the_server_no_longer_lists(w: &World) {
    let s = &w.stack;
    // A tool the server once had (as if removed upstream since the last sync).
    s.d1(&format!(
        "INSERT INTO mcp_tools (id, server_id, team_id, tool_name) VALUES ('gone-tool', '{}', 'team-a', 'retired_tool') RETURNING id",
        w.python_id
    ));
    let synced = s.call(
        &w.admin,
        json!({"action": "sync_tools", "server_id": w.python_id}),
    );
    assert_eq!(synced.status, 200, "{}", synced.text);
    assert_eq!(synced.body["tools_removed"], 1, "{}", synced.text);
    assert!(s
        .d1("SELECT id FROM mcp_tools WHERE id = 'gone-tool'")
        .is_empty());
    // History survives: the sleep tool's statistics were kept through the re-sync.
    let kept = one(s, &format!("SELECT execution_count, timeout_seconds FROM mcp_tools WHERE server_id = '{}' AND tool_name = 'sleep'", w.python_id));
    assert_eq!(
        (
            kept["execution_count"].as_u64(),
            kept["timeout_seconds"].as_u64()
        ),
        (Some(1), Some(1))
    );
}

fn bad_requests_get_the_error_contract_and_never_a_500(w: &World) {
    let s = &w.stack;
    let cases: Vec<(Option<&str>, String, u16, &str)> = vec![
        (None, json!({"action": "list_servers"}).to_string(), 401, "auth_error"),
        (Some("not-a-jwt"), json!({"action": "list_servers"}).to_string(), 401, "auth_error"),
        (Some(&w.member), "{not json".into(), 400, "validation_error"),
        (Some(&w.member), "[]".into(), 400, "validation_error"),
        (Some(&w.member), json!({"action": "launch_missiles"}).to_string(), 400, "validation_error"),
        (Some(&w.member), json!({"action": 42}).to_string(), 400, "validation_error"),
        (Some(&w.member), json!({"action": "call_tool", "tool_name": "echo"}).to_string(), 400, "validation_error"),
        (Some(&w.member), json!({"action": "call_tool", "server_id": w.everything_id}).to_string(), 400, "validation_error"),
        (Some(&w.member), json!({"action": "call_tool", "server_id": w.everything_id, "tool_name": "echo", "parameters": [1]}).to_string(), 400, "validation_error"),
        (Some(&w.member), json!({"action": "list_tools", "server_id": 17}).to_string(), 400, "validation_error"),
        (Some(&w.member), json!({"action": "list_tools", "server_id": "no-such-server"}).to_string(), 404, "not_found"),
        (Some(&w.member), json!({"action": "call_tool", "server_id": w.everything_id, "tool_name": "no_such_tool"}).to_string(), 404, "not_found"),
        (Some(&w.member), format!(r#"{{"action":"list_servers","pad":"{}"}}"#, "x".repeat(300 * 1024)), 413, "payload_too_large"),
    ];
    for (token, body, status, code) in cases {
        let answer = s.post_raw(token, &body);
        assert_error(&answer, status, code);
    }
    let before = one(s, "SELECT count(*) AS n FROM mcp_tool_executions")["n"].as_u64();
    let mistyped = s.call(
        &w.member,
        json!({"action": "call_tool", "server_id": w.everything_id, "tool_name": "echo", "parameters": {"message": 5}}),
    );
    assert_error(&mistyped, 400, "validation_error");
    assert_eq!(
        mistyped.body["details"]["errors"][0]["path"], "/message",
        "{}",
        mistyped.text
    );
    let missing = s.call(
        &w.member,
        json!({"action": "call_tool", "server_id": w.python_id, "tool_name": "add", "parameters": {"a": 1}}),
    );
    assert_error(&missing, 400, "validation_error");
    assert_eq!(
        missing.body["details"]["errors"][0]["path"], "/b",
        "{}",
        missing.text
    );
    let after = one(s, "SELECT count(*) AS n FROM mcp_tool_executions")["n"].as_u64();
    assert_eq!(
        before, after,
        "arguments are checked against the input schema before anything is recorded or sent"
    );

    let get = s.request("GET", "/", Some(&w.member), None, &[]);
    assert_error(&get, 400, "validation_error");
    let elsewhere = s.request("POST", "/admin.php", Some(&w.member), Some("{}"), &[]);
    assert_error(&elsewhere, 404, "not_found");
    let legacy_path = s.request(
        "POST",
        "/functions/v1/mcp-client",
        Some(&w.member),
        Some(r#"{"action":"list_servers"}"#),
        &[],
    );
    assert_eq!(
        legacy_path.status, 200,
        "the path the existing PWA uses works too"
    );
}

fn other_teams_ids_are_not_found_and_admin_work_needs_admin(w: &World) {
    let s = &w.stack;
    let echo_id = one(
        s,
        &format!(
            "SELECT id FROM mcp_tools WHERE server_id = '{}' AND tool_name = 'echo'",
            w.everything_id
        ),
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    let before = one(s, "SELECT count(*) AS n FROM mcp_tool_executions")["n"].as_u64();
    for body in [
        json!({"action": "list_tools", "server_id": w.everything_id}),
        json!({"action": "call_tool", "server_id": w.everything_id, "tool_name": "echo", "parameters": {"message": "x"}}),
        json!({"action": "sync_tools", "server_id": w.everything_id}),
        json!({"action": "update_server", "server_id": w.everything_id, "is_active": false}),
        json!({"action": "update_tool", "tool_id": echo_id, "is_enabled": false}),
        json!({"action": "delete_server", "server_id": w.everything_id}),
    ] {
        assert_error(&s.call(&w.other_admin, body), 404, "not_found");
    }
    for body in [
        json!({"action": "sync_tools", "server_id": w.everything_id}),
        json!({"action": "update_tool", "tool_id": echo_id, "is_enabled": false}),
        json!({"action": "create_server", "name": "x", "server_type": "http", "config": {"url": "http://127.0.0.1:1/mcp"}}),
        json!({"action": "delete_server", "server_id": w.everything_id}),
    ] {
        assert_error(&s.call(&w.member, body), 403, "authorization_error");
    }
    let after = one(s, "SELECT count(*) AS n FROM mcp_tool_executions")["n"].as_u64();
    assert_eq!(before, after, "refused calls record nothing");
    assert_eq!(
        one(
            s,
            &format!(
                "SELECT is_active FROM mcp_servers WHERE id = '{}'",
                w.everything_id
            )
        )["is_active"],
        1
    );
}

fn disabled_tools_are_hidden_and_refused(w: &World) {
    let s = &w.stack;
    let echo_id = one(
        s,
        &format!(
            "SELECT id FROM mcp_tools WHERE server_id = '{}' AND tool_name = 'echo'",
            w.python_id
        ),
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    let off = s.call(
        &w.admin,
        json!({"action": "update_tool", "tool_id": echo_id, "is_enabled": false}),
    );
    assert_eq!(off.status, 200, "{}", off.text);
    let listed = s.call(
        &w.member,
        json!({"action": "list_tools", "server_id": w.python_id}),
    );
    assert!(
        listed.body["tools"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["tool_name"] != "echo"),
        "{}",
        listed.text
    );
    let refused = s.call(
        &w.member,
        json!({"action": "call_tool", "server_id": w.python_id, "tool_name": "echo", "parameters": {"message": "x"}}),
    );
    assert_error(&refused, 403, "authorization_error");
}
