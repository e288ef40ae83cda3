//! Benchmark client for scripts/bench-stdio-bridge.sh: one MCP client, many bridges.
//!
//! Each of `--sessions` workers opens its own Streamable HTTP session (initialize +
//! notifications/initialized), then makes `--calls` sequential `tools/call`s with unique ids;
//! prints one line: name, calls, errors, p50/p90/p99 latency (ms) and calls/second overall.
//! Replies may be JSON or SSE. Talks to loopback URLs only.
//!
//! usage: bench_client --name NAME --url URL [--header 'K: V']... [--sessions N] [--calls N]
//!        [--warmup N] [--tool echo] [--args '{"message":"hi"}']

use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Opts {
    name: String,
    url: String,
    headers: Vec<(String, String)>,
    sessions: usize,
    calls: usize,
    warmup: usize,
    tool: String,
    args: Value,
}

fn opts() -> Opts {
    let mut o = Opts {
        name: "bridge".into(),
        url: String::new(),
        headers: vec![],
        sessions: 1,
        calls: 200,
        warmup: 10,
        tool: "echo".into(),
        args: json!({"message": "hello"}),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut v = || it.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--name" => o.name = v(),
            "--url" => o.url = v(),
            "--header" => {
                let h = v();
                let (k, val) = h.split_once(':').expect("--header 'Name: value'");
                o.headers.push((k.trim().into(), val.trim().into()));
            }
            "--sessions" => o.sessions = v().parse().unwrap(),
            "--calls" => o.calls = v().parse().unwrap(),
            "--warmup" => o.warmup = v().parse().unwrap(),
            "--tool" => o.tool = v(),
            "--args" => o.args = serde_json::from_str(&v()).unwrap(),
            other => panic!("unknown argument {other}"),
        }
    }
    assert!(
        o.url.starts_with("http://127.0.0.1") || o.url.starts_with("http://localhost"),
        "loopback only"
    );
    o
}

struct Session {
    http: reqwest::Client,
    opts: Arc<Opts>,
    session: Option<String>,
}

impl Session {
    async fn post(&self, body: &Value) -> Result<(Option<String>, Vec<Value>), String> {
        let mut b = self
            .http
            .post(&self.opts.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18");
        for (k, v) in &self.opts.headers {
            b = b.header(k.as_str(), v.as_str());
        }
        if let Some(s) = &self.session {
            b = b.header("mcp-session-id", s);
        }
        let r = b
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = r.status();
        let session = r
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let sse = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("text/event-stream"));
        let text = r.text().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("HTTP {status}: {text}"));
        }
        let msgs = if sse {
            text.split("\n\n")
                .filter_map(|ev| {
                    let data: Vec<&str> = ev
                        .lines()
                        .filter_map(|l| l.strip_prefix("data:"))
                        .map(|d| d.trim_start())
                        .collect();
                    let joined = data.join("\n");
                    (!joined.trim().is_empty())
                        .then(|| serde_json::from_str(&joined).ok())
                        .flatten()
                })
                .collect()
        } else if text.trim().is_empty() {
            vec![]
        } else {
            vec![serde_json::from_str(&text).map_err(|e| e.to_string())?]
        };
        Ok((session, msgs))
    }

    async fn call(&self, id: u64) -> Result<(), String> {
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": self.opts.tool, "arguments": self.opts.args}});
        let (_, msgs) = self.post(&body).await?;
        let reply = msgs
            .iter()
            .find(|m| m["id"] == json!(id))
            .ok_or("no reply with our id")?;
        if reply.get("error").is_some() || reply["result"]["isError"] == json!(true) {
            return Err(format!("error reply: {reply}"));
        }
        Ok(())
    }
}

async fn worker(
    opts: Arc<Opts>,
    http: reqwest::Client,
    index: usize,
    barrier: Arc<tokio::sync::Barrier>,
) -> Result<(Vec<Duration>, usize), String> {
    let mut s = Session {
        http,
        opts: opts.clone(),
        session: None,
    };
    let ready = setup(&mut s, index).await;
    barrier.wait().await;
    ready?;
    let base = (index as u64 + 1) * 1_000_000;
    Ok(run(&s, &opts, base).await)
}

/// Opens the session and warms it up (the child starts here, outside the measurement).
async fn setup(s: &mut Session, index: usize) -> Result<(), String> {
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "bench-client", "version": "0"}}});
    let (session, _) = s.post(&init).await?;
    s.session = session;
    s.post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .await?;
    let base = (index as u64 + 1) * 1_000_000;
    for i in 0..s.opts.warmup {
        s.call(base + i as u64).await?;
    }
    Ok(())
}

async fn run(s: &Session, opts: &Opts, base: u64) -> (Vec<Duration>, usize) {
    let mut lat = Vec::with_capacity(opts.calls);
    let mut errors = 0;
    for i in 0..opts.calls {
        let t = Instant::now();
        match s.call(base + 500_000 + i as u64).await {
            Ok(()) => lat.push(t.elapsed()),
            Err(e) => {
                if errors == 0 {
                    eprintln!("{}: {e}", opts.name);
                }
                errors += 1;
            }
        }
    }
    (lat, errors)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let opts = Arc::new(opts());
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    // Sessions open and warm up first, then all measure together.
    let barrier = Arc::new(tokio::sync::Barrier::new(opts.sessions + 1));
    let tasks: Vec<_> = (0..opts.sessions)
        .map(|i| tokio::spawn(worker(opts.clone(), http.clone(), i, barrier.clone())))
        .collect();
    barrier.wait().await;
    let started = Instant::now();
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok((lat, e)) => {
                all.extend(lat);
                errors += e;
            }
            Err(e) => {
                eprintln!("{}: session failed: {e}", opts.name);
                errors += opts.calls;
            }
        }
    }
    let wall = started.elapsed().as_secs_f64();
    all.sort();
    let total_calls = all.len();
    println!(
        "{:<22} sessions={:<3} calls={:<5} errors={:<4} p50={:>7.2}ms p90={:>7.2}ms p99={:>7.2}ms  {:>8.1} calls/s",
        opts.name,
        opts.sessions,
        all.len(),
        errors,
        pct(&all, 0.50),
        pct(&all, 0.90),
        pct(&all, 0.99),
        total_calls as f64 / wall,
    );
}
