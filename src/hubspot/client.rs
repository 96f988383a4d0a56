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

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, StreamExt};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tracing::Instrument;

use super::auth::Credentials;
use super::circuit::{BreakerSettings, BreakerState, CircuitBreaker};
use super::coalesce::{BatchRead, Coalescer};
use super::error::{ApiError, EndpointGroup, HubSpotErrorBody};
use super::limit::{
    Bucket, GovernorSettings, GovernorSnapshot, Lane, LimitError, LocalGovernor, RateGovernor,
    RateObservation, Throttle,
};
use super::metadata::MetadataCache;
use super::model::{
    ApiVersion, AssociatedId, BatchOutcome, CrmObject, Filter, ItemError, Named, ObjectSchema,
    Owner, Pipeline, PropertyDef, SearchPage, SearchQuery, WriteInput,
};
use super::observe::route_of;
use super::path::{ApiPath, AssociationKind, BatchVerb, ObjectType, RecordId};
use super::retry::{classify, Backoff, Outcome, RetryAction, RetryKind, RetryQuota};
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

/// One request to send.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: Method,
    /// Built by [`super::path`], the one place paths are made.
    pub path: ApiPath,
    pub query: Vec<(String, String)>,
    pub body: Option<Value>,
    pub lane: Lane,
    pub group: EndpointGroup,
    pub bucket: Bucket,
    /// Safe to repeat after a 5xx or timeout.
    pub safe: bool,
    /// Writes data (checked by the production guard).
    pub write: bool,
}

impl Call {
    /// A safe GET.
    pub fn get(path: ApiPath, lane: Lane, group: EndpointGroup) -> Self {
        Self {
            method: Method::GET,
            path,
            query: Vec::new(),
            body: None,
            lane,
            group,
            bucket: Bucket::Burst,
            safe: true,
            write: false,
        }
    }

    /// A POST; `safe` and `write` say what it is.
    pub fn post(
        path: ApiPath,
        body: Value,
        lane: Lane,
        group: EndpointGroup,
        safe: bool,
        write: bool,
    ) -> Self {
        Self {
            method: Method::POST,
            path,
            query: Vec::new(),
            body: Some(body),
            lane,
            group,
            bucket: Bucket::Burst,
            safe,
            write,
        }
    }
}

/// A successful answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub correlation_id: Option<String>,
    /// Time spent waiting for the rate governor, over all attempts.
    pub waited: Duration,
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

fn record_call(method: &Method, path: &str, status: Option<u16>, correlation_id: Option<&str>) {
    super::observe::report(super::observe::ObservedCall {
        method: method.to_string(),
        route: route_of(path),
        status,
        correlation_id: correlation_id.map(str::to_string),
    });
}

fn retry_after(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = h
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()?;
    // `inf`, `NaN` or 1e30 from a hostile or broken server must not panic: a day at most
    // (the client caps what it sits through anyway).
    (v >= 0.0).then(|| Duration::try_from_secs_f64(v.min(86_400.0)).unwrap_or_default())
}

const CHUNK: usize = 100;
const ASSOC_CHUNK: usize = 1_000;
const SEARCH_PAGE: usize = 200;
const SEARCH_CAP: usize = 10_000;

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

    /// Sends one call with every policy applied.
    ///
    /// # Errors
    /// [`ApiError`] once retries are exhausted or not allowed.
    pub async fn execute(&self, call: &Call) -> Result<Reply, ApiError> {
        if call.write {
            self.guard().await?;
        }
        self.execute_unguarded(call).await
    }

    async fn execute_unguarded(&self, call: &Call) -> Result<Reply, ApiError> {
        let span = tracing::debug_span!("hubspot", route = %route_of(call.path.as_str()), method = %call.method, lane = ?call.lane, status = tracing::field::Empty, attempt = tracing::field::Empty, waited_ms = tracing::field::Empty, correlation_id = tracing::field::Empty);
        self.attempts(call).instrument(span).await
    }

    /// One call, attempt after attempt, in named steps: [`admit`](Self::admit) (breaker and
    /// governor), [`send`](Self::send), [`read_answer`](Self::read_answer) (headers learned,
    /// the call reported to observers), then [`decode`](Self::decode) a success or classify a
    /// failure ([`transport_failure`](Self::transport_failure),
    /// [`refusal`](Self::refusal)), and [`settle`](Self::settle) it: retry after a pause,
    /// refresh the token and replay once, or give up.
    async fn attempts(&self, call: &Call) -> Result<Reply, ApiError> {
        let url = format!("{}{}", self.inner.settings.base_url, call.path);
        let mut run = Run::default();
        loop {
            let slot = self.admit(call, &mut run).await?;
            let (token, generation) = self.bearer().await?;
            let sent = self.send(call, &url, &token, &run).await;
            // The slot is held until HubSpot answers (or the attempt is dropped mid-flight).
            drop(slot);
            let failed = match sent {
                Err(e) => self.transport_failure(call, e, run.attempt),
                Ok(res) => match self.read_answer(call, res, run.attempt).await {
                    Err(broke_off) => broke_off,
                    Ok(answer) if answer.is_success() => return self.decode(call, answer, &run),
                    Ok(answer) => self.refusal(call, answer, run.attempt).await,
                },
            };
            self.settle(failed, generation, &mut run).await?;
        }
    }

    /// Step 1: the breaker admits the call and the governor gives it a slot.
    async fn admit(&self, call: &Call, run: &mut Run) -> Result<Slot<'_>, ApiError> {
        let inner = &self.inner;
        inner.breakers[&call.group]
            .admit()
            .map_err(|r| ApiError::CircuitOpen {
                group: call.group,
                retry_in: r.retry_in,
                last_failure: r.last_failure,
            })?;
        run.waited += inner
            .governor
            .acquire(call.lane, call.bucket)
            .await
            .map_err(|LimitError::DailyExhausted(d)| ApiError::DailyLimit {
                resets_in: d,
                correlation_id: None,
            })?;
        Ok(Slot {
            governor: &*inner.governor,
            bucket: call.bucket,
        })
    }

    /// Step 2: one HTTP request.
    async fn send(
        &self,
        call: &Call,
        url: &str,
        token: &SecretString,
        run: &Run,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let inner = &self.inner;
        inner.metrics.requests.fetch_add(1, Ordering::Relaxed);
        let mut req = inner
            .http
            .request(call.method.clone(), url)
            .bearer_auth(token.expose_secret())
            .timeout(Duration::from_millis(inner.settings.timeout_ms));
        if !call.query.is_empty() {
            req = req.query(&call.query);
        }
        if let Some(b) = &call.body {
            req = req.json(b);
        }
        let span = tracing::Span::current();
        span.record("attempt", run.attempt);
        span.record("waited_ms", run.waited.as_millis() as u64);
        inner
            .metrics
            .waited_us
            .fetch_add(run.waited.as_micros() as u64, Ordering::Relaxed);
        req.send().await
    }

    /// Step 3a: no answer (timeout, refused or dropped connection).
    fn transport_failure(&self, call: &Call, e: reqwest::Error, attempt: u32) -> Failed {
        let path = call.path.to_string();
        let (outcome, error) = if e.is_timeout() {
            let after = Duration::from_millis(self.inner.settings.timeout_ms);
            let retried = attempt > 0;
            (
                Outcome::Timeout,
                ApiError::Timeout {
                    path,
                    after,
                    retried,
                },
            )
        } else {
            let outcome = if e.is_connect() {
                Outcome::ConnectFailed
            } else {
                Outcome::Dropped
            };
            let message = e.without_url().to_string();
            let retried = attempt > 0;
            (
                outcome,
                ApiError::Transport {
                    path,
                    message,
                    retried,
                },
            )
        };
        self.inner.breakers[&call.group].failure(&error.to_string());
        record_call(&call.method, call.path.as_str(), None, None);
        Failed {
            action: classify(&outcome, call.safe),
            error,
        }
    }

    /// Step 3b: an answer: the call is reported, rate headers are learned, the body is read.
    async fn read_answer(
        &self,
        call: &Call,
        res: reqwest::Response,
        attempt: u32,
    ) -> Result<Answer, Failed> {
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let correlation_id = headers
            .get("x-hubspot-correlation-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let span = tracing::Span::current();
        span.record("status", status);
        if let Some(c) = &correlation_id {
            span.record("correlation_id", c.as_str());
        }
        record_call(
            &call.method,
            call.path.as_str(),
            Some(status),
            correlation_id.as_deref(),
        );
        if call.bucket == Bucket::Burst {
            self.inner
                .governor
                .observe(Bucket::Burst, &RateObservation::from_headers(&headers));
        }
        match res.bytes().await {
            Ok(bytes) => Ok(Answer {
                status,
                headers,
                correlation_id,
                bytes,
            }),
            Err(e) => {
                let error = ApiError::Transport {
                    path: call.path.to_string(),
                    message: format!("the answer broke off: {}", e.without_url()),
                    retried: attempt > 0,
                };
                self.inner.breakers[&call.group].failure(&error.to_string());
                Err(Failed {
                    action: classify(&Outcome::Dropped, call.safe),
                    error,
                })
            }
        }
    }

    /// Step 4a: a 2xx: the breaker and the retry quota hear of it; the body is decoded.
    fn decode(&self, call: &Call, answer: Answer, run: &Run) -> Result<Reply, ApiError> {
        self.inner.breakers[&call.group].success();
        self.inner.quota.refund();
        let body = if answer.bytes.is_empty() {
            Value::Null
        } else {
            let de = &mut serde_json::Deserializer::from_slice(&answer.bytes);
            serde_path_to_error::deserialize(de).map_err(|e| ApiError::Decode {
                path: call.path.to_string(),
                at: e.path().to_string(),
                message: e.inner().to_string(),
                correlation_id: answer.correlation_id.clone(),
            })?
        };
        Ok(Reply {
            status: answer.status,
            body,
            correlation_id: answer.correlation_id,
            waited: run.waited,
        })
    }

    /// Step 4b: HubSpot refused: the error body is read, a 429 tells the governor, the breaker
    /// counts HubSpot's faults (not the request's), and the failure is classified.
    async fn refusal(&self, call: &Call, answer: Answer, attempt: u32) -> Failed {
        let inner = &self.inner;
        let breaker = &inner.breakers[&call.group];
        let Answer {
            status,
            headers,
            correlation_id,
            bytes,
        } = answer;
        let mut body: HubSpotErrorBody =
            serde_json::from_slice(&bytes).unwrap_or_else(|_| HubSpotErrorBody {
                message: String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
                    .trim()
                    .to_string(),
                ..Default::default()
            });
        if body.correlation_id.is_none() {
            body.correlation_id = correlation_id;
        }
        let ra = retry_after(&headers);
        let policy = body.policy_name.clone();
        if status == 429 {
            inner.metrics.throttled.fetch_add(1, Ordering::Relaxed);
            let t = match policy.as_deref() {
                Some("DAILY") => Throttle::Daily { retry_after: ra },
                Some("SECONDLY") => Throttle::Secondly { retry_after: ra },
                _ if call.bucket == Bucket::Search => Throttle::Secondly { retry_after: ra },
                _ => Throttle::Burst { retry_after: ra },
            };
            inner.governor.throttled(t);
            breaker.failure(&format!("429 {}", policy.as_deref().unwrap_or("")));
        } else if status >= 500 || status == 423 || status == 477 {
            breaker.failure(&format!("{status} {}", body.message));
        } else {
            // The request's own fault (4xx): HubSpot is healthy.
            breaker.success();
        }
        let action = classify(
            &Outcome::Status {
                status,
                category: body.category.as_deref(),
                policy: policy.as_deref(),
                retry_after: ra,
            },
            call.safe,
        );
        let error = if status == 429 && policy.as_deref() == Some("DAILY") {
            // How long until the daily budget resets, as the governor now knows it.
            let resets_in = match inner
                .governor
                .acquire(Lane::Interactive, Bucket::Burst)
                .await
            {
                Err(LimitError::DailyExhausted(d)) => d,
                Ok(_) => {
                    inner.governor.release(Bucket::Burst);
                    ra.unwrap_or_default()
                }
            };
            ApiError::DailyLimit {
                resets_in,
                correlation_id: body.correlation_id.clone(),
            }
        } else if status == 429 {
            ApiError::RateLimited {
                policy: policy.unwrap_or_else(|| "unknown".into()),
                attempts: attempt + 1,
                correlation_id: body.correlation_id.clone(),
            }
        } else {
            ApiError::Http {
                status,
                path: call.path.to_string(),
                body,
            }
        };
        Failed { action, error }
    }

    /// Step 5: what a failure leads to: `Ok` to try again (after a pause, or a token refresh
    /// and one replay), the error when no retry is allowed.
    async fn settle(
        &self,
        failed: Failed,
        generation: Option<u64>,
        run: &mut Run,
    ) -> Result<(), ApiError> {
        let inner = &self.inner;
        let Failed { action, error } = failed;
        let retry = match action {
            RetryAction::Stop => false,
            RetryAction::RefreshAndReplay => match (&inner.creds, run.replayed) {
                (Credentials::OAuth(session), false) => {
                    run.replayed = true;
                    inner.metrics.auth_replays.fetch_add(1, Ordering::Relaxed);
                    session.refresh(generation).await?;
                    true
                }
                _ => false,
            },
            action => {
                self.pause(action, &mut run.attempt, inner.settings.backoff)
                    .await
            }
        };
        if retry {
            Ok(())
        } else {
            inner.metrics.failures.fetch_add(1, Ordering::Relaxed);
            Err(error)
        }
    }

    /// Waits before a retry; `false` when no retry is allowed (attempts, quota, wait too long).
    async fn pause(&self, action: RetryAction, attempt: &mut u32, backoff: Backoff) -> bool {
        if *attempt + 1 >= backoff.max_attempts {
            return false;
        }
        let wait = match action {
            RetryAction::RetryAfter(d) => {
                if d > Duration::from_millis(backoff.max_retry_after_ms)
                    || !self.inner.quota.try_spend(RetryKind::Throttled)
                {
                    return false;
                }
                d
            }
            RetryAction::Backoff(kind) => {
                if !self.inner.quota.try_spend(kind) {
                    tracing::warn!("retry quota empty: returning the failure instead of retrying");
                    return false;
                }
                backoff.delay(*attempt, &mut rand::thread_rng())
            }
            _ => return false,
        };
        self.inner.metrics.retries.fetch_add(1, Ordering::Relaxed);
        *attempt += 1;
        tokio::time::sleep(wait).await;
        true
    }

    /// Runs calls with up to four in flight, answers in order.
    async fn run_all(&self, calls: Vec<Call>) -> Vec<Result<Reply, ApiError>> {
        stream::iter(calls)
            .map(|call| async move { self.execute(&call).await })
            .buffered(4)
            .collect()
            .await
    }

    /// Sends and decodes.
    ///
    /// # Errors
    /// As [`execute`](Self::execute), or a decode error naming the JSON path.
    pub async fn fetch<T: DeserializeOwned>(&self, call: &Call) -> Result<T, ApiError> {
        let reply = self.execute(call).await?;
        serde_path_to_error::deserialize(reply.body).map_err(|e| ApiError::Decode {
            path: call.path.to_string(),
            at: e.path().to_string(),
            message: e.inner().to_string(),
            correlation_id: reply.correlation_id,
        })
    }

    // ---- objects -------------------------------------------------------------------------

    /// One record by id, coalesced with concurrent reads of the same type into batch reads.
    ///
    /// # Errors
    /// As [`batch_read`](Self::batch_read).
    pub async fn get_object(
        &self,
        lane: Lane,
        object_type: &str,
        id: &str,
        properties: &[String],
    ) -> Result<Option<CrmObject>, ApiError> {
        self.inner
            .coalescer
            .get(self, lane, object_type, id, properties)
            .await
    }

    /// Reads any number of records, 100 per request; missing ids are reported per id.
    ///
    /// # Errors
    /// When a chunk fails outright.
    pub async fn batch_read(
        &self,
        lane: Lane,
        object_type: &str,
        ids: &[String],
        properties: &[String],
        id_property: Option<&str>,
    ) -> Result<BatchOutcome, ApiError> {
        let path = self
            .v()
            .objects_batch(&typed(object_type)?, BatchVerb::Read);
        let calls: Vec<Call> = ids
            .chunks(CHUNK)
            .map(|chunk| {
                let mut body = json!({"inputs": chunk.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(), "properties": properties});
                if let Some(p) = id_property {
                    body["idProperty"] = json!(p);
                }
                Call::post(path.clone(), body, lane, EndpointGroup::Objects, true, false)
            })
            .collect();
        let replies = self.run_all(calls).await;
        let mut out = BatchOutcome {
            results: Vec::new(),
            errors: Vec::new(),
            requests: replies.len(),
        };
        for r in replies {
            let r = r?;
            collect_batch(&r.body, &mut out, None)?;
        }
        Ok(out)
    }

    /// Creates, updates or upserts any number of records, 100 per request. Every input carries
    /// an `objectWriteTraceId` (its index), which makes the write safe to retry and turns
    /// partial failure into per-input errors.
    ///
    /// # Errors
    /// When a chunk fails outright (every input in it failed validation, auth, …).
    pub async fn batch_write(
        &self,
        lane: Lane,
        object_type: &str,
        op: WriteOp,
        inputs: &[WriteInput],
    ) -> Result<BatchOutcome, ApiError> {
        if op == WriteOp::Upsert
            && inputs
                .iter()
                .any(|i| i.id_property.is_none() || i.id.is_none())
        {
            return Err(ApiError::Invalid(
                "upsert inputs need id (the unique value) and idProperty".into(),
            ));
        }
        let path = self.v().objects_batch(&typed(object_type)?, op.verb());
        let indexed: Vec<(usize, &WriteInput)> = inputs.iter().enumerate().collect();
        let calls: Vec<Call> = indexed
            .chunks(CHUNK)
            .map(|chunk| {
                let body = json!({"inputs": chunk.iter().map(|(i, w)| {
                    let mut v = serde_json::to_value(w).unwrap_or_default();
                    v["objectWriteTraceId"] = json!(i.to_string());
                    v
                }).collect::<Vec<_>>()});
                // A create retried after an ambiguous failure (a 5xx, a timeout) may create
                // the records twice; updates and upserts are idempotent.
                let safe = op != WriteOp::Create;
                Call::post(path.clone(), body, lane, EndpointGroup::Objects, safe, true)
            })
            .collect();
        let replies = self.run_all(calls).await;
        let mut out = BatchOutcome {
            results: Vec::new(),
            errors: Vec::new(),
            requests: replies.len(),
        };
        for r in replies {
            collect_batch(&r?.body, &mut out, Some(()))?;
        }
        Ok(out)
    }

    /// Archives any number of records, 100 per request.
    ///
    /// # Errors
    /// When a chunk fails.
    pub async fn batch_archive(
        &self,
        lane: Lane,
        object_type: &str,
        ids: &[String],
    ) -> Result<usize, ApiError> {
        let path = self
            .v()
            .objects_batch(&typed(object_type)?, BatchVerb::Archive);
        let mut requests = 0;
        for chunk in ids.chunks(CHUNK) {
            let body =
                json!({"inputs": chunk.iter().map(|id| json!({"id": id})).collect::<Vec<_>>()});
            // Archiving twice is harmless, so it is safe to retry.
            self.execute(&Call::post(
                path.clone(),
                body,
                lane,
                EndpointGroup::Objects,
                true,
                true,
            ))
            .await?;
            requests += 1;
        }
        Ok(requests)
    }

    /// Every record of a type through the list endpoint (100 per page, following `after`).
    ///
    /// # Errors
    /// When a page fails.
    pub async fn list_all(
        &self,
        lane: Lane,
        object_type: &str,
        properties: &[String],
    ) -> Result<(Vec<CrmObject>, usize), ApiError> {
        let path = self.v().objects(&typed(object_type)?);
        let mut after: Option<String> = None;
        let mut out = Vec::new();
        let mut requests = 0;
        loop {
            let mut call = Call::get(path.clone(), lane, EndpointGroup::Objects);
            call.query.push(("limit".into(), "100".into()));
            if !properties.is_empty() {
                call.query.push(("properties".into(), properties.join(",")));
            }
            if let Some(a) = &after {
                call.query.push(("after".into(), a.clone()));
            }
            let page: ListPage = self.fetch(&call).await?;
            requests += 1;
            out.extend(page.results);
            match page.paging.and_then(|p| p.next) {
                Some(n) => after = Some(n.after),
                None => return Ok((out, requests)),
            }
        }
    }

    /// One search page.
    ///
    /// # Errors
    /// HubSpot's validation errors (limits, unknown properties) and transport failures.
    pub async fn search(
        &self,
        lane: Lane,
        object_type: &str,
        query: &SearchQuery,
    ) -> Result<SearchPage, ApiError> {
        let mut call = Call::post(
            self.v().search(&typed(object_type)?),
            query.to_body(),
            lane,
            EndpointGroup::Search,
            true,
            false,
        );
        call.bucket = Bucket::Search;
        self.fetch(&call).await
    }

    /// Every record matching `filters`, past the 10,000-result cap (sorted by id; restarts
    /// above the last id seen), all in memory. For large types use [`search_pages`]
    /// (Self::search_pages), which holds one page at a time.
    ///
    /// # Errors
    /// When a request fails.
    pub async fn search_all(
        &self,
        lane: Lane,
        object_type: &str,
        filters: &[Filter],
        properties: &[String],
    ) -> Result<(Vec<CrmObject>, usize), ApiError> {
        let mut pages = self.search_pages(lane, object_type, filters, properties);
        let mut out = Vec::new();
        while let Some(page) = pages.next_page().await? {
            out.extend(page);
        }
        Ok((out, pages.requests()))
    }

    /// The pages of [`search_all`](Self::search_all), one at a time, in ascending id order.
    pub fn search_pages(
        &self,
        lane: Lane,
        object_type: &str,
        filters: &[Filter],
        properties: &[String],
    ) -> SearchPages {
        SearchPages {
            client: self.clone(),
            lane,
            object_type: object_type.to_string(),
            filters: filters.to_vec(),
            properties: properties.to_vec(),
            above: None,
            after: None,
            requests: 0,
            done: false,
        }
    }

    /// Associated ids for many records: 1,000 ids per request, each input paged on its own.
    ///
    /// # Errors
    /// When a request fails.
    pub async fn associations(
        &self,
        lane: Lane,
        from: &str,
        to: &str,
        ids: &[String],
    ) -> Result<(HashMap<String, Vec<AssociatedId>>, usize), ApiError> {
        let path = self.v().associations_batch_read(&typed(from)?, &typed(to)?);
        let mut out: HashMap<String, Vec<AssociatedId>> =
            ids.iter().map(|i| (i.clone(), Vec::new())).collect();
        let mut pending: Vec<(String, Option<String>)> =
            ids.iter().map(|i| (i.clone(), None)).collect();
        let mut requests = 0;
        while !pending.is_empty() {
            let take = pending.len().min(ASSOC_CHUNK);
            let chunk: Vec<(String, Option<String>)> = pending.drain(..take).collect();
            let inputs: Vec<Value> = chunk
                .iter()
                .map(|(id, after)| match after {
                    Some(a) => json!({"id": id, "after": a}),
                    None => json!({"id": id}),
                })
                .collect();
            let reply = self
                .execute(&Call::post(
                    path.clone(),
                    json!({"inputs": inputs}),
                    lane,
                    EndpointGroup::Associations,
                    true,
                    false,
                ))
                .await?;
            requests += 1;
            let page: AssocPage =
                serde_path_to_error::deserialize(reply.body).map_err(|e| ApiError::Decode {
                    path: path.to_string(),
                    at: e.path().to_string(),
                    message: e.inner().to_string(),
                    correlation_id: reply.correlation_id,
                })?;
            for r in page.results {
                let from_id = r.from.id;
                if let Some(next) = r.paging.and_then(|p| p.next) {
                    pending.push((from_id.clone(), Some(next.after)));
                }
                out.entry(from_id).or_default().extend(r.to);
            }
        }
        Ok((out, requests))
    }

    /// `GET /account-info/…/details`.
    ///
    /// # Errors
    /// As [`execute`](Self::execute).
    pub async fn account_details(&self, lane: Lane) -> Result<Value, ApiError> {
        Ok(self
            .execute(&Call::get(
                self.v().account_details(),
                lane,
                EndpointGroup::Metadata,
            ))
            .await?
            .body)
    }

    /// Associates two records: HubSpot's default association, or a labelled one
    /// (`(category, type id)`, as the portal's label definitions give them). Idempotent.
    ///
    /// # Errors
    /// As [`execute`](Self::execute).
    pub async fn associate(
        &self,
        lane: Lane,
        (from, id): (&ObjectType, &RecordId),
        (to, to_id): (&ObjectType, &RecordId),
        label: Option<(&str, u32)>,
    ) -> Result<(), ApiError> {
        let kind = match label {
            None => AssociationKind::Default,
            Some(_) => AssociationKind::Labelled,
        };
        let call = Call {
            method: Method::PUT,
            path: self.v().association(from, id, to, to_id, kind),
            query: Vec::new(),
            body: label.map(|(category, type_id)| {
                json!([{"associationCategory": category, "associationTypeId": type_id}])
            }),
            lane,
            group: EndpointGroup::Associations,
            bucket: Bucket::Burst,
            safe: true,
            write: true,
        };
        self.execute(&call).await.map(drop)
    }

    /// Creates one record with `properties`, associated (HubSpot-defined type `type_id`) to
    /// `to` when given. Not retried after an ambiguous failure (a create is not idempotent).
    ///
    /// # Errors
    /// As [`execute`](Self::execute).
    pub async fn create_one(
        &self,
        lane: Lane,
        object_type: &ObjectType,
        properties: Value,
        to: Option<(RecordId, u32)>,
    ) -> Result<CrmObject, ApiError> {
        let associations = match to {
            Some((id, type_id)) => {
                json!([{"to": {"id": id.as_str()}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}]}])
            }
            None => json!([]),
        };
        let call = Call::post(
            self.v().objects(object_type),
            json!({"properties": properties, "associations": associations}),
            lane,
            EndpointGroup::Objects,
            false,
            true,
        );
        self.fetch(&call).await
    }

    // ---- metadata (cached) -----------------------------------------------------------------

    /// A GET served from the metadata cache while fresh (one fetch per key, single-flight).
    async fn cached_get(&self, key: String, path: ApiPath) -> Result<Value, ApiError> {
        self.inner
            .metadata
            .get_or_fetch(&key, || async move {
                Ok(self
                    .execute(&Call::get(path, Lane::Interactive, EndpointGroup::Metadata))
                    .await?
                    .body)
            })
            .await
    }

    /// Refetches every cached metadata entry now (on demand). Returns how many were refreshed.
    ///
    /// # Errors
    /// The first fetch that fails; entries already refreshed stay refreshed.
    pub async fn refresh_metadata(&self) -> Result<usize, ApiError> {
        // Each entry is refetched in place: until its new value arrives, and if it fails to,
        // the old one keeps serving.
        let keys = self.inner.metadata.keys();
        for key in &keys {
            let path = match key.split_once(':') {
                Some(("properties", t)) => self.v().properties(&typed(t)?),
                Some(("pipelines", t)) => self.v().pipelines(&typed(t)?),
                Some(("labels", pair)) => match pair.split_once(':') {
                    Some((from, to)) => self.v().association_labels(&typed(from)?, &typed(to)?),
                    None => continue,
                },
                _ if key == "schemas" => self.v().schemas(),
                _ if key == "owners" => {
                    self.inner
                        .metadata
                        .refresh(key, || async { self.fetch_owners().await })
                        .await?;
                    continue;
                }
                _ => continue,
            };
            self.inner
                .metadata
                .refresh(key, || async move {
                    Ok(self
                        .execute(&Call::get(path, Lane::Background, EndpointGroup::Metadata))
                        .await?
                        .body)
                })
                .await?;
        }
        Ok(keys.len())
    }

    /// Refreshes cached metadata on a schedule (the cache's freshness period, 15 minutes by
    /// default), in the background lane's spirit: failures are logged and retried next time.
    pub async fn refresh_metadata_forever(self) {
        let period = self.inner.metadata.ttl();
        loop {
            tokio::time::sleep(period).await;
            if let Err(e) = self.refresh_metadata().await {
                tracing::warn!(error = %e, "scheduled metadata refresh failed; cached values are refetched on next use");
            }
        }
    }

    /// Property definitions of a type, from the cache while fresh.
    ///
    /// # Errors
    /// When a fetch is needed and fails.
    pub async fn properties(&self, object_type: &str) -> Result<Vec<PropertyDef>, ApiError> {
        let path = self.v().properties(&typed(object_type)?);
        let raw = self
            .cached_get(format!("properties:{object_type}"), path.clone())
            .await?;
        metadata_list(&path, raw)
    }

    /// Association types (labels) between two object types, from the cache while fresh.
    ///
    /// # Errors
    /// When a fetch is needed and fails.
    pub async fn association_labels(&self, from: &str, to: &str) -> Result<Value, ApiError> {
        let path = self.v().association_labels(&typed(from)?, &typed(to)?);
        self.cached_get(format!("labels:{from}:{to}"), path).await
    }

    /// Pipelines of a type, from the cache while fresh.
    ///
    /// # Errors
    /// When a fetch is needed and fails.
    pub async fn pipelines(&self, object_type: &str) -> Result<Vec<Pipeline>, ApiError> {
        let path = self.v().pipelines(&typed(object_type)?);
        let raw = self
            .cached_get(format!("pipelines:{object_type}"), path.clone())
            .await?;
        metadata_list(&path, raw)
    }

    /// Custom-object schemas, from the cache while fresh.
    ///
    /// # Errors
    /// When a fetch is needed and fails.
    pub async fn schemas(&self) -> Result<Vec<ObjectSchema>, ApiError> {
        let path = self.v().schemas();
        let raw = self.cached_get("schemas".to_string(), path.clone()).await?;
        metadata_list(&path, raw)
    }

    /// Every owner (all pages), from the cache while fresh.
    ///
    /// # Errors
    /// When a fetch is needed and fails.
    pub async fn owners(&self) -> Result<Vec<Owner>, ApiError> {
        let raw = self
            .inner
            .metadata
            .get_or_fetch("owners", || async move { self.fetch_owners().await })
            .await?;
        metadata_list(&self.v().owners(), raw)
    }

    /// Every owner, all pages, from HubSpot.
    async fn fetch_owners(&self) -> Result<Value, ApiError> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut call = Call::get(
                self.v().owners(),
                Lane::Interactive,
                EndpointGroup::Metadata,
            );
            call.query.push(("limit".into(), "500".into()));
            if let Some(a) = &after {
                call.query.push(("after".into(), a.clone()));
            }
            let body = self.execute(&call).await?.body;
            all.extend(body["results"].as_array().cloned().unwrap_or_default());
            match body["paging"]["next"]["after"].as_str() {
                Some(a) => after = Some(a.to_string()),
                None => break,
            }
        }
        Ok(json!({"results": all}))
    }
}

/// Batch write operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOp {
    Create,
    Update,
    Upsert,
}

impl WriteOp {
    fn verb(self) -> BatchVerb {
        match self {
            Self::Create => BatchVerb::Create,
            Self::Update => BatchVerb::Update,
            Self::Upsert => BatchVerb::Upsert,
        }
    }
}

/// A search read page by page (see [`HubSpotClient::search_pages`]).
#[derive(Debug)]
pub struct SearchPages {
    client: HubSpotClient,
    lane: Lane,
    object_type: String,
    filters: Vec<Filter>,
    properties: Vec<String>,
    /// Restart point past the 10,000 cap: records with a larger id.
    above: Option<String>,
    after: Option<String>,
    requests: usize,
    done: bool,
}

impl SearchPages {
    /// The next page; `None` after the last.
    ///
    /// # Errors
    /// When a request fails (the cursor can be polled again to retry that page).
    pub async fn next_page(&mut self) -> Result<Option<Vec<CrmObject>>, ApiError> {
        if self.done {
            return Ok(None);
        }
        let mut group = self.filters.clone();
        if let Some(last) = &self.above {
            group.push(Filter::new("hs_object_id", "GT", last.clone()));
        }
        let q = SearchQuery {
            filter_groups: vec![group],
            properties: self.properties.clone(),
            sort: Some(("hs_object_id".into(), false)),
            limit: SEARCH_PAGE,
            after: self.after.clone(),
            query: None,
        };
        let page = self.client.search(self.lane, &self.object_type, &q).await?;
        self.requests += 1;
        let got = page.results.len();
        match page.paging.and_then(|p| p.next) {
            Some(n)
                if n.after
                    .parse::<usize>()
                    .is_ok_and(|a| a + SEARCH_PAGE <= SEARCH_CAP) =>
            {
                self.after = Some(n.after);
            }
            Some(_) if got > 0 => {
                // The next page would cross the cap: restart above the last id.
                self.above = page.results.last().map(|o| o.id.clone());
                self.after = None;
            }
            _ => self.done = true,
        }
        Ok(Some(page.results))
    }

    /// Search requests spent so far.
    pub fn requests(&self) -> usize {
        self.requests
    }
}

/// Where a call's attempts stand.
#[derive(Debug, Default)]
struct Run {
    attempt: u32,
    /// The token was refreshed and the call replayed once already.
    replayed: bool,
    /// Time spent waiting for the governor, over every attempt.
    waited: Duration,
}

/// HubSpot's answer, read.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    correlation_id: Option<String>,
    bytes: bytes::Bytes,
}

impl Answer {
    fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A failed attempt: what to do about it, and the error to return if nothing is done.
struct Failed {
    action: RetryAction,
    error: ApiError,
}

/// A governor slot taken for one attempt; released when the attempt ends, however it ends.
struct Slot<'a> {
    governor: &'a dyn RateGovernor,
    bucket: Bucket,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.governor.release(self.bucket);
    }
}

/// A cached metadata answer, decoded: `{"results": [...]}` into typed definitions, or a
/// `Decode` error naming the JSON path that did not fit.
fn metadata_list<T: DeserializeOwned + Named>(
    path: &ApiPath,
    raw: Value,
) -> Result<Vec<T>, ApiError> {
    serde_path_to_error::deserialize::<_, super::model::Results<T>>(raw)
        .map(|r| {
            r.results
                .into_iter()
                .filter(|x| !x.name().is_empty())
                .collect()
        })
        .map_err(|e| ApiError::Decode {
            path: path.to_string(),
            at: e.path().to_string(),
            message: e.inner().to_string(),
            correlation_id: None,
        })
}

/// An object type as a path segment, or an `Invalid` error naming the bad value.
fn typed(object_type: &str) -> Result<ObjectType, ApiError> {
    ObjectType::parse(object_type).map_err(|e| ApiError::Invalid(e.to_string()))
}

#[derive(Debug, Deserialize)]
struct ListPage {
    results: Vec<CrmObject>,
    #[serde(default)]
    paging: Option<super::model::Paging>,
}

#[derive(Debug, Deserialize)]
struct AssocPage {
    #[serde(default)]
    results: Vec<AssocResult>,
}

#[derive(Debug, Deserialize)]
struct AssocResult {
    from: FromId,
    #[serde(default)]
    to: Vec<AssociatedId>,
    #[serde(default)]
    paging: Option<super::model::Paging>,
}

#[derive(Debug, Deserialize)]
struct FromId {
    #[serde(deserialize_with = "string_or_number")]
    id: String,
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        v => Err(serde::de::Error::custom(format!(
            "expected an id, found {v}"
        ))),
    }
}

/// Folds one batch response (200 or 207) into the outcome.
fn collect_batch(body: &Value, out: &mut BatchOutcome, traced: Option<()>) -> Result<(), ApiError> {
    if body.is_null() {
        return Ok(());
    }
    let results: Vec<CrmObject> =
        serde_json::from_value(body["results"].clone()).map_err(|e| ApiError::Decode {
            path: "batch".into(),
            at: "results".into(),
            message: e.to_string(),
            correlation_id: None,
        })?;
    out.results.extend(results);
    for e in body["errors"].as_array().into_iter().flatten() {
        let ctx = &e["context"];
        let index = traced
            .and(ctx["objectWriteTraceId"][0].as_str())
            .and_then(|t| t.parse().ok());
        let ids: Vec<String> = ctx["ids"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let mut message = e["message"].as_str().unwrap_or_default().to_string();
        if let Some(first) = e["errors"][0]["message"].as_str() {
            if !message.contains(first) {
                message = format!("{message} ({first})");
            }
        }
        out.errors.push(ItemError {
            index,
            ids,
            category: e["category"].as_str().unwrap_or("ERROR").to_string(),
            message,
        });
    }
    Ok(())
}
