//! Native test doubles behind the real seams: [`SqliteDb`] runs the real migrations and the
//! real SQL on an in-memory SQLite (D1 is SQLite), [`NoNetwork`] refuses every upstream call.

use std::cell::{Cell, RefCell};

use rusqlite::types::{Value as Sqlite, ValueRef};
use serde_json::{Map, Value};

use crate::db::{Database, Row, SqlValue, Statement};
use crate::error::{Error, Result};
use crate::identity::{Identity, Role};
use mcp_client::http::{Clock, HttpClient, HttpRequest, HttpResponse};
use mcp_client::McpError;

pub struct SqliteDb {
    conn: RefCell<rusqlite::Connection>,
}

impl SqliteDb {
    /// A fresh database with every migration in `migrations/` applied, in order.
    pub fn migrated() -> SqliteDb {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("PRAGMA foreign_keys = ON;").unwrap();
        // D1's limits (developers.cloudflare.com/d1/platform/limits), so that a statement or
        // table D1 would refuse fails here first.
        use rusqlite::limits::Limit;
        for (limit, value) in [
            (Limit::SQLITE_LIMIT_COLUMN, 100),
            (Limit::SQLITE_LIMIT_FUNCTION_ARG, 32),
            (Limit::SQLITE_LIMIT_EXPR_DEPTH, 100),
            (Limit::SQLITE_LIMIT_VARIABLE_NUMBER, 100),
            (Limit::SQLITE_LIMIT_SQL_LENGTH, 100_000),
        ] {
            conn.set_limit(limit, value).unwrap();
        }
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files {
            conn.execute_batch(&std::fs::read_to_string(&f).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        }
        SqliteDb {
            conn: RefCell::new(conn),
        }
    }

    /// Runs raw SQL (fixtures).
    pub fn exec(&self, sql: &str) {
        self.conn.borrow().execute_batch(sql).unwrap();
    }

    pub fn scalar(&self, sql: &str) -> Value {
        let conn = self.conn.borrow();
        conn.query_row(sql, [], |r| Ok(to_json(r.get_ref(0)?)))
            .unwrap()
    }
}

fn to_sqlite(v: &SqlValue) -> Sqlite {
    match v {
        SqlValue::Null => Sqlite::Null,
        SqlValue::Integer(i) => Sqlite::Integer(*i),
        SqlValue::Real(f) => Sqlite::Real(*f),
        SqlValue::Text(s) => Sqlite::Text(s.clone()),
    }
}

fn to_json(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => i.into(),
        ValueRef::Real(f) => f.into(),
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned().into(),
        ValueRef::Blob(_) => Value::Null,
    }
}

fn sqlite_error(e: rusqlite::Error) -> Error {
    Error::internal(format!("SQLite: {e}"))
}

fn run(conn: &rusqlite::Connection, stmt: &Statement) -> Result<u64> {
    let params: Vec<Sqlite> = stmt.params.iter().map(to_sqlite).collect();
    conn.execute(stmt.sql, rusqlite::params_from_iter(params))
        .map(|n| n as u64)
        .map_err(sqlite_error)
}

impl Database for SqliteDb {
    async fn query(&self, stmt: Statement) -> Result<Vec<Row>> {
        let conn = self.conn.borrow();
        let mut prepared = conn.prepare(stmt.sql).map_err(sqlite_error)?;
        let names: Vec<String> = prepared
            .column_names()
            .iter()
            .map(|s| s.to_string())
            .collect();
        let params: Vec<Sqlite> = stmt.params.iter().map(to_sqlite).collect();
        let mut rows = prepared
            .query(rusqlite::params_from_iter(params))
            .map_err(sqlite_error)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(sqlite_error)? {
            let mut m = Map::new();
            for (i, name) in names.iter().enumerate() {
                m.insert(name.clone(), to_json(row.get_ref(i).map_err(sqlite_error)?));
            }
            out.push(m);
        }
        Ok(out)
    }

    async fn execute(&self, stmt: Statement) -> Result<u64> {
        run(&self.conn.borrow(), &stmt)
    }

    async fn batch(&self, stmts: Vec<Statement>) -> Result<Vec<u64>> {
        let mut conn = self.conn.borrow_mut();
        let tx = conn.transaction().map_err(sqlite_error)?;
        let mut changes = Vec::new();
        for s in &stmts {
            changes.push(run(&tx, s)?);
        }
        tx.commit().map_err(sqlite_error)?;
        Ok(changes)
    }
}

/// A network that refuses everything, with a settable clock.
#[derive(Default)]
pub struct NoNetwork {
    pub now: Cell<u64>,
    pub attempts: Cell<u32>,
}

impl HttpClient for NoNetwork {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, McpError> {
        self.attempts.set(self.attempts.get() + 1);
        Err(McpError::transport(format!(
            "test network refuses {}",
            request.url
        )))
    }
}

impl Clock for NoNetwork {
    fn now_ms(&self) -> u64 {
        self.now.get()
    }
    async fn sleep_ms(&self, ms: u64) {
        self.now.set(self.now.get() + ms);
    }
}

pub fn identity(team: &str, role: Role) -> Identity {
    Identity {
        user_id: format!("user-of-{team}"),
        team_id: team.to_string(),
        role,
    }
}

/// Two teams, each with one active server (`srv-a`, `srv-b`) holding two tools, one disabled;
/// team A also has an inactive server.
pub const TWO_TEAMS: &str = r#"
INSERT INTO teams (id, name) VALUES ('team-a', 'A'), ('team-b', 'B');
INSERT INTO mcp_servers (id, team_id, name, server_type, config) VALUES
  ('srv-a', 'team-a', 'alpha', 'http', '{"url":"http://127.0.0.1:9/mcp"}'),
  ('srv-a-off', 'team-a', 'alpha-off', 'http', '{"url":"http://127.0.0.1:9/mcp"}'),
  ('srv-b', 'team-b', 'beta', 'http', '{"url":"http://127.0.0.1:9/mcp"}');
UPDATE mcp_servers SET is_active = 0 WHERE id = 'srv-a-off';
INSERT INTO mcp_tools (id, server_id, team_id, tool_name, description) VALUES
  ('tool-a1', 'srv-a', 'team-a', 'echo', 'Echo'),
  ('tool-a2', 'srv-a', 'team-a', 'secret', 'Disabled'),
  ('tool-aoff', 'srv-a-off', 'team-a', 'echo', 'Echo'),
  ('tool-b1', 'srv-b', 'team-b', 'echo', 'Echo'),
  ('tool-b2', 'srv-b', 'team-b', 'add', 'Add');
UPDATE mcp_tools SET is_enabled = 0 WHERE id = 'tool-a2';
"#;
