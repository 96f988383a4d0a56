//! The gateway every sandbox request passes through, in HubSpot's order:
//! correlation id → injected faults → authentication → scopes → rate limits → route →
//! rate-limit headers → error rendering → request log.
//!
//! Putting this in one middleware keeps the routes free of cross-cutting code, and it means a
//! fault or a 429 is logged and correlated exactly like a real answer.

use std::sync::Arc;
use std::time::Instant;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::error::{render, HsError, PendingError};
use super::faults::FaultKind;
use super::limits::too_many_requests;
use super::log::{mask_path, route_template, LogEntry};
use super::oauth::{bearer, invalid_authentication, Caller, TokenKind};
use super::Shared;

/// Marks a response whose connection must be dropped without an answer.
#[derive(Debug, Clone, Copy)]
pub struct DropConnection;

/// How a path is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// `/__sandbox/*`: the sandbox's own admin surface, no auth, no faults.
    Admin,
    /// OAuth endpoints: client credentials in the body, no bearer, no rate limit.
    OAuth,
    /// The search API: its own limit, no rate headers.
    Search,
    /// Everything else.
    Api,
}

fn classify(method: &Method, path: &str) -> Class {
    if path.starts_with("/__sandbox") {
        Class::Admin
    } else if path.starts_with("/oauth/") {
        Class::OAuth
    } else if method == Method::POST && path.ends_with("/search") && path.contains("/objects/") {
        Class::Search
    } else {
        Class::Api
    }
}

const MAX_LOGGED_BODY: usize = 64 * 1024;

fn body_text(bytes: &[u8]) -> Option<String> {
    if bytes.is_empty() {
        return None;
    }
    let cut = &bytes[..bytes.len().min(MAX_LOGGED_BODY)];
    Some(String::from_utf8_lossy(cut).into_owned())
}

/// The middleware.
pub async fn gateway(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let cid = uuid::Uuid::new_v4().to_string();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let class = classify(&method, &path);
    let keep_bodies = s.log.lock().keep_bodies && class != Class::OAuth && class != Class::Admin;

    let (parts, body) = req.into_parts();
    let (req, request_body) = if keep_bodies {
        let bytes = to_bytes(body, 8 * 1024 * 1024).await.unwrap_or_default();
        let text = body_text(&bytes);
        (Request::from_parts(parts, Body::from(bytes)), text)
    } else {
        (Request::from_parts(parts, body), None)
    };

    let now = s.clock.now_ms();
    let decision = if class == Class::Admin {
        Default::default()
    } else {
        s.faults.lock().decide(method.as_str(), &path, now)
    };
    if decision.latency_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(decision.latency_ms)).await;
    }

    let mut fault_name = None;
    let mut policy = None;
    let mut app = None;
    let mut rate_headers = None;
    let mut response = if let Some((kind, retry_after)) = decision.terminal {
        fault_name = Some(match &kind {
            FaultKind::Status { status } => format!("status {status}"),
            FaultKind::RateLimit { policy } => format!("429 {}", policy.name()),
            FaultKind::Drop => "drop".to_string(),
            FaultKind::Latency { .. } => "latency".to_string(),
        });
        fault_response(&s, &kind, retry_after)
    } else {
        match class {
            Class::Admin | Class::OAuth => next.run(req).await,
            Class::Search | Class::Api => match admit(&s, &req, class, &method, &path) {
                Err(e) => e.into_response(),
                Ok((caller, headers)) => {
                    app = Some(caller.app_id.clone());
                    rate_headers = headers;
                    let mut req = req;
                    req.extensions_mut().insert(caller);
                    next.run(req).await
                }
            },
        }
    };

    // Render HubSpot-shaped errors with this request's correlation id.
    if let Some(PendingError(err)) = response.extensions_mut().remove::<PendingError>() {
        policy = err
            .body
            .get("policyName")
            .and_then(|v| v.as_str())
            .map(str::to_string);
        let body = render(&err, &cid);
        let mut r = (
            err.status,
            [(
                axum::http::header::CONTENT_TYPE,
                "application/json;charset=utf-8",
            )],
            body,
        )
            .into_response();
        for (name, value) in &err.headers {
            if let Ok(v) = HeaderValue::from_str(value) {
                r.headers_mut().insert(*name, v);
            }
        }
        if let Some(d) = response.extensions().get::<DropConnection>() {
            r.extensions_mut().insert(*d);
        }
        response = r;
    }
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&cid) {
        h.insert("x-hubspot-correlation-id", v);
    }
    if let Some((st, oauth)) = rate_headers {
        let st: super::limits::RateState = st;
        h.insert("x-hubspot-ratelimit-max", st.max.into());
        h.insert("x-hubspot-ratelimit-remaining", st.remaining.into());
        h.insert(
            "x-hubspot-ratelimit-interval-milliseconds",
            HeaderValue::from(st.interval_ms),
        );
        if let (Some((limit, left)), false) = (st.daily, oauth) {
            h.insert("x-hubspot-ratelimit-daily", HeaderValue::from(limit));
            h.insert(
                "x-hubspot-ratelimit-daily-remaining",
                HeaderValue::from(left),
            );
        }
    }

    let status = response.status().as_u16();
    let (response, response_body) = if keep_bodies {
        let (parts, body) = response.into_parts();
        let bytes = to_bytes(body, 64 * 1024 * 1024).await.unwrap_or_default();
        let text = body_text(&bytes);
        (Response::from_parts(parts, Body::from(bytes)), text)
    } else {
        (response, None)
    };
    s.log.lock().record(LogEntry {
        seq: 0,
        at_ms: now,
        method: method.to_string(),
        path: mask_path(&path),
        route: route_template(&path),
        status,
        correlation_id: cid,
        policy,
        fault: fault_name,
        app,
        request_body,
        response_body,
        latency_us: started.elapsed().as_micros() as u64,
    });
    response
}

type Admitted = (Caller, Option<(super::limits::RateState, bool)>);

fn admit(
    s: &Shared,
    req: &Request,
    class: Class,
    method: &Method,
    path: &str,
) -> Result<Admitted, HsError> {
    let token = bearer(req.headers()).ok_or_else(invalid_authentication)?;
    let now = s.clock.now_ms();
    let caller = s
        .registry
        .lock()
        .authenticate(token, &s.all_scopes, &s.config.oauth, now)?;
    let required = {
        let store = s.store.read();
        super::scopes::required(&store, method, path)
    };
    for alternatives in &required {
        if !alternatives.iter().any(|a| caller.scopes.contains(a)) {
            return Err(HsError::new(
                StatusCode::FORBIDDEN,
                "MISSING_SCOPES",
                "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.",
            )
            .with_errors(vec![super::error::ErrorDetail {
                message: "One or more of the following scopes are required.".into(),
                code: None,
                context: Some(serde_json::Map::from_iter([("requiredGranularScopes".to_string(), json!(alternatives))])),
            }]));
        }
    }
    let oauth = caller.kind == TokenKind::Oauth;
    let mut limits = s.limits.lock();
    let retry_after = limits.settings.retry_after;
    if class == Class::Search {
        limits
            .admit_search(s.config.portal_id, now)
            .map_err(|l| too_many_requests(l, &caller.app_id, s.config.portal_id, retry_after))?;
        return Ok((caller, None));
    }
    match limits.admit(&caller.app_id, s.config.portal_id, now) {
        Ok(st) => Ok((caller, Some((st, oauth)))),
        Err(l) => {
            let mut e = too_many_requests(l, &caller.app_id, s.config.portal_id, retry_after);
            if l.policy == super::limits::Policy::TenSecondlyRolling {
                let st = &limits.settings;
                e = e
                    .with_header("x-hubspot-ratelimit-max", st.burst_max.to_string())
                    .with_header("x-hubspot-ratelimit-remaining", "0".into())
                    .with_header(
                        "x-hubspot-ratelimit-interval-milliseconds",
                        st.interval_ms.to_string(),
                    );
            }
            Err(e)
        }
    }
}

fn fault_response(s: &Shared, kind: &FaultKind, retry_after: Option<u64>) -> Response {
    let mut err = match kind {
        FaultKind::RateLimit { policy } => too_many_requests(
            super::limits::Limited {
                policy: *policy,
                retry_after_ms: 1_000,
            },
            &s.config.oauth.app_id.to_string(),
            s.config.portal_id,
            false,
        ),
        FaultKind::Drop => {
            let mut r = StatusCode::INTERNAL_SERVER_ERROR.into_response();
            r.extensions_mut().insert(DropConnection);
            return r;
        }
        FaultKind::Latency { .. } => return StatusCode::OK.into_response(),
        FaultKind::Status { status } => {
            let code = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            match status {
                423 => HsError::new(code, "LOCKED", "The resource is locked by a sync lock that lasts 2 seconds; wait at least 2 seconds and retry."),
                477 => HsError::new(code, "MIGRATION_IN_PROGRESS", "This portal is being migrated between data centers; retry after the Retry-After delay."),
                500 => HsError::new(code, "INTERNAL_ERROR", "internal error"),
                502 | 504 => HsError::new(code, "PROCESSING_LIMIT", "The request hit a processing limit or a timeout; pause and retry."),
                503 => HsError::new(code, "SERVICE_UNAVAILABLE", "HubSpot is temporarily unavailable."),
                520..=530 => {
                    // Cloudflare edge errors carry an HTML page, not JSON.
                    let mut r = (code, [(axum::http::header::CONTENT_TYPE, "text/html")], format!("<html><body><h1>Error {status}</h1><p>origin error (sandbox)</p></body></html>")).into_response();
                    if let Some(secs) = retry_after {
                        r.headers_mut().insert("retry-after", secs.into());
                    }
                    return r;
                }
                _ => HsError::new(code, "ERROR", format!("injected status {status}")),
            }
        }
    };
    if let Some(secs) = retry_after {
        err = err.with_header("retry-after", secs.to_string());
    }
    err.into_response()
}
