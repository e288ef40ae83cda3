//! The circuit breakers of one team's servers, kept by the team's Durable Object
//! (`edge_cloudflare::breaker_store`), which every call already visits to record itself: the
//! verdict travels with the ledger's `start` and the outcome with its `finish`, so a warm call
//! pays no extra trip for its breaker.
//!
//! The object runs one request at a time, so the book is exact where the KV breaker
//! ([`super::Breaker`]) approximates: every fault is counted, and while a probe's lease runs
//! no other call is let through. The state machine is the same ([`super::admit`],
//! [`super::on_success`], [`super::on_failure`]).
//!
//! Invariants:
//! - A server without an entry is closed with no faults; an entry back to that state is
//!   deleted ([`Change::Forget`]), so the book holds only servers that are failing.
//! - Every method answers the [`Change`] its caller must persist before answering its own
//!   caller; nothing else changes the book.

use std::collections::BTreeMap;

use super::{admit, on_failure, on_success, Admission, BreakerConfig, BreakerState, Gate};

/// What a book operation changed, to persist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Keep(String, BreakerState),
    /// The server's breaker is closed with no faults: its entry is gone.
    Forget(String),
}

#[derive(Debug, Default)]
pub struct Book {
    states: BTreeMap<String, BreakerState>,
    config: BreakerConfig,
}

impl Book {
    /// A book holding `stored` (what the object persisted).
    pub fn new(stored: impl IntoIterator<Item = (String, BreakerState)>) -> Book {
        Book {
            states: stored.into_iter().collect(),
            config: BreakerConfig::default(),
        }
    }

    pub fn with_config(mut self, config: BreakerConfig) -> Book {
        self.config = config;
        self
    }

    /// Whether a call to `server_id` may go upstream now; `budget_ms` is its time budget (a
    /// probe's lease lasts that long plus a margin).
    pub fn admit(
        &mut self,
        server_id: &str,
        now_ms: u64,
        budget_ms: u64,
    ) -> (Gate, Option<Change>) {
        let Some(state) = self.states.get(server_id) else {
            return (Gate::Allow, None);
        };
        match admit(state, now_ms, &self.config, "team-object", budget_ms) {
            Admission::Allow => (Gate::Allow, None),
            Admission::Reject { retry_in_ms } => (Gate::rejected(state, retry_in_ms), None),
            Admission::Probe(leased) => (Gate::Probe, Some(self.keep(server_id, leased))),
        }
    }

    /// Whether `server_id`'s breaker is closed (calls go through without a probe): what the
    /// team's gate asks before it reserves a call's record (`crate::ledger::reservation`).
    /// Changes nothing: an open or half-open breaker is decided by the ledger's start.
    pub fn is_closed(&self, server_id: &str) -> bool {
        self.states
            .get(server_id)
            .is_none_or(|state| state.opened_at_ms.is_none())
    }

    /// How a call to `server_id` went: `fault` is the server fault's text, `None` when the
    /// server answered.
    pub fn record(&mut self, server_id: &str, now_ms: u64, fault: Option<&str>) -> Option<Change> {
        let state = self.states.get(server_id).cloned();
        let next = match (fault, state) {
            (None, None) => return None,
            (None, Some(state)) => on_success(&state),
            (Some(error), state) => {
                on_failure(&state.unwrap_or_default(), now_ms, &self.config, error)
            }
        };
        Some(self.keep(server_id, next))
    }

    /// Closes `server_id`'s breaker (its health check succeeded); `None` when it was closed.
    pub fn close(&mut self, server_id: &str) -> Option<Change> {
        self.states
            .remove(server_id)
            .map(|_| Change::Forget(server_id.to_string()))
    }

    fn keep(&mut self, server_id: &str, state: BreakerState) -> Change {
        if state == BreakerState::default() {
            self.states.remove(server_id);
            Change::Forget(server_id.to_string())
        } else {
            self.states.insert(server_id.to_string(), state.clone());
            Change::Keep(server_id.to_string(), state)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_000_000;
    const CFG: BreakerConfig = BreakerConfig {
        failure_threshold: 3,
        cooldown_ms: 10_000,
    };

    #[test]
    fn a_healthy_server_costs_no_entry_and_no_change() {
        let mut book = Book::default().with_config(CFG);
        assert_eq!(book.admit("srv", T0, 5_000), (Gate::Allow, None));
        assert_eq!(book.record("srv", T0, None), None);
        assert!(book.states.is_empty());
    }

    #[test]
    fn every_fault_counts_even_when_calls_overlap() {
        // Three calls admitted before any of them ends (the KV breaker could lose counts here).
        let mut book = Book::default().with_config(CFG);
        for _ in 0..3 {
            assert_eq!(book.admit("srv", T0, 5_000).0, Gate::Allow);
        }
        for i in 0..3 {
            book.record("srv", T0 + i, Some("HTTP 503"));
        }
        let (gate, change) = book.admit("srv", T0 + 10, 5_000);
        assert_eq!(
            gate,
            Gate::Reject {
                retry_in_ms: 9_992,
                failures: 3,
                last_error: Some("HTTP 503".into())
            }
        );
        assert_eq!(change, None, "a refusal changes nothing");
        // Another server of the team is unaffected.
        assert_eq!(book.admit("other", T0 + 10, 5_000).0, Gate::Allow);
    }

    #[test]
    fn half_open_lets_exactly_one_probe_through_and_its_success_forgets_the_server() {
        let mut book = Book::default().with_config(CFG);
        for _ in 0..3 {
            book.record("srv", T0, Some("down"));
        }
        let (gate, change) = book.admit("srv", T0 + 10_000, 5_000);
        assert_eq!(gate, Gate::Probe);
        assert!(matches!(change, Some(Change::Keep(_, ref s)) if s.probe.is_some()));
        assert!(matches!(
            book.admit("srv", T0 + 10_001, 5_000).0,
            Gate::Reject { .. }
        ));
        assert_eq!(
            book.record("srv", T0 + 10_050, None),
            Some(Change::Forget("srv".into()))
        );
        assert_eq!(book.admit("srv", T0 + 10_060, 5_000).0, Gate::Allow);
    }

    #[test]
    fn the_gate_reserves_only_while_closed_and_asking_takes_no_probe() {
        let mut book = Book::default().with_config(CFG);
        assert!(book.is_closed("srv"), "no entry: closed");
        book.record("srv", T0, Some("down"));
        assert!(book.is_closed("srv"), "counting faults, still closed");
        book.record("srv", T0, Some("down"));
        book.record("srv", T0, Some("down"));
        assert!(!book.is_closed("srv"), "open");
        // Half-open: asking does not take the probe's lease; the start still gets it.
        assert!(!book.is_closed("srv"));
        assert_eq!(book.admit("srv", T0 + 10_000, 5_000).0, Gate::Probe);
        book.record("srv", T0 + 10_050, None);
        assert!(book.is_closed("srv"), "a successful probe closes it");
    }

    #[test]
    fn a_failed_probe_reopens_and_a_health_check_closes() {
        let mut book = Book::default().with_config(CFG);
        for _ in 0..3 {
            book.record("srv", T0, Some("down"));
        }
        assert_eq!(book.admit("srv", T0 + 10_000, 5_000).0, Gate::Probe);
        book.record("srv", T0 + 10_100, Some("still down"));
        assert!(matches!(
            book.admit("srv", T0 + 19_000, 5_000).0,
            Gate::Reject { .. }
        ));
        assert_eq!(book.close("srv"), Some(Change::Forget("srv".into())));
        assert_eq!(book.close("srv"), None, "nothing left to close");
        assert_eq!(book.admit("srv", T0 + 19_001, 5_000).0, Gate::Allow);
    }

    #[test]
    fn a_book_rebuilt_from_what_was_persisted_decides_the_same() {
        let mut book = Book::default().with_config(CFG);
        let mut stored = BTreeMap::new();
        for _ in 0..3 {
            if let Some(Change::Keep(id, s)) = book.record("srv", T0, Some("down")) {
                stored.insert(id, s);
            }
        }
        let mut again = Book::new(stored).with_config(CFG);
        assert_eq!(
            again.admit("srv", T0 + 1, 5_000),
            book.admit("srv", T0 + 1, 5_000)
        );
    }
}
