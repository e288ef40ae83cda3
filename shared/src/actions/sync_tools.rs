//! `sync_tools` (admin, and cron): list a server's tools upstream and make `mcp_tools` match.
//!
//! Invariants:
//! - A failed listing leaves the catalogue untouched and records the failure on the server.
//! - A successful one upserts every listed tool, removes the ones no longer listed, marks the
//!   server connected and drops the team's cached lists.
//! - One server's failure never stops the others in a team-wide sync.
//! - Every upstream request goes to an [`authorized_endpoint`]: the server's credential is
//!   opened here, into headers only, and a credential that cannot be used stops the request.

use serde_json::{json, Map, Value};

use super::{drop_team_caches, Ctx, Reply, Services, Upstream};
use crate::api::{ActionRequest, MAX_ID_LEN};
use crate::cache::Cache;
use crate::credentials as secrets;
use crate::db::Database;
use crate::error::{Error, Result};
use crate::mcp::{McpClient, ServerEndpoint};
use crate::redact::Redactor;
use crate::repo::credentials;
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
        let upstream = authorized_endpoint(services, server).await?;
        upstream.record_use(services).await;
        let client = McpClient::new(services.http, services.cache, upstream.endpoint);
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

/// How to reach a server, with its credential's headers: what every upstream request uses.
pub struct Authorized {
    pub endpoint: ServerEndpoint,
    /// The credential in the headers, if the server has one.
    pub credential: Option<CredentialUse>,
    /// Scrubs the credential's values out of whatever comes back (results, errors).
    pub redactor: Redactor,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialUse {
    pub id: String,
    pub team_id: String,
    /// Identifies the credential value (cache keys of cacheable results).
    pub scope: String,
}

impl Authorized {
    /// Records `last_used_at`; call right before the request goes upstream. A failure to
    /// record is logged, never fatal.
    pub async fn record_use<D: Database, C, H: Upstream>(&self, services: &Services<'_, D, C, H>) {
        if let Some(c) = &self.credential {
            let now = iso_from_ms(services.http.now_ms());
            if let Err(e) = credentials::touch(services.db, &c.team_id, &c.id, &now).await {
                (services.log)(&format!("recording use of credential {} failed: {e}", c.id));
            }
        }
    }
}

/// [`endpoint_of`] plus the server's credential, opened and checked. Fails closed: a
/// credential that does not open or an expired OAuth token is a `conflict` telling the admin
/// what to do, and the caller sends nothing upstream.
pub async fn authorized_endpoint<D: Database, C, H: Upstream>(
    services: &Services<'_, D, C, H>,
    server: &Server,
) -> Result<Authorized> {
    let mut endpoint = endpoint_of(server, services.settings.allow_private_upstreams)?;
    let Some(stored) = credentials::for_server(services.db, &server.team_id, &server.id).await?
    else {
        return Ok(Authorized {
            endpoint,
            credential: None,
            redactor: Redactor::default(),
        });
    };
    let material = secrets::open(
        services.settings.credential_keys.as_ref(),
        &stored.binding(),
        &stored.key_id,
        &stored.encrypted_value,
    )
    .map_err(|why| {
        (services.log)(&format!(
            "credential {} of server {} is unusable: {why}",
            stored.id, server.id
        ));
        secrets::cannot_decrypt(&server.name)
    })?;
    if let Some(expires_at) = &stored.expires_at {
        let expired =
            secrets::parse_iso_ms(expires_at).is_none_or(|at| services.http.now_ms() >= at);
        if expired {
            return Err(secrets::expired(&server.name, expires_at));
        }
    }
    for (name, value) in material.headers() {
        endpoint
            .headers
            .retain(|(k, _)| !k.eq_ignore_ascii_case(&name));
        endpoint.headers.push((name, value));
    }
    Ok(Authorized {
        endpoint,
        redactor: Redactor::new(material.secret_values()),
        credential: Some(CredentialUse {
            id: stored.id.clone(),
            team_id: stored.team_id.clone(),
            scope: stored.scope(),
        }),
    })
}

/// How to reach a server, without its credential (see [`authorized_endpoint`]); a config the
/// admin must fix is an `upstream_error` naming it.
pub fn endpoint_of(server: &Server, allow_private: bool) -> Result<ServerEndpoint> {
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
