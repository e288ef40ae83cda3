//! The counting algorithm: a sliding window over time slots, pure, with time passed in.
//!
//! A window of length `L` is cut into [`SLOTS`] slots of `g = L / SLOTS` milliseconds, aligned
//! on the epoch. Admitted weight is added to the slot of the instant it was admitted in, and a
//! slot keeps counting until `L + g` after its start (the end of the slot plus one whole
//! window). So for any two admissions that are both still counted, less than `L` separates
//! them: **the weight admitted in any interval of length `L` never exceeds the limit**, and a
//! burst that fits in one window admits exactly the limit. The price of the slot grid is that
//! capacity comes back up to one slot (1/60 of the window) later than a per-request log would
//! give it back; the state stays at most `SLOTS + 1` entries whatever the limit.
//!
//! Invariants:
//! - [`SlidingWindow::check`] never changes state; [`SlidingWindow::admit`] adds weight only
//!   when the same check allows it. The caller stores the window after `admit` without
//!   awaiting in between, which is what makes a decision atomic.
//! - Time may go backwards (another machine's clock, a restored state). Up to one window back,
//!   the window decides as of the latest instant it has seen, so a late clock never frees
//!   capacity early. Further back, the clock was reset: the counted weight keeps its age
//!   relative to the new clock, so nobody is locked out for longer than one window.

use serde::{Deserialize, Serialize};

/// Slots per window.
pub const SLOTS: u64 = 60;

/// A window's parameters: `limit` weight per `length_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowSpec {
    pub limit: u64,
    pub length_ms: u64,
}

impl WindowSpec {
    pub fn new(limit: u64, length_ms: u64) -> Self {
        WindowSpec {
            limit,
            length_ms: length_ms.max(SLOTS),
        }
    }

    /// Slot length in milliseconds (at least 1).
    pub fn slot_ms(&self) -> u64 {
        (self.length_ms / SLOTS).max(1)
    }

    /// Slots a recorded slot keeps counting after its own: the window plus the slot itself.
    fn span(&self) -> u64 {
        self.length_ms.div_ceil(self.slot_ms())
    }
}

/// What a window says about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub allowed: bool,
    pub limit: u64,
    /// Weight still available after this request (allowed) or now (refused).
    pub remaining: u64,
    /// Milliseconds until everything counted now has expired (the full limit is back).
    pub reset_ms: u64,
    /// Milliseconds until this request would fit (0 when allowed).
    pub retry_after_ms: u64,
}

/// The persisted state of one window.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlidingWindow {
    /// `(slot index, weight)`, ascending by index, weights > 0.
    #[serde(default)]
    slots: Vec<(u64, u64)>,
    /// The latest instant (ms) this window has seen.
    #[serde(default)]
    seen_ms: u64,
}

impl SlidingWindow {
    /// Weight counted at `now_ms` (after the same clock handling as `check`).
    pub fn used(&self, spec: &WindowSpec, now_ms: u64) -> u64 {
        let mut w = self.clone();
        let now_ms = w.advance(spec, now_ms);
        w.counted(spec, now_ms).map(|(_, weight)| weight).sum()
    }

    /// Whether `cost` fits at `now_ms`, without recording it. A cost above the limit is
    /// charged as the whole limit, so that a small limit still admits a heavy action.
    pub fn check(&self, spec: &WindowSpec, now_ms: u64, cost: u64) -> Verdict {
        let mut w = self.clone();
        let now_ms = w.advance(spec, now_ms);
        w.verdict(spec, now_ms, cost)
    }

    /// Checks and, when allowed, records `cost` at `now_ms`.
    pub fn admit(&mut self, spec: &WindowSpec, now_ms: u64, cost: u64) -> Verdict {
        let now_ms = self.advance(spec, now_ms);
        let verdict = self.verdict(spec, now_ms, cost);
        if verdict.allowed {
            self.record(spec, now_ms, effective_cost(spec, cost));
        }
        verdict
    }

    /// Epoch milliseconds after which this window holds nothing (to garbage-collect state).
    pub fn expires_at_ms(&self, spec: &WindowSpec) -> u64 {
        self.slots
            .last()
            .map(|(index, _)| self.expiry(spec, *index))
            .unwrap_or(self.seen_ms)
    }

    /// Applies the clock and answers the instant to decide at. Drops expired slots. A clock up
    /// to one window behind is read as the latest instant seen; a clock further behind was
    /// reset, so the recorded slots move back by the whole slots it lost, keeping their
    /// remaining lifetimes.
    fn advance(&mut self, spec: &WindowSpec, now_ms: u64) -> u64 {
        let behind = self.seen_ms.saturating_sub(now_ms);
        let now_ms = if behind == 0 {
            now_ms
        } else if behind <= spec.length_ms {
            self.seen_ms
        } else {
            let back = behind / spec.slot_ms();
            for (index, _) in &mut self.slots {
                *index = index.saturating_sub(back);
            }
            now_ms
        };
        self.seen_ms = now_ms;
        let current = now_ms / spec.slot_ms();
        let span = spec.span();
        self.slots
            .retain(|(index, weight)| *weight > 0 && index.saturating_add(span) >= current);
        now_ms
    }

    fn counted<'a>(
        &'a self,
        spec: &WindowSpec,
        now_ms: u64,
    ) -> impl Iterator<Item = (u64, u64)> + 'a {
        let current = now_ms / spec.slot_ms();
        let span = spec.span();
        self.slots
            .iter()
            .copied()
            .filter(move |(index, _)| index.saturating_add(span) >= current)
    }

    /// When the slot `index` stops counting.
    fn expiry(&self, spec: &WindowSpec, index: u64) -> u64 {
        index
            .saturating_add(spec.span())
            .saturating_add(1)
            .saturating_mul(spec.slot_ms())
    }

    fn verdict(&self, spec: &WindowSpec, now_ms: u64, cost: u64) -> Verdict {
        let cost = effective_cost(spec, cost);
        let used: u64 = self.counted(spec, now_ms).map(|(_, w)| w).sum();
        let allowed = used.saturating_add(cost) <= spec.limit;
        let after = if allowed { used + cost } else { used };
        let until = |at: u64| at.saturating_sub(now_ms);
        // Full reset: when the newest counted slot expires (the current one when admitting).
        let newest = if allowed {
            Some(now_ms / spec.slot_ms())
        } else {
            self.counted(spec, now_ms).map(|(i, _)| i).last()
        };
        let reset_ms = newest.map_or(0, |i| until(self.expiry(spec, i)));
        let retry_after_ms = if allowed {
            0
        } else {
            // Oldest first: the request fits once enough weight has expired.
            let mut freed = 0;
            let need = (used + cost).saturating_sub(spec.limit);
            self.counted(spec, now_ms)
                .find_map(|(i, w)| {
                    freed += w;
                    (freed >= need).then(|| until(self.expiry(spec, i)))
                })
                .unwrap_or(reset_ms)
        };
        Verdict {
            allowed,
            limit: spec.limit,
            remaining: spec.limit.saturating_sub(after),
            reset_ms,
            retry_after_ms,
        }
    }

    fn record(&mut self, spec: &WindowSpec, now_ms: u64, cost: u64) {
        if cost == 0 {
            return;
        }
        let index = now_ms / spec.slot_ms();
        match self.slots.binary_search_by_key(&index, |(i, _)| *i) {
            Ok(at) => self.slots[at].1 = self.slots[at].1.saturating_add(cost),
            Err(at) => self.slots.insert(at, (index, cost)),
        }
    }
}

fn effective_cost(spec: &WindowSpec, cost: u64) -> u64 {
    cost.min(spec.limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: u64 = 3_600_000;
    /// An instant on a slot boundary (one hour's slots are one minute).
    const T0: u64 = 1_700_000_040_000;

    fn spec(limit: u64) -> WindowSpec {
        WindowSpec::new(limit, HOUR)
    }

    fn fill(w: &mut SlidingWindow, s: &WindowSpec, at: u64, n: u64) -> u64 {
        (0..n).filter(|_| w.admit(s, at, 1).allowed).count() as u64
    }

    #[test]
    fn a_burst_admits_exactly_the_limit() {
        let s = spec(100);
        let mut w = SlidingWindow::default();
        assert_eq!(fill(&mut w, &s, T0, 250), 100);
        let refused = w.admit(&s, T0, 1);
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 0);
        assert_eq!(w.used(&s, T0), 100, "refusals are not counted");
    }

    #[test]
    fn remaining_counts_down_one_per_admission() {
        let s = spec(3);
        let mut w = SlidingWindow::default();
        let remaining: Vec<u64> = (0..3).map(|_| w.admit(&s, T0, 1).remaining).collect();
        assert_eq!(remaining, [2, 1, 0]);
    }

    #[test]
    fn weight_is_charged_and_a_read_can_fit_where_a_call_cannot() {
        let s = spec(5);
        let mut w = SlidingWindow::default();
        assert_eq!(w.admit(&s, T0, 2).remaining, 3);
        assert_eq!(w.admit(&s, T0, 2).remaining, 1);
        assert!(!w.admit(&s, T0, 2).allowed);
        assert!(w.admit(&s, T0, 1).allowed);
        assert!(!w.admit(&s, T0, 1).allowed);
    }

    #[test]
    fn a_cost_above_the_limit_is_charged_as_the_whole_limit() {
        let s = spec(1);
        let mut w = SlidingWindow::default();
        let v = w.admit(&s, T0, 5);
        assert!(v.allowed);
        assert_eq!(v.remaining, 0);
        assert!(!w.admit(&s, T0, 1).allowed);
    }

    #[test]
    fn window_edge_the_last_millisecond_still_counts_and_the_next_frees() {
        let s = spec(10);
        let slot = s.slot_ms();
        let mut w = SlidingWindow::default();
        // Admitted in the middle of a slot: counted until that slot's end plus one window.
        let at = T0 + slot / 2;
        assert_eq!(fill(&mut w, &s, at, 10), 10);
        let expiry = T0 + slot + HOUR;
        let before = w.check(&s, expiry - 1, 1);
        assert!(!before.allowed);
        assert_eq!(before.retry_after_ms, 1);
        assert_eq!(before.reset_ms, 1);
        let after = w.check(&s, expiry, 1);
        assert!(after.allowed);
        assert_eq!(after.remaining, 9);
        assert_eq!(w.used(&s, expiry), 0);
    }

    #[test]
    fn no_interval_of_one_window_admits_more_than_the_limit() {
        // Requests every 7 s for three hours at limit 20/hour: count admissions in every
        // one-hour interval that starts at an admission.
        let s = spec(20);
        let mut w = SlidingWindow::default();
        let admitted: Vec<u64> = (0..1543)
            .map(|i| T0 + i * 7_000)
            .filter(|t| w.admit(&s, *t, 1).allowed)
            .collect();
        for (i, start) in admitted.iter().enumerate() {
            let within = admitted[i..]
                .iter()
                .take_while(|t| **t < start + HOUR)
                .count();
            assert!(within <= 20, "{within} admissions in the hour from {start}");
        }
        // And the limiter is not starving the caller: over 3 hours about 3 windows' worth.
        assert!(admitted.len() >= 57, "{}", admitted.len());
    }

    #[test]
    fn capacity_returns_slot_by_slot_as_the_window_slides() {
        let s = spec(4);
        let slot = s.slot_ms();
        let mut w = SlidingWindow::default();
        assert!(w.admit(&s, T0, 2).allowed);
        assert!(w.admit(&s, T0 + 10 * slot, 2).allowed);
        let full = w.check(&s, T0 + 20 * slot, 1);
        assert!(!full.allowed);
        // The first slot's weight frees first; everything by the second slot's expiry.
        assert_eq!(full.retry_after_ms, T0 + slot + HOUR - (T0 + 20 * slot));
        assert_eq!(full.reset_ms, T0 + 11 * slot + HOUR - (T0 + 20 * slot));
        let later = w.check(&s, T0 + slot + HOUR, 2);
        assert!(later.allowed);
        assert_eq!(later.remaining, 0);
    }

    #[test]
    fn retry_after_waits_for_enough_weight_not_just_the_oldest_slot() {
        let s = spec(4);
        let slot = s.slot_ms();
        let mut w = SlidingWindow::default();
        assert!(w.admit(&s, T0, 1).allowed);
        assert!(w.admit(&s, T0 + slot, 1).allowed);
        assert!(w.admit(&s, T0 + 2 * slot, 2).allowed);
        // A cost of 2 needs the first two slots gone.
        let v = w.check(&s, T0 + 3 * slot, 2);
        assert!(!v.allowed);
        assert_eq!(v.retry_after_ms, (T0 + 2 * slot + HOUR) - (T0 + 3 * slot));
        assert!(w.check(&s, T0 + 2 * slot + HOUR, 2).allowed);
        assert!(!w.check(&s, T0 + 2 * slot + HOUR - 1, 2).allowed);
    }

    #[test]
    fn check_never_changes_state() {
        let s = spec(2);
        let mut w = SlidingWindow::default();
        w.admit(&s, T0, 1);
        let before = w.clone();
        for _ in 0..5 {
            w.check(&s, T0, 1);
        }
        assert_eq!(w, before);
    }

    #[test]
    fn clock_skew_backwards_neither_frees_capacity_nor_double_counts() {
        let s = spec(10);
        let mut w = SlidingWindow::default();
        assert_eq!(fill(&mut w, &s, T0, 10), 10);
        // Another machine's clock is 2 s behind: still full.
        let skewed = w.admit(&s, T0 - 2_000, 1);
        assert!(!skewed.allowed);
        assert_eq!(skewed.remaining, 0);
        // Back on the right clock: nothing was added by the refused request.
        assert_eq!(w.used(&s, T0), 10);
    }

    #[test]
    fn a_late_clock_alternating_with_the_right_one_never_frees_early() {
        let s = spec(10);
        let slot = s.slot_ms();
        let mut w = SlidingWindow::default();
        assert_eq!(fill(&mut w, &s, T0, 10), 10);
        let expiry = T0 + slot + HOUR;
        for late_by in [1, 5 * 60_000, 59 * 60_000, HOUR] {
            assert!(!w.admit(&s, expiry - 1 - late_by, 1).allowed);
            assert!(!w.admit(&s, expiry - 1, 1).allowed, "late by {late_by}");
        }
        assert!(w.admit(&s, expiry, 1).allowed);
    }

    #[test]
    fn clock_skew_backwards_by_days_does_not_lock_the_team_out_for_days() {
        let s = spec(10);
        let slot = s.slot_ms();
        let mut w = SlidingWindow::default();
        assert_eq!(fill(&mut w, &s, T0, 10), 10);
        // A restored state from a clock two days ahead: the counted weight keeps its age...
        let back = T0 - 2 * 86_400_000;
        let v = w.admit(&s, back, 1);
        assert!(!v.allowed);
        assert!(v.retry_after_ms <= HOUR + slot, "{v:?}");
        // ...and expires one window later on the new clock, not two days later.
        assert!(w.check(&s, back + HOUR + slot, 1).allowed);
    }

    #[test]
    fn clock_jitter_within_a_slot_keeps_counting_the_newer_slot() {
        let s = spec(3);
        let slot = s.slot_ms();
        let mut w = SlidingWindow::default();
        assert_eq!(fill(&mut w, &s, T0 + slot, 3), 3);
        // Half a slot back lands in the previous slot: the newer slot still counts.
        assert!(!w.admit(&s, T0 + slot / 2, 1).allowed);
        assert_eq!(w.used(&s, T0 + slot), 3);
    }

    #[test]
    fn forward_jumps_expire_everything_and_state_stays_small() {
        let s = spec(1_000_000);
        let slot = s.slot_ms();
        let mut w = SlidingWindow::default();
        for i in 0..10_000 {
            assert!(w.admit(&s, T0 + i * slot / 7, 1).allowed);
        }
        assert!(w.slots.len() as u64 <= SLOTS + 1, "{}", w.slots.len());
        let v = w.check(&s, T0 + 30 * HOUR, 1);
        assert_eq!(v.remaining, 1_000_000 - 1);
        assert_eq!(w.expires_at_ms(&s), w.expiry(&s, w.slots.last().unwrap().0));
    }

    #[test]
    fn short_windows_work_down_to_one_millisecond_slots() {
        let s = WindowSpec::new(2, 1);
        assert_eq!(s.slot_ms(), 1);
        let mut w = SlidingWindow::default();
        assert_eq!(fill(&mut w, &s, 1_000, 5), 2);
        assert!(w.check(&s, 1_000 + s.length_ms + 1, 1).allowed);
    }

    #[test]
    fn state_round_trips_through_json() {
        let s = spec(5);
        let mut w = SlidingWindow::default();
        w.admit(&s, T0, 2);
        let json = serde_json::to_string(&w).unwrap();
        let back: SlidingWindow = serde_json::from_str(&json).unwrap();
        assert_eq!(back, w);
        let empty: SlidingWindow = serde_json::from_str("{}").unwrap();
        assert_eq!(empty, SlidingWindow::default());
    }
}
