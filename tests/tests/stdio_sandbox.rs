//! The stdio sandbox end to end: the real workers under `wrangler dev` → a local stdio bridge of
//! the test's own, sandboxing as it does by default (`BRIDGE_SANDBOX=auto`: PID and mount
//! namespaces where the kernel allows, else a uid per child) → two teams' copies of the hostile
//! server (`tests/servers/hostile_stdio_server.py`). Team B's copy looks for team A's secret
//! (set with `set_credential`, in team A's child's environment) and for the file team A's child
//! wrote into its home, for the bridge's token and the workers' settings, and finds none. With
//! one child per team allowed, team A's second server is refused with the cap named.

use std::cell::RefCell;

use integration::bridge;
use integration::root;
use integration::stack::{Answer, Stack};
use serde_json::{json, Value};

const SEED: &str =
    "INSERT INTO teams (id, name, tier, rate_limit_per_hour, user_calls_per_day) VALUES \
    ('team-a', 'Team A', 'enterprise', 100000, 100000), \
    ('team-b', 'Team B', 'enterprise', 100000, 100000);";
const SECRET_ENV: &str = "MCP_EDGE_VICTIM_SECRET";
const SECRET_A: &str = "team-a-env-secret-71c0de55";
const FILE_SECRET_A: &str = "team-a-file-secret-3be90a14";

struct World {
    stack: Stack,
    answers: RefCell<Vec<String>>,
}

impl World {
    fn call(&self, token: &str, body: Value) -> Answer {
        let answer = self.stack.call(token, body);
        self.answers.borrow_mut().push(answer.text.clone());
        answer
    }

    fn call_tool(&self, token: &str, server_id: &str, tool: &str, parameters: Value) -> String {
        let a = self.call(
            token,
            json!({"action": "call_tool", "server_id": server_id, "tool_name": tool,
                   "parameters": parameters}),
        );
        assert_eq!(a.body["success"], true, "{tool}: {}", a.text);
        a.body["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_else(|| panic!("no text result: {}", a.text))
            .to_string()
    }

    /// Registers the hostile server for the admin's team, with `env_names`, and syncs it.
    fn hostile(&self, admin: &str, name: &str, env_names: &[&str]) -> String {
        let config = json!({"command": root().join(".venv/bin/python").display().to_string(),
            "args": [root().join("tests/servers/hostile_stdio_server.py").display().to_string()],
            "env_names": env_names});
        let created = self.call(
            admin,
            json!({"action": "create_server", "name": name, "server_type": "stdio",
                   "config": config}),
        );
        assert_eq!(created.status, 201, "{}", created.text);
        created.body["server"]["id"].as_str().unwrap().to_string()
    }

    fn sync(&self, admin: &str, id: &str) {
        let synced = self.call(admin, json!({"action": "sync_tools", "server_id": id}));
        assert_eq!(synced.body["success"], true, "{}", synced.text);
    }
}

#[test]
fn a_teams_hostile_stdio_server_cannot_read_another_teams_secrets() {
    let bridge = bridge::start_with(&[
        ("BRIDGE_SANDBOX", "auto"),
        ("BRIDGE_MAX_CHILDREN_PER_TEAM", "1"),
    ]);
    let mut dev_vars = bridge.worker_dev_vars().to_vec();
    // The hostile server is a free-form command (a test server, not a catalogue connector):
    // an operator's setting, on for this stack.
    dev_vars.push(("ALLOW_FREEFORM_STDIO_COMMANDS", "true"));
    let stack =
        Stack::start_with_dev_vars(SEED, &[("RATE_LIMIT_ADMIN_PER_HOUR", "100000")], &dev_vars);
    let w = World {
        stack,
        answers: RefCell::new(Vec::new()),
    };
    let admin_a = w.stack.token("ann", "team-a", "admin");
    let member_a = w.stack.token("amy", "team-a", "member");
    let admin_b = w.stack.token("bob", "team-b", "admin");
    let member_b = w.stack.token("bea", "team-b", "member");
    let mode = bridge.health()["sandbox"]
        .as_str()
        .unwrap_or("")
        .to_string();
    eprintln!("bridge sandbox mode: {mode}");
    assert!(mode == "namespaces" || mode == "uid", "{}", bridge.health());

    // A name that changes how code loads is refused when the server is registered.
    let refused = w.call(
        &admin_a,
        json!({"action": "create_server", "name": "loader", "server_type": "stdio",
               "config": {"command": root().join(".venv/bin/python").display().to_string(),
                          "args": ["-c", "pass"], "env_names": ["NODE_OPTIONS"]}}),
    );
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert_eq!(refused.body["code"], "validation_error", "{}", refused.text);

    // Team A: its secret in its child's environment, another in its home.
    let a = w.hostile(&admin_a, "hostile", &[SECRET_ENV]);
    let set = w.call(
        &admin_a,
        json!({"action": "set_credential", "server_id": a, "credential_type": "custom_headers",
               "credential": {"headers": {SECRET_ENV: SECRET_A}}}),
    );
    assert_eq!(set.status, 200, "{}", set.text);
    w.sync(&admin_a, &a);
    assert_eq!(
        w.call_tool(&member_a, &a, "env", json!({"name": SECRET_ENV})),
        "[redacted]",
        "team A's child has its secret (masked in team A's answer)"
    );
    let planted: Value = serde_json::from_str(&w.call_tool(
        &member_a,
        &a,
        "plant",
        json!({"secret": FILE_SECRET_A}),
    ))
    .unwrap();

    // Team B: the same hostile server goes looking.
    let b = w.hostile(&admin_b, "hostile", &[]);
    w.sync(&admin_b, &b);
    let mut roots: Vec<Value> = planted.as_array().unwrap().clone();
    roots.push(json!(bridge.token_file().display().to_string()));
    roots.push(json!(root()
        .join("functions/call_tool/.dev.vars")
        .display()
        .to_string()));
    roots.push(json!(root().join(".dev.vars").display().to_string()));
    let others = w.call_tool(&member_b, &b, "read_others", json!({"roots": roots}));
    let bridge_report = w.call_tool(
        &member_b,
        &b,
        "read_bridge",
        json!({"token_file": bridge.token_file().display().to_string()}),
    );
    for (what, text) in [("read_others", &others), ("read_bridge", &bridge_report)] {
        assert!(
            !text.contains(SECRET_A),
            "{what}: team A's env secret leaked"
        );
        assert!(
            !text.contains(FILE_SECRET_A),
            "{what}: team A's file leaked"
        );
        assert!(
            !text.contains(&bridge.token),
            "{what}: the bridge token leaked"
        );
    }
    let others: Value = serde_json::from_str(&others).unwrap();
    assert_eq!(others["environs_read"], json!({}), "{others}");
    let bridge_report: Value = serde_json::from_str(&bridge_report).unwrap();
    assert_eq!(bridge_report["token_file_read"], false, "{bridge_report}");
    assert_eq!(bridge_report["environ_read"], json!([]), "{bridge_report}");

    // Team A's server is unharmed.
    assert_eq!(
        w.call_tool(&member_a, &a, "echo", json!({"message": "ok"})),
        "ok"
    );
    // One child per team on this bridge: team A's second server is refused by the bridge (503),
    // which the API reports as 502 `upstream_error` with the bridge's message.
    let second = w.hostile(&admin_a, "hostile-2", &[]);
    let synced = w.call(
        &admin_a,
        json!({"action": "sync_tools", "server_id": second}),
    );
    assert_eq!(synced.status, 502, "{}", synced.text);
    assert_eq!(synced.body["code"], "upstream_error", "{}", synced.text);
    assert!(
        synced.text.contains("BRIDGE_MAX_CHILDREN_PER_TEAM"),
        "the cap reaches the admin: {}",
        synced.text
    );
    for text in w.answers.borrow().iter() {
        assert!(
            !text.contains(SECRET_A),
            "an answer carries team A's secret: {text}"
        );
    }
    eprintln!("bridge log:\n{}", bridge.log_text());
}
