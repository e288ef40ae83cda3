//! The KV seam: a string key-value cache with TTLs. Workers use Cloudflare KV; native tests
//! use [`MemoryCache`].
//!
//! Invariants:
//! - Values are strings (KV stores a `serde_json::Value` as `{}`: serialise first).
//! - Every key is built by [`keys`], so every key that holds team data starts with the team id
//!   and one team's entries can never be read under another team's key.
//! - The cache is never the source of truth: a miss or a failure falls back to D1.
//! - The MCP client keeps upstream sessions here through [`CacheSessions`] (its
//!   `SessionStore` seam), under [`keys::mcp_session`]; a cache failure is a miss.

use std::cell::RefCell;
use std::collections::HashMap;

use mcp_client::SessionStore;

use crate::error::Result;

/// KV refuses TTLs under 60 seconds.
pub const MIN_TTL_SECS: u64 = 60;
/// Tool and server lists (DESIGN.md §6).
pub const LIST_TTL_SECS: u64 = 300;

#[allow(async_fn_in_trait)]
pub trait Cache {
    async fn get(&self, key: &str) -> Result<Option<String>>;
    async fn put(&self, key: &str, value: &str, ttl_secs: u64) -> Result<()>;
    async fn delete(&self, key: &str) -> Result<()>;
}

pub mod keys {
    pub fn tools_of_server(team_id: &str, server_id: &str) -> String {
        format!("t:{team_id}:tools:{server_id}")
    }
    pub fn tools_of_team(team_id: &str) -> String {
        format!("t:{team_id}:tools:*")
    }
    pub fn servers_of_team(team_id: &str) -> String {
        format!("t:{team_id}:servers")
    }
    /// Upstream MCP session state (session id, negotiated version, transport) of one server.
    pub fn mcp_session(server_id: &str) -> String {
        format!("mcp:session:{server_id}")
    }
}

/// The MCP client's session store over a [`Cache`]: one entry per server under
/// [`keys::mcp_session`]; failures are misses (sessions are an optimisation).
#[derive(Debug)]
pub struct CacheSessions<'a, C>(pub &'a C);

impl<C> Clone for CacheSessions<'_, C> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<C> Copy for CacheSessions<'_, C> {}

impl<C: Cache> SessionStore for CacheSessions<'_, C> {
    async fn get(&self, server_id: &str) -> Option<String> {
        self.0.get(&keys::mcp_session(server_id)).await.ok()?
    }
    async fn put(&self, server_id: &str, value: &str, ttl_secs: u64) {
        let _ = self
            .0
            .put(&keys::mcp_session(server_id), value, ttl_secs)
            .await;
    }
    async fn delete(&self, server_id: &str) {
        let _ = self.0.delete(&keys::mcp_session(server_id)).await;
    }
}

/// In-memory cache for native tests. TTLs are recorded, not enforced.
#[derive(Debug, Default)]
pub struct MemoryCache {
    entries: RefCell<HashMap<String, (String, u64)>>,
}

impl MemoryCache {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn ttl_of(&self, key: &str) -> Option<u64> {
        self.entries.borrow().get(key).map(|(_, ttl)| *ttl)
    }
    pub fn len(&self) -> usize {
        self.entries.borrow().len()
    }
    pub fn is_empty(&self) -> bool {
        self.entries.borrow().is_empty()
    }
}

impl Cache for MemoryCache {
    async fn get(&self, key: &str) -> Result<Option<String>> {
        Ok(self.entries.borrow().get(key).map(|(v, _)| v.clone()))
    }
    async fn put(&self, key: &str, value: &str, ttl_secs: u64) -> Result<()> {
        self.entries.borrow_mut().insert(
            key.to_string(),
            (value.to_string(), ttl_secs.max(MIN_TTL_SECS)),
        );
        Ok(())
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.entries.borrow_mut().remove(key);
        Ok(())
    }
}
