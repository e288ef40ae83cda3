use std::cell::Cell;

use super::*;
use crate::actions::testing::{SqliteDb, TWO_TEAMS};
use crate::db::Statement;
use crate::error::Error;

const NOW: u64 = 1_795_292_256_000;

/// The real SQLite behind a counter of round trips.
struct Counting {
    db: SqliteDb,
    trips: Cell<u32>,
}

impl Database for Counting {
    async fn query(&self, stmt: Statement) -> Result<Vec<Row>> {
        self.trips.set(self.trips.get() + 1);
        self.db.query(stmt).await
    }
    async fn execute(&self, stmt: Statement) -> Result<u64> {
        self.trips.set(self.trips.get() + 1);
        self.db.execute(stmt).await
    }
    async fn batch(&self, stmts: Vec<Statement>) -> Result<Vec<u64>> {
        self.trips.set(self.trips.get() + 1);
        self.db.batch(stmts).await
    }
    async fn query_many(&self, stmts: Vec<Statement>) -> Result<Vec<Vec<Row>>> {
        self.trips.set(self.trips.get() + 1);
        self.db.query_many(stmts).await
    }
}

fn db() -> Counting {
    let db = SqliteDb::migrated();
    db.exec(TWO_TEAMS);
    Counting {
        db,
        trips: Cell::new(0),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_target_is_read_in_one_round_trip_with_its_credential_and_policy() {
    let db = db();
    db.db.exec(
        "INSERT INTO mcp_server_credentials (id, server_id, team_id, credential_type, encrypted_value, key_id) \
         VALUES ('cred-a', 'srv-a', 'team-a', 'bearer', 'sealed', 'k1');
         UPDATE teams SET on_tool_change = 'disable' WHERE id = 'team-a';",
    );
    let target = load(&db, "team-a", "srv-a", "echo").await.unwrap();
    assert_eq!(db.trips.get(), 1);
    assert_eq!(target.server.id, "srv-a");
    assert_eq!(target.tool.unwrap().id, "tool-a1");
    assert_eq!(target.credential.unwrap().id, "cred-a");
    assert_eq!(target.on_tool_change, OnToolChange::Disable);
}

#[tokio::test(flavor = "current_thread")]
async fn another_teams_server_is_not_found_and_a_missing_tool_is_none() {
    let db = db();
    let err = load(&db, "team-a", "srv-b", "echo").await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    let target = load(&db, "team-a", "srv-a", "nope").await.unwrap();
    assert!(target.tool.is_none());
    assert!(target.credential.is_none());
}

#[tokio::test(flavor = "current_thread")]
async fn a_cached_target_serves_only_under_its_version_and_within_its_time() {
    let db = db();
    let cache = TargetCache::new();
    let v1 = Some(Versioned {
        cache: &cache,
        version: "epoch.1",
    });
    read(&db, v1, "team-a", "srv-a", "echo", NOW).await.unwrap();
    assert_eq!(db.trips.get(), 1);
    // Same version: no read, even though the row changed behind the cache's back.
    db.db
        .exec("UPDATE mcp_tools SET is_enabled = 0 WHERE id = 'tool-a1'");
    let hit = read(&db, v1, "team-a", "srv-a", "echo", NOW + 1000)
        .await
        .unwrap();
    assert_eq!(db.trips.get(), 1);
    assert!(hit.tool.unwrap().is_enabled);
    // A bumped version reads again and sees the change.
    let v2 = Some(Versioned {
        cache: &cache,
        version: "epoch.2",
    });
    let fresh = read(&db, v2, "team-a", "srv-a", "echo", NOW + 1000)
        .await
        .unwrap();
    assert_eq!(db.trips.get(), 2);
    assert!(!fresh.tool.unwrap().is_enabled);
    // The same version, once TARGET_CACHE_MS have passed, reads again.
    read(
        &db,
        v2,
        "team-a",
        "srv-a",
        "echo",
        NOW + 1000 + TARGET_CACHE_MS,
    )
    .await
    .unwrap();
    assert_eq!(db.trips.get(), 3);
}

#[tokio::test(flavor = "current_thread")]
async fn incomplete_targets_and_unversioned_reads_are_never_cached() {
    let db = db();
    let cache = TargetCache::new();
    let v = Some(Versioned {
        cache: &cache,
        version: "e.1",
    });
    read(&db, v, "team-a", "srv-a", "nope", NOW).await.unwrap();
    read(&db, v, "team-a", "srv-a", "nope", NOW).await.unwrap();
    assert_eq!(db.trips.get(), 2);
    assert!(cache.is_empty());
    read(&db, None, "team-a", "srv-a", "echo", NOW)
        .await
        .unwrap();
    assert!(cache.is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn teams_do_not_share_cached_targets() {
    let db = db();
    let cache = TargetCache::new();
    let v = Some(Versioned {
        cache: &cache,
        version: "e.1",
    });
    read(&db, v, "team-a", "srv-a", "echo", NOW).await.unwrap();
    let err = read(&db, v, "team-b", "srv-a", "echo", NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
}
