//! The event queue seam: accepted webhook events, leased to workers and acked once applied.
//!
//! Contract (every backend):
//! - **enqueue** commits before it returns and drops a change whose dedupe key was seen within
//!   the retention window (it is the receiver's [`EventSink`]: a webhook is answered `204`
//!   only after it returned `Ok`);
//! - **lease** hands an event to one worker at a time; an event whose holder neither acked nor
//!   kept it within the lease comes back to any worker (the holder crashed);
//! - **ack** takes the [`Receipt`]s a lease gave and refuses those the caller no longer holds
//!   (another worker reclaimed them), so a stale worker cannot ack work in flight elsewhere;
//! - **retry later** (a transient failure) holds events back without counting a failure;
//!   **fail** (a permanent one) counts, backs off, and at `max_failures` moves the event to
//!   the dead letters, so nothing behind it waits;
//! - **dead letters** are listed, retried (back in the queue with their failures reset) or
//!   dropped (their keys stay seen, so a redelivery is a duplicate).

use async_trait::async_trait;
use serde::Serialize;

use super::QueueError;
use crate::webhook::{Change, Enqueued, EventSink};

/// What a lease gave for one event, to ack it with: opaque to the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt(pub(in crate::sync) ReceiptKind);

#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::sync) enum ReceiptKind {
    /// A SQLite row, and which delivery of it (a later lease of the same row is another).
    Row { seq: i64, attempt: i64 },
    /// A Redis stream entry id.
    Entry(String),
}

impl std::fmt::Display for Receipt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            ReceiptKind::Row { seq, attempt } => write!(f, "row {seq} (delivery {attempt})"),
            ReceiptKind::Entry(id) => write!(f, "entry {id}"),
        }
    }
}

/// A leased event.
#[derive(Debug, Clone, PartialEq)]
pub struct Leased {
    pub receipt: Receipt,
    pub change: Change,
    pub received_ms: i64,
    /// Deliveries so far, this one included.
    pub attempts: i64,
}

/// Queue depth and age.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Depth {
    pub pending: u64,
    pub leased: u64,
    /// Age of the oldest unprocessed event, in ms (0 when empty).
    pub oldest_age_ms: i64,
    /// Events processed since the queue was created.
    pub processed: u64,
    /// Duplicate deliveries dropped at the door.
    pub duplicates: u64,
    /// Acks of events already processed (should stay 0).
    pub double_acks: u64,
    /// Events in the dead letters now.
    pub dead: u64,
}

/// What [`EventQueue::fail`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failed {
    Retrying {
        failures: i64,
        at_ms: i64,
    },
    DeadLettered {
        failures: i64,
    },
    /// The caller no longer held the event (it was reclaimed): nothing was recorded.
    NotHeld,
}

/// What an ack did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Acked {
    pub acked: usize,
    /// Events the caller no longer held (reclaimed by another worker): not acked.
    pub refused: usize,
}

/// An event that failed for good (until retried).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadLetter {
    /// Where the backend keeps it (a row number, a stream entry id).
    pub id: String,
    pub key: String,
    pub object_type: String,
    pub object_id: String,
    pub kind: String,
    pub failures: i64,
    /// The last error.
    pub error: String,
    pub dead_ms: i64,
}

/// A durable event queue that workers share.
#[async_trait]
pub trait EventQueue: EventSink {
    /// Where the queue is, for logs and `sync --status` (never a password).
    fn describe(&self) -> String;

    /// Called once when a worker starts. A queue with one owner (SQLite) frees the leases a
    /// previous process left; a shared queue frees nothing (other workers' leases are theirs,
    /// and a crashed worker's come back by themselves). Returns how many came back.
    async fn start_worker(&self) -> Result<usize, QueueError>;

    /// Stores changes durably, dropping keys seen within the retention window.
    async fn enqueue(&self, changes: &[Change], now_ms: i64) -> Result<Enqueued, QueueError>;

    /// Up to `max` events: first those whose holder let the lease lapse, then new ones.
    async fn lease(
        &self,
        max: usize,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Vec<Leased>, QueueError>;

    /// Keeps the lease of events still being applied (a long apply is not reclaimed).
    async fn keep(&self, events: &[Leased], now_ms: i64, lease_ms: i64) -> Result<(), QueueError>;

    /// Marks events processed; events the caller no longer holds are refused.
    async fn ack(&self, events: &[Leased], now_ms: i64) -> Result<Acked, QueueError>;

    /// Holds events back for `delay_ms` after a transient failure (no failure counted).
    async fn retry_later(
        &self,
        events: &[Leased],
        now_ms: i64,
        delay_ms: i64,
    ) -> Result<(), QueueError>;

    /// Records a permanent failure: below `max_failures` the event comes back after
    /// `backoff_ms` (given the failures so far); at `max_failures` it is dead-lettered.
    async fn fail(
        &self,
        event: &Leased,
        error: &str,
        now_ms: i64,
        max_failures: i64,
        backoff_ms: fn(i64) -> i64,
    ) -> Result<Failed, QueueError>;

    /// The dead letters, oldest first.
    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, QueueError>;

    /// Puts every dead letter back with its failures reset. Returns how many.
    async fn retry_dead_letters(&self) -> Result<usize, QueueError>;

    /// Discards every dead letter (their keys stay seen). Returns how many.
    async fn drop_dead_letters(&self, now_ms: i64) -> Result<usize, QueueError>;

    /// Depth, age and counters.
    async fn depth(&self, now_ms: i64) -> Result<Depth, QueueError>;

    /// Forgets dedupe keys of processed events received before `before_ms` (a backend whose
    /// keys expire by themselves does nothing).
    async fn prune(&self, before_ms: i64) -> Result<usize, QueueError>;

    /// Whether an event with this dedupe key was processed.
    async fn is_done(&self, key: &str) -> Result<bool, QueueError>;
}
