use serde_json::json;

use super::*;
use crate::actions::testing::{SqliteDb, TWO_TEAMS};
use crate::cache::MemoryCache;

const T0: u64 = 1_795_292_256_000;

fn record(id: &str, tool_id: &str, started_ms: u64) -> Record {
    Record {
        id: id.into(),
        team_id: "team-a".into(),
        user_id: "user-1".into(),
        server_id: "srv-a".into(),
        server_name: "alpha".into(),
        tool_id: tool_id.into(),
        tool_name: "echo".into(),
        request_id: format!("req-{id}"),
        input: "{}".into(),
        started_ms,
        deadline_ms: started_ms + 30_000 + ABANDON_MARGIN_MS,
        credential_id: None,
    }
}

fn done(id: &str, tool_id: &str, status: Status, duration_ms: u64) -> Done {
    let r = record(id, tool_id, T0);
    Done {
        end: End {
            id: id.into(),
            tool_id: tool_id.into(),
            status,
            output: Some("{\"ok\":true}".into()),
            error: (status != Status::Success).then(|| "boom".to_string()),
            duration_ms,
            ended_ms: T0 + duration_ms,
        },
        record: r,
    }
}

fn db() -> SqliteDb {
    let db = SqliteDb::migrated();
    db.exec(TWO_TEAMS);
    db
}

#[tokio::test(flavor = "current_thread")]
async fn a_batch_writes_every_row_final_and_folds_statistics_per_tool() {
    let db = db();
    let batch = vec![
        done("e1", "tool-a1", Status::Success, 10),
        done("e2", "tool-a1", Status::Error, 30),
        done("e3", "tool-a2", Status::Timeout, 5),
    ];
    let stmts = flush_statements("b1", "team-a", &batch, T0 + 100);
    // One marker, three rows, two tools, then the rollups folded per group.
    assert_eq!(stmts.len(), 1 + 3 + 2 + rollups_of(&batch));
    db.batch(stmts).await.unwrap();
    assert_eq!(
        db.scalar("SELECT group_concat(id || ':' || status, ',') FROM (SELECT * FROM mcp_tool_executions ORDER BY id)"),
        json!("e1:success,e2:error,e3:timeout")
    );
    assert_eq!(
        db.scalar("SELECT execution_count || '/' || success_count || '/' || error_count || '/' || avg_duration_ms FROM mcp_tools WHERE id = 'tool-a1'"),
        json!("2/1/1/20.0")
    );
    assert_eq!(
        db.scalar("SELECT completed_at FROM mcp_tool_executions WHERE id = 'e2'"),
        json!(iso_from_ms(T0 + 30))
    );
    assert!(applied(&db, "b1").await.unwrap());
    assert!(!applied(&db, "b2").await.unwrap());
}

#[tokio::test(flavor = "current_thread")]
async fn folded_statistics_equal_finishing_the_same_calls_one_at_a_time() {
    let batch: Vec<Done> = (0..7)
        .map(|i| {
            let status = if i % 3 == 0 {
                Status::Error
            } else {
                Status::Success
            };
            done(&format!("e{i}"), "tool-a1", status, 3 + 11 * i)
        })
        .collect();
    let folded = db();
    folded
        .batch(flush_statements("b", "team-a", &batch, T0))
        .await
        .unwrap();

    let one_by_one = db();
    let cache = MemoryCache::new();
    for d in &batch {
        let ledger = direct(&one_by_one, &cache);
        let gate = ledger.start(&d.record, Admit::AskBreaker, 1_000).await;
        assert_eq!(gate.unwrap(), Gate::Allow);
        ledger.finish(&d.record, &d.end, None).await.unwrap();
    }
    let stats = "SELECT execution_count || '/' || success_count || '/' || error_count || '/' || round(avg_duration_ms, 6) FROM mcp_tools WHERE id = 'tool-a1'";
    assert_eq!(folded.scalar(stats), one_by_one.scalar(stats));
    let rows = "SELECT group_concat(id || status || duration_ms || started_at || completed_at || coalesce(error, '-'), ',') FROM (SELECT * FROM mcp_tool_executions ORDER BY id)";
    assert_eq!(folded.scalar(rows), one_by_one.scalar(rows));
    for table in ROLLUPS {
        let (a, b) = (
            rows_of(&folded, table).await,
            rows_of(&one_by_one, table).await,
        );
        assert!(!a.is_empty(), "{table}");
        assert_eq!(a, b, "{table}");
    }
}

/// Statements the rollups take for `batch` (folded per group: fewer than the calls).
fn rollups_of(batch: &[Done]) -> usize {
    let facts: Vec<_> = batch.iter().map(Done::fact).collect();
    crate::repo::rollups::fold(&facts).len()
}

const ROLLUPS: [&str; 4] = [
    "execution_rollup_tools",
    "execution_rollup_errors",
    "execution_rollup_users",
    "execution_rollup_user_tools",
];

/// A table's rows as sorted JSON texts.
async fn rows_of(db: &SqliteDb, table: &str) -> Vec<String> {
    let sql: &'static str = Box::leak(format!("SELECT * FROM {table}").into_boxed_str());
    let mut rows: Vec<String> = db
        .query(crate::db::Statement::new(sql, vec![]))
        .await
        .unwrap()
        .into_iter()
        .map(|r| serde_json::Value::Object(r).to_string())
        .collect();
    rows.sort();
    rows
}

#[tokio::test(flavor = "current_thread")]
async fn a_replayed_batch_fails_whole_and_counts_nothing_twice() {
    let db = db();
    let batch = vec![done("e1", "tool-a1", Status::Success, 10)];
    db.batch(flush_statements("b1", "team-a", &batch, T0))
        .await
        .unwrap();
    assert!(db
        .batch(flush_statements("b1", "team-a", &batch, T0))
        .await
        .is_err());
    assert_eq!(
        db.scalar("SELECT execution_count FROM mcp_tools WHERE id = 'tool-a1'"),
        json!(1)
    );
    assert!(applied(&db, "b1").await.unwrap());
}

#[tokio::test(flavor = "current_thread")]
async fn the_direct_ledger_finishes_a_record_once() {
    let db = db();
    let cache = MemoryCache::new();
    let ledger = direct(&db, &cache);
    let d = done("e1", "tool-a1", Status::Success, 10);
    ledger
        .start(&d.record, Admit::AskBreaker, 1_000)
        .await
        .unwrap();
    assert_eq!(
        db.scalar("SELECT status FROM mcp_tool_executions WHERE id = 'e1'"),
        json!("pending")
    );
    ledger.finish(&d.record, &d.end, None).await.unwrap();
    ledger.finish(&d.record, &d.end, None).await.unwrap();
    assert_eq!(
        db.scalar("SELECT execution_count FROM mcp_tools WHERE id = 'tool-a1'"),
        json!(1)
    );
}

#[test]
fn an_abandoned_record_ends_as_an_error_timed_from_its_start() {
    let r = record("e1", "tool-a1", T0);
    let end = abandoned(&r, T0 + 95_000);
    assert_eq!(end.status, Status::Error);
    assert_eq!(end.duration_ms, 95_000);
    assert_eq!(end.error.as_deref(), Some(ABANDONED));
    assert_eq!(end.tool_id, "tool-a1");
}

#[tokio::test(flavor = "current_thread")]
async fn a_batch_records_each_credentials_latest_use_once() {
    let db = db();
    db.exec(
        "INSERT INTO mcp_server_credentials (id, server_id, team_id, credential_type, encrypted_value, key_id) \
         VALUES ('cred-a', 'srv-a', 'team-a', 'bearer', 'sealed', 'k1')",
    );
    let mut batch = vec![
        done("e1", "tool-a1", Status::Success, 10),
        done("e2", "tool-a1", Status::Success, 10),
        done("e3", "tool-a1", Status::Success, 10),
    ];
    batch[0].record.credential_id = Some("cred-a".into());
    batch[1].record.credential_id = Some("cred-a".into());
    batch[1].record.started_ms = T0 + 5_000;
    let stmts = flush_statements("b1", "team-a", &batch, T0);
    // Marker, three rows, one tool, the rollups, one credential.
    assert_eq!(stmts.len(), 1 + 3 + 1 + rollups_of(&batch) + 1);
    db.batch(stmts).await.unwrap();
    assert_eq!(
        db.scalar("SELECT last_used_at FROM mcp_server_credentials WHERE id = 'cred-a'"),
        json!(iso_from_ms(T0 + 5_000))
    );
}

fn direct<'a>(db: &'a SqliteDb, cache: &'a MemoryCache) -> DirectLedger<'a, SqliteDb, MemoryCache> {
    DirectLedger {
        db,
        cache,
        team_id: "team-a",
        now_ms: T0,
    }
}

#[test]
fn the_flush_delay_defaults_to_a_minute_and_refuses_what_is_not_milliseconds() {
    use crate::ledger::{flush_delay_ms, DEFAULT_FLUSH_DELAY_MS, MAX_FLUSH_DELAY_MS};
    assert_eq!(flush_delay_ms(None).unwrap(), DEFAULT_FLUSH_DELAY_MS);
    assert_eq!(flush_delay_ms(Some(" ")).unwrap(), DEFAULT_FLUSH_DELAY_MS);
    assert_eq!(flush_delay_ms(Some("200")).unwrap(), 200);
    assert_eq!(flush_delay_ms(Some("0")).unwrap(), 0);
    let max = MAX_FLUSH_DELAY_MS.to_string();
    assert_eq!(flush_delay_ms(Some(&max)).unwrap(), MAX_FLUSH_DELAY_MS);
    for bad in ["-1", "1.5", "60s", "600001"] {
        let err = flush_delay_ms(Some(bad)).unwrap_err().to_string();
        assert!(err.contains("LEDGER_FLUSH_DELAY_MS"), "{bad}: {err}");
    }
}
