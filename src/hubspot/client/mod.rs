//! `HubSpotClient`: the only code that speaks HTTP to HubSpot.
//!
//! Every request takes the same path: production guard (writes) → circuit breaker → rate
//! governor (lane, bucket) → credentials → send with a timeout → learn from the rate headers
//! → classify the outcome → retry within the quota, or return an [`ApiError`] that keeps
//! HubSpot's body. A tracing span per request records route, status, attempt, time waited and
//! the correlation id.
//!
//! On top of that sit batch-first operations: batch reads and writes chunked at 100 with
//! per-input results from 207s, search paged at 200 that reads past the 10,000 cap by sorting on
//! `hs_object_id` and restarting above the last id, list pagination, association reads of
//! 1,000 ids per call paged per input, coalesced single-record reads, and a metadata cache.
//!
//! One file per step: [`call`] (what is sent), [`pipeline`] (the attempts), [`objects`],
//! [`search`], [`associations`] and [`meta`] (the operations built on it).

mod associations;
mod call;
mod meta;
mod objects;
mod pipeline;
mod search;

pub use call::{Call, Reply};
pub use objects::WriteOp;
pub use search::SearchPages;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::auth::Credentials;
use super::circuit::{BreakerSettings, BreakerState, CircuitBreaker};
use super::coalesce::{BatchRead, Coalescer};
use super::error::{ApiError, EndpointGroup};
use super::limit::{GovernorSettings, GovernorSnapshot, Lane, LocalGovernor, RateGovernor};
use super::metadata::MetadataCache;
use super::path::ObjectType;
use super::retry::{Backoff, RetryQuota};
use crate::hubspot::model::{ApiVersion, CrmObject};
use crate::time::{SharedClock, SystemClock};

/// Client settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientSettings {
    /// `https://api.hubapi.com`, or a sandbox URL.
    pub base_url: String,
    /// Date-based paths (default) or legacy `/crm/v3`.
    pub version: ApiVersion,
    pub governor: GovernorSettings,
    pub backoff: Backoff,
    /// Retry tokens (see `RetryQuota`).
    pub retry_quota: u32,
    pub breaker: BreakerSettings,
    /// Per-attempt timeout.
    pub timeout_ms: u64,
    /// How long an interactive call waits out a busy HubSpot (429s) before it says so.
    /// Background calls wait as long as it takes.
    pub interactive_deadline_ms: u64,
    /// Refuse writes unless the account is a developer test account or a sandbox.
    pub production_guard: bool,
    /// How long single-record reads wait to be coalesced into one batch read.
    pub coalesce_window_ms: u64,
    /// Metadata freshness.
    pub metadata_ttl_secs: u64,
    /// Where the metadata cache is persisted.
    pub data_dir: Option<std::path::PathBuf>,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            base_url: "https://api.hubapi.com".into(),
            version: ApiVersion::Dated,
            governor: GovernorSettings::default(),
            backoff: Backoff::default(),
            retry_quota: 500,
            breaker: BreakerSettings::default(),
            timeout_ms: 30_000,
            interactive_deadline_ms: 20_000,
            production_guard: false,
            coalesce_window_ms: 3,
            metadata_ttl_secs: 900,
            data_dir: None,
        }
    }
}

/// Counters for logs, metrics and benchmarks.
#[derive(Debug, Default)]
pub struct Metrics {
    pub requests: AtomicU64,
    pub throttled: AtomicU64,
    pub retries: AtomicU64,
    pub failures: AtomicU64,
    pub auth_replays: AtomicU64,
    pub waited_us: AtomicU64,
}

/// A snapshot of the counters and the limiter.
#[derive(Debug, Clone, Serialize)]
pub struct MetricsSnapshot {
    pub requests: u64,
    pub throttled_429s: u64,
    pub retries: u64,
    pub failures: u64,
    pub auth_replays: u64,
    pub waited_ms: u64,
    pub governor: GovernorSnapshot,
    pub breakers: BTreeMap<EndpointGroup, (BreakerState, u64)>,
    pub retry_tokens: u32,
}

struct Inner {
    http: reqwest::Client,
    settings: ClientSettings,
    creds: Credentials,
    governor: Arc<dyn RateGovernor>,
    quota: RetryQuota,
    breakers: BTreeMap<EndpointGroup, CircuitBreaker>,
    metrics: Metrics,
    account_type: tokio::sync::OnceCell<String>,
    coalescer: Coalescer,
    metadata: MetadataCache,
}

/// The HubSpot client. Cheap to clone; clones share the limiter, breakers and caches.
#[derive(Clone)]
pub struct HubSpotClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for HubSpotClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubSpotClient")
            .field("base_url", &self.inner.settings.base_url)
            .field("creds", &self.inner.creds)
            .finish_non_exhaustive()
    }
}

/// Builds a client.
pub struct ClientBuilder {
    settings: ClientSettings,
    creds: Credentials,
    clock: SharedClock,
    governor: Option<Arc<dyn RateGovernor>>,
    http: Option<reqwest::Client>,
}

impl ClientBuilder {
    /// Uses this clock for windows, breakers and token expiry.
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }
    /// The settings it will build with.
    pub fn settings(&self) -> &ClientSettings {
        &self.settings
    }
    /// Shares an existing governor (several clients, one budget).
    pub fn governor(mut self, g: Arc<dyn RateGovernor>) -> Self {
        self.governor = Some(g);
        self
    }
    /// Uses this HTTP client.
    pub fn http(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }
    /// Builds it.
    pub fn build(self) -> HubSpotClient {
        let http = self.http.unwrap_or_else(default_http);
        let governor = self.governor.unwrap_or_else(|| {
            Arc::new(LocalGovernor::new(
                self.settings.governor.clone(),
                self.clock.clone(),
            ))
        });
        let breakers = EndpointGroup::ALL
            .iter()
            .map(|g| {
                (
                    *g,
                    CircuitBreaker::new(*g, self.settings.breaker, self.clock.clone()),
                )
            })
            .collect();
        let metadata = MetadataCache::new(
            self.settings.metadata_ttl_secs,
            self.settings.data_dir.clone(),
            self.clock.clone(),
        );
        HubSpotClient {
            inner: Arc::new(Inner {
                http,
                quota: RetryQuota::new(self.settings.retry_quota),
                coalescer: Coalescer::new(Duration::from_millis(self.settings.coalesce_window_ms)),
                settings: self.settings,
                creds: self.creds,
                governor,
                breakers,
                metrics: Metrics::default(),
                account_type: tokio::sync::OnceCell::new(),
                metadata,
            }),
        }
    }
}

impl BatchRead for HubSpotClient {
    fn read_batch(
        &self,
        lane: Lane,
        object_type: String,
        ids: Vec<String>,
        properties: Vec<String>,
    ) -> futures::future::BoxFuture<'static, Result<Vec<CrmObject>, ApiError>> {
        let client = self.clone();
        Box::pin(async move {
            client
                .batch_read(lane, &object_type, &ids, &properties, None)
                .await
                .map(|o| o.results)
        })
    }
}

/// An HTTP client tuned for HubSpot: TCP_NODELAY, pooled keep-alive.
pub fn default_http() -> reqwest::Client {
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(60))
        .user_agent(concat!("hubspot-mcp/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

const CHUNK: usize = 100;
/// Batch-read inputs per request when `propertiesWithHistory` is asked for.
const HISTORY_CHUNK: usize = 50;
const ASSOC_CHUNK: usize = 1_000;
const SEARCH_PAGE: usize = 200;

impl HubSpotClient {
    /// Starts a builder.
    pub fn builder(settings: ClientSettings, creds: Credentials) -> ClientBuilder {
        ClientBuilder {
            settings,
            creds,
            clock: Arc::new(SystemClock),
            governor: None,
            http: None,
        }
    }

    /// The settings.
    pub fn settings(&self) -> &ClientSettings {
        &self.inner.settings
    }

    /// The metadata cache.
    pub fn metadata(&self) -> &MetadataCache {
        &self.inner.metadata
    }

    /// The shared governor.
    pub fn governor(&self) -> Arc<dyn RateGovernor> {
        self.inner.governor.clone()
    }

    /// Counters, limiter and breaker states.
    pub fn metrics(&self) -> MetricsSnapshot {
        let m = &self.inner.metrics;
        MetricsSnapshot {
            requests: m.requests.load(Ordering::Relaxed),
            throttled_429s: m.throttled.load(Ordering::Relaxed),
            retries: m.retries.load(Ordering::Relaxed),
            failures: m.failures.load(Ordering::Relaxed),
            auth_replays: m.auth_replays.load(Ordering::Relaxed),
            waited_ms: m.waited_us.load(Ordering::Relaxed) / 1000,
            governor: self.inner.governor.snapshot(),
            breakers: self
                .inner
                .breakers
                .iter()
                .map(|(g, b)| (*g, (b.state(), b.times_opened())))
                .collect(),
            retry_tokens: self.inner.quota.available(),
        }
    }

    fn v(&self) -> ApiVersion {
        self.inner.settings.version
    }

    async fn bearer(&self) -> Result<(SecretString, Option<u64>), ApiError> {
        match &self.inner.creds {
            Credentials::Static(t) => Ok((t.clone(), None)),
            Credentials::OAuth(s) => {
                let b = s.bearer().await?;
                Ok((b.token, Some(b.generation)))
            }
        }
    }

    /// Refuses writes to production portals when the guard is on.
    async fn guard(&self) -> Result<(), ApiError> {
        if !self.inner.settings.production_guard {
            return Ok(());
        }
        let kind = self
            .inner
            .account_type
            .get_or_try_init(|| async {
                let r = self
                    .execute_unguarded(&Call::get(
                        self.v().account_details(),
                        Lane::Interactive,
                        EndpointGroup::Metadata,
                    ))
                    .await?;
                Ok::<_, ApiError>(
                    r.body["accountType"]
                        .as_str()
                        .unwrap_or("UNKNOWN")
                        .to_string(),
                )
            })
            .await?;
        if kind == "DEVELOPER_TEST" || kind == "SANDBOX" {
            Ok(())
        } else {
            Err(ApiError::ProductionGuard {
                account_type: kind.clone(),
            })
        }
    }
}

/// An object type as a path segment, or an `Invalid` error naming the bad value.
fn typed(object_type: &str) -> Result<ObjectType, ApiError> {
    ObjectType::parse(object_type).map_err(|e| ApiError::Invalid(e.to_string()))
}
