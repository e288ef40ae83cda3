//! A short-lived memory of KV reads, kept by an isolate in front of the [`Cache`], for values
//! that are only hints (a user's teams: the team's gate decides membership anyway).
//!
//! Invariants:
//! - A remembered value serves for at most the memo's `ttl_ms` after it was read or written
//!   through this isolate; then KV is read again.
//! - A write or delete through [`Memoized`] goes to KV and to the memo, so this isolate never
//!   serves what it itself replaced. Other isolates may serve a replaced value until their
//!   memory of it ends (`ttl_ms`): only hints belong here.
//! - The memo holds at most [`MAX_ENTRIES`] values (then it starts over).

use std::cell::RefCell;
use std::collections::HashMap;

use super::Cache;
use crate::error::Result;

pub const MAX_ENTRIES: usize = 4096;

/// An isolate's memory of cache reads.
#[derive(Debug)]
pub struct Memo {
    ttl_ms: u64,
    entries: RefCell<HashMap<String, (Option<String>, u64)>>,
}

impl Memo {
    pub fn new(ttl_ms: u64) -> Memo {
        Memo {
            ttl_ms,
            entries: RefCell::new(HashMap::new()),
        }
    }

    /// Forgets `key` (its owner changed it through another worker).
    pub fn forget(&self, key: &str) {
        self.entries.borrow_mut().remove(key);
    }

    fn recall(&self, key: &str, now_ms: u64) -> Option<Option<String>> {
        let entries = self.entries.borrow();
        let (value, read_ms) = entries.get(key)?;
        (now_ms >= *read_ms && now_ms - read_ms < self.ttl_ms).then(|| value.clone())
    }

    fn remember(&self, key: &str, value: Option<String>, now_ms: u64) {
        let mut entries = self.entries.borrow_mut();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key.to_string(), (value, now_ms));
    }
}

/// `cache` read through `memo` at `now_ms` (one request's view).
pub struct Memoized<'a, C> {
    pub cache: &'a C,
    pub memo: &'a Memo,
    pub now_ms: u64,
}

impl<C: Cache> Cache for Memoized<'_, C> {
    async fn get(&self, key: &str) -> Result<Option<String>> {
        if let Some(value) = self.memo.recall(key, self.now_ms) {
            return Ok(value);
        }
        let value = self.cache.get(key).await?;
        self.memo.remember(key, value.clone(), self.now_ms);
        Ok(value)
    }

    async fn put(&self, key: &str, value: &str, ttl_secs: u64) -> Result<()> {
        self.memo
            .remember(key, Some(value.to_string()), self.now_ms);
        self.cache.put(key, value, ttl_secs).await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.memo.forget(key);
        self.cache.delete(key).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::MemoryCache;

    #[tokio::test(flavor = "current_thread")]
    async fn a_read_is_remembered_for_the_ttl_then_read_again() {
        let kv = MemoryCache::new();
        let memo = Memo::new(10_000);
        kv.put("k", "v1", 60).await.unwrap();
        let at = |now_ms| Memoized {
            cache: &kv,
            memo: &memo,
            now_ms,
        };
        assert_eq!(at(1_000).get("k").await.unwrap().as_deref(), Some("v1"));
        kv.put("k", "v2", 60).await.unwrap();
        assert_eq!(at(10_999).get("k").await.unwrap().as_deref(), Some("v1"));
        assert_eq!(at(11_000).get("k").await.unwrap().as_deref(), Some("v2"));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn misses_are_remembered_and_writes_and_deletes_go_to_both() {
        let kv = MemoryCache::new();
        let memo = Memo::new(10_000);
        let view = Memoized {
            cache: &kv,
            memo: &memo,
            now_ms: 5,
        };
        assert_eq!(view.get("k").await.unwrap(), None);
        kv.put("k", "behind", 60).await.unwrap();
        assert_eq!(view.get("k").await.unwrap(), None, "a remembered miss");
        view.put("k", "mine", 60).await.unwrap();
        assert_eq!(kv.get("k").await.unwrap().as_deref(), Some("mine"));
        assert_eq!(view.get("k").await.unwrap().as_deref(), Some("mine"));
        view.delete("k").await.unwrap();
        assert_eq!(kv.get("k").await.unwrap(), None);
        assert_eq!(view.get("k").await.unwrap(), None);
    }
}
