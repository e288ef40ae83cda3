//! Issue 5 end to end under `wrangler dev`: team admins manage servers, sealed credentials and
//! tool policy; the Python SDK server's `header` tool reports what it received, so credential
//! injection is asserted on what a real upstream saw. One stack; scenarios run in order.

use std::cell::RefCell;
use std::time::Duration;

use integration::free_port;
use integration::root;
use integration::servers::{python_script, python_streamable, McpServer};
use integration::stack::{Answer, Stack};
use serde_json::{json, Value};
use shared::credentials::{self, Binding, KeyRing, Material};

const SEED: &str =
    "INSERT INTO teams (id, name) VALUES ('team-a', 'Team A'), ('team-b', 'Team B');";

/// Values that must never appear in an answer, a log line or a D1 column (they are never
/// asked back from the `header` tool, which by design echoes what it received).
const PROBES: [&str; 8] = [
    "probe-bearer-7f3a91c2",
    "probe-apikey-0b8e44d1",
    "probe-user-5c2d",
    "probe-pass-a9e1f0",
    "probe-oauth-3d7b22e8",
    "probe-custom-91aa0c4f",
    "probe-seeded-6b1d07",
    "probe-moved-e4c2a817",
];

struct World {
    stack: Stack,
    admin: String,
    member: String,
    other_member: String,
    other_team_admin: String,
    server_id: String,
    /// Where the server's credential may go (the origin of the Python server's URL).
    destination: String,
    answers: RefCell<Vec<String>>,
}

impl World {
    fn call(&self, token: &str, body: Value) -> Answer {
        let answer = self.stack.call(token, body);
        self.answers.borrow_mut().push(answer.text.clone());
        answer
    }

    fn admin(&self, body: Value) -> Answer {
        let answer = self.call(&self.admin, body);
        assert!(answer.status < 300, "{}", answer.text);
        answer
    }

    fn set_credential(&self, kind: &str, credential: Value) -> Answer {
        self.admin(
            json!({"action": "set_credential", "server_id": self.server_id,
                          "credential_type": kind, "credential": credential}),
        )
    }

    /// SHA-256 of what the real server saw in request header `name` ("" when absent): the
    /// gateway scrubs credential values out of answers, so the server reports a digest.
    fn header_seen(&self, name: &str) -> String {
        let answer = self.stack.call(
            &self.member,
            json!({"action": "call_tool", "server_id": self.server_id, "tool_name": "header_digest",
                   "parameters": {"name": name}}),
        );
        assert_eq!(answer.status, 200, "{}", answer.text);
        answer.body["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn call_tool(&self, tool: &str, parameters: Value) -> Answer {
        self.call(
            &self.member,
            json!({"action": "call_tool", "server_id": self.server_id, "tool_name": tool,
                   "parameters": parameters}),
        )
    }

    fn one(&self, sql: &str) -> Value {
        let rows = self.stack.d1(sql);
        assert_eq!(rows.len(), 1, "{sql}: {rows:?}");
        rows.into_iter().next().unwrap()
    }

    fn executions_of(&self, tool: &str) -> u64 {
        self.one(&format!(
            "SELECT count(*) AS n FROM mcp_tool_executions WHERE tool_name = '{tool}'"
        ))["n"]
            .as_u64()
            .unwrap()
    }
}

fn assert_error(answer: &Answer, status: u16, code: &str) {
    assert_eq!(answer.status, status, "{}", answer.text);
    assert_eq!(answer.body["code"], code, "{}", answer.text);
    assert_eq!(answer.body["status"], "error", "{}", answer.text);
}

/// The local credential key ring, as scripts/dev-vars.sh wrote it for the workers.
fn local_ring() -> KeyRing {
    let text = std::fs::read_to_string(root().join("functions/call_tool/.dev.vars")).unwrap();
    let get = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .map(str::to_string)
    };
    KeyRing::from_settings(
        get("CREDENTIAL_KEYS").as_deref(),
        get("CREDENTIAL_KEY_ID").as_deref(),
    )
    .expect("dev-vars.sh writes a valid ring")
}

#[test]
fn team_admins_manage_servers_sealed_credentials_and_tool_policy() {
    let python = python_streamable();
    let stack = Stack::start(SEED);
    let w = World {
        admin: stack.token("alice", "team-a", "admin"),
        member: stack.token("bob", "team-a", "member"),
        other_member: stack.token("carol", "team-a", "member"),
        other_team_admin: stack.token("mallory", "team-b", "admin"),
        stack,
        server_id: String::new(),
        destination: credentials::destination_of(
            shared::server_config::ServerType::Http,
            &json!({"url": python.url}).to_string(),
        )
        .unwrap(),
        answers: RefCell::new(Vec::new()),
    };
    let created = w.admin(
        json!({"action": "create_server", "name": "python", "server_type": "http",
                                 "description": "Python SDK test server",
                                 "config": {"url": python.url}, "sync": true}),
    );
    assert_eq!(created.status, 201);
    assert_eq!(created.body["sync"]["success"], true, "{}", created.text);
    assert_eq!(created.body["server"]["credential"]["is_set"], false);
    let w = World {
        server_id: created.body["server"]["id"].as_str().unwrap().to_string(),
        ..w
    };

    admin_lifecycle_reads_and_updates_the_server_and_tool_policy(&w);
    members_are_refused_every_admin_action(&w);
    each_credential_type_reaches_the_real_server_and_is_stored_as_ciphertext(&w);
    tampered_ciphertext_or_a_wrong_key_fails_closed(&w);
    key_rotation_keeps_old_credentials_working(&w);
    an_expired_oauth_token_is_refused_with_what_to_do(&w);
    confirmation_tokens_cannot_be_replayed_or_reused_with_other_arguments(&w);
    cacheable_results_come_from_kv_until_the_credential_changes(&w);
    seed_team_applies_a_checked_in_config_idempotently(&w, &python.url);
    a_credential_only_goes_to_the_origin_it_was_set_for(&w, &python.url);
    secrets_never_leak_into_answers_logs_or_d1(&w);
    delete_server_cascades_tools_and_credential_and_keeps_history(&w);
}

fn admin_lifecycle_reads_and_updates_the_server_and_tool_policy(w: &World) {
    let by_name = w.admin(json!({"action": "get_server", "name": "python"}));
    assert_eq!(by_name.body["server"]["id"], w.server_id.as_str());
    assert_eq!(by_name.body["server"]["connection_status"], "connected");
    assert!(by_name.body["server"]["config"]["url"].is_string());

    let updated = w.admin(json!({"action": "update_server", "server_id": w.server_id,
                                 "description": "updated"}));
    assert_eq!(updated.body["server"]["description"], "updated");

    let dup = w.call(
        &w.admin,
        json!({"action": "create_server", "name": "python", "server_type": "http",
               "config": {"url": "http://127.0.0.1:9/mcp"}}),
    );
    assert_error(&dup, 409, "conflict");
    let bad = w.call(
        &w.admin,
        json!({"action": "create_server", "name": "x", "server_type": "http",
               "config": {"url": "http://127.0.0.1:9/mcp", "headers": {"X-Api-Key": "v"}}}),
    );
    assert_error(&bad, 400, "validation_error");

    let tool = w.admin(json!({"action": "update_tool", "server_id": w.server_id,
                              "tool_name": "add", "timeout_seconds": 5}));
    assert_eq!(tool.body["tool"]["timeout_seconds"], 5);
    let too_long = w.call(
        &w.admin,
        json!({"action": "update_tool", "server_id": w.server_id, "tool_name": "add",
               "timeout_seconds": 301}),
    );
    assert_error(&too_long, 400, "validation_error");

    // Disabled: gone from list_tools and refused by call_tool; enabled again: back.
    let list = json!({"action": "list_tools", "server_id": w.server_id});
    w.admin(
        json!({"action": "update_tool", "server_id": w.server_id, "tool_name": "add",
                   "is_enabled": false}),
    );
    let listed = w.call(&w.member, list.clone());
    assert!(
        !listed.text.contains("\"tool_name\":\"add\""),
        "{}",
        listed.text
    );
    assert_error(
        &w.call_tool("add", json!({"a": 1, "b": 2})),
        403,
        "authorization_error",
    );
    w.admin(
        json!({"action": "update_tool", "server_id": w.server_id, "tool_name": "add",
                   "is_enabled": true}),
    );
    assert!(w
        .call(&w.member, list)
        .text
        .contains("\"tool_name\":\"add\""));

    let foreign = w.call(
        &w.other_team_admin,
        json!({"action": "get_server", "server_id": w.server_id}),
    );
    assert_error(&foreign, 404, "not_found");
}

fn members_are_refused_every_admin_action(w: &World) {
    let id = &w.server_id;
    for body in [
        json!({"action": "create_server", "name": "m", "server_type": "http", "config": {"url": "http://127.0.0.1:9/mcp"}}),
        json!({"action": "update_server", "server_id": id, "name": "m"}),
        json!({"action": "delete_server", "server_id": id}),
        json!({"action": "update_tool", "server_id": id, "tool_name": "add", "is_enabled": false}),
        json!({"action": "get_server", "server_id": id}),
        json!({"action": "set_credential", "server_id": id, "credential_type": "bearer", "credential": {"token": PROBES[0]}}),
        json!({"action": "delete_credential", "server_id": id}),
        json!({"action": "reencrypt_credentials"}),
        json!({"action": "sync_tools", "server_id": id}),
    ] {
        assert_error(&w.call(&w.member, body.clone()), 403, "authorization_error");
    }
    let row = w.one(&format!(
        "SELECT name, (SELECT count(*) FROM mcp_server_credentials) AS creds FROM mcp_servers WHERE id = '{id}'"
    ));
    assert_eq!(
        (row["name"].as_str(), row["creds"].as_u64()),
        (Some("python"), Some(0))
    );
}

fn each_credential_type_reaches_the_real_server_and_is_stored_as_ciphertext(w: &World) {
    for (kind, credential, header, expected) in [
        (
            "bearer",
            json!({"token": "seen-bearer-1"}),
            "authorization",
            "Bearer seen-bearer-1",
        ),
        (
            "api_key",
            json!({"value": "seen-key-2", "header_name": "X-Team-Key"}),
            "x-team-key",
            "seen-key-2",
        ),
        (
            "basic_auth",
            json!({"username": "u", "password": "p"}),
            "authorization",
            "Basic dTpw",
        ),
        (
            "oauth_token",
            json!({"access_token": "seen-oauth-3", "expires_in": 3600}),
            "authorization",
            "Bearer seen-oauth-3",
        ),
        (
            "custom_headers",
            json!({"headers": {"X-One": "seen-4", "X-Two": "seen-5"}}),
            "x-two",
            "seen-5",
        ),
    ] {
        let set = w.set_credential(kind, credential);
        assert_eq!(set.body["credential"]["credential_type"], kind);
        assert_eq!(set.body["credential"]["last_used_at"], Value::Null);
        assert_eq!(w.header_seen(header), digest(expected), "{kind}");
        let echoed = w.call_tool("header", json!({"name": header}));
        assert_eq!(
            echoed.body["result"]["content"][0]["text"], "[redacted]",
            "{kind}: a tool echoing the credential gets it scrubbed from the answer"
        );
        let row = w.one(&format!(
            "SELECT credential_type, encrypted_value, key_id, last_used_at FROM mcp_server_credentials WHERE server_id = '{}'",
            w.server_id
        ));
        assert_eq!(row["credential_type"], kind);
        assert_eq!(row["key_id"], "local2", "new writes use the write key");
        assert!(row["last_used_at"].is_string(), "{kind}: use recorded");
        let sealed = row["encrypted_value"].as_str().unwrap();
        assert!(!sealed.contains("seen-"), "{kind}: ciphertext only");
    }
    let view = w.admin(json!({"action": "get_server", "server_id": w.server_id}));
    let credential = &view.body["server"]["credential"];
    assert_eq!(credential["is_set"], true);
    assert_eq!(credential["credential_type"], "custom_headers");
    assert!(credential["last_used_at"].is_string());
    assert!(!view.text.contains("seen-"), "{}", view.text);

    let deleted = w.admin(json!({"action": "delete_credential", "server_id": w.server_id}));
    assert_eq!(deleted.body["deleted"], true);
    assert_eq!(w.header_seen("x-two"), "", "no credential after delete");
}

fn tampered_ciphertext_or_a_wrong_key_fails_closed(w: &World) {
    let message = "credential for server 'python' cannot be opened for the server's current \
         address with the configured keys (it was set for another address, altered, or sealed with \
         a key this deployment does not have); nothing was sent; set it again with set_credential";
    let expect_refused = |case: &str| {
        let before = w.executions_of("echo");
        let answer = w.call_tool("echo", json!({"message": "hi"}));
        assert_error(&answer, 409, "conflict");
        assert_eq!(answer.body["message"], message, "{case}");
        assert_eq!(
            w.executions_of("echo"),
            before,
            "{case}: nothing recorded or sent"
        );
    };

    w.set_credential("bearer", json!({"token": PROBES[0]}));
    w.stack.d1(&format!(
        "UPDATE mcp_server_credentials SET encrypted_value = \
         substr(encrypted_value, 1, 30) || CASE substr(encrypted_value, 31, 1) WHEN 'A' THEN 'B' ELSE 'A' END \
         || substr(encrypted_value, 32) WHERE server_id = '{}'",
        w.server_id
    ));
    // Tampered in D1, not through the API: call_tool's cached targets are refreshed at once.
    w.admin(json!({"action": "refresh_config"}));
    expect_refused("tampered ciphertext");

    // Sealed with a key the workers do not have, under an id they know and one they do not.
    let foreign = KeyRing::from_settings(
        Some("local1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
        None,
    )
    .unwrap();
    let sealed = credentials::seal(
        &foreign,
        &bearer_binding(w),
        &Material::Bearer {
            token: PROBES[0].into(),
        },
    );
    for key_id in ["local1", "retired"] {
        w.stack.d1(&format!(
            "UPDATE mcp_server_credentials SET encrypted_value = '{}', key_id = '{key_id}' WHERE server_id = '{}'",
            sealed.value, w.server_id
        ));
        w.admin(json!({"action": "refresh_config"}));
        expect_refused(key_id);
    }
    let sync = w.call(
        &w.admin,
        json!({"action": "sync_tools", "server_id": w.server_id}),
    );
    assert_error(&sync, 409, "conflict");
    let cleaned = w.call(&w.admin, json!({"action": "reencrypt_credentials"}));
    assert_eq!(cleaned.body["success"], false, "{}", cleaned.text);
    assert_eq!(cleaned.body["failed"][0]["server_id"], w.server_id.as_str());
    w.admin(json!({"action": "delete_credential", "server_id": w.server_id}));
}

fn bearer_binding(w: &World) -> Binding<'_> {
    Binding {
        team_id: "team-a",
        server_id: &w.server_id,
        credential_type: "bearer",
        header_name: None,
        expires_at: None,
        destination: &w.destination,
    }
}

fn key_rotation_keeps_old_credentials_working(w: &World) {
    // A credential sealed by a previous deployment whose write key was local1.
    let old = local_ring().writing_with("local1").unwrap();
    let sealed = credentials::seal(
        &old,
        &bearer_binding(w),
        &Material::Bearer {
            token: "rotated-token".into(),
        },
    );
    w.stack.d1(&format!(
        "INSERT INTO mcp_server_credentials (id, server_id, team_id, credential_type, encrypted_value, key_id) \
         VALUES ('cred-old', '{}', 'team-a', 'bearer', '{}', '{}')",
        w.server_id, sealed.value, sealed.key_id
    ));
    w.admin(json!({"action": "refresh_config"}));
    assert_eq!(sealed.key_id, "local1");
    assert_eq!(
        w.header_seen("authorization"),
        digest("Bearer rotated-token")
    );

    let rotated = w.admin(json!({"action": "reencrypt_credentials"}));
    assert_eq!(rotated.body["key_id"], "local2");
    assert_eq!(rotated.body["reencrypted"], 1, "{}", rotated.text);
    let row =
        w.one("SELECT key_id, encrypted_value FROM mcp_server_credentials WHERE id = 'cred-old'");
    assert_eq!(row["key_id"], "local2");
    assert_ne!(row["encrypted_value"], sealed.value.as_str());
    assert_eq!(
        w.header_seen("authorization"),
        digest("Bearer rotated-token")
    );
    let again = w.admin(json!({"action": "reencrypt_credentials"}));
    assert_eq!(
        (
            again.body["reencrypted"].as_u64(),
            again.body["already_current"].as_u64()
        ),
        (Some(0), Some(1))
    );
}

fn an_expired_oauth_token_is_refused_with_what_to_do(w: &World) {
    w.set_credential(
        "oauth_token",
        json!({"access_token": PROBES[4], "expires_in": 2}),
    );
    std::thread::sleep(Duration::from_millis(2500));
    let before = w.executions_of("echo");
    let answer = w.call_tool("echo", json!({"message": "late"}));
    assert_error(&answer, 409, "conflict");
    let message = answer.body["message"].as_str().unwrap();
    assert!(
        message.contains("OAuth token for server 'python' expired at 20"),
        "{message}"
    );
    assert!(
        message.contains("set a fresh token with set_credential"),
        "{message}"
    );
    assert_eq!(w.executions_of("echo"), before);
}

fn confirmation_tokens_cannot_be_replayed_or_reused_with_other_arguments(w: &World) {
    // Leave a live credential of every kind of probe in place while the rest runs.
    w.set_credential(
        "basic_auth",
        json!({"username": PROBES[2], "password": PROBES[3]}),
    );
    w.admin(
        json!({"action": "update_tool", "server_id": w.server_id, "tool_name": "echo",
                   "requires_confirmation": true}),
    );
    let before = w.executions_of("echo");
    let first = w.call_tool("echo", json!({"message": "drop table"}));
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.body["success"], false);
    assert_eq!(first.body["confirmation_required"], true);
    assert_eq!(first.body["tool_name"], "echo");
    assert_eq!(first.body["parameters"], json!({"message": "drop table"}));
    assert!(first.body["expires_at"].is_string());
    assert_eq!(w.executions_of("echo"), before, "no execution row yet");
    let token = first.body["confirmation_token"]
        .as_str()
        .unwrap()
        .to_string();

    let confirm = |who: &str, message: &str| {
        w.call(
            who,
            json!({"action": "call_tool", "server_id": w.server_id, "tool_name": "echo",
                   "parameters": {"message": message}, "confirmation_token": token}),
        )
    };
    assert_error(&confirm(&w.member, "other"), 403, "authorization_error");
    assert_error(
        &confirm(&w.other_member, "drop table"),
        403,
        "authorization_error",
    );
    let ran = confirm(&w.member, "drop table");
    assert_eq!(ran.status, 200, "{}", ran.text);
    assert_eq!(ran.body["success"], true);
    assert_eq!(ran.body["result"]["content"][0]["text"], "drop table");
    assert_error(&confirm(&w.member, "drop table"), 409, "conflict");
    assert_eq!(w.executions_of("echo"), before + 1, "ran exactly once");
    w.admin(
        json!({"action": "update_tool", "server_id": w.server_id, "tool_name": "echo",
                   "requires_confirmation": false}),
    );
}

fn cacheable_results_come_from_kv_until_the_credential_changes(w: &World) {
    w.admin(
        json!({"action": "update_tool", "server_id": w.server_id, "tool_name": "weather",
                   "cacheable": true}),
    );
    let before = w.executions_of("weather");
    let first = w.call_tool("weather", json!({"city": "Oslo"}));
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.body["cached"], false);
    let second = w.call_tool("weather", json!({"city": "Oslo"}));
    assert_eq!(second.body["cached"], true, "{}", second.text);
    assert_eq!(second.body["execution_id"], first.body["execution_id"]);
    assert_eq!(second.body["result"], first.body["result"]);
    assert_eq!(w.executions_of("weather"), before + 1);
    assert_eq!(
        w.call_tool("weather", json!({"city": "Bergen"})).body["cached"],
        false
    );

    // A new credential is a new scope: nothing cached under the old one is served.
    w.set_credential("api_key", json!({"value": PROBES[1]}));
    let after = w.call_tool("weather", json!({"city": "Oslo"}));
    assert_eq!(after.body["cached"], false, "{}", after.text);
    w.set_credential("custom_headers", json!({"headers": {"X-Probe": PROBES[5]}}));
    w.set_credential("bearer", json!({"token": PROBES[0]}));
    assert_eq!(w.call_tool("add", json!({"a": 2, "b": 3})).status, 200);
}

fn secrets_never_leak_into_answers_logs_or_d1(w: &World) {
    // Failure paths with a secret in the request: each is refused without echoing it.
    for credential in [
        json!({"token": format!("{}\r\nX-Evil: 1", PROBES[0])}),
        json!({"token": PROBES[0], "unexpected": PROBES[0]}),
    ] {
        let refused = w.call(
            &w.admin,
            json!({"action": "set_credential", "server_id": w.server_id,
                   "credential_type": "bearer", "credential": credential}),
        );
        assert_error(&refused, 400, "validation_error");
    }
    let log = w.stack.log_text();
    let mut d1 = String::new();
    for table in [
        "mcp_server_credentials",
        "mcp_servers",
        "mcp_tools",
        "mcp_confirmations_used",
    ] {
        d1.push_str(&Value::from(w.stack.d1(&format!("SELECT * FROM {table}"))).to_string());
    }
    d1.push_str(&Value::from(w.stack.d1("SELECT * FROM mcp_tool_executions")).to_string());
    let answers = w.answers.borrow().join("\n");
    assert!(answers.len() > 1000 && log.len() > 1000 && d1.contains("encrypted_value"));
    for probe in PROBES {
        assert!(!answers.contains(probe), "{probe} in an answer");
        assert!(!log.contains(probe), "{probe} in the wrangler dev log");
        assert!(!d1.contains(probe), "{probe} in D1");
    }
}

fn delete_server_cascades_tools_and_credential_and_keeps_history(w: &World) {
    let id = &w.server_id;
    let deleted = w.admin(json!({"action": "delete_server", "server_id": id}));
    assert_eq!(deleted.body["server_id"], id.as_str());
    let row = w.one(&format!(
        "SELECT (SELECT count(*) FROM mcp_tools WHERE server_id = '{id}') AS tools, \
         (SELECT count(*) FROM mcp_server_credentials WHERE server_id = '{id}') AS creds, \
         (SELECT count(*) FROM mcp_tool_executions WHERE server_id = '{id}') AS runs"
    ));
    assert_eq!(row["tools"], 0);
    assert_eq!(row["creds"], 0);
    assert!(row["runs"].as_u64().unwrap() > 5, "history stays readable");
    let listed = w.call(&w.member, json!({"action": "list_servers"}));
    let names: Vec<&str> = listed.body["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["everything-demo"], "only the seeded server is left");
}

/// scripts/seed-team.py with config/team.example.json, pointed at the Python server.
fn seed_team_applies_a_checked_in_config_idempotently(w: &World, url: &str) {
    let mut config: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("config/team.example.json")).unwrap(),
    )
    .unwrap();
    let server = &mut config["servers"][0];
    server["config"]["url"] = url.into();
    // The Python server's tools instead of server-everything's.
    server["tools"] =
        json!({"echo": server["tools"]["echo"].clone(), "fail": {"is_enabled": false}});
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), config.to_string()).unwrap();
    let seed = || {
        let out = std::process::Command::new("python3")
            .arg(root().join("scripts/seed-team.py"))
            .arg(file.path())
            .args(["--api", &w.stack.base, "--token", &w.admin])
            .env("DEMO_SERVER_API_KEY", PROBES[6])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!stdout.contains(PROBES[6]));
        stdout
    };
    assert!(seed().contains("created server 'everything-demo'"));
    assert!(
        seed().contains("updated server 'everything-demo'"),
        "idempotent"
    );
    let view = w.admin(json!({"action": "get_server", "name": "everything-demo"}));
    let server = &view.body["server"];
    assert_eq!(server["connection_status"], "connected", "{}", view.text);
    assert_eq!(server["credential"]["credential_type"], "api_key");
    assert_eq!(server["credential"]["header_name"], "X-Demo-Key");
    let id = server["id"].as_str().unwrap();
    let tools = w.one(&format!(
        "SELECT (SELECT cacheable || '/' || timeout_seconds FROM mcp_tools WHERE server_id = '{id}' AND tool_name = 'echo') AS echo, \
         (SELECT is_enabled FROM mcp_tools WHERE server_id = '{id}' AND tool_name = 'fail') AS fail"
    ));
    assert_eq!(
        (tools["echo"].as_str(), tools["fail"].as_u64()),
        (Some("1/10"), Some(0))
    );
}

/// Issue 13: a credential is bound to its server's origin. Another origin, whether set with
/// `update_server` (the credential is removed, and the answer says so) or written into D1
/// behind the admin API's back (the credential no longer opens), never receives it. The other
/// origin is a second real MCP server that records the headers of every request it gets.
fn a_credential_only_goes_to_the_origin_it_was_set_for(w: &World, python_url: &str) {
    let recorder: McpServer = python_script(
        "recorder",
        "tests/servers/pinned_server.py",
        &[],
        free_port(),
        "/mcp",
    );
    let recorder_base = format!("http://127.0.0.1:{}", recorder.port);
    let recorded = || -> Vec<Value> {
        let mut response = ureq::get(format!("{recorder_base}/__headers"))
            .call()
            .unwrap();
        serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap()
    };
    let credential_rows = || {
        w.one(&format!(
            "SELECT count(*) AS n FROM mcp_server_credentials WHERE server_id = '{}'",
            w.server_id
        ))["n"]
            .as_u64()
            .unwrap()
    };
    let secret = PROBES[7];
    let bearer = digest(&format!("Bearer {secret}"));
    let update = |url: &str| {
        w.admin(json!({"action": "update_server", "server_id": w.server_id,
                       "config": {"url": url}}))
    };
    w.set_credential("bearer", json!({"token": secret}));
    assert_eq!(w.header_seen("authorization"), bearer);

    // Same origin, another path or query: the credential stays and still goes there.
    let same = update(&format!("{python_url}?route=2"));
    assert_eq!(same.body["credential_removed"], false, "{}", same.text);
    assert_eq!(same.body["server"]["credential"]["is_set"], true);
    assert_eq!(credential_rows(), 1);
    assert_eq!(w.header_seen("authorization"), bearer);

    // The URL changed in D1 directly: the credential does not open, nothing is sent.
    let point_at = |url: &str| {
        w.stack.d1(&format!(
            "UPDATE mcp_servers SET config = json_object('url', '{url}') WHERE id = '{}'",
            w.server_id
        ));
        // Edited in D1, not through the API: call_tool's cached targets are refreshed at once.
        w.admin(json!({"action": "refresh_config"}));
    };
    point_at(&recorder.url);
    let before = w.executions_of("echo");
    let refused = w.call_tool("echo", json!({"message": "hi"}));
    assert_error(&refused, 409, "conflict");
    assert!(
        refused.body["message"]
            .as_str()
            .unwrap()
            .contains("set for another address"),
        "{}",
        refused.text
    );
    let sync = w.call(
        &w.admin,
        json!({"action": "sync_tools", "server_id": w.server_id}),
    );
    assert_error(&sync, 409, "conflict");
    assert_eq!(w.executions_of("echo"), before, "nothing recorded");
    assert_eq!(
        recorded(),
        Vec::<Value>::new(),
        "nothing reached the other origin"
    );
    point_at(python_url);
    assert_eq!(
        w.header_seen("authorization"),
        bearer,
        "bound, not lost: back at its origin it opens again"
    );

    // update_server to another origin: the credential is removed in the same change.
    let moved = update(&recorder.url);
    assert_eq!(moved.body["credential_removed"], true, "{}", moved.text);
    assert_eq!(moved.body["server"]["credential"], json!({"is_set": false}));
    assert_eq!(
        credential_rows(),
        0,
        "no row left in mcp_server_credentials"
    );
    let echoed = w.call_tool("echo", json!({"message": "to the new origin"}));
    assert_eq!(echoed.status, 200, "{}", echoed.text);
    let seen = recorded();
    assert!(!seen.is_empty(), "the new origin was called");
    let seen_text = Value::from(seen.clone()).to_string();
    assert!(!seen_text.contains(secret), "{seen_text}");
    assert!(
        seen.iter().all(|h| h.get("authorization").is_none()),
        "{seen_text}"
    );

    // Pointing it back does not bring the credential back.
    let back = update(python_url);
    assert_eq!(back.body["credential_removed"], false);
    assert_eq!(back.body["server"]["credential"]["is_set"], false);
    assert_eq!(w.header_seen("authorization"), "");
}

/// SHA-256 hex of a header value, as the test server's `header_digest` tool reports it.
fn digest(value: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(value.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
