//! `list_servers`: the caller's team's active servers, from KV when cached, else D1.

use serde_json::{json, Value};

use super::{Ctx, Reply};
use crate::cache::{keys, Cache, LIST_TTL_SECS};
use crate::db::Database;
use crate::error::Result;
use crate::repo::servers;

pub async fn list_servers<D: Database, C: Cache, H>(ctx: &Ctx<'_, D, C, H>) -> Result<Reply> {
    let key = keys::servers_of_team(ctx.team());
    if let Ok(Some(cached)) = ctx.services.cache.get(&key).await {
        if let Ok(servers) = serde_json::from_str::<Value>(&cached) {
            return Ok(Reply::ok(json!({ "servers": servers, "cached": true })));
        }
    }
    let rows = servers::list_active(ctx.services.db, ctx.team()).await?;
    let list: Vec<Value> = rows.iter().map(servers::Server::public_json).collect();
    let list = Value::from(list);
    if let Err(e) = ctx
        .services
        .cache
        .put(&key, &list.to_string(), LIST_TTL_SECS)
        .await
    {
        ctx.log(&format!("caching server list failed: {e}"));
    }
    Ok(Reply::ok(json!({ "servers": list, "cached": false })))
}
