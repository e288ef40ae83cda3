//! The `stdio_bridge` binary: configuration from the environment, and SIGTERM.

mod common;

use common::*;
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

struct Bin {
    proc: std::process::Child,
    addr: String,
    _token: tempfile::NamedTempFile,
}

impl Drop for Bin {
    fn drop(&mut self) {
        let _ = self.proc.kill();
        let _ = self.proc.wait();
    }
}

fn spawn_bin(extra: &[(&str, &str)]) -> Bin {
    let token = token_file(TOKEN);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stdio_bridge"));
    cmd.env_clear()
        .env("BRIDGE_TOKEN_FILE", token.path())
        .env("BRIDGE_ADDR", "127.0.0.1:0")
        // These tests compare the pids children report with the host's: no PID namespace.
        .env("BRIDGE_SANDBOX", "uid")
        .env(
            "BRIDGE_ALLOWED_COMMANDS",
            format!("mcp-server-everything,{}", python().display()),
        )
        .env("PATH", search_path())
        .env(
            "HOME",
            std::env::var("HOME").unwrap_or_else(|_| "/tmp".into()),
        )
        .envs(extra.iter().copied())
        .env(
            "BRIDGE_INSECURE_SHARED_UID",
            if is_root() { "false" } else { "true" },
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut proc = cmd.spawn().expect("stdio_bridge binary starts");
    let mut line = String::new();
    BufReader::new(proc.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("stdio_bridge listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    Bin {
        proc,
        addr,
        _token: token,
    }
}

fn url(bin: &Bin, team: &str, server: &str) -> String {
    format!("http://{}/t/{team}/s/{server}/mcp", bin.addr)
}

#[tokio::test]
async fn sigterm_kills_every_child_process_group() {
    let marker = format!(
        "sigterm-test-{}-{:?}",
        std::process::id(),
        std::time::Instant::now()
    );
    let mut bin = spawn_bin(&[]);
    let mut c = Client::new(
        url(&bin, "team1", "py"),
        &py_with_env(&[("TEST_MARKER", &marker)]),
    );
    c.initialize().await;
    let child = pid_of(&c).await;
    let grandchild: u32 = text(&c.call_tool("spawn_grandchild", json!({})).await)
        .parse()
        .unwrap();
    let mut spec = everything();
    spec.env.insert("TEST_MARKER".into(), marker.clone());
    let mut e = Client::new(url(&bin, "team2", "everything"), &spec);
    e.initialize().await;
    assert!(alive(child) && alive(grandchild));

    unsafe {
        libc::kill(bin.proc.id() as i32, libc::SIGTERM);
    }
    let status = bin.proc.wait().unwrap();
    assert!(status.success(), "clean exit on SIGTERM: {status}");
    wait_until(
        "the child and its grandchild are gone",
        Duration::from_secs(5),
        || !alive(child) && !alive(grandchild),
    )
    .await;
    // No process started by this bridge (server-everything's node included) survives. The
    // groups were signalled on shutdown; a loaded machine may take a moment to reap them.
    let ours = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| alive(*pid))
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/environ"))
                    .is_ok_and(|env| env.contains(&marker))
            })
            .count()
    };
    wait_until(
        "no process carries the marker from the launch specs",
        Duration::from_secs(5),
        || ours() == 0,
    )
    .await;
}

#[tokio::test]
async fn children_never_see_the_bridge_token() {
    let bin = spawn_bin(&[]);
    let mut c = Client::new(
        url(&bin, "team1", "py"),
        &py_with_env(&[("API_KEY", "from-spec")]),
    );
    c.initialize().await;
    assert_eq!(
        text(&c.call_tool("env", json!({"name": "BRIDGE_TOKEN"})).await),
        ""
    );
    assert_eq!(
        text(&c.call_tool("env", json!({"name": "API_KEY"})).await),
        "from-spec"
    );
    assert!(!text(&c.call_tool("env", json!({"name": "PATH"})).await).is_empty());
}

#[test]
fn refuses_to_start_without_a_token() {
    let out = Command::new(env!("CARGO_BIN_EXE_stdio_bridge"))
        .env_clear()
        .env("BRIDGE_ADDR", "127.0.0.1:0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("BRIDGE_TOKEN"));
}

#[tokio::test]
async fn a_token_given_in_the_environment_is_scrubbed_from_the_bridges_proc_environ() {
    let secret = format!("env-token-{}", std::process::id());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stdio_bridge"));
    cmd.env_clear()
        .env("BRIDGE_TOKEN", &secret)
        .env("BRIDGE_ADDR", "127.0.0.1:0")
        .env("PATH", search_path())
        .env(
            "BRIDGE_INSECURE_SHARED_UID",
            if is_root() { "false" } else { "true" },
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let proc = cmd.spawn().unwrap();
    let mut bin = Bin {
        proc,
        addr: String::new(),
        _token: token_file("unused"),
    };
    let mut line = String::new();
    BufReader::new(bin.proc.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("listening on"), "{line:?}");
    let pid = bin.proc.id();
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let environ = String::from_utf8_lossy(&environ);
    assert!(
        !environ.contains(&secret),
        "token still in /proc/{pid}/environ"
    );
}

#[test]
fn refuses_a_shared_uid_on_a_public_address() {
    let token = token_file(TOKEN);
    let out = Command::new(env!("CARGO_BIN_EXE_stdio_bridge"))
        .env_clear()
        .env("BRIDGE_TOKEN_FILE", token.path())
        .env("BRIDGE_ADDR", "0.0.0.0:0")
        .env("BRIDGE_INSECURE_SHARED_UID", "true")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("BRIDGE_INSECURE_SHARED_UID") && err.contains("loopback"),
        "{err}"
    );
}

/// A bridge that cannot give children their own uids refuses to start; the insecure
/// development setting lets it, on loopback only.
#[test]
fn refuses_to_start_without_root_unless_told_to_share_its_uid() {
    let run = |insecure: &str| {
        let mut cmd = if is_root() {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
            c.arg(env!("CARGO_BIN_EXE_stdio_bridge"));
            c
        } else {
            Command::new(env!("CARGO_BIN_EXE_stdio_bridge"))
        };
        cmd.env_clear()
            .env("BRIDGE_TOKEN", TOKEN)
            .env("BRIDGE_ADDR", "127.0.0.1:0")
            .env("BRIDGE_INSECURE_SHARED_UID", insecure)
            .env("TMPDIR", "/tmp")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut proc = cmd.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(proc.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let _ = proc.kill();
        let out = proc.wait_with_output().unwrap();
        (line, String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (line, err) = run("false");
    assert!(line.is_empty(), "did not start: {line:?}");
    assert!(err.contains("must run as root"), "{err}");
    let (line, err) = run("true");
    assert!(line.contains("listening on"), "{line:?} {err}");
    assert!(err.contains("sandbox mode: shared-uid"), "{err}");
}
