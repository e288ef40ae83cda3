//! Per-team rate limits (DESIGN.md §6): the pure part. The gateway asks the team's
//! `RateLimiter` Durable Object before dispatching; the object loads its windows, calls
//! [`decide`], and stores them. Everything that decides lives here and runs natively.
//!
//! Algorithm: a sliding window over 60 time slots per window ([`window`]). Chosen over
//! - a token bucket, because limits are promised "per hour" and "per day": a bucket refills
//!   continuously, so a burst admits the limit plus whatever trickled in meanwhile, and
//!   "exactly N in any hour" is not something it can state; and over
//! - a fixed window, which admits up to twice the limit across a window boundary;
//! - a per-request log, which is exact too but whose state grows with the limit (an
//!   enterprise team at 100 000/hour would load and store 100 000 timestamps per request).
//!
//! The sliding slot window guarantees that no interval of one window admits more than the
//! limit, admits exactly the limit in a burst, and keeps at most 61 numbers per window.
//!
//! Invariants:
//! - A request is charged to all of its windows or to none ([`decide`]); refusals cost nothing.
//! - Time is an argument; nothing here reads a clock.
//! - Every admitted answer carries `RateLimit-Limit/Remaining/Reset`; a refusal also carries
//!   `Retry-After` and is [`Error::RateLimit`] (429, `rate_limit`).

pub mod config;
pub mod policy;
pub mod window;

use serde::{Deserialize, Serialize};

pub use config::RateLimitConfig;
pub use policy::{charges, decide, load_team_row, Charge, Decision, Scope, TeamLimits, TeamRow};
pub use window::{SlidingWindow, Verdict, WindowSpec};

use crate::error::Error;
use crate::identity::Role;
use crate::ledger::reservation::{Reservation, ReserveRequest};
use crate::membership::Admission;

/// What the gateway asks a team's object (the object is already the team's): may this user run
/// this action here, and within the limits?
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRequest {
    pub team_id: String,
    pub user_id: String,
    /// The action's contract name (`list_servers`, `call_tool`, …).
    pub action: String,
    /// For the limiter's log lines.
    #[serde(default)]
    pub request_id: String,
    /// Claim mode: the role the identity provider's claims gave. `None`: the object reads the
    /// membership from `team_members` (cached, see `membership`).
    #[serde(default)]
    pub claimed_role: Option<Role>,
    /// A `call_tool`'s record to reserve in the team's ledger if the request is admitted and
    /// its server's breaker is closed (`crate::ledger::reservation`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserve: Option<ReserveRequest>,
}

/// The object's answer: the admission, the rate-limit decision for admitted requests, and the
/// team's configuration version (`shared::call_target`: what cached call targets are valid
/// under; `None` when the object did not answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateAnswer {
    pub admission: Admission,
    pub decision: Option<Decision>,
    #[serde(default)]
    pub config_version: Option<String>,
    /// The record reserved for an admitted `call_tool` (durable before this answer left).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation: Option<Reservation>,
}

/// What the admin worker tells a team's object after a membership change: forget the cached
/// membership of this user (or of everyone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForgetRequest {
    pub user_id: Option<String>,
}

/// What the admin, sync_tools and cron workers tell a team's object after a change to the
/// team's servers, tools or credentials (a new configuration version, when `bump`); the cron
/// also names the servers that answered, whose circuit breakers close
/// (`crate::breaker::book`) whether or not the version moves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigChanged {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub healthy_servers: Vec<String>,
    /// Whether the team moves to a new configuration version (what cached call targets, the
    /// isolate's `list_tools` answers and the `list_changed` streams follow). Absent means
    /// yes; the cron says no when its run changed nothing those caches show
    /// (`crate::actions::cron::Report::changed_teams`).
    #[serde(default = "bump_by_default")]
    pub bump: bool,
}

fn bump_by_default() -> bool {
    true
}

impl Default for ConfigChanged {
    /// A change: the version moves, no breaker closes.
    fn default() -> Self {
        ConfigChanged {
            healthy_servers: Vec::new(),
            bump: true,
        }
    }
}

/// The URL the gateway addresses a limiter object by (the host is ignored).
pub const CHECK_URL: &str = "https://rate-limiter.internal/check";
/// The URL the admin worker addresses a team's object by to drop cached memberships.
pub const FORGET_URL: &str = "https://rate-limiter.internal/forget";
/// The URL the admin and sync_tools workers address a team's object by after a change to the
/// team's servers, tools or credentials: the object moves to a new configuration version.
pub const CONFIG_CHANGED_URL: &str = "https://rate-limiter.internal/config-changed";

impl Decision {
    /// The response headers for this decision.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            ("ratelimit-limit", self.limit.to_string()),
            ("ratelimit-remaining", self.remaining.to_string()),
            ("ratelimit-reset", self.reset_secs.to_string()),
            (
                "ratelimit-policy",
                format!("{};w={}", self.limit, self.window_secs),
            ),
        ];
        if !self.allowed {
            headers.push(("retry-after", self.retry_after_secs.to_string()));
        }
        headers
    }

    /// The error a refusal answers with.
    pub fn to_error(&self) -> Error {
        let what = match self.scope {
            Scope::Team => format!(
                "your team's request budget of {} per {} is used up",
                self.limit,
                period(self.window_secs)
            ),
            Scope::User => format!(
                "your call_tool budget of {} per {} is used up",
                self.limit,
                period(self.window_secs)
            ),
            Scope::Admin => format!(
                "your team's admin action limit of {} per {} is reached",
                self.limit,
                period(self.window_secs)
            ),
        };
        Error::RateLimit {
            message: format!(
                "rate limit exceeded: {what}; retry in {} s",
                self.retry_after_secs
            ),
            retry_after_secs: self.retry_after_secs,
        }
    }
}

fn period(secs: u64) -> String {
    match secs {
        config::HOUR_SECS => "hour".into(),
        config::DAY_SECS => "day".into(),
        s => format!("{s} s"),
    }
}

/// A team's limits as read from D1, kept for a while inside the limiter object (`None`: the
/// team has no `teams` row, and is refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachedLimits {
    pub limits: Option<TeamLimits>,
    pub read_at_ms: u64,
}

impl CachedLimits {
    /// Still usable at `now_ms` with a time-to-live of `ttl_secs` (a clock that went backwards
    /// counts as stale, so the row is read again).
    pub fn fresh(&self, now_ms: u64, ttl_secs: u64) -> bool {
        now_ms >= self.read_at_ms && now_ms - self.read_at_ms < ttl_secs.saturating_mul(1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use policy::Tier;

    #[test]
    fn a_config_change_moves_the_version_unless_it_says_not_to() {
        let read = |text: &str| serde_json::from_str::<ConfigChanged>(text).unwrap();
        assert!(read("{}").bump, "admin callers send no flag");
        assert!(ConfigChanged::default().bump);
        let quiet = read(r#"{"healthy_servers": ["s1"], "bump": false}"#);
        assert_eq!(
            (quiet.bump, quiet.healthy_servers),
            (false, vec!["s1".into()])
        );
        let sent = ConfigChanged {
            healthy_servers: vec![],
            bump: false,
        };
        assert_eq!(read(&serde_json::to_string(&sent).unwrap()), sent);
    }

    fn decision(allowed: bool, scope: Scope) -> Decision {
        Decision {
            allowed,
            scope,
            limit: 20,
            remaining: if allowed { 7 } else { 0 },
            reset_secs: 900,
            retry_after_secs: if allowed { 0 } else { 12 },
            window_secs: 3_600,
        }
    }

    #[test]
    fn admitted_answers_carry_the_budget_and_refusals_also_retry_after() {
        let ok = decision(true, Scope::Team).headers();
        assert!(ok.contains(&("ratelimit-limit", "20".into())));
        assert!(ok.contains(&("ratelimit-remaining", "7".into())));
        assert!(ok.contains(&("ratelimit-reset", "900".into())));
        assert!(ok.iter().all(|(k, _)| *k != "retry-after"));
        let refused = decision(false, Scope::Team).headers();
        assert!(refused.contains(&("retry-after", "12".into())));
        assert!(refused.contains(&("ratelimit-remaining", "0".into())));
    }

    #[test]
    fn refusals_are_429_rate_limit_with_retry_after_in_the_details() {
        for scope in [Scope::Team, Scope::User, Scope::Admin] {
            let err = decision(false, scope).to_error();
            assert_eq!((err.status(), err.code()), (429, "rate_limit"));
            assert_eq!(err.details()["retry_after_seconds"], 12);
            assert!(err.to_string().contains("per hour"), "{err}");
        }
        let user = Decision {
            window_secs: 86_400,
            ..decision(false, Scope::User)
        };
        assert!(user
            .to_error()
            .to_string()
            .contains("call_tool budget of 20 per day"));
    }

    #[test]
    fn cached_limits_expire_and_a_clock_going_back_makes_them_stale() {
        let c = CachedLimits {
            limits: Some(TeamLimits {
                tier: Tier::Free,
                per_window: 100,
                user_calls: 100,
            }),
            read_at_ms: 10_000,
        };
        assert!(c.fresh(10_000, 60));
        assert!(c.fresh(69_999, 60));
        assert!(!c.fresh(70_000, 60));
        assert!(!c.fresh(9_999, 60));
        assert!(!c.fresh(10_000, 0), "a TTL of 0 reads the row every time");
    }

    #[test]
    fn the_wire_types_round_trip() {
        let d = decision(false, Scope::User);
        let back: Decision = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
        assert_eq!(back, d);
        let r = CheckRequest {
            team_id: "t".into(),
            user_id: "u".into(),
            action: "call_tool".into(),
            request_id: "r".into(),
            claimed_role: Some(Role::Owner),
            reserve: Some(ReserveRequest {
                server_id: "s".into(),
                tool_name: "echo".into(),
            }),
        };
        let back: CheckRequest = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }
}
