//! Benchmark: the latency the rate limiter adds to a request. Starts two stacks in one run,
//! the same seed and workers, one with limits on (a budget so large nothing is refused) and
//! one with `RATE_LIMIT_ENABLED=false`, then sends the same `list_servers` requests to both,
//! alternating which goes first, and prints both distributions side by side. Then the same
//! with concurrent clients, for throughput.
//!
//! `cargo run -p integration --bin bench_ratelimit -- [requests] [concurrency]`
//! (scripts/bench-ratelimit.sh builds the workers first).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use integration::stack::Stack;
use serde_json::json;

const SEED: &str = "INSERT INTO teams (id, name, tier, rate_limit_per_hour) \
    VALUES ('bench', 'Bench', 'enterprise', 1000000000);";

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(300);
    let concurrency: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(8);

    eprintln!("starting the stack with limits on…");
    let limited = Stack::start(SEED);
    eprintln!("starting the stack with limits off…");
    let unlimited = Stack::start_with_vars(SEED, &[("RATE_LIMIT_ENABLED", "false")]);
    let stacks = [("limits on", &limited), ("limits off", &unlimited)];
    let tokens: Vec<String> = stacks
        .iter()
        .map(|(_, s)| s.token("bencher", "bench", "member"))
        .collect();
    let body = json!({"action": "list_servers"});

    let once = |which: usize| -> Duration {
        let started = Instant::now();
        let answer = stacks[which].1.call(&tokens[which], body.clone());
        let took = started.elapsed();
        assert_eq!(answer.status, 200, "{}", answer.text);
        assert_eq!(
            answer.header("ratelimit-limit").is_some(),
            which == 0,
            "headers only where limits are on"
        );
        took
    };

    // Warm up: worker isolates, the limiter object and its cached team row, KV.
    for _ in 0..30 {
        once(0);
        once(1);
    }

    let mut samples = [Vec::with_capacity(n), Vec::with_capacity(n)];
    for i in 0..n {
        let order = if i % 2 == 0 { [0, 1] } else { [1, 0] };
        for which in order {
            samples[which].push(once(which));
        }
    }
    println!("\nsequential, {n} list_servers each, interleaved (ms)");
    println!(
        "{:<12} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "", "mean", "p50", "p90", "p99", "min"
    );
    let stats: Vec<Stats> = samples.iter_mut().map(|s| Stats::of(s)).collect();
    for ((name, _), s) in stacks.iter().zip(&stats) {
        println!(
            "{name:<12} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
            s.mean, s.p50, s.p90, s.p99, s.min
        );
    }
    println!(
        "{:<12} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
        "added",
        stats[0].mean - stats[1].mean,
        stats[0].p50 - stats[1].p50,
        stats[0].p90 - stats[1].p90,
        stats[0].p99 - stats[1].p99,
        stats[0].min - stats[1].min
    );

    println!("\nconcurrent, {concurrency} clients, {n} list_servers per stack");
    for (which, (name, _)) in stacks.iter().enumerate() {
        let next = AtomicUsize::new(0);
        let all = Mutex::new(Vec::with_capacity(n));
        let started = Instant::now();
        std::thread::scope(|scope| {
            for _ in 0..concurrency {
                scope.spawn(|| {
                    while next.fetch_add(1, Ordering::SeqCst) < n {
                        let took = once(which);
                        all.lock().unwrap().push(took);
                    }
                });
            }
        });
        let wall = started.elapsed().as_secs_f64();
        let s = Stats::of(&mut all.into_inner().unwrap());
        println!(
            "{name:<12} {:>8.0} req/s   mean {:>7.2} ms   p50 {:>7.2} ms   p99 {:>7.2} ms",
            n as f64 / wall,
            s.mean,
            s.p50,
            s.p99
        );
    }
}

struct Stats {
    mean: f64,
    p50: f64,
    p90: f64,
    p99: f64,
    min: f64,
}

impl Stats {
    fn of(samples: &mut [Duration]) -> Stats {
        samples.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let at = |q: f64| ms(samples[((samples.len() - 1) as f64 * q).round() as usize]);
        Stats {
            mean: samples.iter().map(|d| ms(*d)).sum::<f64>() / samples.len() as f64,
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            min: ms(samples[0]),
        }
    }
}
