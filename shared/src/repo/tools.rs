//! `mcp_tools`: the tool catalogue synced from each server, the admins' per-tool policy and
//! the per-tool statistics.
//!
//! Invariants:
//! - Sync never touches policy (`is_enabled`, `requires_confirmation`, `timeout_seconds`,
//!   `cacheable`) or statistics of a tool that still exists; it only refreshes what the server
//!   describes and removes what the server no longer lists.
//! - Statistics change in one SQL statement per execution (no read-modify-write race).
//! - Definitions are pinned: the definition columns (`title`, `description`, `input_schema`,
//!   `annotations`) hold the approved definition, whose [`definition_hash`] is
//!   `definition_hash`. Sync writes them only for a tool it has never seen (trust on first
//!   use); a changed definition goes to `pending_definition` and the tool to
//!   `pending_approval` until [`approve`] swaps it in. Every definition is [`sanitize`]d
//!   before it is hashed or stored.
//! - Sync's writes are guarded by the hash it read, and [`approve`] by the pending hash the
//!   admin approved, so concurrent syncs and approvals never approve what nobody saw.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{bool_from_int, json_from_text, new_id};
use crate::confirmation::canonical_json;
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
    /// `call_tool` runs it in the background unless the caller asks for `"mode": "sync"`
    /// (migration 0010; `crate::background`).
    #[serde(default, deserialize_with = "bool_from_int")]
    pub long_running: bool,
    /// Its time budget in the background (1..=3600 s); `None`: `timeout_seconds`.
    #[serde(default)]
    pub async_timeout_seconds: Option<i64>,
    pub execution_count: i64,
    pub success_count: i64,
    pub error_count: i64,
    pub avg_duration_ms: f64,
    pub last_executed_at: Option<String>,
    pub synced_at: Option<String>,
    pub definition_hash: Option<String>,
    pub approval_state: ApprovalState,
    #[serde(deserialize_with = "json_from_text")]
    pub pending_definition: Option<Value>,
    pub pending_definition_hash: Option<String>,
}

/// Whether a tool's current upstream definition is the approved one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalState {
    Approved,
    /// The server now describes the tool differently; the approved definition is still the
    /// one served until an admin runs `approve_tool`.
    PendingApproval,
}

/// A team's policy for a tool whose definition changed (`teams.on_tool_change`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnToolChange {
    /// Serve and call the previous (approved) definition until approval.
    KeepPrevious,
    /// Also refuse calls to it until approval (`call_tool` answers 409).
    Disable,
}

/// A definition from its stored columns (a row without a schema gets `{"type": "object"}`).
fn stored_definition(
    name: &str,
    title: &Option<String>,
    description: &Option<String>,
    input_schema: &Option<Value>,
    annotations: &Option<Value>,
) -> ToolDef {
    ToolDef {
        name: name.to_string(),
        title: title.clone(),
        description: description.clone(),
        input_schema: input_schema
            .clone()
            .unwrap_or_else(|| json!({"type": "object"})),
        annotations: annotations.clone(),
    }
}

impl Tool {
    /// The approved definition as stored (what list_tools serves).
    pub fn definition(&self) -> ToolDef {
        stored_definition(
            &self.tool_name,
            &self.title,
            &self.description,
            &self.input_schema,
            &self.annotations,
        )
    }

    /// What an admin sees: [`Tool::public_json`] plus the pending definition (untrusted text
    /// for a person to review, never served to members' models).
    pub fn admin_json(&self) -> Value {
        let mut view = self.public_json();
        if let Some(m) = view.as_object_mut() {
            m.insert(
                "pending_definition".into(),
                self.pending_definition.clone().unwrap_or(Value::Null),
            );
        }
        view
    }

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
            "long_running": self.long_running,
            "async_timeout_seconds": self.async_timeout_seconds,
            "execution_count": self.execution_count,
            "success_count": self.success_count,
            "error_count": self.error_count,
            "avg_duration_ms": self.avg_duration_ms,
            "last_executed_at": self.last_executed_at,
            "synced_at": self.synced_at,
            "approval_state": self.approval_state,
            "definition_hash": self.definition_hash,
            "pending_definition_hash": self.pending_definition_hash,
        })
    }
}

macro_rules! select_tools {
    ($tail:literal) => {
        concat!(
            "SELECT t.id, t.server_id, t.team_id, t.tool_name, t.title, t.description, t.input_schema, \
             t.annotations, t.is_enabled, t.requires_confirmation, t.timeout_seconds, t.cacheable, \
             t.long_running, t.async_timeout_seconds, t.execution_count, t.success_count, t.error_count, t.avg_duration_ms, t.last_executed_at, t.synced_at, \
             t.definition_hash, t.approval_state, t.pending_definition, t.pending_definition_hash \
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
    db.query_one(by_name_stmt(team_id, server_id, tool_name))
        .await?
        .ok_or_else(|| not_found(server_id, tool_name))
}

/// The read of [`get_by_name`] (for reads batched with others).
pub fn by_name_stmt(team_id: &str, server_id: &str, tool_name: &str) -> Statement {
    const SQL: &str =
        select_tools!("WHERE s.team_id = ?1 AND t.team_id = ?1 AND s.id = ?2 AND t.tool_name = ?3");
    stmt!(SQL, team_id, server_id, tool_name)
}

/// What [`get_by_name`] answers for a tool the server does not have.
pub fn not_found(server_id: &str, tool_name: &str) -> Error {
    Error::NotFound(format!(
        "tool '{tool_name}' not found on server '{server_id}'; an admin may need to run sync_tools"
    ))
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
/// Longest tool description stored (characters); longer ones are cut.
pub const MAX_TOOL_DESCRIPTION: usize = 4096;
/// Longest tool title stored (characters).
pub const MAX_TOOL_TITLE: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncOutcome {
    pub tools_synced: usize,
    pub tools_removed: u64,
    /// Tools whose definition differs from the approved one after this sync.
    pub tools_pending_approval: usize,
    /// Whether the sync may have changed what the catalogue shows: a tool added or removed, a
    /// tool's approval state, approved hash or pending definition moved. Decided from the rows
    /// the sync already read (no extra read); `synced_at` alone is not a change.
    pub changed: bool,
}

/// `text` without control characters (except `\n` and `\t`) or invisible formatting
/// characters (zero-width, bidi overrides, Unicode tags), cut to `max` characters.
pub fn sanitize_text(text: &str, max: usize) -> String {
    text.chars()
        .filter(|&c| c == '\n' || c == '\t' || !(c.is_control() || is_invisible(c)))
        .take(max)
        .collect()
}

fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}'
        | '\u{E0000}'..='\u{E007F}'
        | '\u{E0100}'..='\u{E01EF}')
}

/// The definition as mcp-edge stores it: title and description [`sanitize_text`]ed and capped.
pub fn sanitize(def: &ToolDef) -> ToolDef {
    ToolDef {
        name: def.name.clone(),
        title: def
            .title
            .as_deref()
            .map(|t| sanitize_text(t, MAX_TOOL_TITLE)),
        description: def
            .description
            .as_deref()
            .map(|d| sanitize_text(d, MAX_TOOL_DESCRIPTION)),
        input_schema: def.input_schema.clone(),
        annotations: def.annotations.clone(),
    }
}

/// The definition as one JSON object (what `pending_definition` holds).
pub fn definition_json(def: &ToolDef) -> Value {
    json!({
        "name": def.name,
        "title": def.title,
        "description": def.description,
        "input_schema": def.input_schema,
        "annotations": def.annotations,
    })
}

/// SHA-256 (hex) of the canonical JSON (keys sorted at every level, no whitespace) of
/// [`definition_json`]: equal exactly when name, title, description, schema and annotations
/// are.
pub fn definition_hash(def: &ToolDef) -> String {
    Sha256::digest(canonical_json(&definition_json(def)).as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What sync needs to know about a tool it has seen before.
#[derive(Debug, Deserialize)]
struct Pinned {
    id: String,
    tool_name: String,
    title: Option<String>,
    description: Option<String>,
    #[serde(deserialize_with = "json_from_text")]
    input_schema: Option<Value>,
    #[serde(deserialize_with = "json_from_text")]
    annotations: Option<Value>,
    definition_hash: Option<String>,
    approval_state: ApprovalState,
    pending_definition_hash: Option<String>,
}

impl Pinned {
    /// The approved hash; a row from before pinning pins what it holds.
    fn approved_hash(&self) -> String {
        self.definition_hash.clone().unwrap_or_else(|| {
            definition_hash(&stored_definition(
                &self.tool_name,
                &self.title,
                &self.description,
                &self.input_schema,
                &self.annotations,
            ))
        })
    }
}

/// Makes the catalogue of one server match what the server listed, pinning definitions: new
/// tools are stored as listed (sanitised) and approved; a known tool whose definition changed
/// keeps its approved definition and becomes `pending_approval` with the new one aside; a
/// known tool listed as approved becomes (or stays) `approved`; unlisted tools are removed.
pub async fn sync<D: Database>(
    db: &D,
    team_id: &str,
    server_id: &str,
    listed: &[ToolDef],
    now: &str,
) -> Result<SyncOutcome> {
    let known: Vec<Pinned> = db
        .query_as(stmt!(
            "SELECT id, tool_name, title, description, input_schema, annotations, definition_hash, \
             approval_state, pending_definition_hash \
             FROM mcp_tools WHERE team_id = ?1 AND server_id = ?2",
            team_id,
            server_id
        ))
        .await?;
    let mut tools_pending_approval = 0;
    let mut changed = false;
    let mut upserts: Vec<Statement> = Vec::with_capacity(listed.len());
    for def in listed.iter().map(sanitize) {
        let hash = definition_hash(&def);
        let Some(pinned) = known.iter().find(|k| k.tool_name == def.name) else {
            // A concurrent sync may have inserted it: theirs stands, the next sync compares.
            changed = true;
            upserts.push(stmt!(
                "INSERT INTO mcp_tools (id, server_id, team_id, tool_name, title, description, input_schema, \
                 annotations, definition_hash, approval_state, synced_at, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'approved', ?10, ?10, ?10) \
                 ON CONFLICT (server_id, tool_name) DO NOTHING",
                new_id(),
                server_id,
                team_id,
                def.name.as_str(),
                def.title.as_deref(),
                def.description.as_deref(),
                def.input_schema.to_string(),
                def.annotations.as_ref().map(Value::to_string),
                hash.as_str(),
                now
            ));
            continue;
        };
        let approved = pinned.approved_hash();
        changed |= if hash == approved {
            pinned.approval_state != ApprovalState::Approved || pinned.definition_hash.is_none()
        } else {
            pinned.approval_state != ApprovalState::PendingApproval
                || pinned.pending_definition_hash.as_deref() != Some(hash.as_str())
                || pinned.definition_hash.is_none()
        };
        // Guarded by the hash read: an approval in between wins, the next sync compares again.
        upserts.push(if hash == approved {
            stmt!(
                "UPDATE mcp_tools SET definition_hash = ?4, approval_state = 'approved', \
                 pending_definition = NULL, pending_definition_hash = NULL, synced_at = ?5, updated_at = ?5 \
                 WHERE team_id = ?1 AND id = ?2 AND definition_hash IS ?3",
                team_id,
                pinned.id.as_str(),
                pinned.definition_hash.as_deref(),
                approved.as_str(),
                now
            )
        } else {
            tools_pending_approval += 1;
            stmt!(
                "UPDATE mcp_tools SET definition_hash = ?4, approval_state = 'pending_approval', \
                 pending_definition = ?5, pending_definition_hash = ?6, synced_at = ?7, updated_at = ?7 \
                 WHERE team_id = ?1 AND id = ?2 AND definition_hash IS ?3",
                team_id,
                pinned.id.as_str(),
                pinned.definition_hash.as_deref(),
                approved.as_str(),
                definition_json(&def).to_string(),
                hash.as_str(),
                now
            )
        });
    }
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
        tools_pending_approval,
        changed: changed || tools_removed > 0,
    })
}

/// Swaps a tool's pending definition in and marks it approved, if its pending hash is still
/// `pending_hash`; answers whether it did (`false`: approved or changed meanwhile).
pub async fn approve<D: Database>(
    db: &D,
    team_id: &str,
    tool: &Tool,
    pending_hash: &str,
    now: &str,
) -> Result<bool> {
    let Some(pending) = tool.pending_definition.as_ref().and_then(Value::as_object) else {
        return Ok(false);
    };
    let text = |field: &str| {
        pending
            .get(field)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let json_text = |field: &str| {
        pending
            .get(field)
            .filter(|v| !v.is_null())
            .map(Value::to_string)
    };
    let changed = db
        .execute(stmt!(
            "UPDATE mcp_tools SET title = ?4, description = ?5, input_schema = ?6, annotations = ?7, \
             definition_hash = ?3, approval_state = 'approved', pending_definition = NULL, \
             pending_definition_hash = NULL, updated_at = ?8 \
             WHERE team_id = ?1 AND id = ?2 AND approval_state = 'pending_approval' \
             AND pending_definition_hash = ?3",
            team_id,
            tool.id.as_str(),
            pending_hash,
            text("title"),
            text("description"),
            json_text("input_schema").unwrap_or_else(|| r#"{"type":"object"}"#.to_string()),
            json_text("annotations"),
            now
        ))
        .await?;
    Ok(changed == 1)
}

/// The team's [`OnToolChange`] policy; a team without a row gets the stricter `Disable`.
pub async fn on_tool_change<D: Database>(db: &D, team_id: &str) -> Result<OnToolChange> {
    let row: Option<OnToolChangeRow> = db.query_one(on_tool_change_stmt(team_id)).await?;
    Ok(OnToolChangeRow::policy(row))
}

/// The read of [`on_tool_change`] (for reads batched with others).
pub fn on_tool_change_stmt(team_id: &str) -> Statement {
    stmt!("SELECT on_tool_change FROM teams WHERE id = ?1", team_id)
}

/// A row of [`on_tool_change_stmt`].
#[derive(Deserialize)]
pub struct OnToolChangeRow {
    on_tool_change: OnToolChange,
}

impl OnToolChangeRow {
    /// The team's policy (`disable` for a team without a row: the safe side).
    pub fn policy(row: Option<OnToolChangeRow>) -> OnToolChange {
        row.map_or(OnToolChange::Disable, |r| r.on_tool_change)
    }
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
    pub long_running: Option<bool>,
    pub async_timeout_seconds: Option<u64>,
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
             updated_at = ?7, long_running = COALESCE(?8, long_running), \
             async_timeout_seconds = COALESCE(?9, async_timeout_seconds) \
             WHERE team_id = ?1 AND id = ?2",
            team_id,
            tool_id,
            p.is_enabled,
            p.requires_confirmation,
            p.timeout_seconds,
            p.cacheable,
            now,
            p.long_running,
            p.async_timeout_seconds
        ))
        .await?;
    if changed == 0 {
        return Err(Error::NotFound(format!(
            "tool '{tool_id}' not found in your team"
        )));
    }
    Ok(())
}
