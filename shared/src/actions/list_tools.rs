//! `list_tools`: enabled tools of one server (or of all the team's active servers when no
//! `server_id` is given), from KV when cached (5-minute TTL), else D1.
//!
//! Cache keys start with the caller's team id, so a hit can only ever be the caller's data;
//! a miss for another team's server id answers `not_found` from D1. A `server_id` that is not
//! an id (`*`, `a:b`, …) is `not_found` before any key is built from it (`cache::keys`).

use serde_json::{json, Value};

use super::{Ctx, Reply};
use crate::api::{ActionRequest, MAX_ID_LEN};
use crate::cache::{keys, Cache, LIST_TTL_SECS};
use crate::db::Database;
use crate::error::{Error, Result};
use crate::repo::{servers, tools};

pub async fn list_tools<D: Database, C: Cache, H>(
    ctx: &Ctx<'_, D, C, H>,
    req: &ActionRequest,
) -> Result<Reply> {
    let server_id = req.optional_str("server_id", MAX_ID_LEN)?;
    let key = match server_id {
        Some(id) => keys::tools_of_server(ctx.team(), id).ok_or_else(|| {
            Error::NotFound(format!(
                "server '{}' not found in your team",
                id.chars().take(64).collect::<String>()
            ))
        })?,
        None => keys::tools_of_team(ctx.team()),
    };
    if let Ok(Some(cached)) = ctx.services.cache.get(&key).await {
        if let Ok(tools) = serde_json::from_str::<Value>(&cached) {
            return Ok(Reply::ok(json!({ "tools": tools, "cached": true })));
        }
    }
    let rows = match server_id {
        Some(id) => {
            // Distinguish "no such server here" (404) from "server has no enabled tools" ([]).
            servers::get(ctx.services.db, ctx.team(), id).await?;
            tools::list_enabled_for_server(ctx.services.db, ctx.team(), id).await?
        }
        None => tools::list_enabled_for_team(ctx.services.db, ctx.team()).await?,
    };
    let list = Value::from(
        rows.iter()
            .map(tools::Tool::public_json)
            .collect::<Vec<_>>(),
    );
    if let Err(e) = ctx
        .services
        .cache
        .put(&key, &list.to_string(), LIST_TTL_SECS)
        .await
    {
        ctx.log(&format!("caching tool list failed: {e}"));
    }
    Ok(Reply::ok(json!({ "tools": list, "cached": false })))
}
