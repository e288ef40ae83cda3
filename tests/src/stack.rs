//! The whole system under `wrangler dev`: every worker in one session, local D1/KV/DO state in
//! a temporary directory, migrations applied, the API on a free loopback port.
//!
//! Settings the workers read from their `.dev.vars` (written once per checkout by
//! `scripts/dev-vars.sh`) can be changed for one session without touching the checkout:
//! `wrangler dev` reads each worker's `.dev.vars` next to its config and `--var` only reaches a
//! session's first worker, so the session then runs in a [`checkout_view`], a temporary
//! directory of symlinks to the checkout with its own copies of the `.dev.vars` files.
//! Sessions of one stack share a wrangler dev registry of their own, in the state directory.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, Once};
use std::time::Duration;

use serde_json::Value;

use crate::proc::Proc;
use crate::{free_port, jwt, root, tool_path};

pub const WORKERS: [&str; 6] = [
    "gateway",
    "list_servers",
    "list_tools",
    "call_tool",
    "sync_tools",
    "admin",
];

static BUILD: Once = Once::new();

/// Builds every worker once per test process (skip with MCP_EDGE_PREBUILT=1 when the test
/// command already built them) and writes the local .dev.vars.
pub fn build_once() {
    BUILD.call_once(|| {
        run_script("scripts/dev-vars.sh", &[]);
        if std::env::var_os("MCP_EDGE_PREBUILT").is_none() {
            run_script(
                "scripts/build-workers.sh",
                &[("MCP_EDGE_PROFILE", "fastdev")],
            );
        }
    });
}

fn run_script(script: &str, env: &[(&str, &str)]) {
    let status = Command::new(root().join(script))
        .current_dir(root())
        .envs(env.iter().copied())
        .env("PATH", tool_path())
        .status()
        .unwrap_or_else(|e| panic!("{script}: {e}"));
    assert!(status.success(), "{script} failed");
}

/// `wrangler` from node_modules on `persist` state, with its own dev registry there.
pub fn wrangler(args: &[&str], persist: &Path) -> Command {
    let mut cmd = Command::new(root().join("node_modules/.bin/wrangler"));
    cmd.args(args)
        .arg("--persist-to")
        .arg(persist)
        .current_dir(root())
        .env("PATH", tool_path())
        .env("WRANGLER_SEND_METRICS", "false")
        .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
        .env("MCP_EDGE_SKIP_BUILD", "1")
        .env("NO_COLOR", "1")
        // The dev registry (where sessions find each other's workers by name, as the cron
        // runner finds call_tool's Durable Object) is the stack's own, never the user's shared
        // one, which a `scripts/dev.sh` session of any checkout writes to.
        .env("WRANGLER_REGISTRY_PATH", persist.join("dev-registry"));
    cmd
}

/// (user, team, role)
type Membership = (String, String, String);

pub struct Stack {
    pub base: String,
    pub jwt_secret: String,
    state: tempfile::TempDir,
    /// Where the `wrangler dev` sessions run: the checkout, or a [`checkout_view`] of it.
    cwd: PathBuf,
    /// Kept for the session's life; `None` when `cwd` is the checkout.
    _view: Option<tempfile::TempDir>,
    dev: Proc,
    /// What the session was started with, for [`Stack::restart_runtime`].
    configs: Vec<String>,
    vars: Vec<(String, String)>,
    traces: LocalTraces,
    agent: ureq::Agent,
    /// Memberships that `token` promised: (pending, the next request writes them to D1
    /// first; written already).
    pending_members: Mutex<(Vec<Membership>, HashSet<Membership>)>,
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
    pub text: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The gateway's setting of the ledger's flush delay, and the stacks' default for it.
pub const LEDGER_FLUSH_DELAY: &str = "LEDGER_FLUSH_DELAY_MS";
pub const TEST_FLUSH_DELAY_MS: &str = "200";

impl Stack {
    /// Starts everything with `seed_sql` applied after the migrations.
    pub fn start(seed_sql: &str) -> Stack {
        Stack::start_with_vars(seed_sql, &[])
    }

    /// Like [`Stack::start`], with `vars` overriding the gateway's `[vars]` (`wrangler dev
    /// --var K:V`; with several `-c` configs wrangler gives them to the first, the gateway,
    /// and so to the Durable Objects it hosts, only).
    pub fn start_with_vars(seed_sql: &str, vars: &[(&str, &str)]) -> Stack {
        Stack::start_with_dev_vars(seed_sql, vars, &[])
    }

    /// Like [`Stack::start_with_vars`], with `dev_vars` replacing the values of those entries
    /// in every worker's `.dev.vars` that has them (e.g. `STDIO_BRIDGE_URL` and `BRIDGE_TOKEN`
    /// of admin, call_tool and sync_tools, to reach the test's own stdio bridge), for this
    /// stack's sessions only.
    pub fn start_with_dev_vars(
        seed_sql: &str,
        vars: &[(&str, &str)],
        dev_vars: &[(&str, &str)],
    ) -> Stack {
        Stack::start_full(seed_sql, vars, dev_vars, LocalTraces::Off)
    }

    /// Like [`Stack::start_with_vars`], with the runtime's local trace store recording
    /// (`LocalTraces::Recorded`): for the benchmarks that count storage trips in it.
    pub fn start_traced(seed_sql: &str, vars: &[(&str, &str)]) -> Stack {
        Stack::start_full(seed_sql, vars, &[], LocalTraces::Recorded)
    }

    fn start_full(
        seed_sql: &str,
        vars: &[(&str, &str)],
        dev_vars: &[(&str, &str)],
        traces: LocalTraces,
    ) -> Stack {
        build_once();
        // Tests read D1 right after their calls: a short ledger flush delay unless the test
        // chose one (the checked-in minute is proved in tests/tests/hot_path.rs).
        let mut vars = vars.to_vec();
        if !vars.iter().any(|(k, _)| *k == LEDGER_FLUSH_DELAY) {
            vars.push((LEDGER_FLUSH_DELAY, TEST_FLUSH_DELAY_MS));
        }
        // Tests and benchmarks read the stages (off as checked in; tests/tests/security.rs
        // proves the checked-in answer).
        if !vars.iter().any(|(k, _)| *k == shared::timing::SETTING) {
            vars.push((shared::timing::SETTING, "true"));
        }
        let vars = vars.as_slice();
        let view = (!dev_vars.is_empty()).then(|| checkout_view(dev_vars));
        let cwd = view.as_ref().map_or_else(root, |v| v.path().to_path_buf());
        let state = tempfile::tempdir().expect("temp dir");
        let out = wrangler(
            &[
                "d1",
                "migrations",
                "apply",
                "DB",
                "--local",
                "-c",
                "wrangler.toml",
            ],
            state.path(),
        )
        .output()
        .expect("wrangler d1 migrations apply");
        assert!(
            out.status.success(),
            "migrations failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !seed_sql.trim().is_empty() {
            d1_exec(state.path(), seed_sql);
        }
        let configs: Vec<String> = WORKERS
            .iter()
            .map(|w| match *w {
                "gateway" => "wrangler.toml".to_string(),
                w => format!("functions/{w}/wrangler.toml"),
            })
            .collect();
        let (dev, port) = dev_session("wrangler-dev", &configs, vars, state.path(), &cwd, traces);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            // Concurrent callers (the benchmarks' up to 128 threads) keep their connections
            // instead of reconnecting on most requests (ureq keeps 3 per host by default).
            .max_idle_connections(256)
            .max_idle_connections_per_host(256)
            .build()
            .into();
        let stack = Stack {
            base: format!("http://127.0.0.1:{port}"),
            jwt_secret: dev_var(&root().join(".dev.vars"), "JWT_SECRET"),
            state,
            cwd,
            _view: view,
            dev,
            configs,
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            traces,
            agent,
            pending_members: Mutex::new((Vec::new(), HashSet::new())),
        };
        stack.wait_healthy();
        stack
    }

    fn wait_healthy(&self) {
        for _ in 0..600 {
            if let Ok(r) = self.agent.get(format!("{}/health", self.base)).call() {
                if r.status() == 200 {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "gateway never became healthy; log:\n{}",
            self.dev.log_text()
        );
    }

    /// A token for `user`, who is (from the next request on) a `role` of `team` in
    /// `team_members` when the seed created that team: membership is ours to know, the token
    /// only proves who the user is (its `user_metadata` claims are ignored by the gateway).
    pub fn token(&self, user: &str, team: &str, role: &str) -> String {
        let membership: Membership = (user.into(), team.into(), role.into());
        let mut members = self
            .pending_members
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !members.1.contains(&membership) && !members.0.contains(&membership) {
            members.0.push(membership);
        }
        drop(members);
        jwt::token(&self.jwt_secret, user, team, role)
    }

    /// A token for `user` and nothing else (no membership written).
    pub fn token_only(&self, user: &str) -> String {
        jwt::token(&self.jwt_secret, user, "", "")
    }

    /// Runs a write against the local D1 state (fixtures; the gateway's membership cache may
    /// keep an older answer for `MEMBERSHIP_CACHE_SECS`).
    pub fn d1_exec(&self, sql: &str) {
        d1_exec(self.state.path(), sql)
    }

    /// Writes the promised memberships; concurrent requests wait until they are written.
    fn flush_members(&self) {
        let mut members = self
            .pending_members
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (pending, written) = &mut *members;
        if pending.is_empty() {
            return;
        }
        let q = |v: &str| format!("'{}'", v.replace('\'', "''"));
        let sql: String = pending
            .iter()
            .map(|(user, team, role)| {
                format!(
                    "INSERT INTO team_members (team_id, user_id, role) SELECT {t}, {u}, {r} \
                     WHERE EXISTS (SELECT 1 FROM teams WHERE id = {t}) \
                     ON CONFLICT (team_id, user_id) DO UPDATE SET role = excluded.role;\n",
                    t = q(team),
                    u = q(user),
                    r = q(role)
                )
            })
            .collect();
        d1_exec(self.state.path(), &sql);
        written.extend(pending.drain(..));
    }

    /// POSTs a raw body to `/` with an optional bearer token.
    pub fn post_raw(&self, token: Option<&str>, body: &str) -> Answer {
        self.request("POST", "/", token, Some(body), &[])
    }

    /// POSTs a JSON request body.
    pub fn call(&self, token: &str, body: Value) -> Answer {
        self.post_raw(Some(token), &body.to_string())
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Answer {
        self.request_at(&self.base, method, path, token, body, headers)
    }

    /// POSTs a JSON request body to another entry of this stack's runtime (`base`, e.g. the
    /// inner workerd's port, see `bench::workerd`).
    pub fn call_at(&self, base: &str, token: &str, body: Value) -> Answer {
        self.request_at(base, "POST", "/", Some(token), Some(&body.to_string()), &[])
    }

    /// Like [`Stack::request`], to `base` instead of the stack's own.
    pub fn request_at(
        &self,
        base: &str,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Answer {
        self.flush_members();
        let url = format!("{base}{path}");
        let mut builder = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(t) = token {
            builder = builder.header("authorization", format!("Bearer {t}"));
        }
        if body.is_some() {
            builder = builder.header("content-type", "application/json");
        }
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let request = builder
            .body(body.unwrap_or_default().as_bytes().to_vec())
            .expect("valid request");
        let mut response = self
            .agent
            .run(request)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}; log:\n{}", self.dev.log_text()));
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
            text,
        }
    }

    /// Kills the `wrangler dev` session at once (SIGKILL to its process group: the runtime
    /// stops in the middle of whatever it was doing) and starts a new one on the same state;
    /// `base` moves to the new session's port.
    pub fn restart_runtime(&mut self) {
        let group = self.process_group() as i32;
        // SAFETY: signals the process group this stack started (wrangler and its workerd).
        unsafe {
            libc::killpg(group, libc::SIGKILL);
        }
        let _ = self.dev.wait_exit(Duration::from_secs(10));
        let vars: Vec<(&str, &str)> = self
            .vars
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let (dev, port) = dev_session(
            "wrangler-dev-restarted",
            &self.configs,
            &vars,
            self.state.path(),
            &self.cwd,
            self.traces,
        );
        self.dev = dev;
        self.base = format!("http://127.0.0.1:{port}");
        self.wait_healthy();
    }

    /// POSTs `body` and answers the status and the body as a reader, unread: for event
    /// streams (`watch_execution`), read as they come. Dropping the reader drops the connection.
    pub fn open_stream(
        &self,
        token: &str,
        body: Value,
        headers: &[(&str, &str)],
    ) -> (u16, Box<dyn std::io::BufRead + Send>) {
        let (status, _, reader) = self.open_stream_to("/", token, body, headers);
        (status, reader)
    }

    /// [`Stack::open_stream`] to `path`, with the answer's `Content-Type`.
    pub fn open_stream_to(
        &self,
        path: &str,
        token: &str,
        body: Value,
        headers: &[(&str, &str)],
    ) -> (u16, Option<String>, Box<dyn std::io::BufRead + Send>) {
        self.open_stream_with("POST", path, token, Some(body), headers)
    }

    /// A `GET` of `path` answered as a reader, unread (e.g. `/mcp`'s standalone stream, read
    /// as it comes). Dropping the reader drops the connection.
    pub fn open_get_stream(
        &self,
        path: &str,
        token: &str,
        headers: &[(&str, &str)],
    ) -> (u16, Box<dyn std::io::BufRead + Send>) {
        let (status, _, reader) = self.open_stream_with("GET", path, token, None, headers);
        (status, reader)
    }

    fn open_stream_with(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Option<String>, Box<dyn std::io::BufRead + Send>) {
        self.flush_members();
        let mut builder = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {token}"));
        if body.is_some() {
            builder = builder.header("content-type", "application/json");
        }
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let request = builder
            .body(body.map(|b| b.to_string().into_bytes()).unwrap_or_default())
            .expect("valid request");
        let response = self.agent.run(request).unwrap_or_else(|e| {
            panic!(
                "stream: {e}; log:
{}",
                self.dev.log_text()
            )
        });
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let reader = response.into_body().into_reader();
        (
            status,
            content_type,
            Box::new(std::io::BufReader::new(reader)),
        )
    }

    /// Rows of a read-only query against the local D1 state the workers use.
    pub fn d1(&self, sql: &str) -> Vec<Value> {
        d1_query(self.state.path(), sql)
    }

    /// The local state directory (`--persist-to`): D1, KV and Durable Object SQLite files.
    pub fn state_dir(&self) -> &Path {
        self.state.path()
    }

    /// The process group of the `wrangler dev` session: wrangler and its workerd children.
    pub fn process_group(&self) -> u32 {
        self.dev.pid()
    }

    /// The rows of `sql` once there are `n` of them: executions reach D1 from the team's
    /// ledger in batches, shortly after their calls answer (`shared::ledger`). Panics with
    /// what it saw after 30 s.
    pub fn await_rows(&self, sql: &str, n: usize) -> Vec<Value> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let rows = self.d1(sql);
            if rows.len() >= n || std::time::Instant::now() > deadline {
                assert_eq!(rows.len(), n, "{sql}: {rows:?}");
                return rows;
            }
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
    }

    /// The wrangler dev log so far (workers' console lines included).
    pub fn log_text(&self) -> String {
        self.dev.log_text()
    }

    /// The session's log once it contains `needle`, or after 15 s as it is then: wrangler
    /// writes the workers' lines to its output a moment after the answer left.
    pub fn await_log(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            let log = self.log_text();
            if log.contains(needle) || std::time::Instant::now() > deadline {
                return log;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }

    /// Starts the sync_tools worker (the one with the cron triggers) in a second `wrangler dev`
    /// session on the same local state: `--test-scheduled`'s `/__scheduled` only reaches a
    /// session's first worker, and the first worker of the main session is the gateway.
    pub fn cron_runner(&self) -> CronRunner {
        self.cron_runner_with_vars(&[])
    }

    /// Like [`Stack::cron_runner`], with `vars` overriding sync_tools' `[vars]` (`--var K:V`;
    /// it is that session's only worker).
    pub fn cron_runner_with_vars(&self, vars: &[(&str, &str)]) -> CronRunner {
        let (dev, port) = dev_session(
            "wrangler-dev-cron",
            &["functions/sync_tools/wrangler.toml".to_string()],
            vars,
            self.state.path(),
            &self.cwd,
            LocalTraces::Off,
        );
        CronRunner {
            base: format!("http://127.0.0.1:{port}"),
            dev,
            agent: self.agent.clone(),
        }
    }
}

/// Whether `wrangler dev` records every invocation and binding call as spans in its local
/// trace store (a SQLite Durable Object in the same workerd: `X_LOCAL_OBSERVABILITY`). It is a
/// development tool's cost, not the product's (it roughly doubles the runtime's CPU per
/// request), so the tests and timing benchmarks run without it; the benchmarks that count
/// storage trips from it ([`crate::bench::traces`]) ask for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalTraces {
    Off,
    Recorded,
}

/// Starts `wrangler dev` with `configs` (the first one's worker gets `vars` as `--var K:V`)
/// in `cwd` on the local state `persist`, on a free port, and waits until it listens.
fn dev_session(
    name: &str,
    configs: &[String],
    vars: &[(&str, &str)],
    persist: &Path,
    cwd: &Path,
    traces: LocalTraces,
) -> (Proc, u16) {
    let port = free_port();
    let mut args: Vec<String> = vec!["dev".into()];
    for config in configs {
        args.extend(["-c".to_string(), config.clone()]);
    }
    args.extend(
        [
            "--ip",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--inspector-port",
            &free_port().to_string(),
            "--show-interactive-dev-session=false",
            "--test-scheduled",
        ]
        .map(String::from),
    );
    for (key, value) in vars {
        args.extend(["--var".to_string(), format!("{key}:{value}")]);
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut cmd = wrangler(&argv, persist);
    let recorded = if traces == LocalTraces::Recorded {
        "true"
    } else {
        "false"
    };
    cmd.current_dir(cwd)
        .env("X_LOCAL_OBSERVABILITY", recorded)
        // The local data explorer (a UI over the local state) is not used by any test.
        .env("X_LOCAL_EXPLORER", "false");
    let mut dev = Proc::spawn(name, cmd);
    dev.wait_for_port(port, Duration::from_secs(180));
    (dev, port)
}

/// The sync_tools worker's own `wrangler dev` session, for firing its cron triggers.
pub struct CronRunner {
    base: String,
    dev: Proc,
    agent: ureq::Agent,
}

impl CronRunner {
    /// Fires the cron trigger as Cloudflare would, and waits for the handler to finish.
    pub fn trigger(&self, cron: &str) -> u16 {
        let url = format!("{}/__scheduled?cron={}", self.base, cron.replace(' ', "+"));
        match self.agent.get(&url).call() {
            Ok(r) => r.status().as_u16(),
            Err(e) => panic!("{url}: {e}; log:\n{}", self.dev.log_text()),
        }
    }

    pub fn log_text(&self) -> String {
        self.dev.log_text()
    }
}

/// A view of the checkout for `wrangler dev` sessions: a temporary directory whose entries are
/// symlinks to the checkout's (top level and each `functions/<worker>/`), except the `.dev.vars`
/// files, which are copies with the values of the `overrides` entries they have replaced, and
/// `.wrangler/` (wrangler's scratch space, the view's own). Configs, builds and scripts are the
/// checkout's; wrangler resolves them, and each `.dev.vars`, relative to the view.
fn checkout_view(overrides: &[(&str, &str)]) -> tempfile::TempDir {
    let view = tempfile::tempdir().expect("temp dir");
    let mut replaced = HashSet::new();
    mirror(&root(), view.path(), overrides, &mut replaced);
    let functions = view.path().join("functions");
    std::fs::create_dir(&functions).expect("view: functions/");
    for entry in std::fs::read_dir(root().join("functions")).expect("functions/") {
        let entry = entry.expect("functions/ entry");
        let to = functions.join(entry.file_name());
        if entry.path().join("Cargo.toml").exists() {
            std::fs::create_dir(&to).expect("view: functions/<worker>/");
            mirror(&entry.path(), &to, overrides, &mut replaced);
        } else {
            symlink(&entry.path(), &to);
        }
    }
    for (name, _) in overrides {
        assert!(
            replaced.contains(*name),
            "no worker's .dev.vars has {name} (run scripts/dev-vars.sh)"
        );
    }
    view
}

/// Links `from`'s entries into `to` (see [`checkout_view`]); `functions/` is left to the caller.
fn mirror(from: &Path, to: &Path, overrides: &[(&str, &str)], replaced: &mut HashSet<String>) {
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.expect("directory entry");
        let name = entry.file_name();
        let target = to.join(&name);
        match name.to_str() {
            Some(".wrangler" | "functions") => {}
            Some(".dev.vars") => {
                let text = std::fs::read_to_string(entry.path()).expect("read .dev.vars");
                let lines: Vec<String> = text
                    .lines()
                    .map(|line| {
                        let key = line.split_once('=').map_or("", |(k, _)| k);
                        match overrides.iter().find(|(name, _)| *name == key) {
                            Some((name, value)) => {
                                replaced.insert(name.to_string());
                                format!("{name}={value}")
                            }
                            None => line.to_string(),
                        }
                    })
                    .collect();
                std::fs::write(&target, lines.join("\n") + "\n").expect("write .dev.vars");
            }
            _ => symlink(&entry.path(), &target),
        }
    }
}

fn symlink(from: &Path, to: &Path) {
    std::os::unix::fs::symlink(from, to)
        .unwrap_or_else(|e| panic!("symlink {} -> {}: {e}", to.display(), from.display()));
}

fn d1_exec(state: &Path, sql: &str) {
    let file = state.join("seed.sql");
    std::fs::write(&file, sql).expect("write seed");
    let file_s = file.display().to_string();
    let out = wrangler_d1(
        &[
            "d1",
            "execute",
            "DB",
            "--local",
            "-c",
            "wrangler.toml",
            "--file",
            &file_s,
            "--yes",
        ],
        state,
    );
    assert!(
        out.status.success(),
        "seeding D1 failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `wrangler d1 execute` on the local database, tried again while the running workers hold
/// its SQLite file's lock (`SQLITE_BUSY`: e.g. a team object flushing its ledger right then).
fn wrangler_d1(args: &[&str], state: &Path) -> std::process::Output {
    let mut tries = 0;
    loop {
        let out = wrangler(args, state).output().expect("wrangler d1 execute");
        let busy = !out.status.success()
            && String::from_utf8_lossy(&out.stdout)
                .chars()
                .chain(String::from_utf8_lossy(&out.stderr).chars())
                .collect::<String>()
                .contains("SQLITE_BUSY");
        tries += 1;
        if !busy || tries == 5 {
            return out;
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}

fn d1_query(state: &Path, sql: &str) -> Vec<Value> {
    let out = wrangler_d1(
        &[
            "d1",
            "execute",
            "DB",
            "--local",
            "-c",
            "wrangler.toml",
            "--json",
            "--command",
            sql,
        ],
        state,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "query failed: {sql}\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parsed: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    parsed[0]["results"].as_array().cloned().unwrap_or_default()
}

/// One variable of a `.dev.vars` file.
pub fn dev_var(file: &Path, name: &str) -> String {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("{name} not in {}", file.display()))
        .trim()
        .to_string()
}
