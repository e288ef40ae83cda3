//! IBM ContextForge (PyPI `mcp-contextforge-gateway`) as a peer gateway in front of the same
//! MCP server: its own process on a free loopback port, SQLite state in a temporary directory,
//! upstream sessions reused (`USE_STATEFUL_SESSIONS=true`, its fastest mode), auth, UI,
//! plugins and rate limiting as in `shared/reference/mcp-peers.md`. The server is registered
//! as a ContextForge "gateway", its `echo` bundled into a virtual server, and callers speak
//! MCP to `/servers/<id>/mcp` with an admin bearer token.
//!
//! It runs from a virtualenv that `scripts/bench.sh` installs (`target/contextforge-venv`, or
//! `MCP_EDGE_CONTEXTFORGE_VENV`); [`ContextForge::start`] answers why not when it cannot run.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};

use super::direct::Target;
use crate::proc::Proc;
use crate::{free_port, root};

pub struct ContextForge {
    pub version: String,
    pub target: Target,
    _proc: Proc,
    _state: tempfile::TempDir,
}

/// The virtualenv ContextForge runs from.
pub fn venv() -> PathBuf {
    std::env::var_os("MCP_EDGE_CONTEXTFORGE_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/contextforge-venv"))
}

fn random_secret(bytes: usize) -> String {
    use std::io::Read;
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("/dev/urandom");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

impl ContextForge {
    /// Starts ContextForge in front of the Streamable HTTP server at `upstream` (its `echo`
    /// tool); the error says why it cannot.
    pub fn start(upstream: &str) -> Result<ContextForge, String> {
        if let Ok(why) = std::env::var("MCP_EDGE_CONTEXTFORGE_UNAVAILABLE") {
            return Err(why);
        }
        let venv = venv();
        let (gateway_bin, python) = (venv.join("bin/mcpgateway"), venv.join("bin/python"));
        if !gateway_bin.exists() {
            return Err(format!(
                "{} is missing (scripts/bench.sh installs mcp-contextforge-gateway there)",
                gateway_bin.display()
            ));
        }
        let version = Command::new(&python)
            .args([
                "-c",
                "import importlib.metadata as m; print(m.version('mcp-contextforge-gateway'))",
            ])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        let state = tempfile::tempdir().map_err(|e| e.to_string())?;
        let jwt_secret = random_secret(32);
        let password = format!("Bx{}9!", random_secret(12));
        let env: Vec<(&str, String)> = vec![
            (
                "DATABASE_URL",
                format!("sqlite:///{}/contextforge.db", state.path().display()),
            ),
            ("JWT_SECRET_KEY", jwt_secret.clone()),
            ("AUTH_ENCRYPTION_SECRET", random_secret(32)),
            ("BASIC_AUTH_USER", "admin".into()),
            ("BASIC_AUTH_PASSWORD", password.clone()),
            ("PLATFORM_ADMIN_EMAIL", "admin@example.com".into()),
            ("PLATFORM_ADMIN_PASSWORD", password),
            ("SSRF_ALLOW_LOCALHOST", "true".into()),
            ("MCPGATEWAY_UI_ENABLED", "false".into()),
            ("MCPGATEWAY_ADMIN_API_ENABLED", "true".into()),
            ("CACHE_TYPE", "memory".into()),
            ("PLUGINS_ENABLED", "false".into()),
            ("RATE_LIMITING_ENABLED", "false".into()),
            ("LOG_LEVEL", "ERROR".into()),
            ("USE_STATEFUL_SESSIONS", "true".into()),
        ];
        let port = free_port();
        let mut cmd = Command::new(&gateway_bin);
        cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .current_dir(state.path())
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
        let mut proc = Proc::spawn("contextforge", cmd);
        let base = format!("http://127.0.0.1:{port}");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let deadline = std::time::Instant::now() + Duration::from_secs(300);
        loop {
            if let Some(status) = proc.exit_status() {
                return Err(format!(
                    "mcpgateway exited ({status}) while starting: {}",
                    last_lines(&proc.log_text(), 3)
                ));
            }
            if agent
                .get(format!("{base}/health"))
                .call()
                .is_ok_and(|r| r.status() == 200)
            {
                break;
            }
            if std::time::Instant::now() > deadline {
                return Err(format!(
                    "mcpgateway did not answer /health within 300 s: {}",
                    last_lines(&proc.log_text(), 3)
                ));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        let minted = Command::new(&python)
            .args([
                "-m",
                "mcpgateway.utils.create_jwt_token",
                "--username",
                "admin@example.com",
                "--exp",
                "10080",
                "--admin",
                "--secret",
                &jwt_secret,
            ])
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .current_dir(state.path())
            .output()
            .map_err(|e| format!("create_jwt_token: {e}"))?;
        let token = String::from_utf8_lossy(&minted.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .trim()
            .to_string();
        if token.matches('.').count() != 2 {
            return Err(format!(
                "create_jwt_token printed no token: {}",
                last_lines(&String::from_utf8_lossy(&minted.stderr), 3)
            ));
        }
        let bearer = format!("Bearer {token}");
        let post = |path: &str, body: Value| -> Result<Value, String> {
            let mut r = agent
                .post(format!("{base}{path}"))
                .header("authorization", &bearer)
                .send_json(body)
                .map_err(|e| format!("POST {path}: {e}"))?;
            let status = r.status().as_u16();
            let text = r.body_mut().read_to_string().unwrap_or_default();
            if !(200..300).contains(&status) {
                return Err(format!("POST {path}: {status} {}", last_lines(&text, 2)));
            }
            serde_json::from_str(&text).map_err(|e| format!("POST {path}: {e}"))
        };
        post(
            "/gateways",
            json!({"name": "everything", "url": upstream, "transport": "STREAMABLEHTTP"}),
        )?;
        let mut tools = agent
            .get(format!("{base}/tools"))
            .header("authorization", &bearer)
            .call()
            .map_err(|e| format!("GET /tools: {e}"))?;
        let tools: Value = tools
            .body_mut()
            .read_json()
            .map_err(|e| format!("GET /tools: {e}"))?;
        let list = tools
            .as_array()
            .or_else(|| tools["items"].as_array())
            .cloned()
            .unwrap_or_default();
        let echo = list
            .iter()
            .find(|t| t["name"].as_str().is_some_and(|n| n.ends_with("-echo")))
            .ok_or_else(|| format!("no echo among ContextForge's {} tools", list.len()))?;
        let (tool_id, tool_name) = (
            echo["id"].as_str().unwrap_or_default().to_string(),
            echo["name"].as_str().unwrap_or_default().to_string(),
        );
        let server = post(
            "/servers",
            json!({"server": {"name": "bench", "associated_tools": [tool_id]}}),
        )?;
        let server_id = server["id"]
            .as_str()
            .ok_or("POST /servers: no id")?
            .to_string();
        Ok(ContextForge {
            version,
            target: Target {
                url: format!("{base}/servers/{server_id}/mcp"),
                headers: vec![("Authorization".into(), bearer)],
                tool: tool_name,
            },
            _proc: proc,
            _state: state,
        })
    }
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}
