//! Execution history and usage analytics: the reports read the rollups of finished executions
//! (`super::rollups`, migration 0008) plus the window's pending executions live; the list and
//! the detail read `mcp_tool_executions` (joined to `mcp_servers` and `mcp_tools` for current
//! names and ids); and the retention sweep.
//!
//! Invariants:
//! - Every read filters by `team_id` first (`team_id = ?1`), also inside every join and
//!   subquery: D1 has no row-level security, these filters are the isolation policy.
//! - Every query is served by an index (named beside it): a report reads its window's rollup
//!   periods by primary key (a few thousand rows whatever the number of executions) and the
//!   team's pending rows in the window by idx_executions_pending; at 1 million rows
//!   `scripts/bench-analytics.sh` prints each one's time and `EXPLAIN QUERY PLAN`.
//! - Reports count what a scan of the window's executions would: finished ones from the
//!   rollups, pending ones from the table (a finish moves a row from one to the other in one
//!   batch), so counts, averages, minima, maxima, last times and error groups are exact.
//! - Statements are static text with parameters (`Statement::sql` is `&'static str`): optional
//!   filters are `(?n IS NULL OR col = ?n)`, and the filter that should drive the index (user,
//!   server) picks one of three statements instead.
//! - Percentiles are nearest-rank over finished executions (those with a duration), the rank
//!   `ceil(p/100 × n)`: exact (from the tool's executions in the window, at most
//!   [`EXACT_PERCENTILES_MAX`] index entries) while the window holds at most that many;
//!   above, from the window's duration histogram (`rollups::percentile`: exact below 16 ms,
//!   otherwise within 1/16 of the exact value).
//! - The list is ordered by `(started_at DESC, id DESC)`, a total order, and pages continue
//!   strictly below the last row's `(started_at, id)`: rows never repeat or go missing between
//!   pages, and rows that arrive meanwhile (newer) never shift the pages still to come.

use serde::{Deserialize, Serialize};

use super::executions::Status;
use super::rollups::{percentile, unpack, Window};
use crate::db::Database;
use crate::error::Result;
use crate::stmt;

/// Groups (tools) a tool-stats query answers at most.
pub const MAX_TOOL_GROUPS: u32 = 1000;
/// A tool whose window holds at most this many finished executions gets exact percentiles,
/// from its executions (idx_executions_team_tool_time: at most this many index entries);
/// above, from the rollups' histogram.
pub const EXACT_PERCENTILES_MAX: u64 = 100;
/// Error text shown per row of the list (`get_execution` has it whole).
pub const LIST_ERROR_CHARS: u32 = 500;

/// The team's rows of a rollup table for the window's periods: its days up to the first whole
/// block, then whole blocks (`rollups::Window`); two primary-key ranges. ?1 team, ?2 since's
/// day, ?3 first block start.
macro_rules! periods_of {
    ($table:literal) => {
        concat!(
            "(SELECT * FROM ",
            $table,
            " WHERE team_id = ?1 AND span = 1 AND start_day >= ?2 AND start_day < ?3 UNION ALL SELECT * FROM ",
            $table,
            " WHERE team_id = ?1 AND span = 8 AND start_day >= ?3)"
        )
    };
}

/// The team's pending executions (few: cron closes them within minutes), by the partial
/// covering index idx_executions_pending (named: the planner would otherwise take the covering
/// time index and read the whole window).
macro_rules! pending {
    () => {
        "mcp_tool_executions INDEXED BY idx_executions_pending"
    };
}

/// The server's recorded name when its row is gone (the newest execution's; one index probe
/// of idx_executions_team_server_time, only for deleted servers).
macro_rules! recorded_server_name {
    ($alias:literal) => {
        concat!(
            "(SELECT x.server_name FROM mcp_tool_executions x WHERE x.team_id = ?1 AND x.server_id = ",
            $alias,
            ".server_id ORDER BY x.started_at DESC LIMIT 1)"
        )
    };
}

/// Per tool over the window, the ?5 most executed, with the summed duration histogram as a JSON
/// array text. Parameters: ?1 team, ?2 since's day, ?3 first block, ?4 since (ISO), ?5 limit.
/// Reads the window's periods of execution_rollup_tools (primary key) and the pending rows
/// (idx_executions_pending).
fn tool_stats_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        // D1 allows 32 arguments per function and expressions 100 deep: arrays of 24 sums.
        let histogram = (0..super::rollups::COLUMNS)
            .collect::<Vec<_>>()
            .chunks(24)
            .map(|chunk| {
                let sums: Vec<String> = chunk.iter().map(|j| format!("sum(h{j})")).collect();
                format!("json_array({})", sums.join(", "))
            })
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "WITH r AS (
  SELECT server_id, tool_name, sum(successes) AS successes, sum(errors) AS errors,
         sum(timeouts) AS timeouts, sum(cancellations) AS cancellations, sum(timed) AS timed,
         sum(duration_sum) AS duration_sum,
         min(duration_min) AS min_ms, max(duration_max) AS max_ms, max(last_started_at) AS last_at,
         json_array({histogram}) AS histogram
  FROM {periods}
  GROUP BY server_id, tool_name
),
p AS (
  SELECT server_id, tool_name, count(*) AS pending, max(started_at) AS last_at
  FROM {pending}
  WHERE team_id = ?1 AND status = 'pending' AND started_at >= ?4
  GROUP BY server_id, tool_name
),
k AS (SELECT server_id, tool_name FROM r UNION SELECT server_id, tool_name FROM p),
agg AS (
  SELECT k.server_id, k.tool_name,
         coalesce(r.successes + r.errors + r.timeouts + r.cancellations, 0) + coalesce(p.pending, 0) AS executions,
         coalesce(r.successes, 0) AS successes, coalesce(r.errors, 0) AS errors,
         coalesce(r.timeouts, 0) AS timeouts, coalesce(r.cancellations, 0) AS cancellations,
         coalesce(r.timed, 0) AS timed_executions,
         CASE WHEN r.timed > 0 THEN r.duration_sum * 1.0 / r.timed END AS avg_duration_ms,
         r.min_ms, r.max_ms,
         CASE WHEN p.last_at > coalesce(r.last_at, '') THEN p.last_at ELSE r.last_at END AS last_executed_at,
         r.histogram
  FROM k
  LEFT JOIN r ON r.server_id = k.server_id AND r.tool_name = k.tool_name
  LEFT JOIN p ON p.server_id = k.server_id AND p.tool_name = k.tool_name
  ORDER BY executions DESC, k.tool_name, k.server_id
  LIMIT ?5
)
SELECT agg.*, t.id AS tool_id, coalesce(s.name, {server_name}) AS server_name,
       CASE WHEN agg.timed_executions BETWEEN 1 AND {exact_max} THEN
         (SELECT json_array(max(CASE WHEN rn = (agg.timed_executions * 50 + 99) / 100 THEN d END),
                            max(CASE WHEN rn = (agg.timed_executions * 95 + 99) / 100 THEN d END),
                            max(CASE WHEN rn = (agg.timed_executions * 99 + 99) / 100 THEN d END))
          FROM (SELECT y.duration_ms AS d, ROW_NUMBER() OVER (ORDER BY y.duration_ms) AS rn
                FROM mcp_tool_executions y INDEXED BY idx_executions_team_tool_time
                WHERE y.team_id = ?1 AND y.server_id = agg.server_id AND y.tool_name = agg.tool_name
                  AND y.started_at >= ?4 AND y.duration_ms IS NOT NULL))
       END AS exact_percentiles
FROM agg
LEFT JOIN mcp_servers s ON s.id = agg.server_id AND s.team_id = ?1
LEFT JOIN mcp_tools t ON t.server_id = agg.server_id AND t.tool_name = agg.tool_name AND t.team_id = ?1
ORDER BY agg.executions DESC, agg.tool_name, agg.server_id",
            periods = periods_of!("execution_rollup_tools"),
            pending = pending!(),
            server_name = recorded_server_name!("agg"),
            exact_max = EXACT_PERCENTILES_MAX,
        )
    })
}

/// Per UTC day: the day rows of execution_rollup_tools (primary key range) and the pending rows
/// (idx_executions_pending). ?1 team, ?2 since's day, ?3 since (ISO).
const DAILY: &str = concat!(
    "SELECT date, sum(executions) AS executions, sum(successes) AS successes,
       sum(failures) AS failures, sum(timeouts) AS timeouts, sum(cancellations) AS cancellations,
       CASE WHEN sum(timed) > 0 THEN sum(duration_sum) * 1.0 / sum(timed) END AS avg_duration_ms
FROM (
  SELECT start_day AS date, successes + errors + timeouts + cancellations AS executions,
         successes, errors AS failures, timeouts, cancellations, timed, duration_sum
  FROM execution_rollup_tools WHERE team_id = ?1 AND span = 1 AND start_day >= ?2
  UNION ALL
  SELECT substr(started_at, 1, 10), 1, 0, 0, 0, 0, 0, 0
  FROM ",
    pending!(),
    " WHERE team_id = ?1 AND status = 'pending' AND started_at >= ?3
)
GROUP BY date ORDER BY date"
);

/// Failures by tool, server, status and message over the window's periods of
/// execution_rollup_errors (primary key), and the failures in total (over every group, before
/// the limit) on each row. With exactly one `max()`, SQLite takes the bare `last_execution_id`
/// from the row holding it: the last occurrence. ?1 team, ?2 since's day, ?3 first block,
/// ?4 limit.
const ERRORS: &str = concat!(
    "SELECT e.*, coalesce(s.name, ",
    recorded_server_name!("e"),
    ") AS server_name
FROM (
  SELECT server_id, tool_name, status, message, sum(occurrences) AS occurrences,
         max(last_occurred_at) AS last_occurred_at, last_execution_id,
         sum(sum(occurrences)) OVER () AS total_failures
  FROM ",
    periods_of!("execution_rollup_errors"),
    "
  GROUP BY server_id, tool_name, status, message
) e
LEFT JOIN mcp_servers s ON s.id = e.server_id AND s.team_id = ?1
ORDER BY e.occurrences DESC, e.last_occurred_at DESC
LIMIT ?4"
);

/// Per user: the day rows of execution_rollup_users, the users' tools last used in the window
/// (execution_rollup_user_tools, the team's rows), and the pending rows
/// (idx_executions_pending). ?1 team, ?2 since's day, ?3 since (ISO), ?4 limit.
const USERS: &str = concat!(
    "WITH pend AS (
  SELECT user_id, server_id, tool_name, started_at FROM ",
    pending!(),
    "
  WHERE team_id = ?1 AND status = 'pending' AND started_at >= ?3
),
u AS (
  SELECT user_id, sum(successes) AS successes, sum(errors) AS errors, sum(timeouts) AS timeouts,
         sum(cancellations) AS cancellations, sum(timed) AS timed, sum(duration_sum) AS duration_sum, max(last_started_at) AS last_at,
         0 AS pending
  FROM execution_rollup_users WHERE team_id = ?1 AND day >= ?2 GROUP BY user_id
  UNION ALL
  SELECT user_id, 0, 0, 0, 0, 0, 0, max(started_at), count(*) FROM pend GROUP BY user_id
),
t AS (
  SELECT user_id, count(*) AS n FROM (
    SELECT user_id, server_id, tool_name FROM execution_rollup_user_tools
    WHERE team_id = ?1 AND last_started_at >= ?3
    UNION
    SELECT user_id, server_id, tool_name FROM pend
  ) GROUP BY user_id
),
a AS (
  SELECT user_id, sum(successes) + sum(errors) + sum(timeouts) + sum(cancellations) + sum(pending)
         AS executions, sum(successes) AS successes, sum(errors) AS errors,
         sum(timeouts) AS timeouts, sum(cancellations) AS cancellations,
         CASE WHEN sum(timed) > 0 THEN sum(duration_sum) * 1.0 / sum(timed) END AS avg_duration_ms,
         max(last_at) AS last_executed_at
  FROM u GROUP BY user_id
)
SELECT a.user_id, a.executions, a.successes, a.errors, a.timeouts, a.cancellations,
       coalesce(t.n, 0) AS distinct_tools, a.avg_duration_ms, a.last_executed_at
FROM a LEFT JOIN t ON t.user_id = a.user_id
ORDER BY a.executions DESC, a.user_id
LIMIT ?4"
);

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
  WHERE status IN ('pending', 'success', 'error', 'timeout', 'cancelled') AND started_at < ?1
  LIMIT ?2)";

/// Every statement above with a name, for the benchmark's plans and the tests.
pub fn statements() -> Vec<(&'static str, &'static str)> {
    vec![
        ("tool_stats", tool_stats_sql()),
        ("daily", DAILY),
        ("errors", ERRORS),
        ("users", USERS),
        ("list_all", LIST_ALL),
        ("list_by_user", LIST_BY_USER),
        ("list_by_server", LIST_BY_SERVER),
        ("get", GET),
        ("retention_batch", RETENTION_BATCH),
    ]
}

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
    #[serde(default)]
    pub cancellations: u64,
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
    cancellations: u64,
    timed_executions: u64,
    avg_duration_ms: Option<f64>,
    min_ms: Option<u64>,
    max_ms: Option<u64>,
    last_executed_at: Option<String>,
    /// The window's duration histogram columns (`rollups::COLUMNS`, packed) as JSON text: an
    /// array of arrays of 24.
    histogram: Option<String>,
    /// `[p50, p95, p99]` as JSON text, when the window has few enough timed executions.
    exact_percentiles: Option<String>,
}

/// Per tool (server id + tool name: history outlives a tool's row) over the window from
/// `since` (a day's start), the `limit` most executed, most executed first.
pub async fn tool_stats<D: Database>(
    db: &D,
    team_id: &str,
    since: &str,
    limit: u32,
) -> Result<Vec<ToolStats>> {
    let w = Window::starting(since);
    let rows: Vec<ToolStatsRow> = db
        .query_as(stmt!(
            tool_stats_sql(),
            team_id,
            &w.since_day,
            &w.first_block,
            since,
            limit.min(MAX_TOOL_GROUPS)
        ))
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let exact: Option<[Option<u64>; 3]> = r
                .exact_percentiles
                .as_deref()
                .and_then(|text| serde_json::from_str(text).ok());
            let [p50_ms, p95_ms, p99_ms] = exact.unwrap_or_else(|| {
                let chunks: Vec<Vec<u64>> = r
                    .histogram
                    .as_deref()
                    .and_then(|text| serde_json::from_str(text).ok())
                    .unwrap_or_default();
                let hist = unpack(&chunks.concat());
                [50, 95, 99].map(|q| percentile(&hist, q, r.min_ms, r.max_ms))
            });
            ToolStats {
                p50_ms,
                p95_ms,
                p99_ms,
                server_id: r.server_id,
                tool_name: r.tool_name,
                tool_id: r.tool_id,
                server_name: r.server_name,
                executions: r.executions,
                successes: r.successes,
                errors: r.errors,
                timeouts: r.timeouts,
                cancellations: r.cancellations,
                timed_executions: r.timed_executions,
                avg_duration_ms: r.avg_duration_ms,
                min_ms: r.min_ms,
                max_ms: r.max_ms,
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
    #[serde(default)]
    pub cancellations: u64,
    pub avg_duration_ms: Option<f64>,
}

/// Days (UTC) with executions since `since`, oldest first.
pub async fn daily<D: Database>(db: &D, team_id: &str, since: &str) -> Result<Vec<Day>> {
    let w = Window::starting(since);
    db.query_as(stmt!(DAILY, team_id, &w.since_day, since))
        .await
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
    #[derive(Deserialize)]
    struct Row {
        #[serde(flatten)]
        group: ErrorGroup,
        total_failures: u64,
    }
    let w = Window::starting(since);
    let rows: Vec<Row> = db
        .query_as(stmt!(ERRORS, team_id, &w.since_day, &w.first_block, limit))
        .await?;
    let total = rows.first().map_or(0, |r| r.total_failures);
    let groups = rows.into_iter().map(|r| r.group).collect();
    Ok((groups, total))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserActivity {
    pub user_id: String,
    pub executions: u64,
    pub successes: u64,
    pub errors: u64,
    pub timeouts: u64,
    #[serde(default)]
    pub cancellations: u64,
    pub distinct_tools: u64,
    pub avg_duration_ms: Option<f64>,
    pub last_executed_at: String,
}

/// Per user over the window from `since` (a day's start), most active first.
pub async fn user_activity<D: Database>(
    db: &D,
    team_id: &str,
    since: &str,
    limit: u32,
) -> Result<Vec<UserActivity>> {
    let w = Window::starting(since);
    db.query_as(stmt!(USERS, team_id, &w.since_day, since, limit))
        .await
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

/// One execution whole: the list's fields (its error whole) plus the stored input and output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    #[serde(flatten)]
    pub summary: ExecutionSummary,
    pub input: Option<String>,
    pub output: Option<String>,
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
