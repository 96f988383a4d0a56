//! What `sync --status` prints: the queue, the dead letters, the index's records per type and
//! the checkpoints, read through the seams, so every process of a shared deployment prints
//! the same.

use std::collections::BTreeMap;

use serde::Serialize;

use super::seams::{DeadLetter, Depth, EventQueue, QueueError, RecordState};

/// The sync state as `sync --status` reports it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncStatus {
    /// Where the queue is (SQLite file, or Redis prefix).
    pub backend: String,
    pub queue: Depth,
    pub dead_letters: Vec<DeadLetter>,
    pub records: BTreeMap<String, u64>,
    pub caught_up_ms: Option<String>,
    pub last_received_ms: Option<String>,
    /// Per type, how far the backfill is (done, total, rate, ETA), once one has run.
    pub backfill: BTreeMap<String, serde_json::Value>,
}

/// Reads the status (at most 20 dead letters).
///
/// # Errors
/// The queue or the record state cannot be read.
pub async fn read(
    queue: &dyn EventQueue,
    state: &dyn RecordState,
    now_ms: i64,
) -> Result<SyncStatus, QueueError> {
    Ok(SyncStatus {
        backend: queue.describe(),
        queue: queue.depth(now_ms).await?,
        dead_letters: queue.dead_letters(20).await?,
        records: state.record_counts().await?.into_iter().collect(),
        caught_up_ms: state.checkpoint("caught_up_ms").await?,
        last_received_ms: state.checkpoint("last_received_ms").await?,
        backfill: state
            .checkpoints_under("backfill_progress:")
            .await?
            .into_iter()
            .map(|(name, v)| {
                let value = serde_json::from_str(&v).unwrap_or(serde_json::Value::String(v));
                (name, value)
            })
            .collect(),
    })
}
