//! Execution history and analytics end to end: executions created by real `call_tool`s against
//! the Python MCP SDK server (successes, tool errors, timeouts) in two teams with two users
//! each, then every report checked against the D1 rows, member vs admin visibility, pagination
//! while rows arrive, and retention by the real cron trigger. One stack; scenarios in order.

use std::collections::{BTreeMap, HashSet};

use integration::servers::python_streamable;
use integration::stack::{Answer, Stack};
use serde_json::{json, Value};
use shared::db::SqlValue;
use shared::repo::executions::Status;
use shared::repo::rollups::{fold, ExecutionFact};

const SEED: &str = "INSERT INTO teams (id, name, tier, rate_limit_per_hour, user_calls_per_day) VALUES \
    ('team-a', 'Team A', 'enterprise', 100000, 100000), ('team-b', 'Team B', 'enterprise', 100000, 100000);";
const HEALTH: &str = "*/5 * * * *";

struct World {
    stack: Stack,
    alice: String,
    bob: String,
    carol: String,
    dave: String,
    /// Execution ids by team, then by who called which tool.
    calls: BTreeMap<&'static str, Vec<(String, &'static str, String)>>,
}

/// `fold`'s statements for `facts` as SQL text (`wrangler d1 execute` takes no parameters):
/// rows a fixture inserts directly get their rollups the way the code writes them.
fn fold_sql(facts: &[ExecutionFact]) -> String {
    fold(facts)
        .into_iter()
        .map(|statement| {
            let mut sql = statement.sql.to_string();
            // Highest first, so that ?1 never rewrites the start of ?15.
            for (i, value) in statement.params.iter().enumerate().rev() {
                let literal = match value {
                    SqlValue::Null => "NULL".to_string(),
                    SqlValue::Integer(n) => n.to_string(),
                    SqlValue::Real(x) => x.to_string(),
                    SqlValue::Text(t) => format!("'{}'", t.replace('\'', "''")),
                };
                sql = sql.replace(&format!("?{}", i + 1), &literal);
            }
            sql + ";\n"
        })
        .collect()
}

fn ok(answer: &Answer) -> &Value {
    assert_eq!(answer.status, 200, "{}", answer.text);
    &answer.body
}

fn assert_error(answer: &Answer, status: u16, code: &str) {
    assert_eq!(answer.status, status, "{}", answer.text);
    assert_eq!(answer.body["code"], code, "{}", answer.text);
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Nearest rank: the value at rank ceil(p/100 × n) of the sorted durations.
fn nearest_rank(sorted: &[u64], p: u64) -> u64 {
    let n = sorted.len() as u64;
    sorted[((n * p).div_ceil(100) - 1) as usize]
}

#[test]
fn analytics_over_real_calls_in_two_teams() {
    let python = python_streamable();
    let stack = Stack::start(SEED);
    let alice = stack.token("alice", "team-a", "admin");
    let bob = stack.token("bob", "team-a", "member");
    let carol = stack.token("carol", "team-b", "admin");
    let dave = stack.token("dave", "team-b", "member");

    let mut servers = BTreeMap::new();
    for (team, admin) in [("team-a", &alice), ("team-b", &carol)] {
        let created = stack.call(
            admin,
            json!({"action": "create_server", "name": "py", "server_type": "http",
                   "config": {"url": python.url}, "sync": true}),
        );
        assert_eq!(created.status, 201, "{}", created.text);
        assert_eq!(created.body["sync"]["success"], true, "{}", created.text);
        let server_id = created.body["server"]["id"].as_str().unwrap().to_string();
        let policy = stack.call(
            admin,
            json!({"action": "update_tool", "server_id": server_id, "tool_name": "sleep", "timeout_seconds": 1}),
        );
        ok(&policy);
        servers.insert(team, server_id);
    }

    let mut calls: BTreeMap<&'static str, Vec<(String, &'static str, String)>> = BTreeMap::new();
    type Call<'a> = (
        &'static str,
        &'static str,
        &'a String,
        &'static str,
        Value,
        u16,
    );
    let plan: [Call; 12] = [
        (
            "team-a",
            "alice",
            &alice,
            "echo",
            json!({"message": "one"}),
            200,
        ),
        (
            "team-a",
            "alice",
            &alice,
            "echo",
            json!({"message": "two"}),
            200,
        ),
        (
            "team-a",
            "alice",
            &alice,
            "echo",
            json!({"message": "three"}),
            200,
        ),
        (
            "team-a",
            "alice",
            &alice,
            "fail",
            json!({"message": "boom"}),
            200,
        ),
        (
            "team-a",
            "alice",
            &alice,
            "fail",
            json!({"message": "boom"}),
            200,
        ),
        (
            "team-a",
            "bob",
            &bob,
            "echo",
            json!({"message": "four"}),
            200,
        ),
        ("team-a", "bob", &bob, "add", json!({"a": 1, "b": 2}), 200),
        ("team-a", "bob", &bob, "add", json!({"a": 3, "b": 4}), 200),
        ("team-a", "bob", &bob, "sleep", json!({"seconds": 5}), 504),
        (
            "team-b",
            "carol",
            &carol,
            "echo",
            json!({"message": "b"}),
            200,
        ),
        (
            "team-b",
            "carol",
            &carol,
            "fail",
            json!({"message": "boom"}),
            200,
        ),
        ("team-b", "dave", &dave, "add", json!({"a": 5, "b": 6}), 200),
    ];
    for (team, user, token, tool, parameters, status) in plan {
        let answer = stack.call(
            token,
            json!({"action": "call_tool", "server_id": servers[team], "tool_name": tool, "parameters": parameters}),
        );
        assert_eq!(answer.status, status, "{tool}: {}", answer.text);
        let id = answer.body["execution_id"]
            .as_str()
            .or(answer.body["details"]["execution_id"].as_str())
            .unwrap_or_else(|| panic!("no execution id: {}", answer.text))
            .to_string();
        calls
            .entry(team)
            .or_default()
            .push((user.to_string(), tool, id));
    }

    // Executions reach D1 from the teams' ledgers shortly after their calls answer.
    let ids: Vec<String> = calls
        .values()
        .flatten()
        .map(|(_, _, id)| format!("'{id}'"))
        .collect();
    stack.await_rows(
        &format!(
            "SELECT id FROM mcp_tool_executions WHERE id IN ({})",
            ids.join(",")
        ),
        ids.len(),
    );

    let w = World {
        stack,
        alice,
        bob,
        carol,
        dave,
        calls,
    };
    most_used_and_percentiles_match_the_recorded_rows(&w);
    daily_trends_and_user_activity_count_every_call(&w);
    errors_group_failures_and_timeouts_with_the_last_occurrence(&w);
    members_see_their_own_executions_and_other_teams_nothing(&w);
    filters_and_invalid_parameters(&w);
    pagination_returns_every_row_once_while_rows_arrive(&w);
    retention_deletes_exactly_the_rows_older_than_the_window(&w);
    drop(python);
}

/// Durations of one tool's executions in a team, sorted.
fn durations(w: &World, team: &str, tool: &str) -> Vec<u64> {
    w.stack
        .d1(&format!(
            "SELECT duration_ms FROM mcp_tool_executions WHERE team_id = '{team}' AND tool_name = '{tool}' ORDER BY duration_ms"
        ))
        .iter()
        .map(|r| r["duration_ms"].as_u64().expect("finished calls have a duration"))
        .collect()
}

fn report(w: &World, token: &str, report: &str, days: u64) -> Value {
    ok(&w.stack.call(
        token,
        json!({"action": "analytics", "report": report, "days": days}),
    ))
    .clone()
}

fn most_used_and_percentiles_match_the_recorded_rows(w: &World) {
    for (team, token, expected) in [
        (
            "team-a",
            &w.alice,
            // tool, executions, successes, errors, timeouts
            vec![
                ("echo", 4, 4, 0, 0),
                ("add", 2, 2, 0, 0),
                ("fail", 2, 0, 2, 0),
                ("sleep", 1, 0, 0, 1),
            ],
        ),
        (
            "team-b",
            &w.carol,
            vec![
                ("add", 1, 1, 0, 0),
                ("echo", 1, 1, 0, 0),
                ("fail", 1, 0, 1, 0),
            ],
        ),
    ] {
        let r = report(w, token, "most_used", 30);
        let tools = r["tools"].as_array().unwrap();
        let got: Vec<(&str, u64, u64, u64, u64)> = tools
            .iter()
            .map(|t| {
                (
                    t["tool_name"].as_str().unwrap(),
                    t["executions"].as_u64().unwrap(),
                    t["successes"].as_u64().unwrap(),
                    t["errors"].as_u64().unwrap(),
                    t["timeouts"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(got, expected, "{team}: {r}");
        for t in tools {
            let name = t["tool_name"].as_str().unwrap();
            let d = durations(w, team, name);
            let mean = d.iter().sum::<u64>() as f64 / d.len() as f64;
            assert_eq!(
                t["avg_duration_ms"].as_f64().unwrap(),
                round1(mean),
                "{team} {name}: {t}"
            );
            for (field, p) in [("p50_ms", 50), ("p95_ms", 95), ("p99_ms", 99)] {
                assert_eq!(
                    t[field],
                    nearest_rank(&d, p),
                    "{team} {name} {field}: {t} {d:?}"
                );
            }
            let finished = t["executions"].as_u64().unwrap() as f64;
            let rate = t["successes"].as_u64().unwrap() as f64 / finished;
            assert_eq!(
                t["success_rate"].as_f64().unwrap(),
                (rate * 10_000.0).round() / 10_000.0
            );
            assert_eq!(t["server_name"], "py");
            assert!(t["tool_id"].is_string(), "{t}");
        }
        let sleep_p = report(w, token, "percentiles", 7);
        for t in sleep_p["tools"].as_array().unwrap() {
            let name = t["tool_name"].as_str().unwrap();
            let d = durations(w, team, name);
            assert_eq!(t["timed_executions"], d.len(), "{t}");
            assert_eq!(
                (t["min_ms"].clone(), t["max_ms"].clone()),
                (json!(d[0]), json!(d[d.len() - 1]))
            );
            assert_eq!(t["p95_ms"], nearest_rank(&d, 95));
        }
    }
    // The timed-out call waited about its 1 s budget: the slowest tool of team A.
    let p = report(w, &w.alice, "percentiles", 1);
    assert_eq!(p["tools"][0]["tool_name"], "sleep", "{p}");
    let slow = p["tools"][0]["p50_ms"].as_u64().unwrap();
    assert!((900..5000).contains(&slow), "{p}");
}

fn daily_trends_and_user_activity_count_every_call(w: &World) {
    let r = report(w, &w.alice, "daily_trends", 3);
    assert_eq!(r["trends"].as_array().unwrap().len(), 3);
    assert_eq!(
        r["totals"],
        json!({"executions": 9, "successes": 6, "failures": 2, "timeouts": 1, "cancellations": 0}),
        "{r}"
    );
    let today = w
        .stack
        .d1("SELECT substr(max(started_at), 1, 10) AS d FROM mcp_tool_executions")[0]["d"]
        .clone();
    let busy: Vec<&Value> = r["trends"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["executions"] != 0)
        .collect();
    assert_eq!(busy.len(), 1, "every call was today: {r}");
    assert_eq!(busy[0]["date"], today);
    let b = report(w, &w.carol, "daily_trends", 3);
    assert_eq!(
        b["totals"],
        json!({"executions": 3, "successes": 2, "failures": 1, "timeouts": 0, "cancellations": 0})
    );

    let users = report(w, &w.alice, "user_activity", 30);
    let got: Vec<(String, Value, Value, Value, Value, Value, Value)> = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["user_id"].as_str().unwrap().to_string(),
                u["executions"].clone(),
                u["successes"].clone(),
                u["errors"].clone(),
                u["timeouts"].clone(),
                u["distinct_tools"].clone(),
                u["last_executed_at"].clone(),
            )
        })
        .collect();
    let last = |user: &str| {
        w.stack.d1(&format!(
            "SELECT max(started_at) AS t FROM mcp_tool_executions WHERE user_id = '{user}'"
        ))[0]["t"]
            .clone()
    };
    assert_eq!(
        got,
        vec![
            (
                "alice".into(),
                json!(5),
                json!(3),
                json!(2),
                json!(0),
                json!(2),
                last("alice")
            ),
            (
                "bob".into(),
                json!(4),
                json!(3),
                json!(0),
                json!(1),
                json!(3),
                last("bob")
            ),
        ]
    );
    let b = report(w, &w.carol, "user_activity", 30);
    let names: Vec<&str> = b["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["carol", "dave"]);
}

fn errors_group_failures_and_timeouts_with_the_last_occurrence(w: &World) {
    let r = report(w, &w.alice, "errors", 30);
    assert_eq!(r["total_failures"], 3, "{r}");
    let errors = r["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{r}");
    let fails: Vec<&String> = w.calls["team-a"]
        .iter()
        .filter(|(_, tool, _)| *tool == "fail")
        .map(|(_, _, id)| id)
        .collect();
    let sleep_id = &w.calls["team-a"].iter().find(|c| c.1 == "sleep").unwrap().2;
    let message = |id: &str| {
        w.stack.d1(&format!(
            "SELECT error FROM mcp_tool_executions WHERE id = '{id}'"
        ))[0]["error"]
            .as_str()
            .unwrap()
            .chars()
            .take(300)
            .collect::<String>()
    };
    assert_eq!(
        (
            &errors[0]["tool_name"],
            &errors[0]["status"],
            &errors[0]["occurrences"]
        ),
        (&json!("fail"), &json!("error"), &json!(2))
    );
    assert!(
        errors[0]["message"].as_str().unwrap().contains("boom"),
        "{r}"
    );
    assert_eq!(errors[0]["message"], message(fails[1]));
    assert_eq!(
        errors[0]["last_execution_id"], *fails[1],
        "the later of the two"
    );
    assert_eq!(errors[0]["server_name"], "py");
    assert_eq!(
        (
            &errors[1]["tool_name"],
            &errors[1]["status"],
            &errors[1]["occurrences"]
        ),
        (&json!("sleep"), &json!("timeout"), &json!(1))
    );
    assert_eq!(errors[1]["message"], message(sleep_id));
    assert_eq!(errors[1]["last_execution_id"], *sleep_id);

    let b = report(w, &w.carol, "errors", 30);
    assert_eq!(b["total_failures"], 1);
    assert_eq!(
        b["errors"][0]["occurrences"], 1,
        "team A's identical failures are not B's"
    );
}

fn members_see_their_own_executions_and_other_teams_nothing(w: &World) {
    let s = &w.stack;
    let own = |team: &str, user: &str| -> HashSet<String> {
        w.calls[team]
            .iter()
            .filter(|(u, _, _)| u == user)
            .map(|(_, _, id)| id.clone())
            .collect()
    };
    let all_a: HashSet<String> = w.calls["team-a"].iter().map(|c| c.2.clone()).collect();
    let all_b: HashSet<String> = w.calls["team-b"].iter().map(|c| c.2.clone()).collect();
    let listed = |token: &str| -> HashSet<String> {
        ids(&ok(&s.call(token, json!({"action": "list_executions", "limit": 200})))["executions"])
            .into_iter()
            .collect()
    };
    assert_eq!(listed(&w.bob), own("team-a", "bob"));
    assert_eq!(listed(&w.dave), own("team-b", "dave"));
    assert_eq!(listed(&w.alice), all_a);
    assert_eq!(listed(&w.carol), all_b);

    assert_error(
        &s.call(
            &w.bob,
            json!({"action": "analytics", "report": "most_used"}),
        ),
        403,
        "authorization_error",
    );
    assert_error(
        &s.call(
            &w.bob,
            json!({"action": "list_executions", "user_id": "alice"}),
        ),
        403,
        "authorization_error",
    );
    let alices = w.calls["team-a"]
        .iter()
        .find(|c| c.0 == "alice")
        .unwrap()
        .2
        .clone();
    let bobs = w.calls["team-a"]
        .iter()
        .find(|c| c.0 == "bob")
        .unwrap()
        .2
        .clone();
    for (token, id) in [
        (&w.bob, &alices),
        (&w.carol, &alices),
        (&w.dave, &bobs),
        (&w.alice, &w.calls["team-b"][0].2),
    ] {
        assert_error(
            &s.call(
                token,
                json!({"action": "get_execution", "execution_id": id}),
            ),
            404,
            "not_found",
        );
    }
    let mine = ok(&s.call(
        &w.bob,
        json!({"action": "get_execution", "execution_id": bobs}),
    ))
    .clone();
    assert_eq!(mine["execution"]["user_id"], "bob");
    assert_eq!(mine["execution"]["input"], json!({"message": "four"}));
    assert!(
        mine["execution"]["output"].to_string().contains("four"),
        "{mine}"
    );
    let detail = ok(&s.call(
        &w.alice,
        json!({"action": "get_execution", "execution_id": bobs}),
    ))
    .clone();
    assert_eq!(
        detail["execution"]["id"],
        bobs.as_str(),
        "admins read the team's"
    );
}

fn filters_and_invalid_parameters(w: &World) {
    let s = &w.stack;
    let list = |filter: Value| -> Vec<String> {
        let mut body = filter;
        body["action"] = json!("list_executions");
        ids(&ok(&s.call(&w.alice, body))["executions"])
    };
    let a = &w.calls["team-a"];
    let expect = |pred: &dyn Fn(&(String, &'static str, String)) -> bool| -> HashSet<String> {
        a.iter().filter(|c| pred(c)).map(|c| c.2.clone()).collect()
    };
    let set = |v: Vec<String>| v.into_iter().collect::<HashSet<_>>();
    assert_eq!(
        set(list(json!({"status": "error"}))),
        expect(&|c| c.1 == "fail")
    );
    assert_eq!(
        set(list(json!({"status": "timeout"}))),
        expect(&|c| c.1 == "sleep")
    );
    assert_eq!(
        set(list(json!({"tool_name": "echo"}))),
        expect(&|c| c.1 == "echo")
    );
    assert_eq!(
        set(list(json!({"user_id": "bob", "status": "success"}))),
        expect(&|c| c.0 == "bob" && c.1 != "sleep")
    );
    let server_a = s
        .d1("SELECT server_id FROM mcp_tool_executions WHERE team_id = 'team-a' LIMIT 1")[0]
        ["server_id"]
        .clone();
    assert_eq!(list(json!({"server_id": server_a})).len(), 9);
    assert_eq!(list(json!({"until": "2020-01-01"})).len(), 0);
    assert_eq!(
        list(json!({"since": "2020-01-01", "tool_name": "add"})).len(),
        2
    );

    for (body, field) in [
        (
            json!({"action": "analytics", "report": "most_used", "days": 0}),
            "days",
        ),
        (
            json!({"action": "analytics", "report": "most_used", "days": 400}),
            "days",
        ),
        (json!({"action": "analytics", "report": "top"}), "report"),
        (
            json!({"action": "analytics", "report": "errors", "limit": 201}),
            "limit",
        ),
        (json!({"action": "list_executions", "limit": 201}), "limit"),
        (
            json!({"action": "list_executions", "status": "failed"}),
            "status",
        ),
        (
            json!({"action": "list_executions", "since": "last week"}),
            "since",
        ),
        (
            json!({"action": "list_executions", "cursor": "not-a-cursor"}),
            "cursor",
        ),
        (json!({"action": "get_execution"}), "execution_id"),
    ] {
        let answer = s.call(&w.alice, body.clone());
        assert_error(&answer, 400, "validation_error");
        assert_eq!(
            answer.body["details"]["field"], field,
            "{body}: {}",
            answer.text
        );
    }
}

fn pagination_returns_every_row_once_while_rows_arrive(w: &World) {
    let s = &w.stack;
    // Four more rows started in the same millisecond an hour ago: ties are split by id.
    let tie = s.d1("SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 hour') AS t")[0]["t"]
        .as_str()
        .unwrap()
        .to_string();
    s.d1(&format!(
        "INSERT INTO mcp_tool_executions (id, team_id, user_id, server_id, tool_name, status, started_at, duration_ms) VALUES \
         ('tie-1', 'team-a', 'alice', 'x', 'echo', 'success', '{tie}', 1), ('tie-2', 'team-a', 'alice', 'x', 'echo', 'success', '{tie}', 1), \
         ('tie-3', 'team-a', 'alice', 'x', 'echo', 'success', '{tie}', 1), ('tie-4', 'team-a', 'alice', 'x', 'echo', 'success', '{tie}', 1) RETURNING id"
    ));
    let ties: Vec<ExecutionFact> = (1..=4)
        .map(|i| ExecutionFact {
            execution_id: format!("tie-{i}"),
            team_id: "team-a".into(),
            user_id: "alice".into(),
            server_id: "x".into(),
            tool_name: "echo".into(),
            status: Status::Success,
            duration_ms: Some(1),
            started_at: tie.clone(),
            error: None,
        })
        .collect();
    s.d1_exec(&fold_sql(&ties));
    let expected: Vec<String> = s
        .d1("SELECT id FROM mcp_tool_executions WHERE team_id = 'team-a' ORDER BY started_at DESC, id DESC")
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(expected.len(), 13);

    let server_a = s.d1("SELECT id FROM mcp_servers WHERE team_id = 'team-a'")[0]["id"].clone();
    let mut seen = Vec::new();
    let mut cursor = Value::Null;
    let mut pages = 0;
    let mut late = Vec::new();
    loop {
        let page = ok(&s.call(
            &w.alice,
            json!({"action": "list_executions", "limit": 2, "cursor": cursor}),
        ))
        .clone();
        seen.extend(ids(&page["executions"]));
        pages += 1;
        if pages == 1 || pages == 4 {
            // New calls arrive mid-pagination; they are newer than every listed row.
            let answer = s.call(
                &w.bob,
                json!({"action": "call_tool", "server_id": server_a, "tool_name": "echo", "parameters": {"message": "late"}}),
            );
            late.push(format!(
                "'{}'",
                ok(&answer)["execution_id"].as_str().unwrap()
            ));
        }
        match &page["next_cursor"] {
            Value::Null => break,
            c => cursor = c.clone(),
        }
    }
    assert_eq!(
        seen, expected,
        "every row exactly once, in (started_at, id) order"
    );
    assert_eq!(pages, 7);
    // The late calls reach D1 from the team's ledger shortly after they answer.
    s.await_rows(
        &format!(
            "SELECT id FROM mcp_tool_executions WHERE id IN ({})",
            late.join(",")
        ),
        2,
    );
    let now = ok(&s.call(&w.alice, json!({"action": "list_executions", "limit": 200})))
        ["executions"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(now, 15, "the two late calls are listed from the top");
}

fn retention_deletes_exactly_the_rows_older_than_the_window(w: &World) {
    let s = &w.stack;
    // EXECUTION_RETENTION_DAYS = 90 (functions/sync_tools/wrangler.toml).
    let mut values = Vec::new();
    for (i, team) in ["team-a", "team-a", "team-b"].iter().enumerate() {
        values.push(format!(
            "('old-{i}', '{team}', 'u', 's', 'echo', 'success', strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-90 days', '-10 minutes'))"
        ));
        values.push(format!(
            "('kept-{i}', '{team}', 'u', 's', 'echo', 'error', strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-90 days', '+10 minutes'))"
        ));
    }
    values.push(
        "('ancient', 'team-b', 'u', 's', 'echo', 'pending', '2001-01-01T00:00:00.000Z')"
            .to_string(),
    );
    s.d1(&format!(
        "INSERT INTO mcp_tool_executions (id, team_id, user_id, server_id, tool_name, status, started_at) VALUES {} RETURNING id",
        values.join(", ")
    ));
    let before: HashSet<String> = s
        .d1("SELECT id FROM mcp_tool_executions")
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();

    let cron = s.cron_runner();
    assert_eq!(cron.trigger(HEALTH), 200);
    let after: HashSet<String> = s
        .d1("SELECT id FROM mcp_tool_executions")
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    let gone: HashSet<String> = before.difference(&after).cloned().collect();
    let expected: HashSet<String> = ["old-0", "old-1", "old-2", "ancient"]
        .map(String::from)
        .into();
    assert_eq!(gone, expected, "cron log:\n{}", cron.log_text());
    assert!(after.is_subset(&before));
    assert!(["kept-0", "kept-1", "kept-2"]
        .iter()
        .all(|id| after.contains(*id)));
    assert!(
        cron.log_text().contains("4 old executions deleted"),
        "{}",
        cron.log_text()
    );
    // The team's real history is untouched.
    let r = report(w, &w.alice, "most_used", 30);
    let total: u64 = r["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["executions"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 15, "{r}");
}
