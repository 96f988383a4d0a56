//! A stand-in Qdrant server: the gRPC services `qdrant-client` talks to, served from the
//! crate's own generated server traits (`qdrant_client::qdrant::{qdrant_server,
//! collections_server, points_server}`), each collection backed by a qdrant-edge shard
//! (Qdrant's own segment engine, in-process) under one directory.
//!
//! No Qdrant server installs on the machines this project is built on (no Debian or PyPI
//! binary; its source needs a newer toolchain), so this is what the `qdrant-client` backend is
//! tested and benchmarked against. It exercises the real client, HTTP/2, protobuf, the
//! conversions and the error mapping. It does **not** prove the real server's validation,
//! error codes, optimizer or version skew: the contract suite also runs against a real server
//! when `QDRANT_URL` is set.
//!
//! Served: health check; create, get, list, delete and exists for collections (one dense,
//! unnamed vector per point); upsert, delete by filter or ids, query and search (nearest to a
//! dense vector, with a filter, `hnsw_ef` or `exact`), count and payload indexes for points.
//! Filters: `must`, `should`, `must_not`, nested filters, `has_id`, and field conditions that
//! match a keyword, keywords, an integer, integers or a boolean, or a numeric range. The
//! request kinds, query variants, conditions and vector kinds it does not serve are answered
//! `UNIMPLEMENTED` with their name. It is a test fixture, not a server: options it does not
//! model (HNSW, quantization and storage settings of a collection, conditional upserts,
//! `with_vectors`, shard keys, write ordering) are ignored, and its engine calls run on the
//! async runtime's threads.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;
use qdrant_client::qdrant as pb;
use qdrant_client::qdrant::collections_server::{Collections, CollectionsServer};
use qdrant_client::qdrant::points_server::{Points, PointsServer};
use qdrant_client::qdrant::qdrant_server::{Qdrant, QdrantServer};
use qdrant_edge::{
    CountRequest, Distance, EdgeConfig, EdgeShard, EdgeVectorParams, FieldIndexOperations,
    NamedQuery, PayloadFieldSchema, PayloadSchemaType, PointInsertOperations, PointOperations,
    PointStruct, QueryEnum, SearchParams, SearchRequest, UpdateOperation, WithPayloadInterface,
    DEFAULT_VECTOR_NAME,
};
use serde_json::{json, Value};
use tonic::{Request, Response, Status};

type Shard = Arc<EdgeShard>;

/// The stand-in's state: collections by name, each a shard under `dir/<name>`.
#[derive(Clone)]
pub struct StandIn {
    dir: PathBuf,
    collections: Arc<Mutex<HashMap<String, Shard>>>,
    writes: Arc<Mutex<HashMap<(u64, String), u32>>>,
}

/// What was written, counted from the outside of the client (benchmarks read it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Writes {
    /// Points upserted, in all.
    pub points: u64,
    /// Distinct (point, payload) pairs written more than once: the same content applied twice.
    pub repeated: u64,
}

impl StandIn {
    /// Collections live under `dir` (created when absent; existing ones are loaded on use).
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            collections: Arc::default(),
            writes: Arc::default(),
        }
    }

    /// Upserts counted so far.
    pub fn writes(&self) -> Writes {
        let w = self.writes.lock();
        Writes {
            points: w.values().map(|n| u64::from(*n)).sum(),
            repeated: w.values().filter(|n| **n > 1).count() as u64,
        }
    }

    fn path(&self, name: &str) -> Result<PathBuf, Status> {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(Status::invalid_argument(format!(
                "collection name {name:?}: use letters, digits, '_' and '-'"
            )));
        }
        Ok(self.dir.join(name))
    }

    fn shard(&self, name: &str) -> Result<Shard, Status> {
        let path = self.path(name)?;
        let mut map = self.collections.lock();
        if let Some(s) = map.get(name) {
            return Ok(s.clone());
        }
        if EdgeConfig::load(&path).is_none() {
            return Err(Status::not_found(format!(
                "Collection `{name}` doesn't exist!"
            )));
        }
        let s = Arc::new(EdgeShard::load(&path, None).map_err(internal)?);
        map.insert(name.to_string(), s.clone());
        Ok(s)
    }

    /// Serves gRPC on `listener` until `shutdown` resolves.
    ///
    /// # Errors
    /// The server fails.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        tonic::transport::Server::builder()
            .add_service(QdrantServer::new(self.clone()))
            .add_service(CollectionsServer::new(self.clone()))
            .add_service(PointsServer::new(self))
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                shutdown,
            )
            .await?;
        Ok(())
    }
}

fn unimplemented(method: &str) -> Status {
    Status::unimplemented(format!("{method} is not served by the stand-in"))
}

fn internal(e: impl std::fmt::Display) -> Status {
    Status::internal(e.to_string())
}

/// Runs blocking engine work off the async runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Status> + Send + 'static,
) -> Result<T, Status> {
    tokio::task::spawn_blocking(f).await.map_err(internal)?
}

fn point_id(id: Option<pb::PointId>) -> Result<Value, Status> {
    match id.and_then(|i| i.point_id_options) {
        Some(pb::point_id::PointIdOptions::Num(n)) => Ok(json!(n)),
        Some(pb::point_id::PointIdOptions::Uuid(u)) => Ok(json!(u)),
        None => Err(Status::invalid_argument("a point without an id")),
    }
}

fn to_point_id(v: &Value) -> pb::PointId {
    match v {
        Value::Number(n) => n.as_u64().unwrap_or_default().into(),
        other => other.as_str().unwrap_or_default().to_string().into(),
    }
}

fn dense(vectors: Option<pb::Vectors>) -> Result<Vec<f32>, Status> {
    match vectors.and_then(|v| v.vectors_options) {
        Some(pb::vectors::VectorsOptions::Vector(v)) => match v.vector {
            Some(pb::vector::Vector::Dense(d)) => Ok(d.data),
            // Older clients send the deprecated flat field.
            #[allow(deprecated)]
            None if !v.data.is_empty() => Ok(v.data),
            _ => Err(Status::unimplemented(
                "only dense vectors are served by the stand-in",
            )),
        },
        Some(pb::vectors::VectorsOptions::Vectors(_)) => Err(Status::unimplemented(
            "named vectors are not served by the stand-in",
        )),
        None => Err(Status::invalid_argument("a point without a vector")),
    }
}

/// A protobuf filter in Qdrant's JSON filter language, which qdrant-edge reads.
fn filter_json(f: &pb::Filter) -> Result<Value, Status> {
    let list = |cs: &[pb::Condition]| -> Result<Vec<Value>, Status> {
        cs.iter().map(condition_json).collect()
    };
    if f.min_should.is_some() {
        return Err(Status::unimplemented(
            "min_should is not served by the stand-in",
        ));
    }
    Ok(json!({"must": list(&f.must)?, "should": list(&f.should)?, "must_not": list(&f.must_not)?}))
}

fn condition_json(c: &pb::Condition) -> Result<Value, Status> {
    use pb::condition::ConditionOneOf as C;
    match &c.condition_one_of {
        Some(C::Field(fc)) => field_json(fc),
        Some(C::Filter(f)) => filter_json(f),
        Some(C::HasId(h)) => Ok(json!({"has_id": h
            .has_id
            .iter()
            .cloned()
            .map(|i| point_id(Some(i)))
            .collect::<Result<Vec<_>, _>>()?})),
        other => Err(Status::unimplemented(format!(
            "condition {other:?} is not served by the stand-in"
        ))),
    }
}

fn field_json(fc: &pb::FieldCondition) -> Result<Value, Status> {
    use pb::r#match::MatchValue as M;
    if let Some(m) = &fc.r#match {
        let m = match &m.match_value {
            Some(M::Keyword(k)) => json!({"value": k}),
            Some(M::Integer(i)) => json!({"value": i}),
            Some(M::Boolean(b)) => json!({"value": b}),
            Some(M::Keywords(k)) => json!({"any": k.strings}),
            Some(M::Integers(i)) => json!({"any": i.integers}),
            other => {
                return Err(Status::unimplemented(format!(
                    "match {other:?} is not served by the stand-in"
                )))
            }
        };
        return Ok(json!({"key": fc.key, "match": m}));
    }
    if let Some(r) = &fc.range {
        let mut m = serde_json::Map::new();
        for (k, v) in [("lt", r.lt), ("gt", r.gt), ("gte", r.gte), ("lte", r.lte)] {
            if let Some(v) = v {
                m.insert(k.into(), json!(v));
            }
        }
        return Ok(json!({"key": fc.key, "range": m}));
    }
    Err(Status::unimplemented(format!(
        "the condition on {:?} is not served by the stand-in (only match and range)",
        fc.key
    )))
}

fn edge_filter(f: Option<&pb::Filter>) -> Result<Option<qdrant_edge::Filter>, Status> {
    f.map(|f| {
        serde_json::from_value(filter_json(f)?)
            .map_err(|e| Status::invalid_argument(format!("filter: {e}")))
    })
    .transpose()
}

fn operation_response() -> Response<pb::PointsOperationResponse> {
    Response::new(pb::PointsOperationResponse {
        result: Some(pb::UpdateResult {
            operation_id: Some(0),
            status: pb::UpdateStatus::Completed.into(),
        }),
        ..Default::default()
    })
}

fn with_payload(sel: Option<&pb::WithPayloadSelector>) -> Result<bool, Status> {
    use pb::with_payload_selector::SelectorOptions as S;
    match sel.and_then(|s| s.selector_options.as_ref()) {
        None => Ok(false),
        Some(S::Enable(b)) => Ok(*b),
        Some(_) => Err(Status::unimplemented(
            "payload include/exclude lists are not served by the stand-in",
        )),
    }
}

fn search_params(p: Option<&pb::SearchParams>) -> Result<Option<SearchParams>, Status> {
    let Some(p) = p else { return Ok(None) };
    let mut m = serde_json::Map::new();
    if let Some(ef) = p.hnsw_ef {
        m.insert("hnsw_ef".into(), json!(ef));
    }
    if let Some(e) = p.exact {
        m.insert("exact".into(), json!(e));
    }
    serde_json::from_value(Value::Object(m))
        .map(Some)
        .map_err(|e| Status::invalid_argument(format!("search params: {e}")))
}

/// One nearest-neighbour search on a shard, as both `query` and `search` ask it.
async fn nearest(
    shard: Shard,
    vector: Vec<f32>,
    filter: Option<qdrant_edge::Filter>,
    params: Option<SearchParams>,
    limit: usize,
    offset: usize,
    payload: bool,
) -> Result<Vec<pb::ScoredPoint>, Status> {
    let found = blocking(move || {
        shard
            .search(SearchRequest {
                query: QueryEnum::Nearest(NamedQuery::default_dense(vector)),
                filter,
                params,
                limit,
                offset,
                with_payload: Some(WithPayloadInterface::Bool(payload)),
                with_vector: None,
                score_threshold: None,
            })
            .map_err(internal)
    })
    .await?;
    found
        .into_iter()
        .map(|sp| {
            let id = serde_json::to_value(sp.id).map_err(internal)?;
            let payload: HashMap<String, pb::Value> = match sp.payload {
                Some(p) => {
                    qdrant_client::Payload::try_from(Value::Object(p.0.into_iter().collect()))
                        .map_err(internal)?
                        .into()
                }
                None => HashMap::new(),
            };
            Ok(pb::ScoredPoint {
                id: Some(to_point_id(&id)),
                payload,
                score: sp.score,
                ..Default::default()
            })
        })
        .collect()
}

#[tonic::async_trait]
impl Qdrant for StandIn {
    async fn health_check(
        &self,
        _: Request<pb::HealthCheckRequest>,
    ) -> Result<Response<pb::HealthCheckReply>, Status> {
        Ok(Response::new(pb::HealthCheckReply {
            title: "qdrant-standin (qdrant-edge 0.7.0)".into(),
            version: "1.16.0".into(),
            commit: None,
        }))
    }
}

#[tonic::async_trait]
impl Collections for StandIn {
    async fn get(
        &self,
        r: Request<pb::GetCollectionInfoRequest>,
    ) -> Result<Response<pb::GetCollectionInfoResponse>, Status> {
        let name = r.into_inner().collection_name;
        let shard = self.shard(&name)?;
        let (size, points) = blocking(move || {
            let size = shard
                .config()
                .vectors
                .get(DEFAULT_VECTOR_NAME)
                .map_or(0, |v| v.size as u64);
            let req: CountRequest =
                serde_json::from_value(json!({"exact": true})).map_err(internal)?;
            Ok((size, shard.count(req).map_err(internal)? as u64))
        })
        .await?;
        Ok(Response::new(pb::GetCollectionInfoResponse {
            result: Some(pb::CollectionInfo {
                status: pb::CollectionStatus::Green.into(),
                points_count: Some(points),
                config: Some(pb::CollectionConfig {
                    params: Some(pb::CollectionParams {
                        vectors_config: Some(pb::VectorsConfig {
                            config: Some(pb::vectors_config::Config::Params(pb::VectorParams {
                                size,
                                distance: pb::Distance::Cosine.into(),
                                ..Default::default()
                            })),
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            time: 0.0,
        }))
    }

    async fn list(
        &self,
        _: Request<pb::ListCollectionsRequest>,
    ) -> Result<Response<pb::ListCollectionsResponse>, Status> {
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| EdgeConfig::load(&e.path()).is_some())
                    .filter_map(|e| e.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        Ok(Response::new(pb::ListCollectionsResponse {
            collections: names
                .into_iter()
                .map(|name| pb::CollectionDescription { name })
                .collect(),
            time: 0.0,
        }))
    }

    async fn create(
        &self,
        r: Request<pb::CreateCollection>,
    ) -> Result<Response<pb::CollectionOperationResponse>, Status> {
        let c = r.into_inner();
        let path = self.path(&c.collection_name)?;
        let params = match c.vectors_config.and_then(|v| v.config) {
            Some(pb::vectors_config::Config::Params(p)) => p,
            _ => {
                return Err(Status::unimplemented(
                    "only one unnamed dense vector per point is served by the stand-in",
                ))
            }
        };
        let distance = match pb::Distance::try_from(params.distance) {
            Ok(pb::Distance::Cosine) => Distance::Cosine,
            Ok(pb::Distance::Dot) => Distance::Dot,
            Ok(pb::Distance::Euclid) => Distance::Euclid,
            _ => return Err(Status::invalid_argument("unknown distance")),
        };
        if EdgeConfig::load(&path).is_some() {
            return Err(Status::already_exists(format!(
                "Collection `{}` already exists!",
                c.collection_name
            )));
        }
        let size = params.size as usize;
        let shard = blocking(move || {
            std::fs::create_dir_all(&path).map_err(internal)?;
            let config = EdgeConfig::builder()
                .vector(
                    DEFAULT_VECTOR_NAME,
                    EdgeVectorParams::builder(size, distance).build(),
                )
                .build();
            EdgeShard::new(&path, config).map_err(internal)
        })
        .await?;
        self.collections
            .lock()
            .insert(c.collection_name, Arc::new(shard));
        Ok(Response::new(pb::CollectionOperationResponse {
            result: true,
            time: 0.0,
        }))
    }

    async fn delete(
        &self,
        r: Request<pb::DeleteCollection>,
    ) -> Result<Response<pb::CollectionOperationResponse>, Status> {
        let name = r.into_inner().collection_name;
        let path = self.path(&name)?;
        let existed = self.collections.lock().remove(&name).is_some() || path.exists();
        if existed {
            std::fs::remove_dir_all(&path).map_err(internal)?;
        }
        Ok(Response::new(pb::CollectionOperationResponse {
            result: existed,
            time: 0.0,
        }))
    }

    async fn collection_exists(
        &self,
        r: Request<pb::CollectionExistsRequest>,
    ) -> Result<Response<pb::CollectionExistsResponse>, Status> {
        let name = r.into_inner().collection_name;
        let exists = self.collections.lock().contains_key(&name)
            || EdgeConfig::load(&self.path(&name)?).is_some();
        Ok(Response::new(pb::CollectionExistsResponse {
            result: Some(pb::CollectionExists { exists }),
            time: 0.0,
        }))
    }

    async fn update(
        &self,
        _: Request<pb::UpdateCollection>,
    ) -> Result<Response<pb::CollectionOperationResponse>, Status> {
        Err(unimplemented("update"))
    }

    async fn update_aliases(
        &self,
        _: Request<pb::ChangeAliases>,
    ) -> Result<Response<pb::CollectionOperationResponse>, Status> {
        Err(unimplemented("update_aliases"))
    }

    async fn list_collection_aliases(
        &self,
        _: Request<pb::ListCollectionAliasesRequest>,
    ) -> Result<Response<pb::ListAliasesResponse>, Status> {
        Err(unimplemented("list_collection_aliases"))
    }

    async fn list_aliases(
        &self,
        _: Request<pb::ListAliasesRequest>,
    ) -> Result<Response<pb::ListAliasesResponse>, Status> {
        Err(unimplemented("list_aliases"))
    }

    async fn collection_cluster_info(
        &self,
        _: Request<pb::CollectionClusterInfoRequest>,
    ) -> Result<Response<pb::CollectionClusterInfoResponse>, Status> {
        Err(unimplemented("collection_cluster_info"))
    }

    async fn update_collection_cluster_setup(
        &self,
        _: Request<pb::UpdateCollectionClusterSetupRequest>,
    ) -> Result<Response<pb::UpdateCollectionClusterSetupResponse>, Status> {
        Err(unimplemented("update_collection_cluster_setup"))
    }

    async fn create_shard_key(
        &self,
        _: Request<pb::CreateShardKeyRequest>,
    ) -> Result<Response<pb::CreateShardKeyResponse>, Status> {
        Err(unimplemented("create_shard_key"))
    }

    async fn delete_shard_key(
        &self,
        _: Request<pb::DeleteShardKeyRequest>,
    ) -> Result<Response<pb::DeleteShardKeyResponse>, Status> {
        Err(unimplemented("delete_shard_key"))
    }

    async fn list_shard_keys(
        &self,
        _: Request<pb::ListShardKeysRequest>,
    ) -> Result<Response<pb::ListShardKeysResponse>, Status> {
        Err(unimplemented("list_shard_keys"))
    }
}

#[tonic::async_trait]
impl Points for StandIn {
    async fn upsert(
        &self,
        r: Request<pb::UpsertPoints>,
    ) -> Result<Response<pb::PointsOperationResponse>, Status> {
        let r = r.into_inner();
        let shard = self.shard(&r.collection_name)?;
        let mut list = Vec::with_capacity(r.points.len());
        for p in r.points {
            let Some(id) = point_id(p.id)?.as_u64() else {
                return Err(Status::unimplemented(
                    "UUID point ids are not served by the stand-in",
                ));
            };
            let vector = dense(p.vectors)?;
            let payload: Value = qdrant_client::Payload::from(p.payload).into();
            *self
                .writes
                .lock()
                .entry((id, payload.to_string()))
                .or_default() += 1;
            list.push(PointStruct::new(id, vector, payload).0);
        }
        blocking(move || {
            shard
                .update(UpdateOperation::PointOperation(
                    PointOperations::UpsertPoints(PointInsertOperations::PointsList(list)),
                ))
                .map_err(|e| Status::invalid_argument(e.to_string()))
        })
        .await?;
        Ok(operation_response())
    }

    async fn delete(
        &self,
        r: Request<pb::DeletePoints>,
    ) -> Result<Response<pb::PointsOperationResponse>, Status> {
        use pb::points_selector::PointsSelectorOneOf as P;
        let r = r.into_inner();
        let shard = self.shard(&r.collection_name)?;
        let filter = match r.points.and_then(|p| p.points_selector_one_of) {
            Some(P::Filter(f)) => edge_filter(Some(&f))?,
            Some(P::Points(ids)) => {
                let ids = ids
                    .ids
                    .into_iter()
                    .map(|i| point_id(Some(i)))
                    .collect::<Result<Vec<_>, _>>()?;
                edge_filter(None)?.or(Some(
                    serde_json::from_value(json!({"must": [{"has_id": ids}]}))
                        .map_err(|e| Status::invalid_argument(e.to_string()))?,
                ))
            }
            None => return Err(Status::invalid_argument("no points selector")),
        };
        let Some(filter) = filter else {
            return Err(Status::invalid_argument("an empty selector"));
        };
        blocking(move || {
            shard
                .update(UpdateOperation::PointOperation(
                    PointOperations::DeletePointsByFilter(filter),
                ))
                .map_err(internal)
        })
        .await?;
        Ok(operation_response())
    }

    async fn create_field_index(
        &self,
        r: Request<pb::CreateFieldIndexCollection>,
    ) -> Result<Response<pb::PointsOperationResponse>, Status> {
        let r = r.into_inner();
        let shard = self.shard(&r.collection_name)?;
        let ty = match r.field_type.map(pb::FieldType::try_from) {
            Some(Ok(pb::FieldType::Keyword)) => PayloadSchemaType::Keyword,
            Some(Ok(pb::FieldType::Integer)) => PayloadSchemaType::Integer,
            Some(Ok(pb::FieldType::Float)) => PayloadSchemaType::Float,
            Some(Ok(pb::FieldType::Bool)) => PayloadSchemaType::Bool,
            other => {
                return Err(Status::unimplemented(format!(
                    "field index type {other:?} is not served by the stand-in"
                )))
            }
        };
        let field = r
            .field_name
            .parse()
            .map_err(|_| Status::invalid_argument(format!("field name {:?}", r.field_name)))?;
        blocking(move || {
            shard
                .update(UpdateOperation::FieldIndexOperation(
                    FieldIndexOperations::CreateIndex(qdrant_edge::CreateIndex {
                        field_name: field,
                        field_schema: Some(PayloadFieldSchema::FieldType(ty)),
                    }),
                ))
                .map_err(internal)
        })
        .await?;
        Ok(operation_response())
    }

    async fn query(
        &self,
        r: Request<pb::QueryPoints>,
    ) -> Result<Response<pb::QueryResponse>, Status> {
        let r = r.into_inner();
        if !r.prefetch.is_empty() || r.using.is_some() || r.score_threshold.is_some() {
            return Err(Status::unimplemented(
                "prefetch, named vectors and score thresholds are not served by the stand-in",
            ));
        }
        let vector = match r.query.and_then(|q| q.variant) {
            Some(pb::query::Variant::Nearest(v)) => match v.variant {
                Some(pb::vector_input::Variant::Dense(d)) => d.data,
                other => {
                    return Err(Status::unimplemented(format!(
                        "nearest to {other:?} is not served by the stand-in"
                    )))
                }
            },
            other => {
                return Err(Status::unimplemented(format!(
                    "query {other:?} is not served by the stand-in (only nearest)"
                )))
            }
        };
        let shard = self.shard(&r.collection_name)?;
        let result = nearest(
            shard,
            vector,
            edge_filter(r.filter.as_ref())?,
            search_params(r.params.as_ref())?,
            r.limit.unwrap_or(10) as usize,
            r.offset.unwrap_or(0) as usize,
            with_payload(r.with_payload.as_ref())?,
        )
        .await?;
        Ok(Response::new(pb::QueryResponse {
            result,
            ..Default::default()
        }))
    }

    async fn search(
        &self,
        r: Request<pb::SearchPoints>,
    ) -> Result<Response<pb::SearchResponse>, Status> {
        let r = r.into_inner();
        if r.vector_name.is_some() || r.score_threshold.is_some() {
            return Err(Status::unimplemented(
                "named vectors and score thresholds are not served by the stand-in",
            ));
        }
        let shard = self.shard(&r.collection_name)?;
        let result = nearest(
            shard,
            r.vector,
            edge_filter(r.filter.as_ref())?,
            search_params(r.params.as_ref())?,
            r.limit as usize,
            r.offset.unwrap_or(0) as usize,
            with_payload(r.with_payload.as_ref())?,
        )
        .await?;
        Ok(Response::new(pb::SearchResponse {
            result,
            ..Default::default()
        }))
    }

    async fn count(
        &self,
        r: Request<pb::CountPoints>,
    ) -> Result<Response<pb::CountResponse>, Status> {
        let r = r.into_inner();
        let shard = self.shard(&r.collection_name)?;
        let mut req = json!({"exact": r.exact.unwrap_or(true)});
        if let Some(f) = &r.filter {
            req["filter"] = filter_json(f)?;
        }
        let req: CountRequest =
            serde_json::from_value(req).map_err(|e| Status::invalid_argument(e.to_string()))?;
        let count = blocking(move || shard.count(req).map_err(internal)).await? as u64;
        Ok(Response::new(pb::CountResponse {
            result: Some(pb::CountResult { count }),
            ..Default::default()
        }))
    }

    async fn get(&self, _: Request<pb::GetPoints>) -> Result<Response<pb::GetResponse>, Status> {
        Err(unimplemented("get"))
    }

    async fn update_vectors(
        &self,
        _: Request<pb::UpdatePointVectors>,
    ) -> Result<Response<pb::PointsOperationResponse>, Status> {
        Err(unimplemented("update_vectors"))
    }

    async fn delete_vectors(
        &self,
        _: Request<pb::DeletePointVectors>,
    ) -> Result<Response<pb::PointsOperationResponse>, Status> {
        Err(unimplemented("delete_vectors"))
    }

    async fn set_payload(
        &self,
        _: Request<pb::SetPayloadPoints>,
    ) -> Result<Response<pb::PointsOperationResponse>, Status> {
        Err(unimplemented("set_payload"))
    }

    async fn overwrite_payload(
        &self,
        _: Request<pb::SetPayloadPoints>,
    ) -> Result<Response<pb::PointsOperationResponse>, Status> {
        Err(unimplemented("overwrite_payload"))
    }

    async fn delete_payload(
        &self,
        _: Request<pb::DeletePayloadPoints>,
    ) -> Result<Response<pb::PointsOperationResponse>, Status> {
        Err(unimplemented("delete_payload"))
    }

    async fn clear_payload(
        &self,
        _: Request<pb::ClearPayloadPoints>,
    ) -> Result<Response<pb::PointsOperationResponse>, Status> {
        Err(unimplemented("clear_payload"))
    }

    async fn delete_field_index(
        &self,
        _: Request<pb::DeleteFieldIndexCollection>,
    ) -> Result<Response<pb::PointsOperationResponse>, Status> {
        Err(unimplemented("delete_field_index"))
    }

    async fn create_vector_name(
        &self,
        _: Request<pb::CreateVectorNameRequest>,
    ) -> Result<Response<pb::PointsOperationResponse>, Status> {
        Err(unimplemented("create_vector_name"))
    }

    async fn delete_vector_name(
        &self,
        _: Request<pb::DeleteVectorNameRequest>,
    ) -> Result<Response<pb::PointsOperationResponse>, Status> {
        Err(unimplemented("delete_vector_name"))
    }

    async fn search_batch(
        &self,
        _: Request<pb::SearchBatchPoints>,
    ) -> Result<Response<pb::SearchBatchResponse>, Status> {
        Err(unimplemented("search_batch"))
    }

    async fn search_groups(
        &self,
        _: Request<pb::SearchPointGroups>,
    ) -> Result<Response<pb::SearchGroupsResponse>, Status> {
        Err(unimplemented("search_groups"))
    }

    async fn scroll(
        &self,
        _: Request<pb::ScrollPoints>,
    ) -> Result<Response<pb::ScrollResponse>, Status> {
        Err(unimplemented("scroll"))
    }

    async fn recommend(
        &self,
        _: Request<pb::RecommendPoints>,
    ) -> Result<Response<pb::RecommendResponse>, Status> {
        Err(unimplemented("recommend"))
    }

    async fn recommend_batch(
        &self,
        _: Request<pb::RecommendBatchPoints>,
    ) -> Result<Response<pb::RecommendBatchResponse>, Status> {
        Err(unimplemented("recommend_batch"))
    }

    async fn recommend_groups(
        &self,
        _: Request<pb::RecommendPointGroups>,
    ) -> Result<Response<pb::RecommendGroupsResponse>, Status> {
        Err(unimplemented("recommend_groups"))
    }

    async fn discover(
        &self,
        _: Request<pb::DiscoverPoints>,
    ) -> Result<Response<pb::DiscoverResponse>, Status> {
        Err(unimplemented("discover"))
    }

    async fn discover_batch(
        &self,
        _: Request<pb::DiscoverBatchPoints>,
    ) -> Result<Response<pb::DiscoverBatchResponse>, Status> {
        Err(unimplemented("discover_batch"))
    }

    async fn update_batch(
        &self,
        _: Request<pb::UpdateBatchPoints>,
    ) -> Result<Response<pb::UpdateBatchResponse>, Status> {
        Err(unimplemented("update_batch"))
    }

    async fn query_batch(
        &self,
        _: Request<pb::QueryBatchPoints>,
    ) -> Result<Response<pb::QueryBatchResponse>, Status> {
        Err(unimplemented("query_batch"))
    }

    async fn query_groups(
        &self,
        _: Request<pb::QueryPointGroups>,
    ) -> Result<Response<pb::QueryGroupsResponse>, Status> {
        Err(unimplemented("query_groups"))
    }

    async fn facet(
        &self,
        _: Request<pb::FacetCounts>,
    ) -> Result<Response<pb::FacetResponse>, Status> {
        Err(unimplemented("facet"))
    }

    async fn search_matrix_pairs(
        &self,
        _: Request<pb::SearchMatrixPoints>,
    ) -> Result<Response<pb::SearchMatrixPairsResponse>, Status> {
        Err(unimplemented("search_matrix_pairs"))
    }

    async fn search_matrix_offsets(
        &self,
        _: Request<pb::SearchMatrixPoints>,
    ) -> Result<Response<pb::SearchMatrixOffsetsResponse>, Status> {
        Err(unimplemented("search_matrix_offsets"))
    }
}
