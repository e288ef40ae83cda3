//! Latency samples: run work on N threads, percentiles, rates.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Sorted samples of one measurement and the overall rate (completed per second of wall time).
#[derive(Clone, Debug, Default)]
pub struct Samples {
    pub sorted: Vec<Duration>,
    pub per_sec: f64,
}

impl Samples {
    /// Samples taken one after another: the rate is their count over their summed time.
    pub fn sequential(mut samples: Vec<Duration>) -> Samples {
        samples.sort();
        let total: f64 = samples.iter().map(Duration::as_secs_f64).sum();
        let per_sec = if total > 0.0 {
            samples.len() as f64 / total
        } else {
            0.0
        };
        Samples {
            sorted: samples,
            per_sec,
        }
    }

    /// The `p`th percentile in milliseconds (nearest rank); NaN when empty.
    pub fn pct(&self, p: f64) -> f64 {
        pct(&self.sorted, p)
    }

    pub fn p50(&self) -> f64 {
        self.pct(50.0)
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }
}

/// Runs `work(thread_index, per_thread)` on `threads` threads at once; every sample, sorted,
/// and the completed count over the wall time from the first start to the last end.
pub fn run_threads(
    threads: usize,
    total: usize,
    work: impl Fn(usize, usize) -> Vec<Duration> + Sync,
) -> Samples {
    let per_thread = total.div_ceil(threads.max(1));
    let all = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let (all, work) = (&all, &work);
            s.spawn(move || {
                let samples = work(t, per_thread);
                all.lock().unwrap().extend(samples);
            });
        }
    });
    let elapsed = started.elapsed().as_secs_f64();
    let mut sorted = all.into_inner().unwrap();
    sorted.sort();
    let per_sec = sorted.len() as f64 / elapsed;
    Samples { sorted, per_sec }
}

pub fn timed(f: impl FnOnce()) -> Duration {
    let started = Instant::now();
    f();
    started.elapsed()
}

/// `n` sequential timings of `f`.
pub fn repeat(n: usize, mut f: impl FnMut()) -> Samples {
    Samples::sequential((0..n).map(|_| timed(&mut f)).collect())
}

/// The `p`th percentile of sorted samples in milliseconds (nearest rank); NaN when empty.
pub fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

/// The median of unsorted milliseconds; NaN when empty.
pub fn median_ms(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 - 1.0) * 0.5).round() as usize;
    v[i]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank_of_sorted_samples() {
        let s = Samples::sequential((1..=101).rev().map(Duration::from_millis).collect());
        assert_eq!(s.p50(), 51.0);
        assert_eq!(s.pct(99.0), 100.0);
        assert_eq!(s.pct(100.0), 101.0);
        assert!(Samples::default().p50().is_nan());
    }

    #[test]
    fn a_sequential_rate_is_the_count_over_the_summed_time() {
        let s = Samples::sequential(vec![Duration::from_millis(250); 8]);
        assert!((s.per_sec - 4.0).abs() < 1e-9);
    }

    #[test]
    fn the_median_of_milliseconds_sorts_first() {
        assert_eq!(median_ms(&[3.0, 1.0, 2.0]), 2.0);
        assert!(median_ms(&[]).is_nan());
    }
}
