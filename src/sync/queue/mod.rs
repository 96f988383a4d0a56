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
//! - `applied`: the latest `occurredAt` applied per object: an event older than it changes
//!   nothing (the record was read from HubSpot after it), so it is acked without a read.
//! - `checkpoints`: backfill cursors and the catch-up watermark.
//! - `dead_letters`: events that failed `max_failures` times with an error retrying cannot fix
//!   (a poison record). They leave the queue so that nothing behind them waits, keep their
//!   last error, and stay until `sync --dead-letters --retry` puts them back or `--drop`
//!   discards them. Transient failures (429, 5xx, an open breaker, the index away) never
//!   count towards this: they only delay the events that hit them.
//!
//! One file per concern: `events.rs` (events, seen, dead letters; the [`EventQueue`] seam),
//! `records.rs` and `checkpoints.rs` (the [`RecordState`] seam); this file opens the database.
//!
//! The inherent methods block (tests and the CLI call them directly); the seams run them on the
//! blocking pool. One connection behind a mutex, shared by clones: the receiver's inserts and
//! the worker's leases are short transactions.
//!
//! [`EventQueue`]: crate::sync::seams::EventQueue
//! [`RecordState`]: crate::sync::seams::RecordState

use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;
use rusqlite::{params, Connection};

pub use crate::webhook::{Change, Enqueued};

mod checkpoints;
mod events;
mod records;

pub use super::seams::{DeadLetter, Depth, Failed, Leased, QueueError, RecordRow};

/// The sync database; clones share one connection.
#[derive(Clone)]
pub struct Queue {
    conn: Arc<Mutex<Connection>>,
    path: Arc<str>,
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
CREATE TABLE IF NOT EXISTS applied (ref TEXT PRIMARY KEY, occurred_ms INTEGER NOT NULL) WITHOUT ROWID;
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

impl Queue {
    /// Opens (creating) the database at `path`.
    ///
    /// # Errors
    /// When the file cannot be opened or migrated.
    pub fn open(path: &Path) -> Result<Self, QueueError> {
        let p = path.display().to_string();
        let err = |source| QueueError::Sqlite {
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
            conn: Arc::new(Mutex::new(conn)),
            path: p.into(),
        })
    }

    fn err(&self, source: rusqlite::Error) -> QueueError {
        QueueError::Sqlite {
            path: self.path.to_string(),
            source,
        }
    }

    /// Runs a blocking method on the blocking pool (the seams' async methods).
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Queue) -> Result<T, QueueError> + Send + 'static,
    ) -> Result<T, QueueError> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || f(&me))
            .await
            .map_err(|e| QueueError::Task(e.to_string()))?
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
