//! HubSpot webhooks: request signatures (pure functions in `hubspot-wire`, shared with the
//! sandbox's sender), the parsed [`Change`], the [`EventSink`] it is stored through, and the
//! receiver route ([`receiver`]) that verifies, parses and stores events durably.

pub mod receiver;

use serde::{Deserialize, Serialize};

pub use hubspot_wire::signature;

/// One change to apply, as parsed from a webhook event (or produced by catch-up).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Dedupe key: equal keys are the same event delivered again.
    pub key: String,
    pub occurred_ms: i64,
    /// `contacts`, `companies`, `deals`, `tickets`, or a custom object's type id.
    pub object_type: String,
    pub object_id: String,
    /// `creation`, `deletion`, `privacyDeletion`, `propertyChange`, `associationChange`,
    /// `merge`, `restore`, or `catchUp`.
    pub kind: String,
    /// Other records this change touches: merge losers/winner, association targets
    /// (`type/id`).
    pub related: Vec<String>,
}

/// What an enqueue did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Enqueued {
    pub accepted: usize,
    pub duplicates: usize,
}

/// Why a batch was not stored: HubSpot must deliver it again (the receiver answers 503).
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The queue could not commit (the disk, or Redis, is away).
    #[error("the event queue is unavailable: {0}")]
    Unavailable(String),
}

/// Where the receiver puts the changes it verified and parsed: a durable store that answers
/// only after they are committed (the SQLite queue, or Redis Streams shared by many
/// workers). The receiver depends on this trait, not on a queue, so that sync builds the
/// receiver and not the other way round.
#[async_trait::async_trait]
pub trait EventSink: Send + Sync + 'static {
    /// Commits `changes` (dropping those whose key was seen before).
    ///
    /// # Errors
    /// The store could not commit; HubSpot must deliver again.
    async fn store(&self, changes: &[Change], now_ms: i64) -> Result<Enqueued, SinkError>;
}
