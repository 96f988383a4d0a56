//! A faithful local HubSpot: the API every test and benchmark runs against, and the way a
//! newcomer runs the whole product with no HubSpot account.
//!
//! It is as strict as HubSpot, because a kinder simulator would hide exactly the failures this
//! product exists to handle: the same limits, status codes, error bodies and headers
//! (../shared/docs/hubspot-api.md, §17 checklist).
//!
//! # Why a crate of its own
//! It is 40% of the code and changes for different reasons than the product (HubSpot's
//! behaviour, not ours), so it compiles apart and a tool change does not rebuild it. It depends
//! on no product module, only on `hubspot-wire` (clock, signatures, the object-type table),
//! which the product shares; so it cannot bend around the product's types, and anyone can use
//! it as a strict local HubSpot in their own integration tests (`hubspot-sandbox` binary, or
//! [`Sandbox::start`] in-process). The product pulls it in through its default `sandbox`
//! feature for `serve --sandbox`.
//!
//! # Layout
//! - [`cli`]: the flags and run loop shared by `hubspot-sandbox` and `hubspot-mcp sandbox`.
//! - [`gateway`]: correlation ids, faults, auth, scopes, rate limits, error rendering, request log.
//! - [`objects`], [`search`], [`associations`], [`metadata`], [`oauth`]: the routes.
//! - [`store`], [`model`], [`catalog`], [`seed`]: the portal's data.
//! - [`limits`], [`faults`], [`log`], [`webhooks`]: the machinery tests drive and read.
//!
//! # Not modelled
//! See the README's "What the sandbox does not model" section.

pub mod associations;
pub mod catalog;
pub mod cli;
pub mod error;
pub mod faults;
pub mod gateway;
pub mod limits;
pub mod log;
pub mod metadata;
pub mod model;
pub mod oauth;
pub mod objects;
pub mod scopes;
pub mod search;
pub mod seed;
pub mod seed_text;
pub mod store;
pub mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use self::error::HsError;
use self::faults::{FaultSpec, Faults};
use self::limits::{LimitSettings, RateLimits};
use self::log::{LogEntry, LogSummary, RequestLog};
use self::oauth::{OAuthSettings, Registry, StaticToken, TokenKind};
use self::search::SearchLimits;
use self::seed::RecordCounts;
use self::store::Store;
use self::webhooks::{WebhookSender, WebhookSettings};
use hubspot_wire::time::{SharedClock, SystemClock};

/// The kind of app calling the sandbox, which sets its limits (§9a of the API facts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum, Default)]
#[serde(rename_all = "kebab-case")]
pub enum AppKind {
    /// Marketplace OAuth app: 110 per 10 s per account, no daily limit.
    Public,
    /// Private app or service key on Free/Starter: 100 per 10 s, 250,000 a day.
    PrivateStarter,
    /// … on Professional: 190 per 10 s, 625,000 a day.
    #[default]
    PrivatePro,
    /// … on Enterprise: 190 per 10 s, 1,000,000 a day.
    PrivateEnterprise,
    /// With the API limit increase: 250 per 10 s, +1,000,000 a day (on Enterprise).
    ApiAddon,
}

impl AppKind {
    /// Requests per 10-second window.
    pub fn burst(self) -> u32 {
        match self {
            Self::Public => 110,
            Self::PrivateStarter => 100,
            Self::PrivatePro | Self::PrivateEnterprise => 190,
            Self::ApiAddon => 250,
        }
    }

    /// Requests per day, if limited.
    pub fn daily(self) -> Option<u64> {
        match self {
            Self::Public => None,
            Self::PrivateStarter => Some(250_000),
            Self::PrivatePro => Some(625_000),
            Self::PrivateEnterprise => Some(1_000_000),
            Self::ApiAddon => Some(2_000_000),
        }
    }

    /// The limit settings HubSpot applies to this kind.
    pub fn limits(self) -> LimitSettings {
        LimitSettings {
            enabled: true,
            burst_max: self.burst(),
            interval_ms: 10_000,
            daily: self.daily(),
            search_per_second: 5,
            utc_offset_minutes: 0,
            retry_after: false,
        }
    }
}

/// Everything a sandbox can be told. Every field has a HubSpot-faithful default.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SandboxConfig {
    /// Where to listen (`127.0.0.1:0` picks a free port).
    pub addr: SocketAddr,
    /// Seed of the generated data.
    pub seed: u64,
    /// How many records to generate.
    pub records: RecordCounts,
    pub app_kind: AppKind,
    /// Replaces the app kind's limits entirely.
    pub limits_override: Option<LimitSettings>,
    /// Turns every rate limit off (benchmarks of the sandbox itself).
    pub limits_enabled: bool,
    /// Sends `Retry-After` on 429s.
    pub retry_after: bool,
    pub search: SearchLimits,
    /// How long a write takes to become visible to search.
    pub search_lag_ms: i64,
    pub oauth: OAuthSettings,
    /// Static private-app tokens, service keys and static app tokens.
    pub static_tokens: Vec<StaticToken>,
    /// The portal (hub) id.
    pub portal_id: u64,
    /// `accountType` of `/account-info/v3/details` (`SANDBOX`, `DEVELOPER_TEST`, `STANDARD`, …).
    pub account_type: String,
    pub time_zone: String,
    /// Batch size limit (100).
    pub batch_max: usize,
    /// Association batch-read input limit (1,000).
    pub assoc_batch_max: usize,
    /// Associations returned per input per page by batch read.
    pub assoc_page_size: usize,
    /// Maximum list page (100).
    pub list_max_limit: usize,
    /// Full entries kept by the request log (counters are always kept).
    pub log_capacity: usize,
    /// Keep request and response bodies in the log.
    pub log_bodies: bool,
    pub webhooks: WebhookSettings,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: 42,
            records: RecordCounts::default(),
            app_kind: AppKind::default(),
            limits_override: None,
            limits_enabled: true,
            retry_after: false,
            search: SearchLimits::default(),
            search_lag_ms: 0,
            oauth: OAuthSettings {
                client_id: "sandbox-client-id".into(),
                client_secret: "sandbox-client-secret".into(),
                app_id: 4_200_001,
                expires_in_secs: 1_800,
                rotate_refresh_tokens: false,
                allowed_scopes: None,
            },
            static_tokens: Vec::new(),
            portal_id: 62_515,
            account_type: "SANDBOX".into(),
            time_zone: "UTC".into(),
            batch_max: 100,
            assoc_batch_max: 1_000,
            assoc_page_size: 500,
            list_max_limit: 100,
            log_capacity: 10_000,
            log_bodies: true,
            webhooks: WebhookSettings::default(),
        }
    }
}

impl SandboxConfig {
    /// The effective limits.
    pub fn effective_limits(&self) -> LimitSettings {
        let mut l = self
            .limits_override
            .clone()
            .unwrap_or_else(|| self.app_kind.limits());
        l.enabled = l.enabled && self.limits_enabled;
        l.retry_after = l.retry_after || self.retry_after;
        l
    }
}

/// State shared by every route.
#[derive(Debug)]
pub struct Shared {
    pub config: SandboxConfig,
    pub clock: SharedClock,
    pub store: RwLock<Store>,
    pub limits: Mutex<RateLimits>,
    pub faults: Mutex<Faults>,
    pub log: Mutex<RequestLog>,
    pub registry: Mutex<Registry>,
    pub webhooks: WebhookSender,
    pub all_scopes: Vec<String>,
    base_url: String,
}

impl Shared {
    /// The sandbox's base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Runs a mutation under the write lock, then hands its change events to the webhook
    /// sender after the lock is released.
    ///
    /// # Errors
    /// Whatever the mutation returns.
    pub fn mutate<R>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<R, HsError>,
    ) -> Result<R, HsError> {
        let (result, events) = {
            let mut store = self.store.write();
            let r = f(&mut store);
            (r, store.take_events())
        };
        self.webhooks.publish(&events);
        result
    }
}

/// A running sandbox. Dropping it stops the server.
#[derive(Debug)]
pub struct Sandbox {
    shared: Arc<Shared>,
    addr: SocketAddr,
    token: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Sandbox {
    /// Starts a sandbox on the system clock.
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn start(config: SandboxConfig) -> std::io::Result<Self> {
        Self::start_with_clock(config, Arc::new(SystemClock)).await
    }

    /// Starts a sandbox on the given clock (tests pass a `ManualClock`).
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn start_with_clock(
        mut config: SandboxConfig,
        clock: SharedClock,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(config.addr).await?;
        let addr = listener.local_addr()?;
        let base_url = format!("http://{addr}");

        let mut store = Store::new(
            config.portal_id,
            catalog::object_types(),
            catalog::properties(),
            catalog::pipelines(),
            catalog::owners(),
            catalog::association_defs(),
        );
        seed::populate(&mut store, config.seed, config.records);
        store.index_lag_ms = config.search_lag_ms;
        let all_scopes = scopes::all(&store);

        let token = match config
            .static_tokens
            .iter()
            .find(|t| t.kind == TokenKind::PrivateApp)
        {
            Some(t) => t.token.clone(),
            None => {
                let t = format!("pat-na1-{}", uuid::Uuid::new_v4());
                config.static_tokens.push(StaticToken {
                    token: t.clone(),
                    kind: TokenKind::PrivateApp,
                    scopes: None,
                });
                t
            }
        };
        if config.webhooks.client_secret.is_empty() {
            config.webhooks.client_secret = config.oauth.client_secret.clone();
        }
        let webhooks = WebhookSender::start(
            config.webhooks.clone(),
            clock.clone(),
            config.portal_id,
            config.oauth.app_id,
        );
        let shared = Arc::new(Shared {
            limits: Mutex::new(RateLimits::new(config.effective_limits())),
            faults: Mutex::new(Faults::default()),
            log: Mutex::new(RequestLog::new(config.log_capacity, config.log_bodies)),
            registry: Mutex::new(Registry::new(&config.static_tokens)),
            store: RwLock::new(store),
            webhooks,
            all_scopes,
            clock,
            base_url,
            config,
        });
        let router = router(shared.clone());
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(serve(listener, router, rx));
        tracing::info!(%addr, "sandbox listening");
        Ok(Self {
            shared,
            addr,
            token,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A private-app token with every scope.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The clock the sandbox reads.
    pub fn clock(&self) -> SharedClock {
        self.shared.clock.clone()
    }

    /// The shared state (store, limits, log, registry), for assertions.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Installs a fault; returns its id.
    pub fn inject(&self, fault: FaultSpec) -> u64 {
        let now = self.shared.clock.now_ms();
        self.shared.faults.lock().add(fault, now)
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.shared.faults.lock().clear();
    }

    /// Request counters.
    pub fn log_summary(&self) -> LogSummary {
        self.shared.log.lock().summary()
    }

    /// Retained request entries.
    pub fn log_entries(&self) -> Vec<LogEntry> {
        self.shared.log.lock().entries()
    }

    /// Forgets logged requests.
    pub fn clear_log(&self) {
        self.shared.log.lock().clear();
    }

    /// Forgets rate-limit counts.
    pub fn reset_limits(&self) {
        self.shared.limits.lock().reset();
    }

    /// The webhook sender.
    pub fn webhooks(&self) -> &WebhookSender {
        &self.shared.webhooks
    }

    /// Registers another static credential.
    pub fn add_token(&self, token: StaticToken) {
        self.shared.registry.lock().add_static(token);
    }

    /// How many refresh-token grants were served.
    pub fn refresh_grants(&self) -> u64 {
        self.shared.registry.lock().refresh_grants
    }

    /// The seeded topic index of a ticket or note (ground truth for retrieval).
    pub fn topic_of(&self, id: u64) -> Option<usize> {
        self.shared.store.read().topics.get(&id).copied()
    }

    /// Stops serving and waits for the accept loop to end.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn router(shared: Arc<Shared>) -> Router {
    let objects = objects::routes();
    let dated_objects = objects::routes().merge(associations::record_routes());
    Router::new()
        .nest("/crm/v3/objects", objects)
        .nest("/crm/objects/2026-03", dated_objects.clone())
        .nest("/crm/objects/2026-09", dated_objects)
        .nest("/crm/v4/objects", associations::record_routes())
        .nest("/crm/v4/associations", associations::pair_routes())
        .nest("/crm/associations/v4", associations::pair_routes())
        .nest("/crm/associations/2026-03", associations::pair_routes())
        .nest("/crm/v3/properties", metadata::property_routes())
        .nest("/crm/properties/2026-03", metadata::property_routes())
        .nest("/crm-object-schemas/v3/schemas", metadata::schema_routes())
        .nest(
            "/crm-object-schemas/2026-03/schemas",
            metadata::schema_routes(),
        )
        .nest("/crm/v3/schemas", metadata::schema_routes())
        .nest("/crm/v3/owners", metadata::owner_routes())
        .nest("/crm/owners/2026-03", metadata::owner_routes())
        .nest("/crm/v3/pipelines", metadata::pipeline_routes())
        .nest("/crm/pipelines/2026-03", metadata::pipeline_routes())
        .route("/account-info/v3/details", get(metadata::account_details))
        .route(
            "/account-info/2026-03/details",
            get(metadata::account_details),
        )
        .route("/oauth/authorize", get(oauth::authorize))
        .route("/oauth/{version}/token", post(oauth::token))
        .route("/oauth/v3/token/introspect", post(oauth::introspect))
        .route("/oauth/2026-03/token/introspect", post(oauth::introspect))
        .route("/oauth/v3/token/revoke", post(oauth::revoke))
        .route("/oauth/2026-03/token/revoke", post(oauth::revoke))
        .route(
            "/oauth/v1/access-tokens/{token}",
            get(oauth::access_token_info),
        )
        .route(
            "/oauth/v1/refresh-tokens/{token}",
            get(oauth::refresh_token_info).delete(oauth::delete_refresh_token),
        )
        .route(
            "/__sandbox/faults",
            get(admin_faults)
                .post(admin_add_fault)
                .delete(admin_clear_faults),
        )
        .route("/__sandbox/log", get(admin_log).delete(admin_clear_log))
        .route(
            "/__sandbox/webhooks",
            get(admin_webhooks).put(admin_set_webhooks),
        )
        .route("/__sandbox/limits/reset", post(admin_reset_limits))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            gateway::gateway,
        ))
        // Like every listener of the project, a request has a deadline (injected latency
        // included); HubSpot's own edge answers 504 past its limit.
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::GATEWAY_TIMEOUT,
            std::time::Duration::from_secs(300),
        ))
        .with_state(shared)
}

async fn not_found(uri: axum::http::Uri) -> HsError {
    HsError::new(
        StatusCode::NOT_FOUND,
        "OBJECT_NOT_FOUND",
        format!(
            "No route matches {}. Check the path and the API version segment.",
            uri.path()
        ),
    )
}

async fn admin_faults(State(s): State<Arc<Shared>>) -> Response {
    Json(json!({"results": s.faults.lock().list()})).into_response()
}

async fn admin_add_fault(State(s): State<Arc<Shared>>, body: Bytes) -> Result<Response, HsError> {
    let spec: FaultSpec = objects::parse_json(&body)?;
    let now = s.clock.now_ms();
    let id = s.faults.lock().add(spec, now);
    Ok((StatusCode::CREATED, Json(json!({"id": id}))).into_response())
}

async fn admin_clear_faults(State(s): State<Arc<Shared>>) -> Response {
    s.faults.lock().clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn admin_log(
    State(s): State<Arc<Shared>>,
    axum::extract::RawQuery(q): axum::extract::RawQuery,
) -> Response {
    let q = objects::Query::parse(q.as_deref());
    let log = s.log.lock();
    let mut body = json!({"summary": log.summary()});
    if q.flag("entries") {
        body["entries"] = json!(log.entries());
    }
    Json(body).into_response()
}

async fn admin_clear_log(State(s): State<Arc<Shared>>) -> Response {
    s.log.lock().clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn admin_webhooks(State(s): State<Arc<Shared>>) -> Response {
    let st = &s.webhooks.stats;
    use std::sync::atomic::Ordering::Relaxed;
    Json(json!({
        "settings": {"targetUrl": s.webhooks.settings().target_url, "subscriptions": s.webhooks.settings().subscriptions},
        "stats": {"eventsEmitted": st.events_emitted.load(Relaxed), "batchesSent": st.batches_sent.load(Relaxed),
                  "batchesDelivered": st.batches_delivered.load(Relaxed), "batchesAbandoned": st.batches_abandoned.load(Relaxed)},
        "attempts": *s.webhooks.attempts.lock(),
    }))
    .into_response()
}

async fn admin_set_webhooks(
    State(s): State<Arc<Shared>>,
    body: Bytes,
) -> Result<Response, HsError> {
    let mut settings: WebhookSettings = objects::parse_json(&body)?;
    if settings.client_secret.is_empty() {
        settings.client_secret = s.config.oauth.client_secret.clone();
    }
    s.webhooks.configure(settings);
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn admin_reset_limits(State(s): State<Arc<Shared>>) -> Response {
    s.limits.lock().reset();
    StatusCode::NO_CONTENT.into_response()
}

/// The error a service returns to make hyper close the connection without answering.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for Dropped {}

/// The accept loop. Sockets get TCP_NODELAY (Nagle costs ~44 ms per small response on
/// loopback); a response marked [`gateway::DropConnection`] closes the connection unanswered.
async fn serve(listener: TcpListener, router: Router, mut shutdown: oneshot::Receiver<()>) {
    use hyper_util::rt::TokioIo;
    use tower::ServiceExt;
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let router = router.clone();
                conns.spawn(async move {
                    let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let router = router.clone();
                        async move {
                            let res = router.oneshot(req.map(axum::body::Body::new)).await.unwrap_or_else(|e| match e {});
                            if res.extensions().get::<gateway::DropConnection>().is_some() {
                                return Err(Dropped);
                            }
                            Ok::<_, Dropped>(res)
                        }
                    });
                    // Like every listener of the project, a slow or idle client is cut off.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .timer(hyper_util::rt::TokioTimer::new())
                        .header_read_timeout(std::time::Duration::from_secs(60))
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns.abort_all();
}
