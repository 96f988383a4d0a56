//! The vector index: where embedded CRM records live for semantic search.
//!
//! # Design
//! - [`VectorStore`] is the one seam, async with typed errors ([`IndexError`]). The embedded
//!   engine (qdrant-edge) is a blocking library: it implements [`BlockingStore`], and
//!   [`Blocking`] runs it on the blocking pool. The server backend is async all the way down.
//! - A record becomes one point per text chunk. Every point carries the record's reference
//!   (`contacts/123`) in its payload, so deleting or redirecting a record (deletion, privacy
//!   deletion, merge) is one delete-by-filter, however many chunks it had.
//! - Point ids are derived from `ref#chunk` (the first 8 bytes of its SHA-256), so writing the
//!   same chunk twice overwrites it: every write is idempotent.
//! - Payload filters: object type, owner, pipeline, stage, and created/updated time ranges
//!   (epoch milliseconds, integer-indexed).
//!
//! Backends:
//! - [`edge::EdgeStore`]: qdrant-edge in-process, persistent under the data directory (default).
//!   HNSW is built by a manual, blocking `optimize()`; callers run it in the background.
//! - [`qdrant::QdrantServer`]: a Qdrant server through the official `qdrant-client` crate
//!   (gRPC, `QDRANT_URL`), for deployments that outgrow one machine.
//! - [`exact::ExactStore`]: an in-memory exact scan, the baseline benchmarks compare against.

pub mod edge;
pub mod exact;
pub mod qdrant;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// Errors from a vector store, with what to do about them.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("vector index at {path}: {message}")]
    Engine { path: String, message: String },
    #[error("vector has {got} dimensions, the index holds {want}: the embedding model changed; rebuild with `hubspot-mcp sync --full --rebuild`")]
    Dimensions { got: usize, want: usize },
    #[error("Qdrant server at {url}: {message}")]
    Server { url: String, message: String },
    /// Another process holds the embedded index (one writer per index).
    #[error("vector index at {path}: it is open in another process (a running `serve --sync` or `sync --listen`): ask that server (`hubspot-mcp search` does when it serves HTTP), or stop it first")]
    Busy { path: String },
}

/// One chunk of one record.
#[derive(Debug, Clone)]
pub struct Point {
    /// `contacts/123`.
    pub record: String,
    /// Chunk number within the record (0 for short records).
    pub chunk: u32,
    pub vector: Vec<f32>,
    /// Filterable fields and the snippet (see [`Payload`]).
    pub payload: Payload,
}

/// What a point carries besides its vector.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Payload {
    pub object_type: String,
    pub record_id: String,
    pub title: String,
    /// The chunk's text, trimmed for display.
    pub snippet: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_ms: Option<i64>,
    /// Associated records (`companies/12`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub associations: Vec<String>,
    /// Where a person reads it (a knowledge article's page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl Point {
    /// The point's stable id: the same record and chunk always give the same id.
    pub fn id(&self) -> u64 {
        point_id(&self.record, self.chunk)
    }

    /// The payload as the JSON object stored with the vector (adds `ref` and `chunk`).
    pub fn payload_json(&self) -> Map<String, Value> {
        let mut m = match serde_json::to_value(&self.payload) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        m.insert("ref".into(), json!(self.record));
        m.insert("chunk".into(), json!(self.chunk));
        m
    }
}

/// The id of chunk `chunk` of record `record`.
pub fn point_id(record: &str, chunk: u32) -> u64 {
    let d = Sha256::new()
        .chain_update(record.as_bytes())
        .chain_update(b"#")
        .chain_update(chunk.to_be_bytes())
        .finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    // Qdrant numeric ids are u64; keep them below 2^63 so every JSON client reads them exactly.
    u64::from_be_bytes(b) >> 1
}

/// Payload filters; every set field must match.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SearchFilter {
    /// Only these object types (`contacts`, `tickets`, ...); empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub object_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// Updated at or after (epoch ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_after_ms: Option<i64>,
    /// Updated before (epoch ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_before_ms: Option<i64>,
    /// Created at or after (epoch ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_after_ms: Option<i64>,
}

impl SearchFilter {
    /// Whether the filter restricts anything.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The filter in Qdrant's JSON filter language (shared by both Qdrant backends).
    pub fn to_qdrant_json(&self) -> Option<Value> {
        if self.is_empty() {
            return None;
        }
        let mut must = Vec::new();
        if !self.object_types.is_empty() {
            must.push(json!({"key": "object_type", "match": {"any": self.object_types}}));
        }
        for (key, v) in [
            ("owner_id", &self.owner_id),
            ("pipeline", &self.pipeline),
            ("stage", &self.stage),
        ] {
            if let Some(v) = v {
                must.push(json!({"key": key, "match": {"value": v}}));
            }
        }
        let mut updated = Map::new();
        if let Some(a) = self.updated_after_ms {
            updated.insert("gte".into(), json!(a));
        }
        if let Some(b) = self.updated_before_ms {
            updated.insert("lt".into(), json!(b));
        }
        if !updated.is_empty() {
            must.push(json!({"key": "updated_ms", "range": updated}));
        }
        if let Some(a) = self.created_after_ms {
            must.push(json!({"key": "created_ms", "range": {"gte": a}}));
        }
        Some(json!({ "must": must }))
    }

    /// Whether a payload passes (the exact backend's filter).
    pub fn matches(&self, p: &Payload) -> bool {
        (self.object_types.is_empty() || self.object_types.contains(&p.object_type))
            && self
                .owner_id
                .as_ref()
                .is_none_or(|o| p.owner_id.as_ref() == Some(o))
            && self
                .pipeline
                .as_ref()
                .is_none_or(|o| p.pipeline.as_ref() == Some(o))
            && self
                .stage
                .as_ref()
                .is_none_or(|o| p.stage.as_ref() == Some(o))
            && self
                .updated_after_ms
                .is_none_or(|a| p.updated_ms.is_some_and(|u| u >= a))
            && self
                .updated_before_ms
                .is_none_or(|b| p.updated_ms.is_some_and(|u| u < b))
            && self
                .created_after_ms
                .is_none_or(|a| p.created_ms.is_some_and(|c| c >= a))
    }
}

/// How hard to search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Exactness {
    /// The HNSW graph with this `ef` (candidates kept while descending).
    Approximate { ef: usize },
    /// Every point scored: the ground truth.
    Exact,
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    /// `tickets/123`.
    pub record: String,
    pub chunk: u32,
    /// Cosine similarity, 1.0 = same direction.
    pub score: f32,
    pub payload: Payload,
}

/// An index engine that blocks (qdrant-edge, the exact scan): what [`Blocking`] runs on the
/// blocking pool to make a [`VectorStore`].
pub trait BlockingStore: Send + Sync + 'static {
    /// Inserts or overwrites points (by record and chunk).
    ///
    /// # Errors
    /// Engine failures and dimension mismatches.
    fn upsert(&self, points: Vec<Point>) -> Result<(), IndexError>;
    /// Removes every chunk of these records.
    ///
    /// # Errors
    /// Engine failures.
    fn delete_records(&self, records: &[String]) -> Result<(), IndexError>;
    /// Removes chunks numbered `first` and up of each record (a record that shrank).
    ///
    /// # Errors
    /// Engine failures.
    fn delete_chunks_from(&self, records: &[(String, u32)]) -> Result<(), IndexError>;
    /// The `k` nearest points that pass `filter`, best first.
    ///
    /// # Errors
    /// Engine failures and dimension mismatches.
    fn search(
        &self,
        vector: &[f32],
        k: usize,
        filter: &SearchFilter,
        exactness: Exactness,
    ) -> Result<Vec<Hit>, IndexError>;
    /// Number of points.
    ///
    /// # Errors
    /// Engine failures.
    fn count(&self) -> Result<usize, IndexError>;
    /// Builds or refreshes the approximate index; blocking, possibly for a long time.
    /// Returns whether anything changed.
    ///
    /// # Errors
    /// Engine failures.
    fn optimize(&self) -> Result<bool, IndexError>;
    /// Makes everything written so far durable.
    fn flush(&self);
    /// The backend's name, for logs and `/readyz`.
    fn name(&self) -> &'static str;
}

/// A vector index, whoever keeps it: in this process ([`Blocking`] around qdrant-edge) or a
/// Qdrant server ([`qdrant::QdrantServer`], over gRPC). Every backend passes one contract
/// suite (`tests/it/index_contract.rs`).
#[async_trait::async_trait]
pub trait VectorStore: Send + Sync + 'static {
    /// Inserts or overwrites points (by record and chunk).
    async fn upsert(&self, points: Vec<Point>) -> Result<(), IndexError>;
    /// Removes every chunk of these records.
    async fn delete_records(&self, records: &[String]) -> Result<(), IndexError>;
    /// Removes chunks numbered `first` and up of each record (a record that shrank).
    async fn delete_chunks_from(&self, records: &[(String, u32)]) -> Result<(), IndexError>;
    /// The `k` nearest points that pass `filter`, best first.
    async fn search(
        &self,
        vector: &[f32],
        k: usize,
        filter: &SearchFilter,
        exactness: Exactness,
    ) -> Result<Vec<Hit>, IndexError>;
    /// Number of points.
    async fn count(&self) -> Result<usize, IndexError>;
    /// Builds or refreshes the approximate index, possibly for a long time (a server does
    /// this by itself: `Ok(false)`). Returns whether anything changed.
    async fn optimize(&self) -> Result<bool, IndexError>;
    /// Makes everything written so far durable.
    async fn flush(&self);
    /// The backend's name, for logs and `/readyz`.
    fn name(&self) -> &'static str;
}

/// A [`BlockingStore`] as a [`VectorStore`]: every call runs on the blocking pool, so the
/// async runtime never waits for the engine.
pub struct Blocking<S>(pub std::sync::Arc<S>);

impl<S> Blocking<S> {
    pub fn new(store: S) -> Self {
        Self(std::sync::Arc::new(store))
    }
}

impl<S: BlockingStore> Blocking<S> {
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&S) -> Result<T, IndexError> + Send + 'static,
    ) -> Result<T, IndexError> {
        let s = self.0.clone();
        tokio::task::spawn_blocking(move || f(&s))
            .await
            .map_err(|e| IndexError::Engine {
                path: s_name::<S>(),
                message: format!("the index task failed: {e}"),
            })?
    }
}

fn s_name<S>() -> String {
    std::any::type_name::<S>()
        .rsplit("::")
        .next()
        .unwrap_or("index")
        .to_string()
}

#[async_trait::async_trait]
impl<S: BlockingStore> VectorStore for Blocking<S> {
    async fn upsert(&self, points: Vec<Point>) -> Result<(), IndexError> {
        self.run(move |s| s.upsert(points)).await
    }
    async fn delete_records(&self, records: &[String]) -> Result<(), IndexError> {
        let r = records.to_vec();
        self.run(move |s| s.delete_records(&r)).await
    }
    async fn delete_chunks_from(&self, records: &[(String, u32)]) -> Result<(), IndexError> {
        let r = records.to_vec();
        self.run(move |s| s.delete_chunks_from(&r)).await
    }
    async fn search(
        &self,
        vector: &[f32],
        k: usize,
        filter: &SearchFilter,
        exactness: Exactness,
    ) -> Result<Vec<Hit>, IndexError> {
        let (v, f) = (vector.to_vec(), filter.clone());
        self.run(move |s| s.search(&v, k, &f, exactness)).await
    }
    async fn count(&self) -> Result<usize, IndexError> {
        self.run(BlockingStore::count).await
    }
    async fn optimize(&self) -> Result<bool, IndexError> {
        self.run(BlockingStore::optimize).await
    }
    async fn flush(&self) {
        let _ = self
            .run(|s| {
                s.flush();
                Ok(())
            })
            .await;
    }
    fn name(&self) -> &'static str {
        self.0.name()
    }
}

/// Refuses a vector whose length is not the index's.
///
/// # Errors
/// [`IndexError::Dimensions`].
pub fn check_dimensions(got: usize, want: usize) -> Result<(), IndexError> {
    if got == want {
        Ok(())
    } else {
        Err(IndexError::Dimensions { got, want })
    }
}

/// Groups `(record, first stale chunk)` pairs by chunk number, for delete-by-filter backends.
pub fn group_by_first_chunk(
    records: &[(String, u32)],
) -> std::collections::BTreeMap<u32, Vec<String>> {
    let mut m: std::collections::BTreeMap<u32, Vec<String>> = std::collections::BTreeMap::new();
    for (r, n) in records {
        m.entry(*n).or_default().push(r.clone());
    }
    m
}

/// Keeps the best record per hit: a record with several matching chunks appears once, with
/// its best chunk. `hits` must be sorted best first.
pub fn best_per_record(hits: Vec<Hit>, k: usize) -> Vec<Hit> {
    let mut seen = std::collections::HashSet::new();
    hits.into_iter()
        .filter(|h| seen.insert(h.record.clone()))
        .take(k)
        .collect()
}

/// Cosine similarity of two L2-normalised vectors (their dot product).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_ids_are_stable_and_distinct_per_chunk() {
        assert_eq!(point_id("tickets/1", 0), point_id("tickets/1", 0));
        assert_ne!(point_id("tickets/1", 0), point_id("tickets/1", 1));
        assert_ne!(point_id("tickets/1", 0), point_id("tickets/10", 0));
        assert!(point_id("contacts/9", 3) < (1 << 63));
    }

    #[test]
    fn filter_json_and_matching_agree_on_a_payload() {
        let f = SearchFilter {
            object_types: vec!["tickets".into()],
            stage: Some("1".into()),
            updated_after_ms: Some(10),
            ..Default::default()
        };
        let json = f.to_qdrant_json().unwrap().to_string();
        assert!(json.contains(r#""any":["tickets"]"#), "{json}");
        assert!(json.contains(r#""gte":10"#), "{json}");
        let mut p = Payload {
            object_type: "tickets".into(),
            stage: Some("1".into()),
            updated_ms: Some(11),
            ..Default::default()
        };
        assert!(f.matches(&p));
        p.updated_ms = Some(9);
        assert!(!f.matches(&p));
        assert!(SearchFilter::default().to_qdrant_json().is_none());
    }
}
