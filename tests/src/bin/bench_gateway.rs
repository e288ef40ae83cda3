//! Benchmark (issue 10): what the gateway costs, side by side with a baseline measured in the
//! same run. Everything on loopback under `wrangler dev`; run it through `scripts/bench.sh`,
//! which builds the workers in release mode first and records the machine.
//!
//! 1. `call_tool` overhead: the same `echo` on server-everything (Streamable HTTP) and on our
//!    Python SDK server, called (a) directly by a minimal client reusing a session (our MCP
//!    client, natively) and (b) through the gateway's `call_tool`; p50/p95/p99 and calls/s at
//!    concurrency 1 and 16, and the ratio.
//! 2. `list_tools` from KV and uncached, and `list_servers`; `/health` as the floor that
//!    `wrangler dev`'s local proxy adds to every request.
//! 3. Upstream requests per warm `call_tool`, counted at the servers (their request logs).
//! 4. Peak RSS of workerd during the run.
//!
//! `cargo run --release -p integration --bin bench_gateway -- [calls] [concurrent_calls]`

use std::sync::Mutex;
use std::time::{Duration, Instant};

use integration::stack::Stack;
use integration::{free_port, proc::Proc, servers};
use mcp_client::native_http::NativeHttp;
use mcp_client::{McpClient, ServerEndpoint, TransportPin};
use serde_json::{json, Map, Value};
use shared::cache::{CacheSessions, MemoryCache};

const SEED: &str = "INSERT INTO teams (id, name, tier, rate_limit_per_hour, user_calls_per_day) \
    VALUES ('bench', 'Bench', 'enterprise', 1000000000, 1000000000);";

fn main() {
    let mut args = std::env::args().skip(1);
    let calls: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(400);
    let concurrent_calls: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(800);

    let everything = servers::everything_streamable();
    let python = python_logged();
    let stack = Stack::start_with_vars(SEED, &[("RATE_LIMIT_ADMIN_PER_HOUR", "1000000")]);
    let admin = stack.token("bench-admin", "bench", "admin");
    let member = stack.token("bench-user", "bench", "member");

    let mut targets = Vec::new();
    for (name, url, requests_in_log) in [
        (
            "server-everything",
            everything.url.clone(),
            everything_posts as fn(&str) -> usize,
        ),
        (
            "python-sdk",
            python.1.clone(),
            python_posts as fn(&str) -> usize,
        ),
    ] {
        let created = stack.call(
            &admin,
            json!({"action": "create_server", "name": name, "server_type": "http",
                   "config": {"url": url, "transport": "streamable_http"}, "sync": true}),
        );
        assert_eq!(created.status, 201, "{}", created.text);
        let id = created.body["server"]["id"].as_str().unwrap().to_string();
        targets.push((name, url, id, requests_in_log));
    }

    println!("\n## call_tool overhead: echo, direct (our client, session reused) vs through the gateway\n");
    println!("| server | path | concurrency | calls | p50 ms | p95 ms | p99 ms | calls/s |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut ratios = Vec::new();
    for (name, url, id, _) in &targets {
        for concurrency in [1usize, 16] {
            let n = if concurrency == 1 {
                calls
            } else {
                concurrent_calls
            };
            let direct = run_threads(concurrency, n, |per_thread| direct_calls(url, per_thread));
            let body = json!({"action": "call_tool", "server_id": id, "tool_name": "echo",
                              "parameters": {"message": "bench"}});
            let gateway = run_threads(concurrency, n, |per_thread| {
                (0..per_thread)
                    .map(|_| {
                        timed(|| {
                            let a = stack.call(&member, body.clone());
                            assert_eq!(a.status, 200, "{}", a.text);
                        })
                    })
                    .collect()
            });
            row(name, "direct", concurrency, &direct);
            row(name, "gateway", concurrency, &gateway);
            ratios.push(format!(
                "{name} c={concurrency}: gateway/direct p50 {:.2}x, overhead p50 {:+.2} ms, throughput {:.2}x",
                pct(&gateway.0, 50.0) / pct(&direct.0, 50.0),
                pct(&gateway.0, 50.0) - pct(&direct.0, 50.0),
                gateway.1 / direct.1
            ));
        }
    }
    println!();
    for r in ratios {
        println!("- {r}");
    }

    println!("\n## Upstream requests per warm call_tool (counted in the servers' request logs)\n");
    for (name, _, id, count) in &targets {
        let log = |n: &str| {
            if n == "server-everything" {
                everything.proc.log_text()
            } else {
                python.0.log_text()
            }
        };
        let body = json!({"action": "call_tool", "server_id": id, "tool_name": "echo", "parameters": {"message": "count"}});
        assert_eq!(stack.call(&member, body.clone()).status, 200);
        let before = count(&log(name));
        let k = 50;
        for _ in 0..k {
            assert_eq!(stack.call(&member, body.clone()).status, 200);
        }
        let after = count(&log(name));
        println!(
            "- {name}: {} requests for {k} warm calls = {:.2} per call",
            after - before,
            (after - before) as f64 / k as f64
        );
    }

    println!("\n## list_tools, list_servers (through the gateway) and the local floor\n");
    println!("| request | calls | p50 ms | p95 ms | p99 ms |");
    println!("|---|---|---|---|---|");
    let (_, _, server_id, _) = &targets[0];
    let list_tools = json!({"action": "list_tools", "server_id": server_id});
    assert!(stack.call(&member, list_tools.clone()).body["cached"].is_boolean());
    let cached: Vec<Duration> = (0..calls)
        .map(|_| timed(|| assert_eq!(stack.call(&member, list_tools.clone()).body["cached"], true)))
        .collect();
    let tool_id = stack.call(&member, list_tools.clone()).body["tools"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let uncached: Vec<Duration> = (0..calls / 4)
        .map(|_| {
            // A policy write drops the cached list; only the read after it is timed.
            let a = stack.call(
                &admin,
                json!({"action": "update_tool", "tool_id": tool_id, "timeout_seconds": 30}),
            );
            assert_eq!(a.status, 200, "{}", a.text);
            timed(|| {
                assert_eq!(
                    stack.call(&member, list_tools.clone()).body["cached"],
                    false
                )
            })
        })
        .collect();
    let list_servers: Vec<Duration> = (0..calls)
        .map(|_| {
            timed(|| {
                assert_eq!(
                    stack
                        .call(&member, json!({"action": "list_servers"}))
                        .status,
                    200
                )
            })
        })
        .collect();
    let health: Vec<Duration> = (0..calls)
        .map(|_| timed(|| assert_eq!(stack.request("GET", "/health", None, None, &[]).status, 200)))
        .collect();
    for (what, samples) in [
        ("list_tools (KV hit)", &cached),
        ("list_tools (uncached: D1)", &uncached),
        ("list_servers", &list_servers),
        (
            "GET /health (gateway only, no auth: the local floor)",
            &health,
        ),
    ] {
        let mut s = samples.clone();
        s.sort();
        println!(
            "| {what} | {} | {:.2} | {:.2} | {:.2} |",
            s.len(),
            pct(&s, 50.0),
            pct(&s, 95.0),
            pct(&s, 99.0)
        );
    }
    println!(
        "\nGateway time of a cached list_tools above the floor: p50 {:+.2} ms",
        pct_sorted(&cached, 50.0) - pct_sorted(&health, 50.0)
    );

    println!("\n## Memory\n\n- workerd peak RSS (VmHWM, all workerd processes of the session): {:.1} MiB", workerd_peak_rss_kib() as f64 / 1024.0);
}

/// Runs `work(per_thread)` on `concurrency` threads; all samples sorted, and calls/s overall.
fn run_threads(
    concurrency: usize,
    total: usize,
    work: impl Fn(usize) -> Vec<Duration> + Sync,
) -> (Vec<Duration>, f64) {
    let per_thread = total.div_ceil(concurrency);
    let all = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..concurrency {
            s.spawn(|| {
                let samples = work(per_thread);
                all.lock().unwrap().extend(samples);
            });
        }
    });
    let elapsed = started.elapsed().as_secs_f64();
    let mut samples = all.into_inner().unwrap();
    samples.sort();
    let rate = samples.len() as f64 / elapsed;
    (samples, rate)
}

/// `per_thread` warm calls with our MCP client, one session reused (initialized before timing).
fn direct_calls(url: &str, per_thread: usize) -> Vec<Duration> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let http = NativeHttp::new();
        let cache = MemoryCache::new();
        let endpoint = ServerEndpoint {
            server_id: format!("bench-{}", free_port()),
            url: url.to_string(),
            headers: Vec::new(),
            transport: TransportPin::StreamableHttp,
        };
        let args: Map<String, Value> = json!({"message": "bench"}).as_object().unwrap().clone();
        McpClient::new(&http, CacheSessions(&cache), endpoint.clone())
            .call_tool("echo", args.clone(), 10_000)
            .await
            .unwrap();
        let mut samples = Vec::with_capacity(per_thread);
        for _ in 0..per_thread {
            let started = Instant::now();
            let client = McpClient::new(&http, CacheSessions(&cache), endpoint.clone());
            client
                .call_tool("echo", args.clone(), 10_000)
                .await
                .unwrap();
            samples.push(started.elapsed());
        }
        samples
    })
}

fn timed(f: impl FnOnce()) -> Duration {
    let started = Instant::now();
    f();
    started.elapsed()
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

fn pct_sorted(samples: &[Duration], p: f64) -> f64 {
    let mut s = samples.to_vec();
    s.sort();
    pct(&s, p)
}

fn row(server: &str, path: &str, concurrency: usize, (samples, rate): &(Vec<Duration>, f64)) {
    println!(
        "| {server} | {path} | {concurrency} | {} | {:.2} | {:.2} | {:.2} | {:.0} |",
        samples.len(),
        pct(samples, 50.0),
        pct(samples, 95.0),
        pct(samples, 99.0),
        rate
    );
}

/// The Python SDK server with its access log on (one line per request).
fn python_logged() -> (Proc, String) {
    let server = servers::python_script(
        "py-server-logged",
        "tests/bench/py_server_logged.py",
        &["--transport", "streamable-http"],
        free_port(),
        "/mcp",
    );
    (server.proc, server.url)
}

fn everything_posts(log: &str) -> usize {
    log.matches("Received MCP POST request").count()
}

fn python_posts(log: &str) -> usize {
    log.matches("\"POST /mcp HTTP/1.1\"").count()
}

/// Sum of the peak resident set of every workerd process on the machine (the session's).
fn workerd_peak_rss_kib() -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let path = entry.path();
        let is_workerd =
            std::fs::read_to_string(path.join("comm")).is_ok_and(|c| c.trim() == "workerd");
        if !is_workerd {
            continue;
        }
        if let Ok(status) = std::fs::read_to_string(path.join("status")) {
            total += status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    total
}
