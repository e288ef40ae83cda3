//! Resilience to failing servers, end to end: the real workers under `wrangler dev`, a real
//! misbehaving MCP server (`tests/servers/fault_server.py`, one path per failure mode), the
//! cron worker triggered as Cloudflare would. For every failure mode: what the PWA sees
//! (HTTP status and code), the execution row (final status, an error an admin can act on,
//! duration), what the server received (retries or not), and the server row after a cron
//! health check. Then the circuit breaker (open → fast refusal without a row → half-open probe
//! → closed; closed by a health check), and a load run of concurrent calls against a flaky
//! server that must leave exactly one final row per call.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use integration::free_port;
use integration::servers::{fault_server, fault_server_on, McpServer};
use integration::stack::{Answer, Stack};
use serde_json::{json, Value};

const SEED: &str = "INSERT INTO teams (id, name, tier, rate_limit_per_hour, user_calls_per_day) \
                    VALUES ('team-r', 'Resilience', 'enterprise', 100000, 100000);";
const HEALTH: &str = "*/5 * * * *";
/// `shared::breaker::FAILURE_THRESHOLD` and `COOLDOWN_MS`.
const BREAKER_THRESHOLD: usize = 5;
const BREAKER_COOLDOWN: Duration = Duration::from_secs(15);
const LOAD_CALLS: usize = 60;

/// What one call must have left behind.
struct Expect {
    what: &'static str,
    execution_id: String,
    status: &'static str,
    error_has: Vec<&'static str>,
    min_ms: u64,
    max_ms: u64,
}

struct World {
    stack: Stack,
    admin: String,
    member: String,
    fault: McpServer,
    servers: HashMap<&'static str, String>,
    expect: Vec<Expect>,
}

impl World {
    fn create(&mut self, label: &'static str, url: &str) {
        let answer = self.stack.call(
            &self.admin,
            json!({"action": "create_server", "name": label, "server_type": "http",
                   "config": {"url": url}, "sync": true}),
        );
        assert_eq!(answer.status, 201, "{}", answer.text);
        assert_eq!(
            answer.body["sync"]["success"], true,
            "{label}: {}",
            answer.text
        );
        let id = answer.body["server"]["id"].as_str().unwrap().to_string();
        self.servers.insert(label, id);
    }

    fn set_timeout(&self, label: &str, tool: &str, secs: u64) {
        let answer = self.stack.call(
            &self.admin,
            json!({"action": "update_tool", "server_id": self.servers[label], "tool_name": tool,
                   "timeout_seconds": secs}),
        );
        assert_eq!(answer.status, 200, "{}", answer.text);
    }

    fn call(&self, label: &str, tool: &str, params: Value) -> (Answer, Duration) {
        let started = Instant::now();
        let answer = self.stack.call(
            &self.member,
            json!({"action": "call_tool", "server_id": self.servers[label], "tool_name": tool,
                   "parameters": params}),
        );
        let took = started.elapsed();
        println!(
            "{label}/{tool}: {} in {took:?}: {}",
            answer.status,
            clip(&answer.text, 400)
        );
        (answer, took)
    }

    /// A call that must fail with this status and code, leaving a final row.
    #[allow(clippy::too_many_arguments)]
    fn fails(
        &mut self,
        what: &'static str,
        label: &str,
        tool: &str,
        status: u16,
        code: &str,
        row_status: &'static str,
        error_has: Vec<&'static str>,
        ms: (u64, u64),
    ) -> Answer {
        let (answer, _) = self.call(label, tool, json!({}));
        assert_eq!(answer.status, status, "{what}: {}", answer.text);
        assert_eq!(answer.body["code"], code, "{what}: {}", answer.text);
        let message = answer.body["message"].as_str().unwrap_or_default();
        for needle in &error_has {
            assert!(
                message.to_lowercase().contains(&needle.to_lowercase()),
                "{what}: '{needle}' not in the PWA's message: {message}"
            );
        }
        let execution_id = answer.body["details"]["execution_id"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: no execution id: {}", answer.text))
            .to_string();
        self.expect.push(Expect {
            what,
            execution_id,
            status: row_status,
            error_has,
            min_ms: ms.0,
            max_ms: ms.1,
        });
        answer
    }

    /// A call that must succeed, leaving a `success` row.
    fn succeeds(
        &mut self,
        what: &'static str,
        label: &str,
        tool: &str,
        params: Value,
        ms: (u64, u64),
    ) {
        let (answer, _) = self.call(label, tool, params);
        assert_eq!(answer.status, 200, "{what}: {}", answer.text);
        assert_eq!(answer.body["success"], true, "{what}: {}", answer.text);
        self.expect.push(Expect {
            what,
            execution_id: answer.body["execution_id"].as_str().unwrap().to_string(),
            status: "success",
            error_has: vec![],
            min_ms: ms.0,
            max_ms: ms.1,
        });
    }

    /// What the fault server received on `/mcp/<name>`.
    fn received(&self, name: &str, what: &str) -> u64 {
        let stats = get_json(&format!("{}/__stats", self.fault.url));
        stats[name][what].as_u64().unwrap_or(0)
    }
}

fn get_json(url: &str) -> Value {
    let mut r = ureq::get(url)
        .call()
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap()
}

fn clip(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

fn assert_circuit_open(answer: &Answer, took: Duration, what: &str) {
    assert_eq!(answer.status, 502, "{what}: {}", answer.text);
    assert_eq!(answer.body["code"], "upstream_error", "{what}");
    assert_eq!(
        answer.body["details"]["circuit_open"], true,
        "{what}: {}",
        answer.text
    );
    assert!(answer.body["details"]["execution_id"].is_null(), "no row");
    assert!(answer.body["details"]["retry_after_secs"].as_u64().unwrap() >= 1);
    let message = answer.body["message"].as_str().unwrap();
    assert!(message.contains("is failing"), "{message}");
    assert!(
        took < Duration::from_secs(1),
        "{what}: refused fast, took {took:?}"
    );
}

#[test]
fn failing_servers_get_retries_a_circuit_breaker_and_always_a_final_row() {
    let began = Instant::now();
    let fault = fault_server();
    // A server that will go down after it was synced (its session is cached by then).
    let doomed_port = free_port();
    let doomed = fault_server_on(doomed_port);
    let stack = Stack::start(SEED);
    let mut w = World {
        admin: stack.token("alice", "team-r", "admin"),
        member: stack.token("bob", "team-r", "member"),
        stack,
        servers: HashMap::new(),
        expect: Vec::new(),
        fault,
    };
    let base = w.fault.url.clone();
    w.create("down", &format!("{}/mcp/ok", doomed.url));
    for (label, path) in [
        ("drop", "/mcp/drop"),
        ("hang", "/mcp/hang"),
        ("slowsse", "/mcp/slowsse"),
        ("cut", "/mcp/cut"),
        ("html500", "/mcp/html500"),
        ("badjson", "/mcp/badjson"),
        ("huge", "/mcp/huge"),
        ("expire", "/mcp/expire"),
        ("ratelimit", "/mcp/ratelimit?retry_after=1"),
        ("ratelimit_long", "/mcp/ratelimit/long?retry_after=120"),
        ("unavailable", "/mcp/unavailable?fail=2"),
        ("origin_down", "/mcp/origin_down?fail=2"),
        ("flaky", "/mcp/flaky"),
    ] {
        w.create(label, &format!("{base}{path}"));
    }
    w.set_timeout("hang", "act", 3);
    w.set_timeout("slowsse", "read", 3);
    println!("setup done after {:?}", began.elapsed());

    // Down (connection refused, the session cached from the sync): workerd reports a refused
    // connection like one lost after the request went out ("Network connection lost."), so
    // the non-idempotent tool is not retried (the safe side) and the read-only one is, with
    // backoff, up to the attempt cap. K consecutive faults open the breaker, which then
    // refuses at once, without a row.
    drop(doomed);
    w.fails(
        "down: act, connection refused",
        "down",
        "act",
        502,
        "upstream_error",
        "error",
        vec![
            "network connection lost",
            "not retried",
            "may have reached the server",
        ],
        (0, 5_000),
    );
    w.fails(
        "down: read, connection refused",
        "down",
        "read",
        502,
        "upstream_error",
        "error",
        vec!["network connection lost", "gave up after 4 attempts"],
        (100, 10_000),
    );
    for _ in 2..BREAKER_THRESHOLD {
        w.fails(
            "down: towards the breaker",
            "down",
            "act",
            502,
            "upstream_error",
            "error",
            vec!["network connection lost"],
            (0, 5_000),
        );
    }
    let breaker_opened = Instant::now();
    let (refused, took) = w.call("down", "act", json!({}));
    assert_circuit_open(&refused, took, "down, breaker open");
    assert!(refused.body["message"]
        .as_str()
        .unwrap()
        .contains("last 5 calls failed"));

    // Refusing (the connection is dropped after the request went out): the non-idempotent
    // tool is not retried, the read-only one is, up to the attempt cap.
    w.fails(
        "drop: act not retried",
        "drop",
        "act",
        502,
        "upstream_error",
        "error",
        vec!["not retried", "may have reached the server"],
        (0, 5_000),
    );
    assert_eq!(w.received("drop", "tools/call:act"), 1, "act sent once");
    w.fails(
        "drop: read retried",
        "drop",
        "read",
        502,
        "upstream_error",
        "error",
        vec!["gave up after 4 attempts"],
        (100, 10_000),
    );
    assert_eq!(
        w.received("drop", "tools/call:read"),
        4,
        "read retried 3 times"
    );

    // Hanging past the tool's timeout (3 s): 504, a `timeout` row, the request cancelled.
    w.fails(
        "hang: timeout",
        "hang",
        "act",
        504,
        "timeout",
        "timeout",
        vec!["did not answer within 3000 ms"],
        (3_000, 8_000),
    );
    assert_eq!(
        w.received("hang", "tools/call"),
        1,
        "a timeout is not retried"
    );
    assert_eq!(
        w.received("hang", "notifications/cancelled"),
        1,
        "the server is told"
    );

    // Slow SSE: progress events keep coming; within the budget it is a success, beyond it a
    // timeout (a read-only tool, still not retried: the budget is spent).
    w.succeeds(
        "slowsse: within the timeout",
        "slowsse",
        "act",
        json!({"seconds": 1}),
        (900, 10_000),
    );
    let (slow, _) = w.call("slowsse", "read", json!({"seconds": 10}));
    assert_eq!(slow.status, 504, "{}", slow.text);
    assert_eq!(slow.body["code"], "timeout");
    w.expect.push(Expect {
        what: "slowsse: past the timeout",
        execution_id: slow.body["details"]["execution_id"]
            .as_str()
            .unwrap()
            .into(),
        status: "timeout",
        error_has: vec!["did not answer within 3000 ms"],
        min_ms: 3_000,
        max_ms: 8_000,
    });

    // Stream cut mid-reply: not retried for act (it reached the server), retried for read.
    w.fails(
        "cut: act",
        "cut",
        "act",
        502,
        "upstream_error",
        "error",
        vec!["not retried"],
        (0, 5_000),
    );
    assert_eq!(w.received("cut", "tools/call:act"), 1);
    w.fails(
        "cut: read",
        "cut",
        "read",
        502,
        "upstream_error",
        "error",
        vec!["gave up after 4 attempts"],
        (100, 10_000),
    );
    assert_eq!(w.received("cut", "tools/call:read"), 4);

    // An HTML 500 page, invalid JSON, an oversized reply: permanent, not retried, readable.
    w.fails(
        "html500",
        "html500",
        "act",
        502,
        "upstream_error",
        "error",
        vec!["HTTP 500", "Internal Server Error"],
        (0, 5_000),
    );
    w.fails(
        "badjson",
        "badjson",
        "read",
        502,
        "upstream_error",
        "error",
        vec!["JSON"],
        (0, 5_000),
    );
    assert_eq!(w.received("badjson", "tools/call:read"), 1, "not transient");
    w.fails(
        "huge",
        "huge",
        "read",
        502,
        "upstream_error",
        "error",
        vec!["limit"],
        (0, 10_000),
    );
    assert_eq!(w.received("huge", "tools/call:read"), 1, "not transient");

    // Session expired (404 on the cached session): re-initialized once, the call succeeds.
    w.succeeds("expire: first call", "expire", "act", json!({}), (0, 5_000));
    w.succeeds(
        "expire: session lost, recovered",
        "expire",
        "act",
        json!({}),
        (0, 5_000),
    );
    assert_eq!(w.received("expire", "session_lost"), 1);
    assert_eq!(
        w.received("expire", "tools/call"),
        3,
        "the one refused for its lost session + 2"
    );

    // 429 with Retry-After: the non-idempotent tool is not retried and the PWA is told when
    // the server wants to be asked again; the read-only one waits that long and succeeds.
    w.fails(
        "ratelimit: act",
        "ratelimit",
        "act",
        502,
        "upstream_error",
        "error",
        vec!["HTTP 429", "retried after 1 s", "not retried"],
        (0, 5_000),
    );
    w.succeeds(
        "ratelimit: read waits Retry-After",
        "ratelimit",
        "read",
        json!({}),
        (1_000, 10_000),
    );
    assert_eq!(w.received("ratelimit", "tools/call:read"), 2);
    // A Retry-After beyond the time budget: no wait, the PWA is told at once.
    w.fails(
        "ratelimit: Retry-After beyond the budget",
        "ratelimit_long",
        "read",
        502,
        "upstream_error",
        "error",
        vec![
            "HTTP 429",
            "retried after 120 s",
            "would exceed the tool's time budget",
        ],
        (0, 5_000),
    );
    assert_eq!(w.received("ratelimit/long", "tools/call:read"), 1);

    // 503 twice: act is not retried; read is retried with backoff and succeeds on the third.
    w.fails(
        "unavailable: act",
        "unavailable",
        "act",
        502,
        "upstream_error",
        "error",
        vec!["HTTP 503", "not retried"],
        (0, 5_000),
    );
    w.succeeds(
        "unavailable: read retried",
        "unavailable",
        "read",
        json!({}),
        (100, 10_000),
    );
    assert_eq!(w.received("unavailable", "tools/call:read"), 3);
    // Cloudflare's edge could not connect to the origin (521): nothing reached the server,
    // so even the non-idempotent tool is retried, and succeeds on the third attempt.
    w.succeeds(
        "origin_down: act retried",
        "origin_down",
        "act",
        json!({}),
        (100, 10_000),
    );
    assert_eq!(w.received("origin_down", "tools/call:act"), 3);
    println!("failure modes done after {:?}", began.elapsed());

    // The breaker of html500 (one fault so far): K-1 more faults open it.
    for _ in 1..BREAKER_THRESHOLD {
        w.fails(
            "html500: towards the breaker",
            "html500",
            "act",
            502,
            "upstream_error",
            "error",
            vec!["HTTP 500"],
            (0, 5_000),
        );
    }
    let (refused, took) = w.call("html500", "act", json!({}));
    assert_circuit_open(&refused, took, "html500, breaker open");
    let html500_calls = w.received("html500", "tools/call");

    // Load: concurrent calls against a flaky server; exactly one final row per call.
    let load = load_run(&w);
    println!("load run done after {:?}", began.elapsed());

    // Cron: badjson now also fails its health checks; everything else answers pings.
    ureq::post(format!("{base}/__scope?mode=badjson&scope=all"))
        .send_empty()
        .unwrap();
    let cron = w.stack.cron_runner();
    assert_eq!(cron.trigger(HEALTH), 200);
    println!("cron done after {:?}", began.elapsed());

    // The html500 breaker was closed by its successful health check: calls go upstream again.
    w.fails(
        "html500: after the health check closed the breaker",
        "html500",
        "act",
        502,
        "upstream_error",
        "error",
        vec!["HTTP 500"],
        (0, 5_000),
    );
    assert_eq!(w.received("html500", "tools/call"), html500_calls + 1);

    // The dead server comes back; once the cool-down is over the next call is the half-open
    // probe, it succeeds and closes the breaker.
    let revived = fault_server_on(doomed_port);
    if let Some(rest) = BREAKER_COOLDOWN.checked_sub(breaker_opened.elapsed()) {
        std::thread::sleep(rest + Duration::from_millis(500));
    }
    w.succeeds(
        "down: half-open probe",
        "down",
        "act",
        json!({}),
        (0, 5_000),
    );
    w.succeeds("down: closed again", "down", "act", json!({}), (0, 5_000));
    drop(revived);

    // Every call that started left exactly one final row, with what an admin needs.
    let rows: HashMap<String, Value> = w
        .stack
        .d1("SELECT id, status, error, duration_ms, completed_at FROM mcp_tool_executions")
        .into_iter()
        .map(|r| (r["id"].as_str().unwrap().to_string(), r))
        .collect();
    for e in &w.expect {
        let row = rows
            .get(&e.execution_id)
            .unwrap_or_else(|| panic!("{}: no row {}", e.what, e.execution_id));
        assert_eq!(row["status"], e.status, "{}: {row}", e.what);
        assert!(row["completed_at"].is_string(), "{}: {row}", e.what);
        let ms = row["duration_ms"].as_u64().unwrap();
        assert!(
            (e.min_ms..=e.max_ms).contains(&ms),
            "{}: duration {ms} ms not in {}..={}",
            e.what,
            e.min_ms,
            e.max_ms
        );
        let error = row["error"].as_str().unwrap_or_default();
        for needle in &e.error_has {
            assert!(
                error.to_lowercase().contains(&needle.to_lowercase()),
                "{}: '{needle}' not in the row's error: {error}",
                e.what
            );
        }
        if e.status == "success" {
            assert!(row["error"].is_null(), "{}: {row}", e.what);
        }
    }
    let load_rows: Vec<&Value> = load
        .iter()
        .map(|(id, _)| rows.get(id).unwrap_or_else(|| panic!("load: no row {id}")))
        .collect();
    for ((_, answered), row) in load.iter().zip(&load_rows) {
        assert_eq!(row["status"], *answered, "load: {row}");
        assert!(row["duration_ms"].is_u64() && row["completed_at"].is_string());
    }
    assert_eq!(
        rows.len(),
        w.expect.len() + load.len(),
        "one row per started call and none for refusals"
    );
    assert!(
        rows.values().all(|r| r["status"] != "pending"),
        "nothing left pending"
    );

    // Server rows after the cron health check.
    let servers: HashMap<String, Value> = w
        .stack
        .d1("SELECT name, connection_status, consecutive_failures, last_error FROM mcp_servers")
        .into_iter()
        .map(|r| (r["name"].as_str().unwrap().to_string(), r))
        .collect();
    for (name, row) in &servers {
        println!("server {name}: {row}");
        match name.as_str() {
            // Down at check time: one failure counted (three make it `error`).
            "down" => {
                assert_eq!(row["consecutive_failures"], 1, "{row}");
                assert!(
                    row["last_error"]
                        .as_str()
                        .unwrap()
                        .to_lowercase()
                        .contains("connect"),
                    "{row}"
                );
            }
            // Garbage on every request now: the check fails with the same readable error.
            "badjson" => {
                assert_eq!(row["consecutive_failures"], 1, "{row}");
                assert!(
                    row["last_error"].as_str().unwrap().contains("JSON"),
                    "{row}"
                );
            }
            // Misbehaving on tools/call only: pings answer, the server stays routable.
            _ => {
                assert_eq!(row["connection_status"], "connected", "{name}: {row}");
                assert_eq!(row["consecutive_failures"], 0, "{name}: {row}");
            }
        }
    }
    println!("total {:?}", began.elapsed());
}

/// [`LOAD_CALLS`] concurrent calls of the non-idempotent tool on `/mcp/flaky` (every 5th
/// request 503, every 7th from the 3rd a cut reply). Answers its (execution id, row status).
fn load_run(w: &World) -> Vec<(String, &'static str)> {
    let server_id = w.servers["flaky"].clone();
    let answers: Vec<Answer> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..LOAD_CALLS)
            .map(|i| {
                let (stack, member, server_id) = (&w.stack, &w.member, &server_id);
                scope.spawn(move || {
                    stack.call(
                        member,
                        json!({"action": "call_tool", "server_id": server_id, "tool_name": "act",
                               "parameters": {"seconds": i}}),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut out = Vec::new();
    let (mut ok, mut failed) = (0, 0);
    for a in &answers {
        match a.status {
            200 => {
                assert_eq!(a.body["success"], true, "{}", a.text);
                ok += 1;
                out.push((
                    a.body["execution_id"].as_str().unwrap().to_string(),
                    "success",
                ));
            }
            502 => {
                assert_eq!(a.body["code"], "upstream_error", "{}", a.text);
                assert!(
                    a.body["details"]["circuit_open"].is_null(),
                    "the breaker stays closed: no 5 faults in a row: {}",
                    a.text
                );
                failed += 1;
                let id = a.body["details"]["execution_id"].as_str().unwrap();
                out.push((id.to_string(), "error"));
            }
            other => panic!("load: unexpected {other}: {}", a.text),
        }
    }
    let sent = w.received("flaky", "tools/call");
    println!("load: {LOAD_CALLS} calls, {ok} succeeded, {failed} failed; the server saw {sent} tools/call");
    assert_eq!(sent, LOAD_CALLS as u64, "act is never retried once sent");
    // Arrival numbers 1..=60: 12 multiples of 5, and 7 more of the form 7k+3.
    assert_eq!((ok, failed), (41, 19));
    out
}
