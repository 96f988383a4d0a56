//! The record state seam: what the index holds per record (content digest, update time,
//! email, domain, phone), the last applied `occurredAt` per object, and checkpoints.
//!
//! Any worker reads it to know whether a record is unchanged (so applying twice writes the
//! index once), reconcile walks it in id order, and `find_duplicates` and `sync --status`
//! read it: from every process, the same answers.

use std::collections::HashMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::QueueError;

/// What the index holds for one record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordRow {
    pub reference: String,
    pub object_type: String,
    pub id: String,
    pub title: String,
    pub updated_ms: Option<i64>,
    pub digest: String,
    pub email: Option<String>,
    pub domain: Option<String>,
    pub phone: Option<String>,
}

impl RecordRow {
    /// The normalized value of a duplicate-report field (`email`, `domain`, `phone`).
    pub fn field(&self, name: &str) -> Option<&str> {
        match name {
            "email" => self.email.as_deref(),
            "domain" => self.domain.as_deref(),
            "phone" => self.phone.as_deref(),
            _ => None,
        }
    }
}

/// The fields [`RecordState::duplicates`] groups by.
pub const DUPLICATE_FIELDS: [&str; 3] = ["email", "domain", "phone"];

/// One record a worker wants to write: what it read, and when it read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRequest {
    pub reference: String,
    pub digest: String,
    /// HubSpot's last-modified time of the version read.
    pub updated_ms: Option<i64>,
    /// When the worker read it (the engine's clock).
    pub read_ms: i64,
}

/// What [`RecordState::claim`] says about writing one record's new content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Write it: no one else is writing this record.
    Granted,
    /// The index already holds this content (another worker wrote it meanwhile).
    Unchanged,
    /// What was read is older than what the index holds (a newer version, or a deletion
    /// after the read): writing it would undo a later change, so it is skipped.
    Stale,
    /// Another worker is writing this record now: try again shortly.
    Contended,
}

/// Record digests, applied versions and checkpoints.
#[async_trait]
pub trait RecordState: Send + Sync + 'static {
    /// Digests of records already indexed, by reference.
    async fn digests(&self, refs: &[String]) -> Result<HashMap<String, String>, QueueError>;

    /// Records what the index now holds (after the vectors are written).
    async fn put_records(&self, rows: &[RecordRow]) -> Result<(), QueueError>;

    /// Forgets records (deleted, privacy-deleted, merged away) at `now_ms`: a read of them from
    /// before that time is [`Claim::Stale`] from then on (a slower worker cannot bring a
    /// deleted person back).
    async fn delete_records(&self, refs: &[String], now_ms: i64) -> Result<(), QueueError>;

    /// Up to `limit` records of a type with a numeric id above `after`, ascending:
    /// `(id, updated_ms)`.
    async fn record_versions_page(
        &self,
        object_type: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Option<i64>)>, QueueError>;

    /// Records per type, by type name.
    async fn record_counts(&self) -> Result<Vec<(String, u64)>, QueueError>;

    /// Groups of records sharing a normalized `field` value (see [`DUPLICATE_FIELDS`]),
    /// largest first, each group's records sorted by reference.
    async fn duplicates(
        &self,
        field: &str,
        object_type: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<RecordRow>)>, QueueError>;

    /// Before writing records to the index: claims each record for `ttl_ms`, so that one
    /// worker at a time writes a record, and never an older version over a newer one or over a
    /// later deletion. [`put_records`](Self::put_records) and
    /// [`delete_records`](Self::delete_records) release the claims; so does
    /// [`release`](Self::release) after a failed write; a claim whose holder died expires.
    async fn claim(&self, writes: &[ClaimRequest], ttl_ms: i64) -> Result<Vec<Claim>, QueueError>;

    /// Releases claims this worker holds without writing (its index write failed).
    async fn release(&self, refs: &[String]) -> Result<(), QueueError>;

    /// The latest `occurredAt` applied per object reference (only those with one).
    async fn applied_at(&self, refs: &[String]) -> Result<HashMap<String, i64>, QueueError>;

    /// Raises each object's applied `occurredAt` to the given value (never lowers it).
    async fn mark_applied(&self, marks: &[(String, i64)]) -> Result<(), QueueError>;

    /// A checkpoint's value.
    async fn checkpoint(&self, name: &str) -> Result<Option<String>, QueueError>;

    /// The checkpoints whose names start with `prefix`, by name, the prefix removed.
    async fn checkpoints_under(&self, prefix: &str) -> Result<Vec<(String, String)>, QueueError>;

    /// Sets (or with `None`, clears) a checkpoint.
    async fn set_checkpoint(&self, name: &str, value: Option<&str>) -> Result<(), QueueError>;
}
