//! The bridge's state: one child per key, the HTTP sessions, reaping and shutdown.
//!
//! Invariants:
//! - a key is (team, server); each key has at most one live child, found only through its
//!   own slot, so no request for one key can reach another key's child;
//! - an HTTP session belongs to the key that initialized it and is refused on any other;
//! - a child is initialized once (by the bridge, under the slot lock, so concurrent first
//!   calls start one child) and its `initialize` result answers every session's `initialize`;
//! - a dead child, or one started from a different launch spec, is replaced on the next
//!   request; an idle one (nothing in flight for `idle_timeout`) is killed by the reaper;
//! - dropping the bridge kills every process group it started;
//! - a new child starts only below `max_children` running children in all and
//!   `max_children_per_team` for its team (its own key's child, being replaced, not counted);
//!   otherwise `BridgeError::AtCapacity` (HTTP 503);
//! - every child runs in the sandbox (`sandbox`): its own uid (lease), home and limits; the
//!   lease and the capacity ticket are released only once its process has ended.

use crate::child::{Child, Groups};
use crate::config::Config;
use crate::log::info;
use crate::sandbox::Sandbox;
use crate::spec::{AllowList, LaunchSpec, SpecError};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use std::time::{Duration, Instant};

/// Asked of a child when the first HTTP client did not say.
pub const DEFAULT_PROTOCOL_VERSION: &str = "2025-06-18";

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub team: String,
    pub server: String,
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.team, self.server)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error("{0}")]
    Start(String),
    /// Too many children running (in all, or for the team).
    #[error("{0}")]
    AtCapacity(String),
}

/// Running children per key, for the caps.
type Live = Arc<Mutex<HashMap<Key, usize>>>;

/// Counts one running child of `key` until dropped.
struct Ticket {
    live: Live,
    key: Key,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut live = lock(&self.live);
        if let Some(n) = live.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                live.remove(&self.key);
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum SessionError {
    Missing,
    Unknown,
}

#[derive(Default)]
struct SlotInner {
    child: Option<Arc<Child>>,
    init: Option<Value>,
    protocol_version: Option<String>,
}

#[derive(Default)]
struct Slot {
    inner: tokio::sync::Mutex<SlotInner>,
}

struct Session {
    key: Key,
    last_used: Instant,
}

pub struct Bridge {
    cfg: Config,
    allow: AllowList,
    slots: Mutex<HashMap<Key, Arc<Slot>>>,
    sessions: Mutex<HashMap<String, Session>>,
    groups: Groups,
    sandbox: Sandbox,
    live: Live,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Bridge {
    /// A bridge with its sandbox in force, or why it may not run (not root without the
    /// insecure setting, bad uid range, homes root not writable).
    pub fn new(cfg: Config) -> Result<Self, String> {
        let sandbox = Sandbox::new(&cfg.sandbox)?;
        info!(
            "sandbox: {} (uids {}-{}, homes {}, limits {:?})",
            sandbox.mode,
            cfg.sandbox.uids.start(),
            cfg.sandbox.uids.end(),
            cfg.sandbox.homes.display(),
            sandbox.limits
        );
        Ok(Bridge {
            allow: AllowList::new(cfg.allowed_commands.clone()),
            cfg,
            slots: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
            groups: Arc::new(Mutex::new(HashSet::new())),
            sandbox,
            live: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// A ticket for one more child of `key`, unless a cap is reached.
    fn admit(&self, key: &Key) -> Result<Ticket, BridgeError> {
        let mut live = lock(&self.live);
        let others = live.keys().filter(|k| *k != key);
        let total = others.clone().count();
        let team = others.filter(|k| k.team == key.team).count();
        if total >= self.cfg.max_children {
            return Err(BridgeError::AtCapacity(format!(
                "the stdio bridge is running its maximum of {} servers (BRIDGE_MAX_CHILDREN); \
                 try again when an idle one has stopped",
                self.cfg.max_children
            )));
        }
        if team >= self.cfg.max_children_per_team {
            return Err(BridgeError::AtCapacity(format!(
                "team {} is running its maximum of {} stdio servers on this bridge \
                 (BRIDGE_MAX_CHILDREN_PER_TEAM); try again when an idle one has stopped",
                key.team, self.cfg.max_children_per_team
            )));
        }
        *live.entry(key.clone()).or_default() += 1;
        Ok(Ticket {
            live: self.live.clone(),
            key: key.clone(),
        })
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Checks the spec's command against the allow-list; the path to spawn.
    pub fn resolve(&self, spec: &LaunchSpec) -> Result<PathBuf, SpecError> {
        self.allow.resolve(&spec.command, &self.cfg.search_path)
    }

    fn slot(&self, key: &Key) -> Arc<Slot> {
        lock(&self.slots).entry(key.clone()).or_default().clone()
    }

    /// The key's running child for `spec`, started and initialized if need be, and the
    /// cached `initialize` result.
    pub async fn ensure(
        &self,
        key: &Key,
        spec: &LaunchSpec,
        requested_version: Option<&str>,
    ) -> Result<(Arc<Child>, Value), BridgeError> {
        let exe = self.resolve(spec)?;
        let slot = self.slot(key);
        let mut inner = slot.inner.lock().await;
        if let (Some(c), Some(init)) = (&inner.child, &inner.init) {
            if c.is_alive() && *c.spec == *spec {
                return Ok((c.clone(), init.clone()));
            }
            if c.is_alive() {
                info!("{key}: launch spec changed, restarting pid {}", c.pid);
                c.stop("its launch spec changed");
            }
        }
        inner.child = None;
        inner.init = None;
        let version = requested_version
            .map(str::to_string)
            .or_else(|| inner.protocol_version.clone())
            .unwrap_or_else(|| DEFAULT_PROTOCOL_VERSION.to_string());
        let spec = Arc::new(spec.clone());
        let ticket = self.admit(key)?;
        let could_not = |e: std::io::Error| {
            BridgeError::Start(format!("could not start `{}`: {e}", spec.command))
        };
        let lease = self.sandbox.lease().map_err(could_not)?;
        let path = self
            .cfg
            .child_env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.into())
            .unwrap_or_else(|| self.cfg.search_path.clone());
        let cmd = self.sandbox.command(
            &lease,
            &exe,
            &spec.args,
            &self.cfg.child_env,
            &spec.env,
            &path,
        );
        let child = Child::spawn(
            spec.clone(),
            cmd,
            &self.cfg,
            self.groups.clone(),
            key.to_string(),
            Box::new((lease, ticket)),
        )
        .map_err(could_not)?;
        info!("{key}: started pid {} for {spec:?}", child.pid);
        let init =
            match tokio::time::timeout(self.cfg.init_timeout, initialize(&child, &version)).await {
                Ok(Ok(init)) => init,
                Ok(Err(e)) => {
                    child.stop("initialize failed");
                    return Err(BridgeError::Start(e));
                }
                Err(_) => {
                    let tail = child.stderr_tail(2000);
                    child.stop("initialize timed out");
                    return Err(BridgeError::Start(format!(
                        "stdio server `{}` did not answer initialize within {:?}; stderr tail:\n{}",
                        spec.command,
                        self.cfg.init_timeout,
                        tail.trim()
                    )));
                }
            };
        inner.protocol_version = Some(version);
        inner.child = Some(child.clone());
        inner.init = Some(init.clone());
        Ok((child, init))
    }

    /// The key's child if it is running from `spec` (never starts one).
    pub async fn running(&self, key: &Key, spec: &LaunchSpec) -> Option<Arc<Child>> {
        let slot = lock(&self.slots).get(key).cloned()?;
        let inner = slot.inner.lock().await;
        inner
            .child
            .as_ref()
            .filter(|c| c.is_alive() && *c.spec == *spec)
            .cloned()
    }

    /// The key's current (or last) child, for its stderr.
    pub async fn current(&self, key: &Key) -> Option<Arc<Child>> {
        let slot = lock(&self.slots).get(key).cloned()?;
        let inner = slot.inner.lock().await;
        inner.child.clone()
    }

    pub fn open_session(&self, key: &Key) -> String {
        let id = uuid::Uuid::new_v4().simple().to_string();
        lock(&self.sessions).insert(
            id.clone(),
            Session {
                key: key.clone(),
                last_used: Instant::now(),
            },
        );
        id
    }

    /// Accepts `session` only for the key that opened it.
    pub fn check_session(&self, session: Option<&str>, key: &Key) -> Result<String, SessionError> {
        let id = session.ok_or(SessionError::Missing)?;
        let mut sessions = lock(&self.sessions);
        match sessions.get_mut(id) {
            Some(s) if s.key == *key => {
                s.last_used = Instant::now();
                Ok(id.to_string())
            }
            _ => Err(SessionError::Unknown),
        }
    }

    pub fn close_session(&self, id: &str) {
        lock(&self.sessions).remove(id);
    }

    pub fn session_count(&self) -> usize {
        lock(&self.sessions).len()
    }

    /// Children whose sandbox (uid, home) is not yet released.
    pub fn live_children(&self) -> usize {
        lock(&self.live).values().sum()
    }

    pub fn child_count(&self) -> usize {
        lock(&self.groups).len()
    }

    /// Kills children idle for `idle_timeout` and forgets idle sessions.
    pub fn reap(&self) {
        let slots: Vec<(Key, Arc<Slot>)> = lock(&self.slots)
            .iter()
            .map(|(k, s)| (k.clone(), s.clone()))
            .collect();
        for (key, slot) in slots {
            // A slot that is busy (starting a child) is not idle.
            let Ok(mut inner) = slot.inner.try_lock() else {
                continue;
            };
            let Some(child) = inner.child.clone() else {
                continue;
            };
            if !child.is_alive() {
                inner.child = None;
                inner.init = None;
            } else if child.idle_for().is_some_and(|d| d >= self.cfg.idle_timeout) {
                info!("{key}: reaping idle pid {}", child.pid);
                child.stop("idle");
                inner.child = None;
                inner.init = None;
            }
        }
        let ttl = self.cfg.session_idle_timeout;
        lock(&self.sessions).retain(|_, s| s.last_used.elapsed() < ttl);
    }

    pub fn reap_interval(&self) -> Duration {
        (self.cfg.idle_timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(5))
    }

    /// Fails in-flight requests and kills every child's process group.
    pub fn shutdown(&self) {
        let slots: Vec<Arc<Slot>> = lock(&self.slots).values().cloned().collect();
        for slot in slots {
            if let Ok(inner) = slot.inner.try_lock() {
                if let Some(c) = &inner.child {
                    c.stop("the bridge is shutting down");
                }
            }
        }
        self.kill_groups();
    }

    fn kill_groups(&self) {
        for pid in lock(&self.groups).iter() {
            unsafe {
                libc::killpg(*pid as libc::pid_t, libc::SIGKILL);
            }
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.kill_groups();
    }
}

async fn initialize(child: &Arc<Child>, version: &str) -> Result<Value, String> {
    let msg = json!({
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": version,
            "capabilities": {},
            "clientInfo": {"name": "mcp-edge-stdio-bridge", "version": env!("CARGO_PKG_VERSION")},
        },
    });
    let mut call = child.call("", msg).await.map_err(|e| e.0)?;
    let reply = call
        .reply()
        .await
        .ok_or_else(|| "stdio server closed before answering initialize".to_string())?;
    if let Some(err) = reply.get("error") {
        let message = err.get("message").and_then(Value::as_str).unwrap_or("");
        return Err(format!("initialize failed: {}", child.spec.redact(message)));
    }
    let result = reply.get("result").cloned().unwrap_or(Value::Null);
    child.notify(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    Ok(result)
}
