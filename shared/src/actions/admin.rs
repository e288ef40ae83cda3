//! Admin actions: manage the team's servers and per-tool policy. Every change drops the cached
//! lists it affects, so the next `list_*` is correct.

use serde_json::{json, Value};

use super::sync_tools::sync_server;
use super::{drop_team_caches, Ctx, Reply, Upstream};
use crate::api::{field_error, ActionRequest, AdminAction, MAX_ID_LEN};
use crate::cache::Cache;
use crate::db::Database;
use crate::error::{Error, Result};
use crate::repo::{new_id, servers, tools};
use crate::server_config::{RemoteConfig, SERVER_TYPES};
use crate::time::iso_from_ms;

const MAX_SERVER_NAME: usize = 128;
const MAX_DESCRIPTION: usize = 2000;
pub const MAX_TOOL_TIMEOUT_SECS: u64 = 300;

pub async fn admin<D: Database, C: Cache, H: Upstream>(
    ctx: &Ctx<'_, D, C, H>,
    action: AdminAction,
    req: &ActionRequest,
) -> Result<Reply> {
    ctx.identity.require_admin(action_name(action))?;
    match action {
        AdminAction::CreateServer => create_server(ctx, req).await,
        AdminAction::UpdateServer => update_server(ctx, req).await,
        AdminAction::DeleteServer => delete_server(ctx, req).await,
        AdminAction::UpdateTool => update_tool(ctx, req).await,
    }
}

fn action_name(action: AdminAction) -> &'static str {
    crate::api::Action::Admin(action).name()
}

fn validated_config(
    req: &ActionRequest,
    server_type: &str,
    allow_private: bool,
) -> Result<Option<String>> {
    let Some(config) = req.optional_object("config")? else {
        return Ok(None);
    };
    let config = Value::Object(config.clone());
    match server_type {
        "http" | "sse" => {
            RemoteConfig::parse(&config, allow_private)?;
            Ok(Some(config.to_string()))
        }
        _ => Err(Error::validation(
            "stdio servers need the stdio bridge, which this deployment does not have yet",
        )),
    }
}

async fn create_server<D: Database, C: Cache, H: Upstream>(
    ctx: &Ctx<'_, D, C, H>,
    req: &ActionRequest,
) -> Result<Reply> {
    let s = &ctx.services;
    let name = req.required_str("name", MAX_SERVER_NAME)?;
    let description = req.optional_str("description", MAX_DESCRIPTION)?;
    let server_type = req.required_str("server_type", 16)?;
    if !SERVER_TYPES.contains(&server_type) {
        return Err(field_error(
            "server_type",
            "must be one of http, sse, stdio",
        ));
    }
    let config = validated_config(req, server_type, s.settings.allow_private_upstreams)?
        .ok_or_else(|| field_error("config", "is required (for http/sse: {\"url\": …})"))?;
    let sync_now = req.optional_bool("sync")?.unwrap_or(false);
    let id = new_id();
    let now = iso_from_ms(s.http.now_ms());
    servers::insert(
        s.db,
        servers::NewServer {
            id: &id,
            team_id: ctx.team(),
            name,
            description,
            server_type,
            config: &config,
            created_by: &ctx.identity.user_id,
            now: &now,
        },
    )
    .await?;
    drop_team_caches(s.cache, ctx.team(), Some(&id)).await;
    let sync = if sync_now {
        let server = servers::get(s.db, ctx.team(), &id).await?;
        Some(match sync_server(s, &server).await {
            Ok(o) => {
                json!({"success": true, "tools_synced": o.tools_synced, "tools_removed": o.tools_removed})
            }
            Err(e) => json!({"success": false, "code": e.code(), "error": e.public_message()}),
        })
    } else {
        None
    };
    let server = servers::get(s.db, ctx.team(), &id).await?;
    Ok(Reply {
        status: 201,
        body: json!({ "success": true, "server": server.public_json(), "sync": sync }),
    })
}

async fn update_server<D: Database, C: Cache, H: Upstream>(
    ctx: &Ctx<'_, D, C, H>,
    req: &ActionRequest,
) -> Result<Reply> {
    let s = &ctx.services;
    let server_id = req.required_str("server_id", MAX_ID_LEN)?;
    let existing = servers::get(s.db, ctx.team(), server_id).await?;
    let config = validated_config(
        req,
        &existing.server_type,
        s.settings.allow_private_upstreams,
    )?;
    let update = servers::ServerUpdate {
        name: req.optional_str("name", MAX_SERVER_NAME)?,
        description: req.optional_str("description", MAX_DESCRIPTION)?,
        config: config.as_deref(),
        is_active: req.optional_bool("is_active")?,
    };
    let now = iso_from_ms(s.http.now_ms());
    servers::update(s.db, ctx.team(), server_id, update, &now).await?;
    drop_team_caches(s.cache, ctx.team(), Some(server_id)).await;
    let server = servers::get(s.db, ctx.team(), server_id).await?;
    Ok(Reply::ok(
        json!({ "success": true, "server": server.public_json() }),
    ))
}

async fn delete_server<D: Database, C: Cache, H: Upstream>(
    ctx: &Ctx<'_, D, C, H>,
    req: &ActionRequest,
) -> Result<Reply> {
    let s = &ctx.services;
    let server_id = req.required_str("server_id", MAX_ID_LEN)?;
    servers::delete(s.db, ctx.team(), server_id).await?;
    drop_team_caches(s.cache, ctx.team(), Some(server_id)).await;
    Ok(Reply::ok(
        json!({ "success": true, "server_id": server_id }),
    ))
}

async fn update_tool<D: Database, C: Cache, H: Upstream>(
    ctx: &Ctx<'_, D, C, H>,
    req: &ActionRequest,
) -> Result<Reply> {
    let s = &ctx.services;
    let tool_id = req.required_str("tool_id", MAX_ID_LEN)?;
    let policy = tools::ToolPolicy {
        is_enabled: req.optional_bool("is_enabled")?,
        requires_confirmation: req.optional_bool("requires_confirmation")?,
        timeout_seconds: req.optional_u64("timeout_seconds", 1, MAX_TOOL_TIMEOUT_SECS)?,
        cacheable: req.optional_bool("cacheable")?,
    };
    let now = iso_from_ms(s.http.now_ms());
    tools::update_policy(s.db, ctx.team(), tool_id, policy, &now).await?;
    let tool = tools::get_by_id(s.db, ctx.team(), tool_id).await?;
    drop_team_caches(s.cache, ctx.team(), Some(&tool.server_id)).await;
    Ok(Reply::ok(
        json!({ "success": true, "tool": tool.public_json() }),
    ))
}
