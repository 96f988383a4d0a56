//! The `records` table: what the index holds per record (updated time, content digest, email,
//! domain, phone), read for idempotency, reconcile and the duplicate report.

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::{Queue, QueueError};

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

impl Queue {
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
