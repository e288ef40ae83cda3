//! `sync_tools` (admin, and cron): list a server's tools upstream and make `mcp_tools` match.
//!
//! Invariants:
//! - A failed listing leaves the catalogue untouched and records the failure on the server.
//! - A successful one upserts every listed tool, removes the ones no longer listed, marks the
//!   server connected and drops the team's cached lists.
//! - One server's failure never stops the others in a team-wide sync.

use serde_json::{json, Map, Value};

use super::{drop_team_caches, Ctx, Reply, Services, Upstream};
use crate::api::{ActionRequest, MAX_ID_LEN};
use crate::cache::Cache;
use crate::db::Database;
use crate::error::{Error, Result};
use crate::mcp::McpClient;
use crate::repo::servers::{self, Server};
use crate::repo::tools::{self, SyncOutcome};
use crate::server_config::RemoteConfig;
use crate::time::iso_from_ms;

/// Time budget for one server's listing.
pub const SYNC_TIMEOUT_MS: u64 = 30_000;

pub async fn sync_tools<D: Database, C: Cache, H: Upstream>(
    ctx: &Ctx<'_, D, C, H>,
    req: &ActionRequest,
) -> Result<Reply> {
    ctx.identity.require_admin("sync_tools")?;
    match req.optional_str("server_id", MAX_ID_LEN)? {
        Some(id) => {
            let server = servers::get(ctx.services.db, ctx.team(), id).await?;
            let outcome = sync_server(&ctx.services, &server).await?;
            Ok(Reply::ok(json!({
                "success": true,
                "server_id": server.id,
                "tools_synced": outcome.tools_synced,
                "tools_removed": outcome.tools_removed,
            })))
        }
        None => {
            let all = servers::list_active(ctx.services.db, ctx.team()).await?;
            let mut synced = 0;
            let mut removed = 0;
            let mut per_server = Vec::new();
            for server in &all {
                let mut entry = Map::new();
                entry.insert("server_id".into(), server.id.clone().into());
                match sync_server(&ctx.services, server).await {
                    Ok(o) => {
                        synced += o.tools_synced;
                        removed += o.tools_removed;
                        entry.insert("success".into(), true.into());
                        entry.insert("tools_synced".into(), o.tools_synced.into());
                        entry.insert("tools_removed".into(), o.tools_removed.into());
                    }
                    Err(e) => {
                        entry.insert("success".into(), false.into());
                        entry.insert("code".into(), e.code().into());
                        entry.insert("error".into(), e.public_message().into());
                    }
                }
                per_server.push(Value::Object(entry));
            }
            let all_ok = per_server.iter().all(|s| s["success"] == true);
            Ok(Reply::ok(json!({
                "success": all_ok,
                "tools_synced": synced,
                "tools_removed": removed,
                "servers": per_server,
            })))
        }
    }
}

/// Syncs one server of any team (the caller has already scoped `server` to a team).
pub async fn sync_server<D: Database, C: Cache, H: Upstream>(
    services: &Services<'_, D, C, H>,
    server: &Server,
) -> Result<SyncOutcome> {
    let listed = async {
        let endpoint = endpoint_of(server, services.settings.allow_private_upstreams)?;
        let client = McpClient::new(services.http, services.cache, endpoint);
        client.list_tools().await
    }
    .await;
    let now = iso_from_ms(services.http.now_ms());
    let result = match listed {
        Ok(listed) => {
            let outcome =
                tools::sync(services.db, &server.team_id, &server.id, &listed, &now).await?;
            servers::mark_connected(services.db, &server.team_id, &server.id, &now).await?;
            Ok(outcome)
        }
        Err(e) => {
            (services.log)(&format!("sync of server {} failed: {e}", server.id));
            servers::mark_failed(
                services.db,
                &server.team_id,
                &server.id,
                &e.public_message(),
                services.settings.error_after_failures,
                &now,
            )
            .await?;
            Err(e)
        }
    };
    drop_team_caches(services.cache, &server.team_id, Some(&server.id)).await;
    result
}

/// How to reach a server; a config the admin must fix is an `upstream_error` naming it.
pub fn endpoint_of(server: &Server, allow_private: bool) -> Result<crate::mcp::ServerEndpoint> {
    if server.server_type == "stdio" {
        return Err(Error::Upstream(format!(
            "server '{}' is a stdio server; this deployment has no stdio bridge configured",
            server.name
        )));
    }
    let config: Value = serde_json::from_str(&server.config).map_err(|_| {
        Error::Upstream(format!("server '{}' has an unreadable config", server.name))
    })?;
    let remote = RemoteConfig::parse(&config, allow_private).map_err(|e| {
        Error::Upstream(format!(
            "server '{}' config: {}",
            server.name,
            e.public_message()
        ))
    })?;
    Ok(remote.endpoint(&server.id, &server.server_type))
}
