//! The `events`, `seen` and `dead_letters` tables: accepted webhook events, leased to workers
//! and acked once applied; the dedupe keys that drop redeliveries; the poison events.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use super::{bump, Queue, QueueError};
use crate::sync::seams::events::ReceiptKind;
use crate::sync::seams::{Acked, DeadLetter, Depth, EventQueue, Failed, Leased, Receipt};
use crate::webhook::{Change, Enqueued, EventSink, SinkError};

/// The row and delivery a receipt names (a receipt from another backend is refused).
fn held(receipt: &Receipt) -> Result<(i64, i64), QueueError> {
    match &receipt.0 {
        ReceiptKind::Row { seq, attempt } => Ok((*seq, *attempt)),
        ReceiptKind::Entry(id) => Err(QueueError::Invalid(format!(
            "receipt {id} is a Redis stream entry, not a row of this sync database"
        ))),
    }
}

/// The receiver stores verified events through this (it knows no SQLite).
#[async_trait]
impl EventSink for Queue {
    async fn store(&self, changes: &[Change], now_ms: i64) -> Result<Enqueued, SinkError> {
        let changes = changes.to_vec();
        self.blocking(move |q| q.enqueue(&changes, now_ms))
            .await
            .map_err(|e| SinkError::Unavailable(e.to_string()))
    }
}

#[async_trait]
impl EventQueue for Queue {
    fn describe(&self) -> String {
        format!("SQLite at {}", self.path)
    }

    async fn start_worker(&self) -> Result<usize, QueueError> {
        self.blocking(Queue::release_all).await
    }

    async fn enqueue(&self, changes: &[Change], now_ms: i64) -> Result<Enqueued, QueueError> {
        let changes = changes.to_vec();
        self.blocking(move |q| q.enqueue(&changes, now_ms)).await
    }

    async fn lease(
        &self,
        max: usize,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Vec<Leased>, QueueError> {
        self.blocking(move |q| q.lease(max, now_ms, lease_ms)).await
    }

    async fn keep(&self, events: &[Leased], now_ms: i64, lease_ms: i64) -> Result<(), QueueError> {
        let events = events.to_vec();
        self.blocking(move |q| q.hold(&events, now_ms + lease_ms).map(|_| ()))
            .await
    }

    async fn ack(&self, events: &[Leased], now_ms: i64) -> Result<Acked, QueueError> {
        let events = events.to_vec();
        self.blocking(move |q| q.ack(&events, now_ms)).await
    }

    async fn retry_later(
        &self,
        events: &[Leased],
        now_ms: i64,
        delay_ms: i64,
    ) -> Result<(), QueueError> {
        let events = events.to_vec();
        self.blocking(move |q| q.hold(&events, now_ms + delay_ms).map(|_| ()))
            .await
    }

    async fn fail(
        &self,
        event: &Leased,
        error: &str,
        now_ms: i64,
        max_failures: i64,
        backoff_ms: fn(i64) -> i64,
    ) -> Result<Failed, QueueError> {
        let (event, error) = (event.clone(), error.to_string());
        self.blocking(move |q| q.fail(&event, &error, now_ms, max_failures, backoff_ms))
            .await
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, QueueError> {
        self.blocking(move |q| q.dead_letters(limit)).await
    }

    async fn retry_dead_letters(&self) -> Result<usize, QueueError> {
        self.blocking(Queue::retry_dead_letters).await
    }

    async fn drop_dead_letters(&self, now_ms: i64) -> Result<usize, QueueError> {
        self.blocking(move |q| q.drop_dead_letters(now_ms)).await
    }

    async fn depth(&self, now_ms: i64) -> Result<Depth, QueueError> {
        self.blocking(move |q| q.depth(now_ms)).await
    }

    async fn prune(&self, before_ms: i64) -> Result<usize, QueueError> {
        self.blocking(move |q| q.prune_seen(before_ms)).await
    }

    async fn is_done(&self, key: &str) -> Result<bool, QueueError> {
        let key = key.to_string();
        self.blocking(move |q| q.is_done(&key)).await
    }
}

impl Queue {
    /// Stores changes durably in one transaction, dropping keys seen within the retention
    /// window. Returns once the commit is on disk.
    ///
    /// # Errors
    /// When the transaction fails (nothing is stored then).
    pub fn enqueue(&self, changes: &[Change], now_ms: i64) -> Result<Enqueued, QueueError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let mut out = Enqueued::default();
        {
            let mut seen = tx
                .prepare_cached("INSERT OR IGNORE INTO seen (key, received_ms) VALUES (?1, ?2)")
                .map_err(|e| self.err(e))?;
            let mut ins = tx
                .prepare_cached(
                    "INSERT INTO events (key, received_ms, occurred_ms, object_type, object_id, kind, related)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(|e| self.err(e))?;
            for c in changes {
                if seen
                    .execute(params![c.key, now_ms])
                    .map_err(|e| self.err(e))?
                    == 0
                {
                    out.duplicates += 1;
                    continue;
                }
                ins.execute(params![
                    c.key,
                    now_ms,
                    c.occurred_ms,
                    c.object_type,
                    c.object_id,
                    c.kind,
                    c.related.join(" "),
                ])
                .map_err(|e| self.err(e))?;
                out.accepted += 1;
            }
        }
        bump(&tx, "duplicates", out.duplicates as i64).map_err(|e| self.err(e))?;
        if out.accepted > 0 {
            tx.execute(
                "INSERT INTO checkpoints (name, value) VALUES ('last_received_ms', ?1)
                 ON CONFLICT(name) DO UPDATE SET value = MAX(CAST(value AS INTEGER), ?1)",
                params![now_ms.to_string()],
            )
            .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(out)
    }

    /// Leases up to `max` events whose lease is free, oldest first, for `lease_ms`.
    ///
    /// # Errors
    /// Database failures.
    pub fn lease(&self, max: usize, now_ms: i64, lease_ms: i64) -> Result<Vec<Leased>, QueueError> {
        let conn = self.conn.lock();
        let mut stmt = conn
            .prepare_cached(
                "UPDATE events SET leased_until_ms = ?1, attempts = attempts + 1
                 WHERE seq IN (SELECT seq FROM events WHERE leased_until_ms <= ?2 ORDER BY seq LIMIT ?3)
                 RETURNING seq, key, received_ms, occurred_ms, object_type, object_id, kind, related, attempts",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![now_ms + lease_ms, now_ms, max as i64], |r| {
                let related: String = r.get(7)?;
                let attempts: i64 = r.get(8)?;
                Ok(Leased {
                    receipt: Receipt(ReceiptKind::Row {
                        seq: r.get(0)?,
                        attempt: attempts,
                    }),
                    received_ms: r.get(2)?,
                    attempts,
                    change: Change {
                        key: r.get(1)?,
                        occurred_ms: r.get(3)?,
                        object_type: r.get(4)?,
                        object_id: r.get(5)?,
                        kind: r.get(6)?,
                        related: related.split_whitespace().map(str::to_string).collect(),
                    },
                })
            })
            .map_err(|e| self.err(e))?;
        let mut out: Vec<Leased> = rows.collect::<Result<_, _>>().map_err(|e| self.err(e))?;
        out.sort_by_key(|l| match l.receipt.0 {
            ReceiptKind::Row { seq, .. } => seq,
            ReceiptKind::Entry(_) => 0,
        });
        Ok(out)
    }

    /// Marks leased events processed: removes them and stamps their keys done. An event the
    /// caller no longer holds (its lease lapsed and another lease took it) is refused.
    ///
    /// # Errors
    /// Database failures (the events stay leased and come back when the lease expires).
    pub fn ack(&self, events: &[Leased], now_ms: i64) -> Result<Acked, QueueError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let mut double = 0i64;
        let mut out = Acked::default();
        {
            let mut del = tx
                .prepare_cached("DELETE FROM events WHERE seq = ?1 AND attempts = ?2")
                .map_err(|e| self.err(e))?;
            let mut done = tx
                .prepare_cached("UPDATE seen SET done_ms = ?2 WHERE key = ?1 AND done_ms IS NULL")
                .map_err(|e| self.err(e))?;
            for e in events {
                let (seq, attempt) = held(&e.receipt)?;
                if del
                    .execute(params![seq, attempt])
                    .map_err(|e| self.err(e))?
                    == 0
                {
                    out.refused += 1;
                    continue;
                }
                out.acked += 1;
                if done
                    .execute(params![e.change.key, now_ms])
                    .map_err(|e| self.err(e))?
                    == 0
                {
                    double += 1;
                }
            }
        }
        bump(&tx, "processed", out.acked as i64).map_err(|e| self.err(e))?;
        bump(&tx, "double_acks", double).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(out)
    }

    /// Holds leased events until `until_ms` (a kept lease, or a later attempt after a
    /// transient failure). Events the caller no longer holds are left alone. Returns how many
    /// were held.
    ///
    /// # Errors
    /// Database failures.
    pub fn hold(&self, events: &[Leased], until_ms: i64) -> Result<usize, QueueError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let mut n = 0;
        {
            let mut stmt = tx
                .prepare_cached(
                    "UPDATE events SET leased_until_ms = ?2 WHERE seq = ?1 AND attempts = ?3",
                )
                .map_err(|e| self.err(e))?;
            for e in events {
                let (seq, attempt) = held(&e.receipt)?;
                n += stmt
                    .execute(params![seq, until_ms, attempt])
                    .map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(n)
    }

    /// Records a permanent failure of one leased event. Below `max_failures` it comes back
    /// after `backoff_ms(failures)`; at `max_failures` it moves to the dead letters.
    ///
    /// # Errors
    /// Database failures (the event then stays leased and comes back when the lease expires).
    pub fn fail(
        &self,
        event: &Leased,
        error: &str,
        now_ms: i64,
        max_failures: i64,
        backoff_ms: impl Fn(i64) -> i64,
    ) -> Result<Failed, QueueError> {
        let (seq, attempt) = held(&event.receipt)?;
        let mut conn = self.conn.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let failures: Option<i64> = tx
            .query_row(
                "UPDATE events SET failures = failures + 1, last_error = ?2 WHERE seq = ?1 AND attempts = ?3 RETURNING failures",
                params![seq, error, attempt],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let Some(failures) = failures else {
            return Ok(Failed::NotHeld);
        };
        let out = if failures >= max_failures {
            tx.execute(
                "INSERT OR REPLACE INTO dead_letters (seq, key, received_ms, occurred_ms, object_type, object_id, kind, related, attempts, failures, error, dead_ms)
                 SELECT seq, key, received_ms, occurred_ms, object_type, object_id, kind, related, attempts, failures, ?2, ?3 FROM events WHERE seq = ?1",
                params![seq, error, now_ms],
            )
            .map_err(|e| self.err(e))?;
            tx.execute("DELETE FROM events WHERE seq = ?1", params![seq])
                .map_err(|e| self.err(e))?;
            bump(&tx, "dead_lettered", 1).map_err(|e| self.err(e))?;
            Failed::DeadLettered { failures }
        } else {
            let until = now_ms + backoff_ms(failures);
            tx.execute(
                "UPDATE events SET leased_until_ms = ?2 WHERE seq = ?1",
                params![seq, until],
            )
            .map_err(|e| self.err(e))?;
            Failed::Retrying {
                failures,
                at_ms: until,
            }
        };
        tx.commit().map_err(|e| self.err(e))?;
        Ok(out)
    }

    /// The dead letters, oldest first (at most `limit`).
    ///
    /// # Errors
    /// Database failures.
    pub fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, QueueError> {
        let conn = self.conn.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT seq, key, object_type, object_id, kind, failures, error, dead_ms FROM dead_letters ORDER BY seq LIMIT ?1",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![limit as i64], |r| {
                Ok(DeadLetter {
                    id: r.get::<_, i64>(0)?.to_string(),
                    key: r.get(1)?,
                    object_type: r.get(2)?,
                    object_id: r.get(3)?,
                    kind: r.get(4)?,
                    failures: r.get(5)?,
                    error: r.get(6)?,
                    dead_ms: r.get(7)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Puts every dead letter back in the queue with its failures reset. Returns how many.
    ///
    /// # Errors
    /// Database failures (nothing moves then).
    pub fn retry_dead_letters(&self) -> Result<usize, QueueError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let n = tx
            .execute(
                "INSERT OR IGNORE INTO events (seq, key, received_ms, occurred_ms, object_type, object_id, kind, related, leased_until_ms, attempts, failures)
                 SELECT seq, key, received_ms, occurred_ms, object_type, object_id, kind, related, 0, attempts, 0 FROM dead_letters",
                [],
            )
            .map_err(|e| self.err(e))?;
        tx.execute("DELETE FROM dead_letters", [])
            .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(n)
    }

    /// Discards every dead letter: their keys count as done, so a redelivery is dropped.
    /// Returns how many.
    ///
    /// # Errors
    /// Database failures (nothing is discarded then).
    pub fn drop_dead_letters(&self, now_ms: i64) -> Result<usize, QueueError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        tx.execute(
            "UPDATE seen SET done_ms = ?1 WHERE done_ms IS NULL AND key IN (SELECT key FROM dead_letters)",
            params![now_ms],
        )
        .map_err(|e| self.err(e))?;
        let n = tx
            .execute("DELETE FROM dead_letters", [])
            .map_err(|e| self.err(e))?;
        bump(&tx, "dropped", n as i64).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(n)
    }

    /// Frees every lease: at start-up, the previous process's leases died with it.
    ///
    /// # Errors
    /// Database failures.
    pub fn release_all(&self) -> Result<usize, QueueError> {
        self.conn
            .lock()
            .execute(
                "UPDATE events SET leased_until_ms = 0 WHERE leased_until_ms > 0",
                [],
            )
            .map_err(|e| self.err(e))
    }

    /// Forgets dedupe keys of processed events received before `before_ms`.
    ///
    /// # Errors
    /// Database failures.
    pub fn prune_seen(&self, before_ms: i64) -> Result<usize, QueueError> {
        self.conn
            .lock()
            .execute(
                "DELETE FROM seen WHERE received_ms < ?1 AND done_ms IS NOT NULL",
                params![before_ms],
            )
            .map_err(|e| self.err(e))
    }

    /// Depth, age and counters.
    ///
    /// # Errors
    /// Database failures.
    pub fn depth(&self, now_ms: i64) -> Result<Depth, QueueError> {
        let conn = self.conn.lock();
        let (pending, leased, oldest): (u64, u64, Option<i64>) = conn
            .query_row(
                "SELECT COUNT(*) FILTER (WHERE leased_until_ms <= ?1),
                        COUNT(*) FILTER (WHERE leased_until_ms > ?1),
                        MIN(received_ms) FROM events",
                params![now_ms],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(|e| self.err(e))?;
        let counter = |name: &str| -> Result<u64, QueueError> {
            conn.query_row(
                "SELECT value FROM counters WHERE name = ?1",
                params![name],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map(|v| v.unwrap_or(0) as u64)
            .map_err(|e| self.err(e))
        };
        Ok(Depth {
            pending,
            leased,
            oldest_age_ms: oldest.map_or(0, |o| (now_ms - o).max(0)),
            processed: counter("processed")?,
            duplicates: counter("duplicates")?,
            double_acks: counter("double_acks")?,
            dead: conn
                .query_row("SELECT COUNT(*) FROM dead_letters", [], |r| r.get(0))
                .map_err(|e| self.err(e))?,
        })
    }

    /// Whether a dedupe key was processed (tests and the crash benchmark read it).
    ///
    /// # Errors
    /// Database failures.
    pub fn is_done(&self, key: &str) -> Result<bool, QueueError> {
        self.conn
            .lock()
            .query_row(
                "SELECT done_ms IS NOT NULL FROM seen WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()
            .map(|v| v.unwrap_or(false))
            .map_err(|e| self.err(e))
    }
}
