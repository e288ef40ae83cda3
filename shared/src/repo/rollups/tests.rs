//! `fold` on the real schema (SQLite, the real migrations): batch aggregation, groups, the
//! pending guard, the backfill's agreement with `fold`, the histogram's buckets and error bound.

use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::json;

use super::*;
use crate::actions::testing::{SqliteDb, TWO_TEAMS};
use crate::db::Database;
use crate::repo::executions::{self, Finished, NewExecution};

fn fact(id: &str, team: &str, user: &str, tool: &str, status: Status, at: &str) -> ExecutionFact {
    ExecutionFact {
        execution_id: id.into(),
        team_id: team.into(),
        user_id: user.into(),
        server_id: "srv-a".into(),
        tool_name: tool.into(),
        status,
        duration_ms: Some(10),
        started_at: at.into(),
        error: matches!(status, Status::Error | Status::Timeout).then(|| "boom".to_string()),
    }
}

/// The rows of a rollup table, each as JSON text, sorted.
async fn rows(db: &SqliteDb, table: &str) -> Vec<String> {
    let sql: &'static str = Box::leak(format!("SELECT * FROM {table}").into_boxed_str());
    let mut lines: Vec<String> = db
        .query(crate::db::Statement::new(sql, vec![]))
        .await
        .unwrap()
        .into_iter()
        .map(|row| serde_json::Value::Object(row).to_string())
        .collect();
    lines.sort();
    lines
}

async fn apply(db: &SqliteDb, statements: Vec<crate::db::Statement>) {
    db.batch(statements).await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn a_batch_of_one_tools_calls_costs_one_statement_per_table() {
    let db = SqliteDb::migrated();
    let facts: Vec<ExecutionFact> = (0..50)
        .map(|i| {
            let mut f = fact(
                &format!("e{i}"),
                "team-a",
                "alice",
                "echo",
                Status::Success,
                &format!("2026-11-21T10:{:02}:00.000Z", i),
            );
            f.duration_ms = Some(i);
            f
        })
        .collect();
    let statements = fold(&facts);
    assert_eq!(
        statements.len(),
        3,
        "tools (day and block in one), users, user-tools"
    );
    apply(&db, statements).await;
    assert_eq!(
        db.scalar(
            "SELECT group_concat(span || ':' || start_day || ':' || successes || ':' || timed || ':' \
             || duration_sum || ':' || duration_min || ':' || duration_max || ':' || last_started_at, ' ') \
             FROM (SELECT * FROM execution_rollup_tools ORDER BY span)"
        ),
        json!(
            "1:2026-11-21:50:50:1225:0:49:2026-11-21T10:49:00.000Z \
             8:2026-11-19:50:50:1225:0:49:2026-11-21T10:49:00.000Z"
        ),
        "2026-11-21 is epoch day 20778; its block starts at day 20776, 2026-11-19"
    );
    // 0..15 have a bucket each; 16..49 share 8 buckets per power of two.
    assert_eq!(
        db.scalar(
            "SELECT ((h0 & 4294967295) + (h3 >> 32) + (h7 >> 32)) || '/' || (h8 & 4294967295) || '/' \
             || (h19 >> 32) FROM execution_rollup_tools WHERE span = 1"
        ),
        json!("3/2/0"),
        "buckets 0, 7 and 15 hold one each, 16 holds 16 and 17, 39 nothing"
    );
    assert_eq!(
        db.scalar(
            "SELECT successes || '/' || timed || '/' || duration_sum FROM execution_rollup_users"
        ),
        json!("50/50/1225")
    );

    // The same again adds up (n = n + excluded.n), still one row per group.
    apply(&db, fold(&facts)).await;
    assert_eq!(
        db.scalar("SELECT group_concat(successes) FROM execution_rollup_tools"),
        json!("100,100")
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM execution_rollup_user_tools"),
        json!(1)
    );
}

#[tokio::test(flavor = "current_thread")]
async fn teams_days_users_tools_and_messages_each_form_their_own_group() {
    let db = SqliteDb::migrated();
    let mut facts = vec![
        fact(
            "1",
            "team-a",
            "alice",
            "echo",
            Status::Success,
            "2026-11-21T10:00:00.000Z",
        ),
        fact(
            "2",
            "team-b",
            "alice",
            "echo",
            Status::Success,
            "2026-11-21T10:00:00.000Z",
        ),
        fact(
            "3",
            "team-a",
            "bob",
            "echo",
            Status::Error,
            "2026-11-21T11:00:00.000Z",
        ),
        fact(
            "4",
            "team-a",
            "alice",
            "add",
            Status::Timeout,
            "2026-11-20T23:59:59.999Z",
        ),
        fact(
            "5",
            "team-a",
            "alice",
            "echo",
            Status::Error,
            "2026-11-21T12:00:00.000Z",
        ),
        fact(
            "6",
            "team-a",
            "alice",
            "echo",
            Status::Pending,
            "2026-11-21T12:00:00.000Z",
        ),
    ];
    facts[4].error = Some("other".into());
    let statements = fold(&facts);
    // tools: (a, 21, echo), (b, 21, echo), (a, 20, add) = 3; errors: (echo, boom), (echo,
    // other), (add, timeout boom) = 3; users: (a, 21, alice), (b, 21, alice), (a, 21, bob),
    // (a, 20, alice) = 4; user-tools: (a, alice, echo), (b, alice, echo), (a, bob, echo),
    // (a, alice, add) = 4.
    assert_eq!(statements.len(), 14);
    apply(&db, statements).await;
    assert_eq!(
        db.scalar(
            "SELECT sum(successes + errors + timeouts) FROM execution_rollup_tools WHERE span = 1"
        ),
        json!(5),
        "the pending fact is not rolled up"
    );
    assert_eq!(
        db.scalar(
            "SELECT group_concat(start_day || ' ' || tool_name || ' ' || status || ' ' || message || ' ' \
             || occurrences || ' ' || last_execution_id, '; ') FROM (SELECT * FROM execution_rollup_errors \
             WHERE span = 1 ORDER BY start_day, tool_name, message)"
        ),
        json!("2026-11-20 add timeout boom 1 4; 2026-11-21 echo error boom 1 3; 2026-11-21 echo error other 1 5")
    );
    assert_eq!(
        db.scalar("SELECT group_concat(team_id || '/' || day || '/' || user_id, ' ') FROM execution_rollup_users"),
        json!("team-a/2026-11-20/alice team-a/2026-11-21/alice team-a/2026-11-21/bob team-b/2026-11-21/alice")
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_finish_rolls_the_row_up_once_however_often_it_is_finished() {
    let db = SqliteDb::migrated();
    db.exec(TWO_TEAMS);
    executions::start(
        &db,
        NewExecution {
            id: "x1",
            team_id: "team-a",
            user_id: "alice",
            server_id: "srv-a",
            server_name: "alpha",
            tool_id: "tool-a1",
            tool_name: "echo",
            request_id: "r",
            input: "{}",
            started_at: "2026-11-21T10:00:00.000Z",
        },
    )
    .await
    .unwrap();
    let finished = Finished {
        id: "x1",
        tool_id: "tool-a1",
        status: Status::Error,
        output: None,
        error: Some("boom"),
        duration_ms: 42,
        completed_at: "2026-11-21T10:00:00.042Z",
    };
    let finished_fact = ExecutionFact {
        duration_ms: Some(42),
        ..fact(
            "x1",
            "team-a",
            "alice",
            "echo",
            Status::Error,
            "2026-11-21T10:00:00.000Z",
        )
    };
    for _ in 0..3 {
        executions::finish(&db, finished, &finished_fact)
            .await
            .unwrap();
    }
    assert_eq!(
        db.scalar("SELECT group_concat(errors || '/' || duration_sum) FROM execution_rollup_tools"),
        json!("1/42,1/42")
    );
    assert_eq!(
        db.scalar("SELECT occurrences || ' ' || last_execution_id FROM execution_rollup_errors WHERE span = 1"),
        json!("1 x1")
    );
    assert_eq!(
        db.scalar("SELECT errors FROM execution_rollup_users"),
        json!(1)
    );
    assert_eq!(
        db.scalar("SELECT error_count FROM mcp_tools WHERE id = 'tool-a1'"),
        json!(1)
    );

    // A fact of a row that is already final adds nothing (the guard), a plain fold does.
    let known = fact(
        "x1",
        "team-a",
        "alice",
        "echo",
        Status::Error,
        "2026-11-21T10:00:00.000Z",
    );
    apply(&db, fold_if_pending(&known)).await;
    assert_eq!(
        db.scalar("SELECT errors FROM execution_rollup_users"),
        json!(1)
    );
    apply(&db, fold(&[known])).await;
    assert_eq!(
        db.scalar("SELECT errors FROM execution_rollup_users"),
        json!(2)
    );
}

/// The backfill part of migration 0008.
fn backfill_sql() -> String {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../migrations/0008_execution_rollups.sql"),
    )
    .unwrap();
    let start = text.find("-- backfill:begin").unwrap();
    let end = text.find("-- backfill:end").unwrap();
    text[start..end].to_string()
}

fn random_facts(rng: &mut StdRng, n: usize) -> Vec<ExecutionFact> {
    let edges = [
        0u64, 1, 7, 8, 15, 16, 17, 31, 32, 33, 1023, 1024, 1025, 524_287, 524_288,
    ];
    (0..n)
        .map(|i| {
            let status = [
                Status::Success,
                Status::Success,
                Status::Error,
                Status::Timeout,
            ][rng.gen_range(0..4)];
            let duration = match rng.gen_range(0..4) {
                0 => edges[rng.gen_range(0..edges.len())],
                1 => rng.gen_range(1_048_570..3_000_000),
                _ => (rng.gen_range(0.0f64..14.0)).exp2() as u64,
            };
            let day = rng.gen_range(1..=28);
            ExecutionFact {
                execution_id: format!("id-{i:04}"),
                team_id: ["team-a", "team-b"][rng.gen_range(0..2)].into(),
                user_id: ["alice", "bob", "carol"][rng.gen_range(0..3)].into(),
                server_id: ["srv-a", "srv-b"][rng.gen_range(0..2)].into(),
                tool_name: ["echo", "add", "slow"][rng.gen_range(0..3)].into(),
                status,
                duration_ms: Some(duration),
                started_at: format!(
                    "2026-11-{day:02}T{:02}:{:02}:00.{:03}Z",
                    rng.gen_range(0..24),
                    rng.gen_range(0..60),
                    i % 1000
                ),
                error: (status != Status::Success)
                    .then(|| ["boom", "kaput", &"é".repeat(400)][rng.gen_range(0..3)].to_string()),
            }
        })
        .collect()
}

#[tokio::test(flavor = "current_thread")]
async fn the_migrations_backfill_builds_exactly_the_rows_fold_keeps() {
    let mut rng = StdRng::seed_from_u64(15);
    let facts = random_facts(&mut rng, 600);
    let folded = SqliteDb::migrated();
    // Folded in uneven batches, as flushes would.
    for chunk in facts.chunks(37) {
        apply(&folded, fold(chunk)).await;
    }
    let backfilled = SqliteDb::migrated();
    for f in &facts {
        backfilled.exec(&format!(
            "INSERT INTO mcp_tool_executions (id, team_id, user_id, server_id, tool_name, status, \
             started_at, duration_ms, error) VALUES ('{}', '{}', '{}', '{}', '{}', '{}', '{}', {}, {})",
            f.execution_id,
            f.team_id,
            f.user_id,
            f.server_id,
            f.tool_name,
            f.status.as_str(),
            f.started_at,
            f.duration_ms.unwrap(),
            f.error.as_deref().map_or("NULL".into(), |e| format!("'{e}'"))
        ));
    }
    backfilled.exec(&backfill_sql());
    for table in [
        "execution_rollup_tools",
        "execution_rollup_errors",
        "execution_rollup_users",
        "execution_rollup_user_tools",
    ] {
        let (a, b) = (rows(&folded, table).await, rows(&backfilled, table).await);
        assert!(!a.is_empty(), "{table}");
        assert_eq!(a, b, "{table}");
    }
}

#[test]
fn every_duration_falls_in_its_buckets_range_and_small_ones_are_exact() {
    let mut last = 0;
    for v in (0..1u64 << 20).step_by(7).chain([(1 << 20) - 1]) {
        let b = bucket(v);
        assert!(b >= last && b < BUCKETS, "{v}: monotonic");
        last = b;
        let (lo, width) = bucket_range(b);
        assert!(lo <= v && v < lo + width, "{v} in [{lo}, {})", lo + width);
        assert!(
            width == 1 || width * 8 <= lo,
            "{v}: width at most 1/8 of the bound"
        );
        if v < 16 {
            assert_eq!((lo, width), (v, 1));
        }
    }
    assert_eq!(bucket(1 << 20), BUCKETS - 1);
    assert_eq!(bucket(u64::MAX), BUCKETS - 1);
}

#[test]
fn histogram_percentiles_are_within_a_sixteenth_of_the_exact_nearest_rank() {
    let mut rng = StdRng::seed_from_u64(7);
    for _ in 0..200 {
        let n = rng.gen_range(1..3000);
        let mut values: Vec<u64> = (0..n)
            .map(|_| rng.gen_range(0.0f64..19.5).exp2() as u64)
            .collect();
        values.sort_unstable();
        let mut hist = vec![0u64; BUCKETS];
        for v in &values {
            hist[bucket(*v)] += 1;
        }
        let (min, max) = (values.first().copied(), values.last().copied());
        for p in [50u64, 95, 99] {
            let exact = values[((n as u64 * p).div_ceil(100) - 1) as usize];
            let estimate = percentile(&hist, p, min, max).unwrap();
            let error = estimate.abs_diff(exact);
            assert!(
                error * 16 <= exact || exact < 16 && error == 0,
                "p{p} of {n}: {estimate} for {exact}"
            );
        }
    }
    assert_eq!(percentile(&[0; BUCKETS], 50, None, None), None);
}

#[test]
fn windows_read_the_days_up_to_the_first_whole_block() {
    assert_eq!(
        Window::starting("2026-10-23T00:00:00.000Z"),
        Window {
            since_day: "2026-10-23".into(),
            first_block: "2026-10-26".into()
        }
    );
    let on_block = Window::starting("2026-11-19T00:00:00.000Z");
    assert_eq!(on_block.first_block, "2026-11-19");
    assert_eq!(on_block.since_day, "2026-11-19");
}

#[tokio::test(flavor = "current_thread")]
async fn retention_deletes_whole_periods_before_the_cutoff_only() {
    let db = SqliteDb::migrated();
    let at = |day: &str| format!("2026-11-{day}T12:00:00.000Z");
    let facts = vec![
        fact("1", "team-a", "alice", "echo", Status::Success, &at("06")),
        fact("2", "team-a", "alice", "echo", Status::Error, &at("14")),
        fact("3", "team-b", "bob", "add", Status::Success, &at("15")),
        fact("4", "team-a", "alice", "echo", Status::Success, &at("16")),
    ];
    apply(&db, fold(&facts)).await;
    // Blocks start on 11-03, 11-11 and 11-19. Cutoff inside 11-15.
    let deleted = delete_before(&db, "2026-11-15T06:00:00.000Z", 2, 100)
        .await
        .unwrap();
    let periods = |db: &SqliteDb| {
        db.scalar(
            "SELECT coalesce(group_concat(span || ' ' || start_day, ', '), '') FROM (SELECT DISTINCT \
             span, start_day FROM execution_rollup_tools ORDER BY span, start_day)",
        )
    };
    assert_eq!(
        periods(&db),
        json!("1 2026-11-15, 1 2026-11-16, 8 2026-11-11"),
        "days before the cutoff's day and the block that ended before it go"
    );
    assert_eq!(
        db.scalar("SELECT group_concat(user_id || ' ' || tool_name, ', ') FROM (SELECT * FROM execution_rollup_user_tools ORDER BY user_id)"),
        json!("alice echo, bob add")
    );
    assert_eq!(
        db.scalar("SELECT group_concat(day, ', ') FROM (SELECT * FROM execution_rollup_users ORDER BY team_id)"),
        json!("2026-11-16, 2026-11-15")
    );
    // tools: 2 days and 1 block; errors: 1 day; users: 2 days.
    assert_eq!(deleted, 6);
    delete_before(&db, "2026-11-18T12:00:00.000Z", 2, 100)
        .await
        .unwrap();
    assert_eq!(
        periods(&db),
        json!("8 2026-11-11"),
        "the block 11-11..11-18 is kept while the cutoff is inside it"
    );
    delete_before(&db, "2026-11-19T00:00:00.000Z", 2, 100)
        .await
        .unwrap();
    assert_eq!(periods(&db), json!(""));
    assert_eq!(
        db.scalar("SELECT count(*) FROM execution_rollup_user_tools"),
        json!(0)
    );
}
