//! `mcp_tool_executions`: one row per `call_tool` that got past validation.
//!
//! Invariants:
//! - A row is inserted as `pending` before anything goes upstream, and finished exactly once:
//!   [`finish`] only updates rows still `pending`, so a late or duplicate finish is a no-op.
//! - Finishing the row, folding it into the tool's statistics and into the analytics rollups
//!   (`super::rollups`) happen in one batch; the rollups take it only while it is still
//!   `pending`, so they hold each finished execution exactly once.

use serde::Deserialize;

use super::rollups::{self, ExecutionFact};
use super::tools;
use crate::db::Database;
use crate::error::Result;
use crate::stmt;

crate::text_enum::text_enum! {
    /// An execution's `status`: `pending` from [`start`] until [`finish`] sets one of the
    /// others.
    pub enum Status {
        Pending = "pending",
        Success = "success",
        Error = "error",
        Timeout = "timeout",
        /// Cancelled by a user while it ran in the background (migration 0010).
        Cancelled = "cancelled",
    }
}

pub struct NewExecution<'a> {
    pub id: &'a str,
    pub team_id: &'a str,
    pub user_id: &'a str,
    pub server_id: &'a str,
    pub server_name: &'a str,
    pub tool_id: &'a str,
    pub tool_name: &'a str,
    pub request_id: &'a str,
    pub input: &'a str,
    pub started_at: &'a str,
}

pub async fn start<D: Database>(db: &D, e: NewExecution<'_>) -> Result<()> {
    db.execute(stmt!(
        "INSERT INTO mcp_tool_executions (id, team_id, user_id, server_id, server_name, tool_id, tool_name, \
         request_id, input, status, started_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'pending', ?10)",
        e.id,
        e.team_id,
        e.user_id,
        e.server_id,
        e.server_name,
        e.tool_id,
        e.tool_name,
        e.request_id,
        e.input,
        e.started_at
    ))
    .await?;
    Ok(())
}

#[derive(Clone, Copy)]
pub struct Finished<'a> {
    pub id: &'a str,
    pub tool_id: &'a str,
    pub status: Status,
    pub output: Option<&'a str>,
    pub error: Option<&'a str>,
    pub duration_ms: u64,
    pub completed_at: &'a str,
}

/// Finishes a pending execution (`fact`: what the rollups keep of it, with this finish's
/// status, duration and error), its tool's statistics and the rollups, atomically. The rollup
/// statements come first, each guarded by the row still being pending, then the row's update,
/// then the tool's statistics (which require the update to have changed the row).
pub async fn finish<D: Database>(db: &D, f: Finished<'_>, fact: &ExecutionFact) -> Result<()> {
    let mut batch = rollups::fold_if_pending(fact);
    batch.push(stmt!(
        "UPDATE mcp_tool_executions SET status = ?2, output = ?3, error = ?4, duration_ms = ?5, \
         completed_at = ?6 WHERE id = ?1 AND status = 'pending'",
        f.id,
        f.status.as_str(),
        f.output,
        f.error,
        f.duration_ms,
        f.completed_at
    ));
    batch.push(tools::record_execution(
        f.tool_id,
        f.status == Status::Success,
        f.duration_ms,
        f.completed_at,
    ));
    db.batch(batch).await?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StalePending {
    pub id: String,
    pub team_id: String,
    pub user_id: String,
    pub server_id: String,
    pub tool_name: String,
    pub tool_id: Option<String>,
    pub started_at: String,
    /// Milliseconds between `started_at` and the cutoff's `now`.
    pub age_ms: i64,
}

/// Executions still `pending` that started before `cutoff` (their worker stopped mid-call).
pub async fn stale_pending<D: Database>(
    db: &D,
    cutoff: &str,
    now: &str,
    limit: u32,
) -> Result<Vec<StalePending>> {
    db.query_as(stmt!(
        "SELECT id, team_id, user_id, server_id, tool_name, tool_id, started_at, \
         CAST((julianday(?2) - julianday(started_at)) * 86400000 AS INTEGER) AS age_ms \
         FROM mcp_tool_executions WHERE status = 'pending' AND started_at < ?1 ORDER BY started_at LIMIT ?3",
        cutoff,
        now,
        limit
    ))
    .await
}
