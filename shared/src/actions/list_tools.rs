//! `list_tools`: enabled tools of one server (or of all the team's active servers when no
//! `server_id` is given), from KV when cached (5-minute TTL), else D1.
//!
//! Cache keys start with the caller's team id, so a hit can only ever be the caller's data;
//! a miss for another team's server id answers `not_found` from D1. A `server_id` that is not
//! an id (`*`, `a:b`, …) is `not_found` before any key is built from it (`cache::keys`).
//!
//! With `format` (`openai`, `anthropic`, `gemini`, `mcp`) the same tools are answered in that
//! shape under namespaced names, with the mapping back (`crate::tool_formats`); the cached
//! list stays the plain one, the shape is made per request from it and the servers' names.

use serde_json::{json, Value};

use super::{Ctx, Reply};
use crate::api::{ActionRequest, MAX_ID_LEN};
use crate::cache::{keys, Cache, LIST_TTL_SECS};
use crate::db::Database;
use crate::error::{Error, Result};
use crate::repo::{servers, tools};
use crate::tool_formats::{self, CatalogTool, ToolFormat};
use std::collections::HashMap;

pub async fn list_tools<D: Database, C: Cache, H>(
    ctx: &Ctx<'_, D, C, H>,
    req: &ActionRequest,
) -> Result<Reply> {
    let server_id = req.optional_str("server_id", MAX_ID_LEN)?;
    let format = requested_format(req)?;
    let (tools, cached) = plain_list(ctx, server_id).await?;
    let Some(format) = format else {
        return Ok(Reply::ok(json!({ "tools": tools, "cached": cached })));
    };
    let names: HashMap<String, String> = match server_id {
        Some(id) => {
            let server = servers::get(ctx.services.db, ctx.team(), id).await?;
            HashMap::from([(server.id, server.name)])
        }
        None => servers::list_active(ctx.services.db, ctx.team())
            .await?
            .into_iter()
            .map(|s| (s.id, s.name))
            .collect(),
    };
    let catalog: Vec<CatalogTool> = tools
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|row| {
            let name = names.get(row.get("server_id")?.as_str()?)?;
            CatalogTool::from_row(row, name)
        })
        .collect();
    let mut body = tool_formats::render(format, &catalog);
    body["cached"] = Value::Bool(cached);
    Ok(Reply::ok(body))
}

/// The `format` field, if any.
fn requested_format(req: &ActionRequest) -> Result<Option<ToolFormat>> {
    match req.optional_str("format", 16)? {
        None => Ok(None),
        Some(text) => ToolFormat::parse(text).map(Some).ok_or_else(|| {
            Error::validation_with(
                "'format' must be one of openai, anthropic, gemini, mcp",
                json!({ "field": "format", "allowed": ToolFormat::names() }),
            )
        }),
    }
}

/// The enabled tools as `list_tools` lists them, and whether they came from the cache.
async fn plain_list<D: Database, C: Cache, H>(
    ctx: &Ctx<'_, D, C, H>,
    server_id: Option<&str>,
) -> Result<(Value, bool)> {
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
            return Ok((tools, true));
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
    Ok((list, false))
}
