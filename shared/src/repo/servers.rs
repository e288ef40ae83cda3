//! `mcp_servers`: a team's configured MCP servers and their connection health, the per-team
//! server quota, and cron's fair selection of servers to check.
//!
//! Invariants:
//! - A team never holds more servers (active or not) than its quota: `teams.max_servers`, or
//!   the deployment default when NULL. The check and the insert are one statement, so two
//!   concurrent creates cannot both take the last place.
//! - Cron takes servers with [`take_for_health_check`] / [`take_for_sync`]: at most
//!   `per_team` of each team and `total` in all, each team's least recently taken first (never
//!   taken before any time), round-robin across teams (every team's first before any team's
//!   second), and stamps them taken in the same statement. So a team's servers rotate over
//!   runs, a team with many servers costs the others nothing, and a run that overlaps another
//!   takes the servers the other did not take first.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::bool_from_int;
use crate::db::{Database, Statement};
use crate::error::{Error, Result};
use crate::server_config::ServerType;
use crate::stmt;

crate::text_enum::text_enum! {
    /// A server's health as cron and calls last saw it (`mcp_servers.connection_status`).
    pub enum ConnectionStatus {
        /// Created, never checked yet.
        Pending = "pending",
        /// Its last contact succeeded ([`mark_connected`]).
        Connected = "connected",
        /// `error_after` consecutive contacts failed ([`mark_failed`]); calls are refused
        /// until a check succeeds.
        Error = "error",
        Disconnected = "disconnected",
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Server {
    pub id: String,
    pub team_id: String,
    pub name: String,
    pub description: Option<String>,
    pub server_type: ServerType,
    /// JSON text; see [`crate::server_config::RemoteConfig`] and [`crate::server_config::StdioConfig`].
    pub config: String,
    #[serde(deserialize_with = "bool_from_int")]
    pub is_active: bool,
    pub connection_status: ConnectionStatus,
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
        m.insert("server_type".into(), self.server_type.as_str().into());
        m.insert("is_active".into(), self.is_active.into());
        m.insert(
            "last_connected_at".into(),
            self.last_connected_at.clone().into(),
        );
        m.insert(
            "connection_status".into(),
            self.connection_status.as_str().into(),
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

/// Cron's selection over every team, stamping what it takes with `$stamp` (`?3` is now).
/// `turn` is a server's rank within its team by `$order` (oldest first; SQLite sorts NULL, never
/// taken, first); the run takes turns 1..=per_team (`?1`), all teams' turn 1 before any turn 2,
/// and within a turn the team whose candidate waited longest first, until `total` (`?2`).
macro_rules! take_for_cron {
    ($order:literal, $stamp:literal) => {
        concat!(
            "UPDATE mcp_servers SET ",
            $stamp,
            " WHERE id IN (\
               SELECT id FROM (\
                 SELECT id, team_id, ",
            $order,
            " AS taken_at, ROW_NUMBER() OVER (PARTITION BY team_id ORDER BY ",
            $order,
            ", id) AS turn \
                 FROM mcp_servers WHERE is_active = 1\
               ) WHERE turn <= ?1 ORDER BY turn, taken_at, team_id, id LIMIT ?2\
             ) RETURNING id, team_id, name, description, server_type, config, is_active, \
             connection_status, last_connected_at, last_error, consecutive_failures, created_at, updated_at"
        )
    };
}

/// The servers this health-check run handles (see the module invariants), stamped
/// `last_checked_at = now`. Not team-scoped by design: cron acts for the deployment, and each
/// server is then handled with its own `team_id`. Rows come back in no particular order.
pub async fn take_for_health_check<D: Database>(
    db: &D,
    per_team: u32,
    total: u32,
    now: &str,
) -> Result<Vec<Server>> {
    const SQL: &str = take_for_cron!("last_checked_at", "last_checked_at = ?3");
    db.query_as(stmt!(SQL, per_team, total, now)).await
}

/// The servers this sync run re-lists, like [`take_for_health_check`] but rotating on
/// `last_synced_at`; a sync is also a health check, so both stamps are set.
pub async fn take_for_sync<D: Database>(
    db: &D,
    per_team: u32,
    total: u32,
    now: &str,
) -> Result<Vec<Server>> {
    const SQL: &str = take_for_cron!(
        "last_synced_at",
        "last_synced_at = ?3, last_checked_at = ?3"
    );
    db.query_as(stmt!(SQL, per_team, total, now)).await
}

/// Servers a team may have when its `teams.max_servers` is NULL (setting `MAX_SERVERS_PER_TEAM`).
pub const DEFAULT_MAX_SERVERS_PER_TEAM: u32 = 50;

/// A team's server quota: servers it has (active or not) and how many it may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    pub used: u64,
    pub limit: u64,
}

/// The team's server quota; `default_limit` applies when `teams.max_servers` is NULL.
pub async fn quota<D: Database>(db: &D, team_id: &str, default_limit: u32) -> Result<Quota> {
    const SQL: &str = "SELECT (SELECT count(*) FROM mcp_servers WHERE team_id = ?1) AS used, \
         COALESCE((SELECT max_servers FROM teams WHERE id = ?1), ?2) AS \"limit\"";
    db.query_one(stmt!(SQL, team_id, default_limit))
        .await?
        .ok_or_else(|| Error::internal("quota query returned no row"))
}

/// A server of the caller's team, active or not; `not_found` for any other team's id.
pub async fn get<D: Database>(db: &D, team_id: &str, server_id: &str) -> Result<Server> {
    db.query_one(get_stmt(team_id, server_id))
        .await?
        .ok_or_else(|| not_found(server_id))
}

/// The read of [`get`] (for reads batched with others).
pub fn get_stmt(team_id: &str, server_id: &str) -> Statement {
    const SQL: &str = select_servers!("WHERE team_id = ?1 AND id = ?2");
    stmt!(SQL, team_id, server_id)
}

/// What [`get`] answers for a server that is not in the caller's team.
pub fn not_found(server_id: &str) -> Error {
    Error::NotFound(format!("server '{server_id}' not found in your team"))
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
/// Answers the connection status the statement left the row in (`None`: no such server), so a
/// caller learns whether the status moved from the write itself.
pub async fn mark_failed<D: Database>(
    db: &D,
    team_id: &str,
    server_id: &str,
    error: &str,
    error_after: u32,
    now: &str,
) -> Result<Option<ConnectionStatus>> {
    #[derive(serde::Deserialize)]
    struct Left {
        connection_status: ConnectionStatus,
    }
    let left: Option<Left> = db
        .query_one(stmt!(
            "UPDATE mcp_servers SET consecutive_failures = consecutive_failures + 1, last_error = ?3, \
             connection_status = CASE WHEN consecutive_failures + 1 >= ?4 THEN 'error' ELSE connection_status END, \
             updated_at = ?5 WHERE team_id = ?1 AND id = ?2 RETURNING connection_status",
            team_id,
            server_id,
            error,
            error_after,
            now
        ))
        .await?;
    Ok(left.map(|l| l.connection_status))
}

pub struct NewServer<'a> {
    pub id: &'a str,
    pub team_id: &'a str,
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub server_type: ServerType,
    pub config: &'a str,
    pub created_by: &'a str,
    pub now: &'a str,
    /// The team's quota when its `teams.max_servers` is NULL.
    pub default_max_servers: u32,
}

/// Inserts the server unless the team's quota is used up (`Error::Quota`, 409 with `{limit,
/// current}`): the count and the insert are one statement.
pub async fn insert<D: Database>(db: &D, s: NewServer<'_>) -> Result<()> {
    let result = db
        .execute(stmt!(
            "INSERT INTO mcp_servers (id, team_id, name, description, server_type, config, created_by, created_at, updated_at) \
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8 \
             WHERE (SELECT count(*) FROM mcp_servers WHERE team_id = ?2) \
                   < COALESCE((SELECT max_servers FROM teams WHERE id = ?2), ?9)",
            s.id,
            s.team_id,
            s.name,
            s.description,
            s.server_type.as_str(),
            s.config,
            s.created_by,
            s.now,
            s.default_max_servers
        ))
        .await;
    match result {
        Ok(0) => {
            let q = quota(db, s.team_id, s.default_max_servers).await?;
            Err(Error::Quota {
                message: format!(
                    "your team has {} of its {} servers: delete one, or ask the operator to raise \
                     the team's limit",
                    q.used, q.limit
                ),
                limit: q.limit,
                current: q.used,
            })
        }
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

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use serde_json::json;

    use super::*;
    use crate::actions::testing::SqliteDb;
    use crate::time::iso_from_ms;

    const T0: u64 = 1_795_292_256_000;
    const FIVE_MINUTES: u64 = 300_000;

    /// `teams` teams named `{prefix}-NN`, each with `servers` active servers `{team}-sNNN`.
    fn seed(db: &SqliteDb, prefix: &str, teams: u32, servers: u32) {
        db.exec(&format!(
            "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < {teams}) \
             INSERT INTO teams (id, name) SELECT printf('{prefix}-%02d', n), 'x' FROM t; \
             WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < {teams}), \
                            s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {servers}) \
             INSERT INTO mcp_servers (id, team_id, name, server_type, config) \
             SELECT printf('{prefix}-%02d-s%03d', t.n, s.n), printf('{prefix}-%02d', t.n), \
                    printf('s%03d', s.n), 'http', '{{\"url\":\"http://127.0.0.1:9/mcp\"}}' FROM t, s;"
        ));
    }

    async fn health_run(db: &SqliteDb, run_no: u64, per_team: u32, total: u32) -> Vec<Server> {
        let now = iso_from_ms(T0 + run_no * FIVE_MINUTES);
        take_for_health_check(db, per_team, total, &now)
            .await
            .unwrap()
    }

    fn per_team(taken: &[Server]) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for s in taken {
            *counts.entry(s.team_id.clone()).or_default() += 1;
        }
        counts
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_team_of_500_servers_never_delays_small_teams_and_rotates_through_all_of_its_own() {
        let db = SqliteDb::migrated();
        seed(&db, "big", 1, 500);
        seed(&db, "small", 20, 2);
        let mut times_taken: HashMap<String, u32> = HashMap::new();
        // ceil(500 / 25) = 20 runs cover the big team.
        for run_no in 1..=20 {
            let taken = health_run(&db, run_no, 25, 100).await;
            let counts = per_team(&taken);
            assert_eq!(counts["big-01"], 25, "run {run_no}: the per-team cap");
            for n in 1..=20 {
                assert_eq!(
                    counts.get(&format!("small-{n:02}")),
                    Some(&2),
                    "run {run_no}: every small team's servers, every run"
                );
            }
            assert_eq!(taken.len(), 65);
            for s in taken.iter().filter(|s| s.team_id == "big-01") {
                *times_taken.entry(s.id.clone()).or_default() += 1;
            }
        }
        assert_eq!(
            times_taken.len(),
            500,
            "every big-team server within 20 runs"
        );
        assert!(times_taken.values().all(|n| *n == 1), "each exactly once");
        assert_eq!(
            db.scalar("SELECT count(*) FROM mcp_servers WHERE last_checked_at IS NULL"),
            json!(0)
        );
        // Run 21 starts the rotation again with the servers checked longest ago (run 1's).
        let first_run = db.scalar(&format!(
            "SELECT count(*) FROM mcp_servers WHERE team_id = 'big-01' AND last_checked_at = '{}'",
            iso_from_ms(T0 + FIVE_MINUTES)
        ));
        assert_eq!(first_run, json!(25));
        let taken = health_run(&db, 21, 25, 100).await;
        let again: HashSet<&str> = taken
            .iter()
            .filter(|s| s.team_id == "big-01")
            .map(|s| s.id.as_str())
            .collect();
        assert_eq!(again.len(), 25);
        assert_eq!(
            db.scalar(&format!(
                "SELECT count(*) FROM mcp_servers WHERE team_id = 'big-01' AND last_checked_at = '{}'",
                iso_from_ms(T0 + FIVE_MINUTES)
            )),
            json!(0),
            "run 21 took exactly the servers run 1 took"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_total_cap_is_honoured_by_turns_so_every_team_is_reached_and_none_starves() {
        let db = SqliteDb::migrated();
        seed(&db, "team", 30, 3);
        let mut seen: HashSet<String> = HashSet::new();
        for run_no in 1..=3 {
            let taken = health_run(&db, run_no, 25, 40).await;
            assert_eq!(taken.len(), 40, "run {run_no}: the total cap");
            let counts = per_team(&taken);
            assert_eq!(counts.len(), 30, "run {run_no}: every team's turn 1 first");
            assert!(counts.values().all(|n| (1..=2).contains(n)), "{counts:?}");
            seen.extend(taken.into_iter().map(|s| s.id));
        }
        // 90 servers, 40 per run: ceil(90 / 40) = 3 runs reach every one.
        assert_eq!(seen.len(), 90);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_overlapping_run_takes_the_servers_the_other_did_not_and_never_inactive_ones() {
        let db = SqliteDb::migrated();
        seed(&db, "team", 2, 4);
        db.exec("UPDATE mcp_servers SET is_active = 0 WHERE id = 'team-01-s001'");
        let ids = |taken: &[Server], team: &str| -> HashSet<String> {
            taken
                .iter()
                .filter(|s| s.team_id == team)
                .map(|s| s.id.clone())
                .collect()
        };
        // Two runs at the same moment (the second starts while the first still runs).
        let first = health_run(&db, 1, 2, 100).await;
        let second = health_run(&db, 1, 2, 100).await;
        assert_eq!(ids(&first, "team-02").len(), 2);
        assert!(
            ids(&first, "team-02").is_disjoint(&ids(&second, "team-02")),
            "4 servers, 2 per run: the second run takes the other two"
        );
        // team-01 has 3 active servers: the second run takes the one left, then repeats one.
        assert!(ids(&second, "team-01").contains("team-01-s004"));
        assert!(!ids(&first, "team-01").contains("team-01-s004"));
        for taken in [&first, &second] {
            assert!(!ids(taken, "team-01").contains("team-01-s001"), "inactive");
        }
        assert_eq!(
            db.scalar("SELECT last_checked_at FROM mcp_servers WHERE id = 'team-01-s001'"),
            json!(null)
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn syncs_rotate_on_their_own_stamp_and_count_as_health_checks() {
        let db = SqliteDb::migrated();
        seed(&db, "team", 1, 3);
        health_run(&db, 1, 3, 100).await;
        let now = iso_from_ms(T0 + 2 * FIVE_MINUTES);
        let synced = take_for_sync(&db, 2, 100, &now).await.unwrap();
        assert_eq!(synced.len(), 2);
        assert_eq!(
            db.scalar(&format!(
                "SELECT count(*) FROM mcp_servers WHERE last_synced_at = '{now}' AND last_checked_at = '{now}'"
            )),
            json!(2)
        );
        let later = iso_from_ms(T0 + 3 * FIVE_MINUTES);
        let next = take_for_sync(&db, 2, 100, &later).await.unwrap();
        assert_eq!(
            next.iter().filter(|s| !synced.contains(s)).count(),
            1,
            "the never-synced server goes first"
        );
        assert_eq!(
            db.scalar("SELECT count(*) FROM mcp_servers WHERE last_synced_at IS NULL"),
            json!(0)
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_selection_reads_only_its_covering_index() {
        let db = SqliteDb::migrated();
        seed(&db, "team", 3, 3);
        for (sql, index) in [
            (
                take_for_cron!("last_checked_at", "last_checked_at = ?3"),
                "idx_mcp_servers_cron_check",
            ),
            (
                take_for_cron!(
                    "last_synced_at",
                    "last_synced_at = ?3, last_checked_at = ?3"
                ),
                "idx_mcp_servers_cron_sync",
            ),
        ] {
            let explain: &'static str =
                Box::leak(format!("EXPLAIN QUERY PLAN {sql}").into_boxed_str());
            let plan = db.query(stmt!(explain, 2u32, 10u32, "now")).await.unwrap();
            let details: Vec<String> = plan
                .iter()
                .map(|row| row["detail"].as_str().unwrap_or_default().to_string())
                .collect();
            assert!(
                details
                    .iter()
                    .any(|d| d.contains(&format!("USING COVERING INDEX {index}"))),
                "{details:#?}"
            );
            assert!(
                !details
                    .iter()
                    .any(|d| d.starts_with("SCAN mcp_servers") && !d.contains("INDEX")),
                "no table scan: {details:#?}"
            );
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn create_beyond_the_quota_is_a_conflict_with_limit_and_current() {
        let db = SqliteDb::migrated();
        seed(&db, "team", 2, 2);
        let new = |id: &'static str, team: &'static str, default_max_servers| NewServer {
            id,
            team_id: team,
            name: id,
            description: None,
            server_type: ServerType::Http,
            config: "{}",
            created_by: "u",
            now: "2026-11-29T00:00:00.000Z",
            default_max_servers,
        };
        // The deployment default applies while teams.max_servers is NULL.
        insert(&db, new("third", "team-01", 3)).await.unwrap();
        let err = insert(&db, new("fourth", "team-01", 3)).await.unwrap_err();
        assert_eq!(
            err,
            Error::Quota {
                message: err.to_string(),
                limit: 3,
                current: 3
            }
        );
        assert_eq!(err.status(), 409);
        assert_eq!(err.details(), json!({"limit": 3, "current": 3}));
        assert_eq!(
            quota(&db, "team-01", 3).await.unwrap(),
            Quota { used: 3, limit: 3 }
        );
        // Inactive servers count too (reactivating one must not exceed the quota).
        db.exec("UPDATE mcp_servers SET is_active = 0 WHERE team_id = 'team-01'");
        assert!(matches!(
            insert(&db, new("fifth", "team-01", 3)).await,
            Err(Error::Quota { .. })
        ));
        // A team's own limit overrides the default, either way.
        db.exec("UPDATE teams SET max_servers = 4 WHERE id = 'team-01'");
        insert(&db, new("fourth", "team-01", 3)).await.unwrap();
        db.exec("UPDATE teams SET max_servers = 1 WHERE id = 'team-02'");
        assert_eq!(
            insert(&db, new("other", "team-02", 50))
                .await
                .unwrap_err()
                .details(),
            json!({"limit": 1, "current": 2})
        );
        assert_eq!(
            db.scalar("SELECT count(*) FROM mcp_servers WHERE id IN ('fifth', 'other')"),
            json!(0),
            "nothing inserted beyond a quota"
        );
        // Under the quota, a duplicate name is still the name conflict.
        db.exec("UPDATE teams SET max_servers = 10 WHERE id = 'team-01'");
        assert!(matches!(
            insert(&db, new("s001", "team-01", 3)).await,
            Err(Error::Conflict(_))
        ));
    }
}
