//! Upstream session state kept in a [`SessionStore`] between worker invocations, so a warm call
//! skips detection and `initialize` and costs one upstream request.
//!
//! Invariants:
//! - Stored as a JSON string under the server's id with [`SESSION_TTL_SECS`]; the store
//!   decides the real key (core: `keys::mcp_session(server_id)` in KV).
//! - The state records the URL it was made for: a state whose URL differs from the endpoint's
//!   is ignored, so a session id is never sent to another server after an admin edits the URL.
//! - The store is an optimisation only: its methods cannot fail (a read or write failure is a
//!   miss), and garbage in it is a miss, never an error of the call.

use std::cell::RefCell;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::redact::hidden;

/// Where the client keeps upstream session state, one JSON string per server id.
#[allow(async_fn_in_trait)]
pub trait SessionStore {
    /// The stored value, `None` on a miss or a failure.
    async fn get(&self, server_id: &str) -> Option<String>;
    /// Stores best effort.
    async fn put(&self, server_id: &str, value: &str, ttl_secs: u64);
    /// Forgets best effort.
    async fn delete(&self, server_id: &str);
}

impl<S: SessionStore> SessionStore for &S {
    async fn get(&self, server_id: &str) -> Option<String> {
        (**self).get(server_id).await
    }
    async fn put(&self, server_id: &str, value: &str, ttl_secs: u64) {
        (**self).put(server_id, value, ttl_secs).await
    }
    async fn delete(&self, server_id: &str) {
        (**self).delete(server_id).await
    }
}

/// An in-memory store (tests, one-shot tools). TTLs are recorded, not enforced. `Debug` lists
/// the server ids only (the stored states hold session ids).
#[derive(Default)]
pub struct MemorySessions {
    entries: RefCell<HashMap<String, (String, u64)>>,
}

impl std::fmt::Debug for MemorySessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let entries = self.entries.borrow();
        let mut servers: Vec<&str> = entries.keys().map(String::as_str).collect();
        servers.sort_unstable();
        f.debug_struct("MemorySessions")
            .field("servers", &servers)
            .finish()
    }
}

impl MemorySessions {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn ttl_of(&self, server_id: &str) -> Option<u64> {
        self.entries.borrow().get(server_id).map(|(_, ttl)| *ttl)
    }
}

impl SessionStore for MemorySessions {
    async fn get(&self, server_id: &str) -> Option<String> {
        self.entries.borrow().get(server_id).map(|(v, _)| v.clone())
    }
    async fn put(&self, server_id: &str, value: &str, ttl_secs: u64) {
        self.entries
            .borrow_mut()
            .insert(server_id.to_string(), (value.to_string(), ttl_secs));
    }
    async fn delete(&self, server_id: &str) {
        self.entries.borrow_mut().remove(server_id);
    }
}

pub const SESSION_TTL_SECS: u64 = 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransportKind {
    StreamableHttp,
    Sse,
    Stateless,
}

/// `Debug` says whether there is a session id, never which.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionState {
    pub transport: TransportKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<String>,
    #[serde(default)]
    pub url: String,
    /// The server advertised task-augmented `tools/call` (`capabilities.tasks.requests.tools.call`,
    /// 2025-11-25) when this session was made.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tool_tasks: bool,
}

impl std::fmt::Debug for SessionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionState")
            .field("transport", &self.transport)
            .field("session_id", &hidden(&self.session_id))
            .field("protocol_version", &self.protocol_version)
            .field("url", &self.url)
            .finish()
    }
}

pub async fn load<S: SessionStore>(store: &S, server_id: &str, url: &str) -> Option<SessionState> {
    let raw = store.get(server_id).await?;
    let state: SessionState = serde_json::from_str(&raw).ok()?;
    (state.url == url).then_some(state)
}

/// The stored state whatever URL it was made for (to terminate a session being replaced).
pub async fn load_any<S: SessionStore>(store: &S, server_id: &str) -> Option<SessionState> {
    let raw = store.get(server_id).await?;
    serde_json::from_str(&raw).ok()
}

pub async fn store<S: SessionStore>(store: &S, server_id: &str, state: &SessionState) {
    if let Ok(raw) = serde_json::to_string(state) {
        store.put(server_id, &raw, SESSION_TTL_SECS).await;
    }
}

pub async fn forget<S: SessionStore>(store: &S, server_id: &str) {
    store.delete(server_id).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trips_as_a_json_string_with_ttl() {
        let cache = MemorySessions::new();
        let state = SessionState {
            transport: TransportKind::StreamableHttp,
            session_id: Some("abc".into()),
            protocol_version: Some("2025-11-25".into()),
            url: "http://x/mcp".into(),
            tool_tasks: false,
        };
        store(&cache, "srv", &state).await;
        let raw = cache.get("srv").await.unwrap();
        assert!(raw.contains("\"streamable_http\""), "{raw}");
        assert_eq!(cache.ttl_of("srv"), Some(SESSION_TTL_SECS));
        assert_eq!(
            load(&cache, "srv", "http://x/mcp").await,
            Some(state.clone())
        );
        assert_eq!(load(&cache, "srv", "http://other/mcp").await, None);
        assert_eq!(load_any(&cache, "srv").await, Some(state));
        forget(&cache, "srv").await;
        assert_eq!(load(&cache, "srv", "http://x/mcp").await, None);
    }

    #[tokio::test]
    async fn garbage_in_the_cache_is_a_miss() {
        let cache = MemorySessions::new();
        cache.put("srv", "{not json", 60).await;
        assert_eq!(load(&cache, "srv", "http://x").await, None);
    }
}
