//! The team objects' own storage, read-only: what the gateway's `RateLimiter` objects hold in
//! their SQLite files under the local state (`v3/do/mcp-edge-gateway-RateLimiter/<id>.sqlite`,
//! one per team), for tests that must see the execution ledger while a call runs
//! (`edge_cloudflare::ledger_store`).

use std::path::Path;

use rusqlite::{Connection, OpenFlags};
use serde_json::Value;

/// One row of a team object's `ledger`: the record as JSON, whether it has ended, and whether
/// it is a reservation the gate made that call_tool has not completed yet.
#[derive(Debug, Clone)]
pub struct LedgerRow {
    pub id: String,
    pub record: Value,
    pub ended: bool,
    pub reserved: bool,
}

/// Every ledger row of every team object in the state directory `state`.
pub fn ledger_rows(state: &Path) -> Vec<LedgerRow> {
    let dir = state.join("v3/do/mcp-edge-gateway-RateLimiter");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut rows = Vec::new();
    for path in entries.flatten().map(|e| e.path()) {
        let is_object = path.extension().is_some_and(|e| e == "sqlite")
            && path.file_name().is_some_and(|n| n != "metadata.sqlite");
        if is_object {
            rows.extend(rows_of(&path));
        }
    }
    rows
}

fn rows_of(path: &Path) -> Vec<LedgerRow> {
    let Ok(db) = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY) else {
        return Vec::new();
    };
    // An object that never recorded a call has no ledger tables yet.
    let Ok(mut stmt) = db
        .prepare("SELECT id, record, end IS NOT NULL, id IN (SELECT id FROM reserved) FROM ledger")
    else {
        return Vec::new();
    };
    stmt.query_map([], |row| {
        let record: String = row.get(1)?;
        Ok(LedgerRow {
            id: row.get(0)?,
            record: serde_json::from_str(&record).unwrap_or(Value::Null),
            ended: row.get(2)?,
            reserved: row.get(3)?,
        })
    })
    .map(|rows| rows.flatten().collect())
    .unwrap_or_default()
}
