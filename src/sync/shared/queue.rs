//! The event queue on Redis Streams: one [`EventQueue`] that workers in many processes share.
//!
//! - **Enqueue with dedupe**: per change, `SET p:seen:<key> 1 NX PX <retention>` and, only when
//!   it was new, `XADD`, in one script, so a redelivery is dropped at the door and nothing is
//!   appended twice. The dedupe key leaves out HubSpot's attempt number. The receiver answers
//!   `204` only after this returned: with Redis away it answers `503` and HubSpot retries.
//! - **Lease** (one script): events whose backoff is over move from `p:delayed` back into the
//!   stream; then entries another consumer has held longer than the lease are reclaimed
//!   (`XAUTOCLAIM`: a crashed worker's work comes back, its delivery count raised; past
//!   `max_deliveries` the entry goes to the dead letters instead, so a worker-killing event
//!   stops circling); then new entries (`XREADGROUP … >`).
//! - **Ack checks the holder**: `XACK` does not, so a stale worker could ack work another worker
//!   reclaimed and is still applying. The script acks only entries this consumer holds, stamps
//!   their dedupe keys `done`, and deletes them (`XTRIM MAXLEN` would drop pending work; an
//!   acked entry is deleted instead, so the stream only ever holds unfinished work).
//! - **Keep** (`XCLAIM <self> 0 … JUSTID`, after the same holder check): a long apply resets
//!   its idle time without raising the delivery count.
//! - **Retry later / fail**: the entry leaves the stream for `p:delayed` (due at now + delay),
//!   so a transient failure counts nothing; a permanent one also counts in `p:failures`, and
//!   at `max_failures` goes to `p:dead` with its error.
//! - A Redis that lost its data lost the consumer group too: the next lease recreates it.

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use secrecy::SecretString;

use super::StreamSettings;
use crate::sync::seams::events::ReceiptKind;
use crate::sync::seams::{
    Acked, DeadLetter, Depth, EventQueue, Failed, Leased, QueueError, Receipt,
};
use crate::webhook::{Change, Enqueued, EventSink, SinkError};

/// One consumer of the shared event stream.
#[derive(Clone)]
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

/// KEYS: events, seen prefix, counters, checkpoints. ARGV: retention ms, now, then key/change pairs.
const ENQUEUE: &str = r"
local accepted, duplicates = 0, 0
for i = 3, #ARGV - 1, 2 do
  if redis.call('SET', KEYS[2] .. ARGV[i], '1', 'NX', 'PX', ARGV[1]) then
    redis.call('XADD', KEYS[1], '*', 'change', ARGV[i + 1], 'received', ARGV[2])
    accepted = accepted + 1
  else
    duplicates = duplicates + 1
  end
end
if duplicates > 0 then redis.call('HINCRBY', KEYS[3], 'duplicates', duplicates) end
if accepted > 0 then
  local last = tonumber(redis.call('HGET', KEYS[4], 'last_received_ms') or '0') or 0
  if tonumber(ARGV[2]) > last then redis.call('HSET', KEYS[4], 'last_received_ms', ARGV[2]) end
end
return {accepted, duplicates}
";

/// KEYS: events, delayed, dead, counters, failures, errors.
/// ARGV: group, consumer, lease ms, max, max deliveries, now.
const LEASE: &str = r"
local group, me, max = ARGV[1], ARGV[2], tonumber(ARGV[4])
local function fields(f)
  local t = {}
  for i = 1, #f, 2 do t[f[i]] = f[i + 1] end
  return t
end
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[6], 'LIMIT', 0, max)
for _, m in ipairs(due) do
  local d = cjson.decode(m)
  redis.call('XADD', KEYS[1], '*', 'change', d.c, 'received', d.r)
  redis.call('ZREM', KEYS[2], m)
end
local out = {}
local claimed = redis.call('XAUTOCLAIM', KEYS[1], group, me, ARGV[3], '0-0', 'COUNT', max)[2]
for _, e in ipairs(claimed) do
  local id, f = e[1], fields(e[2])
  local p = redis.call('XPENDING', KEYS[1], group, id, id, 1)[1]
  local n = p and p[4] or 1
  if n > tonumber(ARGV[5]) then
    redis.call('XADD', KEYS[3], '*', 'change', f.change, 'received', f.received, 'failures', n,
      'error', 'delivered ' .. n .. ' times without an ack: its worker stopped each time', 'dead', ARGV[6])
    redis.call('XACK', KEYS[1], group, id)
    redis.call('XDEL', KEYS[1], id)
    redis.call('HINCRBY', KEYS[4], 'dead_lettered', 1)
    local key = cjson.decode(f.change).key
    redis.call('HDEL', KEYS[5], key)
    redis.call('HDEL', KEYS[6], key)
  else
    table.insert(out, {id, f.change, f.received, n})
  end
end
if #out < max then
  local r = redis.call('XREADGROUP', 'GROUP', group, me, 'COUNT', max - #out, 'STREAMS', KEYS[1], '>')
  if r then
    for _, e in ipairs(r[1][2]) do
      local f = fields(e[2])
      table.insert(out, {e[1], f.change, f.received, 1})
    end
  end
end
return out
";

/// KEYS: events, seen prefix, counters, failures, errors. ARGV: group, consumer, retention, ids…
const ACK: &str = r"
local acked, refused, double = 0, 0, 0
for i = 4, #ARGV do
  local id = ARGV[i]
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)[1]
  if p and p[2] == ARGV[2] then
    local e = redis.call('XRANGE', KEYS[1], id, id)[1]
    if e then
      local f = e[2]
      for j = 1, #f, 2 do
        if f[j] == 'change' then
          local key = cjson.decode(f[j + 1]).key
          local seen = KEYS[2] .. key
          if redis.call('GET', seen) == 'done' then
            double = double + 1
          else
            redis.call('SET', seen, 'done', 'PX', ARGV[3])
          end
          redis.call('HDEL', KEYS[4], key)
          redis.call('HDEL', KEYS[5], key)
        end
      end
    end
    redis.call('XACK', KEYS[1], ARGV[1], id)
    redis.call('XDEL', KEYS[1], id)
    acked = acked + 1
  else
    refused = refused + 1
  end
end
if acked > 0 then redis.call('HINCRBY', KEYS[3], 'processed', acked) end
if double > 0 then redis.call('HINCRBY', KEYS[3], 'double_acks', double) end
return {acked, refused}
";

/// KEYS: events. ARGV: group, consumer, ids…
const KEEP: &str = r"
local kept = 0
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)[1]
  if p and p[2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    kept = kept + 1
  end
end
return kept
";

/// Moves held entries to `p:delayed`, due at ARGV[3].
/// KEYS: events, delayed. ARGV: group, consumer, due, ids…
const LATER: &str = r"
local moved = 0
for i = 4, #ARGV do
  local id = ARGV[i]
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)[1]
  local e = redis.call('XRANGE', KEYS[1], id, id)[1]
  if p and p[2] == ARGV[2] and e then
    local t = {}
    for j = 1, #e[2], 2 do t[e[2][j]] = e[2][j + 1] end
    redis.call('ZADD', KEYS[2], ARGV[3], cjson.encode({c = t.change, r = t.received}))
    redis.call('XACK', KEYS[1], ARGV[1], id)
    redis.call('XDEL', KEYS[1], id)
    moved = moved + 1
  end
end
return moved
";

/// KEYS: events, delayed, dead, failures, errors, counters.
/// ARGV: group, consumer, id, error, now, max failures, backoff for 1..max failures…
/// Returns {-1} (not held), {0, failures, due} (retrying) or {1, failures} (dead).
const FAIL: &str = r"
local id = ARGV[3]
local p = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)[1]
local e = redis.call('XRANGE', KEYS[1], id, id)[1]
if not (p and p[2] == ARGV[2] and e) then return {-1} end
local t = {}
for j = 1, #e[2], 2 do t[e[2][j]] = e[2][j + 1] end
local key = cjson.decode(t.change).key
local n = redis.call('HINCRBY', KEYS[4], key, 1)
redis.call('HSET', KEYS[5], key, ARGV[4])
redis.call('XACK', KEYS[1], ARGV[1], id)
redis.call('XDEL', KEYS[1], id)
if n >= tonumber(ARGV[6]) then
  redis.call('XADD', KEYS[3], '*', 'change', t.change, 'received', t.received, 'failures', n,
    'error', ARGV[4], 'dead', ARGV[5])
  redis.call('HDEL', KEYS[4], key)
  redis.call('HDEL', KEYS[5], key)
  redis.call('HINCRBY', KEYS[6], 'dead_lettered', 1)
  return {1, n}
end
local due = tonumber(ARGV[5]) + tonumber(ARGV[6 + n] or ARGV[#ARGV])
redis.call('ZADD', KEYS[2], due, cjson.encode({c = t.change, r = t.received}))
return {0, n, due}
";

/// KEYS: dead, events. Returns how many went back.
const RETRY_DEAD: &str = r"
local entries = redis.call('XRANGE', KEYS[1], '-', '+')
for _, e in ipairs(entries) do
  local t = {}
  for j = 1, #e[2], 2 do t[e[2][j]] = e[2][j + 1] end
  redis.call('XADD', KEYS[2], '*', 'change', t.change, 'received', t.received)
end
redis.call('DEL', KEYS[1])
return #entries
";

/// KEYS: dead, seen prefix, counters. ARGV: retention. Their keys stay seen (`done`).
const DROP_DEAD: &str = r"
local entries = redis.call('XRANGE', KEYS[1], '-', '+')
for _, e in ipairs(entries) do
  for j = 1, #e[2], 2 do
    if e[2][j] == 'change' then
      redis.call('SET', KEYS[2] .. cjson.decode(e[2][j + 1]).key, 'done', 'PX', ARGV[1])
    end
  end
end
redis.call('DEL', KEYS[1])
if #entries > 0 then redis.call('HINCRBY', KEYS[3], 'dropped', #entries) end
return #entries
";

/// Runs a script, once more if the connection had dropped (Redis restarted, and the
/// connection manager reconnects on the next call). Every script here is safe to run twice:
/// an enqueue that did land reports its changes as duplicates, a lease that did land leaves
/// its entries to come back after the lease, an ack or failure that did land is refused as
/// not held. Nothing is lost or applied twice either way.
trait RunOn {
    async fn run_on<T: redis::FromRedisValue>(&self, q: &StreamQueue) -> Result<T, QueueError>;
}

impl RunOn for redis::ScriptInvocation<'_> {
    async fn run_on<T: redis::FromRedisValue>(&self, q: &StreamQueue) -> Result<T, QueueError> {
        let mut conn = q.conn.clone();
        match self.invoke_async(&mut conn).await {
            Err(e) if e.is_io_error() || e.is_connection_dropped() => {
                self.invoke_async(&mut conn).await.map_err(|e| q.err(e))
            }
            r => r.map_err(|e| q.err(e)),
        }
    }
}

/// Stream entries as Redis returns them: (id, [field, value, …]).
type Entries = Vec<(String, Vec<String>)>;

fn field<'a>(fields: &'a [String], name: &str) -> Option<&'a str> {
    fields
        .chunks(2)
        .find(|kv| kv[0] == name)
        .and_then(|kv| kv.get(1))
        .map(String::as_str)
}

impl StreamQueue {
    /// Connects (lazily reconnecting later) and creates the group when absent.
    ///
    /// # Errors
    /// The URL is not a Redis URL, Redis does not answer, or it refuses the group.
    pub async fn connect(url: &SecretString, settings: StreamSettings) -> Result<Self, QueueError> {
        let conn = super::connect(url, &settings.prefix).await?;
        let q = Self { conn, settings };
        q.create_group().await?;
        Ok(q)
    }

    /// This worker's name in the consumer group.
    pub fn consumer(&self) -> &str {
        &self.settings.consumer
    }

    /// Creates the consumer group (and the stream) unless it exists.
    async fn create_group(&self) -> Result<(), QueueError> {
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

    fn err(&self, e: impl std::fmt::Display) -> QueueError {
        QueueError::Shared {
            prefix: self.settings.prefix.clone(),
            message: e.to_string(),
        }
    }

    fn retention_ms(&self) -> u64 {
        self.settings.dedupe_retention.as_millis() as u64
    }

    fn entry(receipt: &Receipt) -> Result<&str, QueueError> {
        match &receipt.0 {
            ReceiptKind::Entry(id) => Ok(id),
            ReceiptKind::Row { seq, .. } => Err(QueueError::Invalid(format!(
                "receipt row {seq} is from the SQLite queue, not a Redis stream entry"
            ))),
        }
    }

    fn ids(events: &[Leased]) -> Result<Vec<&str>, QueueError> {
        events.iter().map(|e| Self::entry(&e.receipt)).collect()
    }

    async fn lease_once(
        &self,
        max: usize,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Vec<Leased>, QueueError> {
        let s = &self.settings;
        let script = redis::Script::new(LEASE);
        let rows: Vec<(String, String, String, i64)> = script
            .key(self.key("events"))
            .key(self.key("delayed"))
            .key(self.key("dead"))
            .key(self.key("counters"))
            .key(self.key("failures"))
            .key(self.key("errors"))
            .arg(&s.group)
            .arg(&s.consumer)
            .arg(lease_ms.max(1))
            .arg(max.max(1))
            .arg(s.max_deliveries)
            .arg(now_ms)
            .run_on(self)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, change, received, attempts) in rows {
            match serde_json::from_str::<Change>(&change) {
                Ok(change) => out.push(Leased {
                    receipt: Receipt(ReceiptKind::Entry(id)),
                    change,
                    received_ms: received.parse().unwrap_or(now_ms),
                    attempts,
                }),
                // Only this program writes entries; one it cannot read would circle forever.
                Err(e) => {
                    tracing::error!(id = %id, error = %e, "unreadable entry in the shared queue; dead-lettered");
                    let _: redis::RedisResult<()> = redis::pipe()
                        .cmd("XADD")
                        .arg(self.key("dead"))
                        .arg("*")
                        .arg("change")
                        .arg(&change)
                        .arg("received")
                        .arg(&received)
                        .arg("failures")
                        .arg(1)
                        .arg("error")
                        .arg(format!("unreadable: {e}"))
                        .arg("dead")
                        .arg(now_ms)
                        .cmd("XACK")
                        .arg(self.key("events"))
                        .arg(&s.group)
                        .arg(&id)
                        .cmd("XDEL")
                        .arg(self.key("events"))
                        .arg(&id)
                        .query_async(&mut self.conn.clone())
                        .await;
                }
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl EventSink for StreamQueue {
    async fn store(&self, changes: &[Change], now_ms: i64) -> Result<Enqueued, SinkError> {
        EventQueue::enqueue(self, changes, now_ms)
            .await
            .map_err(|e| SinkError::Unavailable(e.to_string()))
    }
}

#[async_trait]
impl EventQueue for StreamQueue {
    fn describe(&self) -> String {
        format!(
            "Redis Streams (prefix {}, consumer {})",
            self.settings.prefix, self.settings.consumer
        )
    }

    async fn start_worker(&self) -> Result<usize, QueueError> {
        self.create_group().await?;
        Ok(0)
    }

    async fn enqueue(&self, changes: &[Change], now_ms: i64) -> Result<Enqueued, QueueError> {
        if changes.is_empty() {
            return Ok(Enqueued::default());
        }
        let script = redis::Script::new(ENQUEUE);
        let mut inv = script.prepare_invoke();
        inv.key(self.key("events"))
            .key(self.key("seen:"))
            .key(self.key("counters"))
            .key(self.key("checkpoints"))
            .arg(self.retention_ms())
            .arg(now_ms);
        for c in changes {
            inv.arg(&c.key)
                .arg(serde_json::to_string(c).map_err(|e| self.err(e))?);
        }
        let (accepted, duplicates): (usize, usize) = inv.run_on(self).await?;
        Ok(Enqueued {
            accepted,
            duplicates,
        })
    }

    async fn lease(
        &self,
        max: usize,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Vec<Leased>, QueueError> {
        match self.lease_once(max, now_ms, lease_ms).await {
            // A Redis that lost its data (restarted without persistence) lost the group too:
            // recreate it and read again, rather than failing every lease from now on.
            Err(e) if e.to_string().contains("NOGROUP") => {
                tracing::warn!(
                    "the shared queue's consumer group was gone (Redis lost its data?): recreated"
                );
                self.create_group().await?;
                self.lease_once(max, now_ms, lease_ms).await
            }
            other => other,
        }
    }

    async fn keep(
        &self,
        events: &[Leased],
        _now_ms: i64,
        _lease_ms: i64,
    ) -> Result<(), QueueError> {
        if events.is_empty() {
            return Ok(());
        }
        let script = redis::Script::new(KEEP);
        let mut inv = script.prepare_invoke();
        inv.key(self.key("events"))
            .arg(&self.settings.group)
            .arg(&self.settings.consumer);
        for id in Self::ids(events)? {
            inv.arg(id);
        }
        let _: i64 = inv.run_on(self).await?;
        Ok(())
    }

    async fn ack(&self, events: &[Leased], _now_ms: i64) -> Result<Acked, QueueError> {
        if events.is_empty() {
            return Ok(Acked::default());
        }
        let script = redis::Script::new(ACK);
        let mut inv = script.prepare_invoke();
        inv.key(self.key("events"))
            .key(self.key("seen:"))
            .key(self.key("counters"))
            .key(self.key("failures"))
            .key(self.key("errors"))
            .arg(&self.settings.group)
            .arg(&self.settings.consumer)
            .arg(self.retention_ms());
        for id in Self::ids(events)? {
            inv.arg(id);
        }
        let (acked, refused): (usize, usize) = inv.run_on(self).await?;
        Ok(Acked { acked, refused })
    }

    async fn retry_later(
        &self,
        events: &[Leased],
        now_ms: i64,
        delay_ms: i64,
    ) -> Result<(), QueueError> {
        if events.is_empty() {
            return Ok(());
        }
        let script = redis::Script::new(LATER);
        let mut inv = script.prepare_invoke();
        inv.key(self.key("events"))
            .key(self.key("delayed"))
            .arg(&self.settings.group)
            .arg(&self.settings.consumer)
            .arg(now_ms + delay_ms.max(0));
        for id in Self::ids(events)? {
            inv.arg(id);
        }
        let _: i64 = inv.run_on(self).await?;
        Ok(())
    }

    async fn fail(
        &self,
        event: &Leased,
        error: &str,
        now_ms: i64,
        max_failures: i64,
        backoff_ms: fn(i64) -> i64,
    ) -> Result<Failed, QueueError> {
        let max = max_failures.max(1);
        let script = redis::Script::new(FAIL);
        let mut inv = script.prepare_invoke();
        inv.key(self.key("events"))
            .key(self.key("delayed"))
            .key(self.key("dead"))
            .key(self.key("failures"))
            .key(self.key("errors"))
            .key(self.key("counters"))
            .arg(&self.settings.group)
            .arg(&self.settings.consumer)
            .arg(Self::entry(&event.receipt)?)
            .arg(error)
            .arg(now_ms)
            .arg(max);
        for n in 1..=max {
            inv.arg(backoff_ms(n));
        }
        let r: Vec<i64> = inv.run_on(self).await?;
        Ok(match r.as_slice() {
            [1, failures, ..] => Failed::DeadLettered {
                failures: *failures,
            },
            [0, failures, due, ..] => Failed::Retrying {
                failures: *failures,
                at_ms: *due,
            },
            _ => Failed::NotHeld,
        })
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, QueueError> {
        let entries: Entries = redis::cmd("XRANGE")
            .arg(self.key("dead"))
            .arg("-")
            .arg("+")
            .arg("COUNT")
            .arg(limit.max(1))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|e| self.err(e))?;
        Ok(entries
            .into_iter()
            .filter_map(|(id, f)| {
                let change: Change = serde_json::from_str(field(&f, "change")?).ok()?;
                Some(DeadLetter {
                    id,
                    key: change.key,
                    object_type: change.object_type,
                    object_id: change.object_id,
                    kind: change.kind,
                    failures: field(&f, "failures")?.parse().ok()?,
                    error: field(&f, "error").unwrap_or_default().to_string(),
                    dead_ms: field(&f, "dead")?.parse().ok()?,
                })
            })
            .collect())
    }

    async fn retry_dead_letters(&self) -> Result<usize, QueueError> {
        let script = redis::Script::new(RETRY_DEAD);
        script
            .key(self.key("dead"))
            .key(self.key("events"))
            .run_on(self)
            .await
    }

    async fn drop_dead_letters(&self, _now_ms: i64) -> Result<usize, QueueError> {
        let script = redis::Script::new(DROP_DEAD);
        script
            .key(self.key("dead"))
            .key(self.key("seen:"))
            .key(self.key("counters"))
            .arg(self.retention_ms())
            .run_on(self)
            .await
    }

    async fn depth(&self, now_ms: i64) -> Result<Depth, QueueError> {
        let events = self.key("events");
        type Summary = (
            i64,
            Option<String>,
            Option<String>,
            Option<Vec<(String, String)>>,
        );
        let (len, summary, delayed, dead, counters, first, soonest): (
            u64,
            Summary,
            u64,
            u64,
            std::collections::HashMap<String, u64>,
            Entries,
            Vec<String>,
        ) = redis::pipe()
            .cmd("XLEN")
            .arg(&events)
            .cmd("XPENDING")
            .arg(&events)
            .arg(&self.settings.group)
            .cmd("ZCARD")
            .arg(self.key("delayed"))
            .cmd("XLEN")
            .arg(self.key("dead"))
            .cmd("HGETALL")
            .arg(self.key("counters"))
            .cmd("XRANGE")
            .arg(&events)
            .arg("-")
            .arg("+")
            .arg("COUNT")
            .arg(1)
            .cmd("ZRANGE")
            .arg(self.key("delayed"))
            .arg(0)
            .arg(0)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|e| self.err(e))?;
        let leased = summary.0.max(0) as u64;
        let mut oldest: Option<i64> = first
            .first()
            .and_then(|(_, f)| field(f, "received")?.parse().ok());
        if let Some(m) = soonest.first() {
            let r = serde_json::from_str::<serde_json::Value>(m)
                .ok()
                .and_then(|v| v["r"].as_str().and_then(|r| r.parse::<i64>().ok()));
            oldest = match (oldest, r) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        let c = |k: &str| counters.get(k).copied().unwrap_or(0);
        Ok(Depth {
            pending: len.saturating_sub(leased) + delayed,
            leased,
            oldest_age_ms: oldest.map_or(0, |o| (now_ms - o).max(0)),
            processed: c("processed"),
            duplicates: c("duplicates"),
            double_acks: c("double_acks"),
            dead,
        })
    }

    async fn prune(&self, _before_ms: i64) -> Result<usize, QueueError> {
        // Dedupe keys expire by themselves (PX at enqueue and at ack).
        Ok(0)
    }

    async fn is_done(&self, key: &str) -> Result<bool, QueueError> {
        let v: Option<String> = redis::cmd("GET")
            .arg(format!("{}{key}", self.key("seen:")))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|e| self.err(e))?;
        Ok(v.as_deref() == Some("done"))
    }
}
