//! Team membership actions (served by the admin worker): list, add, change and remove a team's
//! members, and `create_team` for a signed-in user who is in no team yet.
//!
//! Invariants:
//! - Membership changes need an admin or owner of the caller's team, and only owners touch the
//!   owner role (`membership::authorize_member_change`); a team never loses its last owner
//!   (409, enforced in the SQL of `repo::members`).
//! - Every change drops the target user's cached list of teams (KV); the admin worker's shell
//!   also tells the team's Durable Object to forget the user's membership, so a removal or a
//!   demotion takes effect on the next request.
//! - `create_team` only succeeds for a user in no team (checked in the SQL, so two concurrent
//!   requests cannot make two teams), and only when self-service is on (`TEAM_SELF_SERVICE`).

use serde_json::{json, Value};

use super::{Ctx, Reply};
use crate::api::{field_error, ActionRequest, MemberAction};
use crate::auth::MAX_ID_LEN;
use crate::cache::Cache;
use crate::db::Database;
use crate::error::{Error, Result};
use crate::identity::Role;
use crate::membership::{authorize_member_change, keys};
use crate::repo::members::{self, Change, Member};
use crate::time::iso_from_ms;
use mcp_client::http::Clock;

const MAX_TEAM_NAME: usize = 200;

pub async fn members<D: Database, C: Cache, H: Clock>(
    ctx: &Ctx<'_, D, C, H>,
    action: MemberAction,
    req: &ActionRequest,
) -> Result<Reply> {
    match action {
        MemberAction::CreateTeam => return create_team(ctx, req).await,
        _ => ctx
            .identity
            .require_admin(crate::api::Action::Members(action).name())?,
    }
    match action {
        MemberAction::ListMembers => list_members(ctx).await,
        MemberAction::AddMember => add_member(ctx, req).await,
        MemberAction::UpdateMember => update_member(ctx, req).await,
        MemberAction::RemoveMember => remove_member(ctx, req).await,
        MemberAction::CreateTeam => unreachable!("answered above"),
    }
}

fn member_json(m: &Member) -> Value {
    json!({
        "user_id": m.user_id,
        "role": m.role.as_str(),
        "added_by": m.added_by,
        "created_at": m.created_at,
        "updated_at": m.updated_at,
    })
}

/// The `user_id` a member action is about: a user id as the JWT's `sub` carries it.
fn target_user(req: &ActionRequest) -> Result<&str> {
    let user = req.required_str("user_id", MAX_ID_LEN)?;
    if user.chars().any(char::is_control) || user.trim() != user {
        return Err(field_error("user_id", "is not a user id"));
    }
    Ok(user)
}

fn role_field(req: &ActionRequest, required: bool) -> Result<Option<Role>> {
    let name = if required {
        Some(req.required_str("role", 16)?)
    } else {
        req.optional_str("role", 16)?
    };
    name.map(|n| {
        Role::parse(n).ok_or_else(|| {
            Error::validation_with(
                format!("'role' must be one of owner, admin, member, not '{n}'"),
                json!({"field": "role", "allowed": ["owner", "admin", "member"]}),
            )
        })
    })
    .transpose()
}

async fn forget_hint<C: Cache>(cache: &C, user_id: &str) {
    // A failed delete leaves a hint that the team's gate re-checks: never more access.
    let _ = cache.delete(&keys::teams_of_user(user_id)).await;
}

async fn list_members<D: Database, C, H>(ctx: &Ctx<'_, D, C, H>) -> Result<Reply> {
    let list = members::list_members(ctx.services.db, ctx.team()).await?;
    Ok(Reply::ok(json!({
        "team_id": ctx.team(),
        "members": list.iter().map(member_json).collect::<Vec<_>>(),
    })))
}

async fn add_member<D: Database, C: Cache, H: Clock>(
    ctx: &Ctx<'_, D, C, H>,
    req: &ActionRequest,
) -> Result<Reply> {
    let user = target_user(req)?;
    let role = role_field(req, false)?.unwrap_or(Role::Member);
    authorize_member_change(ctx.identity.role, None, Some(role))?;
    let now = iso_from_ms(ctx.services.http.now_ms());
    let db = ctx.services.db;
    members::add_member(db, ctx.team(), user, role, &ctx.identity.user_id, &now).await?;
    forget_hint(ctx.services.cache, user).await;
    ctx.log(&format!("member {user} added as {}", role.as_str()));
    let member = members::get_member(db, ctx.team(), user)
        .await?
        .ok_or_else(|| Error::internal("member vanished after insert"))?;
    Ok(Reply {
        status: 201,
        body: json!({"success": true, "member": member_json(&member)}),
    })
}

async fn existing<D: Database, C, H>(ctx: &Ctx<'_, D, C, H>, user: &str) -> Result<Member> {
    members::get_member(ctx.services.db, ctx.team(), user)
        .await?
        .ok_or_else(|| not_a_member(user))
}

fn not_a_member(user: &str) -> Error {
    Error::NotFound(format!("user '{user}' is not a member of this team"))
}

/// A membership change's outcome for `user` as this action's answer: done, or why not.
fn applied(change: Change, user: &str) -> Result<()> {
    match change {
        Change::Done => Ok(()),
        Change::NotAMember => Err(not_a_member(user)),
        Change::LastOwner => Err(last_owner()),
    }
}

fn last_owner() -> Error {
    Error::Conflict(
        "that would leave the team without an owner; make another member an owner first".into(),
    )
}

async fn update_member<D: Database, C: Cache, H: Clock>(
    ctx: &Ctx<'_, D, C, H>,
    req: &ActionRequest,
) -> Result<Reply> {
    let user = target_user(req)?;
    let role = role_field(req, true)?.expect("required");
    let current = existing(ctx, user).await?;
    authorize_member_change(ctx.identity.role, Some(current.role), Some(role))?;
    let now = iso_from_ms(ctx.services.http.now_ms());
    applied(
        members::set_role(ctx.services.db, ctx.team(), user, role, &now).await?,
        user,
    )?;
    forget_hint(ctx.services.cache, user).await;
    ctx.log(&format!(
        "member {user}: {} -> {}",
        current.role.as_str(),
        role.as_str()
    ));
    let member = existing(ctx, user).await?;
    Ok(Reply::ok(
        json!({"success": true, "member": member_json(&member)}),
    ))
}

async fn remove_member<D: Database, C: Cache, H>(
    ctx: &Ctx<'_, D, C, H>,
    req: &ActionRequest,
) -> Result<Reply> {
    let user = target_user(req)?;
    let current = existing(ctx, user).await?;
    authorize_member_change(ctx.identity.role, Some(current.role), None)?;
    applied(
        members::remove_member(ctx.services.db, ctx.team(), user).await?,
        user,
    )?;
    forget_hint(ctx.services.cache, user).await;
    ctx.log(&format!("member {user} removed"));
    Ok(Reply::ok(
        json!({"success": true, "user_id": user, "removed": true}),
    ))
}

async fn create_team<D: Database, C: Cache, H: Clock>(
    ctx: &Ctx<'_, D, C, H>,
    req: &ActionRequest,
) -> Result<Reply> {
    if !ctx.services.settings.team_self_service {
        return Err(Error::Authorization(
            "teams are created by the operators of this deployment; ask them to add you".into(),
        ));
    }
    let name = req.required_str("name", MAX_TEAM_NAME)?.trim();
    if name.is_empty() || name.chars().any(char::is_control) {
        return Err(field_error("name", "must be a visible team name"));
    }
    let user = &ctx.identity.user_id;
    let team_id = ctx.team();
    let now = iso_from_ms(ctx.services.http.now_ms());
    if !members::create_team(ctx.services.db, team_id, name, user, &now).await? {
        return Err(Error::Conflict(
            "you already belong to a team; create_team is for users in no team".into(),
        ));
    }
    forget_hint(ctx.services.cache, user).await;
    ctx.log(&format!("team {team_id} created by {user}"));
    Ok(Reply {
        status: 201,
        body: json!({
            "success": true,
            "team": {"id": team_id, "name": name, "tier": "free"},
            "role": Role::Owner.as_str(),
        }),
    })
}
