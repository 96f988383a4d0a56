//! The streamable-HTTP endpoint (`/mcp`), with the security a network listener needs:
//!
//! - **Bearer tokens**, configured as SHA-256 hashes (never in plain text) and compared in
//!   constant time (`subtle`). A missing or wrong token gets 401 with `WWW-Authenticate`.
//! - **Host and Origin validation** against DNS rebinding: only the configured hosts (loopback
//!   by default) and origins are served; others get 403 (rmcp checks too).
//! - A **body limit** and a **request timeout**; CORS is off (no CORS headers are sent).
//! - **Stateless mode** (JSON responses, no sessions) so replicas can sit behind one balancer.
//! - `/healthz` (the process is up) and `/readyz` (HubSpot, or the sandbox, answers; with
//!   sync, the queue, the record state and the index answer too).
//!
//! Accepted sockets get TCP_NODELAY: without it Nagle adds ~44 ms to every small response.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio_util::sync::CancellationToken;

use super::HubSpotMcp;

/// The header `/healthz` answers with: this server process's random id, which the record
/// that lets the CLI and desktop clients find it names (`app::running`).
pub const INSTANCE_HEADER: &str = "x-hubspot-mcp-instance";

/// HTTP settings.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub addr: SocketAddr,
    /// SHA-256 digests of the accepted bearer tokens. Empty means no authentication, which is
    /// allowed only on loopback addresses.
    pub token_hashes: Vec<[u8; 32]>,
    /// Hosts (`host` or `host:port`) the endpoint answers to.
    pub allowed_hosts: Vec<String>,
    /// Browser origins allowed to call it (empty: requests carrying an Origin are refused).
    pub allowed_origins: Vec<String>,
    pub max_body_bytes: usize,
    pub timeout: Duration,
    /// Stateless JSON mode (default) or sessions with SSE.
    pub stateless: bool,
    /// Header-read (and idle) timeout and the connection cap of the listener.
    pub limits: crate::listener::Limits,
    /// `--stateful`: sessions idle this long are closed.
    pub session_idle: Duration,
    /// `--stateful`: at most this many sessions at once; `initialize` past it gets 503.
    pub max_sessions: usize,
    /// This server process's random id, answered by `/healthz` (see `app::running`).
    pub instance: String,
}

impl HttpOptions {
    /// Loopback defaults on `addr`.
    pub fn loopback(addr: SocketAddr) -> Self {
        Self {
            addr,
            token_hashes: Vec::new(),
            allowed_hosts: vec!["localhost".into(), "127.0.0.1".into(), "[::1]".into()],
            allowed_origins: Vec::new(),
            max_body_bytes: 1024 * 1024,
            timeout: Duration::from_secs(60),
            stateless: true,
            limits: crate::listener::Limits::default(),
            session_idle: Duration::from_secs(120),
            max_sessions: 1_000,
            instance: uuid::Uuid::new_v4().simple().to_string(),
        }
    }
}

/// SHA-256 of a token, as configuration holds it.
pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Parses a hex SHA-256 digest.
///
/// # Errors
/// When it is not 64 hex characters.
pub fn parse_hash(hex_digest: &str) -> Result<[u8; 32], String> {
    let bytes = hex::decode(hex_digest.trim()).map_err(|e| format!("not hex: {e}"))?;
    bytes
        .try_into()
        .map_err(|_| "a SHA-256 digest is 32 bytes (64 hex characters)".to_string())
}

#[derive(Clone)]
struct Guard {
    hashes: Arc<Vec<[u8; 32]>>,
    hosts: Arc<Vec<String>>,
    origins: Arc<Vec<String>>,
}

fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let h = host.to_ascii_lowercase();
    let bare = if h.starts_with('[') {
        h.split(']')
            .next()
            .map(|s| format!("{s}]"))
            .unwrap_or_default()
    } else {
        h.split(':').next().unwrap_or("").to_string()
    };
    allowed
        .iter()
        .any(|a| a.eq_ignore_ascii_case(&h) || a.eq_ignore_ascii_case(&bare))
}

/// Loopback origins (any port) are always allowed, since a page on the user's own machine is
/// already inside the boundary; any other origin must be configured exactly.
fn origin_allowed(origin: &str, allowed: &[String]) -> bool {
    if allowed.iter().any(|o| o.eq_ignore_ascii_case(origin)) {
        return true;
    }
    let Some(rest) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let host = if rest.starts_with('[') {
        rest.split(']')
            .next()
            .map(|s| format!("{s}]"))
            .unwrap_or_default()
    } else {
        rest.split(':').next().unwrap_or("").to_string()
    };
    matches!(
        host.to_ascii_lowercase().as_str(),
        "localhost" | "127.0.0.1" | "[::1]"
    )
}

fn forbidden(msg: &str) -> Response {
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "application/json")],
        format!("{{\"error\":\"forbidden\",\"message\":\"{msg}\"}}"),
    )
        .into_response()
}

async fn guard(State(g): State<Guard>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !host_allowed(host, &g.hosts) {
        return forbidden("the Host header is not one this server answers to (DNS rebinding protection); add it to --allowed-host");
    }
    if let Some(origin) = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    {
        if !origin_allowed(origin, &g.origins) {
            return forbidden("the Origin is not allowed; add it to --allowed-origin");
        }
    }
    if req.uri().path().starts_with("/mcp") && !g.hashes.is_empty() {
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            });
        let ok = presented.is_some_and(|t| {
            let h = hash_token(t.trim());
            g.hashes
                .iter()
                .fold(false, |acc, k| acc | bool::from(k.ct_eq(&h)))
        });
        if !ok {
            let mut r = (StatusCode::UNAUTHORIZED, [(header::CONTENT_TYPE, "application/json")], "{\"error\":\"unauthorized\",\"message\":\"send Authorization: Bearer <token> with a token this server was configured with\"}").into_response();
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"hubspot-mcp\""),
            );
            return r;
        }
    }
    next.run(req).await
}

/// A JSON-RPC error response with HTTP `status`.
fn rpc_error(status: StatusCode, code: i64, message: &str) -> Response {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": null, "error": {"code": code, "message": message}});
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Reads a POSTed MCP body whole (within the limit, chunked or not) and checks that it is
/// JSON before rmcp sees it: an oversized body gets 413 however it is framed, and malformed
/// JSON (invalid UTF-8, truncation, nesting past serde_json's depth limit) gets a JSON-RPC
/// parse error (-32700) with 400, which is what JSON-RPC clients expect, instead of 415.
/// What [`mcp_body`] needs: the body limit, and the session table when sessions are on.
#[derive(Clone)]
struct BodyCheck {
    max: usize,
    sessions: Option<Arc<super::sessions::BoundedSessions>>,
}

async fn mcp_body(State(state): State<BodyCheck>, req: Request, next: Next) -> Response {
    let max = state.max;
    if req.method() != axum::http::Method::POST || !req.uri().path().starts_with("/mcp") {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, max).await {
        Ok(b) => b,
        Err(e) => {
            let inner = e.into_inner();
            let too_big =
                std::iter::successors(Some(&*inner as &(dyn std::error::Error + 'static)), |e| {
                    e.source()
                })
                .any(|e| e.is::<http_body_util::LengthLimitError>());
            return if too_big {
                rpc_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    -32600,
                    &format!("the request body is larger than {max} bytes"),
                )
            } else {
                rpc_error(
                    StatusCode::BAD_REQUEST,
                    -32700,
                    "the request body could not be read",
                )
            };
        }
    };
    // serde_json skips over ignored strings without checking their UTF-8: check it first.
    if let Err(e) = std::str::from_utf8(&bytes) {
        return rpc_error(
            StatusCode::BAD_REQUEST,
            -32700,
            &format!("Parse error: the body is not UTF-8 ({e})"),
        );
    }
    // A full parse (not `IgnoredAny`, which skips nesting without a depth limit): serde_json
    // refuses documents nested deeper than 128 levels.
    let message = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(v) => v,
        Err(e) => {
            return rpc_error(
                StatusCode::BAD_REQUEST,
                -32700,
                &format!("Parse error: {e}"),
            )
        }
    };
    if let Err(why) = well_formed(&message) {
        return rpc_error(
            StatusCode::BAD_REQUEST,
            -32600,
            &format!("Invalid Request: {why}"),
        );
    }
    // An `initialize` past the `--stateful` session cap: 503 (try later), not rmcp's 500.
    if let Some(sessions) = &state.sessions {
        let opens =
            !parts.headers.contains_key("mcp-session-id") && message["method"] == "initialize";
        if opens && !sessions.has_room().await {
            let mut r = rpc_error(
                StatusCode::SERVICE_UNAVAILABLE,
                -32000,
                "this server holds as many MCP sessions as it is set to (--max-sessions); retry later",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            return r;
        }
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

/// One JSON-RPC 2.0 message as MCP allows it: an object (MCP has no batches since
/// 2025-06-18), `"jsonrpc": "2.0"`, an id that is a string or an integer (never null or a
/// fraction), and a method name or a result/error (a client's answer to a server request).
fn well_formed(m: &serde_json::Value) -> Result<(), String> {
    use serde_json::Value;
    let Value::Object(o) = m else {
        return Err(if m.is_array() {
            "batches are not part of MCP; send one JSON-RPC message per request".into()
        } else {
            "a JSON-RPC message is an object".into()
        });
    };
    if o.get("jsonrpc") != Some(&Value::from("2.0")) {
        return Err("\"jsonrpc\" must be \"2.0\"".into());
    }
    match o.get("id") {
        None | Some(Value::String(_)) => {}
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => {}
        Some(other) => {
            return Err(format!(
                "the id must be a string or an integer, not {other}"
            ))
        }
    }
    match (o.get("method"), o.contains_key("result") || o.contains_key("error")) {
        (Some(Value::String(_)), false) => Ok(()),
        (None, true) if o.contains_key("id") => Ok(()),
        (Some(_), false) => Err("\"method\" must be a string".into()),
        _ => Err("a message has a method (a request or notification) or an id with a result or error (a response)".into()),
    }
}

/// How long a readiness answer is reused.
pub const READY_TTL: Duration = Duration::from_secs(15);

/// `/readyz`, answered from the client's own state and a probe cached for `ttl`.
///
/// The probe is one `account-info` call at most every `ttl`, single-flight, whatever the
/// number of callers: readiness is unauthenticated, so it must not spend the HubSpot budget
/// on a caller's say-so; it is one request, never retried. An open circuit breaker answers
/// "not ready" without any call. The answer says "ready" or "not ready", and while the index
/// is being built, how far it is (counts per type, nothing from a record): why HubSpot failed,
/// or why the index state could not be read, goes to the server's log, not to an anonymous
/// caller.
pub struct Readiness {
    client: crate::hubspot::HubSpotClient,
    ttl: Duration,
    last: tokio::sync::Mutex<Option<(tokio::time::Instant, bool)>>,
}

impl Readiness {
    pub fn new(client: crate::hubspot::HubSpotClient, ttl: Duration) -> Self {
        Self {
            client,
            ttl,
            last: tokio::sync::Mutex::new(None),
        }
    }

    /// Is the server ready to serve tool calls?
    pub async fn check(self: &Arc<Self>) -> bool {
        let open = self
            .client
            .metrics()
            .breakers
            .values()
            .any(|(state, _)| *state == crate::hubspot::circuit::BreakerState::Open);
        if open {
            return false;
        }
        // The probe runs in a task of its own: a caller that disconnects mid-probe does not
        // cancel it, so its answer is stored and the next caller reuses it.
        let me = self.clone();
        tokio::spawn(async move { me.cached_probe().await })
            .await
            .unwrap_or(false)
    }

    async fn cached_probe(&self) -> bool {
        // Callers queue here while one probes; they then reuse its answer.
        let mut last = self.last.lock().await;
        if let Some((at, ok)) = *last {
            if at.elapsed() < self.ttl {
                return ok;
            }
        }
        let probe = self.client.probe();
        let ok = match tokio::time::timeout(Duration::from_secs(5), probe).await {
            Ok(Ok(_)) => true,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "readiness probe failed");
                false
            }
            Err(_) => {
                tracing::warn!("readiness probe took longer than 5 s");
                false
            }
        };
        *last = Some((tokio::time::Instant::now(), ok));
        ok
    }
}

/// The router: `/mcp`, `/healthz`, `/readyz`.
pub fn router(server: HubSpotMcp, opts: &HttpOptions, cancel: CancellationToken) -> Router {
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(opts.allowed_hosts.clone())
        .with_allowed_origins(opts.allowed_origins.clone())
        .with_legacy_session_mode(!opts.stateless)
        .with_json_response(opts.stateless)
        .with_max_request_body_bytes(opts.max_body_bytes)
        .with_cancellation_token(cancel);
    let s2 = server.clone();
    let sessions = super::sessions::BoundedSessions::start(opts.max_sessions, opts.session_idle);
    let check = BodyCheck {
        max: opts.max_body_bytes,
        sessions: (!opts.stateless).then(|| sessions.clone()),
    };
    let mcp = StreamableHttpService::new(move || Ok(s2.clone()), sessions, config);
    let g = Guard {
        hashes: Arc::new(opts.token_hashes.clone()),
        hosts: Arc::new(opts.allowed_hosts.clone()),
        origins: Arc::new(opts.allowed_origins.clone()),
    };
    let ready = Arc::new(Readiness::new(server.client().clone(), READY_TTL));
    let index = server.sync.clone();
    let instance = opts.instance.clone();
    Router::new()
        .nest_service("/mcp", mcp)
        .route(
            "/healthz",
            get(move || async move { ([(INSTANCE_HEADER, instance)], "ok") }),
        )
        .route(
            "/readyz",
            get(move || {
                let r = ready.clone();
                let index = index.clone();
                async move {
                    // Tool calls are served while the index is built; the body says how far.
                    let building = match &index {
                        Some(engine) => match engine.readiness().await {
                            Ok(i) if !i.complete => format!("\n{}", i.summary()),
                            Ok(_) => String::new(),
                            Err(e) => {
                                tracing::warn!(error = %e, "the index state cannot be read");
                                String::new()
                            }
                        },
                        None => String::new(),
                    };
                    // Each shared part (queue, record state, index) must answer too.
                    let down: Vec<&str> = match &index {
                        Some(engine) => engine
                            .parts_ready()
                            .await
                            .into_iter()
                            .filter(|(_, ok)| !ok)
                            .map(|(part, _)| part)
                            .collect(),
                        None => Vec::new(),
                    };
                    if !down.is_empty() {
                        return (
                            StatusCode::SERVICE_UNAVAILABLE,
                            format!("not ready: {} unavailable{building}", down.join(", ")),
                        );
                    }
                    if r.check().await {
                        (StatusCode::OK, format!("ready{building}"))
                    } else {
                        (
                            StatusCode::SERVICE_UNAVAILABLE,
                            format!("not ready{building}"),
                        )
                    }
                }
            }),
        )
        .layer(axum::middleware::from_fn_with_state(check, mcp_body))
        .layer(axum::middleware::from_fn_with_state(g, guard))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            opts.max_body_bytes,
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            opts.timeout,
        ))
}

/// Serves until `cancel` fires. `extra` routes (the webhook receiver) are merged outside the
/// bearer-token guard: they authenticate their own callers (HubSpot signs its requests).
///
/// # Errors
/// When the address cannot be bound, or no token is configured on a non-loopback address.
pub async fn serve(
    server: HubSpotMcp,
    opts: HttpOptions,
    extra: Option<Router>,
    cancel: CancellationToken,
    on_bound: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    if opts.token_hashes.is_empty() && !opts.addr.ip().is_loopback() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "refusing to serve without bearer tokens on a non-loopback address; set --http-token-sha256 or HUBSPOT_MCP_HTTP_TOKEN"));
    }
    let listener = tokio::net::TcpListener::bind(opts.addr).await?;
    on_bound(listener.local_addr()?);
    let mut app = router(server, &opts, cancel.clone());
    if let Some(extra) = extra {
        app = extra.merge(app);
    }
    crate::listener::serve(listener, app, opts.limits, async move {
        cancel.cancelled().await;
    })
    .await
}
