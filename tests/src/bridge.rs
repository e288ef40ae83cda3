//! The local stdio bridge (`functions/stdio_bridge`) next to `wrangler dev`, as
//! `scripts/dev.sh` runs it: on the address the workers' `.dev.vars` name (`STDIO_BRIDGE_URL`),
//! with their `BRIDGE_TOKEN` and their `STDIO_ALLOWED_COMMANDS` as its allow-list, and the
//! repo's npm binaries on its `PATH`. The workers read their `.dev.vars` when `wrangler dev`
//! starts, so the bridge lives at that fixed address; when a healthy bridge already listens
//! there (a `scripts/dev.sh` session), it is used as is.

use std::net::TcpStream;
use std::process::Command;
use std::sync::Once;
use std::time::Duration;

use serde_json::Value;

use crate::proc::Proc;
use crate::{root, tool_path};

static BUILD: Once = Once::new();

pub struct Bridge {
    /// `STDIO_BRIDGE_URL` of the workers.
    pub url: String,
    pub token: String,
    /// `STDIO_ALLOWED_COMMANDS` of the workers, the bridge's allow-list.
    pub allowed: String,
    /// `None` when an already running bridge is used.
    proc: Option<Proc>,
    agent: ureq::Agent,
}

/// One of the workers' local settings (`functions/call_tool/.dev.vars`).
pub fn worker_dev_var(name: &str) -> String {
    let file = root().join("functions/call_tool/.dev.vars");
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/dev-vars.sh)", file.display()));
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("{name} not in {} (run scripts/dev-vars.sh)", file.display()))
        .trim()
        .to_string()
}

/// Builds the bridge binary once per test process (debug profile).
fn build_once() {
    BUILD.call_once(|| {
        let status = Command::new("cargo")
            .args(["build", "-p", "stdio_bridge"])
            .current_dir(root())
            .status()
            .expect("cargo build -p stdio_bridge");
        assert!(status.success(), "building the stdio bridge failed");
    });
}

/// Starts the bridge where the workers expect it (or uses the one already there).
pub fn start() -> Bridge {
    crate::stack::build_once();
    let url = worker_dev_var("STDIO_BRIDGE_URL");
    let token = worker_dev_var("BRIDGE_TOKEN");
    let allowed = worker_dev_var("STDIO_ALLOWED_COMMANDS");
    let addr = url
        .strip_prefix("http://")
        .expect("STDIO_BRIDGE_URL is http://host:port")
        .trim_end_matches('/')
        .to_string();
    let port: u16 = addr
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("STDIO_BRIDGE_URL has a port");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into();
    let mut bridge = Bridge {
        url,
        token,
        allowed,
        proc: None,
        agent,
    };
    if TcpStream::connect(("127.0.0.1", port)).is_ok() {
        let health = bridge.health();
        assert_eq!(
            health["status"], "ok",
            "something that is not a stdio bridge listens on {addr}: {health}"
        );
        eprintln!("stdio bridge: using the one already running at {addr}");
        return bridge;
    }
    build_once();
    let mut cmd = Command::new(bridge_binary());
    cmd.env("BRIDGE_TOKEN", &bridge.token)
        .env("BRIDGE_ADDR", &addr)
        .env("BRIDGE_ALLOWED_COMMANDS", &bridge.allowed)
        .env("BRIDGE_LOG", "info")
        .env("PATH", tool_path());
    let mut proc = Proc::spawn("stdio-bridge", cmd);
    proc.wait_for_port(port, Duration::from_secs(30));
    bridge.proc = Some(proc);
    bridge
}

impl Bridge {
    /// `GET /health`: `{"status":"ok","children":N,"sessions":N}`.
    pub fn health(&self) -> Value {
        let mut r = self
            .agent
            .get(format!("{}/health", self.url))
            .call()
            .expect("GET /health");
        serde_json::from_str(&r.body_mut().read_to_string().unwrap_or_default())
            .unwrap_or(Value::Null)
    }

    /// `GET /t/{team}/s/{server}/stderr`: a child's redacted stderr tail.
    pub fn stderr(&self, team: &str, server: &str) -> (u16, String) {
        let mut r = self
            .agent
            .get(format!("{}/t/{team}/s/{server}/stderr", self.url))
            .header("authorization", format!("Bearer {}", self.token))
            .call()
            .expect("GET stderr");
        (
            r.status().as_u16(),
            r.body_mut().read_to_string().unwrap_or_default(),
        )
    }

    /// POSTs a JSON-RPC body to `/t/{team}/s/{server}/mcp` with the given launch spec header
    /// (base64url JSON) and the bridge's bearer: the status and the body.
    pub fn post(&self, team: &str, server: &str, spec: &str, body: &Value) -> (u16, Value) {
        let mut r = self
            .agent
            .post(format!("{}/t/{team}/s/{server}/mcp", self.url))
            .header("authorization", format!("Bearer {}", self.token))
            .header("x-bridge-command", spec)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .send(body.to_string().as_bytes())
            .expect("POST to the bridge");
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// The bridge's own log (empty when an already running bridge is used).
    pub fn log_text(&self) -> String {
        self.proc.as_ref().map(Proc::log_text).unwrap_or_default()
    }
}

/// The bridge binary, built (or found up to date) with cargo in the workspace's target dir.
fn bridge_binary() -> std::path::PathBuf {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "-q", "-p", "stdio_bridge"])
        .current_dir(root())
        .status()
        .expect("cargo build -p stdio_bridge");
    assert!(status.success(), "building the stdio bridge failed");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .map(|dir| {
            if dir.is_relative() {
                root().join(dir)
            } else {
                dir
            }
        })
        .unwrap_or_else(|| root().join("target"));
    target.join("debug/stdio_bridge")
}
