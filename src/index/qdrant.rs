//! A Qdrant server backend over its REST API, for deployments that outgrow one machine.
//!
//! `QDRANT_URL` (or `index.qdrant_url`) selects it; `QDRANT_API_KEY` is sent as `api-key`
//! and never logged. The collection (cosine, `dim` dimensions, the same payload indexes as the
//! embedded backend) is created on first use. Writes wait for the server to apply them
//! (`wait=true`), so a write that returns is durable and searchable.
//!
//! REST rather than `qdrant-client` (gRPC): it needs no second HTTP stack (tonic), speaks the
//! same JSON filter language as [`SearchFilter::to_qdrant_json`], and the server serves both.
//! HNSW is built by the server's own optimizer, so [`VectorStore::optimize`] is a no-op.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

use super::{Exactness, Hit, IndexError, Payload, Point, SearchFilter, VectorStore};

/// A collection on a Qdrant server.
pub struct QdrantServer {
    url: String,
    collection: String,
    api_key: Option<SecretString>,
    dim: usize,
    http: reqwest::Client,
    /// The runtime the async client runs on; calls come from `spawn_blocking` threads.
    rt: tokio::runtime::Handle,
}

impl std::fmt::Debug for QdrantServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QdrantServer")
            .field("url", &self.url)
            .field("collection", &self.collection)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

impl QdrantServer {
    /// Connects and creates the collection when it does not exist. Call it, like every method,
    /// from a blocking thread (`spawn_blocking`) of a tokio runtime.
    ///
    /// # Errors
    /// When the server is unreachable or refuses the collection.
    pub fn connect(
        url: &str,
        collection: &str,
        api_key: Option<SecretString>,
        dim: usize,
    ) -> Result<Self, IndexError> {
        let rt = tokio::runtime::Handle::try_current().map_err(|e| IndexError::Server {
            url: url.into(),
            message: format!("needs a tokio runtime: {e}"),
        })?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| IndexError::Server {
                url: url.into(),
                message: e.to_string(),
            })?;
        let s = Self {
            url: url.trim_end_matches('/').to_string(),
            collection: collection.to_string(),
            api_key,
            dim,
            http,
            rt,
        };
        let exists = s.call(reqwest::Method::GET, "", None);
        if exists.is_err() {
            s.call(
                reqwest::Method::PUT,
                "",
                Some(json!({"vectors": {"size": dim, "distance": "Cosine"}})),
            )?;
            for (field, ty) in [
                ("ref", "keyword"),
                ("object_type", "keyword"),
                ("owner_id", "keyword"),
                ("pipeline", "keyword"),
                ("stage", "keyword"),
                ("updated_ms", "integer"),
                ("created_ms", "integer"),
                ("chunk", "integer"),
            ] {
                s.call(
                    reqwest::Method::PUT,
                    "/index?wait=true",
                    Some(json!({"field_name": field, "field_schema": ty})),
                )?;
            }
        }
        Ok(s)
    }

    fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, IndexError> {
        let url = format!("{}/collections/{}{}", self.url, self.collection, path);
        let mut req = self.http.request(method, &url);
        if let Some(k) = &self.api_key {
            req = req.header("api-key", k.expose_secret());
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let err = |m: String| IndexError::Server {
            url: self.url.clone(),
            message: m,
        };
        let (status, v) = self.rt.block_on(async move {
            let resp = req
                .send()
                .await
                .map_err(|e| err(format!("unreachable: {e}")))?;
            let status = resp.status();
            let v: Value = resp.json().await.unwrap_or(Value::Null);
            Ok::<_, IndexError>((status, v))
        })?;
        if !status.is_success() {
            return Err(err(format!(
                "{status} on {path}: {}",
                v.pointer("/status/error").unwrap_or(&v)
            )));
        }
        Ok(v)
    }
}

impl VectorStore for QdrantServer {
    fn upsert(&self, points: Vec<Point>) -> Result<(), IndexError> {
        if points.is_empty() {
            return Ok(());
        }
        let mut body = Vec::with_capacity(points.len());
        for p in points {
            super::check_dimensions(p.vector.len(), self.dim)?;
            body.push(json!({"id": p.id(), "vector": p.vector, "payload": p.payload_json()}));
        }
        self.call(
            reqwest::Method::PUT,
            "/points?wait=true",
            Some(json!({ "points": body })),
        )
        .map(|_| ())
    }

    fn delete_records(&self, records: &[String]) -> Result<(), IndexError> {
        for chunk in records.chunks(1_000) {
            self.call(
                reqwest::Method::POST,
                "/points/delete?wait=true",
                Some(json!({"filter": {"must": [{"key": "ref", "match": {"any": chunk}}]}})),
            )?;
        }
        Ok(())
    }

    fn delete_chunks_from(&self, records: &[(String, u32)]) -> Result<(), IndexError> {
        for (first, refs) in super::group_by_first_chunk(records) {
            for chunk in refs.chunks(1_000) {
                self.call(
                    reqwest::Method::POST,
                    "/points/delete?wait=true",
                    Some(json!({"filter": {"must": [
                        {"key": "ref", "match": {"any": chunk}},
                        {"key": "chunk", "range": {"gte": first}}
                    ]}})),
                )?;
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
        let params = match exactness {
            Exactness::Exact => json!({"exact": true}),
            Exactness::Approximate { ef } => json!({"hnsw_ef": ef}),
        };
        let mut body = json!({"query": vector, "limit": k, "with_payload": true, "params": params});
        if let Some(f) = filter.to_qdrant_json() {
            body["filter"] = f;
        }
        let v = self.call(reqwest::Method::POST, "/points/query", Some(body))?;
        let points = v
            .pointer("/result/points")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Ok(points
            .into_iter()
            .filter_map(|p| {
                let payload = p.get("payload")?.clone();
                Some(Hit {
                    record: payload.get("ref")?.as_str()?.to_string(),
                    chunk: payload.get("chunk").and_then(Value::as_u64).unwrap_or(0) as u32,
                    score: p.get("score")?.as_f64()? as f32,
                    payload: serde_json::from_value::<Payload>(payload).ok()?,
                })
            })
            .collect())
    }

    fn count(&self) -> Result<usize, IndexError> {
        let v = self.call(
            reqwest::Method::POST,
            "/points/count",
            Some(json!({"exact": true})),
        )?;
        Ok(v.pointer("/result/count")
            .and_then(Value::as_u64)
            .unwrap_or(0) as usize)
    }

    fn optimize(&self) -> Result<bool, IndexError> {
        Ok(false)
    }

    fn flush(&self) {}

    fn name(&self) -> &'static str {
        "qdrant-server"
    }
}
