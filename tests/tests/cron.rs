//! Cron on the sync_tools worker, triggered as Cloudflare would (`/__scheduled`) under
//! `wrangler dev --test-scheduled`: health checks mark dead servers `error` after N failures
//! and `connected` again when they answer; stale `pending` executions are closed; a team with
//! many servers never delays another team's checks, and its own servers rotate over runs. A
//! run moves a team's configuration version stamp (read as the event id that opens `GET /mcp`'s
//! stream) only when a server's status flipped or a sync changed the catalogue.

use std::io::BufRead;
use std::time::Duration;

use integration::free_port;
use integration::jwt::now_secs;
use integration::servers::{python_streamable, python_streamable_on};
use integration::stack::Stack;
use serde_json::json;

const SEED: &str = "INSERT INTO teams (id, name) VALUES ('team-a', 'Team A');";
const HEALTH: &str = "*/5 * * * *";
const SYNC: &str = "0 * * * *";

/// The team's configuration version stamp: the id of the priming event that opens `GET /mcp`'s
/// standalone stream (read, then the stream is dropped).
fn stamp(stack: &Stack, token: &str) -> String {
    let (status, reader) = stack.open_get_stream("/mcp", token, &[("accept", "text/event-stream")]);
    assert_eq!(status, 200);
    let mut seen = Vec::new();
    for line in reader.lines() {
        let line = line.expect("stream readable");
        if let Some(id) = line.strip_prefix("id:") {
            return id.trim().to_string();
        }
        seen.push(line);
    }
    panic!("the stream ended without a stamp: {seen:?}")
}

#[test]
fn cron_checks_health_recovers_servers_and_closes_stale_executions() {
    let python = python_streamable();
    let down_port = free_port();
    let stack = Stack::start(SEED);
    let admin = stack.token("alice", "team-a", "admin");
    let member = stack.token("bob", "team-a", "member");
    let create = |name: &str, url: &str| {
        let answer = stack.call(
            &admin,
            json!({"action": "create_server", "name": name, "server_type": "http", "config": {"url": url}}),
        );
        assert_eq!(answer.status, 201, "{}", answer.text);
        answer.body["server"]["id"].as_str().unwrap().to_string()
    };
    let up = create("up", &python.url);
    let down = create("down", &format!("http://127.0.0.1:{down_port}/mcp"));
    // Abandoned an hour ago: past the longest tool timeout, well inside the retention window.
    let an_hour_ago = shared::time::iso_from_ms((now_secs() - 3600) * 1000);
    stack.d1(&format!(
        "INSERT INTO mcp_tool_executions (id, team_id, user_id, server_id, tool_name, status, started_at) \
         VALUES ('abandoned', 'team-a', 'bob', 'x', 'echo', 'pending', '{an_hour_ago}') RETURNING id"
    ));

    let cron = stack.cron_runner();
    let mut stamps = vec![stamp(&stack, &member)];
    for run in 1..=3 {
        assert_eq!(cron.trigger(HEALTH), 200);
        stamps.push(stamp(&stack, &member));
        let row = &stack.d1(&format!("SELECT connection_status, consecutive_failures, last_error FROM mcp_servers WHERE id = '{down}'"))[0];
        assert_eq!(
            row["consecutive_failures"],
            run,
            "{row}\ncron log:\n{}",
            cron.log_text()
        );
        let expected = if run < 3 { "pending" } else { "error" };
        assert_eq!(
            row["connection_status"], expected,
            "after {run} failed checks: {row}"
        );
        assert!(
            row["last_error"].as_str().unwrap().contains("connect"),
            "{row}"
        );
    }
    let up_row = &stack.d1(&format!(
        "SELECT connection_status, consecutive_failures FROM mcp_servers WHERE id = '{up}'"
    ))[0];
    assert_eq!(up_row["connection_status"], "connected", "{up_row}");
    assert_eq!(up_row["consecutive_failures"], 0);
    // Run 1 turned `up` connected and run 3 turned `down` error: the stamp moved. Run 2 found
    // `up` still connected and `down` still pending: nothing cached changed, the stamp stayed.
    assert_ne!(stamps[1], stamps[0], "run 1 flipped up: {stamps:?}");
    assert_eq!(stamps[2], stamps[1], "run 2 flipped nothing: {stamps:?}");
    assert_ne!(stamps[3], stamps[2], "run 3 flipped down: {stamps:?}");

    let abandoned =
        &stack.d1("SELECT status, error FROM mcp_tool_executions WHERE id = 'abandoned'")[0];
    assert_eq!(abandoned["status"], "error", "{abandoned}");
    assert!(abandoned["error"]
        .as_str()
        .unwrap()
        .contains("never finished"));

    // The server comes back: the next check routes it again.
    let revived = python_streamable_on(down_port);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(cron.trigger(HEALTH), 200);
    let row = &stack.d1(&format!("SELECT connection_status, consecutive_failures, last_error FROM mcp_servers WHERE id = '{down}'"))[0];
    assert_eq!(row["connection_status"], "connected", "{row}");
    assert_eq!(row["consecutive_failures"], 0);
    assert!(row["last_error"].is_null());
    let revived_stamp = stamp(&stack, &member);
    assert_ne!(revived_stamp, stamps[3], "down came back");

    // The hourly schedule re-syncs every catalogue.
    assert_eq!(cron.trigger(SYNC), 200);
    let tools = &stack.d1(&format!(
        "SELECT count(*) AS n FROM mcp_tools WHERE server_id IN ('{up}', '{down}')"
    ))[0];
    assert!(tools["n"].as_u64().unwrap() >= 16, "{tools}");
    let synced_stamp = stamp(&stack, &member);
    assert_ne!(synced_stamp, revived_stamp, "the sync added tools");
    // The next sync lists the same tools: nothing changed, the stamp stays.
    assert_eq!(cron.trigger(SYNC), 200);
    assert_eq!(
        stamp(&stack, &member),
        synced_stamp,
        "a sync that found nothing new"
    );
    drop(revived);
}

#[test]
fn a_team_with_many_servers_never_delays_another_teams_check_and_rotates_its_own() {
    let python = python_streamable();
    let dead = format!("http://127.0.0.1:{}/mcp", free_port());
    // "a-big" sorts before "z-small" (a run in team order would reach it first): 12 servers on
    // a port nothing listens on (each check fails fast). "z-small": one real server.
    let seed = format!(
        "INSERT INTO teams (id, name, max_servers) VALUES ('a-big', 'Big', 500), ('z-small', 'Small', NULL);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 12)
         INSERT INTO mcp_servers (id, team_id, name, server_type, config)
         SELECT printf('big-%02d', i), 'a-big', printf('dead-%02d', i), 'http', '{{\"url\":\"{dead}\"}}' FROM n;
         INSERT INTO mcp_servers (id, team_id, name, server_type, config)
         VALUES ('small-1', 'z-small', 'real', 'http', '{{\"url\":\"{}\"}}');",
        python.url
    );
    let stack = Stack::start(&seed);
    // 3 servers of a team per run, 4 in all: the small team's turn 1 comes before the big
    // team's turns 2 and 3.
    let cron = stack.cron_runner_with_vars(&[
        ("CRON_MAX_SERVERS_PER_TEAM_PER_RUN", "3"),
        ("CRON_MAX_SERVERS_PER_RUN", "4"),
    ]);
    let checked_big = || {
        stack.d1("SELECT count(*) AS n FROM mcp_servers WHERE team_id = 'a-big' AND last_checked_at IS NOT NULL")[0]["n"]
            .as_u64()
            .unwrap()
    };
    let mut small_checks = Vec::new();
    for run in 1..=4u64 {
        assert_eq!(cron.trigger(HEALTH), 200);
        let small = &stack
            .d1("SELECT connection_status, last_checked_at FROM mcp_servers WHERE id = 'small-1'")
            [0];
        assert_eq!(
            small["connection_status"],
            "connected",
            "run {run}: {small}\ncron log:\n{}",
            cron.log_text()
        );
        small_checks.push(small["last_checked_at"].as_str().unwrap().to_string());
        assert_eq!(checked_big(), 3 * run, "run {run}: 3 more of the big team");
        // Every check of this run failed at most once per server: none was taken twice.
        let twice = &stack.d1(
            "SELECT count(*) AS n FROM mcp_servers WHERE team_id = 'a-big' AND consecutive_failures > 1",
        )[0];
        assert_eq!(twice["n"], 0, "run {run}: {twice}");
        std::thread::sleep(Duration::from_millis(5));
    }
    small_checks.dedup();
    assert_eq!(
        small_checks.len(),
        4,
        "the small team's server in every run"
    );
    // ceil(12 / 3) = 4 runs: every server of the big team checked exactly once.
    let big = &stack.d1(
        "SELECT count(*) AS n FROM mcp_servers WHERE team_id = 'a-big' AND consecutive_failures = 1 AND last_error IS NOT NULL",
    )[0];
    assert_eq!(big["n"], 12, "{big}");
}
