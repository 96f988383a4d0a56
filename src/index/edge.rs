//! qdrant-edge: Qdrant's engine in-process, persistent in `<data_dir>/index`.
//!
//! Pinned to 0.7.0: 0.8 and 0.9 use `std::debug_assert_matches`, unstable on Rust 1.95. Adopt
//! 0.9 (builder-style `query`/`update`) once the toolchain moves past 1.95.
//!
//! - Writes append to the shard's WAL and land in a plain segment that is searched exactly.
//! - [`EdgeStore::optimize`] builds HNSW and merges segments. It blocks (tens of seconds at
//!   100k points), so the sync engine runs it on a background thread once enough points are
//!   unindexed; searches keep working meanwhile.
//! - Filters go through Qdrant's own JSON filter language ([`SearchFilter::to_qdrant_json`]),
//!   shared with the server backend; the filtered fields carry payload indexes.

use std::path::{Path, PathBuf};

use qdrant_edge::{
    CountRequest, Distance, EdgeConfig, EdgeShard, EdgeVectorParams, FieldIndexOperations, Filter,
    NamedQuery, PayloadFieldSchema, PayloadSchemaType, PointInsertOperations, PointOperations,
    PointStruct, QueryEnum, SearchParams, SearchRequest, UpdateOperation, WithPayloadInterface,
    DEFAULT_VECTOR_NAME,
};
use serde_json::json;

use super::{BlockingStore, Exactness, Hit, IndexError, Payload, Point, SearchFilter};

/// HNSW build parameters.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HnswParams {
    /// Links per node.
    pub m: usize,
    /// Candidates kept while building.
    pub ef_construct: usize,
}

impl Default for HnswParams {
    fn default() -> Self {
        Self {
            m: 16,
            ef_construct: 128,
        }
    }
}

/// The embedded index.
pub struct EdgeStore {
    shard: EdgeShard,
    path: PathBuf,
    dim: usize,
}

impl std::fmt::Debug for EdgeStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeStore")
            .field("path", &self.path)
            .field("dim", &self.dim)
            .finish_non_exhaustive()
    }
}

const KEYWORD_FIELDS: &[&str] = &["ref", "object_type", "owner_id", "pipeline", "stage"];
const INTEGER_FIELDS: &[&str] = &["updated_ms", "created_ms", "chunk"];

impl EdgeStore {
    /// Opens the index at `path`, creating it (cosine, `dim` dimensions) when absent.
    ///
    /// # Errors
    /// When the directory cannot be created or the shard cannot be loaded.
    pub fn open(path: &Path, dim: usize, hnsw: HnswParams) -> Result<Self, IndexError> {
        let err = |m: String| IndexError::Engine {
            path: path.display().to_string(),
            message: m,
        };
        std::fs::create_dir_all(path).map_err(|e| err(format!("cannot create: {e}")))?;
        let existing = EdgeConfig::load(path).is_some();
        let shard = if existing {
            EdgeShard::load(path, None).map_err(|e| {
                let m = e.to_string();
                if m.contains("WouldBlock") {
                    IndexError::Busy {
                        path: path.display().to_string(),
                    }
                } else {
                    err(format!("cannot load: {m}"))
                }
            })?
        } else {
            let hnsw_config = serde_json::from_value(json!({
                "m": hnsw.m,
                "ef_construct": hnsw.ef_construct,
                "full_scan_threshold": 10_000,
            }))
            .map_err(|e| err(format!("HNSW parameters: {e}")))?;
            let config = EdgeConfig::builder()
                .vector(
                    DEFAULT_VECTOR_NAME,
                    EdgeVectorParams::builder(dim, Distance::Cosine).build(),
                )
                .hnsw_config(hnsw_config)
                .build();
            EdgeShard::new(path, config).map_err(|e| err(format!("cannot create: {e}")))?
        };
        let store = Self {
            shard,
            path: path.to_path_buf(),
            dim,
        };
        if let Some(have) = store
            .shard
            .config()
            .vectors
            .get(DEFAULT_VECTOR_NAME)
            .map(|v| v.size)
        {
            if have != dim {
                return Err(IndexError::Dimensions {
                    got: dim,
                    want: have,
                });
            }
        }
        if !existing {
            for (fields, ty) in [
                (KEYWORD_FIELDS, PayloadSchemaType::Keyword),
                (INTEGER_FIELDS, PayloadSchemaType::Integer),
            ] {
                for f in fields {
                    let op = FieldIndexOperations::CreateIndex(qdrant_edge::CreateIndex {
                        field_name: f.parse().map_err(|_| err(format!("bad field name {f}")))?,
                        field_schema: Some(PayloadFieldSchema::FieldType(ty)),
                    });
                    store
                        .shard
                        .update(UpdateOperation::FieldIndexOperation(op))
                        .map_err(|e| store.err(e))?;
                }
            }
        }
        Ok(store)
    }

    fn err(&self, e: impl std::fmt::Display) -> IndexError {
        IndexError::Engine {
            path: self.path.display().to_string(),
            message: e.to_string(),
        }
    }

    fn filter(&self, f: Option<serde_json::Value>) -> Result<Option<Filter>, IndexError> {
        f.map(|v| serde_json::from_value(v).map_err(|e| self.err(format!("filter: {e}"))))
            .transpose()
    }
}

impl BlockingStore for EdgeStore {
    fn upsert(&self, points: Vec<Point>) -> Result<(), IndexError> {
        if points.is_empty() {
            return Ok(());
        }
        let mut list = Vec::with_capacity(points.len());
        for p in points {
            super::check_dimensions(p.vector.len(), self.dim)?;
            let payload = serde_json::Value::Object(p.payload_json());
            list.push(PointStruct::new(p.id(), p.vector, payload).0);
        }
        self.shard
            .update(UpdateOperation::PointOperation(
                PointOperations::UpsertPoints(PointInsertOperations::PointsList(list)),
            ))
            .map_err(|e| self.err(e))
    }

    fn delete_records(&self, records: &[String]) -> Result<(), IndexError> {
        for chunk in records.chunks(1_000) {
            let Some(filter) = self.filter(Some(
                json!({"must": [{"key": "ref", "match": {"any": chunk}}]}),
            ))?
            else {
                continue;
            };
            self.shard
                .update(UpdateOperation::PointOperation(
                    PointOperations::DeletePointsByFilter(filter),
                ))
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    fn delete_chunks_from(&self, records: &[(String, u32)]) -> Result<(), IndexError> {
        for (first, refs) in super::group_by_first_chunk(records) {
            for chunk in refs.chunks(1_000) {
                let Some(filter) = self.filter(Some(json!({"must": [
                    {"key": "ref", "match": {"any": chunk}},
                    {"key": "chunk", "range": {"gte": first}}
                ]})))?
                else {
                    continue;
                };
                self.shard
                    .update(UpdateOperation::PointOperation(
                        PointOperations::DeletePointsByFilter(filter),
                    ))
                    .map_err(|e| self.err(e))?;
            }
        }
        Ok(())
    }

    fn search(
        &self,
        vector: &[f32],
        k: usize,
        filter: &SearchFilter,
        exactness: Exactness,
    ) -> Result<Vec<Hit>, IndexError> {
        super::check_dimensions(vector.len(), self.dim)?;
        let params: SearchParams = match exactness {
            Exactness::Exact => serde_json::from_value(json!({"exact": true})),
            Exactness::Approximate { ef } => serde_json::from_value(json!({"hnsw_ef": ef})),
        }
        .map_err(|e| self.err(format!("search parameters: {e}")))?;
        let req = SearchRequest {
            query: QueryEnum::Nearest(NamedQuery::default_dense(vector.to_vec())),
            filter: self.filter(filter.to_qdrant_json())?,
            params: Some(params),
            limit: k,
            offset: 0,
            with_payload: Some(WithPayloadInterface::Bool(true)),
            with_vector: None,
            score_threshold: None,
        };
        let found = self.shard.search(req).map_err(|e| self.err(e))?;
        Ok(found
            .into_iter()
            .filter_map(|sp| {
                let map = sp.payload?.0;
                let record = map.get("ref")?.as_str()?.to_string();
                let chunk = map.get("chunk").and_then(|c| c.as_u64()).unwrap_or(0) as u32;
                let payload: Payload =
                    serde_json::from_value(serde_json::Value::Object(map.into_iter().collect()))
                        .ok()?;
                Some(Hit {
                    record,
                    chunk,
                    score: sp.score,
                    payload,
                })
            })
            .collect())
    }

    fn count(&self) -> Result<usize, IndexError> {
        let req: CountRequest = serde_json::from_value(json!({"exact": true}))
            .map_err(|e| self.err(format!("count request: {e}")))?;
        self.shard.count(req).map_err(|e| self.err(e))
    }

    fn optimize(&self) -> Result<bool, IndexError> {
        self.shard.optimize().map_err(|e| self.err(e))
    }

    fn flush(&self) {
        self.shard.flush();
    }

    fn name(&self) -> &'static str {
        "qdrant-edge"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::exact::ExactStore;

    fn unit(seed: u64, dim: usize) -> Vec<f32> {
        use rand::{Rng, SeedableRng};
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let v: Vec<f32> = (0..dim).map(|_| r.gen_range(-1.0f32..1.0)).collect();
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / n).collect()
    }

    fn point(i: u64, chunk: u32, ty: &str, stage: &str) -> Point {
        Point {
            record: format!("{ty}/{i}"),
            chunk,
            vector: unit(i * 10 + u64::from(chunk), 16),
            payload: Payload {
                object_type: ty.into(),
                record_id: i.to_string(),
                title: format!("record {i}"),
                snippet: String::new(),
                stage: Some(stage.into()),
                updated_ms: Some(i as i64),
                ..Default::default()
            },
        }
    }

    #[test]
    fn edge_agrees_with_exact_filters_deletes_and_survives_reopening() {
        let dir =
            std::env::temp_dir().join(format!("hsmcp-edge-{}", uuid::Uuid::new_v4().simple()));
        let exact = ExactStore::new();
        {
            let edge = EdgeStore::open(&dir, 16, HnswParams::default()).unwrap();
            let mut pts = Vec::new();
            for i in 0..300u64 {
                let ty = if i % 3 == 0 { "tickets" } else { "contacts" };
                let stage = if i % 2 == 0 { "1" } else { "2" };
                pts.push(point(i, 0, ty, stage));
                if i % 10 == 0 {
                    pts.push(point(i, 1, ty, stage));
                }
            }
            edge.upsert(pts.clone()).unwrap();
            exact.upsert(pts).unwrap();
            assert_eq!(edge.count().unwrap(), 330);
            let q = unit(4242, 16);
            let filter = SearchFilter {
                object_types: vec!["tickets".into()],
                stage: Some("1".into()),
                updated_after_ms: Some(30),
                ..Default::default()
            };
            let a = edge.search(&q, 10, &filter, Exactness::Exact).unwrap();
            let b = exact.search(&q, 10, &filter, Exactness::Exact).unwrap();
            let ids = |h: &[Hit]| {
                h.iter()
                    .map(|x| (x.record.clone(), x.chunk))
                    .collect::<Vec<_>>()
            };
            assert_eq!(ids(&a), ids(&b));
            assert!(a.iter().all(|h| h.payload.object_type == "tickets"
                && h.payload.stage.as_deref() == Some("1")
                && h.payload.updated_ms.unwrap() >= 30));
            for (x, y) in a.iter().zip(&b) {
                assert!((x.score - y.score).abs() < 1e-4);
            }
            // Deleting a record removes every chunk; shrinking drops chunks past the new end.
            edge.delete_records(&["tickets/0".into()]).unwrap();
            edge.delete_chunks_from(&[("tickets/30".into(), 1)])
                .unwrap();
            assert_eq!(edge.count().unwrap(), 327);
            edge.optimize().unwrap();
            edge.flush();
        }
        let edge = EdgeStore::open(&dir, 16, HnswParams::default()).unwrap();
        assert_eq!(edge.count().unwrap(), 327, "points survive reopening");
        let hits = edge
            .search(
                &unit(300, 16),
                1,
                &SearchFilter::default(),
                Exactness::Approximate { ef: 64 },
            )
            .unwrap();
        assert_eq!(hits[0].record, "tickets/30", "its chunk 0 is still there");
        drop(edge);
        let wrong = EdgeStore::open(&dir, 8, HnswParams::default());
        assert!(
            matches!(wrong, Err(IndexError::Dimensions { got: 8, want: 16 })),
            "{wrong:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
