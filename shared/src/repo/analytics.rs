//! Execution history and usage analytics over `mcp_tool_executions` (joined to `mcp_servers`
//! and `mcp_tools` for current names and ids), and the retention sweep.
//!
//! Invariants:
//! - Every read filters by `team_id` first (`team_id = ?1`), also inside every join and
//!   subquery: D1 has no row-level security, these filters are the isolation policy.
//! - Every query is served by an index of migration 0003 (named beside it); at 1 million rows
//!   `scripts/bench-analytics.sh` prints each one's time and `EXPLAIN QUERY PLAN`.
//! - Statements are static text with parameters (`Statement::sql` is `&'static str`): optional
//!   filters are `(?n IS NULL OR col = ?n)`, and the filter that should drive the index (user,
//!   server) picks one of three statements instead.
//! - Percentiles are nearest-rank over finished executions (those with a duration): the value
//!   at rank `ceil(p/100 × n)` in duration order, computed in SQL with `ROW_NUMBER()`.
//! - The list is ordered by `(started_at DESC, id DESC)`, a total order, and pages continue
//!   strictly below the last row's `(started_at, id)`: rows never repeat or go missing between
//!   pages, and rows that arrive meanwhile (newer) never shift the pages still to come.

use serde::{Deserialize, Serialize};

use super::executions::Status;
use crate::db::Database;
use crate::error::Result;
use crate::stmt;

/// Groups (tools) a tool-stats query answers at most.
pub const MAX_TOOL_GROUPS: u32 = 1000;
/// Error messages are grouped by their first this many characters.
pub const ERROR_MESSAGE_CHARS: u32 = 300;
/// Error text shown per row of the list (`get_execution` has it whole).
pub const LIST_ERROR_CHARS: u32 = 500;

/// Windows up to this many days group by tool over the time range; longer ones in tool order.
pub const SHORT_WINDOW_DAYS: u64 = 7;

/// Per-tool counts and average over a window, the `?3` most executed, each with its nearest-rank
/// percentiles as a JSON array `[p50, p95, p99]`. The percentiles read each tool's range of
/// idx_executions_team_tool_duration, already in duration order (ROW_NUMBER() needs no sort).
/// The grouping: a short window reads its time range of idx_executions_team_time_cover and
/// sorts it (few rows); a long one (`+started_at`: not a range) reads the team's part of
/// idx_executions_team_tool_duration in tool order, without a sort (at 500,000 rows in 90 days:
/// about 0.2 s instead of 0.8 s; at 1 day: 60 ms instead of 10 ms, hence the two).
macro_rules! tool_stats_sql {
    ($since:literal) => {
        concat!(
            "WITH agg AS (
  SELECT server_id, tool_name,
         count(*) AS executions,
         sum(status = 'success') AS successes,
         sum(status = 'error') AS errors,
         sum(status = 'timeout') AS timeouts,
         count(duration_ms) AS timed_executions,
         avg(duration_ms) AS avg_duration_ms,
         min(duration_ms) AS min_ms,
         max(duration_ms) AS max_ms,
         max(started_at) AS last_executed_at
  FROM mcp_tool_executions
  WHERE team_id = ?1 AND ", $since, " >= ?2
  GROUP BY server_id, tool_name
  ORDER BY executions DESC, tool_name, server_id
  LIMIT ?3
)
SELECT agg.*, t.id AS tool_id,
       coalesce(s.name, (SELECT x.server_name FROM mcp_tool_executions x
                         WHERE x.team_id = ?1 AND x.server_id = agg.server_id
                         ORDER BY x.started_at DESC LIMIT 1)) AS server_name,
       (SELECT json_array(max(CASE WHEN rn = (agg.timed_executions * 50 + 99) / 100 THEN d END),
                          max(CASE WHEN rn = (agg.timed_executions * 95 + 99) / 100 THEN d END),
                          max(CASE WHEN rn = (agg.timed_executions * 99 + 99) / 100 THEN d END))
        FROM (SELECT y.duration_ms AS d, ROW_NUMBER() OVER (ORDER BY y.duration_ms) AS rn
              FROM mcp_tool_executions y
              WHERE y.team_id = ?1 AND y.server_id = agg.server_id AND y.tool_name = agg.tool_name
                AND y.duration_ms IS NOT NULL AND y.started_at >= ?2)) AS percentiles
FROM agg
LEFT JOIN mcp_servers s ON s.id = agg.server_id AND s.team_id = ?1
LEFT JOIN mcp_tools t ON t.server_id = agg.server_id AND t.tool_name = agg.tool_name AND t.team_id = ?1
ORDER BY agg.executions DESC, agg.tool_name, agg.server_id"
        )
    };
}
const TOOL_STATS_SHORT: &str = tool_stats_sql!("started_at");
const TOOL_STATS_LONG: &str = tool_stats_sql!("+started_at");

/// Per UTC day. Index: idx_executions_team_time_cover (range on started_at, covering).
const DAILY: &str = "\
SELECT substr(started_at, 1, 10) AS date,
       count(*) AS executions,
       sum(status = 'success') AS successes,
       sum(status = 'error') AS failures,
       sum(status = 'timeout') AS timeouts,
       avg(duration_ms) AS avg_duration_ms
FROM mcp_tool_executions
WHERE team_id = ?1 AND started_at >= ?2
GROUP BY date ORDER BY date";

/// Failures by tool, server, status and message. Index: idx_executions_team_status_time (two
/// ranges, error and timeout; only failed rows are read). With exactly one `max()`, SQLite
/// takes the bare `id` from the row holding it: the last occurrence.
const ERRORS: &str = "\
SELECT e.*,
       coalesce(s.name, (SELECT x.server_name FROM mcp_tool_executions x
                         WHERE x.team_id = ?1 AND x.server_id = e.server_id
                         ORDER BY x.started_at DESC LIMIT 1)) AS server_name
FROM (
  SELECT server_id, tool_name, status,
         substr(coalesce(error, ''), 1, ?4) AS message,
         count(*) AS occurrences,
         max(started_at) AS last_occurred_at,
         id AS last_execution_id
  FROM mcp_tool_executions
  WHERE team_id = ?1 AND status IN ('error', 'timeout') AND started_at >= ?2
  GROUP BY server_id, tool_name, status, message
) e
LEFT JOIN mcp_servers s ON s.id = e.server_id AND s.team_id = ?1
ORDER BY e.occurrences DESC, e.last_occurred_at DESC
LIMIT ?3";

/// Failures in total (the list above is capped). Index: idx_executions_team_status_time.
const ERROR_TOTAL: &str = "\
SELECT count(*) AS n FROM mcp_tool_executions
WHERE team_id = ?1 AND status IN ('error', 'timeout') AND started_at >= ?2";

/// Per user. A short window reads its time range of idx_executions_team_time_cover and sorts
/// it; a long one (`+started_at`) reads idx_executions_team_user_time in user order (covering,
/// no sort for the grouping).
macro_rules! users_sql {
    ($since:literal) => {
        concat!(
            "SELECT user_id,
       count(*) AS executions,
       sum(status = 'success') AS successes,
       sum(status = 'error') AS errors,
       sum(status = 'timeout') AS timeouts,
       count(DISTINCT server_id || char(31) || tool_name) AS distinct_tools,
       avg(duration_ms) AS avg_duration_ms,
       max(started_at) AS last_executed_at
FROM mcp_tool_executions
WHERE team_id = ?1 AND ",
            $since,
            " >= ?2
GROUP BY user_id
ORDER BY executions DESC, user_id
LIMIT ?3"
        )
    };
}
const USERS_SHORT: &str = users_sql!("started_at");
const USERS_LONG: &str = users_sql!("+started_at");

/// Parameters: ?1 team, ?2 since (inclusive), ?3/?4 upper bound (started_at, id) exclusive
/// (the cursor, or `until` with an empty id), ?5 server, ?6 tool, ?7 status, ?8 user, ?9 limit.
macro_rules! list_sql {
    ($driving:literal) => {
        concat!(
            "SELECT id, user_id, server_id, server_name, tool_id, tool_name, request_id, status, \
             started_at, completed_at, duration_ms, substr(error, 1, ",
            500,
            ") AS error \
             FROM mcp_tool_executions \
             WHERE team_id = ?1 AND ",
            $driving,
            " AND started_at >= ?2 AND (started_at, id) < (?3, ?4) \
             AND (?5 IS NULL OR server_id = ?5) AND (?6 IS NULL OR tool_name = ?6) \
             AND (?7 IS NULL OR status = ?7) AND (?8 IS NULL OR user_id = ?8) \
             ORDER BY started_at DESC, id DESC LIMIT ?9"
        )
    };
}
/// Index: idx_executions_team_user_time.
const LIST_BY_USER: &str = list_sql!("user_id = ?8");
/// Index: idx_executions_team_server_time.
const LIST_BY_SERVER: &str = list_sql!("server_id = ?5");
/// Index: idx_executions_team_time_cover (the other filters are checked inside the index).
const LIST_ALL: &str = list_sql!("1 = 1");

/// Index: the primary key.
const GET: &str = "\
SELECT id, user_id, server_id, server_name, tool_id, tool_name, request_id, input, output,
       error, status, started_at, completed_at, duration_ms
FROM mcp_tool_executions
WHERE team_id = ?1 AND id = ?2 AND (?3 IS NULL OR user_id = ?3)";

/// One retention batch. `status IN (…every status…)` lets idx_executions_status (status,
/// started_at) serve the cutoff as four ranges; rowids keep the delete on the same rows.
const RETENTION_BATCH: &str = "\
DELETE FROM mcp_tool_executions WHERE rowid IN (
  SELECT rowid FROM mcp_tool_executions
  WHERE status IN ('pending', 'success', 'error', 'timeout') AND started_at < ?1
  LIMIT ?2)";

/// Every statement above with a name and its index, for the benchmark's plans and the tests.
pub const STATEMENTS: &[(&str, &str)] = &[
    ("tool_stats_short", TOOL_STATS_SHORT),
    ("tool_stats_long", TOOL_STATS_LONG),
    ("daily", DAILY),
    ("errors", ERRORS),
    ("error_total", ERROR_TOTAL),
    ("users_short", USERS_SHORT),
    ("users_long", USERS_LONG),
    ("list_all", LIST_ALL),
    ("list_by_user", LIST_BY_USER),
    ("list_by_server", LIST_BY_SERVER),
    ("get", GET),
    ("retention_batch", RETENTION_BATCH),
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolStats {
    pub server_id: String,
    pub tool_name: String,
    pub tool_id: Option<String>,
    pub server_name: Option<String>,
    pub executions: u64,
    pub successes: u64,
    pub errors: u64,
    pub timeouts: u64,
    /// Executions with a duration (finished); the percentiles are over these.
    pub timed_executions: u64,
    pub avg_duration_ms: Option<f64>,
    pub min_ms: Option<u64>,
    pub max_ms: Option<u64>,
    pub p50_ms: Option<u64>,
    pub p95_ms: Option<u64>,
    pub p99_ms: Option<u64>,
    pub last_executed_at: Option<String>,
}

#[derive(Deserialize)]
struct ToolStatsRow {
    server_id: String,
    tool_name: String,
    tool_id: Option<String>,
    server_name: Option<String>,
    executions: u64,
    successes: u64,
    errors: u64,
    timeouts: u64,
    timed_executions: u64,
    avg_duration_ms: Option<f64>,
    min_ms: Option<u64>,
    max_ms: Option<u64>,
    last_executed_at: Option<String>,
    /// `[p50, p95, p99]` as JSON text.
    percentiles: Option<String>,
}

/// Per tool (server id + tool name: history outlives a tool's row) over the last `days` days
/// (from `since`), the `limit` most executed, most executed first.
pub async fn tool_stats<D: Database>(
    db: &D,
    team_id: &str,
    since: &str,
    days: u64,
    limit: u32,
) -> Result<Vec<ToolStats>> {
    let sql = if days <= SHORT_WINDOW_DAYS {
        TOOL_STATS_SHORT
    } else {
        TOOL_STATS_LONG
    };
    let rows: Vec<ToolStatsRow> = db
        .query_as(stmt!(sql, team_id, since, limit.min(MAX_TOOL_GROUPS)))
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let p: [Option<u64>; 3] = r
                .percentiles
                .as_deref()
                .and_then(|text| serde_json::from_str(text).ok())
                .unwrap_or_default();
            ToolStats {
                server_id: r.server_id,
                tool_name: r.tool_name,
                tool_id: r.tool_id,
                server_name: r.server_name,
                executions: r.executions,
                successes: r.successes,
                errors: r.errors,
                timeouts: r.timeouts,
                timed_executions: r.timed_executions,
                avg_duration_ms: r.avg_duration_ms,
                min_ms: r.min_ms,
                max_ms: r.max_ms,
                p50_ms: p[0],
                p95_ms: p[1],
                p99_ms: p[2],
                last_executed_at: r.last_executed_at,
            }
        })
        .collect())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Day {
    pub date: String,
    pub executions: u64,
    pub successes: u64,
    pub failures: u64,
    pub timeouts: u64,
    pub avg_duration_ms: Option<f64>,
}

/// Days (UTC) with executions since `since`, oldest first.
pub async fn daily<D: Database>(db: &D, team_id: &str, since: &str) -> Result<Vec<Day>> {
    db.query_as(stmt!(DAILY, team_id, since)).await
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorGroup {
    pub server_id: String,
    pub server_name: Option<String>,
    pub tool_name: String,
    pub status: Status,
    pub message: String,
    pub occurrences: u64,
    pub last_occurred_at: String,
    pub last_execution_id: String,
}

/// Failed and timed-out executions grouped by server, tool, status and message, most
/// frequent first; and how many failed in total.
pub async fn errors<D: Database>(
    db: &D,
    team_id: &str,
    since: &str,
    limit: u32,
) -> Result<(Vec<ErrorGroup>, u64)> {
    let groups = db
        .query_as(stmt!(ERRORS, team_id, since, limit, ERROR_MESSAGE_CHARS))
        .await?;
    #[derive(Deserialize)]
    struct N {
        n: u64,
    }
    let total = db
        .query_one::<N>(stmt!(ERROR_TOTAL, team_id, since))
        .await?
        .map_or(0, |r| r.n);
    Ok((groups, total))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserActivity {
    pub user_id: String,
    pub executions: u64,
    pub successes: u64,
    pub errors: u64,
    pub timeouts: u64,
    pub distinct_tools: u64,
    pub avg_duration_ms: Option<f64>,
    pub last_executed_at: String,
}

/// Per user over the last `days` days (from `since`), most active first.
pub async fn user_activity<D: Database>(
    db: &D,
    team_id: &str,
    since: &str,
    days: u64,
    limit: u32,
) -> Result<Vec<UserActivity>> {
    let sql = if days <= SHORT_WINDOW_DAYS {
        USERS_SHORT
    } else {
        USERS_LONG
    };
    db.query_as(stmt!(sql, team_id, since, limit)).await
}

/// The filters of one list page. `before` is the exclusive upper bound on (started_at, id).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListFilter {
    pub since: String,
    pub before: (String, String),
    pub server_id: Option<String>,
    pub tool_name: Option<String>,
    pub status: Option<Status>,
    pub user_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionSummary {
    pub id: String,
    pub user_id: String,
    pub server_id: String,
    pub server_name: Option<String>,
    pub tool_id: Option<String>,
    pub tool_name: String,
    pub request_id: Option<String>,
    pub status: Status,
    pub started_at: String,
    pub completed_at: Option<String>,
    pub duration_ms: Option<u64>,
    pub error: Option<String>,
}

/// Up to `limit` executions of the team matching `f`, newest first.
pub async fn list<D: Database>(
    db: &D,
    team_id: &str,
    f: &ListFilter,
    limit: u32,
) -> Result<Vec<ExecutionSummary>> {
    let sql = if f.user_id.is_some() {
        LIST_BY_USER
    } else if f.server_id.is_some() {
        LIST_BY_SERVER
    } else {
        LIST_ALL
    };
    db.query_as(stmt!(
        sql,
        team_id,
        f.since.as_str(),
        f.before.0.as_str(),
        f.before.1.as_str(),
        f.server_id.as_deref(),
        f.tool_name.as_deref(),
        f.status.map(Status::as_str),
        f.user_id.as_deref(),
        limit
    ))
    .await
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    pub id: String,
    pub user_id: String,
    pub server_id: String,
    pub server_name: Option<String>,
    pub tool_id: Option<String>,
    pub tool_name: String,
    pub request_id: Option<String>,
    pub input: Option<String>,
    pub output: Option<String>,
    pub error: Option<String>,
    pub status: Status,
    pub started_at: String,
    pub completed_at: Option<String>,
    pub duration_ms: Option<u64>,
}

/// One execution of the team (of `only_user`'s, when given).
pub async fn get<D: Database>(
    db: &D,
    team_id: &str,
    id: &str,
    only_user: Option<&str>,
) -> Result<Option<Execution>> {
    db.query_one(stmt!(GET, team_id, id, only_user)).await
}

/// Deletes executions (every team's) that started before `cutoff`, `batch` rows per statement
/// and at most `max_batches` statements; answers how many rows went.
pub async fn delete_started_before<D: Database>(
    db: &D,
    cutoff: &str,
    batch: u32,
    max_batches: u32,
) -> Result<u64> {
    let mut deleted = 0;
    for _ in 0..max_batches {
        let n = db.execute(stmt!(RETENTION_BATCH, cutoff, batch)).await?;
        deleted += n;
        if n < u64::from(batch) {
            break;
        }
    }
    Ok(deleted)
}
