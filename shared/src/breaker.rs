//! A circuit breaker per upstream server (DESIGN.md §6): a server that keeps failing is not
//! called for a while, then tested with one call, instead of every caller waiting for it.
//!
//! Where the state lives: on Workers, in the team's Durable Object ([`book::Book`]), exact, and
//! decided in the same request as the ledger's record of the call; without that object (unit
//! tests, a worker without the binding), in KV ([`Breaker`], approximate as said below).
//!
//! States (one [`BreakerState`] per server, KV key [`key`]; no key = closed, no failures):
//! - **closed**: calls go through; consecutive server faults (unreachable, broken connection,
//!   5xx, 429, garbage, timeout: [`mcp_client::CallOutcome::server_fault`]) are counted, and any
//!   answer from the server (a result, a tool error, a JSON-RPC error) resets the count.
//! - **open** after [`BreakerConfig::failure_threshold`] consecutive faults: calls are refused
//!   at once, without an execution row, for [`BreakerConfig::cooldown_ms`].
//! - **half-open** once the cool-down is over: the first caller takes a probe lease and goes
//!   through; the others are refused while the lease runs (the probe's time budget plus a
//!   margin, so a probe whose worker died does not block the server forever). Success closes
//!   the breaker; a fault opens it again for another cool-down.
//! - A successful cron health check closes it too ([`close`]).
//!
//! Approximations, because KV is eventually consistent (writes take up to ~60 s to reach other
//! locations) and has no compare-and-swap: counts are read-modify-write and may lose an
//! increment when calls fail concurrently; another location may go on calling an open server
//! until the state reaches it; and two instances that read "cool-down over" at the same moment
//! may both probe. The probe lease is written, then read back, and only the instance whose id
//! is read back probes, which narrows (but, without CAS, does not close) that window. Locally
//! (`wrangler dev`) KV is consistent. A stricter breaker would be a Durable Object per server;
//! this one only bounds how hard a dead server is hit, which the approximations keep.
//!
//! Invariants:
//! - The state machine ([`admit`], [`on_success`], [`on_failure`]) is pure, with time passed in.
//! - The happy path costs one KV read per call and no write; writes happen on faults and on
//!   state changes only (KV allows about one write per second per key).
//! - The store fails open: an unreadable or unwritable state never refuses a call.
//! - Keys start with the team id ([`crate::cache`]); `last_error` is stored already redacted.

pub mod book;

use serde::{Deserialize, Serialize};

use crate::cache::Cache;
use mcp_client::text::clip;

/// Consecutive server faults that open the breaker.
pub const FAILURE_THRESHOLD: u32 = 5;
/// How long an open breaker refuses calls before it lets a probe through.
pub const COOLDOWN_MS: u64 = 15_000;
/// Added to a probe's own time budget for its lease.
pub const PROBE_MARGIN_MS: u64 = 5_000;
/// KV lifetime of a stored state (refreshed on every write).
const STATE_TTL_SECS: u64 = 3_600;
/// `last_error` is kept this short (characters).
const MAX_LAST_ERROR: usize = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    pub failure_threshold: u32,
    pub cooldown_ms: u64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: FAILURE_THRESHOLD,
            cooldown_ms: COOLDOWN_MS,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerState {
    /// Consecutive server faults.
    #[serde(default)]
    pub failures: u32,
    /// When the breaker (last) opened; `None` = closed.
    #[serde(default)]
    pub opened_at_ms: Option<u64>,
    /// The half-open probe under way, if any.
    #[serde(default)]
    pub probe: Option<Probe>,
    /// The last fault, for the refusal message.
    #[serde(default)]
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    pub id: String,
    pub until_ms: u64,
}

impl BreakerState {
    pub fn is_closed(&self) -> bool {
        self.opened_at_ms.is_none()
    }
    fn is_pristine(&self) -> bool {
        self == &BreakerState::default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Closed: call.
    Allow,
    /// Half-open: this call is the probe; store the new state (the lease) first.
    Probe(BreakerState),
    /// Open (or a probe is under way): refuse; the breaker may let a call through in this long.
    Reject { retry_in_ms: u64 },
}

/// Whether a call may go upstream now. `probe_id` identifies the caller's lease and
/// `probe_budget_ms` is the caller's own time budget.
pub fn admit(
    state: &BreakerState,
    now_ms: u64,
    config: &BreakerConfig,
    probe_id: &str,
    probe_budget_ms: u64,
) -> Admission {
    let Some(opened_at) = state.opened_at_ms else {
        return Admission::Allow;
    };
    let half_open_at = opened_at.saturating_add(config.cooldown_ms);
    if now_ms < half_open_at {
        return Admission::Reject {
            retry_in_ms: half_open_at - now_ms,
        };
    }
    if let Some(probe) = &state.probe {
        if now_ms < probe.until_ms {
            return Admission::Reject {
                retry_in_ms: probe.until_ms - now_ms,
            };
        }
    }
    Admission::Probe(BreakerState {
        probe: Some(Probe {
            id: probe_id.to_string(),
            until_ms: now_ms
                .saturating_add(probe_budget_ms)
                .saturating_add(PROBE_MARGIN_MS),
        }),
        ..state.clone()
    })
}

/// The server answered: closed, count reset.
pub fn on_success(_state: &BreakerState) -> BreakerState {
    BreakerState::default()
}

/// A server fault: counted; at the threshold, or when the probe failed, (re)opened now.
pub fn on_failure(
    state: &BreakerState,
    now_ms: u64,
    config: &BreakerConfig,
    error: &str,
) -> BreakerState {
    let failures = state.failures.saturating_add(1);
    let open = failures >= config.failure_threshold || state.opened_at_ms.is_some();
    BreakerState {
        failures,
        opened_at_ms: if open { Some(now_ms) } else { None },
        probe: None,
        last_error: Some(clip(error, MAX_LAST_ERROR)),
    }
}

/// The KV key of a server's breaker.
pub fn key(team_id: &str, server_id: &str) -> String {
    format!("t:{team_id}:breaker:{server_id}")
}

/// The stored state; closed when absent or unreadable (fail open).
pub async fn load<C: Cache>(cache: &C, team_id: &str, server_id: &str) -> BreakerState {
    match cache.get(&key(team_id, server_id)).await {
        Ok(Some(text)) => serde_json::from_str(&text).unwrap_or_default(),
        _ => BreakerState::default(),
    }
}

async fn store<C: Cache>(cache: &C, team_id: &str, server_id: &str, state: &BreakerState) {
    let k = key(team_id, server_id);
    // Best effort: a lost write only makes the breaker less strict for a while.
    let _ = if state.is_pristine() {
        cache.delete(&k).await
    } else {
        match serde_json::to_string(state) {
            Ok(text) => cache.put(&k, &text, STATE_TTL_SECS).await,
            Err(_) => Ok(()),
        }
    };
}

/// One server's breaker, as `call_tool` uses it.
pub struct Breaker<'a, C> {
    cache: &'a C,
    team_id: &'a str,
    server_id: &'a str,
    config: BreakerConfig,
    /// The state read at admission: a success on a pristine state costs no write.
    seen: BreakerState,
}

/// What the breaker decided for one call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "gate", rename_all = "snake_case")]
pub enum Gate {
    Allow,
    /// Half-open and this call is the probe.
    Probe,
    Reject {
        retry_in_ms: u64,
        failures: u32,
        last_error: Option<String>,
    },
}

impl Gate {
    /// The refusal of a breaker in `state`, which may let a call through in `retry_in_ms`.
    pub fn rejected(state: &BreakerState, retry_in_ms: u64) -> Gate {
        Gate::Reject {
            retry_in_ms,
            failures: state.failures,
            last_error: state.last_error.clone(),
        }
    }
}

impl<'a, C: Cache> Breaker<'a, C> {
    pub fn new(cache: &'a C, team_id: &'a str, server_id: &'a str) -> Self {
        Breaker {
            cache,
            team_id,
            server_id,
            config: BreakerConfig::default(),
            seen: BreakerState::default(),
        }
    }

    pub fn with_config(mut self, config: BreakerConfig) -> Self {
        self.config = config;
        self
    }

    /// Reads the state and decides; a half-open breaker hands its one probe lease to this call
    /// if the lease read back after writing it is this call's.
    pub async fn admit(&mut self, now_ms: u64, budget_ms: u64, probe_id: &str) -> Gate {
        self.seen = load(self.cache, self.team_id, self.server_id).await;
        match admit(&self.seen, now_ms, &self.config, probe_id, budget_ms) {
            Admission::Allow => Gate::Allow,
            Admission::Reject { retry_in_ms } => Gate::rejected(&self.seen, retry_in_ms),
            Admission::Probe(leased) => {
                store(self.cache, self.team_id, self.server_id, &leased).await;
                let back = load(self.cache, self.team_id, self.server_id).await;
                match &back.probe {
                    Some(p) if p.id == probe_id => {
                        self.seen = back;
                        Gate::Probe
                    }
                    Some(p) => Gate::rejected(&back, p.until_ms.saturating_sub(now_ms)),
                    // The write did not stick (KV failing): fail open.
                    None => Gate::Probe,
                }
            }
        }
    }

    /// Records how the call went: `fault` is [`mcp_client::CallOutcome::server_fault`].
    pub async fn record(&self, now_ms: u64, fault: Option<&str>) {
        match fault {
            None if self.seen.is_pristine() => {}
            None => {
                let next = on_success(&self.seen);
                store(self.cache, self.team_id, self.server_id, &next).await;
            }
            Some(error) => {
                // Re-read: other calls may have counted faults since admission.
                let current = load(self.cache, self.team_id, self.server_id).await;
                let next = on_failure(&current, now_ms, &self.config, error);
                store(self.cache, self.team_id, self.server_id, &next).await;
            }
        }
    }
}

/// Records how a call went on the KV breaker, from the state stored now (a caller that did not
/// keep its [`Breaker`] from admission: the database ledger's `finish`). A success on a closed
/// breaker with no faults costs a read and no write.
pub async fn record_outcome<C: Cache>(
    cache: &C,
    team_id: &str,
    server_id: &str,
    now_ms: u64,
    fault: Option<&str>,
) {
    let mut breaker = Breaker::new(cache, team_id, server_id);
    if fault.is_none() {
        // `record` reads the state itself on a fault; a success needs it to know what to close.
        breaker.seen = load(cache, team_id, server_id).await;
    }
    breaker.record(now_ms, fault).await
}

/// Closes a server's breaker (a health check succeeded). Reads first, so a closed breaker
/// costs no KV write. Answers whether there was anything to close.
pub async fn close<C: Cache>(cache: &C, team_id: &str, server_id: &str) -> bool {
    let k = key(team_id, server_id);
    match cache.get(&k).await {
        Ok(Some(_)) => {
            let _ = cache.delete(&k).await;
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::MemoryCache;

    const T0: u64 = 1_000_000;
    const CFG: BreakerConfig = BreakerConfig {
        failure_threshold: 3,
        cooldown_ms: 10_000,
    };

    #[test]
    fn k_consecutive_faults_open_it_and_an_answer_resets_the_count() {
        let mut s = BreakerState::default();
        for _ in 0..2 {
            s = on_failure(&s, T0, &CFG, "refused");
            assert_eq!(admit(&s, T0, &CFG, "p", 1000), Admission::Allow);
        }
        s = on_success(&s);
        assert_eq!(s, BreakerState::default());
        for _ in 0..2 {
            s = on_failure(&s, T0, &CFG, "refused");
        }
        assert!(s.is_closed(), "the answer reset the count: only 2 in a row");
        s = on_failure(&s, T0 + 5, &CFG, "refused again");
        assert_eq!(s.failures, 3);
        assert_eq!(s.opened_at_ms, Some(T0 + 5));
        assert_eq!(s.last_error.as_deref(), Some("refused again"));
    }

    #[test]
    fn open_refuses_until_the_cool_down_then_lets_exactly_one_probe_through() {
        let mut s = BreakerState::default();
        for _ in 0..3 {
            s = on_failure(&s, T0, &CFG, "503");
        }
        assert_eq!(
            admit(&s, T0 + 1, &CFG, "a", 5_000),
            Admission::Reject { retry_in_ms: 9_999 }
        );
        let Admission::Probe(leased) = admit(&s, T0 + 10_000, &CFG, "a", 5_000) else {
            panic!("half-open after the cool-down");
        };
        assert_eq!(leased.probe.as_ref().unwrap().until_ms, T0 + 20_000);
        // While the probe runs, everybody else is refused.
        assert_eq!(
            admit(&leased, T0 + 10_001, &CFG, "b", 5_000),
            Admission::Reject { retry_in_ms: 9_999 }
        );
        // A probe whose worker died: its lease runs out and another call probes.
        assert!(matches!(
            admit(&leased, T0 + 20_000, &CFG, "c", 5_000),
            Admission::Probe(_)
        ));
        // The probe fails: open again for a whole cool-down.
        let reopened = on_failure(&leased, T0 + 12_000, &CFG, "still 503");
        assert_eq!(reopened.opened_at_ms, Some(T0 + 12_000));
        assert_eq!(reopened.probe, None);
        assert!(matches!(
            admit(&reopened, T0 + 21_999, &CFG, "d", 5_000),
            Admission::Reject { .. }
        ));
        // The probe succeeds: closed.
        assert!(on_success(&leased).is_closed());
    }

    #[tokio::test]
    async fn the_store_shares_state_fails_open_and_writes_only_when_needed() {
        let cache = MemoryCache::new();
        // Happy path: no write at all.
        let mut b = Breaker::new(&cache, "team", "srv").with_config(CFG);
        assert_eq!(b.admit(T0, 5_000, "p1").await, Gate::Allow);
        b.record(T0, None).await;
        assert!(cache.is_empty());

        for i in 0..3 {
            let mut b = Breaker::new(&cache, "team", "srv").with_config(CFG);
            assert_eq!(b.admit(T0 + i, 5_000, "x").await, Gate::Allow);
            b.record(T0 + i, Some("HTTP 503")).await;
        }
        assert_eq!(cache.ttl_of(&key("team", "srv")), Some(STATE_TTL_SECS));
        let mut b = Breaker::new(&cache, "team", "srv").with_config(CFG);
        let Gate::Reject {
            failures,
            last_error,
            ..
        } = b.admit(T0 + 10, 5_000, "y").await
        else {
            panic!("open");
        };
        assert_eq!((failures, last_error.as_deref()), (3, Some("HTTP 503")));
        // Another team's server with the same id is unaffected.
        let mut other = Breaker::new(&cache, "other", "srv").with_config(CFG);
        assert_eq!(other.admit(T0 + 10, 5_000, "z").await, Gate::Allow);

        // Half-open: one probe, the next caller is refused, success closes.
        let mut probe = Breaker::new(&cache, "team", "srv").with_config(CFG);
        assert_eq!(probe.admit(T0 + 10_002, 5_000, "p").await, Gate::Probe);
        let mut second = Breaker::new(&cache, "team", "srv").with_config(CFG);
        assert!(matches!(
            second.admit(T0 + 10_003, 5_000, "q").await,
            Gate::Reject { .. }
        ));
        probe.record(T0 + 10_100, None).await;
        assert!(cache.is_empty(), "closed = no key");

        // Unreadable state: fail open.
        cache
            .put(&key("team", "srv"), "not json", 60)
            .await
            .unwrap();
        let mut b = Breaker::new(&cache, "team", "srv").with_config(CFG);
        assert_eq!(b.admit(T0, 5_000, "r").await, Gate::Allow);
    }

    #[tokio::test]
    async fn a_health_check_closes_an_open_breaker() {
        let cache = MemoryCache::new();
        assert!(!close(&cache, "team", "srv").await, "nothing to close");
        for _ in 0..3 {
            let b = Breaker::new(&cache, "team", "srv").with_config(CFG);
            b.record(T0, Some("down")).await;
        }
        assert!(close(&cache, "team", "srv").await);
        let mut b = Breaker::new(&cache, "team", "srv").with_config(CFG);
        assert_eq!(b.admit(T0 + 1, 5_000, "p").await, Gate::Allow);
    }
}
