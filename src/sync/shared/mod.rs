//! Sync shared by many processes: the event queue on Redis Streams ([`StreamQueue`]) and the
//! record state beside it ([`RedisState`]), both under one key prefix.
//!
//! Every worker (`serve --sync`, `sync --listen`, on any machine) that names the same Redis URL
//! and prefix shares one queue and one record state: a webhook received by any process is
//! applied once by whichever worker leases it, and `find_duplicates`, `sync --status` and
//! reconcile read the same records from every process. The traps of Redis Streams this handles
//! are measured in `../shared/docs/scale-out.md`; each is handled in one Lua script, so every
//! step that must be atomic is one round trip.
//!
//! Keys (prefix `p`, default `hubspot-mcp:sync`; one Redis, not Redis Cluster: the scripts
//! touch keys they derive from the prefix):
//!
//! | key | type | holds |
//! |---|---|---|
//! | `p:events` | stream + group `workers` | accepted events; an entry is deleted once acked |
//! | `p:seen:<dedupe key>` | string, TTL | `1` while pending, `done` once applied |
//! | `p:delayed` | sorted set by due time | events held back (a transient failure, a backoff) |
//! | `p:failures`, `p:errors` | hashes by dedupe key | permanent failures so far, the last error |
//! | `p:dead` | stream | dead letters |
//! | `p:counters` | hash | processed, duplicates, double acks, dead-lettered, dropped |
//! | `p:rec` | hash by reference | what the index holds per record (JSON) |
//! | `p:ids:<type>` | sorted set by numeric id | reconcile's walk in id order |
//! | `p:dup:<field>:<value>`, `p:dupn:<field>` | set, sorted set | duplicate groups and sizes |
//! | `p:applied` | hash by reference | the latest `occurredAt` applied |
//! | `p:checkpoints` | hash | backfill cursors, watermarks |

mod queue;
mod state;

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

pub use queue::StreamQueue;
pub use state::RedisState;

use super::seams::QueueError;

/// `[sync.shared]`: where workers in many processes share the queue and the record state.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SharedConfig {
    /// `redis://host:6379/` (`rediss://` for TLS). Unset: the embedded SQLite queue. It may
    /// carry a password, so it is a secret (never logged or printed).
    /// `HUBSPOT_MCP_SYNC__SHARED__REDIS_URL` also sets it.
    #[serde(skip_serializing)]
    pub redis_url: Option<SecretString>,
    /// Every key starts with this (several portals can share one Redis).
    pub prefix: String,
    /// Deliveries without an ack (the worker died each time) before an event is dead-lettered.
    pub max_deliveries: u64,
}

impl Default for SharedConfig {
    fn default() -> Self {
        Self {
            redis_url: None,
            prefix: "hubspot-mcp:sync".into(),
            max_deliveries: 5,
        }
    }
}

impl PartialEq for SharedConfig {
    fn eq(&self, o: &Self) -> bool {
        self.redis_url.as_ref().map(ExposeSecret::expose_secret)
            == o.redis_url.as_ref().map(ExposeSecret::expose_secret)
            && self.prefix == o.prefix
            && self.max_deliveries == o.max_deliveries
    }
}

impl std::fmt::Debug for SharedConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedConfig")
            .field("redis_url", &self.redis_url.as_ref().map(|_| "[redacted]"))
            .field("prefix", &self.prefix)
            .field("max_deliveries", &self.max_deliveries)
            .finish()
    }
}

/// Settings of one consumer of the shared queue.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    /// Key prefix (see the module docs).
    pub prefix: String,
    /// The consumer group all workers share.
    pub group: String,
    /// This worker's name in the group (unique per process).
    pub consumer: String,
    /// Deliveries before an entry goes to the dead letters.
    pub max_deliveries: u64,
    /// How long a dedupe key is kept (HubSpot retries for 24 h).
    pub dedupe_retention: Duration,
}

impl Default for StreamSettings {
    fn default() -> Self {
        Self {
            prefix: "hubspot-mcp:sync".into(),
            group: "workers".into(),
            consumer: format!(
                "{}-{}-{}",
                hostname(),
                std::process::id(),
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            ),
            max_deliveries: 5,
            dedupe_retention: Duration::from_secs(72 * 3600),
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .unwrap_or_else(|| "host".into())
}

/// A connection that reconnects, with short timeouts: a Redis that went away fails each call
/// within about two seconds (inside the receiver's ack deadline) instead of the crate's
/// default reconnect backoff.
///
/// # Errors
/// The URL is not a Redis URL, or Redis does not answer.
pub(crate) async fn connect(
    url: &SecretString,
    prefix: &str,
) -> Result<ConnectionManager, QueueError> {
    let err = |m: String| QueueError::Shared {
        prefix: prefix.to_string(),
        message: m,
    };
    let client = redis::Client::open(url.expose_secret())
        .map_err(|e| err(format!("not a Redis URL: {}", e.kind_description())))?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(2)))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(500));
    ConnectionManager::new_with_config(client, config)
        .await
        .map_err(|e| err(format!("cannot connect: {e}")))
}

trait KindDescription {
    fn kind_description(&self) -> String;
}

impl KindDescription for redis::RedisError {
    /// The error's kind only: a parse error of a URL may quote the URL (and its password).
    fn kind_description(&self) -> String {
        format!("{:?}", self.kind())
    }
}
