//! [`Cache`] over a KV namespace. Values are stored as strings (see `cache` invariants).

use worker::kv::KvStore;

use shared::cache::{Cache, MIN_TTL_SECS};
use shared::error::Result;

use crate::error::WorkerResultExt;

pub struct KvCache {
    kv: KvStore,
}

impl KvCache {
    pub fn new(kv: KvStore) -> Self {
        KvCache { kv }
    }
}

impl Cache for KvCache {
    async fn get(&self, key: &str) -> Result<Option<String>> {
        self.kv.get(key).text().await.or_internal("KV")
    }

    async fn put(&self, key: &str, value: &str, ttl_secs: u64) -> Result<()> {
        self.kv
            .put(key, value)
            .or_internal("KV")?
            .expiration_ttl(ttl_secs.max(MIN_TTL_SECS))
            .execute()
            .await
            .or_internal("KV")
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.kv.delete(key).await.or_internal("KV")
    }
}
