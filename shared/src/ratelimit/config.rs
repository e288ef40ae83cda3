//! The limiter's deployment settings, read from Worker vars (`wrangler.toml` `[vars]`, or
//! `wrangler dev --var`). Unset vars take the documented defaults; a var that is set but
//! malformed is a configuration error (the gateway refuses to guess a limit).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Seconds in the window the tier limits are stated per ("per hour").
pub const HOUR_SECS: u64 = 3_600;
/// Seconds in the window the per-user call budget is stated per ("per day").
pub const DAY_SECS: u64 = 86_400;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimitConfig {
    /// `RATE_LIMIT_ENABLED` (default true): consult the limiter at all.
    pub enabled: bool,
    /// `RATE_LIMIT_FAIL_OPEN` (default false): when the limiter cannot be reached, let the
    /// request through (true) or refuse it (false).
    pub fail_open: bool,
    /// `RATE_LIMITER_BINDING` (default `RATE_LIMITER`): the Durable Object namespace binding.
    pub binding: String,
    /// `RATE_LIMIT_WINDOW_SECS` (default 3600): the window team and admin limits count over.
    /// Tests shorten it; the limits stay "per window".
    pub window_secs: u64,
    /// `RATE_LIMIT_USER_WINDOW_SECS` (default 86400): the per-user call budget's window.
    pub user_window_secs: u64,
    /// `RATE_LIMIT_FREE_PER_HOUR` (default 100), `RATE_LIMIT_PRO_PER_HOUR` (default 1000),
    /// `RATE_LIMIT_ENTERPRISE_PER_HOUR` (default 10000, for enterprise teams without their own
    /// `teams.rate_limit_per_hour`).
    pub free_per_window: u64,
    pub pro_per_window: u64,
    pub enterprise_per_window: u64,
    /// `RATE_LIMIT_USER_CALLS_PER_DAY` (default 100): `call_tool` per user per user window,
    /// unless the team sets `teams.user_calls_per_day`.
    pub user_calls_per_window: u64,
    /// `RATE_LIMIT_READ_WEIGHT` (default 1) and `RATE_LIMIT_CALL_TOOL_WEIGHT` (default 2): what
    /// a read and a tool call cost of the team's budget.
    pub read_weight: u64,
    pub call_tool_weight: u64,
    /// `RATE_LIMIT_ADMIN_PER_HOUR` (default 60): admin actions (sync and server/tool changes)
    /// per team per window, counted apart from the team's budget.
    pub admin_per_window: u64,
    /// `RATE_LIMIT_TEAM_CACHE_SECS` (default 60): how long the limiter trusts the `teams` row
    /// it read before reading it again.
    pub team_cache_secs: u64,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            enabled: true,
            fail_open: false,
            binding: "RATE_LIMITER".into(),
            window_secs: HOUR_SECS,
            user_window_secs: DAY_SECS,
            free_per_window: 100,
            pro_per_window: 1_000,
            enterprise_per_window: 10_000,
            user_calls_per_window: 100,
            read_weight: 1,
            call_tool_weight: 2,
            admin_per_window: 60,
            team_cache_secs: 60,
        }
    }
}

impl RateLimitConfig {
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<RateLimitConfig> {
        let d = RateLimitConfig::default();
        let get = |name: &str| get(name).map(|v| v.trim().to_string());
        let flag = |name: &str, default: bool| -> Result<bool> {
            match get(name).as_deref() {
                None | Some("") => Ok(default),
                Some("true" | "1" | "yes") => Ok(true),
                Some("false" | "0" | "no") => Ok(false),
                Some(other) => Err(bad(name, other, "true or false")),
            }
        };
        let positive = |name: &str, default: u64| -> Result<u64> {
            match get(name).as_deref() {
                None | Some("") => Ok(default),
                Some(v) => v
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| bad(name, v, "a positive integer")),
            }
        };
        Ok(RateLimitConfig {
            enabled: flag("RATE_LIMIT_ENABLED", d.enabled)?,
            fail_open: flag("RATE_LIMIT_FAIL_OPEN", d.fail_open)?,
            binding: get("RATE_LIMITER_BINDING")
                .filter(|b| !b.is_empty())
                .unwrap_or(d.binding),
            window_secs: positive("RATE_LIMIT_WINDOW_SECS", d.window_secs)?,
            user_window_secs: positive("RATE_LIMIT_USER_WINDOW_SECS", d.user_window_secs)?,
            free_per_window: positive("RATE_LIMIT_FREE_PER_HOUR", d.free_per_window)?,
            pro_per_window: positive("RATE_LIMIT_PRO_PER_HOUR", d.pro_per_window)?,
            enterprise_per_window: positive(
                "RATE_LIMIT_ENTERPRISE_PER_HOUR",
                d.enterprise_per_window,
            )?,
            user_calls_per_window: positive(
                "RATE_LIMIT_USER_CALLS_PER_DAY",
                d.user_calls_per_window,
            )?,
            read_weight: positive("RATE_LIMIT_READ_WEIGHT", d.read_weight)?,
            call_tool_weight: positive("RATE_LIMIT_CALL_TOOL_WEIGHT", d.call_tool_weight)?,
            admin_per_window: positive("RATE_LIMIT_ADMIN_PER_HOUR", d.admin_per_window)?,
            team_cache_secs: match get("RATE_LIMIT_TEAM_CACHE_SECS").as_deref() {
                None | Some("") => d.team_cache_secs,
                Some(v) => v
                    .parse()
                    .map_err(|_| bad("RATE_LIMIT_TEAM_CACHE_SECS", v, "an integer"))?,
            },
        })
    }
}

fn bad(name: &str, value: &str, expected: &str) -> Error {
    Error::internal(format!(
        "setting {name} is '{}'; expected {expected}",
        value.chars().take(32).collect::<String>()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<RateLimitConfig> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        RateLimitConfig::from_vars(|name| map.get(name).cloned())
    }

    #[test]
    fn unset_vars_take_the_documented_defaults() {
        let c = from(&[]).unwrap();
        assert_eq!(c, RateLimitConfig::default());
        assert!(c.enabled);
        assert!(!c.fail_open, "fails closed unless told otherwise");
        assert_eq!((c.free_per_window, c.pro_per_window), (100, 1_000));
        assert_eq!((c.window_secs, c.user_window_secs), (3_600, 86_400));
        assert!(c.call_tool_weight > c.read_weight);
    }

    #[test]
    fn vars_override_and_malformed_vars_are_errors() {
        let c = from(&[
            ("RATE_LIMIT_WINDOW_SECS", "15"),
            ("RATE_LIMIT_FAIL_OPEN", "true"),
            ("RATE_LIMIT_ENABLED", "0"),
            ("RATE_LIMIT_CALL_TOOL_WEIGHT", " 5 "),
            ("RATE_LIMIT_TEAM_CACHE_SECS", "0"),
            ("RATE_LIMITER_BINDING", "OTHER"),
        ])
        .unwrap();
        assert_eq!(c.window_secs, 15);
        assert!(c.fail_open && !c.enabled);
        assert_eq!(c.call_tool_weight, 5);
        assert_eq!(c.team_cache_secs, 0);
        assert_eq!(c.binding, "OTHER");
        for (name, value) in [
            ("RATE_LIMIT_WINDOW_SECS", "0"),
            ("RATE_LIMIT_PRO_PER_HOUR", "lots"),
            ("RATE_LIMIT_FAIL_OPEN", "ture"),
            ("RATE_LIMIT_READ_WEIGHT", "-1"),
        ] {
            let err = from(&[(name, value)]).unwrap_err();
            assert_eq!(err.code(), "internal_error");
            assert!(err.to_string().contains(name), "{err}");
        }
    }
}
