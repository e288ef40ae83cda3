//! [`Cache`] over a KV namespace. Values are stored as strings (see `cache` invariants).

use worker::kv::KvStore;

use crate::cache::{Cache, MIN_TTL_SECS};
use crate::error::{Error, Result};

pub struct KvCache {
    kv: KvStore,
}

impl KvCache {
    pub fn new(kv: KvStore) -> Self {
        KvCache { kv }
    }
}

fn kv_error(e: worker::kv::KvError) -> Error {
    Error::internal(format!("KV: {e}"))
}

impl Cache for KvCache {
    async fn get(&self, key: &str) -> Result<Option<String>> {
        self.kv.get(key).text().await.map_err(kv_error)
    }

    async fn put(&self, key: &str, value: &str, ttl_secs: u64) -> Result<()> {
        self.kv
            .put(key, value)
            .map_err(kv_error)?
            .expiration_ttl(ttl_secs.max(MIN_TTL_SECS))
            .execute()
            .await
            .map_err(kv_error)
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.kv.delete(key).await.map_err(kv_error)
    }
}
