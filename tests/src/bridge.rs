//! The local stdio bridge (`functions/stdio_bridge`) next to `wrangler dev`, as
//! `scripts/dev.sh` runs it, but owned by the test: its own process on a free loopback port
//! with a fresh random token (given in a private `BRIDGE_TOKEN_FILE`, never in its environment),
//! the workers' `STDIO_ALLOWED_COMMANDS` as its allow-list and the repo's npm binaries and venv
//! executables on its `PATH`. Run as root, each child gets its own uid (the bridge's sandbox);
//! otherwise the bridge's development mode (`BRIDGE_INSECURE_SHARED_UID=true`, loopback only).
//! A bridge that something else runs (a
//! `scripts/dev.sh` session of this or another checkout, on the `.dev.vars` address) is never
//! used: the workers of the test's stack are pointed at this one with
//! [`Bridge::worker_dev_vars`] (`Stack::start_with_dev_vars`).

use std::io::Read;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::proc::Proc;
use crate::{free_port, root, tool_path};

pub struct Bridge {
    /// `STDIO_BRIDGE_URL` for the workers.
    pub url: String,
    pub token: String,
    /// `STDIO_ALLOWED_COMMANDS` of the workers, the bridge's allow-list.
    pub allowed: String,
    proc: Proc,
    agent: ureq::Agent,
    _token_file: tempfile::NamedTempFile,
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

/// 32 random bytes, hex: a bearer no other bridge shares.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("reading /dev/urandom");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Starts a bridge of the test's own on a free port. Its children get their own uids but no PID
/// namespace (`BRIDGE_SANDBOX=uid`), so the pids they report are the host's.
pub fn start() -> Bridge {
    start_with(&[("BRIDGE_SANDBOX", "uid")])
}

/// [`start`] with more `BRIDGE_*` settings (e.g. `BRIDGE_SANDBOX=auto`).
pub fn start_with(settings: &[(&str, &str)]) -> Bridge {
    crate::stack::build_once();
    let token = random_token();
    let allowed = worker_dev_var("STDIO_ALLOWED_COMMANDS");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    // NamedTempFile is created 0600: the bridge refuses a token file others may read.
    let token_file = tempfile::NamedTempFile::new().expect("a temporary token file");
    std::fs::write(token_file.path(), &token).expect("writing the token file");
    let mut cmd = Command::new(bridge_binary());
    cmd.env("BRIDGE_TOKEN_FILE", token_file.path())
        .env_remove("BRIDGE_TOKEN")
        .env("BRIDGE_ADDR", &addr)
        .env(
            "BRIDGE_INSECURE_SHARED_UID",
            if unsafe { libc::geteuid() } == 0 {
                "false"
            } else {
                "true"
            },
        )
        .env("BRIDGE_ALLOWED_COMMANDS", &allowed)
        .env("BRIDGE_LOG", "info")
        // The venv's bin last: the catalogue's PyPI connectors (mcp-server-git, …) are there.
        .env(
            "PATH",
            format!("{}:{}", tool_path(), root().join(".venv/bin").display()),
        )
        .envs(settings.iter().copied());
    let mut proc = Proc::spawn("stdio-bridge", cmd);
    proc.wait_for_port(port, Duration::from_secs(30));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into();
    Bridge {
        url: format!("http://{addr}"),
        token,
        allowed,
        proc,
        agent,
        _token_file: token_file,
    }
}

impl Bridge {
    /// `GET /health`: `{"status":"ok","children":N,"sessions":N,"sandbox":MODE,"limits":{…}}`.
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

    /// What the workers need to reach this bridge, as `.dev.vars` entries
    /// (`Stack::start_with_dev_vars`).
    pub fn worker_dev_vars(&self) -> [(&str, &str); 2] {
        [
            ("STDIO_BRIDGE_URL", self.url.as_str()),
            ("BRIDGE_TOKEN", self.token.as_str()),
        ]
    }

    /// Where the bridge read its token from (a private file).
    pub fn token_file(&self) -> &std::path::Path {
        self._token_file.path()
    }

    /// The bridge's own log.
    pub fn log_text(&self) -> String {
        self.proc.log_text()
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
