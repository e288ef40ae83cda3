//! The analytics actions over the real SQL on SQLite (the real migrations): exact report
//! numbers from a known history, team isolation of every query, members' own-rows scope,
//! validation, pagination stability and the index each query uses.

use std::collections::HashSet;

use serde_json::{json, Value};

use super::*;
use crate::actions::testing::{NoNetwork, SqliteDb, TWO_TEAMS};
use crate::actions::{Services, Settings};
use crate::api::Action;
use crate::cache::MemoryCache;
use crate::db::{Database, SqlValue, Statement};
use crate::identity::Identity;
use crate::repo::rollups::{self, ExecutionFact};

/// 2026-11-21T20:17:36Z.
const NOW_MS: u64 = 1_795_292_256_000;
const MIN: u64 = 60_000;
const DAY: u64 = 86_400_000;

struct World {
    db: SqliteDb,
    cache: MemoryCache,
    net: NoNetwork,
    settings: Settings,
}

fn who(user: &str, team: &str, role: Role) -> Identity {
    Identity {
        user_id: user.into(),
        team_id: team.into(),
        role,
    }
}

impl World {
    fn new() -> World {
        let db = SqliteDb::migrated();
        db.exec(TWO_TEAMS);
        let net = NoNetwork::default();
        net.now.set(NOW_MS);
        World {
            db,
            cache: MemoryCache::new(),
            net,
            settings: Settings::default(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn row(
        &self,
        id: &str,
        team: &str,
        user: &str,
        server: &str,
        tool: &str,
        status: &str,
        ago_ms: u64,
        duration: Option<u64>,
        error: Option<&str>,
    ) {
        let server_name = match server {
            "srv-a" => "alpha",
            "srv-b" => "beta",
            _ => "gone",
        };
        let tool_id = match (server, tool) {
            ("srv-a", "echo") => "'tool-a1'",
            ("srv-a", "secret") => "'tool-a2'",
            ("srv-b", "echo") => "'tool-b1'",
            _ => "NULL",
        };
        let started = iso_from_ms(NOW_MS - ago_ms);
        let (duration_ms, error_text) = (duration, error);
        let duration = duration.map_or("NULL".to_string(), |d| d.to_string());
        let error = error.map_or("NULL".to_string(), |e| format!("'{e}'"));
        self.db.exec(&format!(
            "INSERT INTO mcp_tool_executions (id, team_id, user_id, server_id, server_name, tool_id, \
             tool_name, status, started_at, duration_ms, error, input, output) VALUES ('{id}', '{team}', \
             '{user}', '{server}', '{server_name}', {tool_id}, '{tool}', '{status}', '{started}', \
             {duration}, {error}, '{{\"message\":\"hi\"}}', '{{\"content\":[]}}')"
        ));
        // As the code writes a finished row: with its rollups (a pending row has none).
        self.fold(&[fact(
            id,
            team,
            user,
            server,
            tool,
            status,
            &started,
            duration_ms,
            error_text,
        )]);
    }

    /// Adds finished executions to the rollups, as `executions::finish` does.
    fn fold(&self, facts: &[ExecutionFact]) {
        // SqliteDb's futures complete on their first poll.
        let batch = std::pin::pin!(self.db.batch(rollups::fold(facts)));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match std::future::Future::poll(batch, &mut cx) {
            std::task::Poll::Ready(done) => {
                done.unwrap();
            }
            std::task::Poll::Pending => unreachable!("SqliteDb never waits"),
        }
    }

    /// The history the report tests read (see each test for the expected numbers).
    fn with_history() -> World {
        let w = World::new();
        for i in 0..10u64 {
            let d = (i + 1) * 10;
            w.row(
                &format!("a-echo-{i}"),
                "team-a",
                "alice",
                "srv-a",
                "echo",
                "success",
                (i + 1) * MIN,
                Some(d),
                None,
            );
        }
        w.row(
            "a-boom-1",
            "team-a",
            "bob",
            "srv-a",
            "echo",
            "error",
            DAY + 2 * MIN,
            Some(200),
            Some("boom"),
        );
        w.row(
            "a-boom-2",
            "team-a",
            "bob",
            "srv-a",
            "echo",
            "error",
            DAY + MIN,
            Some(300),
            Some("boom"),
        );
        w.row(
            "a-slow",
            "team-a",
            "bob",
            "srv-a",
            "secret",
            "timeout",
            3 * DAY,
            Some(1000),
            Some("timed out"),
        );
        w.row(
            "a-pending",
            "team-a",
            "bob",
            "srv-a",
            "secret",
            "pending",
            30_000,
            None,
            None,
        );
        w.row(
            "a-ghost",
            "team-a",
            "alice",
            "srv-gone",
            "ghost",
            "success",
            11 * MIN,
            Some(5),
            None,
        );
        w.row(
            "a-old",
            "team-a",
            "alice",
            "srv-a",
            "echo",
            "success",
            40 * DAY,
            Some(7),
            None,
        );
        for i in 0..3u64 {
            w.row(
                &format!("b-echo-{i}"),
                "team-b",
                "carol",
                "srv-b",
                "echo",
                "success",
                (i + 1) * MIN,
                Some(i + 1),
                None,
            );
        }
        w.row(
            "b-boom",
            "team-b",
            "carol",
            "srv-b",
            "echo",
            "error",
            5 * MIN,
            Some(9),
            Some("boom"),
        );
        w
    }

    async fn run(&self, who: &Identity, body: Value) -> Result<Value> {
        let req = ActionRequest::parse(body.to_string().as_bytes())?;
        let Action::Analytics(action) = req.action else {
            panic!("not an analytics action: {body}");
        };
        let log = |_: &str| {};
        let ctx = Ctx {
            services: Services {
                db: &self.db,
                cache: &self.cache,
                http: &self.net,
                settings: &self.settings,
                log: &log,
            },
            identity: who,
            request_id: "req-test",
            timings: &crate::timing::Timings::new(),
            ledger: None,
            targets: None,
            sessions: None,
            background: None,
        };
        analytics(&ctx, action, &req).await.map(|r| {
            assert_eq!(r.status, 200);
            r.body
        })
    }

    async fn ok(&self, who: &Identity, body: Value) -> Value {
        self.run(who, body.clone())
            .await
            .unwrap_or_else(|e| panic!("{body}: {e}"))
    }
}

#[allow(clippy::too_many_arguments)]
fn fact(
    id: &str,
    team: &str,
    user: &str,
    server: &str,
    tool: &str,
    status: &str,
    started_at: &str,
    duration_ms: Option<u64>,
    error: Option<&str>,
) -> ExecutionFact {
    ExecutionFact {
        execution_id: id.into(),
        team_id: team.into(),
        user_id: user.into(),
        server_id: server.into(),
        tool_name: tool.into(),
        status: Status::parse(status).unwrap(),
        duration_ms,
        started_at: started_at.into(),
        error: error.map(str::to_string),
    }
}

fn admin_a() -> Identity {
    who("alice", "team-a", Role::Admin)
}
fn member_a() -> Identity {
    who("bob", "team-a", Role::Member)
}
fn admin_b() -> Identity {
    who("carol", "team-b", Role::Admin)
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "current_thread")]
async fn most_used_counts_rates_and_percentiles_exactly_per_team() {
    let w = World::with_history();
    let r = w
        .ok(
            &admin_a(),
            json!({"action": "analytics", "report": "most_used"}),
        )
        .await;
    assert_eq!(
        (r["days"].clone(), r["since"].clone()),
        (json!(30), json!("2026-10-23T00:00:00.000Z"))
    );
    let tools = r["tools"].as_array().unwrap();
    let names: Vec<&str> = tools
        .iter()
        .map(|t| t["tool_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["echo", "secret", "ghost"],
        "most executed first; the 40-day-old row is out"
    );
    assert_eq!(
        tools[0],
        json!({
            "tool_id": "tool-a1", "tool_name": "echo", "server_id": "srv-a", "server_name": "alpha",
            "executions": 12, "successes": 10, "errors": 2, "timeouts": 0, "cancellations": 0,
            // (10+20+…+100 + 200 + 300) / 12; nearest rank over 10,20,…,100,200,300
            "avg_duration_ms": 87.5, "success_rate": 0.8333,
            "p50_ms": 60, "p95_ms": 300, "p99_ms": 300,
            "last_executed_at": iso_from_ms(NOW_MS - MIN),
        })
    );
    let secret = &tools[1];
    assert_eq!(
        (
            &secret["executions"],
            &secret["timeouts"],
            &secret["success_rate"],
            &secret["p50_ms"]
        ),
        (&json!(2), &json!(1), &json!(0.0), &json!(1000)),
        "the pending call counts as an execution, not in rates or durations"
    );
    assert_eq!(
        tools[2]["server_name"], "gone",
        "a deleted server keeps its recorded name"
    );
    assert_eq!(tools[2]["tool_id"], Value::Null);

    let year = w
        .ok(
            &admin_a(),
            json!({"action": "analytics", "report": "most_used", "days": 365, "limit": 1}),
        )
        .await;
    assert_eq!(year["tools"].as_array().unwrap().len(), 1);
    assert_eq!(year["tools"][0]["executions"], 13);

    let b = w
        .ok(
            &admin_b(),
            json!({"action": "analytics", "report": "most_used"}),
        )
        .await;
    assert_eq!(
        b["tools"],
        json!([{
            "tool_id": "tool-b1", "tool_name": "echo", "server_id": "srv-b", "server_name": "beta",
            "executions": 4, "successes": 3, "errors": 1, "timeouts": 0, "cancellations": 0, "avg_duration_ms": 3.8,
            "success_rate": 0.75, "p50_ms": 2, "p95_ms": 9, "p99_ms": 9,
            "last_executed_at": iso_from_ms(NOW_MS - MIN),
        }])
    );
}

#[tokio::test(flavor = "current_thread")]
async fn percentiles_are_nearest_rank_and_slowest_first() {
    let w = World::with_history();
    let r = w
        .ok(
            &admin_a(),
            json!({"action": "analytics", "report": "percentiles", "days": 7}),
        )
        .await;
    let tools = r["tools"].as_array().unwrap();
    let names: Vec<&str> = tools
        .iter()
        .map(|t| t["tool_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["secret", "echo", "ghost"]);
    assert_eq!(
        tools[1],
        json!({
            "tool_id": "tool-a1", "tool_name": "echo", "server_id": "srv-a", "server_name": "alpha",
            "timed_executions": 12, "min_ms": 10, "p50_ms": 60, "p95_ms": 300, "p99_ms": 300,
            "max_ms": 300, "avg_duration_ms": 87.5,
        })
    );
    assert_eq!(
        tools[0]["timed_executions"], 1,
        "the pending call has no duration"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn daily_trends_fill_every_day_and_agree_with_the_totals() {
    let w = World::with_history();
    let r = w
        .ok(
            &admin_a(),
            json!({"action": "analytics", "report": "daily_trends", "days": 7}),
        )
        .await;
    assert_eq!(r["since"], "2026-11-15T00:00:00.000Z");
    let trends = r["trends"].as_array().unwrap();
    let dates: Vec<&str> = trends.iter().map(|d| d["date"].as_str().unwrap()).collect();
    assert_eq!(
        dates,
        [
            "2026-11-15",
            "2026-11-16",
            "2026-11-17",
            "2026-11-18",
            "2026-11-19",
            "2026-11-20",
            "2026-11-21"
        ]
    );
    assert_eq!(
        trends[6],
        json!({"date": "2026-11-21", "executions": 12, "successes": 11, "failures": 0, "timeouts": 0, "cancellations": 0, "avg_duration_ms": 50.5})
    );
    assert_eq!(
        trends[5],
        json!({"date": "2026-11-20", "executions": 2, "successes": 0, "failures": 2, "timeouts": 0, "cancellations": 0, "avg_duration_ms": 250.0})
    );
    assert_eq!(trends[3]["timeouts"], 1);
    assert_eq!(
        trends[0],
        json!({"date": "2026-11-15", "executions": 0, "successes": 0, "failures": 0, "timeouts": 0, "cancellations": 0, "avg_duration_ms": null})
    );
    assert_eq!(
        r["totals"],
        json!({"executions": 15, "successes": 11, "failures": 2, "timeouts": 1, "cancellations": 0})
    );
    let today = w
        .ok(
            &admin_a(),
            json!({"action": "analytics", "report": "daily_trends", "days": 1}),
        )
        .await;
    assert_eq!(today["trends"].as_array().unwrap().len(), 1);
    assert_eq!(today["totals"]["executions"], 12);
}

#[tokio::test(flavor = "current_thread")]
async fn errors_group_by_tool_server_status_and_message_with_the_last_occurrence() {
    let w = World::with_history();
    let r = w
        .ok(
            &admin_a(),
            json!({"action": "analytics", "report": "errors"}),
        )
        .await;
    assert_eq!(r["total_failures"], 3);
    assert_eq!(
        r["errors"],
        json!([
            {"tool_name": "echo", "server_id": "srv-a", "server_name": "alpha", "status": "error",
             "message": "boom", "occurrences": 2, "last_occurred_at": iso_from_ms(NOW_MS - DAY - MIN),
             "last_execution_id": "a-boom-2"},
            {"tool_name": "secret", "server_id": "srv-a", "server_name": "alpha", "status": "timeout",
             "message": "timed out", "occurrences": 1, "last_occurred_at": iso_from_ms(NOW_MS - 3 * DAY),
             "last_execution_id": "a-slow"},
        ])
    );
    let b = w
        .ok(
            &admin_b(),
            json!({"action": "analytics", "report": "errors"}),
        )
        .await;
    assert_eq!(b["total_failures"], 1);
    assert_eq!(b["errors"][0]["last_execution_id"], "b-boom");
    assert_eq!(
        b["errors"][0]["occurrences"], 1,
        "team A's identical message is not counted"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn user_activity_counts_executions_and_distinct_tools() {
    let w = World::with_history();
    let r = w
        .ok(
            &admin_a(),
            json!({"action": "analytics", "report": "user_activity"}),
        )
        .await;
    assert_eq!(
        r["users"],
        json!([
            {"user_id": "alice", "executions": 11, "successes": 11, "errors": 0, "timeouts": 0, "cancellations": 0,
             "distinct_tools": 2, "avg_duration_ms": 50.5, "last_executed_at": iso_from_ms(NOW_MS - MIN)},
            {"user_id": "bob", "executions": 4, "successes": 0, "errors": 2, "timeouts": 1, "cancellations": 0,
             "distinct_tools": 2, "avg_duration_ms": 500.0, "last_executed_at": iso_from_ms(NOW_MS - 30_000)},
        ])
    );
    let b = w
        .ok(
            &admin_b(),
            json!({"action": "analytics", "report": "user_activity"}),
        )
        .await;
    assert_eq!(b["users"].as_array().unwrap().len(), 1);
    assert_eq!(b["users"][0]["user_id"], "carol");
}

#[tokio::test(flavor = "current_thread")]
async fn a_team_with_no_history_gets_empty_reports() {
    let w = World::new();
    for report in REPORTS {
        let r = w
            .ok(
                &admin_a(),
                json!({"action": "analytics", "report": report, "days": 3}),
            )
            .await;
        let list = ["tools", "errors", "users", "trends"]
            .iter()
            .find_map(|k| r.get(*k))
            .unwrap();
        let expected = if *report == "daily_trends" { 3 } else { 0 };
        assert_eq!(list.as_array().unwrap().len(), expected, "{report}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn members_see_only_their_own_executions_and_no_reports() {
    let w = World::with_history();
    let err = w
        .run(
            &member_a(),
            json!({"action": "analytics", "report": "most_used"}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "authorization_error");

    let mine = w
        .ok(&member_a(), json!({"action": "list_executions"}))
        .await;
    assert_eq!(
        ids(&mine["executions"]),
        ["a-pending", "a-boom-2", "a-boom-1", "a-slow"]
    );
    let err = w
        .run(
            &member_a(),
            json!({"action": "list_executions", "user_id": "alice"}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "authorization_error");
    let own = w
        .ok(
            &member_a(),
            json!({"action": "list_executions", "user_id": "bob"}),
        )
        .await;
    assert_eq!(own["executions"].as_array().unwrap().len(), 4);

    let detail = w
        .ok(
            &member_a(),
            json!({"action": "get_execution", "execution_id": "a-boom-1"}),
        )
        .await;
    assert_eq!(detail["execution"]["error"], "boom");
    assert_eq!(detail["execution"]["input"], json!({"message": "hi"}));
    assert_eq!(detail["execution"]["output"], json!({"content": []}));
    for (caller, id) in [
        (member_a(), "a-echo-0"),
        (admin_b(), "a-echo-0"),
        (admin_a(), "b-boom"),
        (admin_a(), "nope"),
    ] {
        let err = w
            .run(
                &caller,
                json!({"action": "get_execution", "execution_id": id}),
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), "not_found", "{caller:?} {id}");
    }
    let admin = w
        .ok(
            &admin_a(),
            json!({"action": "get_execution", "execution_id": "a-echo-0"}),
        )
        .await;
    assert_eq!(admin["execution"]["user_id"], "alice");
}

#[tokio::test(flavor = "current_thread")]
async fn list_filters_combine_and_never_cross_teams() {
    let w = World::with_history();
    let count = |r: &Value| r["executions"].as_array().unwrap().len();
    let all = w
        .ok(
            &admin_a(),
            json!({"action": "list_executions", "limit": 200}),
        )
        .await;
    assert_eq!(count(&all), 16, "every team A row, old ones included");
    assert!(ids(&all["executions"])
        .iter()
        .all(|id| id.starts_with("a-")));
    assert_eq!(all["next_cursor"], Value::Null);
    let listed = &all["executions"][0];
    assert!(
        listed.get("input").is_none() && listed.get("output").is_none(),
        "{listed}"
    );

    for (filter, expected) in [
        (json!({"status": "error"}), vec!["a-boom-2", "a-boom-1"]),
        (json!({"status": "timeout"}), vec!["a-slow"]),
        (json!({"tool_name": "secret"}), vec!["a-pending", "a-slow"]),
        (json!({"server_id": "srv-gone"}), vec!["a-ghost"]),
        (json!({"server_id": "srv-b"}), vec![]),
        (
            json!({"user_id": "bob", "tool_name": "echo"}),
            vec!["a-boom-2", "a-boom-1"],
        ),
        (
            json!({"server_id": "srv-a", "status": "timeout"}),
            vec!["a-slow"],
        ),
        (json!({"until": "2026-10-15"}), vec!["a-old"]),
        (
            json!({"since": iso_from_ms(NOW_MS - 3 * DAY), "until": iso_from_ms(NOW_MS - DAY)}),
            vec!["a-boom-2", "a-boom-1", "a-slow"],
        ),
        (
            json!({"since": "2026-11-21T20:16:36Z", "user_id": "alice"}),
            vec!["a-echo-0"],
        ),
    ] {
        let mut body = filter.clone();
        body["action"] = json!("list_executions");
        let r = w.ok(&admin_a(), body).await;
        assert_eq!(ids(&r["executions"]), expected, "{filter}");
    }
    let b = w
        .ok(
            &admin_b(),
            json!({"action": "list_executions", "tool_name": "echo"}),
        )
        .await;
    assert_eq!(count(&b), 4);
    assert!(ids(&b["executions"]).iter().all(|id| id.starts_with("b-")));
}

#[tokio::test(flavor = "current_thread")]
async fn invalid_parameters_are_validation_errors_naming_the_field() {
    let w = World::with_history();
    let long = "x".repeat(300);
    for (body, field) in [
        (json!({"action": "analytics"}), "report"),
        (
            json!({"action": "analytics", "report": "everything"}),
            "report",
        ),
        (
            json!({"action": "analytics", "report": "errors", "days": 0}),
            "days",
        ),
        (
            json!({"action": "analytics", "report": "errors", "days": 366}),
            "days",
        ),
        (
            json!({"action": "analytics", "report": "errors", "days": "7"}),
            "days",
        ),
        (
            json!({"action": "analytics", "report": "errors", "limit": 201}),
            "limit",
        ),
        (json!({"action": "list_executions", "limit": 0}), "limit"),
        (json!({"action": "list_executions", "limit": 1000}), "limit"),
        (
            json!({"action": "list_executions", "status": "done"}),
            "status",
        ),
        (
            json!({"action": "list_executions", "since": "yesterday"}),
            "since",
        ),
        (
            json!({"action": "list_executions", "until": "2026-02-30"}),
            "until",
        ),
        (
            json!({"action": "list_executions", "since": "2026-11-21", "until": "2026-11-20"}),
            "until",
        ),
        (
            json!({"action": "list_executions", "cursor": "garbage!"}),
            "cursor",
        ),
        (
            json!({"action": "list_executions", "cursor": URL_SAFE_NO_PAD.encode("e1\nnot-a-time\nx")}),
            "cursor",
        ),
        (
            json!({"action": "list_executions", "tool_name": long}),
            "tool_name",
        ),
        (
            json!({"action": "list_executions", "user_id": 7}),
            "user_id",
        ),
        (json!({"action": "get_execution"}), "execution_id"),
    ] {
        let err = w.run(&admin_a(), body.clone()).await.unwrap_err();
        assert_eq!(err.code(), "validation_error", "{body}");
        assert_eq!(err.details()["field"], field, "{body}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn pages_cover_every_row_once_in_a_stable_order_while_rows_arrive() {
    let w = World::new();
    // 23 rows, 5 of them started in the same millisecond (ties broken by id), one other team's.
    for i in 0..23u64 {
        let ago = if (8..13).contains(&i) {
            8 * MIN
        } else {
            i * MIN + 1
        };
        w.row(
            &format!("r{i:02}"),
            "team-a",
            "alice",
            "srv-a",
            "echo",
            "success",
            ago,
            Some(i),
            None,
        );
    }
    w.row(
        "other-team",
        "team-b",
        "carol",
        "srv-b",
        "echo",
        "success",
        9 * MIN,
        Some(1),
        None,
    );
    let expected: Vec<String> = {
        let text = w.db.scalar(
            "SELECT group_concat(id, ',') FROM (SELECT id FROM mcp_tool_executions \
             WHERE team_id = 'team-a' ORDER BY started_at DESC, id DESC)",
        );
        text.as_str()
            .unwrap()
            .split(',')
            .map(String::from)
            .collect()
    };
    let mut seen = Vec::new();
    let mut cursor = Value::Null;
    let mut pages = 0;
    loop {
        let r = w
            .ok(
                &admin_a(),
                json!({"action": "list_executions", "limit": 4, "cursor": cursor}),
            )
            .await;
        let page = ids(&r["executions"]);
        assert!(page.len() <= 4);
        seen.extend(page);
        pages += 1;
        if pages == 2 {
            // New calls arrive (started now, newer than everything listed): the pages still
            // to come are not shifted by them.
            w.row(
                "new-1",
                "team-a",
                "alice",
                "srv-a",
                "echo",
                "success",
                0,
                Some(1),
                None,
            );
            w.row(
                "new-2",
                "team-a",
                "bob",
                "srv-a",
                "echo",
                "success",
                0,
                Some(1),
                None,
            );
        }
        match &r["next_cursor"] {
            Value::Null => break,
            c => cursor = c.clone(),
        }
    }
    assert_eq!(seen, expected, "each row exactly once, newest first");
    assert_eq!(pages, 6);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 23);

    // Within the tie, pages split by id and still meet exactly: new-2, new-1, r00…r07, then
    // the tie r12, r11, r10 | r09, r08.
    let first = w
        .ok(&admin_a(), json!({"action": "list_executions", "limit": 13, "since": iso_from_ms(NOW_MS - 9 * MIN)}))
        .await;
    let tie_cursor = first["next_cursor"].clone();
    let (at, id) = decode_cursor(tie_cursor.as_str().unwrap()).unwrap();
    assert_eq!((at, id.as_str()), (iso_from_ms(NOW_MS - 8 * MIN), "r10"));
    let rest = w
        .ok(&admin_a(), json!({"action": "list_executions", "limit": 9, "cursor": tie_cursor, "since": iso_from_ms(NOW_MS - 9 * MIN)}))
        .await;
    assert_eq!(ids(&rest["executions"]), ["r09", "r08"]);
}

#[test]
fn times_parse_into_the_stored_form() {
    for (text, stored) in [
        ("2026-11-21", Some("2026-11-21T00:00:00.000Z")),
        ("2026-11-21T20:17:36Z", Some("2026-11-21T20:17:36.000Z")),
        ("2026-11-21T20:17:36.1Z", Some("2026-11-21T20:17:36.100Z")),
        (
            "2026-11-21T20:17:36.123456Z",
            Some("2026-11-21T20:17:36.123Z"),
        ),
        ("2024-02-29", Some("2024-02-29T00:00:00.000Z")),
        ("2026-02-29", None),
        ("2026-13-01", None),
        ("2026-11-21T24:00:00Z", None),
        ("2026-11-21T20:17:36+01:00", None),
        ("2026-11-21T20:17:36.Z", None),
        ("2026-11-21 20:17:36Z", None),
        ("+026-11-21", None),
        ("", None),
    ] {
        assert_eq!(parse_time(text).as_deref(), stored, "{text}");
    }
}

#[test]
fn cursors_round_trip_and_windows_start_at_midnight() {
    let c = encode_cursor("2026-11-21T20:17:36.123Z", "abc");
    assert_eq!(
        decode_cursor(&c).unwrap(),
        ("2026-11-21T20:17:36.123Z".into(), "abc".into())
    );
    assert_eq!(
        iso_from_ms(window_start_ms(NOW_MS, 1)),
        "2026-11-21T00:00:00.000Z"
    );
    assert_eq!(
        iso_from_ms(window_start_ms(NOW_MS, 30)),
        "2026-10-23T00:00:00.000Z"
    );
}

/// Each statement's `EXPLAIN QUERY PLAN` on the real schema (no statistics, as on a fresh D1).
async fn plan(db: &SqliteDb, sql: &'static str) -> String {
    let params = (1..=20)
        .rev()
        .find(|n| sql.contains(&format!("?{n}")))
        .unwrap_or(0);
    let explain: &'static str = Box::leak(format!("EXPLAIN QUERY PLAN {sql}").into_boxed_str());
    let rows = db
        .query(Statement::new(explain, vec![SqlValue::Null; params]))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r["detail"].as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "current_thread")]
async fn every_query_reads_through_its_index_and_reports_read_rollups_not_the_window() {
    let db = SqliteDb::migrated();
    let days = "PRIMARY KEY (team_id=? AND span=? AND start_day>? AND start_day<?)";
    let blocks = "PRIMARY KEY (team_id=? AND span=? AND start_day>?)";
    let pending = "COVERING INDEX idx_executions_pending (team_id=? AND started_at>?)";
    let expected: &[(&str, &[&str])] = &[
        ("tool_stats", &[days, blocks, pending,
            "COVERING INDEX idx_executions_team_tool_time (team_id=? AND server_id=? AND tool_name=? AND started_at>?)"]),
        ("daily", &["execution_rollup_tools USING PRIMARY KEY (team_id=? AND span=? AND start_day>?)", pending]),
        ("errors", &["execution_rollup_errors USING PRIMARY KEY (team_id=? AND span=? AND start_day>? AND start_day<?)",
            "execution_rollup_errors USING PRIMARY KEY (team_id=? AND span=? AND start_day>?)"]),
        ("users", &["execution_rollup_users USING PRIMARY KEY (team_id=? AND day>?)",
            "execution_rollup_user_tools USING PRIMARY KEY (team_id=?)", pending]),
        ("list_all", &["INDEX idx_executions_team_time_cover (team_id=? AND started_at>? AND (started_at,id)<(?,?))"]),
        ("list_by_user", &["INDEX idx_executions_team_user_time (team_id=? AND user_id=? AND started_at>? AND (started_at,id)<(?,?))"]),
        ("list_by_server", &["INDEX idx_executions_team_server_time (team_id=? AND server_id=? AND started_at>? AND (started_at,id)<(?,?))"]),
        ("get", &["INDEX sqlite_autoindex_mcp_tool_executions_1 (id=?)"]),
        ("retention_batch", &["COVERING INDEX idx_executions_status (status=? AND started_at<?)"]),
    ];
    for (name, sql) in repo::statements() {
        let plan = plan(&db, sql).await;
        let (_, indexes) = expected.iter().find(|(n, _)| *n == name).unwrap();
        for index in *indexes {
            assert!(plan.contains(index), "{name}: expected {index}\n{plan}");
        }
        assert!(
            !plan
                .lines()
                .any(|l| l.trim().starts_with("SCAN mcp_tool_executions")
                    || l.trim().starts_with("SCAN execution_rollup")
                    || l.contains("SCAN x")),
            "{name} scans a table:\n{plan}"
        );
        if !name.starts_with("list_") && !["get", "retention_batch"].contains(&name) {
            // A report touches executions only for pending rows, a small window's exact
            // percentiles and a deleted server's name: never the window's rows.
            for line in plan.lines().filter(|l| {
                l.contains("mcp_tool_executions") || l.contains(" x ") || l.contains(" y ")
            }) {
                assert!(
                    [
                        "idx_executions_pending",
                        "idx_executions_team_tool_time",
                        "idx_executions_team_server_time"
                    ]
                    .iter()
                    .any(|i| line.contains(i)),
                    "{name}: {line}"
                );
            }
        }
        if name.starts_with("list_") {
            assert!(
                !plan.contains("TEMP B-TREE"),
                "{name}: pages come in index order:\n{plan}"
            );
            assert!(sql.contains(&format!("substr(error, 1, {})", repo::LIST_ERROR_CHARS)));
        }
    }
}

/// A small deterministic generator (the test needs no statistical quality).
struct Lcg(u64);
impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[derive(Clone)]
struct Scanned {
    id: String,
    team: &'static str,
    user: &'static str,
    server: &'static str,
    tool: &'static str,
    status: &'static str,
    started: String,
    duration: Option<u64>,
    error: Option<&'static str>,
}

fn nearest_rank(sorted: &[u64], p: usize) -> Option<u64> {
    (!sorted.is_empty()).then(|| sorted[(sorted.len() * p).div_ceil(100) - 1])
}

fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() < 1e-9,
        (a, b) => a.is_none() && b.is_none(),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn reports_from_rollups_equal_a_scan_of_the_same_executions() {
    let w = World::new();
    let mut rng = Lcg(15);
    let mut all = Vec::new();
    for i in 0..400u64 {
        let team = ["team-a", "team-b"][rng.below(2) as usize];
        let server = if team == "team-a" {
            ["srv-a", "srv-gone"][rng.below(2) as usize]
        } else {
            "srv-b"
        };
        let status = [
            "success",
            "success",
            "success",
            "error",
            "timeout",
            "pending",
            "cancelled",
        ][rng.below(7) as usize];
        let scale = 1 << rng.below(12);
        let duration = (status != "pending").then(|| rng.below(scale));
        let error = match status {
            "error" => Some(["boom", "kaput", "no such thing"][rng.below(3) as usize]),
            "timeout" => Some("timed out"),
            _ => None,
        };
        // Unique start times (no ties for "last"), over 40 days.
        let ago = rng.below(40 * DAY / 1000) * 1000 + i;
        let row = Scanned {
            id: format!("x{i:03}"),
            team,
            user: ["alice", "bob", "carol"][rng.below(3) as usize],
            server,
            tool: ["echo", "secret", "ghost"][rng.below(3) as usize],
            status,
            started: iso_from_ms(NOW_MS - ago),
            duration,
            error,
        };
        w.row(
            &row.id, team, row.user, server, row.tool, status, ago, duration, error,
        );
        all.push(row);
    }
    for team in ["team-a", "team-b"] {
        for days in [1u64, 7, 30, 365] {
            let since = iso_from_ms(window_start_ms(NOW_MS, days));
            let rows: Vec<&Scanned> = all
                .iter()
                .filter(|r| r.team == team && r.started >= since)
                .collect();

            // Per tool.
            let mut keys: Vec<(&str, &str)> = rows.iter().map(|r| (r.server, r.tool)).collect();
            keys.sort();
            keys.dedup();
            let mut expected: Vec<repo::ToolStats> = keys
                .iter()
                .map(|(server, tool)| {
                    let of: Vec<&&Scanned> = rows
                        .iter()
                        .filter(|r| r.server == *server && r.tool == *tool)
                        .collect();
                    let mut d: Vec<u64> = of.iter().filter_map(|r| r.duration).collect();
                    d.sort_unstable();
                    let count = |s: &str| of.iter().filter(|r| r.status == s).count() as u64;
                    repo::ToolStats {
                        server_id: server.to_string(),
                        tool_name: tool.to_string(),
                        tool_id: None,
                        server_name: None,
                        executions: of.len() as u64,
                        successes: count("success"),
                        errors: count("error"),
                        timeouts: count("timeout"),
                        cancellations: count("cancelled"),
                        timed_executions: d.len() as u64,
                        avg_duration_ms: (!d.is_empty())
                            .then(|| d.iter().sum::<u64>() as f64 / d.len() as f64),
                        min_ms: d.first().copied(),
                        max_ms: d.last().copied(),
                        p50_ms: nearest_rank(&d, 50),
                        p95_ms: nearest_rank(&d, 95),
                        p99_ms: nearest_rank(&d, 99),
                        last_executed_at: of.iter().map(|r| r.started.clone()).max(),
                    }
                })
                .collect();
            expected.sort_by(|a, b| {
                (b.executions, &a.tool_name, &a.server_id).cmp(&(
                    a.executions,
                    &b.tool_name,
                    &b.server_id,
                ))
            });
            let got = repo::tool_stats(&w.db, team, &since, repo::MAX_TOOL_GROUPS)
                .await
                .unwrap();
            assert_eq!(got.len(), expected.len(), "{team} {days}");
            for (g, e) in got.iter().zip(&expected) {
                assert!(
                    close(g.avg_duration_ms, e.avg_duration_ms),
                    "{team} {days}: {g:?} {e:?}"
                );
                let strip = |t: &repo::ToolStats| repo::ToolStats {
                    tool_id: None,
                    server_name: None,
                    avg_duration_ms: None,
                    ..t.clone()
                };
                assert_eq!(strip(g), strip(e), "{team} {days}");
            }

            // Per day.
            let mut dates: Vec<String> = rows.iter().map(|r| r.started[..10].to_string()).collect();
            dates.sort();
            dates.dedup();
            let got = repo::daily(&w.db, team, &since).await.unwrap();
            assert_eq!(got.len(), dates.len(), "{team} {days}");
            for (g, date) in got.iter().zip(&dates) {
                let of: Vec<&&Scanned> = rows.iter().filter(|r| &r.started[..10] == date).collect();
                let d: Vec<u64> = of.iter().filter_map(|r| r.duration).collect();
                let count = |s: &str| of.iter().filter(|r| r.status == s).count() as u64;
                assert_eq!(
                    (
                        &g.date,
                        g.executions,
                        g.successes,
                        g.failures,
                        g.timeouts,
                        g.cancellations
                    ),
                    (
                        date,
                        of.len() as u64,
                        count("success"),
                        count("error"),
                        count("timeout"),
                        count("cancelled")
                    )
                );
                let avg = (!d.is_empty()).then(|| d.iter().sum::<u64>() as f64 / d.len() as f64);
                assert!(close(g.avg_duration_ms, avg), "{date}");
            }

            // Failures.
            let failed: Vec<&&Scanned> = rows
                .iter()
                .filter(|r| r.status == "error" || r.status == "timeout")
                .collect();
            let mut groups: Vec<(&str, &str, &str, &str)> = failed
                .iter()
                .map(|r| (r.server, r.tool, r.status, r.error.unwrap()))
                .collect();
            groups.sort();
            groups.dedup();
            let mut expected: Vec<(String, String, String, String, u64, String, String)> = groups
                .iter()
                .map(|(server, tool, status, message)| {
                    let of: Vec<&&&Scanned> = failed
                        .iter()
                        .filter(|r| {
                            (r.server, r.tool, r.status, r.error.unwrap())
                                == (*server, *tool, *status, *message)
                        })
                        .collect();
                    let last = of.iter().max_by_key(|r| r.started.clone()).unwrap();
                    (
                        server.to_string(),
                        tool.to_string(),
                        status.to_string(),
                        message.to_string(),
                        of.len() as u64,
                        last.started.clone(),
                        last.id.clone(),
                    )
                })
                .collect();
            expected.sort_by(|a, b| (b.4, &b.5).cmp(&(a.4, &a.5)));
            expected.truncate(200);
            let (got, total) = repo::errors(&w.db, team, &since, 200).await.unwrap();
            assert_eq!(total, failed.len() as u64, "{team} {days}");
            let got: Vec<_> = got
                .into_iter()
                .map(|g| {
                    (
                        g.server_id,
                        g.tool_name,
                        g.status.as_str().to_string(),
                        g.message,
                        g.occurrences,
                        g.last_occurred_at,
                        g.last_execution_id,
                    )
                })
                .collect();
            assert_eq!(got, expected, "{team} {days}");

            // Per user.
            let mut users: Vec<&str> = rows.iter().map(|r| r.user).collect();
            users.sort();
            users.dedup();
            let mut expected: Vec<repo::UserActivity> = users
                .iter()
                .map(|user| {
                    let of: Vec<&&Scanned> = rows.iter().filter(|r| r.user == *user).collect();
                    let d: Vec<u64> = of.iter().filter_map(|r| r.duration).collect();
                    let mut tools: Vec<(&str, &str)> =
                        of.iter().map(|r| (r.server, r.tool)).collect();
                    tools.sort();
                    tools.dedup();
                    let count = |s: &str| of.iter().filter(|r| r.status == s).count() as u64;
                    repo::UserActivity {
                        user_id: user.to_string(),
                        executions: of.len() as u64,
                        successes: count("success"),
                        errors: count("error"),
                        timeouts: count("timeout"),
                        cancellations: count("cancelled"),
                        distinct_tools: tools.len() as u64,
                        avg_duration_ms: (!d.is_empty())
                            .then(|| d.iter().sum::<u64>() as f64 / d.len() as f64),
                        last_executed_at: of.iter().map(|r| r.started.clone()).max().unwrap(),
                    }
                })
                .collect();
            expected.sort_by(|a, b| (b.executions, &a.user_id).cmp(&(a.executions, &b.user_id)));
            let got = repo::user_activity(&w.db, team, &since, 200).await.unwrap();
            assert_eq!(got.len(), expected.len());
            for (g, e) in got.iter().zip(&expected) {
                assert!(close(g.avg_duration_ms, e.avg_duration_ms), "{g:?} {e:?}");
                assert_eq!(
                    repo::UserActivity {
                        avg_duration_ms: None,
                        ..g.clone()
                    },
                    repo::UserActivity {
                        avg_duration_ms: None,
                        ..e.clone()
                    }
                );
            }
        }
    }
}
