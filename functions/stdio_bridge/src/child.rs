//! One stdio MCP server process and the JSON-RPC traffic with it.
//!
//! Invariants:
//! - the process is the leader of its own process group (`process_group(0)`); every kill is a
//!   `killpg`, so `npx`/`uvx` and whatever they start go together, and once the leader exits
//!   the rest of its group is killed too;
//! - every request written to stdin carries a child-unique numeric id; the caller's id (and
//!   progress token) is kept in `Pending` and restored on the way out, so callers from many
//!   HTTP sessions (which may all use id 1) only ever receive their own replies;
//! - a request is in exactly one state: pending (in the map, its caller waits), answered,
//!   abandoned (its caller went away: the child gets `notifications/cancelled`) or failed
//!   (the child exited or was stopped: the caller gets a JSON-RPC error);
//! - stdout lines are capped (`lines`), stderr is kept in a bounded ring and only ever shown
//!   through `LaunchSpec::redact`; env values are never logged.

use crate::config::Config;
use crate::lines::{candidate_ids, Line, LineReader};
use crate::log::{debug, info, warning};
use crate::ring::Ring;
use crate::spec::LaunchSpec;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// JSON-RPC error codes the bridge itself answers with.
pub mod codes {
    /// The child exited or was stopped before replying.
    pub const CHILD_GONE: i64 = -32000;
    /// No reply within the bridge's request timeout.
    pub const TIMEOUT: i64 = -32001;
    /// The child's reply was longer than the bridge's line limit.
    pub const TOO_LARGE: i64 = -32003;
    /// The command is not in the allow-list.
    pub const NOT_ALLOWED: i64 = -32004;
    /// The child could not be started or initialized.
    pub const START_FAILED: i64 = -32005;
    /// Authentication or session problems (HTTP 401/404).
    pub const REJECTED: i64 = -32006;
    /// Too many children running, in all or for the team (HTTP 503).
    pub const AT_CAPACITY: i64 = -32007;
}

/// Bytes of stderr tail put in error messages.
const STDERR_IN_ERRORS: usize = 2000;

pub struct Child {
    pub pid: u32,
    pub spec: Arc<LaunchSpec>,
    stdin_tx: mpsc::Sender<Vec<u8>>,
    next_id: AtomicU64,
    reaped: AtomicBool,
    state: Mutex<State>,
    stderr: Mutex<Ring>,
}

struct State {
    alive: bool,
    pending: HashMap<u64, Pending>,
    /// Bridge progress token → bridge request id.
    progress: HashMap<String, u64>,
    /// (HTTP session, caller's id as JSON) → bridge request id, for `notifications/cancelled`.
    by_origin: HashMap<(String, String), u64>,
    last_used: Instant,
}

struct Pending {
    tx: mpsc::UnboundedSender<Value>,
    original_id: Value,
    original_token: Option<Value>,
    bridge_token: Option<String>,
    origin: (String, String),
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Gone(pub String);

/// Live process groups, so shutdown can kill them all.
pub type Groups = Arc<Mutex<HashSet<u32>>>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub fn error_reply(id: Value, code: i64, message: impl Into<String>) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message.into()}})
}

fn is_reply(v: &Value) -> bool {
    v.get("method").is_none() && (v.get("result").is_some() || v.get("error").is_some())
}

fn describe(status: std::io::Result<ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(c), _) => format!("exit code {c}"),
            (None, Some(sig)) => format!("killed by signal {sig}"),
            _ => "exited".into(),
        },
        Err(e) => format!("wait failed: {e}"),
    }
}

impl Child {
    /// Starts `cmd` (the sandboxed command for `spec`, its executable resolved through the
    /// allow-list). `held` (the uid lease, the capacity ticket) is dropped once the process
    /// has ended, off the async threads.
    pub fn spawn(
        spec: Arc<LaunchSpec>,
        mut cmd: tokio::process::Command,
        cfg: &Config,
        groups: Groups,
        label: String,
        held: Box<dyn Send + 'static>,
    ) -> std::io::Result<Arc<Child>> {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(false);
        let mut proc = cmd.spawn()?;
        let pid = proc.id().unwrap_or(0);
        lock(&groups).insert(pid);
        let mut stdin = proc.stdin.take().expect("piped stdin");
        let stdout = proc.stdout.take().expect("piped stdout");
        let mut stderr = proc.stderr.take().expect("piped stderr");
        let (stdin_tx, mut stdin_rx) = mpsc::channel::<Vec<u8>>(1024);
        let child = Arc::new(Child {
            pid,
            spec,
            stdin_tx,
            next_id: AtomicU64::new(1),
            reaped: AtomicBool::new(false),
            state: Mutex::new(State {
                alive: true,
                pending: HashMap::new(),
                progress: HashMap::new(),
                by_origin: HashMap::new(),
                last_used: Instant::now(),
            }),
            stderr: Mutex::new(Ring::new(cfg.stderr_bytes)),
        });

        tokio::spawn(async move {
            while let Some(line) = stdin_rx.recv().await {
                if stdin.write_all(&line).await.is_err() || stdin.flush().await.is_err() {
                    break;
                }
            }
        });

        let c = child.clone();
        let max = cfg.max_line_bytes;
        let reader = tokio::spawn(async move {
            let mut lines = LineReader::new(BufReader::with_capacity(64 * 1024, stdout), max);
            loop {
                match lines.next_line().await {
                    Ok(Some(Line::Complete(bytes))) => c.on_line(&bytes),
                    Ok(Some(Line::Oversized { len, head, tail })) => {
                        c.on_oversized(len, max, &head, &tail)
                    }
                    Ok(None) | Err(_) => break,
                }
            }
            // A child that closed stdout can no longer answer: end it.
            c.kill();
        });

        let c = child.clone();
        let stderr_task = tokio::spawn(async move {
            let mut buf = vec![0u8; 8192];
            while let Ok(n) = stderr.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                lock(&c.stderr).push(&buf[..n]);
            }
        });

        let c = child.clone();
        tokio::spawn(async move {
            let status = proc.wait().await;
            // Anything the leader left behind in its group goes with it.
            unsafe {
                libc::killpg(pid as libc::pid_t, libc::SIGKILL);
            }
            c.reaped.store(true, Ordering::SeqCst);
            lock(&groups).remove(&pid);
            // Let buffered replies and the last stderr arrive before failing what is left.
            let _ = tokio::time::timeout(Duration::from_secs(2), reader).await;
            let _ = tokio::time::timeout(Duration::from_secs(1), stderr_task).await;
            let how = describe(status);
            info!("{label}: child pid {pid} ended ({how})");
            let _ = tokio::task::spawn_blocking(move || drop(held)).await;
            c.fail_all(&format!("exited ({how}) before replying"));
        });

        Ok(child)
    }

    pub fn is_alive(&self) -> bool {
        lock(&self.state).alive
    }

    /// How long the child has been idle, or `None` while a request is in flight.
    pub fn idle_for(&self) -> Option<Duration> {
        let st = lock(&self.state);
        st.pending.is_empty().then(|| st.last_used.elapsed())
    }

    pub fn in_flight(&self) -> usize {
        lock(&self.state).pending.len()
    }

    /// The last `max` bytes of stderr with the spec's env values redacted.
    pub fn stderr_tail(&self, max: usize) -> String {
        let raw = lock(&self.stderr).tail(max);
        self.spec.redact(&raw)
    }

    /// Kills the whole process group (no-op once reaped).
    pub fn kill(&self) {
        if !self.reaped.load(Ordering::SeqCst) && self.pid > 0 {
            unsafe {
                libc::killpg(self.pid as libc::pid_t, libc::SIGKILL);
            }
        }
    }

    /// Fails everything in flight with `reason` and kills the process group.
    pub fn stop(&self, reason: &str) {
        self.fail_all(&format!("was stopped: {reason}"));
        self.kill();
    }

    fn fail_all(&self, what: &str) {
        let drained: Vec<Pending> = {
            let mut st = lock(&self.state);
            st.alive = false;
            st.progress.clear();
            st.by_origin.clear();
            st.pending.drain().map(|(_, p)| p).collect()
        };
        if drained.is_empty() {
            return;
        }
        let tail = self.stderr_tail(STDERR_IN_ERRORS);
        let tail = tail.trim();
        let message = if tail.is_empty() {
            format!(
                "stdio server `{}` {what}; it had no stderr output",
                self.spec.command
            )
        } else {
            format!(
                "stdio server `{}` {what}; stderr tail:\n{tail}",
                self.spec.command
            )
        };
        for p in drained {
            let _ = p.tx.send(error_reply(
                p.original_id,
                codes::CHILD_GONE,
                message.clone(),
            ));
        }
    }

    /// Sends a request (its `id` is replaced) and returns a handle yielding progress
    /// notifications and finally the reply, with the caller's id and token restored.
    pub async fn call(self: &Arc<Self>, session: &str, mut msg: Value) -> Result<CallHandle, Gone> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let original_id = msg.get_mut("id").map(Value::take).unwrap_or(Value::Null);
        msg["id"] = json!(id);
        let original_token = msg
            .pointer_mut("/params/_meta/progressToken")
            .map(Value::take);
        let bridge_token = original_token.as_ref().map(|_| format!("bridge-{id}"));
        if let Some(t) = &bridge_token {
            msg["params"]["_meta"]["progressToken"] = json!(t);
        }
        let origin = (session.to_string(), original_id.to_string());
        let (tx, rx) = mpsc::unbounded_channel();
        {
            let mut st = lock(&self.state);
            if !st.alive {
                return Err(Gone(format!(
                    "stdio server `{}` is not running",
                    self.spec.command
                )));
            }
            if let Some(t) = &bridge_token {
                st.progress.insert(t.clone(), id);
            }
            if !session.is_empty() {
                st.by_origin.insert(origin.clone(), id);
            }
            st.pending.insert(
                id,
                Pending {
                    tx,
                    original_id,
                    original_token,
                    bridge_token,
                    origin,
                },
            );
            st.last_used = Instant::now();
        }
        let handle = CallHandle {
            child: self.clone(),
            id,
            rx,
            done: false,
        };
        let mut line = serde_json::to_vec(&msg).expect("JSON serializes");
        line.push(b'\n');
        if self.stdin_tx.send(line).await.is_err() {
            return Err(Gone(format!(
                "stdio server `{}` closed its stdin",
                self.spec.command
            )));
        }
        Ok(handle)
    }

    /// Forwards a notification from a client as is.
    pub fn notify(&self, msg: &Value) {
        let mut line = serde_json::to_vec(msg).expect("JSON serializes");
        line.push(b'\n');
        let _ = self.stdin_tx.try_send(line);
    }

    /// Forwards a client's `notifications/cancelled` for its own request, id rewritten.
    pub fn cancel_from(&self, session: &str, mut msg: Value) {
        let Some(request_id) = msg.pointer("/params/requestId").cloned() else {
            return;
        };
        let key = (session.to_string(), request_id.to_string());
        let Some(id) = lock(&self.state).by_origin.get(&key).copied() else {
            return;
        };
        msg["params"]["requestId"] = json!(id);
        self.notify(&msg);
    }

    fn take_pending(&self, id: u64) -> Option<Pending> {
        let mut st = lock(&self.state);
        let p = st.pending.remove(&id)?;
        if let Some(t) = &p.bridge_token {
            st.progress.remove(t);
        }
        st.by_origin.remove(&p.origin);
        st.last_used = Instant::now();
        Some(p)
    }

    /// The caller went away before the reply: forget the request and tell the child.
    fn abandon(&self, id: u64) {
        if self.take_pending(id).is_some() && self.is_alive() {
            self.notify(&json!({
                "jsonrpc": "2.0",
                "method": "notifications/cancelled",
                "params": {"requestId": id, "reason": "the HTTP client went away or timed out"},
            }));
        }
    }

    fn on_line(&self, bytes: &[u8]) {
        let Ok(v) = serde_json::from_slice::<Value>(bytes) else {
            debug!(
                "{}: ignored a non-JSON stdout line of {} bytes",
                self.spec.command,
                bytes.len()
            );
            return;
        };
        match v {
            Value::Array(items) => items.into_iter().for_each(|m| self.on_message(m)),
            m => self.on_message(m),
        }
    }

    fn on_message(&self, mut m: Value) {
        if is_reply(&m) {
            let Some(id) = m.get("id").and_then(Value::as_u64) else {
                return;
            };
            if let Some(p) = self.take_pending(id) {
                m["id"] = p.original_id;
                let _ = p.tx.send(m);
            }
            return;
        }
        let method = m
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if let Some(id) = m.get("id").cloned() {
            // A server→client request. The bridge declares no client capabilities, so only
            // `ping` is answered; anything else gets "method not found".
            let reply = if method == "ping" {
                json!({"jsonrpc": "2.0", "id": id, "result": {}})
            } else {
                error_reply(
                    id,
                    -32601,
                    format!("the stdio bridge does not support {method}"),
                )
            };
            self.notify(&reply);
            return;
        }
        if method == "notifications/progress" {
            let token = match m.pointer("/params/progressToken") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => return,
            };
            let st = lock(&self.state);
            let Some(p) = st.progress.get(&token).and_then(|id| st.pending.get(id)) else {
                return;
            };
            if let Some(orig) = &p.original_token {
                m["params"]["progressToken"] = orig.clone();
            }
            let _ = p.tx.send(m);
            return;
        }
        debug!("{}: dropped notification {method}", self.spec.command);
    }

    fn on_oversized(&self, len: usize, max: usize, head: &[u8], tail: &[u8]) {
        let ids = candidate_ids(head).into_iter().chain(candidate_ids(tail));
        for id in ids {
            if let Some(p) = self.take_pending(id) {
                warning!(
                    "{}: reply of {len} bytes exceeds the {max}-byte limit",
                    self.spec.command
                );
                let msg = format!(
                    "the stdio server's reply was {len} bytes, over the bridge's limit of {max} bytes"
                );
                let _ = p.tx.send(error_reply(p.original_id, codes::TOO_LARGE, msg));
                return;
            }
        }
        warning!(
            "{}: dropped an unmatched stdout line of {len} bytes (limit {max})",
            self.spec.command
        );
    }
}

/// A request in flight. Dropping it before the reply abandons the request.
pub struct CallHandle {
    child: Arc<Child>,
    id: u64,
    rx: mpsc::UnboundedReceiver<Value>,
    done: bool,
}

impl CallHandle {
    /// The next message for this request: progress notifications, then the reply (last).
    pub async fn next(&mut self) -> Option<Value> {
        if self.done {
            return None;
        }
        let v = self.rx.recv().await;
        match &v {
            Some(m) if is_reply(m) => self.done = true,
            None => self.done = true,
            _ => {}
        }
        v
    }

    /// Skips notifications and returns the reply.
    pub async fn reply(&mut self) -> Option<Value> {
        while let Some(v) = self.next().await {
            if self.done {
                return Some(v);
            }
        }
        None
    }

    pub fn is_done(&self) -> bool {
        self.done
    }
}

impl Drop for CallHandle {
    fn drop(&mut self) {
        if !self.done {
            self.child.abandon(self.id);
        }
    }
}
