//! A Qdrant server through the official `qdrant-client` crate (gRPC), for deployments that
//! outgrow one machine: every `serve` replica and `sync --listen` worker writes to and searches
//! one collection.
//!
//! - `[sync.index] qdrant_url` (or `QDRANT_URL`) selects it; `QDRANT_API_KEY` is sent as the
//!   `api-key` header and never logged. Use the gRPC port (6334).
//! - The collection (cosine, `dim` dimensions, the same payload indexes as the embedded
//!   backend) is created on first use; an existing one of another dimension is refused with
//!   [`IndexError::Dimensions`].
//! - Writes wait for the server to apply them (`wait`), so a write that returns is durable
//!   and searchable. HNSW is built by the server's own optimizer: `optimize` is a no-op.
//! - The client's version check prints with `println!` (stdout) and would corrupt the stdio MCP
//!   stream: it is always skipped, and both timeouts are set here.
//!
//! Tested against a stand-in built from the crate's own generated gRPC server traits and
//! backed by qdrant-edge (`crates/qdrant-standin`), and against a real server when
//! `QDRANT_URL` is set (`tests/it/index_contract.rs`).

use std::time::Duration;

use qdrant_client::qdrant::{
    vectors_config, Condition, CountPointsBuilder, CreateCollectionBuilder,
    CreateFieldIndexCollectionBuilder, DeletePointsBuilder, Distance, FieldType, Filter,
    PointStruct, Query, QueryPointsBuilder, Range, SearchParamsBuilder, UpsertPointsBuilder,
    VectorParamsBuilder,
};
use qdrant_client::Qdrant;
use secrecy::{ExposeSecret, SecretString};

use super::{Exactness, Hit, IndexError, Payload, Point, SearchFilter, VectorStore};

const KEYWORD_FIELDS: &[&str] = &["ref", "object_type", "owner_id", "pipeline", "stage"];
const INTEGER_FIELDS: &[&str] = &["updated_ms", "created_ms", "chunk"];

/// A collection on a Qdrant server.
pub struct QdrantServer {
    client: Qdrant,
    /// The URL without credentials, for errors and logs.
    url: String,
    collection: String,
    dim: usize,
}

impl std::fmt::Debug for QdrantServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QdrantServer")
            .field("url", &self.url)
            .field("collection", &self.collection)
            .finish_non_exhaustive()
    }
}

/// The URL without user, password or query (they may hold credentials): the same redaction
/// the Redis URLs get.
fn redacted(url: &str) -> String {
    crate::hubspot::limit::redacted_url(&SecretString::from(url.to_string()))
}

/// Removes the user and password of every URL in a message: the client quotes the URL it
/// failed to reach, credentials included.
fn scrub(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c == '/' || c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(tail.len());
        match tail[..end].rfind('@') {
            Some(at) => {
                out.push('…');
                rest = &tail[at..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

impl QdrantServer {
    /// Connects and creates the collection when it does not exist.
    ///
    /// # Errors
    /// The server is unreachable, refuses the collection, or holds it with another dimension.
    pub async fn connect(
        url: &str,
        collection: &str,
        api_key: Option<SecretString>,
        dim: usize,
    ) -> Result<Self, IndexError> {
        let shown = redacted(url);
        let mut builder = Qdrant::from_url(url)
            .skip_compatibility_check()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(3));
        if let Some(k) = api_key {
            builder = builder.api_key(k.expose_secret().to_string());
        }
        let client = builder.build().map_err(|e| IndexError::Server {
            url: shown.clone(),
            message: scrub(&e.to_string()),
        })?;
        let store = Self {
            client,
            url: shown,
            collection: collection.to_string(),
            dim,
        };
        store.ensure_collection().await?;
        Ok(store)
    }

    fn err(&self, e: impl std::fmt::Display) -> IndexError {
        let m = scrub(&e.to_string());
        // Say plainly when nothing answered (the client's text buries it).
        let message = if m.contains("Failed to connect") || m.contains("tcp connect error") {
            format!("unreachable: {m}")
        } else {
            m
        };
        IndexError::Server {
            url: self.url.clone(),
            message,
        }
    }

    async fn ensure_collection(&self) -> Result<(), IndexError> {
        let c = &self.collection;
        if self
            .client
            .collection_exists(c)
            .await
            .map_err(|e| self.err(e))?
        {
            let info = self
                .client
                .collection_info(c)
                .await
                .map_err(|e| self.err(e))?;
            let have = info
                .result
                .and_then(|r| r.config)
                .and_then(|c| c.params)
                .and_then(|p| p.vectors_config)
                .and_then(|v| v.config)
                .and_then(|c| match c {
                    vectors_config::Config::Params(p) => Some(p.size as usize),
                    vectors_config::Config::ParamsMap(_) => None,
                });
            return match have {
                Some(have) if have != self.dim => Err(IndexError::Dimensions {
                    got: self.dim,
                    want: have,
                }),
                _ => Ok(()),
            };
        }
        self.client
            .create_collection(
                CreateCollectionBuilder::new(c)
                    .vectors_config(VectorParamsBuilder::new(self.dim as u64, Distance::Cosine)),
            )
            .await
            .map_err(|e| self.err(e))?;
        for (fields, ty) in [
            (KEYWORD_FIELDS, FieldType::Keyword),
            (INTEGER_FIELDS, FieldType::Integer),
        ] {
            for f in fields {
                self.client
                    .create_field_index(
                        CreateFieldIndexCollectionBuilder::new(c, *f, ty).wait(true),
                    )
                    .await
                    .map_err(|e| self.err(e))?;
            }
        }
        Ok(())
    }

    async fn delete_by(&self, filter: Filter) -> Result<(), IndexError> {
        self.client
            .delete_points(
                DeletePointsBuilder::new(&self.collection)
                    .points(filter)
                    .wait(true),
            )
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }
}

/// The filter in the client's types (the same conditions as [`SearchFilter::to_qdrant_json`]).
fn filter(f: &SearchFilter) -> Option<Filter> {
    if f.is_empty() {
        return None;
    }
    let mut must = Vec::new();
    if !f.object_types.is_empty() {
        must.push(Condition::matches("object_type", f.object_types.clone()));
    }
    for (key, v) in [
        ("owner_id", &f.owner_id),
        ("pipeline", &f.pipeline),
        ("stage", &f.stage),
    ] {
        if let Some(v) = v {
            must.push(Condition::matches(key, v.clone()));
        }
    }
    if f.updated_after_ms.is_some() || f.updated_before_ms.is_some() {
        must.push(Condition::range(
            "updated_ms",
            Range {
                gte: f.updated_after_ms.map(|v| v as f64),
                lt: f.updated_before_ms.map(|v| v as f64),
                ..Default::default()
            },
        ));
    }
    if let Some(a) = f.created_after_ms {
        must.push(Condition::range(
            "created_ms",
            Range {
                gte: Some(a as f64),
                ..Default::default()
            },
        ));
    }
    Some(Filter::must(must))
}

#[async_trait::async_trait]
impl VectorStore for QdrantServer {
    async fn upsert(&self, points: Vec<Point>) -> Result<(), IndexError> {
        if points.is_empty() {
            return Ok(());
        }
        let mut list = Vec::with_capacity(points.len());
        for p in points {
            super::check_dimensions(p.vector.len(), self.dim)?;
            let payload =
                qdrant_client::Payload::try_from(serde_json::Value::Object(p.payload_json()))
                    .map_err(|e| self.err(format!("payload: {e}")))?;
            list.push(PointStruct::new(p.id(), p.vector, payload));
        }
        for chunk in list.chunks(256) {
            self.client
                .upsert_points(
                    UpsertPointsBuilder::new(&self.collection, chunk.to_vec()).wait(true),
                )
                .await
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    async fn delete_records(&self, records: &[String]) -> Result<(), IndexError> {
        for chunk in records.chunks(1_000) {
            self.delete_by(Filter::must([Condition::matches("ref", chunk.to_vec())]))
                .await?;
        }
        Ok(())
    }

    async fn delete_chunks_from(&self, records: &[(String, u32)]) -> Result<(), IndexError> {
        for (first, refs) in super::group_by_first_chunk(records) {
            for chunk in refs.chunks(1_000) {
                self.delete_by(Filter::must([
                    Condition::matches("ref", chunk.to_vec()),
                    Condition::range(
                        "chunk",
                        Range {
                            gte: Some(f64::from(first)),
                            ..Default::default()
                        },
                    ),
                ]))
                .await?;
            }
        }
        Ok(())
    }

    async fn search(
        &self,
        vector: &[f32],
        k: usize,
        f: &SearchFilter,
        exactness: Exactness,
    ) -> Result<Vec<Hit>, IndexError> {
        super::check_dimensions(vector.len(), self.dim)?;
        let params = match exactness {
            Exactness::Exact => SearchParamsBuilder::default().exact(true),
            Exactness::Approximate { ef } => SearchParamsBuilder::default().hnsw_ef(ef as u64),
        };
        let mut q = QueryPointsBuilder::new(&self.collection)
            .query(Query::new_nearest(vector.to_vec()))
            .limit(k as u64)
            .with_payload(true)
            .params(params);
        if let Some(f) = filter(f) {
            q = q.filter(f);
        }
        let found = self.client.query(q).await.map_err(|e| self.err(e))?;
        Ok(found
            .result
            .into_iter()
            .filter_map(|sp| {
                let map: serde_json::Map<String, serde_json::Value> = sp
                    .payload
                    .into_iter()
                    .map(|(k, v)| (k, serde_json::Value::from(v)))
                    .collect();
                let record = map.get("ref")?.as_str()?.to_string();
                let chunk = map.get("chunk").and_then(|c| c.as_u64()).unwrap_or(0) as u32;
                let payload: Payload =
                    serde_json::from_value(serde_json::Value::Object(map)).ok()?;
                Some(Hit {
                    record,
                    chunk,
                    score: sp.score,
                    payload,
                })
            })
            .collect())
    }

    async fn count(&self) -> Result<usize, IndexError> {
        let r = self
            .client
            .count(CountPointsBuilder::new(&self.collection).exact(true))
            .await
            .map_err(|e| self.err(e))?;
        Ok(r.result.map_or(0, |c| c.count as usize))
    }

    async fn optimize(&self) -> Result<bool, IndexError> {
        Ok(false)
    }

    async fn flush(&self) {}

    fn name(&self) -> &'static str {
        "qdrant-server"
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn credentials_are_scrubbed_from_messages() {
        let m =
            super::scrub("Failed to connect to http://user:s3cret@127.0.0.1:1/ and https://k@h.io");
        assert_eq!(
            m,
            "Failed to connect to http://…@127.0.0.1:1/ and https://…@h.io"
        );
        assert_eq!(super::scrub("no url here"), "no url here");
    }
}
