//! Issue 15 end to end under `wrangler dev`: the hot path of `call_tool`.
//! - A warm call reads no configuration from D1: its target (server, tool, credential, policy)
//!   comes from the isolate's cache under the team's configuration version. Proof: a change
//!   made behind the API's back (SQL on D1) is not seen until `refresh_config`, while the
//!   same change through the API (`update_tool`) applies to the very next call.
//! - Every call is recorded in the team's Durable Object ledger and reaches D1 exactly once,
//!   in batches (`ledger_flushes`: how many calls each D1 transaction carried), with the
//!   tool's statistics equal to the calls made. With the checked-in flush delay (a minute;
//!   this test waits longer than any test runs) the calls stay in the object until someone
//!   reads executions, which flushes first, or until `MAX_BATCH` calls have ended.
//! - Every answer says where its time went (`Server-Timing`, the action's stages prefixed `a-`,
//!   the action shell's own work apart from the hop as `a-shell`); the circuit breaker's
//!   verdict travels with the ledger's start (no stage of its own).
//! - The team's gate writes an admitted call's `pending` record in the same request that admits
//!   it (`shared::ledger::reservation`): while a call runs upstream, the team object's ledger
//!   holds its record as the gate reserved it (call_tool stored nothing more), and its end
//!   completes it (input, tool) on its way to D1; a call refused after the gate leaves no
//!   record behind.
//! - `list_tools` is answered from the gateway isolate's memory while the team's configuration
//!   version holds (no forward, still rate-limited), never across teams, and not after a change.

use std::collections::BTreeSet;

use integration::objects::{ledger_rows, LedgerRow};
use integration::servers::python_streamable;
use integration::stack::{Answer, Stack, LEDGER_FLUSH_DELAY};
use serde_json::{json, Value};
use shared::ledger::MAX_BATCH;

const SEED: &str =
    "INSERT INTO teams (id, name) VALUES ('team-h', 'Team H'), ('team-o', 'Team O');";

fn echo(stack: &Stack, token: &str, server_id: &str, message: &str) -> Answer {
    stack.call(
        token,
        json!({"action": "call_tool", "server_id": server_id, "tool_name": "echo",
               "parameters": {"message": message}}),
    )
}

fn admin_ok(stack: &Stack, token: &str, body: Value) -> Answer {
    let answer = stack.call(token, body);
    assert!(answer.status < 300, "{}", answer.text);
    answer
}

#[test]
fn call_tool_serves_cached_targets_records_in_the_ledger_and_reports_its_stages() {
    let python = python_streamable();
    let stack = Stack::start_with_vars(
        SEED,
        &[
            (LEDGER_FLUSH_DELAY, "600000"),
            // A full batch of calls on top of the rest: past a free team's hourly budget.
            ("RATE_LIMIT_FREE_PER_HOUR", "1000"),
        ],
    );
    let admin = stack.token("hana", "team-h", "admin");
    let member = stack.token("hugo", "team-h", "member");
    let created = admin_ok(
        &stack,
        &admin,
        json!({"action": "create_server", "name": "py", "server_type": "http",
               "config": {"url": python.url}, "sync": true}),
    );
    let server_id = created.body["server"]["id"].as_str().unwrap().to_string();

    // Stages: the gateway's own, then the action's, each a well-formed `name;dur=ms`.
    let warm = echo(&stack, &member, &server_id, "warm");
    assert_eq!(warm.status, 200, "{}", warm.text);
    let timing = warm
        .header("server-timing")
        .expect("a Server-Timing header");
    let stages: BTreeSet<&str> = timing
        .split(", ")
        .map(|entry| {
            let (name, dur) = entry
                .split_once(";dur=")
                .unwrap_or_else(|| panic!("{timing}"));
            assert!(dur.parse::<f64>().is_ok_and(|d| d >= 0.0), "{timing}");
            name
        })
        .collect();
    for stage in [
        "auth",
        "gate",
        "forward",
        "total",
        "a-shell",
        "a-config",
        "a-start",
        "a-upstream",
        "a-finish",
    ] {
        assert!(stages.contains(stage), "{stage} missing from {timing}");
    }
    assert!(
        !stages.contains("a-breaker"),
        "the breaker is decided in the ledger's start: {timing}"
    );

    // Behind the API's back: the cached target still serves (no configuration read) …
    stack.d1_exec(&format!(
        "UPDATE mcp_tools SET is_enabled = 0 WHERE server_id = '{server_id}' AND tool_name = 'echo'"
    ));
    let stale = echo(&stack, &member, &server_id, "cached");
    assert_eq!(
        stale.status, 200,
        "served from the cached target: {}",
        stale.text
    );
    // … until an admin says the configuration changed.
    admin_ok(&stack, &admin, json!({"action": "refresh_config"}));
    let refused = echo(&stack, &member, &server_id, "refused");
    assert_eq!(refused.status, 403, "{}", refused.text);

    // Through the API, a change applies to the very next call, both ways.
    let policy = |enabled: bool| {
        admin_ok(
            &stack,
            &admin,
            json!({"action": "update_tool", "server_id": server_id, "tool_name": "echo",
                   "is_enabled": enabled}),
        );
    };
    policy(true);
    let mut ids = vec![
        warm.body["execution_id"].as_str().unwrap().to_string(),
        stale.body["execution_id"].as_str().unwrap().to_string(),
    ];
    for i in 0..12 {
        let answer = echo(&stack, &member, &server_id, &format!("m{i}"));
        assert_eq!(answer.status, 200, "{}", answer.text);
        ids.push(answer.body["execution_id"].as_str().unwrap().to_string());
    }
    policy(false);
    let disabled = echo(&stack, &member, &server_id, "off");
    assert_eq!(disabled.status, 403, "{}", disabled.text);

    // The ledger holds the calls: fewer than a batch ended and the delay is far off …
    let list = ids
        .iter()
        .map(|id| format!("'{id}'"))
        .collect::<Vec<_>>()
        .join(",");
    let in_d1 = format!("SELECT id, status FROM mcp_tool_executions WHERE id IN ({list})");
    assert_eq!(
        stack.d1(&in_d1),
        Vec::<Value>::new(),
        "flushed before a read"
    );
    // … until the member reads their executions: the read flushes first (the last call's end
    // reaches the object just after its reply, so the read is repeated until it shows).
    let listed = |a: &Answer| -> BTreeSet<String> {
        a.body["executions"]
            .as_array()
            .unwrap_or_else(|| panic!("{}", a.text))
            .iter()
            .filter_map(|e| e["id"].as_str().map(str::to_string))
            .collect()
    };
    let wanted: BTreeSet<String> = ids.iter().cloned().collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let read = stack.call(&member, json!({"action": "list_executions", "limit": 200}));
        assert_eq!(read.status, 200, "{}", read.text);
        if wanted.is_subset(&listed(&read)) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the read never showed every call: {}",
            read.text
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // Every call once in D1, final; the batches carried every call exactly once (how many
    // batches depends on timing and is only reported).
    let rows = stack.d1(&in_d1);
    assert_eq!(rows.len(), ids.len(), "{rows:?}");
    assert!(rows.iter().all(|r| r["status"] == "success"), "{rows:?}");
    let flushes = &stack.d1(
        "SELECT count(*) AS batches, sum(executions) AS executions FROM ledger_flushes WHERE team_id = 'team-h'",
    )[0];
    assert_eq!(
        flushes["executions"].as_u64(),
        Some(ids.len() as u64),
        "{flushes}"
    );
    eprintln!(
        "{} calls reached D1 in {} transactions",
        ids.len(),
        flushes["batches"]
    );
    let stats = &stack.d1(&format!(
        "SELECT execution_count, success_count FROM mcp_tools WHERE server_id = '{server_id}' AND tool_name = 'echo'"
    ))[0];
    assert_eq!(
        stats["execution_count"].as_u64(),
        Some(ids.len() as u64),
        "{stats}"
    );
    assert_eq!(
        stats["success_count"].as_u64(),
        Some(ids.len() as u64),
        "{stats}"
    );

    // A full batch is flushed without a reader and without waiting out the delay.
    policy(true);
    let batch: Vec<String> = (0..MAX_BATCH)
        .map(|i| {
            let answer = echo(&stack, &member, &server_id, &format!("b{i}"));
            assert_eq!(answer.status, 200, "{}", answer.text);
            answer.body["execution_id"].as_str().unwrap().to_string()
        })
        .collect();
    let list = batch
        .iter()
        .map(|id| format!("'{id}'"))
        .collect::<Vec<_>>()
        .join(",");
    stack.await_rows(
        &format!("SELECT id FROM mcp_tool_executions WHERE id IN ({list})"),
        MAX_BATCH,
    );
}

/// How long the `sleep` call runs upstream: long enough to look at the ledger meanwhile.
const SLEEP_SECS: u64 = 3;

/// The team objects' ledger rows once `pick` finds one (or panics with what it saw after 20 s).
fn await_ledger_row(stack: &Stack, what: &str, pick: impl Fn(&LedgerRow) -> bool) -> LedgerRow {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let rows = ledger_rows(stack.state_dir());
        if let Some(row) = rows.iter().find(|r| pick(r)) {
            return row.clone();
        }
        assert!(std::time::Instant::now() < deadline, "{what}: {rows:?}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn the_gate_writes_the_pending_record_before_call_tool_runs_and_the_end_completes_it() {
    let python = python_streamable();
    let stack = Stack::start(SEED);
    let admin = stack.token("hana", "team-h", "admin");
    let member = stack.token("hugo", "team-h", "member");
    let created = admin_ok(
        &stack,
        &admin,
        json!({"action": "create_server", "name": "py", "server_type": "http",
               "config": {"url": python.url}, "sync": true}),
    );
    let server_id = created.body["server"]["id"].as_str().unwrap().to_string();

    let call = json!({"action": "call_tool", "server_id": server_id, "tool_name": "sleep",
                      "parameters": {"seconds": SLEEP_SECS}});
    let answer = std::thread::scope(|scope| {
        let running = scope.spawn(|| stack.call(&member, call.clone()));
        // While it sleeps upstream: its record is in the ledger, running, and still the
        // reservation the gate wrote (no `start` of call_tool's replaced it).
        let row = await_ledger_row(&stack, "the running call's record", |r| {
            r.record["tool_name"] == "sleep" && !r.ended
        });
        assert!(row.reserved, "written by the gate: {row:?}");
        assert_eq!(row.record["server_id"], server_id.as_str(), "{row:?}");
        assert_eq!(row.record["user_id"], "hugo", "{row:?}");
        let answer = running.join().expect("the call's thread");
        assert_eq!(
            answer.body["execution_id"],
            row.id.as_str(),
            "{}",
            answer.text
        );
        assert_eq!(
            answer.header("x-request-id"),
            row.record["request_id"].as_str(),
            "the gate reserved it for this very request"
        );
        answer
    });
    assert_eq!(answer.status, 200, "{}", answer.text);
    let id = answer.body["execution_id"].as_str().unwrap();

    // Its end completed the record: D1 gets the input and the tool, once.
    let row = &stack.await_rows(
        &format!(
            "SELECT status, input, tool_id FROM mcp_tool_executions WHERE id = '{id}' \
             AND status != 'pending'"
        ),
        1,
    )[0];
    assert_eq!(row["status"], "success", "{row}");
    let input: Value = serde_json::from_str(row["input"].as_str().unwrap()).unwrap();
    assert_eq!(input, json!({"seconds": SLEEP_SECS}), "{row}");
    assert!(
        row["tool_id"].as_str().is_some_and(|t| !t.is_empty()),
        "{row}"
    );

    // Refused after the gate (no such tool): its reservation is dropped, nothing recorded.
    let refused = stack.call(
        &member,
        json!({"action": "call_tool", "server_id": server_id, "tool_name": "nope"}),
    );
    assert_eq!(refused.status, 404, "{}", refused.text);
    let refused_id = refused.header("x-request-id").unwrap().to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let rows = ledger_rows(stack.state_dir());
        if rows
            .iter()
            .all(|r| r.record["request_id"] != refused_id.as_str())
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the refused call's reservation stayed: {rows:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let listed = stack.call(&member, json!({"action": "list_executions", "limit": 200}));
    assert_eq!(listed.status, 200, "{}", listed.text);
    let executions = listed.body["executions"].as_array().unwrap();
    assert_eq!(
        executions.len(),
        1,
        "only the call that ran: {}",
        listed.text
    );
}

fn stage_names(answer: &Answer) -> BTreeSet<String> {
    answer
        .header("server-timing")
        .unwrap_or_default()
        .split(", ")
        .filter_map(|e| e.split_once(";dur=").map(|(n, _)| n.to_string()))
        .collect()
}

fn remaining(answer: &Answer) -> u64 {
    answer
        .header("ratelimit-remaining")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no ratelimit-remaining: {:?}", answer.headers))
}

#[test]
fn list_tools_is_remembered_by_the_gateway_until_the_configuration_changes() {
    let python = python_streamable();
    let stack = Stack::start(SEED);
    let admin = stack.token("hana", "team-h", "admin");
    let member = stack.token("hugo", "team-h", "member");
    let outsider = stack.token("olga", "team-o", "member");
    let created = admin_ok(
        &stack,
        &admin,
        json!({"action": "create_server", "name": "py", "server_type": "http",
               "config": {"url": python.url}, "sync": true}),
    );
    let server_id = created.body["server"]["id"].as_str().unwrap().to_string();
    let list = json!({"action": "list_tools", "server_id": server_id});
    let names = |a: &Answer| -> BTreeSet<String> {
        a.body["tools"]
            .as_array()
            .unwrap_or_else(|| panic!("{}", a.text))
            .iter()
            .map(|t| t["tool_name"].as_str().unwrap().to_string())
            .collect()
    };

    let first = stack.call(&member, list.clone());
    assert_eq!(first.status, 200, "{}", first.text);
    assert!(
        stage_names(&first).contains("forward"),
        "{:?}",
        first.headers
    );
    let second = stack.call(&member, list.clone());
    assert_eq!(second.status, 200, "{}", second.text);
    let stages = stage_names(&second);
    assert!(
        stages.contains("memo") && !stages.contains("forward"),
        "served from the gateway's memory: {stages:?}"
    );
    assert_eq!(second.body["cached"], true);
    assert_eq!(names(&second), names(&first));
    assert!(names(&second).contains("echo"));
    // Still charged to the caller's rate limit.
    assert!(remaining(&second) < remaining(&first));

    // Another team asking for the same server id is not served this team's answer.
    let other = stack.call(&outsider, list.clone());
    assert_eq!(other.status, 404, "{}", other.text);

    // A change through the API moves the version: the next list is read again.
    admin_ok(
        &stack,
        &admin,
        json!({"action": "update_tool", "server_id": server_id, "tool_name": "echo",
               "is_enabled": false}),
    );
    let after = stack.call(&member, list.clone());
    assert_eq!(after.status, 200, "{}", after.text);
    assert!(!stage_names(&after).contains("memo"), "{:?}", after.headers);
    assert!(!names(&after).contains("echo"), "{}", after.text);
}
