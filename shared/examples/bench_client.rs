//! Benchmark client for `scripts/bench-mcp-client.sh`: N sequential warm `tools/call echo`
//! with mcp-edge's MCP client over [`NativeHttp`], each from a new `McpClient` sharing only the
//! cache (as worker invocations do). Prints one `key=value` line.
//!
//! ```text
//! cargo run --release -p shared --features native --example bench_client -- \
//!     <url> <n> [--pin auto|streamable_http|stateless] [--server-log FILE --log-pattern TEXT]
//! ```
//!
//! With `--server-log`, the lines of FILE containing TEXT are counted before and after the
//! measured loop, so requests per call are also counted at the server. Loopback use only; the
//! loop is bounded by `n` (at most 100 000) and each call by a 10 s timeout.

use std::time::{Duration, Instant};

use mcp_client::native_http::NativeHttp;
use mcp_client::{McpClient, ServerEndpoint, TransportPin};
use serde_json::{json, Map, Value};
use shared::cache::{CacheSessions, MemoryCache};

const CALL_TIMEOUT_MS: u64 = 10_000;
const MAX_N: usize = 100_000;

fn usage() -> ! {
    eprintln!(
        "usage: bench_client <url> <n> [--pin auto|streamable_http|stateless] [--server-log FILE --log-pattern TEXT]"
    );
    std::process::exit(2)
}

fn count_lines(path: &str, pattern: &str) -> usize {
    std::fs::read_to_string(path)
        .map(|s| s.lines().filter(|l| l.contains(pattern)).count())
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1000.0
}

/// One warm-or-cold call from a new client (a worker invocation); its upstream request count.
async fn call(http: &NativeHttp, cache: &MemoryCache, endpoint: &ServerEndpoint, i: usize) -> u32 {
    let c = McpClient::new(http, CacheSessions(cache), endpoint.clone());
    let mut arguments = Map::new();
    arguments.insert("message".into(), json!(format!("bench {i}")));
    c.call_tool("echo", arguments, CALL_TIMEOUT_MS)
        .await
        .unwrap_or_else(|e| panic!("call {i} failed: {e}"));
    c.upstream_requests()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(n)) = (args.next(), args.next()) else {
        usage()
    };
    let n: usize = n.parse().unwrap_or_else(|_| usage());
    if n == 0 || n > MAX_N {
        usage()
    }
    let (mut pin, mut log, mut pattern) = (TransportPin::Auto, None, None);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--pin" => {
                pin = serde_json::from_value(Value::String(value)).unwrap_or_else(|_| usage())
            }
            "--server-log" => log = Some(value),
            "--log-pattern" => pattern = Some(value),
            _ => usage(),
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    rt.block_on(async {
        let (http, cache) = (NativeHttp::new(), MemoryCache::new());
        let endpoint = ServerEndpoint {
            server_id: "bench".into(),
            url,
            headers: Vec::new(),
            transport: pin,
        };
        // Cold: detection / initialize, then the session is cached.
        let cold = call(&http, &cache, &endpoint, 0).await;
        let server_before = match (&log, &pattern) {
            (Some(f), Some(p)) => Some(count_lines(f, p)),
            _ => None,
        };
        let mut times = Vec::with_capacity(n);
        let mut requests = 0u64;
        let start = Instant::now();
        for i in 1..=n {
            let t = Instant::now();
            requests += u64::from(call(&http, &cache, &endpoint, i).await);
            times.push(t.elapsed());
        }
        let total = start.elapsed();
        // The server logs a request when it arrives, before answering: nothing is pending here.
        let server_per_call = match (server_before, &log, &pattern) {
            (Some(before), Some(f), Some(p)) => {
                format!("{:.3}", (count_lines(f, p) - before) as f64 / n as f64)
            }
            _ => "n/a".into(),
        };
        times.sort();
        println!(
            "client=mcp-edge n={n} cold_requests={cold} warm_requests_per_call_client={:.3} warm_requests_per_call_server={server_per_call} p50_ms={:.3} p95_ms={:.3} p99_ms={:.3} calls_per_s={:.1}",
            requests as f64 / n as f64,
            percentile(&times, 0.50),
            percentile(&times, 0.95),
            percentile(&times, 0.99),
            n as f64 / total.as_secs_f64()
        );
    });
}
