//! Request coalescing: concurrent single-record reads of one object type (and one property
//! list) that arrive within a few milliseconds become one batch read.
//!
//! The first read of a key opens a batch and schedules its flush after the window; reads that
//! arrive before the flush join it; a batch that reaches 100 ids flushes at once. Each caller
//! gets its own record (or `None` when the id does not exist), or the batch's error.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::oneshot;

use futures::future::BoxFuture;

use super::error::ApiError;
use super::limit::Lane;
use super::model::CrmObject;

type Key = (String, Vec<String>, Lane);
type Waiter = (String, oneshot::Sender<Result<Option<CrmObject>, ApiError>>);

#[derive(Default)]
struct Pending {
    waiters: Vec<Waiter>,
}

/// What the coalescer needs from a client: one batch read. The client implements it, so that
/// this module does not depend on the client.
pub trait BatchRead: Clone + Send + Sync + 'static {
    /// Reads `ids` (at most 100) of one type; records missing from the answer do not exist.
    fn read_batch(
        &self,
        lane: Lane,
        object_type: String,
        ids: Vec<String>,
        properties: Vec<String>,
    ) -> BoxFuture<'static, Result<Vec<CrmObject>, ApiError>>;
}

/// The coalescer; one per client.
pub struct Coalescer {
    window: Duration,
    pending: Arc<Mutex<HashMap<Key, Pending>>>,
}

impl Coalescer {
    /// Coalesces reads arriving within `window`.
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            pending: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Reads one record, joining or opening a batch.
    ///
    /// # Errors
    /// The batch read's error.
    pub async fn get<C: BatchRead>(
        &self,
        client: &C,
        lane: Lane,
        object_type: &str,
        id: &str,
        properties: &[String],
    ) -> Result<Option<CrmObject>, ApiError> {
        let key: Key = (object_type.to_string(), properties.to_vec(), lane);
        let (tx, rx) = oneshot::channel();
        let flush_now = {
            let mut map = self.pending.lock();
            let is_new = !map.contains_key(&key);
            let entry = map.entry(key.clone()).or_default();
            entry.waiters.push((id.to_string(), tx));
            if is_new {
                let (pending, client, key, window) = (
                    self.pending.clone(),
                    client.clone(),
                    key.clone(),
                    self.window,
                );
                tokio::spawn(async move {
                    tokio::time::sleep(window).await;
                    let batch = pending.lock().remove(&key);
                    if let Some(b) = batch {
                        flush(&client, key, b).await;
                    }
                });
            }
            if entry.waiters.len() >= 100 {
                map.remove(&key)
            } else {
                None
            }
        };
        if let Some(batch) = flush_now {
            let client = client.clone();
            tokio::spawn(async move { flush(&client, key, batch).await });
        }
        rx.await.unwrap_or_else(|_| {
            Err(ApiError::Invalid(
                "the coalesced read was dropped before it completed".into(),
            ))
        })
    }
}

async fn flush<C: BatchRead>(client: &C, key: Key, batch: Pending) {
    let (object_type, properties, lane) = key;
    let mut ids: Vec<String> = batch.waiters.iter().map(|(id, _)| id.clone()).collect();
    ids.sort();
    ids.dedup();
    match client.read_batch(lane, object_type, ids, properties).await {
        Ok(results) => {
            let by_id: HashMap<&str, &CrmObject> =
                results.iter().map(|o| (o.id.as_str(), o)).collect();
            for (id, tx) in batch.waiters {
                let _ = tx.send(Ok(by_id.get(id.as_str()).map(|o| (*o).clone())));
            }
        }
        Err(e) => {
            for (_, tx) in batch.waiters {
                let _ = tx.send(Err(e.clone()));
            }
        }
    }
}
