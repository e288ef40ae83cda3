//! `mcp_tools`: the tool catalogue synced from each server, the admins' per-tool policy and
//! the per-tool statistics.
//!
//! Invariants:
//! - Sync never touches policy (`is_enabled`, `requires_confirmation`, `timeout_seconds`,
//!   `cacheable`) or statistics of a tool that still exists; it only refreshes what the server
//!   describes and removes what the server no longer lists.
//! - Statistics change in one SQL statement per execution (no read-modify-write race).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{bool_from_int, json_from_text, new_id};
use crate::db::{Database, Statement};
use crate::error::{Error, Result};
use crate::stmt;
use mcp_client::ToolDef;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    pub id: String,
    pub server_id: String,
    pub team_id: String,
    pub tool_name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    #[serde(deserialize_with = "json_from_text")]
    pub input_schema: Option<Value>,
    #[serde(deserialize_with = "json_from_text")]
    pub annotations: Option<Value>,
    #[serde(deserialize_with = "bool_from_int")]
    pub is_enabled: bool,
    #[serde(deserialize_with = "bool_from_int")]
    pub requires_confirmation: bool,
    pub timeout_seconds: i64,
    #[serde(deserialize_with = "bool_from_int")]
    pub cacheable: bool,
    pub execution_count: i64,
    pub success_count: i64,
    pub error_count: i64,
    pub avg_duration_ms: f64,
    pub last_executed_at: Option<String>,
    pub synced_at: Option<String>,
}

impl Tool {
    pub fn public_json(&self) -> Value {
        json!({
            "id": self.id,
            "server_id": self.server_id,
            "tool_name": self.tool_name,
            "title": self.title,
            "description": self.description,
            "input_schema": self.input_schema.clone().unwrap_or_else(|| json!({"type": "object"})),
            "annotations": self.annotations,
            "is_enabled": self.is_enabled,
            "requires_confirmation": self.requires_confirmation,
            "timeout_seconds": self.timeout_seconds,
            "execution_count": self.execution_count,
            "success_count": self.success_count,
            "error_count": self.error_count,
            "avg_duration_ms": self.avg_duration_ms,
            "last_executed_at": self.last_executed_at,
            "synced_at": self.synced_at,
        })
    }
}

macro_rules! select_tools {
    ($tail:literal) => {
        concat!(
            "SELECT t.id, t.server_id, t.team_id, t.tool_name, t.title, t.description, t.input_schema, \
             t.annotations, t.is_enabled, t.requires_confirmation, t.timeout_seconds, t.cacheable, \
             t.execution_count, t.success_count, t.error_count, t.avg_duration_ms, t.last_executed_at, t.synced_at \
             FROM mcp_tools t JOIN mcp_servers s ON s.id = t.server_id ",
            $tail
        )
    };
}

/// Enabled tools of one server of the caller's team.
pub async fn list_enabled_for_server<D: Database>(
    db: &D,
    team_id: &str,
    server_id: &str,
) -> Result<Vec<Tool>> {
    const SQL: &str = select_tools!(
        "WHERE s.team_id = ?1 AND t.team_id = ?1 AND s.id = ?2 AND t.is_enabled = 1 ORDER BY t.tool_name"
    );
    db.query_as(stmt!(SQL, team_id, server_id)).await
}

/// Enabled tools of every active server of the caller's team.
pub async fn list_enabled_for_team<D: Database>(db: &D, team_id: &str) -> Result<Vec<Tool>> {
    const SQL: &str = select_tools!(
        "WHERE s.team_id = ?1 AND t.team_id = ?1 AND s.is_active = 1 AND t.is_enabled = 1 \
         ORDER BY s.name, t.tool_name"
    );
    db.query_as(stmt!(SQL, team_id)).await
}

/// One tool by server and name, enabled or not; `not_found` outside the caller's team.
pub async fn get_by_name<D: Database>(
    db: &D,
    team_id: &str,
    server_id: &str,
    tool_name: &str,
) -> Result<Tool> {
    const SQL: &str =
        select_tools!("WHERE s.team_id = ?1 AND t.team_id = ?1 AND s.id = ?2 AND t.tool_name = ?3");
    db.query_one(stmt!(SQL, team_id, server_id, tool_name))
        .await?
        .ok_or_else(|| {
            Error::NotFound(format!(
                "tool '{tool_name}' not found on server '{server_id}'; an admin may need to run sync_tools"
            ))
        })
}

/// One tool by id; `not_found` outside the caller's team.
pub async fn get_by_id<D: Database>(db: &D, team_id: &str, tool_id: &str) -> Result<Tool> {
    const SQL: &str = select_tools!("WHERE s.team_id = ?1 AND t.team_id = ?1 AND t.id = ?2");
    db.query_one(stmt!(SQL, team_id, tool_id))
        .await?
        .ok_or_else(|| Error::NotFound(format!("tool '{tool_id}' not found in your team")))
}

/// Upserts statements are chunked so a batch stays well inside D1's per-batch limits.
const SYNC_CHUNK: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncOutcome {
    pub tools_synced: usize,
    pub tools_removed: u64,
}

/// Replaces the catalogue of one server with what the server listed.
pub async fn sync<D: Database>(
    db: &D,
    team_id: &str,
    server_id: &str,
    listed: &[ToolDef],
    now: &str,
) -> Result<SyncOutcome> {
    let mut upserts: Vec<Statement> = listed
        .iter()
        .map(|t| {
            stmt!(
                "INSERT INTO mcp_tools (id, server_id, team_id, tool_name, title, description, input_schema, \
                 annotations, synced_at, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?9) \
                 ON CONFLICT (server_id, tool_name) DO UPDATE SET title = excluded.title, \
                 description = excluded.description, input_schema = excluded.input_schema, \
                 annotations = excluded.annotations, synced_at = excluded.synced_at, updated_at = excluded.updated_at",
                new_id(),
                server_id,
                team_id,
                t.name.as_str(),
                t.title.as_deref(),
                t.description.as_deref(),
                t.input_schema.to_string(),
                t.annotations.as_ref().map(Value::to_string),
                now
            )
        })
        .collect();
    let names = Value::from(listed.iter().map(|t| t.name.clone()).collect::<Vec<_>>()).to_string();
    let remove = stmt!(
        "DELETE FROM mcp_tools WHERE team_id = ?1 AND server_id = ?2 \
         AND tool_name NOT IN (SELECT value FROM json_each(?3))",
        team_id,
        server_id,
        names
    );
    // The removal goes with the last chunk so that the catalogue is never left empty midway.
    let mut tools_removed = 0;
    if upserts.is_empty() {
        tools_removed = db.execute(remove).await?;
    } else {
        let mut chunks: Vec<Vec<Statement>> = Vec::new();
        while !upserts.is_empty() {
            let rest = upserts.split_off(upserts.len().min(SYNC_CHUNK));
            chunks.push(std::mem::replace(&mut upserts, rest));
        }
        let last = chunks.len() - 1;
        for (i, mut chunk) in chunks.into_iter().enumerate() {
            if i == last {
                chunk.push(remove.clone());
                let changes = db.batch(chunk).await?;
                tools_removed = changes.last().copied().unwrap_or_default();
            } else {
                db.batch(chunk).await?;
            }
        }
    }
    Ok(SyncOutcome {
        tools_synced: listed.len(),
        tools_removed,
    })
}

/// The statement that folds one finished execution into the tool's statistics. It must run in
/// a batch right after the statement that finished the execution: `changes() = 1` makes it a
/// no-op when that statement changed nothing (the execution was already final).
pub fn record_execution(tool_id: &str, succeeded: bool, duration_ms: u64, now: &str) -> Statement {
    stmt!(
        "UPDATE mcp_tools SET execution_count = execution_count + 1, \
         success_count = success_count + ?2, error_count = error_count + (1 - ?2), \
         avg_duration_ms = (avg_duration_ms * execution_count + ?3) / (execution_count + 1), \
         last_executed_at = ?4 WHERE id = ?1 AND changes() = 1",
        tool_id,
        succeeded,
        duration_ms,
        now
    )
}

pub struct ToolPolicy {
    pub is_enabled: Option<bool>,
    pub requires_confirmation: Option<bool>,
    pub timeout_seconds: Option<u64>,
    pub cacheable: Option<bool>,
}

pub async fn update_policy<D: Database>(
    db: &D,
    team_id: &str,
    tool_id: &str,
    p: ToolPolicy,
    now: &str,
) -> Result<()> {
    let changed = db
        .execute(stmt!(
            "UPDATE mcp_tools SET is_enabled = COALESCE(?3, is_enabled), \
             requires_confirmation = COALESCE(?4, requires_confirmation), \
             timeout_seconds = COALESCE(?5, timeout_seconds), cacheable = COALESCE(?6, cacheable), \
             updated_at = ?7 WHERE team_id = ?1 AND id = ?2",
            team_id,
            tool_id,
            p.is_enabled,
            p.requires_confirmation,
            p.timeout_seconds,
            p.cacheable,
            now
        ))
        .await?;
    if changed == 0 {
        return Err(Error::NotFound(format!(
            "tool '{tool_id}' not found in your team"
        )));
    }
    Ok(())
}
