//! The KV seam: a string key-value cache with TTLs. Workers use Cloudflare KV; native tests
//! use [`MemoryCache`].
//!
//! Invariants:
//! - Values are strings (KV stores a `serde_json::Value` as `{}`: serialise first).
//! - Every key is built by [`keys`], so every key that holds team data starts with the team id
//!   and one team's entries can never be read under another team's key.
//! - No key is built from an id that is not a well-formed id ([`keys::is_id`]: 1 to
//!   `MAX_ID_LEN` of `A-Z a-z 0-9 - _ .`): [`keys::tools_of_server`] answers `None` for
//!   anything else, so a body id like `*` or `x:y` can never name another entry (the team-wide
//!   tool list has a key of its own shape, `t:<team>:tools`, no server id can produce).
//! - The cache is never the source of truth: a miss or a failure falls back to D1.
//! - The MCP client keeps upstream sessions here through [`CacheSessions`] (its
//!   `SessionStore` seam), under [`keys::mcp_session`]; a cache failure is a miss.

use std::cell::RefCell;
use std::collections::HashMap;

use mcp_client::SessionStore;

use crate::error::Result;

pub mod answers;
mod memo;
pub use memo::{Memo, Memoized};

/// KV refuses TTLs under 60 seconds.
pub const MIN_TTL_SECS: u64 = 60;
/// Tool and server lists (DESIGN.md §6).
pub const LIST_TTL_SECS: u64 = 300;
/// How long an isolate remembers an upstream MCP session id before asking KV again.
pub const SESSION_MEMO_MS: u64 = 60_000;

#[allow(async_fn_in_trait)]
pub trait Cache {
    async fn get(&self, key: &str) -> Result<Option<String>>;
    async fn put(&self, key: &str, value: &str, ttl_secs: u64) -> Result<()>;
    async fn delete(&self, key: &str) -> Result<()>;
}

pub mod keys {
    use crate::api::MAX_ID_LEN;

    /// Whether `id` has the shape of our ids (uuids, or the short slugs of fixtures).
    pub fn is_id(id: &str) -> bool {
        !id.is_empty()
            && id.len() <= MAX_ID_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    }

    /// `None` when `server_id` is not an id: such a server cannot exist, nothing is cached
    /// for it, and no other entry may be read in its place.
    pub fn tools_of_server(team_id: &str, server_id: &str) -> Option<String> {
        is_id(server_id).then(|| format!("t:{team_id}:tools:{server_id}"))
    }
    pub fn tools_of_team(team_id: &str) -> String {
        format!("t:{team_id}:tools")
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

/// In-memory cache for native tests. TTLs are recorded, not enforced. `Debug` lists the keys
/// only (values hold upstream session ids).
#[derive(Default)]
pub struct MemoryCache {
    entries: RefCell<HashMap<String, (String, u64)>>,
}

impl std::fmt::Debug for MemoryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let entries = self.entries.borrow();
        let mut keys: Vec<&str> = entries.keys().map(String::as_str).collect();
        keys.sort_unstable();
        f.debug_struct("MemoryCache").field("keys", &keys).finish()
    }
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

#[cfg(test)]
mod tests {
    use super::keys;

    #[test]
    fn odd_server_ids_build_no_key_and_no_id_reaches_the_team_wide_key() {
        for odd in ["*", "", "a:b", "a b", "../x", "🦀", "x' OR '1'='1", "%2A"] {
            assert_eq!(keys::tools_of_server("team-a", odd), None, "{odd:?}");
        }
        assert_eq!(keys::tools_of_server("team-a", &"a".repeat(129)), None);
        for id in ["srv-a", "3f0c9b1e-7a52-4c1d-9e8f-5b6a7c8d9e01", "a_b.c"] {
            let key = keys::tools_of_server("team-a", id).unwrap();
            assert_ne!(key, keys::tools_of_team("team-a"));
            assert!(key.starts_with("t:team-a:tools:"));
        }
    }
}
