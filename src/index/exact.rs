//! An exact, in-memory scan: every point scored on every query.
//!
//! The benchmark's ground truth for recall and its brute-force baseline for latency; also
//! handy in tests that do not care about persistence.

use std::collections::HashMap;

use parking_lot::RwLock;

use super::{dot, BlockingStore, Exactness, Hit, IndexError, Point, SearchFilter};

/// Points in a hash map, scanned linearly.
#[derive(Debug, Default)]
pub struct ExactStore {
    points: RwLock<HashMap<u64, Point>>,
}

impl ExactStore {
    pub fn new() -> Self {
        Self::default()
    }
}

impl BlockingStore for ExactStore {
    fn upsert(&self, points: Vec<Point>) -> Result<(), IndexError> {
        let mut map = self.points.write();
        for p in points {
            map.insert(p.id(), p);
        }
        Ok(())
    }

    fn delete_records(&self, records: &[String]) -> Result<(), IndexError> {
        let set: std::collections::HashSet<&String> = records.iter().collect();
        self.points.write().retain(|_, p| !set.contains(&p.record));
        Ok(())
    }

    fn delete_chunks_from(&self, records: &[(String, u32)]) -> Result<(), IndexError> {
        let m: HashMap<&String, u32> = records.iter().map(|(r, n)| (r, *n)).collect();
        self.points
            .write()
            .retain(|_, p| m.get(&p.record).is_none_or(|n| p.chunk < *n));
        Ok(())
    }

    fn search(
        &self,
        vector: &[f32],
        k: usize,
        filter: &SearchFilter,
        _exactness: Exactness,
    ) -> Result<Vec<Hit>, IndexError> {
        let map = self.points.read();
        let mut scored: Vec<(f32, &Point)> = map
            .values()
            .filter(|p| filter.matches(&p.payload))
            .map(|p| (dot(vector, &p.vector), p))
            .collect();
        let k = k.min(scored.len());
        if k == 0 {
            return Ok(Vec::new());
        }
        scored.select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0));
        scored.truncate(k);
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        Ok(scored
            .into_iter()
            .map(|(score, p)| Hit {
                record: p.record.clone(),
                chunk: p.chunk,
                score,
                payload: p.payload.clone(),
            })
            .collect())
    }

    fn count(&self) -> Result<usize, IndexError> {
        Ok(self.points.read().len())
    }

    fn optimize(&self) -> Result<bool, IndexError> {
        Ok(false)
    }

    fn flush(&self) {}

    fn name(&self) -> &'static str {
        "exact"
    }
}
