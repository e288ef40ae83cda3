//! `list_servers`: the caller's team's active servers, from KV when cached, else D1.
//!
//! Invariants:
//! - Admins also see the team's server quota, `quota: {servers: {used, limit}}` (`used` counts
//!   every server of the team, active or not, as `create_server` does); members see only the
//!   servers. The quota is cached with the list: every change to the team's servers drops the
//!   entry, so `used` is exact; a changed `teams.max_servers` shows within the list TTL.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{Ctx, Reply};
use crate::cache::{keys, Cache, LIST_TTL_SECS};
use crate::db::Database;
use crate::error::Result;
use crate::repo::servers::{self, Quota};

/// What the team's cache entry holds.
#[derive(Serialize, Deserialize)]
struct Cached {
    servers: Value,
    quota: Quota,
}

pub async fn list_servers<D: Database, C: Cache, H>(ctx: &Ctx<'_, D, C, H>) -> Result<Reply> {
    let key = keys::servers_of_team(ctx.team());
    let is_admin = ctx.identity.require_admin("list_servers").is_ok();
    let answer = |entry: Cached, cached: bool| {
        let mut body = json!({ "servers": entry.servers, "cached": cached });
        if is_admin {
            body["quota"] = json!({ "servers": entry.quota });
        }
        Reply::ok(body)
    };
    if let Ok(Some(text)) = ctx.services.cache.get(&key).await {
        // An entry of another shape (an older deployment's) is a miss.
        if let Ok(entry) = serde_json::from_str::<Cached>(&text) {
            return Ok(answer(entry, true));
        }
    }
    let s = &ctx.services;
    let (rows, quota) = futures::future::try_join(
        servers::list_active(s.db, ctx.team()),
        servers::quota(s.db, ctx.team(), s.settings.max_servers_per_team),
    )
    .await?;
    let list: Vec<Value> = rows.iter().map(servers::Server::public_json).collect();
    let entry = Cached {
        servers: Value::from(list),
        quota,
    };
    match serde_json::to_string(&entry) {
        Ok(text) => {
            if let Err(e) = s.cache.put(&key, &text, LIST_TTL_SECS).await {
                ctx.log(&format!("caching server list failed: {e}"));
            }
        }
        Err(e) => ctx.log(&format!("caching server list failed: {e}")),
    }
    Ok(answer(entry, false))
}
