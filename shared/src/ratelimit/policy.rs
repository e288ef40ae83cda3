//! Who is limited by what: a team's limits from its `teams` row and the deployment settings,
//! the windows an action is charged to, and one decision over all of them.
//!
//! Every request is charged to exactly these windows (all or none):
//! - reads (`list_servers`, `list_tools`, `analytics`, `list_executions`, `get_execution`):
//!   the team window, `read_weight` each;
//! - `call_tool`: the team window, `call_tool_weight` each, and the caller's own call budget
//!   (one per call, `user_calls_per_day` per user window);
//! - admin work (`sync_tools`, server and tool changes): the team's admin window, one each,
//!   apart from the team window so that maintenance cannot starve members (and the reverse).

use serde::{Deserialize, Serialize};

use super::config::RateLimitConfig;
use super::window::{SlidingWindow, Verdict, WindowSpec};
use crate::api::Action;
use crate::db::Database;
use crate::error::Result;
use crate::stmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Free,
    Pro,
    Enterprise,
}

impl Tier {
    /// Unknown tier names are free: a typo must never grant a bigger budget.
    pub fn parse(name: &str) -> Tier {
        match name {
            "pro" => Tier::Pro,
            "enterprise" => Tier::Enterprise,
            _ => Tier::Free,
        }
    }
}

/// The columns of a `teams` row the limiter reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamRow {
    pub tier: String,
    pub rate_limit_per_hour: Option<u64>,
    pub user_calls_per_day: Option<u64>,
}

/// Reads a team's row; `None` when the team has none (it is then limited as a free team).
pub async fn load_team_row<D: Database>(db: &D, team_id: &str) -> Result<Option<TeamRow>> {
    db.query_one(stmt!(
        "SELECT tier, rate_limit_per_hour, user_calls_per_day FROM teams WHERE id = ?1",
        team_id
    ))
    .await
}

/// A team's effective limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamLimits {
    pub tier: Tier,
    /// Team budget per window (weighted).
    pub per_window: u64,
    /// `call_tool` per user per user window.
    pub user_calls: u64,
}

impl TeamLimits {
    /// Tier default, unless the row overrides it (any tier's non-null override wins).
    pub fn resolve(row: Option<&TeamRow>, config: &RateLimitConfig) -> TeamLimits {
        let tier = row.map_or(Tier::Free, |r| Tier::parse(&r.tier));
        let tier_default = match tier {
            Tier::Free => config.free_per_window,
            Tier::Pro => config.pro_per_window,
            Tier::Enterprise => config.enterprise_per_window,
        };
        TeamLimits {
            tier,
            per_window: row
                .and_then(|r| r.rate_limit_per_hour)
                .filter(|n| *n > 0)
                .unwrap_or(tier_default),
            user_calls: row
                .and_then(|r| r.user_calls_per_day)
                .filter(|n| *n > 0)
                .unwrap_or(config.user_calls_per_window),
        }
    }
}

/// Which window a charge goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Team,
    User,
    Admin,
}

/// One window a request is charged to: where its state lives, its parameters and the cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    pub scope: Scope,
    /// Storage key of the window inside the team's limiter.
    pub key: String,
    pub spec: WindowSpec,
    pub cost: u64,
}

/// The windows `action` by `user_id` is charged to.
pub fn charges(
    action: Action,
    user_id: &str,
    limits: &TeamLimits,
    config: &RateLimitConfig,
) -> Vec<Charge> {
    let window_ms = config.window_secs.saturating_mul(1000);
    let team = |cost| Charge {
        scope: Scope::Team,
        key: "team".into(),
        spec: WindowSpec::new(limits.per_window, window_ms),
        cost,
    };
    match action {
        // Exactly the actions `Action::is_read` names (api.rs tests that).
        Action::ListServers
        | Action::ListTools
        | Action::ListConnectors
        | Action::Analytics(_)
        | Action::Background(_) => {
            vec![team(config.read_weight)]
        }
        Action::CallTool => vec![
            team(config.call_tool_weight),
            Charge {
                scope: Scope::User,
                key: format!("user:{user_id}"),
                spec: WindowSpec::new(
                    limits.user_calls,
                    config.user_window_secs.saturating_mul(1000),
                ),
                cost: 1,
            },
        ],
        // Member changes (and create_team, which never reaches a limiter) are admin work.
        Action::SyncTools | Action::Admin(_) | Action::Members(_) => vec![Charge {
            scope: Scope::Admin,
            key: "admin".into(),
            spec: WindowSpec::new(config.admin_per_window, window_ms),
            cost: 1,
        }],
    }
}

/// The answer for one request, and what its response headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub allowed: bool,
    /// The window the headers describe: the one that refused, or the one closest to refusing.
    pub scope: Scope,
    pub limit: u64,
    pub remaining: u64,
    /// Seconds until that window's full limit is back.
    pub reset_secs: u64,
    /// Seconds until this request would be admitted (0 when allowed).
    pub retry_after_secs: u64,
    /// The window's length in seconds.
    pub window_secs: u64,
}

/// Decides over every window the request is charged to and, when all of them admit it,
/// records it in all of them. `windows[i]` is the state of `charges[i]`. No I/O and no await:
/// the caller loads the states, calls this, and stores them, in one uninterrupted step.
pub fn decide(charges: &[Charge], windows: &mut [SlidingWindow], now_ms: u64) -> Decision {
    assert_eq!(charges.len(), windows.len(), "one state per charge");
    assert!(!charges.is_empty(), "every action is charged somewhere");
    let verdicts: Vec<Verdict> = charges
        .iter()
        .zip(windows.iter())
        .map(|(c, w)| w.check(&c.spec, now_ms, c.cost))
        .collect();
    let allowed = verdicts.iter().all(|v| v.allowed);
    let shown = if allowed {
        for (c, w) in charges.iter().zip(windows.iter_mut()) {
            w.admit(&c.spec, now_ms, c.cost);
        }
        // The window closest to refusing: least remaining relative to its limit.
        (0..charges.len())
            .min_by(|&a, &b| {
                let (va, vb) = (&verdicts[a], &verdicts[b]);
                (va.remaining as u128 * vb.limit as u128)
                    .cmp(&(vb.remaining as u128 * va.limit as u128))
                    .then(vb.reset_ms.cmp(&va.reset_ms))
            })
            .unwrap_or(0)
    } else {
        (0..charges.len())
            .filter(|&i| !verdicts[i].allowed)
            .max_by_key(|&i| verdicts[i].retry_after_ms)
            .unwrap_or(0)
    };
    let v = verdicts[shown];
    Decision {
        allowed,
        scope: charges[shown].scope,
        limit: v.limit,
        remaining: v.remaining,
        reset_secs: ceil_secs(v.reset_ms),
        retry_after_secs: if allowed {
            0
        } else {
            ceil_secs(v.retry_after_ms).max(1)
        },
        window_secs: charges[shown].spec.length_ms.div_ceil(1000),
    }
}

fn ceil_secs(ms: u64) -> u64 {
    ms.div_ceil(1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::testing::SqliteDb;
    use crate::api::AdminAction;

    const T0: u64 = 1_700_000_040_000;

    fn row(tier: &str, per_hour: Option<u64>, per_day: Option<u64>) -> TeamRow {
        TeamRow {
            tier: tier.into(),
            rate_limit_per_hour: per_hour,
            user_calls_per_day: per_day,
        }
    }

    #[test]
    fn tiers_have_their_limits_and_any_override_wins() {
        let c = RateLimitConfig::default();
        let limit = |r: Option<TeamRow>| TeamLimits::resolve(r.as_ref(), &c);
        assert_eq!(limit(Some(row("free", None, None))).per_window, 100);
        assert_eq!(limit(Some(row("pro", None, None))).per_window, 1_000);
        assert_eq!(
            limit(Some(row("enterprise", Some(20), None))).per_window,
            20
        );
        assert_eq!(
            limit(Some(row("enterprise", None, None))).per_window,
            c.enterprise_per_window
        );
        assert_eq!(limit(Some(row("free", Some(30), None))).per_window, 30);
        assert_eq!(limit(Some(row("platinum", None, None))).tier, Tier::Free);
        let unknown = limit(None);
        assert_eq!((unknown.tier, unknown.per_window), (Tier::Free, 100));
        assert_eq!(unknown.user_calls, c.user_calls_per_window);
        assert_eq!(limit(Some(row("pro", None, Some(3)))).user_calls, 3);
    }

    #[tokio::test]
    async fn the_team_row_is_read_from_the_real_schema() {
        let db = SqliteDb::migrated();
        db.exec(
            "INSERT INTO teams (id, name, tier, rate_limit_per_hour, user_calls_per_day) \
             VALUES ('t1', 'T1', 'enterprise', 20, 3), ('t2', 'T2', 'pro', NULL, NULL)",
        );
        assert_eq!(
            load_team_row(&db, "t1").await.unwrap(),
            Some(row("enterprise", Some(20), Some(3)))
        );
        assert_eq!(
            load_team_row(&db, "t2").await.unwrap(),
            Some(row("pro", None, None))
        );
        assert_eq!(load_team_row(&db, "nope").await.unwrap(), None);
    }

    fn setup(per_window: u64, user_calls: u64) -> (TeamLimits, RateLimitConfig) {
        let limits = TeamLimits {
            tier: Tier::Enterprise,
            per_window,
            user_calls,
        };
        let config = RateLimitConfig {
            admin_per_window: 3,
            ..RateLimitConfig::default()
        };
        (limits, config)
    }

    /// A tiny limiter: windows by key, as the Durable Object keeps them.
    #[derive(Default)]
    struct Store(std::collections::HashMap<String, SlidingWindow>);

    impl Store {
        fn hit(
            &mut self,
            action: Action,
            user: &str,
            l: &TeamLimits,
            c: &RateLimitConfig,
            now: u64,
        ) -> Decision {
            let charges = charges(action, user, l, c);
            let mut windows: Vec<SlidingWindow> = charges
                .iter()
                .map(|ch| self.0.get(&ch.key).cloned().unwrap_or_default())
                .collect();
            let d = decide(&charges, &mut windows, now);
            for (ch, w) in charges.iter().zip(windows) {
                self.0.insert(ch.key.clone(), w);
            }
            d
        }
    }

    #[test]
    fn calls_weigh_more_than_reads_in_the_team_budget() {
        let (l, c) = setup(10, 100);
        let mut s = Store::default();
        assert_eq!(s.hit(Action::ListServers, "u", &l, &c, T0).remaining, 9);
        let call = s.hit(Action::CallTool, "u", &l, &c, T0);
        assert_eq!((call.scope, call.remaining), (Scope::Team, 7));
        for _ in 0..3 {
            assert!(s.hit(Action::CallTool, "u", &l, &c, T0).allowed);
        }
        let refused = s.hit(Action::CallTool, "u", &l, &c, T0);
        assert!(!refused.allowed);
        assert_eq!(refused.scope, Scope::Team);
        let read = s.hit(Action::ListTools, "u", &l, &c, T0);
        assert!(read.allowed, "a read still fits");
        assert_eq!(read.remaining, 0);
    }

    #[test]
    fn the_user_budget_limits_calls_per_user_and_refusals_charge_nothing() {
        let (l, c) = setup(1_000, 3);
        let mut s = Store::default();
        for left in [2, 1, 0] {
            let d = s.hit(Action::CallTool, "alice", &l, &c, T0);
            assert!(d.allowed);
            assert_eq!((d.scope, d.remaining), (Scope::User, left));
        }
        let refused = s.hit(Action::CallTool, "alice", &l, &c, T0);
        assert!(!refused.allowed);
        assert_eq!((refused.scope, refused.limit), (Scope::User, 3));
        assert_eq!(refused.window_secs, 86_400);
        assert!(s.hit(Action::CallTool, "bob", &l, &c, T0).allowed);
        assert!(s.hit(Action::ListServers, "alice", &l, &c, T0).allowed);
        // 4 admitted calls at weight 2 and one read; alice's refused call cost the team nothing.
        let read = s.hit(Action::ListServers, "bob", &l, &c, T0);
        assert_eq!((read.scope, read.remaining), (Scope::Team, 1_000 - 8 - 2));
    }

    #[test]
    fn admin_actions_have_their_own_window() {
        let (l, c) = setup(5, 100);
        let mut s = Store::default();
        let admin = [
            Action::SyncTools,
            Action::Admin(AdminAction::CreateServer),
            Action::Admin(AdminAction::UpdateTool),
        ];
        for a in admin {
            let d = s.hit(a, "root", &l, &c, T0);
            assert!(d.allowed);
            assert_eq!(d.scope, Scope::Admin);
        }
        let refused = s.hit(Action::Admin(AdminAction::DeleteServer), "root", &l, &c, T0);
        assert!(!refused.allowed);
        assert_eq!((refused.scope, refused.limit), (Scope::Admin, 3));
        let read = s.hit(Action::ListServers, "root", &l, &c, T0);
        assert_eq!(
            read.remaining, 4,
            "admin work did not touch the team budget"
        );
        // Analytics are reads, even the admin-only report: the team window, not the admin one.
        let report = s.hit(
            Action::Analytics(crate::api::AnalyticsAction::Report),
            "root",
            &l,
            &c,
            T0,
        );
        assert!(
            report.allowed,
            "the admin window is exhausted, reads are not"
        );
        assert_eq!((report.scope, report.remaining), (Scope::Team, 3));
    }

    #[test]
    fn headers_describe_the_window_closest_to_refusing_and_retry_is_at_least_a_second() {
        let (l, c) = setup(100, 2);
        let mut s = Store::default();
        let first = s.hit(Action::CallTool, "u", &l, &c, T0);
        // Team: 98/100 left; user: 1/2 left — the user window is closer to refusing.
        assert_eq!(
            (first.scope, first.limit, first.remaining),
            (Scope::User, 2, 1)
        );
        assert_eq!(first.retry_after_secs, 0);
        assert!(first.reset_secs > 0 && first.reset_secs <= 86_400 + 1_440);
        s.hit(Action::CallTool, "u", &l, &c, T0);
        let refused = s.hit(Action::CallTool, "u", &l, &c, T0 + 500);
        assert!(refused.retry_after_secs >= 1);
        assert!(refused.retry_after_secs <= refused.reset_secs);
    }

    #[test]
    fn one_limit_across_many_users_admits_exactly_the_limit() {
        let (l, c) = setup(20, 100);
        let mut s = Store::default();
        let admitted = (0..60)
            .filter(|i| {
                s.hit(
                    Action::ListServers,
                    &format!("user-{}", i % 7),
                    &l,
                    &c,
                    T0 + i,
                )
                .allowed
            })
            .count();
        assert_eq!(admitted, 20);
    }
}
