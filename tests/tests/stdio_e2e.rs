//! stdio servers end to end: the real workers under `wrangler dev` → a local stdio bridge of the
//! test's own (as `scripts/dev.sh` runs one, but on a free port with its own token, the workers'
//! `STDIO_BRIDGE_URL` and `BRIDGE_TOKEN` pointing at it) → real stdio MCP servers: the reference
//! filesystem and everything servers from npm, registered as catalogue connectors
//! (`config/connectors`), and our Python SDK server (`tests/servers/py_stdio_server.py`), a
//! free-form command: this stack turns on the operators' `ALLOW_FREEFORM_STDIO_COMMANDS` for it
//! (its bridge is local). Connectors with the setting off: `connectors_e2e.rs`. One stack and
//! one bridge per test binary; scenarios run in order on them.

use std::cell::RefCell;

use base64::Engine;
use integration::bridge::{self, Bridge};
use integration::root;
use integration::stack::{Answer, Stack};
use serde_json::{json, Value};

const SEED: &str =
    "INSERT INTO teams (id, name, tier, rate_limit_per_hour, user_calls_per_day) VALUES \
    ('team-s', 'Team S', 'enterprise', 100000, 100000), \
    ('team-t', 'Team T', 'enterprise', 100000, 100000);";
/// The secret environment value of the Python server (its credential).
const SECRET: &str = "stdio-secret-4f1c9a7e2b";
const SECRET_T: &str = "team-t-secret-9d3e1b22";
const SECRET_ENV: &str = "MCP_EDGE_TEST_SECRET";

struct World {
    stack: Stack,
    bridge: Bridge,
    admin: String,
    member: String,
    admin_t: String,
    member_t: String,
    answers: RefCell<Vec<String>>,
}

impl World {
    fn call(&self, token: &str, body: Value) -> Answer {
        let answer = self.stack.call(token, body);
        self.answers.borrow_mut().push(answer.text.clone());
        answer
    }

    fn create(&self, token: &str, name: &str, config: Value) -> Answer {
        self.call(
            token,
            json!({"action": "create_server", "name": name, "server_type": "stdio",
                   "config": config, "sync": true}),
        )
    }

    fn create_connector(
        &self,
        token: &str,
        name: &str,
        connector: &str,
        parameters: Value,
    ) -> Answer {
        self.call(
            token,
            json!({"action": "create_server", "name": name, "connector": connector,
                   "parameters": parameters, "sync": true}),
        )
    }

    fn call_tool(&self, token: &str, server_id: &str, tool: &str, parameters: Value) -> Answer {
        self.call(
            token,
            json!({"action": "call_tool", "server_id": server_id, "tool_name": tool,
                   "parameters": parameters}),
        )
    }

    fn text_of(answer: &Answer) -> String {
        answer.body["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_else(|| panic!("no text result: {}", answer.text))
            .to_string()
    }
}

fn id_of(created: &Answer) -> String {
    assert_eq!(created.status, 201, "{}", created.text);
    created.body["server"]["id"].as_str().unwrap().to_string()
}

fn assert_error(answer: &Answer, status: u16, code: &str) {
    assert_eq!(answer.status, status, "{}", answer.text);
    assert_eq!(answer.body["status"], "error", "{}", answer.text);
    assert_eq!(answer.body["code"], code, "{}", answer.text);
}

fn python() -> String {
    root().join(".venv/bin/python").display().to_string()
}

fn py_server() -> String {
    root()
        .join("tests/servers/py_stdio_server.py")
        .display()
        .to_string()
}

#[test]
fn stdio_servers_run_through_wrangler_dev_and_the_bridge() {
    let bridge = bridge::start();
    let mut dev_vars = bridge.worker_dev_vars().to_vec();
    // The Python test server is a free-form command: an operator's setting, on for this stack.
    dev_vars.push(("ALLOW_FREEFORM_STDIO_COMMANDS", "true"));
    let stack =
        Stack::start_with_dev_vars(SEED, &[("RATE_LIMIT_ADMIN_PER_HOUR", "100000")], &dev_vars);
    let w = World {
        admin: stack.token("sam", "team-s", "admin"),
        member: stack.token("sue", "team-s", "member"),
        admin_t: stack.token("tom", "team-t", "admin"),
        member_t: stack.token("tia", "team-t", "member"),
        stack,
        bridge,
        answers: RefCell::new(Vec::new()),
    };
    filesystem_server_lists_and_reads_a_temporary_folder(&w);
    everything_server_echoes_over_stdio(&w);
    let python_id = secret_env_reaches_the_child_and_nothing_else(&w);
    commands_outside_the_allow_list_are_refused_by_the_api_and_the_bridge(&w);
    two_teams_with_the_same_command_get_different_children(&w, &python_id);
}

fn filesystem_server_lists_and_reads_a_temporary_folder(w: &World) {
    let dir = tempfile::tempdir().expect("temp dir");
    // The bridge runs the server as a uid of its own: the folder must be readable by others.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let dir_path = dir.path().canonicalize().unwrap().display().to_string();
    std::fs::write(dir.path().join("hello.txt"), "hello from a stdio server\n").unwrap();

    let created = w.create_connector(
        &w.admin,
        "filesystem",
        "filesystem",
        json!({"folder": dir_path}),
    );
    let id = id_of(&created);
    assert_eq!(created.body["sync"]["success"], true, "{}", created.text);
    assert_eq!(created.body["server"]["server_type"], "stdio");
    assert_eq!(
        created.body["server"]["config"]["parameters"],
        json!({"folder": dir_path}),
        "the config is stored as checked"
    );
    assert_eq!(created.body["server"]["config"]["connector"], "filesystem");

    let tools = w.call(&w.member, json!({"action": "list_tools", "server_id": id}));
    let names: Vec<&str> = tools.body["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", tools.text))
        .iter()
        .filter_map(|t| t["tool_name"].as_str())
        .collect();
    assert!(
        names.contains(&"read_text_file") && names.contains(&"list_directory"),
        "{names:?}"
    );

    let listed = w.call_tool(&w.member, &id, "list_directory", json!({"path": dir_path}));
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.body["success"], true, "{}", listed.text);
    assert!(
        World::text_of(&listed).contains("[FILE] hello.txt"),
        "{}",
        listed.text
    );

    let read = w.call_tool(
        &w.member,
        &id,
        "read_text_file",
        json!({"path": format!("{dir_path}/hello.txt")}),
    );
    assert_eq!(read.body["success"], true, "{}", read.text);
    assert_eq!(World::text_of(&read).trim(), "hello from a stdio server");

    let rows = w.stack.d1(&format!(
        "SELECT e.status FROM mcp_tool_executions e JOIN mcp_tools t ON t.id = e.tool_id \
         WHERE t.server_id = '{id}' ORDER BY e.started_at"
    ));
    assert_eq!(
        rows,
        vec![json!({"status": "success"}), json!({"status": "success"})]
    );
    let server = w.stack.d1(&format!(
        "SELECT connection_status FROM mcp_servers WHERE id = '{id}'"
    ));
    assert_eq!(server[0]["connection_status"], "connected");
}

fn everything_server_echoes_over_stdio(w: &World) {
    let id = id_of(&w.create_connector(&w.admin, "everything", "everything", json!({})));
    let echoed = w.call_tool(
        &w.member,
        &id,
        "echo",
        json!({"message": "hello over stdio"}),
    );
    assert_eq!(echoed.body["success"], true, "{}", echoed.text);
    assert_eq!(World::text_of(&echoed), "Echo: hello over stdio");
}

/// The Python server needs `MCP_EDGE_TEST_SECRET`: it comes from the server's sealed
/// credential, reaches the child (its `env` tool sees it), and appears in no answer, log line,
/// D1 row or stderr tail.
fn secret_env_reaches_the_child_and_nothing_else(w: &World) -> String {
    let created = w.create(
        &w.admin,
        "python",
        json!({"command": python(), "args": [py_server()], "env_names": [SECRET_ENV]}),
    );
    let id = id_of(&created);
    // Declared but not set: nothing is started, and the admin is told what to set.
    assert_eq!(created.body["sync"]["success"], false, "{}", created.text);
    assert_eq!(created.body["sync"]["code"], "conflict", "{}", created.text);
    assert!(
        created.body["sync"]["error"]
            .as_str()
            .is_some_and(|m| m.contains(SECRET_ENV) && m.contains("set_credential")),
        "{}",
        created.text
    );

    // Env values never go in the plain config.
    let refused = w.call(
        &w.admin,
        json!({"action": "update_server", "server_id": id,
               "config": {"command": python(), "args": [py_server()], "env": {SECRET_ENV: SECRET}}}),
    );
    assert_error(&refused, 400, "validation_error");
    assert!(refused.text.contains("set_credential"), "{}", refused.text);
    // A stdio server's credential is its environment: custom_headers with variable names.
    let wrong_type = w.call(
        &w.admin,
        json!({"action": "set_credential", "server_id": id, "credential_type": "bearer",
               "credential": {"token": SECRET}}),
    );
    assert_error(&wrong_type, 400, "validation_error");
    let bad_name = w.call(
        &w.admin,
        json!({"action": "set_credential", "server_id": id, "credential_type": "custom_headers",
               "credential": {"headers": {"LD_PRELOAD": SECRET}}}),
    );
    assert_error(&bad_name, 400, "validation_error");

    let set = w.call(
        &w.admin,
        json!({"action": "set_credential", "server_id": id, "credential_type": "custom_headers",
               "credential": {"headers": {SECRET_ENV: SECRET}}}),
    );
    assert_eq!(set.status, 200, "{}", set.text);
    let synced = w.call(&w.admin, json!({"action": "sync_tools", "server_id": id}));
    assert_eq!(synced.body["success"], true, "{}", synced.text);

    // The child sees exactly the secret (the redactor turns exactly it into the mask; an unset
    // variable would read ""), and the answer never carries it.
    let seen = w.call_tool(&w.member, &id, "env", json!({"name": SECRET_ENV}));
    assert_eq!(seen.body["success"], true, "{}", seen.text);
    assert_eq!(World::text_of(&seen), "[redacted]", "{}", seen.text);
    let other = w.call_tool(&w.member, &id, "env", json!({"name": "BRIDGE_TOKEN"}));
    assert_eq!(
        World::text_of(&other),
        "",
        "the bridge's token never reaches a child"
    );

    // A child that writes the secret to stderr and dies: the error names the exit, not the value.
    let crashed = w.call_tool(
        &w.member,
        &id,
        "crash",
        json!({"code": 3, "stderr_env": SECRET_ENV}),
    );
    assert!(crashed.status >= 400, "{}", crashed.text);
    eprintln!("a crashing stdio server: {}", crashed.text);
    assert!(
        !crashed.text.contains(SECRET),
        "secret in the crash answer: {}",
        crashed.text
    );
    let (status, tail) = w.bridge.stderr("team-s", &id);
    assert_eq!(status, 200, "{tail}");
    assert!(!tail.contains(SECRET), "secret in the stderr tail: {tail}");
    // The next call starts the server again, with its environment.
    let again = w.call_tool(&w.member, &id, "env", json!({"name": SECRET_ENV}));
    assert_eq!(World::text_of(&again), "[redacted]", "{}", again.text);

    let log = w.stack.log_text();
    let bridge_log = w.bridge.log_text();
    let mut d1 = String::new();
    for table in [
        "mcp_servers",
        "mcp_tools",
        "mcp_tool_executions",
        "mcp_server_credentials",
    ] {
        d1.push_str(&Value::from(w.stack.d1(&format!("SELECT * FROM {table}"))).to_string());
    }
    let answers = w.answers.borrow().join("\n");
    assert!(d1.contains("encrypted_value") && d1.contains(SECRET_ENV));
    let encoded = base64::engine::general_purpose::STANDARD.encode(SECRET);
    for (what, text) in [
        ("an answer", &answers),
        ("the wrangler dev log", &log),
        ("the bridge log", &bridge_log),
        ("D1", &d1),
    ] {
        assert!(!text.contains(SECRET), "the secret is in {what}");
        assert!(!text.contains(&encoded), "the secret (base64) is in {what}");
        assert!(
            !text.contains(&w.bridge.token),
            "the bridge token is in {what}"
        );
    }
    id
}

fn commands_outside_the_allow_list_are_refused_by_the_api_and_the_bridge(w: &World) {
    for command in ["bash", "/bin/sh", "npx"] {
        let refused = w.create(
            &w.admin,
            "shell",
            json!({"command": command, "args": ["-c", "id"]}),
        );
        assert_error(&refused, 400, "validation_error");
        assert_eq!(
            refused.body["details"]["field"], "config.command",
            "{}",
            refused.text
        );
        assert!(
            refused.body["details"]["allowed"]
                .as_array()
                .is_some_and(|a| a.iter().any(|e| e == "mcp-server-filesystem")),
            "{}",
            refused.text
        );
    }
    let relative = w.create(
        &w.admin,
        "relative",
        json!({"command": "bin/mcp-server-everything"}),
    );
    assert_error(&relative, 400, "validation_error");

    // A row written before the allow-list changed (here: straight into D1) reaches the bridge,
    // which refuses to start it and says why; the server is marked failing.
    w.stack.d1(
        "INSERT INTO mcp_servers (id, team_id, name, server_type, config, created_by) VALUES \
         ('legacy-shell', 'team-s', 'legacy-shell', 'stdio', '{\"command\":\"/bin/sh\",\"args\":[]}', 'sam')",
    );
    let synced = w.call(
        &w.admin,
        json!({"action": "sync_tools", "server_id": "legacy-shell"}),
    );
    assert_error(&synced, 502, "upstream_error");
    eprintln!("a command the bridge refuses: {}", synced.text);
    assert!(
        synced.text.contains("allow-list"),
        "the bridge's refusal reaches the admin: {}",
        synced.text
    );
    let row = w
        .stack
        .d1("SELECT last_error, consecutive_failures FROM mcp_servers WHERE id = 'legacy-shell'");
    assert!(
        row[0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("allow-list")),
        "{row:?}"
    );

    // And the bridge on its own: 403 with a clear message.
    let spec = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(json!({"command": "/bin/sh", "args": ["-c", "id"]}).to_string());
    let (status, body) = w.bridge.post(
        "team-s",
        "direct",
        &spec,
        &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"}}}),
    );
    assert_eq!(status, 403, "{body}");
    assert!(body.to_string().contains("allow-list"), "{body}");
}

/// Two teams register the same command: each gets its own child (different pids), with its
/// own environment, and neither can use the other's server.
fn two_teams_with_the_same_command_get_different_children(w: &World, python_s: &str) {
    let created = w.create(
        &w.admin_t,
        "python",
        json!({"command": python(), "args": [py_server()], "env_names": [SECRET_ENV]}),
    );
    let python_t = id_of(&created);
    let set = w.call(
        &w.admin_t,
        json!({"action": "set_credential", "server_id": python_t,
               "credential_type": "custom_headers", "credential": {"headers": {SECRET_ENV: SECRET_T}}}),
    );
    assert_eq!(set.status, 200, "{}", set.text);
    let synced = w.call(
        &w.admin_t,
        json!({"action": "sync_tools", "server_id": python_t}),
    );
    assert_eq!(synced.body["success"], true, "{}", synced.text);

    let pid = |token: &str, id: &str| -> u64 {
        let a = w.call_tool(token, id, "pid", json!({}));
        assert_eq!(a.body["success"], true, "{}", a.text);
        World::text_of(&a)
            .parse()
            .unwrap_or_else(|_| panic!("{}", a.text))
    };
    let (pid_s, pid_t) = (pid(&w.member, python_s), pid(&w.member_t, &python_t));
    assert_ne!(pid_s, pid_t, "each team's server runs in its own child");
    assert_eq!(
        pid(&w.member, python_s),
        pid_s,
        "and keeps it between calls"
    );

    // Each child has its own team's secret only: team T's child reads T's value (masked in
    // T's answer), and team S's answer masks S's value, not T's.
    let t_seen = w.call_tool(&w.member_t, &python_t, "env", json!({"name": SECRET_ENV}));
    assert_eq!(World::text_of(&t_seen), "[redacted]", "{}", t_seen.text);
    let s_seen = w.call_tool(&w.member, python_s, "env", json!({"name": SECRET_ENV}));
    assert_eq!(World::text_of(&s_seen), "[redacted]", "{}", s_seen.text);

    // Neither team can reach the other's server.
    let cross = w.call_tool(&w.member_t, python_s, "pid", json!({}));
    assert_error(&cross, 404, "not_found");
    let health = w.bridge.health();
    assert!(
        health["children"].as_u64().is_some_and(|n| n >= 2),
        "{health}"
    );
}
