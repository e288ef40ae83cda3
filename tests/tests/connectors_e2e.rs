//! The connector catalogue end to end, with the deployment defaults (free-form stdio commands
//! off): the real workers under `wrangler dev` → a stdio bridge of the test's own (as in
//! `stdio_e2e.rs`) → the catalogue's `runs_here` connectors, installed at their pinned versions
//! (`CONNECTOR_LAUNCH=installed`, written by `scripts/dev-vars.sh`). An admin lists the
//! catalogue, registers connectors with parameters, syncs and calls their tools; free-form
//! commands and injection-looking parameters are refused before anything is stored.
//! One stack and one bridge; scenarios run in order on them.

use std::net::TcpListener;
use std::process::Command;

use integration::bridge::{self, Bridge};
use integration::stack::{Answer, Stack};
use serde_json::{json, Value};

const SEED: &str = "INSERT INTO teams (id, name, tier, rate_limit_per_hour, user_calls_per_day) \
     VALUES ('team-c', 'Team C', 'enterprise', 100000, 100000);";

struct World {
    stack: Stack,
    _bridge: Bridge,
    admin: String,
    member: String,
}

impl World {
    fn call(&self, token: &str, body: Value) -> Answer {
        self.stack.call(token, body)
    }

    fn create(&self, name: &str, connector: &str, parameters: Value) -> Answer {
        self.call(
            &self.admin,
            json!({"action": "create_server", "name": name, "connector": connector,
                   "parameters": parameters, "sync": true}),
        )
    }

    fn tool(&self, server_id: &str, tool: &str, parameters: Value) -> Answer {
        let answer = self.call(
            &self.member,
            json!({"action": "call_tool", "server_id": server_id, "tool_name": tool,
                   "parameters": parameters}),
        );
        assert_eq!(answer.status, 200, "{tool}: {}", answer.text);
        assert_eq!(answer.body["success"], true, "{tool}: {}", answer.text);
        answer
    }

    fn servers(&self) -> usize {
        let listed = self.call(&self.admin, json!({"action": "list_servers"}));
        listed.body["servers"].as_array().map_or(0, Vec::len)
    }
}

fn id_of(created: &Answer) -> String {
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["sync"]["success"], true, "{}", created.text);
    created.body["server"]["id"].as_str().unwrap().to_string()
}

fn text_of(answer: &Answer) -> String {
    answer.body["result"]["content"]
        .as_array()
        .unwrap_or_else(|| panic!("no content: {}", answer.text))
        .iter()
        .filter_map(|c| c["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

fn tool_names(w: &World, server_id: &str) -> Vec<String> {
    let tools = w.call(
        &w.member,
        json!({"action": "list_tools", "server_id": server_id}),
    );
    tools.body["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", tools.text))
        .iter()
        .filter_map(|t| t["tool_name"].as_str().map(String::from))
        .collect()
}

fn canonical(dir: &tempfile::TempDir) -> String {
    dir.path().canonicalize().unwrap().display().to_string()
}

/// A temporary folder a connector's child may use: the bridge runs each child as a uid of its
/// own (its sandbox), so the test's private folders (0700) are opened up: readable, or also
/// writable for a connector that keeps a file there.
fn folder_for_children(writable: bool) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mode = if writable { 0o1777 } else { 0o755 };
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(mode)).unwrap();
    dir
}

#[test]
fn connectors_from_the_catalogue_run_through_wrangler_dev_and_the_bridge() {
    let bridge = bridge::start();
    let stack = Stack::start_with_dev_vars(
        SEED,
        &[("RATE_LIMIT_ADMIN_PER_HOUR", "100000")],
        &bridge.worker_dev_vars(),
    );
    let w = World {
        admin: stack.token("cat", "team-c", "admin"),
        member: stack.token("cam", "team-c", "member"),
        stack,
        _bridge: bridge,
    };
    members_and_admins_list_the_catalogue(&w);
    the_filesystem_connector_serves_its_folder(&w);
    free_form_commands_are_refused_by_default(&w);
    injection_looking_parameters_are_refused(&w);
    the_memory_connector_keeps_its_graph_in_the_credential_s_file(&w);
    the_git_connector_reads_a_repository(&w);
    the_time_connector_answers_in_its_time_zone(&w);
    the_fetch_connector_runs_and_refuses_loopback_pages(&w);
}

fn members_and_admins_list_the_catalogue(w: &World) {
    let member = w.call(&w.member, json!({"action": "list_connectors"}));
    assert_eq!(member.status, 200, "{}", member.text);
    let entries = member.body["connectors"].as_array().unwrap();
    let names: Vec<&str> = entries.iter().filter_map(|c| c["name"].as_str()).collect();
    for name in [
        "filesystem",
        "everything",
        "memory",
        "git",
        "github",
        "postgres",
    ] {
        assert!(names.contains(&name), "{name} not in {names:?}");
    }
    assert!(entries.iter().all(|c| c.get("parameters").is_none()));
    let admin = w.call(&w.admin, json!({"action": "list_connectors"}));
    let fs = admin.body["connectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "filesystem")
        .unwrap()
        .clone();
    assert_eq!(fs["parameters"]["folder"]["type"], "path", "{fs}");
    assert_eq!(fs["availability"], "runs_here");
}

fn the_filesystem_connector_serves_its_folder(w: &World) {
    let dir = folder_for_children(false);
    let folder = canonical(&dir);
    std::fs::write(dir.path().join("notes.txt"), "catalogue connectors work\n").unwrap();
    let created = w.create("files", "filesystem", json!({"folder": folder}));
    let id = id_of(&created);
    assert_eq!(
        created.body["server"]["config"],
        json!({"connector": "filesystem",
               "version": created.body["server"]["config"]["version"],
               "parameters": {"folder": folder}})
    );
    let names = tool_names(w, &id);
    assert!(names.iter().any(|n| n == "list_directory"), "{names:?}");
    let listed = w.tool(&id, "list_directory", json!({"path": folder}));
    assert!(
        text_of(&listed).contains("[FILE] notes.txt"),
        "{}",
        listed.text
    );
    let read = w.tool(
        &id,
        "read_text_file",
        json!({"path": format!("{folder}/notes.txt")}),
    );
    assert_eq!(text_of(&read).trim(), "catalogue connectors work");

    // update_server moves it to another folder: the next call is served from there.
    let other = folder_for_children(false);
    std::fs::write(other.path().join("moved.txt"), "x").unwrap();
    let other_path = canonical(&other);
    let moved = w.call(
        &w.admin,
        json!({"action": "update_server", "server_id": id, "parameters": {"folder": other_path}}),
    );
    assert_eq!(moved.status, 200, "{}", moved.text);
    let listed = w.tool(&id, "list_directory", json!({"path": other_path}));
    assert!(
        text_of(&listed).contains("[FILE] moved.txt"),
        "{}",
        listed.text
    );
}

fn free_form_commands_are_refused_by_default(w: &World) {
    let before = w.servers();
    for config in [
        json!({"command": "mcp-server-filesystem", "args": ["/"]}),
        json!({"command": "bash", "args": ["-c", "id"]}),
    ] {
        let refused = w.call(
            &w.admin,
            json!({"action": "create_server", "name": "free", "server_type": "stdio",
                   "config": config}),
        );
        assert_eq!(refused.status, 400, "{}", refused.text);
        assert_eq!(refused.body["code"], "validation_error");
        assert_eq!(
            refused.body["details"]["field"], "connector",
            "{}",
            refused.text
        );
        assert!(
            refused.text.contains("ALLOW_FREEFORM_STDIO_COMMANDS"),
            "{}",
            refused.text
        );
    }
    assert_eq!(w.servers(), before, "nothing was stored");
}

fn injection_looking_parameters_are_refused(w: &World) {
    let before = w.servers();
    for (connector, parameters, field) in [
        (
            "filesystem",
            json!({"folder": "--help"}),
            "parameters.folder",
        ),
        (
            "filesystem",
            json!({"folder": "/tmp/../etc"}),
            "parameters.folder",
        ),
        (
            "filesystem",
            json!({"folder": "relative"}),
            "parameters.folder",
        ),
        (
            "git",
            json!({"repository": "--upload-pack=touch /tmp/pwned"}),
            "parameters.repository",
        ),
        (
            "time",
            json!({"local_timezone": "UTC; id"}),
            "parameters.local_timezone",
        ),
        (
            "filesystem",
            json!({"folder": "/tmp", "command": "sh"}),
            "parameters.command",
        ),
        ("no-such-connector", json!({}), "connector"),
    ] {
        let refused = w.create("evil", connector, parameters.clone());
        assert_eq!(refused.status, 400, "{parameters}: {}", refused.text);
        assert_eq!(refused.body["code"], "validation_error");
        assert_eq!(refused.body["details"]["field"], field, "{}", refused.text);
    }
    assert_eq!(w.servers(), before, "nothing was stored");
}

fn the_memory_connector_keeps_its_graph_in_the_credential_s_file(w: &World) {
    let dir = folder_for_children(true);
    let file = format!("{}/graph.jsonl", canonical(&dir));
    let created = w.call(
        &w.admin,
        json!({"action": "create_server", "name": "memory", "connector": "memory"}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.body["server"]["id"].as_str().unwrap().to_string();
    let undeclared = w.call(
        &w.admin,
        json!({"action": "set_credential", "server_id": id, "credential_type": "custom_headers",
               "credential": {"headers": {"NODE_OPTIONS": "--require /tmp/x.js"}}}),
    );
    assert_eq!(undeclared.status, 400, "{}", undeclared.text);
    let set = w.call(
        &w.admin,
        json!({"action": "set_credential", "server_id": id, "credential_type": "custom_headers",
               "credential": {"headers": {"MEMORY_FILE_PATH": file}}}),
    );
    assert_eq!(set.status, 200, "{}", set.text);
    let synced = w.call(&w.admin, json!({"action": "sync_tools", "server_id": id}));
    assert_eq!(synced.body["success"], true, "{}", synced.text);
    w.tool(
        &id,
        "create_entities",
        json!({"entities": [{"name": "mcp-edge", "entityType": "project",
                             "observations": ["runs connectors from a catalogue"]}]}),
    );
    let graph = w.tool(&id, "read_graph", json!({}));
    assert!(
        graph.text.contains("runs connectors from a catalogue"),
        "{}",
        graph.text
    );
    let stored = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        stored.contains("mcp-edge"),
        "the graph is in {file}: {stored:?}"
    );
}

fn git(dir: &str, args: &[&str]) {
    let status = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "-C",
            dir,
        ])
        .args(args)
        .status()
        .expect("git");
    assert!(status.success(), "git {args:?}");
}

fn the_git_connector_reads_a_repository(w: &World) {
    let dir = folder_for_children(false);
    let repo = canonical(&dir);
    git(&repo, &["init", "-q"]);
    std::fs::write(dir.path().join("README"), "hello\n").unwrap();
    git(&repo, &["add", "README"]);
    git(
        &repo,
        &["commit", "-q", "-m", "first commit from the connector test"],
    );
    let id = id_of(&w.create("git", "git", json!({"repository": repo})));
    assert!(tool_names(w, &id).iter().any(|n| n == "git_log"));
    // The child runs as a uid of its own (the bridge's sandbox), and git itself refuses a
    // repository another user owns: the connector reads repositories its own uid owns
    // (README "stdio servers"). The server ran and answered; the sandbox held. `git_status` runs
    // one git command whose refusal comes back as its own message; `git_log` goes through
    // GitPython's long-lived `cat-file` process, and when that process has already exited on
    // the refusal the server reports a broken pipe instead (seen on a loaded machine).
    let log = w.call(
        &w.member,
        json!({"action": "call_tool", "server_id": id, "tool_name": "git_status",
               "parameters": {"repo_path": repo}}),
    );
    assert_eq!(log.status, 200, "{}", log.text);
    assert_eq!(log.body["success"], false, "{}", log.text);
    assert!(text_of(&log).contains("dubious ownership"), "{}", log.text);
}

fn the_time_connector_answers_in_its_time_zone(w: &World) {
    let id = id_of(&w.create("time", "time", json!({"local_timezone": "Europe/Paris"})));
    let now = w.tool(&id, "get_current_time", json!({"timezone": "Asia/Tokyo"}));
    assert!(text_of(&now).contains("Asia/Tokyo"), "{}", now.text);
}

/// The fetch server runs and calls out, and refuses a loopback page on its own (it only
/// fetches public addresses unless started with `--allow-private-ips`, which the catalogue
/// does not offer); no public site is reachable from the tests.
fn the_fetch_connector_runs_and_refuses_loopback_pages(w: &World) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/page", listener.local_addr().unwrap());
    let id = id_of(&w.create("fetch", "fetch", json!({"user_agent": "mcp-edge-test/1.0"})));
    assert!(tool_names(w, &id).iter().any(|n| n == "fetch"));
    let answer = w.call(
        &w.member,
        json!({"action": "call_tool", "server_id": id, "tool_name": "fetch",
               "parameters": {"url": url}}),
    );
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.body["success"], false, "{}", answer.text);
    assert!(
        text_of(&answer).contains("not a public address"),
        "{}",
        answer.text
    );
}
