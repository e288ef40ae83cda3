//! Which team a request acts in, and with which role (DESIGN.md §4). The JWT proves who the
//! user is; the team and the role come from our `team_members` table (or, in claim mode, from
//! claims the identity provider writes and the user cannot).
//!
//! Flow in the gateway: the request may name a team (`team_id` in the body or the `X-Team-Id`
//! header; both must agree). A user who names none and belongs to exactly one team acts in it
//! (the seed PWA client never names one); several teams ⇒ 400 listing them; none ⇒ 403. The
//! chosen team's gate (the team's Durable Object, or D1 directly when limits are off) then
//! confirms the membership and the role, refuses admin work to members, and rate-limits.
//!
//! Invariants:
//! - No request reaches a team without a `teams` row, nor one the user is not a member of; both
//!   answer the same 403, so a probe learns nothing about which teams exist.
//! - The user's list of teams ([`keys::teams_of_user`], KV, [`TEAMS_HINT_TTL_SECS`]) is only a
//!   hint for picking the team: the gate re-checks membership, so a stale hint can refuse, never
//!   admit.
//! - Only owners grant, change or remove the owner role; a team never loses its last owner
//!   (`repo::members`).

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::api::{Action, MAX_ID_LEN};
use crate::auth::{ClaimedTeam, Verified};
use crate::cache::Cache;
use crate::db::Database;
use crate::error::{Error, Result};
use crate::identity::Role;
use crate::repo::members::{self, Membership};

/// The header a client may name its team with (the body's `team_id` is the alternative).
pub const TEAM_HEADER: &str = "x-team-id";
/// How long a user's list of teams is kept in KV (KV's minimum TTL; only a hint, see above).
pub const TEAMS_HINT_TTL_SECS: u64 = 60;
/// How long a gateway isolate remembers a user's teams hint without asking KV again
/// (`crate::cache::Memo`): a stale hint costs one refused request, after which it is dropped.
pub const TEAMS_HINT_MEMO_MS: u64 = 10_000;
/// Default bound on how long the team's Durable Object trusts a membership it read from D1
/// (`MEMBERSHIP_CACHE_SECS`). Changes made through the member actions take effect at once.
pub const DEFAULT_MEMBERSHIP_CACHE_SECS: u64 = 30;

pub mod keys {
    /// The teams a user belongs to (a hint for requests that name no team).
    pub fn teams_of_user(user_id: &str) -> String {
        format!("u:{user_id}:teams")
    }
}

/// The team named by the request, if any: body `team_id` and `X-Team-Id` must agree.
pub fn requested_team(body: Option<&str>, header: Option<&str>) -> Result<Option<String>> {
    let header = header.map(str::trim).filter(|h| !h.is_empty());
    for (value, field) in [(body, "team_id"), (header, "X-Team-Id")] {
        if let Some(v) = value {
            if v.chars().count() > MAX_ID_LEN || v.chars().any(char::is_control) {
                return Err(Error::validation_with(
                    format!("'{field}' is not a team id"),
                    json!({ "field": field }),
                ));
            }
        }
    }
    match (body, header) {
        (Some(b), Some(h)) if b != h => Err(Error::validation_with(
            "'team_id' and the X-Team-Id header name different teams",
            json!({ "field": "team_id" }),
        )),
        (Some(t), _) | (None, Some(t)) => Ok(Some(t.to_string())),
        (None, None) => Ok(None),
    }
}

/// The 403 for a team that does not exist or that the user is not in (deliberately the same).
pub fn not_a_member(team_id: &str) -> Error {
    Error::Authorization(format!(
        "you are not a member of team '{}'",
        team_id.chars().take(MAX_ID_LEN).collect::<String>()
    ))
}

/// Picks the team for a request that named none, from the user's memberships.
pub fn choose_team(memberships: &[Membership]) -> Result<&Membership> {
    match memberships {
        [] => Err(Error::Authorization(
            "you are not a member of any team; ask a team admin to add you, or create one with \
             {\"action\": \"create_team\", \"name\": …}"
                .into(),
        )),
        [only] => Ok(only),
        several => Err(Error::validation_with(
            format!(
                "you belong to {} teams; name one with 'team_id' in the body or the X-Team-Id header",
                several.len()
            ),
            json!({
                "field": "team_id",
                "teams": several.iter().map(|m| m.team_id.as_str()).collect::<Vec<_>>(),
            }),
        )),
    }
}

/// Where the request goes: the team, and the role claims gave (claim mode only; otherwise
/// the gate reads it from `team_members`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamChoice {
    pub team_id: String,
    pub claimed_role: Option<Role>,
    /// Picked from the cached list of the user's teams (drop it if the gate refuses).
    pub from_hint: bool,
}

/// Resolves the team a request acts in (not yet whether the user may: that is the gate's).
pub async fn resolve_team<D: Database, C: Cache>(
    verified: &Verified,
    requested: Option<String>,
    db: &D,
    cache: &C,
) -> Result<TeamChoice> {
    if let Some(ClaimedTeam { team_id, role }) = &verified.claimed {
        if let Some(named) = requested.filter(|r| r != team_id) {
            return Err(not_a_member(&named));
        }
        return Ok(TeamChoice {
            team_id: team_id.clone(),
            claimed_role: Some(*role),
            from_hint: false,
        });
    }
    if let Some(team_id) = requested {
        return Ok(TeamChoice {
            team_id,
            claimed_role: None,
            from_hint: false,
        });
    }
    let key = keys::teams_of_user(&verified.user_id);
    let cached: Option<Vec<Membership>> = match cache.get(&key).await {
        Ok(Some(text)) => serde_json::from_str(&text).ok(),
        _ => None,
    };
    let (memberships, from_hint) = match cached {
        Some(list) => (list, true),
        None => {
            let list = members::teams_of_user(db, &verified.user_id).await?;
            if let Ok(text) = serde_json::to_string(&list) {
                // A failed put only costs the next request a D1 read.
                let _ = cache.put(&key, &text, TEAMS_HINT_TTL_SECS).await;
            }
            (list, false)
        }
    };
    let chosen = choose_team(&memberships)?;
    Ok(TeamChoice {
        team_id: chosen.team_id.clone(),
        claimed_role: None,
        from_hint,
    })
}

/// What the team's gate decides about a request, before any rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Admission {
    Member { role: Role },
    NotMember,
    AdminOnly,
}

/// The gate's rule: a team row, a membership (or a claimed role), and admin work for admins.
pub fn admission(team_exists: bool, role: Option<Role>, action: Action) -> Admission {
    match (team_exists, role) {
        (true, Some(role)) if action.requires_admin() && !role.is_admin() => Admission::AdminOnly,
        (true, Some(role)) => Admission::Member { role },
        _ => Admission::NotMember,
    }
}

impl Admission {
    /// The role, or the error the request is refused with.
    pub fn into_role(self, team_id: &str, action: Action) -> Result<Role> {
        match self {
            Admission::Member { role } => Ok(role),
            Admission::NotMember => Err(not_a_member(team_id)),
            Admission::AdminOnly => Err(Error::Authorization(format!(
                "{} requires the admin role in your team",
                action.name()
            ))),
        }
    }
}

/// The gate without a Durable Object (rate limits disabled): D1 directly, every time.
pub async fn admit_directly<D: Database>(
    db: &D,
    choice: &TeamChoice,
    user_id: &str,
    action: Action,
) -> Result<Admission> {
    let exists = members::team_exists(db, &choice.team_id).await?;
    let role = match choice.claimed_role {
        Some(role) => Some(role),
        None if exists => members::role_of(db, &choice.team_id, user_id).await?,
        None => None,
    };
    Ok(admission(exists, role, action))
}

/// The memberships a team's Durable Object has read from D1, each trusted for a bounded time
/// (`MEMBERSHIP_CACHE_SECS`) and dropped at once when the admin worker reports a change.
/// Negative answers are kept too (a stranger hammering the team costs D1 one read per TTL).
#[derive(Debug, Default)]
pub struct MemberCache {
    entries: std::collections::HashMap<String, (Option<Role>, u64)>,
}

/// More users than this in one team's cache: start over rather than grow without bound.
pub const MEMBER_CACHE_CAPACITY: usize = 10_000;

impl MemberCache {
    /// The cached role (`Some(None)`: cached as not a member) if read less than `ttl_secs` ago;
    /// a clock that went backwards counts as stale.
    pub fn get(&self, user_id: &str, now_ms: u64, ttl_secs: u64) -> Option<Option<Role>> {
        let (role, read_at) = self.entries.get(user_id)?;
        let fresh = now_ms >= *read_at && now_ms - read_at < ttl_secs.saturating_mul(1000);
        fresh.then_some(*role)
    }

    pub fn put(&mut self, user_id: &str, role: Option<Role>, now_ms: u64) {
        if self.entries.len() >= MEMBER_CACHE_CAPACITY && !self.entries.contains_key(user_id) {
            self.entries.clear();
        }
        self.entries.insert(user_id.to_string(), (role, now_ms));
    }

    /// Forgets one user's membership, or every one.
    pub fn forget(&mut self, user_id: Option<&str>) {
        match user_id {
            Some(u) => {
                self.entries.remove(u);
            }
            None => self.entries.clear(),
        }
    }
}

/// Who may make a member change: admins and owners, and only owners where the owner role is
/// involved (the target is an owner, or becomes one).
pub fn authorize_member_change(
    actor: Role,
    current: Option<Role>,
    new: Option<Role>,
) -> Result<()> {
    if !actor.is_admin() {
        return Err(Error::Authorization(
            "managing members requires the admin role in your team".into(),
        ));
    }
    let touches_owner = current == Some(Role::Owner) || new == Some(Role::Owner);
    if touches_owner && actor != Role::Owner {
        return Err(Error::Authorization(
            "only an owner may grant, change or remove the owner role".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::testing::SqliteDb;
    use crate::api::AdminAction;
    use crate::cache::MemoryCache;

    fn m(team: &str, role: Role) -> Membership {
        Membership {
            team_id: team.into(),
            role,
        }
    }

    fn user(id: &str) -> Verified {
        Verified {
            user_id: id.into(),
            claimed: None,
        }
    }

    #[test]
    fn a_request_names_its_team_in_the_body_or_the_header_and_both_must_agree() {
        assert_eq!(requested_team(None, None).unwrap(), None);
        assert_eq!(
            requested_team(Some("t1"), None).unwrap().as_deref(),
            Some("t1")
        );
        assert_eq!(
            requested_team(None, Some(" t2 ")).unwrap().as_deref(),
            Some("t2")
        );
        assert_eq!(
            requested_team(Some("t1"), Some("t1")).unwrap().as_deref(),
            Some("t1")
        );
        assert_eq!(requested_team(None, Some("  ")).unwrap(), None);
        let err = requested_team(Some("t1"), Some("t2")).unwrap_err();
        assert_eq!(err.code(), "validation_error");
        let long = "x".repeat(MAX_ID_LEN + 1);
        assert_eq!(
            requested_team(None, Some(&long)).unwrap_err().code(),
            "validation_error"
        );
    }

    #[test]
    fn one_team_is_chosen_several_must_be_named_and_none_is_forbidden() {
        assert_eq!(choose_team(&[m("t1", Role::Member)]).unwrap().team_id, "t1");
        let err = choose_team(&[m("t1", Role::Member), m("t2", Role::Admin)]).unwrap_err();
        assert_eq!(err.code(), "validation_error");
        assert_eq!(err.details()["teams"], json!(["t1", "t2"]));
        let err = choose_team(&[]).unwrap_err();
        assert_eq!((err.status(), err.code()), (403, "authorization_error"));
        assert!(err.to_string().contains("create_team"));
    }

    #[test]
    fn the_gate_needs_a_team_row_and_a_membership_and_admin_work_needs_an_admin() {
        let sync = Action::SyncTools;
        let list = Action::ListServers;
        assert_eq!(
            admission(true, Some(Role::Member), list),
            Admission::Member { role: Role::Member }
        );
        assert_eq!(
            admission(true, Some(Role::Member), sync),
            Admission::AdminOnly
        );
        assert_eq!(
            admission(true, Some(Role::Owner), sync),
            Admission::Member { role: Role::Owner }
        );
        assert_eq!(
            admission(false, Some(Role::Owner), list),
            Admission::NotMember,
            "no teams row"
        );
        assert_eq!(admission(true, None, list), Admission::NotMember);
        let add = Action::parse("add_member").unwrap();
        assert_eq!(
            admission(true, Some(Role::Member), add),
            Admission::AdminOnly
        );
        let a = Action::Admin(AdminAction::CreateServer);
        let err = Admission::AdminOnly.into_role("t", a).unwrap_err();
        assert_eq!(err.status(), 403);
        let err = Admission::NotMember.into_role("t", a).unwrap_err();
        assert_eq!(err.to_string(), "you are not a member of team 't'");
    }

    #[test]
    fn only_owners_touch_the_owner_role() {
        use Role::*;
        assert!(authorize_member_change(Admin, Some(Member), Some(Admin)).is_ok());
        assert!(authorize_member_change(Admin, None, Some(Member)).is_ok());
        assert!(authorize_member_change(Admin, Some(Member), None).is_ok());
        assert!(authorize_member_change(Admin, Some(Owner), None).is_err());
        assert!(authorize_member_change(Admin, Some(Admin), Some(Owner)).is_err());
        assert!(authorize_member_change(Owner, Some(Admin), Some(Owner)).is_ok());
        assert!(authorize_member_change(Owner, Some(Owner), Some(Admin)).is_ok());
        assert!(authorize_member_change(Member, Some(Member), None).is_err());
    }

    #[test]
    fn cached_memberships_expire_within_the_bound_and_are_forgotten_on_change() {
        let mut cache = MemberCache::default();
        cache.put("u", Some(Role::Admin), 10_000);
        cache.put("x", None, 10_000);
        assert_eq!(cache.get("u", 10_000, 30), Some(Some(Role::Admin)));
        assert_eq!(cache.get("x", 39_999, 30), Some(None));
        assert_eq!(cache.get("u", 40_000, 30), None, "stale after the TTL");
        assert_eq!(cache.get("u", 9_999, 30), None, "clock went back");
        assert_eq!(cache.get("u", 10_000, 0), None, "TTL 0 reads D1 every time");
        cache.forget(Some("u"));
        assert_eq!(cache.get("u", 10_001, 30), None);
        assert_eq!(cache.get("x", 10_001, 30), Some(None));
        cache.forget(None);
        assert_eq!(cache.get("x", 10_001, 30), None);
    }

    fn seeded() -> SqliteDb {
        let db = SqliteDb::migrated();
        db.exec(
            "INSERT INTO teams (id, name) VALUES ('t1', 'T1'), ('t2', 'T2'); \
             INSERT INTO team_members (team_id, user_id, role) VALUES \
               ('t1', 'solo', 'member'), ('t1', 'duo', 'admin'), ('t2', 'duo', 'member');",
        );
        db
    }

    #[tokio::test]
    async fn a_user_in_one_team_needs_not_name_it_and_the_list_is_cached_as_a_hint() {
        let db = seeded();
        let cache = MemoryCache::new();
        let choice = resolve_team(&user("solo"), None, &db, &cache)
            .await
            .unwrap();
        assert_eq!((choice.team_id.as_str(), choice.from_hint), ("t1", false));
        assert_eq!(
            cache.ttl_of(&keys::teams_of_user("solo")),
            Some(TEAMS_HINT_TTL_SECS)
        );
        let again = resolve_team(&user("solo"), None, &db, &cache)
            .await
            .unwrap();
        assert_eq!((again.team_id.as_str(), again.from_hint), ("t1", true));
        let err = resolve_team(&user("duo"), None, &db, &cache)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "validation_error");
        let named = resolve_team(&user("duo"), Some("t2".into()), &db, &cache)
            .await
            .unwrap();
        assert_eq!(named.team_id, "t2");
        let err = resolve_team(&user("stranger"), None, &db, &cache)
            .await
            .unwrap_err();
        assert_eq!(err.status(), 403);
    }

    #[tokio::test]
    async fn claims_name_the_team_and_another_named_team_is_refused() {
        let db = seeded();
        let cache = MemoryCache::new();
        let claimed = Verified {
            user_id: "x".into(),
            claimed: Some(ClaimedTeam {
                team_id: "t1".into(),
                role: Role::Admin,
            }),
        };
        let c = resolve_team(&claimed, None, &db, &cache).await.unwrap();
        assert_eq!(
            (c.team_id.as_str(), c.claimed_role),
            ("t1", Some(Role::Admin))
        );
        let err = resolve_team(&claimed, Some("t2".into()), &db, &cache)
            .await
            .unwrap_err();
        assert_eq!(err.status(), 403);
    }

    #[tokio::test]
    async fn the_direct_gate_reads_roles_from_our_table_and_needs_a_teams_row() {
        let db = seeded();
        let choice = |team: &str, claimed_role| TeamChoice {
            team_id: team.into(),
            claimed_role,
            from_hint: false,
        };
        let list = Action::ListServers;
        assert_eq!(
            admit_directly(&db, &choice("t1", None), "duo", list)
                .await
                .unwrap(),
            Admission::Member { role: Role::Admin }
        );
        assert_eq!(
            admit_directly(&db, &choice("t2", None), "solo", list)
                .await
                .unwrap(),
            Admission::NotMember
        );
        assert_eq!(
            admit_directly(&db, &choice("ghost", Some(Role::Owner)), "x", list)
                .await
                .unwrap(),
            Admission::NotMember,
            "a claimed team without a teams row is refused"
        );
        assert_eq!(
            admit_directly(
                &db,
                &choice("t1", Some(Role::Member)),
                "x",
                Action::SyncTools
            )
            .await
            .unwrap(),
            Admission::AdminOnly
        );
    }
}
