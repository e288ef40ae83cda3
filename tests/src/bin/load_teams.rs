//! Load script (issue 15, the local half of `docs/CAPACITY.md`): many teams calling at once
//! through the whole stack under `wrangler dev`, for a fixed time, with what the platform did
//! counted and printed beside the capacity model's prediction for the same load.
//!
//! Seeds N teams (each an admin, a member and its own registered server-everything), warms
//! each team once, then drives `callers` sequential callers per team for `seconds`. Counted
//! over the driven phase only: calls and calls/s (and latency), the `mcp_tool_executions`
//! rows added, and from the runtime's trace store (`bench::traces`) the D1 queries (reads,
//! writes, rows written as D1 bills them), KV reads and writes, Durable Object requests and
//! their SQL statements, Worker invocations; the CPU time of the session's workerd processes
//! (an upper bound of the workers' own: it includes the local D1/KV/DO simulation) and the
//! growth of the local D1 file per execution.
//!
//! `cargo run --release -p integration --bin load_teams -- [teams=32] [callers=4] [seconds=20]`
//! (`scripts/load-teams.sh` builds the workers first.)

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use integration::bench::model::{self, Target, Workload, TODAY};
use integration::bench::stats::Samples;
use integration::bench::teams::{self, echo_body, SeededTeam};
use integration::bench::traces::{self, Counts};
use integration::bench::workerd;
use integration::servers;
use integration::stack::{Stack, LEDGER_FLUSH_DELAY};

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse::<usize>().ok());
    let team_count = args.next().unwrap_or(32).max(1);
    let callers = args.next().unwrap_or(4).max(1);
    let seconds = args.next().unwrap_or(20).max(1);

    let everything = servers::everything_streamable();
    let checked_in_delay = shared::ledger::DEFAULT_FLUSH_DELAY_MS.to_string();
    let stack = Stack::start_traced(
        &teams::seed_sql("load", team_count),
        &[
            ("RATE_LIMIT_ADMIN_PER_HOUR", "1000000"),
            // The checked-in flush delay, not the tests' short one: D1's share is the point.
            (LEDGER_FLUSH_DELAY, &checked_in_delay),
        ],
    );
    eprintln!("registering server-everything for {team_count} teams…");
    let ids: Vec<String> = (0..team_count).map(|i| teams::team_id("load", i)).collect();
    let seeded: Vec<SeededTeam> =
        teams::register_many(&stack, &ids, "server-everything", &everything.url);
    for team in &seeded {
        let a = stack.call(&team.member, echo_body(&team.server_id, "warm"));
        assert_eq!(a.status, 200, "{}", a.text);
    }

    let pgid = stack.process_group();
    let store = traces::store(stack.state_dir());
    let d1_file = traces::d1_file(stack.state_dir());
    let before = Snapshot::take(&stack, store.as_deref(), d1_file.as_deref(), pgid);

    eprintln!("driving {team_count} teams × {callers} callers for {seconds} s…");
    let deadline = Instant::now() + Duration::from_secs(seconds as u64);
    let failures = AtomicU64::new(0);
    let samples = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..team_count * callers {
            let team = &seeded[t % team_count];
            let (failures, samples, stack) = (&failures, &samples, &stack);
            s.spawn(move || {
                let body = echo_body(&team.server_id, "load");
                let mut mine = Vec::new();
                while Instant::now() < deadline {
                    let at = Instant::now();
                    let a = stack.call(&team.member, body.clone());
                    if a.status == 200 {
                        mine.push(at.elapsed());
                    } else {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
                samples.lock().unwrap().extend(mine);
            });
        }
    });
    let elapsed = started.elapsed().as_secs_f64();
    // Executions reach D1 from the teams' ledgers in batches shortly after their calls.
    let ok = samples.lock().unwrap().len() as u64;
    await_executions(&stack, before.executions + ok);
    let after = Snapshot::take(&stack, store.as_deref(), d1_file.as_deref(), pgid);
    let mut latencies = samples.into_inner().unwrap();
    latencies.sort();
    let calls = latencies.len() as f64;
    let measured = Samples {
        sorted: latencies,
        per_sec: calls / elapsed,
    };

    println!("\n## Load: {team_count} teams × {callers} callers, {seconds} s (call_tool echo, server-everything)\n");
    println!(
        "- {} calls ok, {} refused or failed, in {elapsed:.1} s: **{:.0} calls/s** ({:.2} calls/s per team); latency p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms",
        measured.len(),
        failures.load(Ordering::Relaxed),
        measured.per_sec,
        measured.per_sec / team_count as f64,
        measured.p50(),
        measured.pct(95.0),
        measured.pct(99.0)
    );
    let executions = after.executions - before.executions;
    println!(
        "- executions rows added: {executions} ({:.2} per call)",
        executions as f64 / calls.max(1.0)
    );
    let cpu_ms = (after.workerd_cpu_ms - before.workerd_cpu_ms) as f64;
    println!(
        "- workerd CPU (the session's processes, user + system): {:.1} ms per call (upper bound: includes local D1/KV/DO)",
        cpu_ms / calls.max(1.0)
    );
    if let (Some(b), Some(a)) = (before.d1_bytes, after.d1_bytes) {
        println!(
            "- local D1 file grew {:.1} KiB: {:.0} bytes per execution (row and its indexes)",
            (a.saturating_sub(b)) as f64 / 1024.0,
            a.saturating_sub(b) as f64 / (executions.max(1) as f64)
        );
    }

    let team_rate = measured.per_sec / team_count as f64;
    let target = Target::DEFAULT.per_call(team_rate);
    println!("\n### Per call: measured vs the capacity model (docs/CAPACITY.md)\n");
    println!("| per call | D1 requests | D1 writing requests | D1 write statements | D1 rows written | KV reads | KV writes | DO requests | DO SQL statements | Worker invocations |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    match (&before.counts, &after.counts) {
        (Ok(b), Ok(a)) => {
            let c = a.since(b);
            let per = |n: u64| n as f64 / calls.max(1.0);
            println!(
                "| measured | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
                per(c.d1_queries),
                per(c.d1_write_queries),
                per(c.d1_write_statements),
                per(c.d1_rows_written),
                per(c.kv_reads),
                per(c.kv_writes),
                per(c.do_requests),
                per(c.do_sql_statements),
                per(c.invocations)
            );
        }
        (Err(why), _) | (_, Err(why)) => {
            println!("| measured | trace store: {why} | | | | | | | | |")
        }
    }
    for (name, m) in [
        ("model: before the ledger", TODAY),
        (
            "model: ledger + cached configuration, at this per-team rate",
            target,
        ),
    ] {
        println!(
            "| {name} | {:.2} | {:.2} | {:.2} | | {:.2} | {:.2} | {:.2} | | {:.2} |",
            m.d1_requests(),
            m.d1_write_requests,
            m.d1_write_statements,
            m.kv_reads,
            m.kv_writes,
            m.do_requests,
            m.invocations
        );
    }
    println!(
        "\nAt this load the model predicts {:.0} D1 requests/s before the ledger ({:.0}% of one database's ~{:.0}/s) and {:.0}/s with the ledger and cached call targets; one D1 database served the design before the ledger up to {:.0} calls/s.",
        measured.per_sec * TODAY.d1_requests(),
        100.0 * measured.per_sec * TODAY.d1_requests() / model::D1_REQUESTS_PER_SEC,
        model::D1_REQUESTS_PER_SEC,
        Target::DEFAULT.d1_requests_per_sec(measured.per_sec, team_count as f64),
        TODAY.d1_saturation_calls_per_sec(model::D1_REQUESTS_PER_SEC)
    );
    let w = Workload::PRODUCT;
    println!(
        "The product ({} teams × {} users × {} calls/day, peak {}×): {:.0} calls/s average, {:.0} at peak ({:.2} per team).",
        w.teams,
        w.users_per_team,
        w.calls_per_user_per_day,
        w.peak_factor,
        w.average_calls_per_sec(),
        w.peak_calls_per_sec(),
        w.peak_calls_per_sec_per_team()
    );
    println!(
        "At the product's peak one D1 database would take {:.0} requests/s before the ledger, {:.0} with the ledger flushed 200 ms after a call and call targets cached, {:.0} with the checked-in flush delay of {:.0} s (against ~{:.0}/s).",
        w.peak_calls_per_sec() * TODAY.d1_requests(),
        Target::SHORT_FLUSH.d1_requests_per_sec(w.peak_calls_per_sec(), w.teams),
        Target::DEFAULT.d1_requests_per_sec(w.peak_calls_per_sec(), w.teams),
        Target::DEFAULT.flush_secs,
        model::D1_REQUESTS_PER_SEC
    );
}

/// Counters read before and after the driven phase.
struct Snapshot {
    counts: Result<Counts, String>,
    executions: u64,
    d1_bytes: Option<u64>,
    workerd_cpu_ms: u64,
}

impl Snapshot {
    fn take(stack: &Stack, store: Option<&Path>, d1: Option<&Path>, pgid: u32) -> Snapshot {
        let counts = match store {
            Some(path) => traces::count_settled(path),
            None => Err("no trace store under the state directory".into()),
        };
        let executions = stack.d1("SELECT count(*) AS n FROM mcp_tool_executions")[0]["n"]
            .as_u64()
            .unwrap_or(0);
        Snapshot {
            counts,
            executions,
            d1_bytes: d1.and_then(sqlite_bytes),
            workerd_cpu_ms: workerd::cpu_ms(pgid),
        }
    }
}

/// Waits (30 s at most) until D1 holds `n` executions or their count stops growing.
fn await_executions(stack: &Stack, n: u64) {
    let count = || {
        stack.d1("SELECT count(*) AS n FROM mcp_tool_executions")[0]["n"]
            .as_u64()
            .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = count();
    while last < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        let now = count();
        if now == last && now > 0 {
            std::thread::sleep(Duration::from_millis(1500));
            if count() == now {
                return;
            }
        }
        last = now;
    }
}

/// Bytes in use by a SQLite database (its pages, the write-ahead log included).
fn sqlite_bytes(path: &Path) -> Option<u64> {
    let db =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .ok()?;
    db.query_row(
        "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
        [],
        |r| r.get::<_, i64>(0),
    )
    .ok()
    .map(|b| b as u64)
}
