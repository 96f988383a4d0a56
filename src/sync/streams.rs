//! The event queue on Redis Streams, for workers in many processes (issue 19, first part).
//!
//! Not wired into the engine yet: the engine still talks to the SQLite queue directly, and the
//! async queue seam both will implement comes next. What is here is the part with the traps
//! (`../shared/docs/scale-out.md`, each measured on Redis 7.0.15), each handled in one script:
//!
//! - **Enqueue with dedupe** ([`StreamQueue::enqueue`]): per change, `SET seen:<key> NX PX
//!   <retention>` and, only when it was new, `XADD`, in one script, so a redelivery is dropped
//!   at the door and nothing is appended twice. The dedupe key leaves out the attempt number.
//! - **Lease** ([`StreamQueue::lease`]): first the entries another consumer has held longer
//!   than the lease (`XAUTOCLAIM`: a crashed worker's work comes back, with its delivery count
//!   raised), then new ones (`XREADGROUP … >`). An entry delivered more than `max_deliveries`
//!   times is moved to the dead-letter stream instead of being handed out again, so a poison
//!   event stops circling while the others flow.
//! - **Ack checks the owner** ([`StreamQueue::ack`]): `XACK` does not, so a stale worker could
//!   ack work another worker reclaimed. The script acks (and deletes: trimming by length would
//!   drop pending work) only entries this consumer still owns, and reports the others refused.
//! - **Keeping a lease** ([`StreamQueue::keep`]): `XCLAIM <self> 0 … JUSTID` resets the idle
//!   time of a long apply without raising the delivery count.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::{ExposeSecret, SecretString};

use crate::webhook::{Change, Enqueued};

/// Why the shared queue failed (Redis unreachable, or an answer that was not expected).
#[derive(Debug, thiserror::Error)]
#[error("the shared event queue (Redis, prefix {prefix}): {message}")]
pub struct StreamError {
    prefix: String,
    message: String,
}

/// Settings of one consumer.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    /// Keys are `<prefix>:events`, `<prefix>:dead`, `<prefix>:seen:<key>`.
    pub prefix: String,
    /// The consumer group all workers share.
    pub group: String,
    /// This worker's name in the group (unique per process).
    pub consumer: String,
    /// An entry held longer than this by another consumer is reclaimed.
    pub lease: Duration,
    /// Deliveries before an entry goes to the dead-letter stream.
    pub max_deliveries: u64,
    /// How long a dedupe key is kept (HubSpot retries for 24 h).
    pub dedupe_retention: Duration,
}

impl Default for StreamSettings {
    fn default() -> Self {
        Self {
            prefix: "hubspot-mcp:sync".into(),
            group: "workers".into(),
            consumer: format!("worker-{}", uuid::Uuid::new_v4().simple()),
            lease: Duration::from_secs(60),
            max_deliveries: 5,
            dedupe_retention: Duration::from_secs(72 * 3600),
        }
    }
}

/// A leased entry.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamLeased {
    /// The stream entry id: the receipt an ack names.
    pub id: String,
    pub change: Change,
}

/// What an ack did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Acked {
    pub acked: usize,
    /// Entries this consumer no longer owns (reclaimed by another): not acked.
    pub refused: usize,
}

/// Stream entries as Redis returns them: (id, [field, value, …]).
type Entries = Vec<(String, Vec<String>)>;

/// One consumer of the shared event stream.
pub struct StreamQueue {
    conn: ConnectionManager,
    settings: StreamSettings,
}

impl std::fmt::Debug for StreamQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamQueue")
            .field("prefix", &self.settings.prefix)
            .field("consumer", &self.settings.consumer)
            .finish_non_exhaustive()
    }
}

const ENQUEUE: &str = r"
local accepted, duplicates = 0, 0
for i = 1, #ARGV - 1, 2 do
  if redis.call('SET', KEYS[2] .. ARGV[i], '1', 'NX', 'PX', KEYS[3]) then
    redis.call('XADD', KEYS[1], '*', 'change', ARGV[i + 1])
    accepted = accepted + 1
  else
    duplicates = duplicates + 1
  end
end
return {accepted, duplicates}
";

const ACK: &str = r"
local acked, refused = 0, 0
for _, id in ipairs(ARGV) do
  local p = redis.call('XPENDING', KEYS[1], KEYS[2], id, id, 1)
  if p[1] and p[1][2] == KEYS[3] then
    redis.call('XACK', KEYS[1], KEYS[2], id)
    redis.call('XDEL', KEYS[1], id)
    acked = acked + 1
  else
    refused = refused + 1
  end
end
return {acked, refused}
";

/// Moves an entry this consumer holds to the dead-letter stream, with its delivery count.
const DEAD: &str = r"
local p = redis.call('XPENDING', KEYS[1], KEYS[2], ARGV[1], ARGV[1], 1)
if not (p[1] and p[1][2] == KEYS[3]) then return 0 end
redis.call('XADD', KEYS[4], '*', 'change', ARGV[2], 'deliveries', p[1][4])
redis.call('XACK', KEYS[1], KEYS[2], ARGV[1])
redis.call('XDEL', KEYS[1], ARGV[1])
return 1
";

impl StreamQueue {
    /// Connects (lazily) and creates the group when absent.
    ///
    /// # Errors
    /// The URL is not a Redis URL, or Redis refuses the group.
    pub async fn connect(
        url: &SecretString,
        settings: StreamSettings,
    ) -> Result<Self, StreamError> {
        let err = |m: String| StreamError {
            prefix: settings.prefix.clone(),
            message: m,
        };
        let client = redis::Client::open(url.expose_secret())
            .map_err(|e| err(format!("not a Redis URL: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(1);
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| err(format!("cannot connect: {e}")))?;
        let q = Self { conn, settings };
        q.create_group().await?;
        Ok(q)
    }

    /// Creates the consumer group (and the stream) unless it exists.
    async fn create_group(&self) -> Result<(), StreamError> {
        let created: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(self.key("events"))
            .arg(&self.settings.group)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut self.conn.clone())
            .await;
        match created {
            Ok(()) => Ok(()),
            Err(e) if e.to_string().contains("BUSYGROUP") => Ok(()),
            Err(e) => Err(self.err(e)),
        }
    }

    fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.settings.prefix)
    }

    fn err(&self, e: impl std::fmt::Display) -> StreamError {
        StreamError {
            prefix: self.settings.prefix.clone(),
            message: e.to_string(),
        }
    }

    /// Appends the changes not seen before (by dedupe key), atomically per batch.
    ///
    /// # Errors
    /// Redis is unreachable: nothing was acknowledged, so the caller answers 503.
    pub async fn enqueue(&self, changes: &[Change]) -> Result<Enqueued, StreamError> {
        if changes.is_empty() {
            return Ok(Enqueued::default());
        }
        let script = redis::Script::new(ENQUEUE);
        let mut inv = script.prepare_invoke();
        inv.key(self.key("events"))
            .key(self.key("seen:"))
            .key(self.settings.dedupe_retention.as_millis() as u64);
        for c in changes {
            inv.arg(&c.key)
                .arg(serde_json::to_string(c).map_err(|e| self.err(e))?);
        }
        let (accepted, duplicates): (usize, usize) = inv
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(|e| self.err(e))?;
        Ok(Enqueued {
            accepted,
            duplicates,
        })
    }

    /// Up to `max` entries: reclaimed ones first, then new ones. Entries past
    /// `max_deliveries` go to the dead-letter stream instead.
    ///
    /// # Errors
    /// Redis is unreachable.
    pub async fn lease(&self, max: usize) -> Result<Vec<StreamLeased>, StreamError> {
        match self.lease_once(max).await {
            // A Redis that lost its data (restarted without persistence) lost the group too:
            // recreate it and read again, rather than failing every lease from now on.
            Err(e) if e.message.contains("NOGROUP") => {
                tracing::warn!(
                    "the shared queue's consumer group was gone (Redis lost its data?): recreated"
                );
                self.create_group().await?;
                self.lease_once(max).await
            }
            other => other,
        }
    }

    async fn lease_once(&self, max: usize) -> Result<Vec<StreamLeased>, StreamError> {
        let mut conn = self.conn.clone();
        let events = self.key("events");
        let s = &self.settings;
        // XAUTOCLAIM key group consumer min-idle start COUNT n → [next, [[id, [f, v]]], deleted]
        let (_, claimed, _): (String, Entries, Vec<String>) = redis::cmd("XAUTOCLAIM")
            .arg(&events)
            .arg(&s.group)
            .arg(&s.consumer)
            .arg(s.lease.as_millis() as u64)
            .arg("0-0")
            .arg("COUNT")
            .arg(max.max(1))
            .query_async(&mut conn)
            .await
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for (id, fields) in claimed {
            let Some(change) = self.decode(&fields) else {
                continue;
            };
            if self.deliveries(&id).await? > s.max_deliveries {
                let moved: i64 = redis::Script::new(DEAD)
                    .key(&events)
                    .key(&s.group)
                    .key(&s.consumer)
                    .key(self.key("dead"))
                    .arg(&id)
                    .arg(serde_json::to_string(&change).map_err(|e| self.err(e))?)
                    .invoke_async(&mut conn)
                    .await
                    .map_err(|e| self.err(e))?;
                if moved == 1 {
                    tracing::warn!(id = %id, key = %change.key, "event dead-lettered after too many deliveries");
                }
                continue;
            }
            out.push(StreamLeased { id, change });
        }
        if out.len() < max {
            type Read = Option<Vec<(String, Entries)>>;
            let fresh: Read = redis::cmd("XREADGROUP")
                .arg("GROUP")
                .arg(&s.group)
                .arg(&s.consumer)
                .arg("COUNT")
                .arg(max - out.len())
                .arg("STREAMS")
                .arg(&events)
                .arg(">")
                .query_async(&mut conn)
                .await
                .map_err(|e| self.err(e))?;
            for (_, entries) in fresh.unwrap_or_default() {
                for (id, fields) in entries {
                    if let Some(change) = self.decode(&fields) {
                        out.push(StreamLeased { id, change });
                    }
                }
            }
        }
        Ok(out)
    }

    fn decode(&self, fields: &[String]) -> Option<Change> {
        let at = fields.iter().position(|f| f == "change")?;
        serde_json::from_str(fields.get(at + 1)?).ok()
    }

    async fn deliveries(&self, id: &str) -> Result<u64, StreamError> {
        let p: Vec<(String, String, u64, u64)> = redis::cmd("XPENDING")
            .arg(self.key("events"))
            .arg(&self.settings.group)
            .arg(id)
            .arg(id)
            .arg(1)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|e| self.err(e))?;
        Ok(p.first().map_or(0, |e| e.3))
    }

    /// Acks (and deletes) the entries this consumer still owns; the others are refused.
    ///
    /// # Errors
    /// Redis is unreachable (nothing is acked; the entries come back after the lease).
    pub async fn ack(&self, ids: &[String]) -> Result<Acked, StreamError> {
        if ids.is_empty() {
            return Ok(Acked::default());
        }
        let script = redis::Script::new(ACK);
        let mut inv = script.prepare_invoke();
        inv.key(self.key("events"))
            .key(&self.settings.group)
            .key(&self.settings.consumer);
        for id in ids {
            inv.arg(id);
        }
        let (acked, refused): (usize, usize) = inv
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(|e| self.err(e))?;
        Ok(Acked { acked, refused })
    }

    /// Keeps the lease of entries still being applied (idle reset, delivery count unchanged).
    ///
    /// # Errors
    /// Redis is unreachable.
    pub async fn keep(&self, ids: &[String]) -> Result<(), StreamError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut cmd = redis::cmd("XCLAIM");
        cmd.arg(self.key("events"))
            .arg(&self.settings.group)
            .arg(&self.settings.consumer)
            .arg(0);
        for id in ids {
            cmd.arg(id);
        }
        cmd.arg("JUSTID");
        let _: Vec<String> = cmd
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The dead-letter stream's entries: (entry id, change, deliveries).
    ///
    /// # Errors
    /// Redis is unreachable.
    pub async fn dead_letters(
        &self,
        max: usize,
    ) -> Result<Vec<(String, Change, u64)>, StreamError> {
        let entries: Entries = redis::cmd("XRANGE")
            .arg(self.key("dead"))
            .arg("-")
            .arg("+")
            .arg("COUNT")
            .arg(max)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|e| self.err(e))?;
        Ok(entries
            .into_iter()
            .filter_map(|(id, fields)| {
                let change = self.decode(&fields)?;
                let at = fields.iter().position(|f| f == "deliveries")?;
                let n = fields.get(at + 1)?.parse().ok()?;
                Some((id, change, n))
            })
            .collect())
    }
}
