//! The `records` table: what the index holds per record (updated time, content digest, email,
//! domain, phone), read for idempotency, reconcile and the duplicate report; the `applied`
//! table: the latest `occurredAt` applied per object. With `checkpoints.rs`, the SQLite
//! [`RecordState`].

use std::collections::HashMap;

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use super::{Queue, QueueError, RecordRow};
use crate::sync::seams::{Claim, ClaimRequest, RecordState};

impl Queue {
    /// The latest applied `occurredAt` per object reference.
    ///
    /// # Errors
    /// Database failures.
    pub fn applied_at(&self, refs: &[String]) -> Result<HashMap<String, i64>, QueueError> {
        let conn = self.conn.lock();
        let mut stmt = conn
            .prepare_cached("SELECT occurred_ms FROM applied WHERE ref = ?1")
            .map_err(|e| self.err(e))?;
        let mut out = HashMap::new();
        for r in refs {
            if let Some(v) = stmt
                .query_row(params![r], |row| row.get::<_, i64>(0))
                .optional()
                .map_err(|e| self.err(e))?
            {
                out.insert(r.clone(), v);
            }
        }
        Ok(out)
    }

    /// Raises each object's applied `occurredAt` (never lowers it).
    ///
    /// # Errors
    /// Database failures.
    pub fn mark_applied(&self, marks: &[(String, i64)]) -> Result<(), QueueError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO applied (ref, occurred_ms) VALUES (?1, ?2)
                     ON CONFLICT(ref) DO UPDATE SET occurred_ms = MAX(occurred_ms, excluded.occurred_ms)",
                )
                .map_err(|e| self.err(e))?;
            for (r, at) in marks {
                stmt.execute(params![r, at]).map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// Digest and update time of records already indexed, by reference.
    ///
    /// # Errors
    /// Database failures.
    pub fn rows(
        &self,
        refs: &[String],
    ) -> Result<HashMap<String, (String, Option<i64>)>, QueueError> {
        let conn = self.conn.lock();
        let mut stmt = conn
            .prepare_cached("SELECT digest, updated_ms FROM records WHERE ref = ?1")
            .map_err(|e| self.err(e))?;
        let mut out = HashMap::new();
        for r in refs {
            if let Some(v) = stmt
                .query_row(params![r], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
                .map_err(|e| self.err(e))?
            {
                out.insert(r.clone(), v);
            }
        }
        Ok(out)
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
}

#[async_trait]
impl RecordState for Queue {
    async fn digests(&self, refs: &[String]) -> Result<HashMap<String, String>, QueueError> {
        let refs = refs.to_vec();
        self.blocking(move |q| q.digests(&refs)).await
    }

    async fn put_records(&self, rows: &[RecordRow]) -> Result<(), QueueError> {
        let rows = rows.to_vec();
        self.blocking(move |q| q.put_records(&rows)).await
    }

    async fn delete_records(&self, refs: &[String], _now_ms: i64) -> Result<(), QueueError> {
        let refs = refs.to_vec();
        self.blocking(move |q| q.delete_records(&refs)).await
    }

    async fn record_versions_page(
        &self,
        object_type: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Option<i64>)>, QueueError> {
        let t = object_type.to_string();
        self.blocking(move |q| q.record_versions_page(&t, after, limit))
            .await
    }

    async fn record_counts(&self) -> Result<Vec<(String, u64)>, QueueError> {
        self.blocking(Queue::record_counts).await
    }

    async fn duplicates(
        &self,
        field: &str,
        object_type: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<RecordRow>)>, QueueError> {
        let (f, t) = (field.to_string(), object_type.map(str::to_string));
        self.blocking(move |q| q.duplicates(&f, t.as_deref(), limit))
            .await
    }

    /// One process owns a SQLite database and runs one worker: there is no one to contend
    /// with, only content that became unchanged, or older than what is held.
    async fn claim(&self, writes: &[ClaimRequest], _ttl_ms: i64) -> Result<Vec<Claim>, QueueError> {
        let refs: Vec<String> = writes.iter().map(|w| w.reference.clone()).collect();
        let rows = self.blocking(move |q| q.rows(&refs)).await?;
        Ok(writes
            .iter()
            .map(|w| match rows.get(&w.reference) {
                Some((d, _)) if *d == w.digest => Claim::Unchanged,
                Some((_, Some(held))) if w.updated_ms.is_some_and(|u| u < *held) => Claim::Stale,
                _ => Claim::Granted,
            })
            .collect())
    }

    async fn release(&self, _refs: &[String]) -> Result<(), QueueError> {
        Ok(())
    }

    async fn applied_at(&self, refs: &[String]) -> Result<HashMap<String, i64>, QueueError> {
        let refs = refs.to_vec();
        self.blocking(move |q| q.applied_at(&refs)).await
    }

    async fn mark_applied(&self, marks: &[(String, i64)]) -> Result<(), QueueError> {
        let marks = marks.to_vec();
        self.blocking(move |q| q.mark_applied(&marks)).await
    }

    async fn checkpoint(&self, name: &str) -> Result<Option<String>, QueueError> {
        let name = name.to_string();
        self.blocking(move |q| q.checkpoint(&name)).await
    }

    async fn checkpoints_under(&self, prefix: &str) -> Result<Vec<(String, String)>, QueueError> {
        let prefix = prefix.to_string();
        self.blocking(move |q| q.checkpoints_under(&prefix)).await
    }

    async fn set_checkpoint(&self, name: &str, value: Option<&str>) -> Result<(), QueueError> {
        let (name, value) = (name.to_string(), value.map(str::to_string));
        self.blocking(move |q| q.set_checkpoint(&name, value.as_deref()))
            .await
    }
}
