//! The `checkpoints` table: backfill cursors and progress, the catch-up watermark, flags.

use rusqlite::{params, OptionalExtension};

use super::{Queue, QueueError};

impl Queue {
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
