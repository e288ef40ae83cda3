//! `mcp_servers`: a team's configured MCP servers and their connection health.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::bool_from_int;
use crate::db::Database;
use crate::error::{Error, Result};
use crate::stmt;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Server {
    pub id: String,
    pub team_id: String,
    pub name: String,
    pub description: Option<String>,
    pub server_type: String,
    /// JSON text; see [`crate::server_config::ServerConfig`].
    pub config: String,
    #[serde(deserialize_with = "bool_from_int")]
    pub is_active: bool,
    pub connection_status: String,
    pub last_connected_at: Option<String>,
    pub last_error: Option<String>,
    pub consecutive_failures: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl Server {
    /// The server as the public API shows it (no config: it may name internal hosts).
    pub fn public_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), self.id.clone().into());
        m.insert("name".into(), self.name.clone().into());
        m.insert("description".into(), self.description.clone().into());
        m.insert("server_type".into(), self.server_type.clone().into());
        m.insert("is_active".into(), self.is_active.into());
        m.insert(
            "last_connected_at".into(),
            self.last_connected_at.clone().into(),
        );
        m.insert(
            "connection_status".into(),
            self.connection_status.clone().into(),
        );
        m.insert("last_error".into(), self.last_error.clone().into());
        Value::Object(m)
    }
}

macro_rules! select_servers {
    ($tail:literal) => {
        concat!(
            "SELECT id, team_id, name, description, server_type, config, is_active, \
             connection_status, last_connected_at, last_error, consecutive_failures, created_at, updated_at \
             FROM mcp_servers ",
            $tail
        )
    };
}

pub async fn list_active<D: Database>(db: &D, team_id: &str) -> Result<Vec<Server>> {
    const SQL: &str = select_servers!("WHERE team_id = ?1 AND is_active = 1 ORDER BY name");
    db.query_as(stmt!(SQL, team_id)).await
}

/// Every active server of every team, for cron. Not team-scoped by design: cron acts for the
/// deployment, and each server is then handled with its own `team_id`.
pub async fn list_all_active<D: Database>(db: &D, limit: u32) -> Result<Vec<Server>> {
    const SQL: &str = select_servers!("WHERE is_active = 1 ORDER BY team_id, id LIMIT ?1");
    db.query_as(stmt!(SQL, limit)).await
}

/// A server of the caller's team, active or not; `not_found` for any other team's id.
pub async fn get<D: Database>(db: &D, team_id: &str, server_id: &str) -> Result<Server> {
    const SQL: &str = select_servers!("WHERE team_id = ?1 AND id = ?2");
    db.query_one(stmt!(SQL, team_id, server_id))
        .await?
        .ok_or_else(|| Error::NotFound(format!("server '{server_id}' not found in your team")))
}

/// A server of the caller's team by its (unique per team) name, active or not.
pub async fn get_by_name<D: Database>(db: &D, team_id: &str, name: &str) -> Result<Server> {
    const SQL: &str = select_servers!("WHERE team_id = ?1 AND name = ?2");
    db.query_one(stmt!(SQL, team_id, name))
        .await?
        .ok_or_else(|| Error::NotFound(format!("your team has no server named '{name}'")))
}

/// Records a successful contact: connected, failures reset.
pub async fn mark_connected<D: Database>(
    db: &D,
    team_id: &str,
    server_id: &str,
    now: &str,
) -> Result<()> {
    db.execute(stmt!(
        "UPDATE mcp_servers SET connection_status = 'connected', last_connected_at = ?3, \
         last_error = NULL, consecutive_failures = 0, updated_at = ?3 \
         WHERE team_id = ?1 AND id = ?2",
        team_id,
        server_id,
        now
    ))
    .await?;
    Ok(())
}

/// Records a failed contact; the server turns `error` once failures reach `error_after`.
pub async fn mark_failed<D: Database>(
    db: &D,
    team_id: &str,
    server_id: &str,
    error: &str,
    error_after: u32,
    now: &str,
) -> Result<()> {
    db.execute(stmt!(
        "UPDATE mcp_servers SET consecutive_failures = consecutive_failures + 1, last_error = ?3, \
         connection_status = CASE WHEN consecutive_failures + 1 >= ?4 THEN 'error' ELSE connection_status END, \
         updated_at = ?5 WHERE team_id = ?1 AND id = ?2",
        team_id,
        server_id,
        error,
        error_after,
        now
    ))
    .await?;
    Ok(())
}

pub struct NewServer<'a> {
    pub id: &'a str,
    pub team_id: &'a str,
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub server_type: &'a str,
    pub config: &'a str,
    pub created_by: &'a str,
    pub now: &'a str,
}

pub async fn insert<D: Database>(db: &D, s: NewServer<'_>) -> Result<()> {
    let result = db
        .execute(stmt!(
            "INSERT INTO mcp_servers (id, team_id, name, description, server_type, config, created_by, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
            s.id,
            s.team_id,
            s.name,
            s.description,
            s.server_type,
            s.config,
            s.created_by,
            s.now
        ))
        .await;
    match result {
        Err(Error::Internal(detail)) if detail.contains("UNIQUE") => Err(Error::Conflict(format!(
            "your team already has a server named '{}'",
            s.name
        ))),
        Err(Error::Internal(detail)) if detail.contains("FOREIGN KEY") => {
            Err(Error::NotFound("your team is not registered".into()))
        }
        other => other.map(|_| ()),
    }
}

pub struct ServerUpdate<'a> {
    pub name: Option<&'a str>,
    pub description: Option<&'a str>,
    pub config: Option<&'a str>,
    pub is_active: Option<bool>,
}

pub async fn update<D: Database>(
    db: &D,
    team_id: &str,
    server_id: &str,
    u: ServerUpdate<'_>,
    now: &str,
) -> Result<()> {
    let result = db
        .execute(stmt!(
            "UPDATE mcp_servers SET name = COALESCE(?3, name), description = COALESCE(?4, description), \
             config = COALESCE(?5, config), is_active = COALESCE(?6, is_active), updated_at = ?7 \
             WHERE team_id = ?1 AND id = ?2",
            team_id,
            server_id,
            u.name,
            u.description,
            u.config,
            u.is_active,
            now
        ))
        .await;
    match result {
        Ok(0) => Err(Error::NotFound(format!(
            "server '{server_id}' not found in your team"
        ))),
        Ok(_) => Ok(()),
        Err(Error::Internal(detail)) if detail.contains("UNIQUE") => Err(Error::Conflict(
            "your team already has a server with that name".into(),
        )),
        Err(e) => Err(e),
    }
}

/// Deletes a server; its tools and credential go with it (cascade), executions stay.
pub async fn delete<D: Database>(db: &D, team_id: &str, server_id: &str) -> Result<()> {
    let changed = db
        .execute(stmt!(
            "DELETE FROM mcp_servers WHERE team_id = ?1 AND id = ?2",
            team_id,
            server_id
        ))
        .await?;
    if changed == 0 {
        return Err(Error::NotFound(format!(
            "server '{server_id}' not found in your team"
        )));
    }
    Ok(())
}
