//! The durable queue and the sync state, in one SQLite database (WAL mode, `synchronous=FULL`).
//!
//! Tables:
//! - `events`: accepted, not yet processed webhook events. A worker *leases* a batch (the lease
//!   expires, so a dead worker's events come back) and *acks* it once applied. Delivery is
//!   at-least-once; the apply step is idempotent (see [`super::worker`]).
//! - `seen`: one row per dedupe key, kept for the retention window, so a duplicate delivery is
//!   dropped at the door even after its first copy was processed. `done_ms` marks processing;
//!   acking an event whose key is already done counts as a double apply (`stats.double_acks`).
//! - `records`: what the index holds per record (updated time, content digest, email, domain,
//!   phone): idempotency, reconcile and the duplicate report read it.
//! - `checkpoints`: backfill cursors and the catch-up watermark.
//! - `dead_letters`: events that failed `max_failures` times with an error retrying cannot fix
//!   (a poison record). They leave the queue so that nothing behind them waits, keep their
//!   last error, and stay until `sync --dead-letters --retry` puts them back or `--drop`
//!   discards them. Transient failures (429, 5xx, an open breaker, the index away) never
//!   count towards this: they only delay the events that hit them.
//!
//! Every method is blocking (call from `spawn_blocking`). One connection behind a mutex: the
//! receiver's inserts and the worker's leases are short transactions.

use std::collections::HashMap;
use std::path::Path;

use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::webhook::EventSink;
pub use crate::webhook::{Change, Enqueued};

/// A queue failure: the database file and what went wrong.
#[derive(Debug, thiserror::Error)]
#[error("sync database {path}: {source}")]
pub struct QueueError {
    path: String,
    #[source]
    source: rusqlite::Error,
}

/// A leased event.
#[derive(Debug, Clone, PartialEq)]
pub struct Leased {
    pub seq: i64,
    pub change: Change,
    pub received_ms: i64,
    pub attempts: i64,
}

/// Queue depth and age.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Depth {
    pub pending: u64,
    pub leased: u64,
    /// Age of the oldest unprocessed event, in ms (0 when empty).
    pub oldest_age_ms: i64,
    /// Events processed since the database was created.
    pub processed: u64,
    /// Duplicate deliveries dropped at the door.
    pub duplicates: u64,
    /// Acks of events already processed (should stay 0).
    pub double_acks: u64,
    /// Events in the dead letters now.
    pub dead: u64,
}

/// What [`Queue::fail`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failed {
    Retrying { failures: i64, at_ms: i64 },
    DeadLettered { failures: i64 },
}

/// An event that failed for good (until retried).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadLetter {
    pub seq: i64,
    pub key: String,
    pub object_type: String,
    pub object_id: String,
    pub kind: String,
    pub failures: i64,
    /// The last error.
    pub error: String,
    pub dead_ms: i64,
}

/// A row of the `records` table.
#[derive(Debug, Clone, PartialEq, Serialize)]
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

/// The sync database.
pub struct Queue {
    conn: Mutex<Connection>,
    path: String,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").field("path", &self.path).finish()
    }
}

const SCHEMA: &str = r"
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    occurred_ms INTEGER NOT NULL,
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    related TEXT NOT NULL,
    leased_until_ms INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE TABLE IF NOT EXISTS dead_letters (
    seq INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    occurred_ms INTEGER NOT NULL,
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    related TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    error TEXT NOT NULL,
    dead_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_lease ON events (leased_until_ms, seq);
CREATE TABLE IF NOT EXISTS seen (
    key TEXT PRIMARY KEY,
    received_ms INTEGER NOT NULL,
    done_ms INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_received ON seen (received_ms);
CREATE TABLE IF NOT EXISTS records (
    ref TEXT PRIMARY KEY,
    object_type TEXT NOT NULL,
    id TEXT NOT NULL,
    title TEXT NOT NULL,
    updated_ms INTEGER,
    digest TEXT NOT NULL,
    email TEXT,
    domain TEXT,
    phone TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS records_email ON records (email) WHERE email IS NOT NULL;
CREATE INDEX IF NOT EXISTS records_domain ON records (domain) WHERE domain IS NOT NULL;
CREATE INDEX IF NOT EXISTS records_phone ON records (phone) WHERE phone IS NOT NULL;
CREATE INDEX IF NOT EXISTS records_type_num ON records (object_type, CAST(id AS INTEGER));
CREATE TABLE IF NOT EXISTS checkpoints (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
";

/// The sync database holds record digests, emails and phone numbers: like the audit log,
/// only its owner may read it (`0600`, and the WAL and shared-memory files with it).
fn restrict_to_owner(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut files = vec![path.to_path_buf()];
        for ext in ["-wal", "-shm"] {
            let mut p = path.as_os_str().to_owned();
            p.push(ext);
            files.push(p.into());
        }
        for f in files {
            if f.exists() {
                let _ = std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600));
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// The receiver stores verified events through this (it knows no SQLite).
impl EventSink for Queue {
    fn store(&self, changes: &[Change], now_ms: i64) -> Result<Enqueued, String> {
        self.enqueue(changes, now_ms).map_err(|e| e.to_string())
    }
}

/// What `sync --status` prints: the queue, the poison events, the index's records per type
/// and the checkpoints.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncStatus {
    pub queue: Depth,
    pub dead_letters: Vec<DeadLetter>,
    pub records: std::collections::BTreeMap<String, u64>,
    pub caught_up_ms: Option<String>,
    pub last_received_ms: Option<String>,
    /// Per type, how far the backfill is (done, total, rate, ETA), once one has run.
    pub backfill: std::collections::BTreeMap<String, serde_json::Value>,
}

impl Queue {
    /// The state `sync --status` reports (at most 20 dead letters).
    ///
    /// # Errors
    /// The database cannot be read.
    pub fn status(&self, now_ms: i64) -> Result<SyncStatus, QueueError> {
        Ok(SyncStatus {
            queue: self.depth(now_ms)?,
            dead_letters: self.dead_letters(20)?,
            records: self.record_counts()?.into_iter().collect(),
            caught_up_ms: self.checkpoint("caught_up_ms")?,
            last_received_ms: self.checkpoint("last_received_ms")?,
            backfill: self
                .checkpoints_under("backfill_progress:")?
                .into_iter()
                .map(|(name, v)| {
                    let value = serde_json::from_str(&v).unwrap_or(serde_json::Value::String(v));
                    (name, value)
                })
                .collect(),
        })
    }

    /// Opens (creating) the database at `path`.
    ///
    /// # Errors
    /// When the file cannot be opened or migrated.
    pub fn open(path: &Path) -> Result<Self, QueueError> {
        let p = path.display().to_string();
        let err = |source| QueueError {
            path: p.clone(),
            source,
        };
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let conn = Connection::open(path).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        // FULL: a commit is on disk before it returns, so "2xx" really means durable.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        // Databases made before per-event failures existed get the columns.
        for (col, def) in [
            ("failures", "INTEGER NOT NULL DEFAULT 0"),
            ("last_error", "TEXT"),
        ] {
            let has: bool = conn
                .query_row(
                    "SELECT COUNT(*) > 0 FROM pragma_table_info('events') WHERE name = ?1",
                    params![col],
                    |r| r.get(0),
                )
                .map_err(err)?;
            if !has {
                conn.execute_batch(&format!("ALTER TABLE events ADD COLUMN {col} {def}"))
                    .map_err(err)?;
            }
        }
        restrict_to_owner(path);
        Ok(Self {
            conn: Mutex::new(conn),
            path: p,
        })
    }

    fn err(&self, source: rusqlite::Error) -> QueueError {
        QueueError {
            path: self.path.clone(),
            source,
        }
    }

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
                Ok(Leased {
                    seq: r.get(0)?,
                    received_ms: r.get(2)?,
                    attempts: r.get(8)?,
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
        out.sort_by_key(|l| l.seq);
        Ok(out)
    }

    /// Marks leased events processed: removes them and stamps their keys done.
    ///
    /// # Errors
    /// Database failures (the events stay leased and come back when the lease expires).
    pub fn ack(&self, events: &[Leased], now_ms: i64) -> Result<(), QueueError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let mut double = 0i64;
        {
            let mut del = tx
                .prepare_cached("DELETE FROM events WHERE seq = ?1")
                .map_err(|e| self.err(e))?;
            let mut done = tx
                .prepare_cached("UPDATE seen SET done_ms = ?2 WHERE key = ?1 AND done_ms IS NULL")
                .map_err(|e| self.err(e))?;
            for e in events {
                del.execute(params![e.seq]).map_err(|e| self.err(e))?;
                if done
                    .execute(params![e.change.key, now_ms])
                    .map_err(|e| self.err(e))?
                    == 0
                {
                    double += 1;
                }
            }
        }
        bump(&tx, "processed", events.len() as i64).map_err(|e| self.err(e))?;
        bump(&tx, "double_acks", double).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// Puts leased events back for a later attempt, at `until_ms`, after a transient failure.
    /// Other workers' leases are untouched.
    ///
    /// # Errors
    /// Database failures.
    pub fn retry_later(&self, events: &[Leased], until_ms: i64) -> Result<(), QueueError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        {
            let mut stmt = tx
                .prepare_cached("UPDATE events SET leased_until_ms = ?2 WHERE seq = ?1")
                .map_err(|e| self.err(e))?;
            for e in events {
                stmt.execute(params![e.seq, until_ms])
                    .map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
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
        let mut conn = self.conn.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let failures: i64 = tx
            .query_row(
                "UPDATE events SET failures = failures + 1, last_error = ?2 WHERE seq = ?1 RETURNING failures",
                params![event.seq, error],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?
            .unwrap_or(max_failures);
        let out = if failures >= max_failures {
            tx.execute(
                "INSERT OR REPLACE INTO dead_letters (seq, key, received_ms, occurred_ms, object_type, object_id, kind, related, attempts, failures, error, dead_ms)
                 SELECT seq, key, received_ms, occurred_ms, object_type, object_id, kind, related, attempts, failures, ?2, ?3 FROM events WHERE seq = ?1",
                params![event.seq, error, now_ms],
            )
            .map_err(|e| self.err(e))?;
            tx.execute("DELETE FROM events WHERE seq = ?1", params![event.seq])
                .map_err(|e| self.err(e))?;
            bump(&tx, "dead_lettered", 1).map_err(|e| self.err(e))?;
            Failed::DeadLettered { failures }
        } else {
            let until = now_ms + backoff_ms(failures);
            tx.execute(
                "UPDATE events SET leased_until_ms = ?2 WHERE seq = ?1",
                params![event.seq, until],
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
                    seq: r.get(0)?,
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

    /// Digests of records already indexed, by reference.
    ///
    /// # Errors
    /// Database failures.
    pub fn digests(&self, refs: &[String]) -> Result<HashMap<String, String>, QueueError> {
        let conn = self.conn.lock();
        let mut stmt = conn
            .prepare_cached("SELECT digest FROM records WHERE ref = ?1")
            .map_err(|e| self.err(e))?;
        let mut out = HashMap::new();
        for r in refs {
            if let Some(d) = stmt
                .query_row(params![r], |row| row.get::<_, String>(0))
                .optional()
                .map_err(|e| self.err(e))?
            {
                out.insert(r.clone(), d);
            }
        }
        Ok(out)
    }

    /// Records what the index now holds (after the vectors are written).
    ///
    /// # Errors
    /// Database failures.
    pub fn put_records(&self, rows: &[RecordRow]) -> Result<(), QueueError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO records (ref, object_type, id, title, updated_ms, digest, email, domain, phone)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )
                .map_err(|e| self.err(e))?;
            for r in rows {
                stmt.execute(params![
                    r.reference,
                    r.object_type,
                    r.id,
                    r.title,
                    r.updated_ms,
                    r.digest,
                    r.email,
                    r.domain,
                    r.phone
                ])
                .map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// Forgets records (deleted, privacy-deleted, merged away).
    ///
    /// # Errors
    /// Database failures.
    pub fn delete_records(&self, refs: &[String]) -> Result<(), QueueError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        {
            let mut stmt = tx
                .prepare_cached("DELETE FROM records WHERE ref = ?1")
                .map_err(|e| self.err(e))?;
            for r in refs {
                stmt.execute(params![r]).map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// `id -> updated_ms` of every indexed record of a type (reconcile).
    ///
    /// # Errors
    /// Database failures.
    pub fn record_versions(
        &self,
        object_type: &str,
    ) -> Result<HashMap<String, Option<i64>>, QueueError> {
        let conn = self.conn.lock();
        let mut stmt = conn
            .prepare_cached("SELECT id, updated_ms FROM records WHERE object_type = ?1")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![object_type], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Up to `limit` indexed records of a type with a numeric id above `after`, ascending:
    /// `(id, updated_ms)`. Reconcile walks the index with it, a page at a time.
    ///
    /// # Errors
    /// Database failures.
    pub fn record_versions_page(
        &self,
        object_type: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Option<i64>)>, QueueError> {
        let conn = self.conn.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT CAST(id AS INTEGER) AS n, updated_ms FROM records
                 WHERE object_type = ?1 AND CAST(id AS INTEGER) > ?2 ORDER BY n LIMIT ?3",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![object_type, after, limit as i64], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Number of indexed records per type.
    ///
    /// # Errors
    /// Database failures.
    pub fn record_counts(&self) -> Result<Vec<(String, u64)>, QueueError> {
        let conn = self.conn.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT object_type, COUNT(*) FROM records GROUP BY object_type ORDER BY 1",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Groups of records sharing a normalized value of `field` (`email`, `domain` or `phone`),
    /// largest first, each group's references sorted.
    ///
    /// # Errors
    /// Database failures; an unknown field is refused.
    pub fn duplicates(
        &self,
        field: &str,
        object_type: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<RecordRow>)>, QueueError> {
        let column = match field {
            "email" => "email",
            "domain" => "domain",
            "phone" => "phone",
            _ => {
                return Err(self.err(rusqlite::Error::InvalidParameterName(format!(
                    "{field} (use email, domain or phone)"
                ))))
            }
        };
        let conn = self.conn.lock();
        let sql = format!(
            "SELECT {column}, COUNT(*) AS n FROM records
             WHERE {column} IS NOT NULL AND (?1 IS NULL OR object_type = ?1)
             GROUP BY {column} HAVING n > 1 ORDER BY n DESC, {column} LIMIT ?2"
        );
        let mut stmt = conn.prepare(&sql).map_err(|e| self.err(e))?;
        let keys: Vec<String> = stmt
            .query_map(params![object_type, limit as i64], |r| r.get(0))
            .map_err(|e| self.err(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.err(e))?;
        let sql = format!(
            "SELECT ref, object_type, id, title, updated_ms, digest, email, domain, phone FROM records
             WHERE {column} = ?1 AND (?2 IS NULL OR object_type = ?2) ORDER BY ref"
        );
        let mut stmt = conn.prepare(&sql).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for k in keys {
            let rows: Vec<RecordRow> = stmt
                .query_map(params![k, object_type], |r| {
                    Ok(RecordRow {
                        reference: r.get(0)?,
                        object_type: r.get(1)?,
                        id: r.get(2)?,
                        title: r.get(3)?,
                        updated_ms: r.get(4)?,
                        digest: r.get(5)?,
                        email: r.get(6)?,
                        domain: r.get(7)?,
                        phone: r.get(8)?,
                    })
                })
                .map_err(|e| self.err(e))?
                .collect::<Result<_, _>>()
                .map_err(|e| self.err(e))?;
            out.push((k, rows));
        }
        Ok(out)
    }

    /// A checkpoint's value.
    ///
    /// # Errors
    /// Database failures.
    pub fn checkpoint(&self, name: &str) -> Result<Option<String>, QueueError> {
        self.conn
            .lock()
            .query_row(
                "SELECT value FROM checkpoints WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// The checkpoints whose names start with `prefix`, the prefix removed.
    ///
    /// # Errors
    /// The database cannot be read.
    pub fn checkpoints_under(&self, prefix: &str) -> Result<Vec<(String, String)>, QueueError> {
        let conn = self.conn.lock();
        let mut stmt = conn
            .prepare("SELECT name, value FROM checkpoints WHERE substr(name, 1, length(?1)) = ?1 ORDER BY name")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![prefix], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(|e| self.err(e))?;
        rows.map(|r| {
            r.map(|(n, v)| (n[prefix.len()..].to_string(), v))
                .map_err(|e| self.err(e))
        })
        .collect()
    }

    /// Sets (or with `None`, clears) a checkpoint.
    ///
    /// # Errors
    /// Database failures.
    pub fn set_checkpoint(&self, name: &str, value: Option<&str>) -> Result<(), QueueError> {
        let conn = self.conn.lock();
        match value {
            Some(v) => conn.execute(
                "INSERT INTO checkpoints (name, value) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                params![name, v],
            ),
            None => conn.execute("DELETE FROM checkpoints WHERE name = ?1", params![name]),
        }
        .map(|_| ())
        .map_err(|e| self.err(e))
    }
}

fn bump(tx: &rusqlite::Transaction<'_>, name: &str, by: i64) -> rusqlite::Result<()> {
    if by != 0 {
        tx.execute(
            "INSERT INTO counters (name, value) VALUES (?1, ?2)
             ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
            params![name, by],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(key: &str, id: &str) -> Change {
        Change {
            key: key.into(),
            occurred_ms: 1,
            object_type: "contacts".into(),
            object_id: id.into(),
            kind: "propertyChange".into(),
            related: vec!["companies/9".into()],
        }
    }

    #[test]
    fn a_poison_event_goes_to_the_dead_letters_and_nothing_behind_it_waits() {
        let dir = tempdir();
        let path = dir.join("sync.sqlite");
        let q = Queue::open(&path).unwrap();
        q.enqueue(&[change("bad", "1"), change("good", "2")], 0)
            .unwrap();
        let mut now = 0;
        for round in 1..=3 {
            let leased = q.lease(10, now, 60_000).unwrap();
            let bad = leased
                .iter()
                .find(|l| l.change.key == "bad")
                .expect("the bad one comes back");
            if let Some(good) = leased.iter().find(|l| l.change.key == "good") {
                q.ack(std::slice::from_ref(good), now).unwrap();
            }
            let f = q
                .fail(bad, "HubSpot said 400: no such object type", now, 3, |n| {
                    n * 1_000
                })
                .unwrap();
            if round < 3 {
                assert_eq!(
                    f,
                    Failed::Retrying {
                        failures: round,
                        at_ms: now + round * 1_000
                    }
                );
                assert!(q.lease(10, now, 60_000).unwrap().is_empty(), "backing off");
                now += round * 1_000;
            } else {
                assert_eq!(f, Failed::DeadLettered { failures: 3 });
            }
        }
        assert!(
            q.is_done("good").unwrap(),
            "the good event was not held back"
        );
        assert!(
            q.lease(10, now + 1_000_000, 60_000).unwrap().is_empty(),
            "the poison left the queue"
        );
        let d = q.depth(now).unwrap();
        assert_eq!((d.pending, d.dead), (0, 1));
        let dead = q.dead_letters(10).unwrap();
        assert_eq!(dead[0].key, "bad");
        assert!(dead[0].error.contains("400"));
        // Retry puts it back once, with its failures reset.
        assert_eq!(q.retry_dead_letters().unwrap(), 1);
        let back = q.lease(10, now, 60_000).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(
            q.fail(&back[0], "again", now, 3, |_| 0).unwrap(),
            Failed::Retrying {
                failures: 1,
                at_ms: now
            }
        );
        // Dead again, then dropped: its key is done, so a redelivery is a duplicate.
        for _ in 0..2 {
            let l = q.lease(10, now, 60_000).unwrap();
            q.fail(&l[0], "again", now, 3, |_| 0).unwrap();
        }
        assert_eq!(q.depth(now).unwrap().dead, 1);
        assert_eq!(q.drop_dead_letters(now).unwrap(), 1);
        assert_eq!(q.enqueue(&[change("bad", "1")], now).unwrap().duplicates, 1);
        assert_eq!(q.depth(now).unwrap().dead, 0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(
                mode, 0o600,
                "the sync database is private like the audit log"
            );
        }
    }

    #[test]
    fn duplicates_are_dropped_leases_expire_and_acks_are_counted_once() {
        let dir = tempdir();
        let q = Queue::open(&dir.join("sync.sqlite")).unwrap();
        let out = q
            .enqueue(
                &[change("a", "1"), change("b", "2"), change("a", "1")],
                1_000,
            )
            .unwrap();
        assert_eq!(
            out,
            Enqueued {
                accepted: 2,
                duplicates: 1
            }
        );
        let first = q.lease(10, 1_000, 500).unwrap();
        assert_eq!(first.len(), 2);
        assert_eq!(first[0].change.related, vec!["companies/9".to_string()]);
        assert!(
            q.lease(10, 1_200, 500).unwrap().is_empty(),
            "leased events are not handed out twice"
        );
        // The worker died: the lease expires and the events come back.
        let again = q.lease(10, 1_600, 500).unwrap();
        assert_eq!(again.len(), 2);
        assert_eq!(again[0].attempts, 2);
        q.ack(&again, 1_700).unwrap();
        let d = q.depth(1_800).unwrap();
        assert_eq!(
            (
                d.pending,
                d.leased,
                d.processed,
                d.duplicates,
                d.double_acks
            ),
            (0, 0, 2, 1, 0)
        );
        assert!(q.is_done("a").unwrap());
        // A late redelivery of a processed event is still a duplicate.
        assert_eq!(q.enqueue(&[change("a", "1")], 2_000).unwrap().duplicates, 1);
        // Past the retention window it is accepted again.
        q.prune_seen(5_000).unwrap();
        assert_eq!(q.enqueue(&[change("a", "1")], 6_000).unwrap().accepted, 1);
    }

    #[test]
    fn state_survives_reopening() {
        let dir = tempdir();
        let path = dir.join("sync.sqlite");
        {
            let q = Queue::open(&path).unwrap();
            q.enqueue(&[change("k", "1")], 10).unwrap();
            q.lease(1, 10, 60_000).unwrap();
            q.set_checkpoint("backfill:contacts", Some("42")).unwrap();
        }
        let q = Queue::open(&path).unwrap();
        assert_eq!(q.release_all().unwrap(), 1);
        assert_eq!(q.lease(5, 20, 100).unwrap().len(), 1);
        assert_eq!(
            q.checkpoint("backfill:contacts").unwrap().as_deref(),
            Some("42")
        );
        assert_eq!(
            q.checkpoint("last_received_ms").unwrap().as_deref(),
            Some("10")
        );
    }

    #[test]
    fn duplicate_groups_by_normalized_value() {
        let dir = tempdir();
        let q = Queue::open(&dir.join("s.sqlite")).unwrap();
        let row = |id: &str, email: &str| RecordRow {
            reference: format!("contacts/{id}"),
            object_type: "contacts".into(),
            id: id.into(),
            title: id.into(),
            updated_ms: None,
            digest: String::new(),
            email: Some(email.into()),
            domain: None,
            phone: None,
        };
        q.put_records(&[row("1", "a@x.io"), row("2", "a@x.io"), row("3", "b@x.io")])
            .unwrap();
        let groups = q.duplicates("email", None, 10).unwrap();
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].0, "a@x.io");
        assert_eq!(groups[0].1.len(), 2);
        assert!(q.duplicates("name", None, 10).is_err());
    }

    fn tempdir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("hsmcp-q-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
