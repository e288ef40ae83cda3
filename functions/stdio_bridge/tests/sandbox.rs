//! Hostile children against the real bridge binary, black-box through its HTTP interface:
//! `tests/servers/hostile_stdio_server.py` tries one attack per tool; every attack fails and
//! the bridge and the other team's child keep serving.
//!
//! By default each test starts its own bridges (the binary, on free loopback ports, as root)
//! in both sandbox modes, `namespaces` and `uid`, with small limits. With
//! `STDIO_BRIDGE_TEST_URL` set, the same tests run against that bridge instead (e.g. the one
//! in the container; see the README for the variables and the limits it must be started with).

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use stdio_bridge::child::codes;
use stdio_bridge::LaunchSpec;

/// Limits the native bridges run with (an external bridge's come from its `/health`).
const NATIVE_LIMITS: &[(&str, &str)] = &[
    ("BRIDGE_CHILD_MEMORY_MB", "256"),
    ("BRIDGE_CHILD_CPU_SECS", "4"),
    ("BRIDGE_CHILD_PROCESSES", "64"),
    ("BRIDGE_CHILD_OPEN_FILES", "128"),
    ("BRIDGE_CHILD_FILE_SIZE_MB", "8"),
];

struct Bin(std::process::Child);

impl Drop for Bin {
    /// SIGTERM (the bridge wipes its children's homes), SIGKILL if it is still there after 10 s.
    fn drop(&mut self) {
        unsafe {
            libc::kill(self.0.id() as i32, libc::SIGTERM);
        }
        for _ in 0..200 {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A bridge under test and what the hostile server needs to know about it.
struct Target {
    name: String,
    base: String,
    token: String,
    /// The token file's path as the bridge (and its children) see it.
    token_file: String,
    python: String,
    hostile: String,
    health: Value,
    _bin: Option<(Bin, tempfile::NamedTempFile)>,
}

fn hostile_server() -> String {
    repo()
        .join("tests/servers/hostile_stdio_server.py")
        .to_string_lossy()
        .into_owned()
}

async fn get_health(base: &str) -> Value {
    let text = reqwest::get(format!("{base}/health"))
        .await
        .expect("GET /health")
        .text()
        .await
        .expect("health body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("health {text:?}: {e}"))
}

/// Starts the bridge binary as root in `mode` with `extra` settings.
async fn native(mode: &str, extra: &[(&str, &str)]) -> Target {
    assert!(
        is_root(),
        "the sandbox tests start bridges that switch uids: run them as root"
    );
    let token = format!("sandbox-token-{}-{mode}", std::process::id());
    let file = token_file(&token);
    let python = python().to_string_lossy().into_owned();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stdio_bridge"));
    cmd.env_clear()
        .env("BRIDGE_TOKEN_FILE", file.path())
        .env("BRIDGE_ADDR", "127.0.0.1:0")
        .env("BRIDGE_ALLOWED_COMMANDS", &python)
        .env("BRIDGE_SANDBOX", mode)
        .env("BRIDGE_LOG", "warn")
        .env("PATH", search_path())
        .envs(NATIVE_LIMITS.iter().copied())
        .envs(extra.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut proc = cmd.spawn().expect("stdio_bridge starts");
    let mut line = String::new();
    BufReader::new(proc.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let bin = Bin(proc);
    let addr = line
        .trim()
        .strip_prefix("stdio_bridge listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    let base = format!("http://{addr}");
    let health = get_health(&base).await;
    assert_eq!(health["sandbox"], json!(mode), "{health}");
    Target {
        name: format!("native {mode}"),
        base,
        token,
        token_file: file.path().to_string_lossy().into_owned(),
        python,
        hostile: hostile_server(),
        health,
        _bin: Some((bin, file)),
    }
}

/// The bridges every test runs against: an external one, or native ones in both modes.
async fn targets() -> Vec<Target> {
    if let Ok(url) = std::env::var("STDIO_BRIDGE_TEST_URL") {
        let var = |n: &str| {
            std::env::var(n)
                .unwrap_or_else(|_| panic!("{n} must be set with STDIO_BRIDGE_TEST_URL"))
        };
        let file = var("STDIO_BRIDGE_TEST_TOKEN_FILE");
        let token = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("{file}: {e}"))
            .trim()
            .to_string();
        let base = url.trim_end_matches('/').to_string();
        let health = get_health(&base).await;
        return vec![Target {
            name: format!("external {base}"),
            token,
            token_file: std::env::var("STDIO_BRIDGE_TEST_BRIDGE_TOKEN_FILE").unwrap_or(file),
            python: std::env::var("STDIO_BRIDGE_TEST_PYTHON").unwrap_or_else(|_| "python3".into()),
            hostile: var("STDIO_BRIDGE_TEST_HOSTILE"),
            base,
            health,
            _bin: None,
        }];
    }
    vec![native("namespaces", &[]).await, native("uid", &[]).await]
}

impl Target {
    fn spec(&self, env: &[(&str, &str)]) -> LaunchSpec {
        LaunchSpec {
            command: self.python.clone(),
            args: vec![self.hostile.clone()],
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    async fn client(&self, team: &str, server: &str, env: &[(&str, &str)]) -> Client {
        let mut c = Client::new(
            format!("{}/t/{team}/s/{server}/mcp", self.base),
            &self.spec(env),
        );
        c.token = self.token.clone();
        c.initialize().await;
        c
    }

    fn limit(&self, name: &str) -> u64 {
        self.health["limits"][name]
            .as_u64()
            .unwrap_or_else(|| panic!("{}: no limit {name} in {}", self.name, self.health))
    }

    fn mode(&self) -> String {
        self.health["sandbox"].as_str().unwrap_or("").to_string()
    }

    /// The bridge answers `/health` and `victim` still answers a call.
    async fn assert_healthy(&self, victim: &Client) {
        let h = get_health(&self.base).await;
        assert_eq!(h["status"], "ok", "{}: {h}", self.name);
        assert_eq!(
            text(
                &victim
                    .call_tool("echo", json!({"message": "still here"}))
                    .await
            ),
            "still here",
            "{}: the other team's child keeps serving",
            self.name
        );
    }
}

/// Calls a hostile tool; its JSON report.
async fn attack(c: &Client, tool: &str, args: Value) -> Value {
    let t = text(&c.call_tool(tool, args).await);
    serde_json::from_str(&t).unwrap_or_else(|e| panic!("{tool}: {e}: {t}"))
}

fn unique(what: &str) -> String {
    format!(
        "{what}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

#[tokio::test]
async fn each_child_runs_as_its_own_uid_with_a_fresh_private_home_and_the_bridges_limits() {
    for t in targets().await {
        let a = t.client("team-a", "s", &[("API_KEY", "k")]).await;
        let b = t.client("team-b", "s", &[]).await;
        let (wa, wb) = (
            attack(&a, "whoami", json!({})).await,
            attack(&b, "whoami", json!({})).await,
        );
        for w in [&wa, &wb] {
            let uid = w["uid"].as_u64().unwrap();
            assert!(
                uid >= 1000,
                "{}: not a system or the bridge's uid: {w}",
                t.name
            );
            assert_eq!(w["euid"], w["uid"], "{}: {w}", t.name);
            assert_eq!(w["gid"], w["uid"], "{}: gid = uid: {w}", t.name);
            let groups = w["groups"].as_array().unwrap();
            assert!(
                groups.iter().all(|g| *g == w["gid"]),
                "{}: no supplementary groups: {w}",
                t.name
            );
            let names: Vec<&str> = w["env_names"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_str().unwrap())
                .collect();
            let base = [
                "PATH",
                "HOME",
                "TMPDIR",
                "USER",
                "LOGNAME",
                "LANG",
                "LC_ALL",
                "TZ",
                "SSL_CERT_FILE",
                "API_KEY",
                "PWD",
            ];
            assert!(
                names.iter().all(|n| base.contains(n)),
                "{}: only the safe base and the spec's names: {names:?}",
                t.name
            );
            let lim = &w["limits"];
            let mib = 1024 * 1024;
            assert_eq!(
                lim["RLIMIT_DATA"][0],
                json!(t.limit("memory_mb") * mib),
                "{}",
                t.name
            );
            assert_eq!(
                lim["RLIMIT_CPU"][0],
                json!(t.limit("cpu_secs")),
                "{}",
                t.name
            );
            assert_eq!(
                lim["RLIMIT_NPROC"][0],
                json!(t.limit("processes")),
                "{}",
                t.name
            );
            assert_eq!(
                lim["RLIMIT_NOFILE"][0],
                json!(t.limit("open_files")),
                "{}",
                t.name
            );
            assert_eq!(
                lim["RLIMIT_FSIZE"][0],
                json!(t.limit("file_size_mb") * mib),
                "{}",
                t.name
            );
            if t.mode() == "namespaces" {
                assert!(
                    w["visible_pids"].as_u64().unwrap() < 10,
                    "{}: its own PID namespace: {w}",
                    t.name
                );
            }
        }
        assert_ne!(wa["uid"], wb["uid"], "{}: one uid per child", t.name);

        // A fresh empty home: what one child left is gone when the next one starts.
        let entries = attack(&a, "home_entries", json!({})).await;
        assert_eq!(entries, json!(["tmp"]), "{}", t.name);
        attack(&a, "plant", json!({"secret": "left-behind"})).await;
        let exited = a
            .request("tools/call", json!({"name": "exit_now", "arguments": {}}))
            .await;
        assert_eq!(
            exited["error"]["code"],
            codes::CHILD_GONE,
            "{}: {exited}",
            t.name
        );
        let entries = attack(&a, "home_entries", json!({})).await;
        assert_eq!(
            entries,
            json!(["tmp"]),
            "{}: the restarted child's home is new",
            t.name
        );
    }
}

#[tokio::test]
async fn a_child_cannot_read_the_bridges_environment_or_token_file() {
    for t in targets().await {
        let victim = t.client("team-v", "victim", &[]).await;
        let c = t.client("team-h", "hostile", &[]).await;
        let r = c
            .call_tool("read_bridge", json!({"token_file": t.token_file}))
            .await;
        let report: Value = serde_json::from_str(&text(&r)).unwrap();
        assert!(
            !r.to_string().contains(&t.token),
            "{}: token leaked",
            t.name
        );
        assert_eq!(report["environ_read"], json!([]), "{}: {report}", t.name);
        assert_eq!(report["token_file_read"], false, "{}: {report}", t.name);
        t.assert_healthy(&victim).await;
    }
}

#[tokio::test]
async fn a_child_cannot_read_another_teams_childs_environment_or_files() {
    for t in targets().await {
        let secret_env = unique("victim-env-secret");
        let secret_file = unique("victim-file-secret");
        let victim = t
            .client("team-v", "victim", &[("VICTIM_KEY", &secret_env)])
            .await;
        let planted = attack(&victim, "plant", json!({"secret": secret_file})).await;
        let c = t.client("team-h", "hostile", &[]).await;
        let mut roots: Vec<Value> = planted.as_array().unwrap().clone();
        roots.push(json!(native_homes_root()));
        let r = c.call_tool("read_others", json!({"roots": roots})).await;
        let report = r.to_string();
        assert!(!report.contains(&secret_env), "{}: env leaked", t.name);
        assert!(!report.contains(&secret_file), "{}: file leaked", t.name);
        let parsed: Value = serde_json::from_str(&text(&r)).unwrap();
        assert_eq!(parsed["environs_read"], json!({}), "{}: {parsed}", t.name);
        t.assert_healthy(&victim).await;
    }
}

/// The default homes root of a native bridge run as root (an external bridge's lies inside
/// its own environment, where the hostile server looks at its home's parent anyway).
fn native_homes_root() -> String {
    stdio_bridge::sandbox::Settings::default_homes()
        .to_string_lossy()
        .into_owned()
}

#[tokio::test]
async fn a_child_cannot_write_outside_its_home() {
    for t in targets().await {
        let victim = t.client("team-v", "victim", &[]).await;
        let planted = attack(&victim, "plant", json!({"secret": "x"})).await;
        let victim_home = std::path::Path::new(planted[0].as_str().unwrap())
            .parent()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let token_dir = std::path::Path::new(&t.token_file)
            .parent()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let c = t.client("team-h", "hostile", &[]).await;
        let r = attack(
            &c,
            "write_outside",
            json!({"dirs": [victim_home, token_dir, native_homes_root()]}),
        )
        .await;
        let written: Vec<&str> = r["written"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap())
            .collect();
        // With uid separation only, the world-writable sticky directories stay writable
        // (to every user of the machine; nothing of another child's is there).
        let shared_sticky = ["/tmp", "/var/tmp", "/dev/shm"];
        let allowed: &[&str] = if t.mode() == "namespaces" {
            &[]
        } else {
            &shared_sticky
        };
        assert!(
            written.iter().all(|d| allowed.contains(d)),
            "{}: wrote outside its home: {r}",
            t.name
        );
        t.assert_healthy(&victim).await;
    }
}

#[tokio::test]
async fn a_fork_bomb_stops_at_the_process_limit_and_the_bridge_keeps_serving() {
    for t in targets().await {
        let victim = t.client("team-v", "victim", &[]).await;
        let c = t.client("team-h", "hostile", &[]).await;
        let r = attack(&c, "fork_bomb", json!({"limit": 5000})).await;
        let forked = r["forked"].as_u64().unwrap();
        assert!(forked < t.limit("processes"), "{}: {r}", t.name);
        assert!(
            !r["error"].as_str().unwrap().is_empty(),
            "{}: refused: {r}",
            t.name
        );
        t.assert_healthy(&victim).await;
        assert_eq!(
            text(&c.call_tool("echo", json!({"message": "m"})).await),
            "m"
        );
    }
}

#[tokio::test]
async fn allocating_past_the_memory_limit_fails_in_the_child() {
    for t in targets().await {
        let victim = t.client("team-v", "victim", &[]).await;
        let c = t.client("team-h", "hostile", &[]).await;
        let limit = t.limit("memory_mb");
        let r = attack(&c, "allocate", json!({"mb": limit * 4})).await;
        assert!(
            r["allocated_mb"].as_u64().unwrap() < limit,
            "{}: {r}",
            t.name
        );
        assert!(
            r["error"].as_str().unwrap().contains("MemoryError"),
            "{}: {r}",
            t.name
        );
        t.assert_healthy(&victim).await;
    }
}

#[tokio::test]
async fn spinning_past_the_cpu_limit_ends_the_child_and_the_next_call_starts_a_new_one() {
    for t in targets().await {
        let victim = t.client("team-v", "victim", &[]).await;
        let c = t.client("team-h", "hostile", &[]).await;
        let before = attack(&c, "whoami", json!({})).await;
        let wall = t.limit("cpu_secs") * 4 + 30;
        let r = c
            .request(
                "tools/call",
                json!({"name": "spin", "arguments": {"seconds": wall}}),
            )
            .await;
        assert_eq!(r["error"]["code"], codes::CHILD_GONE, "{}: {r}", t.name);
        // Killed by SIGXCPU (24) or SIGKILL (9); under bubblewrap, which reports a killed
        // child as exit code 128 + signal.
        let message = r["error"]["message"].as_str().unwrap();
        assert!(
            [
                "killed by signal 24",
                "killed by signal 9",
                "exit code 152",
                "exit code 137"
            ]
            .iter()
            .any(|m| message.contains(m)),
            "{}: killed by SIGXCPU/SIGKILL: {r}",
            t.name
        );
        t.assert_healthy(&victim).await;
        let after = attack(&c, "whoami", json!({})).await;
        assert_ne!(
            before["instance"], after["instance"],
            "{}: a new child",
            t.name
        );
    }
}

#[tokio::test]
async fn opening_too_many_files_stops_at_the_limit() {
    for t in targets().await {
        let victim = t.client("team-v", "victim", &[]).await;
        let c = t.client("team-h", "hostile", &[]).await;
        let r = attack(&c, "open_files", json!({"limit": 1_000_000})).await;
        assert!(
            r["opened"].as_u64().unwrap() < t.limit("open_files"),
            "{}: {r}",
            t.name
        );
        assert!(
            r["error"].as_str().unwrap().contains("Too many open files"),
            "{}: {r}",
            t.name
        );
        t.assert_healthy(&victim).await;
    }
}

#[tokio::test]
async fn writing_a_file_past_the_size_limit_fails() {
    for t in targets().await {
        let victim = t.client("team-v", "victim", &[]).await;
        let c = t.client("team-h", "hostile", &[]).await;
        let limit = t.limit("file_size_mb");
        let r = attack(&c, "write_big", json!({"mb": limit * 4})).await;
        assert!(
            r["written_mb"].as_u64().unwrap() <= limit,
            "{}: {r}",
            t.name
        );
        assert!(
            r["error"].as_str().unwrap().contains("File too large"),
            "{}: {r}",
            t.name
        );
        t.assert_healthy(&victim).await;
    }
}

#[tokio::test]
async fn flooding_stdout_leaves_the_bridge_and_the_other_child_serving() {
    for t in targets().await {
        let victim = t.client("team-v", "victim", &[]).await;
        let c = t.client("team-h", "hostile", &[]).await;
        // Many junk lines, then lines over the bridge's line limit (4 MiB by default).
        let r = attack(&c, "flood", json!({"mb": 32, "line_kb": 64})).await;
        assert!(
            r["flooded_bytes"].as_u64().unwrap() >= 32 << 20,
            "{}: {r}",
            t.name
        );
        let r = attack(&c, "flood", json!({"mb": 24, "line_kb": 6144})).await;
        assert!(
            r["flooded_bytes"].as_u64().unwrap() >= 24 << 20,
            "{}: {r}",
            t.name
        );
        t.assert_healthy(&victim).await;
        assert_eq!(
            text(&c.call_tool("echo", json!({"message": "m"})).await),
            "m"
        );
    }
}

#[tokio::test]
async fn children_over_the_team_cap_or_the_total_cap_are_refused_with_503() {
    let t = native(
        "uid",
        &[
            ("BRIDGE_MAX_CHILDREN_PER_TEAM", "2"),
            ("BRIDGE_MAX_CHILDREN", "3"),
        ],
    )
    .await;
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}});
    let try_start = |team: &'static str, server: &'static str| {
        let mut c = Client::new(format!("{}/t/{team}/s/{server}/mcp", t.base), &t.spec(&[]));
        c.token = t.token.clone();
        let body = init.clone();
        async move { c.post(&body).await }
    };
    let _a1 = t.client("team-a", "s1", &[]).await;
    let _a2 = t.client("team-a", "s2", &[]).await;
    let r = try_start("team-a", "s3").await;
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!(r.last()["error"]["code"], codes::AT_CAPACITY);
    assert!(
        r.text.contains("team-a") && r.text.contains("BRIDGE_MAX_CHILDREN_PER_TEAM"),
        "{r:?}"
    );
    // The team's own running server is not refused (it is already counted).
    let again = try_start("team-a", "s1").await;
    assert_eq!(again.status, 200, "{again:?}");
    let _b1 = t.client("team-b", "s1", &[]).await;
    let r = try_start("team-b", "s2").await;
    assert_eq!(r.status, 503, "{r:?}");
    assert!(r.text.contains("BRIDGE_MAX_CHILDREN)"), "{r:?}");
}
