//! The metadata cache: properties, custom-object schemas, owners and pipelines.
//!
//! HubSpot's own guidance is to cache these. Entries live in memory and are persisted in the
//! data directory (atomically), so a restart does not refetch what is still fresh. While an
//! entry is fresh (default 15 minutes) it is never fetched again; a stale entry is refetched
//! once (single-flight per key) on the next use, or all entries by [`MetadataCache::refresh`]
//! and the background refresher.
//!
//! A refresh replaces an entry only when the new fetch succeeds, and a failed fetch of a
//! stale entry serves the stale value (logged): a HubSpot outage leaves a working cache
//! working instead of emptying it. Persisting runs on a blocking thread, newest snapshot wins.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::ApiError;
use crate::time::SharedClock;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    fetched_at_ms: i64,
    value: Value,
}

/// The cache.
pub struct MetadataCache {
    ttl_ms: i64,
    path: Option<PathBuf>,
    clock: SharedClock,
    entries: Mutex<HashMap<String, Entry>>,
    /// One async lock per key: concurrent misses cause one fetch.
    inflight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    fetches: std::sync::atomic::AtomicU64,
    /// Snapshot numbers: the writer skips a snapshot older than the one on disk.
    generation: std::sync::atomic::AtomicU64,
    written: Arc<Mutex<u64>>,
}

impl MetadataCache {
    /// A cache with `ttl_secs` freshness, persisted under `data_dir` when given.
    pub fn new(ttl_secs: u64, data_dir: Option<PathBuf>, clock: SharedClock) -> Self {
        let path = data_dir.map(|d| d.join("metadata-cache.json"));
        let entries = path
            .as_ref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| serde_json::from_slice::<HashMap<String, Entry>>(&b).ok())
            .unwrap_or_default();
        Self {
            ttl_ms: ttl_secs as i64 * 1000,
            path,
            clock,
            entries: Mutex::new(entries),
            inflight: Mutex::new(HashMap::new()),
            fetches: Default::default(),
            generation: Default::default(),
            written: Arc::new(Mutex::new(0)),
        }
    }

    /// How many fetches the cache has made.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn fresh(&self, key: &str) -> Option<Value> {
        let now = self.clock.now_ms();
        self.entries
            .lock()
            .get(key)
            .filter(|e| now - e.fetched_at_ms < self.ttl_ms)
            .map(|e| e.value.clone())
    }

    /// The cached value, or the result of `fetch` (stored) when missing or stale. When the
    /// fetch of a stale entry fails, the stale value is served.
    ///
    /// # Errors
    /// The fetch's error, when there is no value at all to serve.
    pub async fn get_or_fetch<F, Fut>(&self, key: &str, fetch: F) -> Result<Value, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Value, ApiError>>,
    {
        if let Some(v) = self.fresh(key) {
            return Ok(v);
        }
        self.fetch_into(key, fetch, false).await
    }

    /// Fetches `key` now, fresh or not, and replaces the entry only if the fetch succeeds.
    ///
    /// # Errors
    /// The fetch's error (the entry, if any, is kept).
    pub async fn refresh<F, Fut>(&self, key: &str, fetch: F) -> Result<Value, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Value, ApiError>>,
    {
        self.fetch_into(key, fetch, true).await
    }

    async fn fetch_into<F, Fut>(&self, key: &str, fetch: F, forced: bool) -> Result<Value, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Value, ApiError>>,
    {
        let lock = self
            .inflight
            .lock()
            .entry(key.to_string())
            .or_default()
            .clone();
        let _g = lock.lock().await;
        if !forced {
            if let Some(v) = self.fresh(key) {
                return Ok(v);
            }
        }
        let value = match fetch().await {
            Ok(v) => v,
            Err(e) => {
                let stale = self.entries.lock().get(key).map(|e| e.value.clone());
                return match stale {
                    Some(v) if !forced => {
                        tracing::warn!(key, error = %e, "metadata refetch failed; serving the cached value");
                        Ok(v)
                    }
                    _ => Err(e),
                };
            }
        };
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.entries.lock().insert(
            key.to_string(),
            Entry {
                fetched_at_ms: self.clock.now_ms(),
                value: value.clone(),
            },
        );
        self.persist();
        Ok(value)
    }

    /// Every cached key.
    pub fn keys(&self) -> Vec<String> {
        self.entries.lock().keys().cloned().collect()
    }

    /// Drops one entry so that its next use refetches it.
    pub fn forget(&self, key: &str) {
        self.entries.lock().remove(key);
    }

    /// Marks every entry stale (refresh on demand: the next use refetches).
    pub fn invalidate(&self) {
        self.entries.lock().clear();
        self.persist();
    }

    /// Keys whose entries are stale now.
    pub fn stale_keys(&self) -> Vec<String> {
        let now = self.clock.now_ms();
        self.entries
            .lock()
            .iter()
            .filter(|(_, e)| now - e.fetched_at_ms >= self.ttl_ms)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// The refresh schedule.
    pub fn ttl(&self) -> Duration {
        Duration::from_millis(self.ttl_ms as u64)
    }

    /// Writes a snapshot of the entries to disk, atomically, off the runtime's threads.
    fn persist(&self) {
        let Some(path) = self.path.clone() else {
            return;
        };
        // The snapshot and its number are taken under one lock, so numbers order snapshots.
        let (bytes, generation) = {
            let entries = self.entries.lock();
            let generation = self
                .generation
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                + 1;
            match serde_json::to_vec(&*entries) {
                Ok(b) => (b, generation),
                Err(_) => return,
            }
        };
        let written = self.written.clone();
        let write = move || {
            let mut last = written.lock();
            if *last > generation {
                return; // a newer snapshot is already on disk
            }
            let tmp = path.with_extension("json.tmp");
            let result =
                std::fs::create_dir_all(path.parent().unwrap_or(std::path::Path::new(".")))
                    .and_then(|()| std::fs::write(&tmp, bytes))
                    .and_then(|()| std::fs::rename(&tmp, &path));
            match result {
                Ok(()) => *last = generation,
                Err(e) => {
                    tracing::warn!(error = %e, path = %path.display(), "could not persist the metadata cache; it stays in memory")
                }
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn_blocking(write)),
            Err(_) => write(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::ManualClock;

    #[tokio::test]
    async fn an_outage_serves_the_cached_value_and_a_failed_refresh_keeps_it() {
        let clock = ManualClock::new(0);
        let cache = MetadataCache::new(900, None, Arc::new(clock.clone()));
        let down = || async { Err(ApiError::Invalid("HubSpot is down".into())) };
        cache
            .get_or_fetch("owners", || async { Ok(serde_json::json!([1])) })
            .await
            .unwrap();
        assert!(
            cache.refresh("owners", down).await.is_err(),
            "the refresh says it failed"
        );
        clock.advance(Duration::from_secs(901));
        let v = cache.get_or_fetch("owners", down).await.unwrap();
        assert_eq!(v, serde_json::json!([1]), "stale, but served");
        assert!(
            cache.get_or_fetch("pipelines:deals", down).await.is_err(),
            "nothing to serve"
        );
    }

    #[tokio::test]
    async fn fresh_entries_are_never_refetched_and_stale_ones_are_once() {
        let clock = ManualClock::new(0);
        let dir = std::env::temp_dir().join(format!("hsmcp-meta-{}", uuid::Uuid::new_v4()));
        let cache = MetadataCache::new(900, Some(dir.clone()), Arc::new(clock.clone()));
        for _ in 0..3 {
            cache
                .get_or_fetch("owners", || async { Ok(serde_json::json!([1])) })
                .await
                .unwrap();
        }
        assert_eq!(cache.fetches(), 1);
        clock.advance(Duration::from_secs(899));
        cache
            .get_or_fetch("owners", || async { Ok(serde_json::json!([2])) })
            .await
            .unwrap();
        assert_eq!(cache.fetches(), 1);
        clock.advance(Duration::from_secs(1));
        assert_eq!(cache.stale_keys(), vec!["owners".to_string()]);
        let v = cache
            .get_or_fetch("owners", || async { Ok(serde_json::json!([3])) })
            .await
            .unwrap();
        assert_eq!(v, serde_json::json!([3]));
        // Persisted (on a blocking thread): a new cache over the same directory starts warm.
        for _ in 0..200 {
            if *cache.written.lock() >= cache.generation.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let again = MetadataCache::new(900, Some(dir.clone()), Arc::new(clock.clone()));
        let v = again
            .get_or_fetch("owners", || async { Ok(serde_json::json!([4])) })
            .await
            .unwrap();
        assert_eq!(v, serde_json::json!([3]));
        assert_eq!(again.fetches(), 0);
        std::fs::remove_dir_all(dir).ok();
    }
}
