//! Rollups of finished executions (migration 0008), the numbers the analytics reports read
//! instead of scanning `mcp_tool_executions`, and [`fold`]: the one function that turns
//! finished executions into the statements that add them.
//!
//! Tables (all keyed by `team_id` first; days are the UTC date of `started_at`):
//! - `execution_rollup_tools`: per period, server and tool: successes, errors, timeouts, timed
//!   executions, duration sum/min/max, last start, and a duration histogram (144 buckets packed
//!   two per column in `h0..h71`, [`COLUMNS`]).
//!   A period is a day (`span` 1) or the block of [`BLOCK_DAYS`] days that contains it (`span`
//!   8, blocks start at epoch days divisible by 8); every execution is in both. A window
//!   `[since, today]` is the days of since's block from since on, then whole blocks
//!   ([`Window`]): at most 7 + ceil(days / 8) periods per group.
//! - `execution_rollup_errors`: per period, server, tool, status and message (the first
//!   [`ERROR_MESSAGE_CHARS`] characters): occurrences and the last occurrence (time, id).
//! - `execution_rollup_users`: per day and user: the counts, timed executions and duration sum.
//! - `execution_rollup_user_tools`: per user and tool, the last start: the tools a user used in a
//!   window ending now are those whose last use is in it.
//!
//! Invariants:
//! - Rollups hold exactly the finished executions (`success`, `error`, `timeout`, `cancelled`:
//!   `cancellations`, migration 0010), each once:
//!   [`fold`]'s statements go in the same batch as the statement that makes the row final, and
//!   [`fold_if_pending`] adds a row only while it is still `pending` (a late or duplicate finish
//!   adds nothing). Pending executions are never rolled up; the reports read them live.
//! - [`fold`] aggregates its batch first: one upsert per group and table (`n = n + excluded.n`),
//!   so a batch of N calls of one tool by one user costs 3 statements, not 3N (plus 1 per
//!   distinct error message).
//! - The migration's backfill computes the same rows from existing executions (the same bucket
//!   function in SQL, [`bucket`] here; a test holds them equal).
//! - Retention deletes a period's rows once the whole period is older than the executions'
//!   retention cutoff, and a user-tool row once its last use is: a report window inside the
//!   retention window always reads complete periods.
//!
//! Percentiles (nearest rank, as before) come from the histogram: durations below 16 ms have a
//! bucket each (exact); above, 8 buckets per power of two (a bucket's width is at most 1/8 of
//! its lower bound), up to 2^20 ms (about 17.5 minutes; the last bucket also holds everything
//! longer). The reported value is the middle of the bucket holding the rank, clamped to the
//! window's exact min and max: exact below 16 ms and at the extremes, otherwise within 1/16 of
//! the exact value (6.25 %) below 2^20 ms.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use super::executions::Status;
use crate::db::{SqlValue, Statement};
use crate::stmt;
use crate::time::{date_of_epoch_day, epoch_day};

/// Histogram buckets.
pub const BUCKETS: usize = 144;
/// Histogram columns `h0..h71`: column j holds bucket 2j's count in its low 32 bits and bucket
/// 2j+1's above (D1 allows 100 columns per table); sums of columns are sums of both counts.
pub const COLUMNS: usize = BUCKETS / 2;
/// Days in a block period.
pub const BLOCK_DAYS: i64 = 8;
/// Error messages are grouped by their first this many characters.
pub const ERROR_MESSAGE_CHARS: usize = 300;

/// One finished execution, as the rollups need it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionFact {
    pub execution_id: String,
    pub team_id: String,
    pub user_id: String,
    pub server_id: String,
    pub tool_name: String,
    /// A `pending` fact is ignored (pending executions are not rolled up).
    pub status: Status,
    pub duration_ms: Option<u64>,
    /// ISO-8601 UTC, the stored form (`2026-11-21T20:17:36.123Z`).
    pub started_at: String,
    pub error: Option<String>,
}

/// The histogram bucket of a duration.
pub fn bucket(ms: u64) -> usize {
    if ms < 8 {
        return ms as usize;
    }
    if ms >= 1 << 20 {
        return BUCKETS - 1;
    }
    let e = 63 - ms.leading_zeros() as usize; // floor(log2), 3..=19
    8 + (e - 3) * 8 + ((ms >> (e - 3)) & 7) as usize
}

/// A bucket's lower bound and width (the last bucket also holds everything above it).
pub fn bucket_range(i: usize) -> (u64, u64) {
    if i < 8 {
        return (i as u64, 1);
    }
    let e = 3 + (i - 8) / 8;
    let m = ((i - 8) % 8) as u64;
    ((8 + m) << (e - 3), 1 << (e - 3))
}

/// Nearest-rank `p`th percentile (rank `ceil(p/100 × n)`) estimated from a histogram: the middle
/// of the bucket holding the rank, clamped to `[min, max]`. None when the histogram is empty.
pub fn percentile(hist: &[u64], p: u64, min: Option<u64>, max: Option<u64>) -> Option<u64> {
    let n: u64 = hist.iter().sum();
    if n == 0 {
        return None;
    }
    let rank = (n * p).div_ceil(100).max(1);
    let mut seen = 0;
    for (i, count) in hist.iter().enumerate() {
        seen += count;
        if seen >= rank {
            let (lo, width) = bucket_range(i);
            let mid = lo + width / 2;
            return Some(mid.clamp(
                min.unwrap_or(0),
                max.unwrap_or(u64::MAX).max(min.unwrap_or(0)),
            ));
        }
    }
    None
}

/// The bucket counts of histogram column values (each the sum of packed counts).
pub fn unpack(columns: &[u64]) -> Vec<u64> {
    columns
        .iter()
        .flat_map(|c| [c & 0xFFFF_FFFF, c >> 32])
        .collect()
}

/// The first block start on or after `day` (both epoch days).
fn first_block_at_or_after(day: i64) -> i64 {
    day + (BLOCK_DAYS - day.rem_euclid(BLOCK_DAYS)) % BLOCK_DAYS
}

/// The periods covering `[since_day, today]`: days `[since_day, first_block)` (span 1) and
/// blocks from `first_block` on (span 8). Both as `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub since_day: String,
    pub first_block: String,
}

impl Window {
    /// The window that starts at `since` (`YYYY-MM-DD…`, a day's start).
    pub fn starting(since: &str) -> Window {
        let day = epoch_day(since).unwrap_or(0);
        Window {
            since_day: date_of_epoch_day(day),
            first_block: date_of_epoch_day(first_block_at_or_after(day)),
        }
    }
}

fn day_and_block(started_at: &str) -> (String, String) {
    let day = epoch_day(started_at).unwrap_or(0);
    (
        date_of_epoch_day(day),
        date_of_epoch_day(day - day.rem_euclid(BLOCK_DAYS)),
    )
}

#[derive(Default)]
struct Counts {
    successes: u64,
    errors: u64,
    timeouts: u64,
    cancellations: u64,
    timed: u64,
    duration_sum: u64,
    min: Option<u64>,
    max: Option<u64>,
    last: String,
}

impl Counts {
    fn add(&mut self, f: &ExecutionFact) {
        match f.status {
            Status::Success => self.successes += 1,
            Status::Error => self.errors += 1,
            Status::Timeout => self.timeouts += 1,
            Status::Cancelled => self.cancellations += 1,
            Status::Pending => {}
        }
        if let Some(d) = f.duration_ms {
            self.timed += 1;
            self.duration_sum += d;
            self.min = Some(self.min.map_or(d, |m| m.min(d)));
            self.max = Some(self.max.map_or(d, |m| m.max(d)));
        }
        if f.started_at > self.last {
            self.last = f.started_at.clone();
        }
    }
}

#[derive(Default)]
struct ToolGroup {
    counts: Counts,
    hist: BTreeMap<usize, u64>,
}

#[derive(Default)]
struct ErrorGroup {
    occurrences: u64,
    last_at: String,
    last_id: String,
}

/// The statements that add `facts` (finished executions) to the rollups: one upsert per group
/// and table. Put them in the same `db.batch` as the statements that make these rows final,
/// and only for rows that become final in that batch.
pub fn fold(facts: &[ExecutionFact]) -> Vec<Statement> {
    fold_guarded(facts, None)
}

/// [`fold`] of one execution that takes effect only while its row is still `pending`: put the
/// statements before the one that finishes the row, in the same batch, so that a finish that
/// changes nothing (late, duplicate) adds nothing either.
pub fn fold_if_pending(fact: &ExecutionFact) -> Vec<Statement> {
    fold_guarded(std::slice::from_ref(fact), Some(&fact.execution_id))
}

fn fold_guarded(facts: &[ExecutionFact], guard: Option<&str>) -> Vec<Statement> {
    type ToolKey<'a> = (&'a str, String, String, &'a str, &'a str);
    let mut tools: BTreeMap<ToolKey, ToolGroup> = BTreeMap::new();
    let mut errors: BTreeMap<(ToolKey, &str, String), ErrorGroup> = BTreeMap::new();
    let mut users: BTreeMap<(&str, String, &str), Counts> = BTreeMap::new();
    let mut user_tools: BTreeMap<(&str, &str, &str, &str), String> = BTreeMap::new();
    for f in facts.iter().filter(|f| f.status != Status::Pending) {
        let (day, block) = day_and_block(&f.started_at);
        let key = (
            f.team_id.as_str(),
            day.clone(),
            block,
            f.server_id.as_str(),
            f.tool_name.as_str(),
        );
        let tool = tools.entry(key.clone()).or_default();
        tool.counts.add(f);
        if let Some(d) = f.duration_ms {
            *tool.hist.entry(bucket(d)).or_default() += 1;
        }
        if matches!(f.status, Status::Error | Status::Timeout) {
            let message: String = f
                .error
                .as_deref()
                .unwrap_or("")
                .chars()
                .take(ERROR_MESSAGE_CHARS)
                .collect();
            let e = errors.entry((key, f.status.as_str(), message)).or_default();
            e.occurrences += 1;
            if f.started_at >= e.last_at {
                e.last_at = f.started_at.clone();
                e.last_id = f.execution_id.clone();
            }
        }
        users
            .entry((f.team_id.as_str(), day, f.user_id.as_str()))
            .or_default()
            .add(f);
        let last = user_tools
            .entry((
                f.team_id.as_str(),
                f.user_id.as_str(),
                f.server_id.as_str(),
                f.tool_name.as_str(),
            ))
            .or_default();
        if f.started_at > *last {
            *last = f.started_at.clone();
        }
    }
    let mut out = Vec::new();
    for ((team, day, block, server, tool), g) in &tools {
        let c = &g.counts;
        let hist: serde_json::Map<String, serde_json::Value> = g
            .hist
            .iter()
            .fold(BTreeMap::<usize, u64>::new(), |mut columns, (i, n)| {
                *columns.entry(i / 2).or_default() += n << (32 * (i % 2));
                columns
            })
            .into_iter()
            .map(|(j, packed)| (format!("h{j}"), packed.into()))
            .collect();
        out.push(Statement::new(
            upsert_tools_sql(),
            vec![
                SqlValue::from(*team),
                day.into(),
                block.into(),
                SqlValue::from(*server),
                SqlValue::from(*tool),
                c.successes.into(),
                c.errors.into(),
                c.timeouts.into(),
                c.timed.into(),
                c.duration_sum.into(),
                c.min.into(),
                c.max.into(),
                (&c.last).into(),
                serde_json::Value::Object(hist).to_string().into(),
                guard.into(),
                c.cancellations.into(),
            ],
        ));
    }
    for (((team, day, block, server, tool), status, message), e) in &errors {
        out.push(stmt!(
            UPSERT_ERRORS,
            *team,
            day,
            block,
            *server,
            *tool,
            *status,
            message,
            e.occurrences,
            &e.last_at,
            &e.last_id,
            guard
        ));
    }
    for ((team, day, user), c) in &users {
        out.push(stmt!(
            UPSERT_USERS,
            *team,
            day,
            *user,
            c.successes,
            c.errors,
            c.timeouts,
            c.timed,
            c.duration_sum,
            &c.last,
            guard,
            c.cancellations
        ));
    }
    for ((team, user, server, tool), last) in &user_tools {
        out.push(stmt!(
            UPSERT_USER_TOOLS,
            *team,
            *user,
            *server,
            *tool,
            last,
            guard
        ));
    }
    out
}

/// The guard of every upsert: `?g` NULL (a plain [`fold`]) or the execution still pending.
macro_rules! guard {
    ($n:literal) => {
        concat!(
            "(?",
            $n,
            " IS NULL OR EXISTS (SELECT 1 FROM mcp_tool_executions g WHERE g.id = ?",
            $n,
            " AND g.status = 'pending'))"
        )
    };
}

fn hist_columns(each: impl Fn(usize) -> String, sep: &str) -> String {
    (0..COLUMNS).map(each).collect::<Vec<_>>().join(sep)
}

/// Parameters: ?1 team, ?2 day, ?3 block, ?4 server, ?5 tool, ?6 successes, ?7 errors,
/// ?8 timeouts, ?9 timed, ?10 duration sum, ?11 min, ?12 max, ?13 last start, ?14 histogram
/// (JSON object `{"h<j>": packed counts}`, sparse), ?15 guard, ?16 cancellations. One statement writes the day's row and
/// the block's.
fn upsert_tools_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "INSERT INTO execution_rollup_tools (team_id, span, start_day, server_id, tool_name, \
             successes, errors, timeouts, timed, duration_sum, duration_min, duration_max, \
             last_started_at, cancellations, {cols}) \
             SELECT ?1, p.span, p.start_day, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?16, {values} \
             FROM (SELECT 1 AS span, ?2 AS start_day UNION ALL SELECT 8, ?3) p WHERE {guard} \
             ON CONFLICT (team_id, span, start_day, server_id, tool_name) DO UPDATE SET \
             successes = successes + excluded.successes, errors = errors + excluded.errors, \
             timeouts = timeouts + excluded.timeouts, timed = timed + excluded.timed, \
             cancellations = cancellations + excluded.cancellations, \
             duration_sum = duration_sum + excluded.duration_sum, \
             duration_min = CASE WHEN excluded.duration_min IS NULL OR duration_min <= excluded.duration_min \
                            THEN duration_min ELSE excluded.duration_min END, \
             duration_max = CASE WHEN excluded.duration_max IS NULL OR duration_max >= excluded.duration_max \
                            THEN duration_max ELSE excluded.duration_max END, \
             last_started_at = max(last_started_at, excluded.last_started_at), {sets}",
            cols = hist_columns(|i| format!("h{i}"), ", "),
            values = hist_columns(|i| format!("coalesce(json_extract(?14, '$.h{i}'), 0)"), ", "),
            guard = guard!("15"),
            sets = hist_columns(|i| format!("h{i} = h{i} + excluded.h{i}"), ", "),
        )
    })
}

/// ?1 team, ?2 day, ?3 block, ?4 server, ?5 tool, ?6 status, ?7 message, ?8 occurrences,
/// ?9 last occurrence, ?10 its execution id, ?11 guard.
const UPSERT_ERRORS: &str = concat!(
    "INSERT INTO execution_rollup_errors (team_id, span, start_day, server_id, tool_name, status, \
     message, occurrences, last_occurred_at, last_execution_id) \
     SELECT ?1, p.span, p.start_day, ?4, ?5, ?6, ?7, ?8, ?9, ?10 \
     FROM (SELECT 1 AS span, ?2 AS start_day UNION ALL SELECT 8, ?3) p WHERE ",
    guard!("11"),
    " ON CONFLICT (team_id, span, start_day, server_id, tool_name, status, message) DO UPDATE SET \
     occurrences = occurrences + excluded.occurrences, \
     last_execution_id = CASE WHEN excluded.last_occurred_at >= last_occurred_at \
                         THEN excluded.last_execution_id ELSE last_execution_id END, \
     last_occurred_at = max(last_occurred_at, excluded.last_occurred_at)"
);

/// ?1 team, ?2 day, ?3 user, ?4 successes, ?5 errors, ?6 timeouts, ?7 timed, ?8 duration sum,
/// ?9 last start, ?10 guard, ?11 cancellations.
const UPSERT_USERS: &str = concat!(
    "INSERT INTO execution_rollup_users (team_id, day, user_id, successes, errors, timeouts, \
     timed, duration_sum, last_started_at, cancellations) \
     SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?11 WHERE ",
    guard!("10"),
    " ON CONFLICT (team_id, day, user_id) DO UPDATE SET \
     successes = successes + excluded.successes, errors = errors + excluded.errors, \
     timeouts = timeouts + excluded.timeouts, timed = timed + excluded.timed, \
     cancellations = cancellations + excluded.cancellations, \
     duration_sum = duration_sum + excluded.duration_sum, \
     last_started_at = max(last_started_at, excluded.last_started_at)"
);

/// ?1 team, ?2 user, ?3 server, ?4 tool, ?5 last start, ?6 guard.
const UPSERT_USER_TOOLS: &str = concat!(
    "INSERT INTO execution_rollup_user_tools (team_id, user_id, server_id, tool_name, \
     last_started_at) SELECT ?1, ?2, ?3, ?4, ?5 WHERE ",
    guard!("6"),
    " ON CONFLICT (team_id, user_id, server_id, tool_name) DO UPDATE SET \
     last_started_at = max(last_started_at, excluded.last_started_at)"
);

/// Retention batches (every team's rows): ?1 span, ?2 first day kept, ?3 rows.
const DELETE_TOOL_PERIODS: &str = "\
DELETE FROM execution_rollup_tools WHERE (team_id, span, start_day, server_id, tool_name) IN (
  SELECT team_id, span, start_day, server_id, tool_name FROM execution_rollup_tools
  WHERE span = ?1 AND start_day < ?2 LIMIT ?3)";
const DELETE_ERROR_PERIODS: &str = "\
DELETE FROM execution_rollup_errors WHERE (team_id, span, start_day, server_id, tool_name, status, message) IN (
  SELECT team_id, span, start_day, server_id, tool_name, status, message FROM execution_rollup_errors
  WHERE span = ?1 AND start_day < ?2 LIMIT ?3)";
/// ?1 first day kept, ?2 rows.
const DELETE_USER_DAYS: &str = "\
DELETE FROM execution_rollup_users WHERE (team_id, day, user_id) IN (
  SELECT team_id, day, user_id FROM execution_rollup_users WHERE day < ?1 LIMIT ?2)";
/// ?1 cutoff (ISO), ?2 rows.
const DELETE_USER_TOOLS: &str = "\
DELETE FROM execution_rollup_user_tools WHERE (team_id, user_id, server_id, tool_name) IN (
  SELECT team_id, user_id, server_id, tool_name FROM execution_rollup_user_tools
  WHERE last_started_at < ?1 LIMIT ?2)";

/// Deletes rollup rows (every team's) whose whole period started before `cutoff` (ISO): days
/// before the cutoff's day, blocks that end on or before it, user-tool rows last used before
/// it. `batch` rows per statement, at most `max_batches` statements per table; answers how
/// many rows went.
pub async fn delete_before<D: crate::db::Database>(
    db: &D,
    cutoff: &str,
    batch: u32,
    max_batches: u32,
) -> crate::error::Result<u64> {
    let day = epoch_day(cutoff).unwrap_or(0);
    let first_day_kept = date_of_epoch_day(day);
    // A block [b, b + 8) is wholly before the cutoff's day when b + 8 <= day.
    let first_block_kept = date_of_epoch_day(day - BLOCK_DAYS + 1);
    let statements = [
        stmt!(DELETE_TOOL_PERIODS, 1u32, &first_day_kept, batch),
        stmt!(DELETE_TOOL_PERIODS, 8u32, &first_block_kept, batch),
        stmt!(DELETE_ERROR_PERIODS, 1u32, &first_day_kept, batch),
        stmt!(DELETE_ERROR_PERIODS, 8u32, &first_block_kept, batch),
        stmt!(DELETE_USER_DAYS, &first_day_kept, batch),
        stmt!(DELETE_USER_TOOLS, cutoff, batch),
    ];
    let mut deleted = 0;
    for statement in statements {
        for _ in 0..max_batches {
            let n = db.execute(statement.clone()).await?;
            deleted += n;
            if n < u64::from(batch) {
                break;
            }
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests;
