//! Upstream session state kept in the [`Cache`] between worker invocations, so a warm call
//! skips detection and `initialize` and costs one upstream request.
//!
//! Invariants:
//! - Stored as a JSON string under `keys::mcp_session(server_id)` with [`SESSION_TTL_SECS`].
//! - The state records the URL it was made for: a state whose URL differs from the endpoint's
//!   is ignored, so a session id is never sent to another server after an admin edits the URL.
//! - The cache is an optimisation only: a read or write failure, or garbage in the cache, is a
//!   miss, never an error of the call.

use serde::{Deserialize, Serialize};

use crate::cache::{keys, Cache};

pub const SESSION_TTL_SECS: u64 = 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransportKind {
    StreamableHttp,
    Sse,
    Stateless,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionState {
    pub transport: TransportKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<String>,
    #[serde(default)]
    pub url: String,
}

pub async fn load<C: Cache>(cache: &C, server_id: &str, url: &str) -> Option<SessionState> {
    let raw = cache.get(&keys::mcp_session(server_id)).await.ok()??;
    let state: SessionState = serde_json::from_str(&raw).ok()?;
    (state.url == url).then_some(state)
}

/// The stored state whatever URL it was made for (to terminate a session being replaced).
pub async fn load_any<C: Cache>(cache: &C, server_id: &str) -> Option<SessionState> {
    let raw = cache.get(&keys::mcp_session(server_id)).await.ok()??;
    serde_json::from_str(&raw).ok()
}

pub async fn store<C: Cache>(cache: &C, server_id: &str, state: &SessionState) {
    if let Ok(raw) = serde_json::to_string(state) {
        let _ = cache
            .put(&keys::mcp_session(server_id), &raw, SESSION_TTL_SECS)
            .await;
    }
}

pub async fn forget<C: Cache>(cache: &C, server_id: &str) {
    let _ = cache.delete(&keys::mcp_session(server_id)).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::MemoryCache;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn round_trips_as_a_json_string_with_ttl() {
        block_on(async {
            let cache = MemoryCache::new();
            let state = SessionState {
                transport: TransportKind::StreamableHttp,
                session_id: Some("abc".into()),
                protocol_version: Some("2025-11-25".into()),
                url: "http://x/mcp".into(),
            };
            store(&cache, "srv", &state).await;
            let raw = cache.get(&keys::mcp_session("srv")).await.unwrap().unwrap();
            assert!(raw.contains("\"streamable_http\""), "{raw}");
            assert_eq!(
                cache.ttl_of(&keys::mcp_session("srv")),
                Some(SESSION_TTL_SECS)
            );
            assert_eq!(
                load(&cache, "srv", "http://x/mcp").await,
                Some(state.clone())
            );
            assert_eq!(load(&cache, "srv", "http://other/mcp").await, None);
            assert_eq!(load_any(&cache, "srv").await, Some(state));
            forget(&cache, "srv").await;
            assert_eq!(load(&cache, "srv", "http://x/mcp").await, None);
        });
    }

    #[test]
    fn garbage_in_the_cache_is_a_miss() {
        block_on(async {
            let cache = MemoryCache::new();
            cache
                .put(&keys::mcp_session("srv"), "{not json", 60)
                .await
                .unwrap();
            assert_eq!(load(&cache, "srv", "http://x").await, None);
        });
    }
}
