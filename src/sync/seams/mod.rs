//! The seams sync owns: what the engine, the receiver and the CLI need from an event queue
//! ([`EventQueue`]) and from the record state ([`RecordState`]), whoever keeps them.
//!
//! | seam | embedded default (one machine) | shared (many processes, many machines) |
//! |---|---|---|
//! | [`EventQueue`] | [`super::queue::Queue`]: SQLite, WAL, `synchronous=FULL` | [`super::redis::StreamQueue`]: Redis Streams, one consumer group |
//! | [`RecordState`] | the same SQLite file | [`super::redis::RedisState`]: hashes and sorted sets beside the stream |
//! | vector store | qdrant-edge ([`crate::index::edge`]) | a Qdrant server ([`crate::index::qdrant`]) |
//!
//! Both implementations of each seam pass one contract suite (`tests/it/sync_contract.rs`):
//! dedupe at the door, leases that come back, acks that check the holder, failures that back
//! off and then dead-letter, records whose digests, versions and duplicate groups read the
//! same from every process.
//!
//! Every method is async. The SQLite backend runs its short transactions on the blocking pool;
//! the Redis backend is one round trip (a Lua script where several steps must be atomic).

pub(crate) mod events;
pub(crate) mod records;

pub use events::{Acked, DeadLetter, Depth, EventQueue, Failed, Leased, Receipt};
pub use records::{Claim, ClaimRequest, RecordRow, RecordState};

/// Why the sync database or the shared store failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The SQLite sync database.
    #[error("sync database {path}: {source}")]
    Sqlite {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    /// Redis, shared by every worker (the URL is never shown: it may hold a password).
    #[error("the shared sync store (Redis, prefix {prefix}): {message}")]
    Shared { prefix: String, message: String },
    /// A receipt from another backend, or an argument the store refuses.
    #[error("{0}")]
    Invalid(String),
    /// The blocking task running a SQLite transaction died (a panic).
    #[error("sync database task failed: {0}")]
    Task(String),
}
