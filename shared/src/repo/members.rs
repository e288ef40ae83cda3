//! `team_members` and the self-service part of `teams`: who belongs to which team, as what.
//!
//! Invariants:
//! - Every read and write names the team (except "which teams is this user in", which names
//!   the user and answers only that user's rows).
//! - A team never loses its last owner: the demoting `UPDATE` and the removing `DELETE` carry the
//!   check in the same statement, so two concurrent changes cannot both pass it (D1 runs one
//!   statement at a time per database).
//! - `create_team` inserts the team and its owner in one batch, and only while the user is in no
//!   team, checked inside the statements themselves.

use serde::{Deserialize, Serialize};

use crate::db::Database;
use crate::error::{Error, Result};
use crate::identity::Role;
use crate::stmt;

/// One membership row as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub team_id: String,
    pub user_id: String,
    #[serde(with = "role_text")]
    pub role: Role,
    pub added_by: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A team a user belongs to, with their role there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub team_id: String,
    #[serde(with = "role_text")]
    pub role: Role,
}

/// Roles are stored as their names; an unknown stored name is a loud error, never a role.
mod role_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::identity::Role;

    pub fn serialize<S: Serializer>(role: &Role, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(role.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Role, D::Error> {
        let name = String::deserialize(d)?;
        Role::parse(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown stored role '{name}'")))
    }
}

/// How many of a user's teams are read at most: enough to list them in an error.
pub const MAX_TEAMS_LISTED: u64 = 50;

/// Whether the team has a `teams` row.
pub async fn team_exists<D: Database>(db: &D, team_id: &str) -> Result<bool> {
    let rows = db
        .query(stmt!("SELECT 1 AS one FROM teams WHERE id = ?1", team_id))
        .await?;
    Ok(!rows.is_empty())
}

/// The user's role in the team, if they are a member of a team that exists.
pub async fn role_of<D: Database>(db: &D, team_id: &str, user_id: &str) -> Result<Option<Role>> {
    let row: Option<Membership> = db
        .query_one(stmt!(
            "SELECT m.team_id, m.role FROM team_members m JOIN teams t ON t.id = m.team_id \
             WHERE m.team_id = ?1 AND m.user_id = ?2",
            team_id,
            user_id
        ))
        .await?;
    Ok(row.map(|m| m.role))
}

/// The teams a user belongs to (oldest membership first), at most [`MAX_TEAMS_LISTED`].
pub async fn teams_of_user<D: Database>(db: &D, user_id: &str) -> Result<Vec<Membership>> {
    db.query_as(stmt!(
        "SELECT m.team_id, m.role FROM team_members m JOIN teams t ON t.id = m.team_id \
         WHERE m.user_id = ?1 ORDER BY m.created_at, m.team_id LIMIT ?2",
        user_id,
        MAX_TEAMS_LISTED
    ))
    .await
}

pub async fn list_members<D: Database>(db: &D, team_id: &str) -> Result<Vec<Member>> {
    db.query_as(stmt!(
        "SELECT team_id, user_id, role, added_by, created_at, updated_at FROM team_members \
         WHERE team_id = ?1 ORDER BY created_at, user_id",
        team_id
    ))
    .await
}

pub async fn get_member<D: Database>(
    db: &D,
    team_id: &str,
    user_id: &str,
) -> Result<Option<Member>> {
    db.query_one(stmt!(
        "SELECT team_id, user_id, role, added_by, created_at, updated_at FROM team_members \
         WHERE team_id = ?1 AND user_id = ?2",
        team_id,
        user_id
    ))
    .await
}

/// Adds a member; `Error::Conflict` when they already are one.
pub async fn add_member<D: Database>(
    db: &D,
    team_id: &str,
    user_id: &str,
    role: Role,
    added_by: &str,
    now: &str,
) -> Result<()> {
    let changed = db
        .execute(stmt!(
            "INSERT INTO team_members (team_id, user_id, role, added_by, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (team_id, user_id) DO NOTHING",
            team_id,
            user_id,
            role.as_str(),
            added_by,
            now
        ))
        .await?;
    if changed == 0 {
        return Err(Error::Conflict(format!(
            "user '{user_id}' is already a member of this team; use update_member to change their role"
        )));
    }
    Ok(())
}

/// What a guarded change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Done,
    NotAMember,
    LastOwner,
}

/// Sets a member's role unless that would leave the team without an owner.
pub async fn set_role<D: Database>(
    db: &D,
    team_id: &str,
    user_id: &str,
    role: Role,
    now: &str,
) -> Result<Change> {
    let changed = db
        .execute(stmt!(
            "UPDATE team_members SET role = ?3, updated_at = ?4 \
             WHERE team_id = ?1 AND user_id = ?2 \
               AND NOT (role = 'owner' AND ?3 <> 'owner' AND \
                        (SELECT COUNT(*) FROM team_members WHERE team_id = ?1 AND role = 'owner') <= 1)",
            team_id,
            user_id,
            role.as_str(),
            now
        ))
        .await?;
    explain(db, team_id, user_id, changed).await
}

/// Removes a member unless they are the team's last owner.
pub async fn remove_member<D: Database>(db: &D, team_id: &str, user_id: &str) -> Result<Change> {
    let changed = db
        .execute(stmt!(
            "DELETE FROM team_members WHERE team_id = ?1 AND user_id = ?2 \
               AND NOT (role = 'owner' AND \
                        (SELECT COUNT(*) FROM team_members WHERE team_id = ?1 AND role = 'owner') <= 1)",
            team_id,
            user_id
        ))
        .await?;
    explain(db, team_id, user_id, changed).await
}

async fn explain<D: Database>(
    db: &D,
    team_id: &str,
    user_id: &str,
    changed: u64,
) -> Result<Change> {
    if changed > 0 {
        return Ok(Change::Done);
    }
    Ok(match get_member(db, team_id, user_id).await? {
        None => Change::NotAMember,
        Some(_) => Change::LastOwner,
    })
}

/// Creates a team owned by `user_id`, only while the user belongs to no team. Answers whether
/// it was created (false: the user is in a team already, possibly by a concurrent request).
pub async fn create_team<D: Database>(
    db: &D,
    team_id: &str,
    name: &str,
    user_id: &str,
    now: &str,
) -> Result<bool> {
    let changed = db
        .batch(vec![
            stmt!(
                "INSERT INTO teams (id, name, tier, created_by, created_at, updated_at) \
                 SELECT ?1, ?2, 'free', ?3, ?4, ?4 \
                 WHERE NOT EXISTS (SELECT 1 FROM team_members WHERE user_id = ?3)",
                team_id,
                name,
                user_id,
                now
            ),
            stmt!(
                "INSERT INTO team_members (team_id, user_id, role, added_by, created_at, updated_at) \
                 SELECT ?1, ?2, 'owner', ?2, ?3, ?3 \
                 WHERE EXISTS (SELECT 1 FROM teams WHERE id = ?1 AND created_by = ?2) \
                   AND NOT EXISTS (SELECT 1 FROM team_members WHERE user_id = ?2)",
                team_id,
                user_id,
                now
            ),
        ])
        .await?;
    Ok(changed.first().copied().unwrap_or(0) > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::testing::SqliteDb;

    const NOW: &str = "2026-11-29T12:00:00.000Z";

    fn db() -> SqliteDb {
        let db = SqliteDb::migrated();
        db.exec(
            "INSERT INTO teams (id, name) VALUES ('t1', 'T1'), ('t2', 'T2'); \
             INSERT INTO team_members (team_id, user_id, role) VALUES \
               ('t1', 'olga', 'owner'), ('t1', 'adam', 'admin'), ('t1', 'mia', 'member'), \
               ('t2', 'mia', 'admin');",
        );
        db
    }

    #[tokio::test]
    async fn roles_are_read_per_team_and_users_list_only_their_own_teams() {
        let db = db();
        assert_eq!(role_of(&db, "t1", "mia").await.unwrap(), Some(Role::Member));
        assert_eq!(role_of(&db, "t2", "mia").await.unwrap(), Some(Role::Admin));
        assert_eq!(role_of(&db, "t2", "olga").await.unwrap(), None);
        assert_eq!(role_of(&db, "nope", "olga").await.unwrap(), None);
        let teams: Vec<String> = teams_of_user(&db, "mia")
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.team_id)
            .collect();
        assert_eq!(teams, vec!["t1", "t2"]);
        assert!(teams_of_user(&db, "nobody").await.unwrap().is_empty());
        assert!(team_exists(&db, "t1").await.unwrap());
        assert!(!team_exists(&db, "t3").await.unwrap());
    }

    #[tokio::test]
    async fn the_last_owner_can_be_neither_demoted_nor_removed() {
        let db = db();
        assert_eq!(
            set_role(&db, "t1", "olga", Role::Admin, NOW).await.unwrap(),
            Change::LastOwner
        );
        assert_eq!(
            remove_member(&db, "t1", "olga").await.unwrap(),
            Change::LastOwner
        );
        assert_eq!(role_of(&db, "t1", "olga").await.unwrap(), Some(Role::Owner));
        // With a second owner, either may go.
        assert_eq!(
            set_role(&db, "t1", "adam", Role::Owner, NOW).await.unwrap(),
            Change::Done
        );
        assert_eq!(
            remove_member(&db, "t1", "olga").await.unwrap(),
            Change::Done
        );
        assert_eq!(
            set_role(&db, "t1", "adam", Role::Member, NOW)
                .await
                .unwrap(),
            Change::LastOwner
        );
        assert_eq!(
            remove_member(&db, "t1", "ghost").await.unwrap(),
            Change::NotAMember
        );
        assert_eq!(
            set_role(&db, "t2", "adam", Role::Admin, NOW).await.unwrap(),
            Change::NotAMember,
            "a member of another team is not found here"
        );
    }

    #[tokio::test]
    async fn adding_twice_conflicts_and_roles_round_trip() {
        let db = db();
        add_member(&db, "t2", "olga", Role::Member, "mia", NOW)
            .await
            .unwrap();
        let err = add_member(&db, "t2", "olga", Role::Admin, "mia", NOW)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "conflict");
        let m = get_member(&db, "t2", "olga").await.unwrap().unwrap();
        assert_eq!((m.role, m.added_by.as_deref()), (Role::Member, Some("mia")));
        let err = add_member(&db, "no-team", "x", Role::Member, "mia", NOW).await;
        assert!(err.is_err(), "the foreign key refuses members of no team");
    }

    #[tokio::test]
    async fn create_team_only_for_users_in_no_team() {
        let db = db();
        assert!(create_team(&db, "t9", "Nine", "newbie", NOW).await.unwrap());
        assert_eq!(
            role_of(&db, "t9", "newbie").await.unwrap(),
            Some(Role::Owner)
        );
        assert!(!create_team(&db, "t10", "Ten", "newbie", NOW).await.unwrap());
        assert!(!create_team(&db, "t11", "Eleven", "mia", NOW).await.unwrap());
        assert!(!team_exists(&db, "t10").await.unwrap());
        assert!(!team_exists(&db, "t11").await.unwrap());
    }
}
