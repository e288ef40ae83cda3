//! Per-stage timings of one request, answered as a `Server-Timing` header
//! (`name;dur=1.25, other;dur=0.40`), so that a benchmark or a browser's network panel shows where
//! each millisecond goes.
//!
//! Invariants:
//! - Stage names are static tokens from this crate (`[a-z0-9-]`), never request data: nothing a
//!   caller sent, and no secret, can reach the header.
//! - The gateway relays the action worker's stages with the [`ACTION_PREFIX`] (`a-`), after its
//!   own; [`relay`] drops anything in the action's header that is not a well-formed entry.
//! - The header is answered only where the deployment turns it on ([`enabled`], the gateway's
//!   `SERVER_TIMING`): off as checked in, on locally. Stage timings tell a caller which answers
//!   came from memory or a cache, and how long another team's upstream took to fail: useful to
//!   an operator, a side channel on a public endpoint.
//! - Durations are milliseconds with two decimals. On Workers the clock only advances across I/O,
//!   so a stage's figure is its storage or network time; CPU-only stages read as 0.

use std::cell::RefCell;
use std::fmt::Write as _;

/// The response header's name.
pub const HEADER: &str = "server-timing";
/// The gateway's setting that answers the header.
pub const SETTING: &str = "SERVER_TIMING";

/// Whether the `SERVER_TIMING` setting turns the header on: exactly `true`; anything else,
/// absent included, keeps it off.
pub fn enabled(setting: Option<&str>) -> bool {
    setting.map(str::trim) == Some("true")
}
/// Prefix of the action worker's stages in the gateway's header.
pub const ACTION_PREFIX: &str = "a-";
/// Entries a relayed header may carry at most.
const MAX_RELAYED: usize = 32;

/// The stages of one request, in the order they were recorded.
#[derive(Debug, Default)]
pub struct Timings {
    stages: RefCell<Vec<(&'static str, f64)>>,
}

impl Timings {
    pub fn new() -> Timings {
        Timings::default()
    }

    /// Records `stage` as having taken `ms`; a stage recorded twice adds up.
    pub fn add(&self, stage: &'static str, ms: f64) {
        let mut stages = self.stages.borrow_mut();
        match stages.iter_mut().find(|(name, _)| *name == stage) {
            Some((_, total)) => *total += ms.max(0.0),
            None => stages.push((stage, ms.max(0.0))),
        }
    }

    /// Records the time since `started` (a reading of the same clock) as `stage`, and answers
    /// `now` so that consecutive stages chain.
    pub fn lap(&self, stage: &'static str, started: f64, now: f64) -> f64 {
        self.add(stage, now - started);
        now
    }

    /// The header value (empty when nothing was recorded).
    pub fn header(&self) -> String {
        let mut out = String::new();
        for (name, ms) in self.stages.borrow().iter() {
            push_entry(&mut out, "", name, *ms);
        }
        out
    }
}

fn push_entry(out: &mut String, prefix: &str, name: &str, ms: f64) {
    if !out.is_empty() {
        out.push_str(", ");
    }
    let _ = write!(out, "{prefix}{name};dur={ms:.2}");
}

fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The well-formed entries of a `Server-Timing` value (`name;dur=N`), in order.
pub fn parse(header: &str) -> Vec<(String, f64)> {
    header
        .split(',')
        .filter_map(|entry| {
            let (name, params) = entry.trim().split_once(';')?;
            let dur = params.trim().strip_prefix("dur=")?.parse::<f64>().ok()?;
            (is_token(name) && dur.is_finite() && dur >= 0.0).then(|| (name.to_string(), dur))
        })
        .take(MAX_RELAYED)
        .collect()
}

/// The gateway's header: its own stages, then the action worker's (`action_header`, as that
/// worker answered it) prefixed with [`ACTION_PREFIX`].
pub fn relay(own: &Timings, action_header: Option<&str>) -> String {
    let mut out = own.header();
    for (name, ms) in action_header.map(parse).unwrap_or_default() {
        push_entry(&mut out, ACTION_PREFIX, &name, ms);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_render_in_order_with_two_decimals_and_repeats_add_up() {
        let t = Timings::new();
        t.add("auth", 1.234);
        t.add("gate", 2.0);
        t.add("auth", 1.0);
        assert_eq!(t.header(), "auth;dur=2.23, gate;dur=2.00");
    }

    #[test]
    fn lap_records_the_interval_and_chains() {
        let t = Timings::new();
        let next = t.lap("config", 10.0, 12.5);
        t.lap("start", next, 13.0);
        assert_eq!(t.header(), "config;dur=2.50, start;dur=0.50");
    }

    #[test]
    fn relay_prefixes_the_action_stages_and_drops_malformed_entries() {
        let own = Timings::new();
        own.add("auth", 1.0);
        let header = relay(
            &own,
            Some("config;dur=0.5, Bad Name;dur=1, x;desc=y, upstream;dur=3, neg;dur=-1, <s>;dur=1"),
        );
        assert_eq!(
            header,
            "auth;dur=1.00, a-config;dur=0.50, a-upstream;dur=3.00"
        );
    }

    #[test]
    fn relay_without_an_action_header_is_the_gateways_own() {
        let own = Timings::new();
        own.add("gate", 0.25);
        assert_eq!(relay(&own, None), "gate;dur=0.25");
        assert_eq!(relay(&Timings::new(), None), "");
    }

    #[test]
    fn the_header_is_on_only_when_the_setting_says_true() {
        assert!(enabled(Some("true")));
        assert!(enabled(Some(" true ")));
        for off in [
            None,
            Some(""),
            Some("false"),
            Some("1"),
            Some("TRUE"),
            Some("yes"),
        ] {
            assert!(!enabled(off), "{off:?}");
        }
    }
}
