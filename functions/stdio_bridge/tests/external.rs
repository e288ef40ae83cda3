//! Black-box tests that run against an external bridge when one is given, otherwise against an
//! in-process bridge: scripts/check-container.sh points them at the bridge inside the container
//! image (functions/stdio_bridge/Dockerfile.test, run as production runs it).
//!
//! External bridge (all set by scripts/check-container.sh; paths as the bridge sees them):
//! - `STDIO_BRIDGE_TEST_URL`: its base URL (`http://127.0.0.1:PORT`);
//! - `STDIO_BRIDGE_TEST_TOKEN_FILE`: a file holding its bearer token;
//! - `STDIO_BRIDGE_TEST_SERVERS`: the repository's `tests/servers` (`python3` must import `mcp`);
//! - `STDIO_BRIDGE_TEST_NODE_MODULES`: the repository's `node_modules`.
//!
//! Servers are started through the commands the production allow-list names (`python3`,
//! `node`), never by a path only a test configuration would allow.

mod common;

use common::*;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::PathBuf;
use stdio_bridge::{LaunchSpec, Running};

/// Where the bridge under test is and how it names the test servers.
struct Target {
    base: String,
    token: String,
    python: String,
    servers: PathBuf,
    node_modules: PathBuf,
    /// Keeps the in-process bridge alive.
    _local: Option<Running>,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

async fn target() -> Target {
    match var("STDIO_BRIDGE_TEST_URL") {
        Some(base) => {
            let need = |n: &str| {
                var(n).unwrap_or_else(|| panic!("{n} must be set with STDIO_BRIDGE_TEST_URL"))
            };
            let file = need("STDIO_BRIDGE_TEST_TOKEN_FILE");
            let token = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("STDIO_BRIDGE_TEST_TOKEN_FILE {file}: {e}"))
                .trim()
                .to_string();
            Target {
                base: base.trim_end_matches('/').to_string(),
                token,
                python: "python3".into(),
                servers: need("STDIO_BRIDGE_TEST_SERVERS").into(),
                node_modules: need("STDIO_BRIDGE_TEST_NODE_MODULES").into(),
                _local: None,
            }
        }
        None => {
            let python = python().to_string_lossy().into_owned();
            let allowed = vec!["node".to_string(), python.clone()];
            let bridge = start_with(|cfg| cfg.allowed_commands = allowed).await;
            Target {
                base: format!("http://{}", bridge.addr),
                token: TOKEN.into(),
                python,
                servers: py_server().parent().unwrap().to_path_buf(),
                node_modules: repo().join("node_modules"),
                _local: Some(bridge),
            }
        }
    }
}

impl Target {
    fn client(&self, team: &str, server: &str, spec: &LaunchSpec) -> Client {
        let mut c = Client::new(format!("{}/t/{team}/s/{server}/mcp", self.base), spec);
        c.token = self.token.clone();
        c
    }

    fn py_server(&self) -> LaunchSpec {
        LaunchSpec {
            command: self.python.clone(),
            args: vec![self
                .servers
                .join("py_stdio_server.py")
                .to_string_lossy()
                .into_owned()],
            env: BTreeMap::new(),
        }
    }

    /// The reference filesystem server (npm), serving `dir`, started by `node`.
    fn filesystem(&self, dir: &str) -> LaunchSpec {
        let entry = self
            .node_modules
            .join("@modelcontextprotocol/server-filesystem/dist/index.js");
        LaunchSpec {
            command: "node".into(),
            args: vec![entry.to_string_lossy().into_owned(), dir.into()],
            env: BTreeMap::new(),
        }
    }
}

#[tokio::test]
async fn health_answers_and_a_wrong_token_is_refused() {
    let t = target().await;
    let http = reqwest::Client::new();
    let body = http
        .get(format!("{}/health", t.base))
        .send()
        .await
        .expect("GET /health")
        .text()
        .await
        .expect("health body");
    let health: serde_json::Value = serde_json::from_str(&body).expect("health JSON");
    assert_eq!(health["status"], "ok", "{health}");

    let mut c = t.client("ext-team-a", "py-auth", &t.py_server());
    c.token = format!("{}-wrong", t.token);
    let r = c
        .post(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                      "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                                 "clientInfo": {"name": "external-test", "version": "0"}}}))
        .await;
    assert_eq!(r.status, 401, "{r:?}");
}

#[tokio::test]
async fn python_sdk_server_initializes_lists_and_calls_tools_through_the_bridge() {
    let t = target().await;
    let mut c = t.client("ext-team-a", "py", &t.py_server());
    let init = c.initialize().await;
    assert_eq!(init["serverInfo"]["name"], "mcp-edge-py-stdio-test-server");
    let tools = c.tool_names().await;
    assert!(
        tools.contains(&"add".to_string()) && tools.contains(&"echo".to_string()),
        "{tools:?}"
    );
    let r = c.call_tool("add", json!({"a": 20, "b": 22})).await;
    assert_eq!(text(&r), "42");
    let r = c
        .call_tool("echo", json!({"message": "through the container"}))
        .await;
    assert_eq!(text(&r), "through the container");
}

#[tokio::test]
async fn npm_filesystem_server_reads_and_lists_a_directory_through_the_bridge() {
    let t = target().await;
    let dir = t.servers.to_string_lossy().into_owned();
    let mut c = t.client("ext-team-b", "fs", &t.filesystem(&dir));
    c.initialize().await;
    let tools = c.tool_names().await;
    assert!(tools.contains(&"read_text_file".to_string()), "{tools:?}");
    let r = c
        .call_tool(
            "read_text_file",
            json!({"path": t.servers.join("py_stdio_server.py").to_string_lossy(), "head": 1}),
        )
        .await;
    assert!(
        text(&r).contains("A stdio MCP server on the Python MCP SDK"),
        "{r}"
    );
    let r = c.call_tool("list_directory", json!({"path": dir})).await;
    assert!(text(&r).contains("py_stdio_server.py"), "{r}");
}
