//! Results of tools an admin marked `cacheable`, in KV for a short time.
//!
//! Invariants:
//! - The key holds the team, the server, and a hash of the tool, its canonical arguments, the
//!   credential scope (which credential value was used), the server's config and the tool's
//!   last sync: one team never reads another's entry, and setting a credential, changing the
//!   server's config or re-syncing the tool makes the old entries unreachable at once.
//! - Only successful results are stored (never `isError`, never failures), and never anything
//!   secret: a result is what the tool answered.
//! - The cache is never the source of truth; a miss, a failure or an undecodable entry just
//!   means the tool runs.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::cache::Cache;
use crate::confirmation::canonical_json;
use crate::error::Result;

/// Short: results of "read" tools go stale. (KV's minimum TTL.)
pub const RESULT_TTL_SECS: u64 = crate::cache::MIN_TTL_SECS;
/// Bigger results are not cached.
pub const MAX_CACHED_BYTES: usize = 256 * 1024;

/// What identifies one cacheable call.
#[derive(Debug, Clone, Copy)]
pub struct CallKey<'a> {
    pub team_id: &'a str,
    pub server_id: &'a str,
    pub server_config: &'a str,
    pub tool_name: &'a str,
    pub tool_synced_at: Option<&'a str>,
    pub arguments: &'a Value,
    /// `None` when the server has no credential.
    pub credential_scope: Option<&'a str>,
}

impl CallKey<'_> {
    pub fn key(&self) -> String {
        let material = Value::from(vec![
            Value::from(self.tool_name),
            canonical_json(self.arguments).into(),
            self.credential_scope.unwrap_or("-").into(),
            self.server_config.into(),
            self.tool_synced_at.unwrap_or("-").into(),
        ])
        .to_string();
        let digest = Sha256::digest(material.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("t:{}:result:{}:{hex}", self.team_id, self.server_id)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedResult {
    pub result: Value,
    /// The execution that produced the result (its row holds the full record).
    pub execution_id: String,
    pub duration_ms: u64,
}

pub async fn get<C: Cache>(cache: &C, key: &CallKey<'_>) -> Option<CachedResult> {
    let text = cache.get(&key.key()).await.ok()??;
    serde_json::from_str(&text).ok()
}

/// Stores a successful result; oversized ones are skipped.
pub async fn put<C: Cache>(cache: &C, key: &CallKey<'_>, entry: &CachedResult) -> Result<()> {
    let text = serde_json::to_string(entry).map_err(crate::error::Error::internal)?;
    if text.len() > MAX_CACHED_BYTES {
        return Ok(());
    }
    cache.put(&key.key(), &text, RESULT_TTL_SECS).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key<'a>(args: &'a Value, scope: Option<&'a str>) -> CallKey<'a> {
        CallKey {
            team_id: "team-a",
            server_id: "srv-a",
            server_config: r#"{"url":"http://x/mcp"}"#,
            tool_name: "weather",
            tool_synced_at: Some("2026-01-01T00:00:00.000Z"),
            arguments: args,
            credential_scope: scope,
        }
    }

    #[test]
    fn keys_ignore_argument_order_but_not_values_scope_or_team() {
        let a: Value = serde_json::from_str(r#"{"city":"Oslo","units":"c"}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"units":"c","city":"Oslo"}"#).unwrap();
        assert_eq!(key(&a, None).key(), key(&b, None).key());
        assert!(key(&a, None).key().starts_with("t:team-a:result:srv-a:"));
        let other = json!({"city": "Bergen", "units": "c"});
        assert_ne!(key(&a, None).key(), key(&other, None).key());
        assert_ne!(key(&a, None).key(), key(&a, Some("cred@1")).key());
        assert_ne!(key(&a, Some("cred@1")).key(), key(&a, Some("cred@2")).key());
        let mut other_team = key(&a, None);
        other_team.team_id = "team-b";
        assert_ne!(key(&a, None).key(), other_team.key());
        let mut resynced = key(&a, None);
        resynced.tool_synced_at = Some("2026-01-02T00:00:00.000Z");
        assert_ne!(key(&a, None).key(), resynced.key());
    }
}
