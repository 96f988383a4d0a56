//! Event-driven sync: HubSpot's signed webhooks feed a durable queue; workers turn each change
//! into a normalized, embedded, searchable record.
//!
//! ```text
//!  HubSpot ──POST /webhooks/hubspot──▶ receiver ──commit──▶ SQLite queue (WAL, fsync)
//!  (signed v3)                         (verify, parse,         │ lease (at-least-once)
//!                                       204 after commit)      ▼
//!                                                    worker: coalesce per object
//!                                                    batch-read 100/call + associations
//!                                                    normalize (mapping) → digest
//!                                                    embed changed chunks (fastembed)
//!                                                    upsert / delete in the VectorStore
//!                                                    record digests → ack
//!  semantic_search / `hubspot-mcp search` ◀── embed query ── VectorStore (qdrant-edge)
//! ```
//!
//! - [`seams`]: what the engine needs from an event queue and a record state, whoever keeps
//!   them; [`queue`]: both in one SQLite file (`<data_dir>/sync.sqlite`, the default);
//!   [`shared`]: both in Redis (Streams and hashes), shared by workers in many processes.
//! - [`engine`]: apply, the worker loop, search, catch-up, reconcile.
//! - [`backfill`]: `sync --full` with checkpoints and a progress bar.
//! - [`normalize`]: the canonical shape, the mapping file, value normalization, documents.
//!
//! Nothing here polls: after the backfill, changes arrive as webhooks; catch-up after downtime
//! re-reads only what changed since the last event (by last-modified time), and `reconcile`
//! repairs anything else (deletions HubSpot gave up delivering).

pub mod backfill;
pub mod engine;
pub mod error;
pub mod normalize;
pub mod patience;
pub mod queue;
pub mod readiness;
pub mod seams;
pub mod shared;
pub mod status;

use std::path::PathBuf;
use std::sync::Arc;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::embed::{default_model_dir, Embedder, FastEmbedder};
use crate::hubspot::HubSpotClient;
use crate::index::edge::{EdgeStore, HnswParams};
use crate::index::VectorStore;
use crate::time::SharedClock;
use crate::webhook::receiver::{Receiver, ReceiverConfig};

pub use engine::{EngineSettings, SyncEngine};

/// `[sync]` in the configuration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncConfig {
    /// `serve` also receives webhooks and runs the workers.
    pub enabled: bool,
    /// A mapping file (TOML, `schemas/mapping.json`); the built-in mapping when unset.
    pub mapping: Option<PathBuf>,
    /// Where the embedding model and ONNX Runtime are (default: the provisioned cache).
    pub model_dir: Option<PathBuf>,
    /// ONNX Runtime threads (0: every core).
    pub embed_threads: usize,
    pub index: IndexConfig,
    pub webhooks: WebhookConfig,
    pub engine: EngineSettings,
    /// Share the queue and the record state through Redis with workers in other processes.
    pub shared: shared::SharedConfig,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            mapping: None,
            model_dir: None,
            embed_threads: 0,
            index: IndexConfig::default(),
            webhooks: WebhookConfig::default(),
            engine: EngineSettings::default(),
            shared: shared::SharedConfig::default(),
        }
    }
}

/// `[sync.index]`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IndexConfig {
    /// A Qdrant server (`http://host:6333`); the embedded index when unset. `QDRANT_URL` also sets it.
    pub qdrant_url: Option<String>,
    pub collection: String,
    pub hnsw: HnswParams,
}

/// The URL may carry credentials (`http://user:password@host`): never printed.
impl std::fmt::Debug for IndexConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexConfig")
            .field(
                "qdrant_url",
                &self.qdrant_url.as_ref().map(|_| "[redacted]"),
            )
            .field("collection", &self.collection)
            .field("hnsw", &self.hnsw)
            .finish()
    }
}

impl Default for IndexConfig {
    fn default() -> Self {
        Self {
            qdrant_url: None,
            collection: "hubspot_crm".into(),
            hnsw: HnswParams::default(),
        }
    }
}

/// `[sync.webhooks]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookConfig {
    /// The URL HubSpot posts to, when a proxy sits in front (signatures cover it).
    pub public_url: Option<String>,
    /// Accept v1 signatures (no timestamp: no replay protection).
    pub accept_v1: bool,
    /// Accept v2 signatures (no timestamp: no replay protection).
    pub accept_v2: bool,
    pub max_body_bytes: usize,
    /// How far ahead of our clock a request timestamp may be.
    pub max_future_ms: i64,
    /// `serve --stdio` and `sync --listen`: where to receive webhooks (`serve --http` uses its own address).
    pub listen: Option<std::net::SocketAddr>,
    /// Bodies read at once from one address (8); behind a reverse proxy, where every request
    /// comes from the proxy, raise it to 32 (all of them).
    pub max_in_flight_per_peer: usize,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            public_url: None,
            accept_v1: false,
            accept_v2: false,
            max_body_bytes: 1024 * 1024,
            max_future_ms: 60_000,
            listen: None,
            max_in_flight_per_peer: 8,
        }
    }
}

/// Everything sync needs, opened from the configuration.
pub struct SyncRuntime {
    pub engine: SyncEngine,
    pub receiver: Arc<Receiver>,
}

/// Opens the vector store the configuration names.
///
/// # Errors
/// When it cannot be opened or reached.
pub async fn open_store(
    config: &SyncConfig,
    data_dir: &std::path::Path,
    dim: usize,
) -> anyhow::Result<Arc<dyn VectorStore>> {
    let url = config
        .index
        .qdrant_url
        .clone()
        .or_else(|| std::env::var("QDRANT_URL").ok().filter(|u| !u.is_empty()));
    let collection = config.index.collection.clone();
    let hnsw = config.index.hnsw;
    let dir = data_dir.join("index");
    let store: Arc<dyn VectorStore> = match url {
        Some(u) => {
            let key = std::env::var("QDRANT_API_KEY").ok().map(SecretString::from);
            Arc::new(crate::index::qdrant::QdrantServer::connect(&u, &collection, key, dim).await?)
        }
        None => Arc::new(crate::index::Blocking::new(
            tokio::task::spawn_blocking(move || EdgeStore::open(&dir, dim, hnsw)).await??,
        )),
    };
    Ok(store)
}

/// The event queue and the record state the configuration names: Redis when
/// `[sync.shared] redis_url` is set (shared with every worker using the same prefix), else the
/// SQLite database under `data_dir`.
///
/// # Errors
/// The database cannot be opened, or Redis does not answer.
pub async fn open_state(
    config: &SyncConfig,
    data_dir: &std::path::Path,
) -> anyhow::Result<(Arc<dyn seams::EventQueue>, Arc<dyn seams::RecordState>)> {
    if let Some(url) = &config.shared.redis_url {
        let settings = shared::StreamSettings {
            prefix: config.shared.prefix.clone(),
            max_deliveries: config.shared.max_deliveries,
            dedupe_retention: std::time::Duration::from_secs(
                config.engine.dedupe_retention_hours.max(1) as u64 * 3600,
            ),
            ..Default::default()
        };
        let queue = shared::StreamQueue::connect(url, settings).await?;
        let state = shared::RedisState::connect(url, &config.shared.prefix).await?;
        tracing::info!(queue = %seams::EventQueue::describe(&queue), "sync shares its queue and record state through Redis");
        return Ok((Arc::new(queue), Arc::new(state)));
    }
    let path = data_dir.join("sync.sqlite");
    let queue = tokio::task::spawn_blocking(move || queue::Queue::open(&path)).await??;
    Ok((Arc::new(queue.clone()), Arc::new(queue)))
}

/// Loads the embedding model.
///
/// # Errors
/// Missing assets (with the provisioning hint) or a model that does not load.
pub async fn open_embedder(config: &SyncConfig) -> anyhow::Result<Arc<dyn Embedder>> {
    let dir = config.model_dir.clone().unwrap_or_else(default_model_dir);
    let threads = config.embed_threads;
    let e = tokio::task::spawn_blocking(move || FastEmbedder::load(&dir, threads)).await??;
    Ok(Arc::new(e))
}

impl SyncRuntime {
    /// Opens the queue, the index, the model (or takes `embedder`, already loaded) and the
    /// receiver.
    ///
    /// # Errors
    /// Any part failing to open, with the reason.
    pub async fn open(
        config: &SyncConfig,
        data_dir: &std::path::Path,
        client: HubSpotClient,
        webhook_secret: SecretString,
        clock: SharedClock,
        embedder: Option<Arc<dyn Embedder>>,
    ) -> anyhow::Result<Self> {
        let mapping = Arc::new(normalize::Mapping::load(config.mapping.as_deref())?);
        let (queue, state) = open_state(config, data_dir).await?;
        let embedder = match embedder {
            Some(e) => e,
            None => open_embedder(config).await?,
        };
        let store = open_store(config, data_dir, embedder.dimensions()).await?;
        let notify = Arc::new(tokio::sync::Notify::new());
        let mut rc = ReceiverConfig::new(webhook_secret);
        rc.public_url = config.webhooks.public_url.clone();
        rc.accept_v1 = config.webhooks.accept_v1;
        rc.accept_v2 = config.webhooks.accept_v2;
        rc.max_body_bytes = config.webhooks.max_body_bytes;
        rc.max_future_ms = config.webhooks.max_future_ms;
        rc.max_in_flight_per_peer = config.webhooks.max_in_flight_per_peer;
        let receiver = Receiver::new(rc, queue.clone(), clock.clone(), notify.clone());
        let engine = SyncEngine::new(
            client,
            queue,
            state,
            store,
            embedder,
            mapping,
            config.engine.clone(),
            clock,
            notify,
        );
        Ok(Self { engine, receiver })
    }
}

/// Semantic search over an index on disk, with no server and no HubSpot (`hubspot-mcp search`):
/// the same [`engine::search_index`] the engine and the MCP tool use.
///
/// # Errors
/// The model or the index cannot be opened (another process holds the embedded index).
pub async fn search_offline(
    config: &SyncConfig,
    data_dir: &std::path::Path,
    model_dir: Option<PathBuf>,
    query: &str,
    k: usize,
    object_types: Vec<String>,
) -> anyhow::Result<Vec<crate::index::Hit>> {
    let mut sc = config.clone();
    if model_dir.is_some() {
        sc.model_dir = model_dir;
    }
    let embedder = open_embedder(&sc).await?;
    let store = open_store(&sc, data_dir, embedder.dimensions()).await?;
    let filter = crate::index::SearchFilter {
        object_types,
        ..Default::default()
    };
    Ok(engine::search_index(embedder, &*store, query, k, &filter, sc.engine.ef).await?)
}
