//! What `call_tool` reads about the target of a call (the server, the tool, the server's
//! sealed credential, the team's `on_tool_change` policy), read in one round trip, and the
//! isolate's cache of it, so that a warm call reads no configuration from D1 at all.
//!
//! Invariants:
//! - The four reads go to D1 together (`Database::query_many`: one batch), each scoped to the
//!   caller's team as the single reads are.
//! - A cached target is served only under the configuration version it was read under: the
//!   team's Durable Object hands out the version with its admission (the gateway puts it in the
//!   signed envelope), and every change that can alter a target (admin actions, tool syncs
//!   that changed the catalogue, health marks that moved a server's status) bumps it, so the
//!   next call reads D1 again. A change made behind the API's back (SQL) is seen within
//!   [`TARGET_CACHE_MS`], and so are the failure count and last error of a server that stays
//!   `error` (shown in the refusal). Without a version (the gate not consulted), nothing is
//!   cached.
//! - Only complete targets (server and tool found) are cached; refusals are read every time.
//! - The credential is cached sealed, as stored; it is opened per call.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::db::{decode_row, Database, Row};
use crate::error::Result;
use crate::repo::credentials::{self, StoredCredential};
use crate::repo::servers::{self, Server};
use crate::repo::tools::{self, OnToolChange, OnToolChangeRow, Tool};

/// How long a cached target may serve, whatever the version says.
pub const TARGET_CACHE_MS: u64 = 30_000;
/// Targets an isolate keeps at most (then it starts over).
pub const MAX_TARGETS: usize = 1024;

/// A call's target, as read from D1.
#[derive(Debug, Clone, PartialEq)]
pub struct CallTarget {
    pub server: Server,
    /// `None`: the server has no tool of that name.
    pub tool: Option<Tool>,
    pub credential: Option<StoredCredential>,
    pub on_tool_change: OnToolChange,
}

/// The cache and the version the current request may read it under.
#[derive(Clone, Copy)]
pub struct Versioned<'a> {
    pub cache: &'a TargetCache,
    pub version: &'a str,
}

/// The target of `(team, server, tool)`: from the cache under `cached`'s version when it has
/// it, else read from D1 (one round trip) and cached when complete.
pub async fn read<D: Database>(
    db: &D,
    cached: Option<Versioned<'_>>,
    team_id: &str,
    server_id: &str,
    tool_name: &str,
    now_ms: u64,
) -> Result<CallTarget> {
    let key = (team_id, server_id, tool_name);
    if let Some(hit) = cached.and_then(|c| c.cache.get(key, c.version, now_ms)) {
        return Ok(hit);
    }
    let target = load(db, team_id, server_id, tool_name).await?;
    if let (Some(c), Some(_)) = (cached, &target.tool) {
        c.cache.put(key, &target, c.version, now_ms);
    }
    Ok(target)
}

/// The four reads in one round trip. A server outside the team is `not_found`.
pub async fn load<D: Database>(
    db: &D,
    team_id: &str,
    server_id: &str,
    tool_name: &str,
) -> Result<CallTarget> {
    let mut results = db
        .query_many(vec![
            servers::get_stmt(team_id, server_id),
            tools::by_name_stmt(team_id, server_id, tool_name),
            credentials::for_server_stmt(team_id, server_id),
            tools::on_tool_change_stmt(team_id),
        ])
        .await?
        .into_iter();
    let mut next = || -> Option<Row> { results.next().and_then(|rows| rows.into_iter().next()) };
    let (server, tool, credential, policy) = (next(), next(), next(), next());
    let server: Server = decode_row(server.ok_or_else(|| servers::not_found(server_id))?)?;
    Ok(CallTarget {
        server,
        tool: tool.map(decode_row).transpose()?,
        credential: credential.map(decode_row).transpose()?,
        on_tool_change: OnToolChangeRow::policy(policy.map(decode_row).transpose()?),
    })
}

type Key<'k> = (&'k str, &'k str, &'k str);

struct Entry {
    target: CallTarget,
    version: String,
    read_ms: u64,
}

/// An isolate's targets, by (team, server, tool).
#[derive(Default)]
pub struct TargetCache {
    entries: RefCell<HashMap<(String, String, String), Entry>>,
}

impl TargetCache {
    pub fn new() -> TargetCache {
        TargetCache::default()
    }

    fn get(&self, (team, server, tool): Key<'_>, version: &str, now_ms: u64) -> Option<CallTarget> {
        let entries = self.entries.borrow();
        let entry = entries.get(&(team.to_string(), server.to_string(), tool.to_string()))?;
        let fresh = entry.version == version
            && now_ms.saturating_sub(entry.read_ms) < TARGET_CACHE_MS
            && now_ms >= entry.read_ms;
        fresh.then(|| entry.target.clone())
    }

    fn put(&self, (team, server, tool): Key<'_>, target: &CallTarget, version: &str, now_ms: u64) {
        let mut entries = self.entries.borrow_mut();
        if entries.len() >= MAX_TARGETS {
            entries.clear();
        }
        entries.insert(
            (team.to_string(), server.to_string(), tool.to_string()),
            Entry {
                target: target.clone(),
                version: version.to_string(),
                read_ms: now_ms,
            },
        );
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.entries.borrow().is_empty()
    }
}

#[cfg(test)]
mod tests;
