//! `sync_tools` (admin, and cron): list a server's tools upstream and make `mcp_tools` match.
//!
//! Invariants:
//! - A failed listing leaves the catalogue untouched and records the failure on the server.
//! - A successful one stores every new tool, pins known ones (a changed definition waits for
//!   `approve_tool`, see `crate::repo::tools`), removes the ones no longer listed, marks the
//!   server connected and drops the team's cached lists.
//! - One server's failure never stops the others in a team-wide sync.
//! - The listing goes to the server's `crate::upstream::authorized_endpoint` (credential,
//!   destination binding and scrubbing are that module's invariants).

use serde_json::{json, Map, Value};

use super::{drop_team_caches, Ctx, Reply, Services, Upstream};
use crate::api::{ActionRequest, MAX_ID_LEN};
use crate::cache::{Cache, CacheSessions};
use crate::db::Database;
use crate::error::Result;
use crate::repo::servers::{self, ConnectionStatus, Server};
use crate::repo::tools::{self, SyncOutcome};
use crate::time::iso_from_ms;
use crate::upstream::{self, authorized_endpoint, scrub_error};
use mcp_client::McpClient;

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
                "tools_pending_approval": outcome.tools_pending_approval,
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
                        entry.insert(
                            "tools_pending_approval".into(),
                            o.tools_pending_approval.into(),
                        );
                    }
                    Err(e) => {
                        entry.insert("success".into(), false.into());
                        entry.insert("code".into(), e.code().into());
                        entry.insert("error".into(), e.public_message().into());
                    }
                }
                per_server.push(Value::Object(entry));
            }
            let (total, failed) = (
                per_server.len(),
                per_server.iter().filter(|s| s["success"] != true).count(),
            );
            let mut body = json!({
                "success": failed == 0,
                "tools_synced": synced,
                "tools_removed": removed,
                "servers": per_server,
            });
            if failed > 0 {
                // Every `success: false` says why in `error`; each server's own is in `servers`.
                body["error"] = format!(
                    "{failed} of {total} servers failed to sync; each one's error is in servers[]"
                )
                .into();
            }
            Ok(Reply::ok(body))
        }
    }
}

/// Syncs one server of any team (the caller has already scoped `server` to a team).
pub async fn sync_server<D: Database, C: Cache, H: Upstream>(
    services: &Services<'_, D, C, H>,
    server: &Server,
) -> Result<SyncOutcome> {
    sync_server_tracked(services, server).await.0
}

/// [`sync_server`], and whether what is cached under the team's configuration version may
/// differ after it: the catalogue changed ([`SyncOutcome::changed`]) or the server's
/// connection status moved (`connected` after a success, `error` after the failure that
/// reaches the threshold). A failure of the catalogue's own writes counts as a change (some
/// of them may have landed).
pub async fn sync_server_tracked<D: Database, C: Cache, H: Upstream>(
    services: &Services<'_, D, C, H>,
    server: &Server,
) -> (Result<SyncOutcome>, bool) {
    let listed = async {
        let upstream = authorized_endpoint(services, server).await?;
        upstream.record_use(services).await;
        let redactor = upstream.redactor;
        let client = McpClient::new(
            services.http,
            CacheSessions(services.cache),
            upstream.endpoint,
        );
        client
            .list_tools()
            .await
            .map_err(|e| scrub_error(&redactor, e.into()))
    }
    .await;
    let now = iso_from_ms(services.http.now_ms());
    let (result, changed) = match listed {
        Ok(listed) => {
            let status_moves = server.connection_status != ConnectionStatus::Connected;
            match tools::sync(services.db, &server.team_id, &server.id, &listed, &now).await {
                Ok(outcome) => {
                    let changed = outcome.changed || status_moves;
                    match upstream::mark_connected(services, server, &now).await {
                        Ok(()) => (Ok(outcome), changed),
                        Err(e) => (Err(e), changed),
                    }
                }
                Err(e) => (Err(e), true),
            }
        }
        Err(e) => {
            let marked = upstream::mark_failed(services, server, "sync", &e, &now).await;
            let changed = upstream::status_moved(server, &marked);
            match marked {
                Ok(_) => (Err(e), changed),
                Err(write) => (Err(write), changed),
            }
        }
    };
    drop_team_caches(services.cache, &server.team_id, Some(&server.id)).await;
    (result, changed)
}
