//! The webhook receiver: `POST /webhooks/hubspot`.
//!
//! Order of work for one request, and why:
//! 0. What costs nothing is checked before the body is read: a signature header must be
//!    there (of a version that is accepted) and a v3 timestamp must be fresh, or the answer
//!    is `401` at once. At most `max_in_flight` bodies are read at a time (more get `503`,
//!    which HubSpot retries), each within `body_timeout`, so slow or unsigned senders cannot
//!    hold memory or connections: 200 open 1 MiB bodies cost at most `max_in_flight` MiB.
//!    The whole request has `request_timeout` (`408` past it).
//! 1. Body size is capped by the router (`max_body_bytes`) before anything is read.
//! 2. The signature is checked first (v3 by default: method, decoded public URI, raw body,
//!    timestamp; HMAC-SHA256, base64; constant-time compare; at most 5 minutes old and
//!    `max_future_ms` ahead). v1/v2 only when configured. Any failure is a bare `401` with an
//!    empty body: the reason goes to the log, never to the caller.
//! 3. The body must be a JSON array of at most 100 events; every event must name its type and
//!    object. A malformed batch is a `400` saying what is wrong (HubSpot retries 4xx, and a
//!    bad batch is a bug worth seeing), and nothing of it is stored.
//! 4. The events are committed to the durable queue in one transaction (duplicates dropped by
//!    dedupe key). Only then is the answer `204`. If the commit cannot finish within
//!    `ack_deadline` (well inside HubSpot's 5 s), the answer is `503` and HubSpot retries.
//!
//! Behind a proxy the URI HubSpot signed is the public one: set `public_url` to it
//! (for example `https://crm-sync.example.com/webhooks/hubspot`).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio::sync::Notify;

use super::signature::{verify_v1, verify_v2, verify_v3, SignatureError};
use super::{Change, EventSink};
use crate::time::SharedClock;

/// Where the receiver is mounted.
pub const PATH: &str = "/webhooks/hubspot";
/// HubSpot sends at most this many events per request.
pub const MAX_EVENTS: usize = 100;

/// Receiver settings.
#[derive(Clone)]
pub struct ReceiverConfig {
    /// The app's client secret (the signing key).
    pub secret: SecretString,
    /// The URL HubSpot posts to, when it differs from what this server sees (proxies).
    pub public_url: Option<String>,
    pub accept_v1: bool,
    pub accept_v2: bool,
    /// How far ahead of our clock a timestamp may be.
    pub max_future_ms: i64,
    pub max_body_bytes: usize,
    /// Answer 503 when the durable commit takes longer than this.
    pub ack_deadline: Duration,
    /// Bodies read at once; more requests get 503 (HubSpot retries them).
    pub max_in_flight: usize,
    /// Bodies read at once from one IP address: a sender that forges signatures (which
    /// cannot be checked before the body is read) holds at most this many, and signed
    /// deliveries from elsewhere keep the rest. Behind a reverse proxy every request comes
    /// from the proxy: set it to `max_in_flight` there.
    pub max_in_flight_per_peer: usize,
    /// The body must arrive within this.
    pub body_timeout: Duration,
    /// The whole request must be answered within this (408 otherwise).
    pub request_timeout: Duration,
}

impl std::fmt::Debug for ReceiverConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiverConfig")
            .field("secret", &"[redacted]")
            .field("public_url", &self.public_url)
            .field("accept_v1", &self.accept_v1)
            .field("accept_v2", &self.accept_v2)
            .finish_non_exhaustive()
    }
}

impl ReceiverConfig {
    /// v3 only, 60 s of future skew, 1 MiB bodies, a 4 s commit deadline.
    pub fn new(secret: SecretString) -> Self {
        Self {
            secret,
            public_url: None,
            accept_v1: false,
            accept_v2: false,
            max_future_ms: 60_000,
            max_body_bytes: 1024 * 1024,
            ack_deadline: Duration::from_secs(4),
            max_in_flight: 32,
            max_in_flight_per_peer: 8,
            body_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(20),
        }
    }
}

/// Shared receiver state.
pub struct Receiver {
    config: ReceiverConfig,
    sink: Arc<dyn EventSink>,
    clock: SharedClock,
    /// Woken after every commit, so workers start at once.
    notify: Arc<Notify>,
    /// One permit per body being read.
    bodies: Arc<tokio::sync::Semaphore>,
    /// Bodies being read, per peer address.
    per_peer: Arc<crate::listener::PeerCounts>,
}

impl Receiver {
    pub fn new(
        config: ReceiverConfig,
        sink: Arc<dyn EventSink>,
        clock: SharedClock,
        notify: Arc<Notify>,
    ) -> Arc<Self> {
        let bodies = Arc::new(tokio::sync::Semaphore::new(config.max_in_flight.max(1)));
        Arc::new(Self {
            config,
            sink,
            clock,
            notify,
            bodies,
            per_peer: Arc::default(),
        })
    }

    /// The route, to merge into an HTTP server (outside its bearer-token guard: HubSpot
    /// authenticates with the signature).
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route(PATH, post(receive))
            .layer(tower_http::limit::RequestBodyLimitLayer::new(
                self.config.max_body_bytes,
            ))
            .layer(tower_http::timeout::TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                self.config.request_timeout,
            ))
            .with_state(self.clone())
    }

    /// The checks that need no body: a signature of an accepted version is present, and a
    /// v3 timestamp is fresh.
    fn precheck(&self, headers: &HeaderMap) -> Result<(), SignatureError> {
        let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if h("x-hubspot-signature-v3").is_some() {
            let ts = h("x-hubspot-request-timestamp").ok_or(SignatureError::BadTimestamp)?;
            super::signature::check_v3_timestamp(
                ts,
                self.clock.now_ms(),
                self.config.max_future_ms,
            )?;
            return Ok(());
        }
        match (
            h("x-hubspot-signature"),
            h("x-hubspot-signature-version").unwrap_or(""),
        ) {
            (Some(_), "v1") if self.config.accept_v1 => Ok(()),
            (Some(_), "v2") if self.config.accept_v2 => Ok(()),
            _ => Err(SignatureError::Missing("v3")),
        }
    }

    fn verify(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), SignatureError> {
        let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let secret = self.config.secret.expose_secret();
        let full_uri = self.public_uri(uri, headers);
        if let Some(sig) = h("x-hubspot-signature-v3") {
            let ts = h("x-hubspot-request-timestamp").ok_or(SignatureError::BadTimestamp)?;
            return verify_v3(
                secret,
                method.as_str(),
                &full_uri,
                body,
                ts,
                sig,
                self.clock.now_ms(),
                self.config.max_future_ms,
            );
        }
        let version = h("x-hubspot-signature-version").unwrap_or("");
        match (h("x-hubspot-signature"), version) {
            (Some(sig), "v1") if self.config.accept_v1 => verify_v1(secret, body, sig),
            (Some(sig), "v2") if self.config.accept_v2 => {
                verify_v2(secret, method.as_str(), &full_uri, body, sig)
            }
            _ => Err(SignatureError::Missing("v3")),
        }
    }

    /// The URI HubSpot signed: the configured public URL (plus our query string), or what the
    /// request says (`http://{Host}{path}?{query}`).
    fn public_uri(&self, uri: &Uri, headers: &HeaderMap) -> String {
        let pq = uri.path_and_query().map_or(PATH, |p| p.as_str());
        match &self.config.public_url {
            Some(base) => match uri.query() {
                Some(q) => format!("{base}?{q}"),
                None => base.clone(),
            },
            None => {
                let host = headers
                    .get(axum::http::header::HOST)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("localhost");
                format!("http://{host}{pq}")
            }
        }
    }
}

async fn receive(State(r): State<Arc<Receiver>>, req: axum::extract::Request) -> Response {
    let (parts, body) = req.into_parts();
    let (method, uri, headers) = (parts.method, parts.uri, parts.headers);
    if let Err(e) = r.precheck(&headers) {
        tracing::warn!(reason = %e, "webhook rejected before its body: bad signature headers");
        return StatusCode::UNAUTHORIZED.into_response();
    }
    // The peer's own share first, so one address cannot take every place.
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let _from_peer = match peer {
        Some(ip) => match r.per_peer.take(ip, r.config.max_in_flight_per_peer) {
            Some(slot) => Some(slot),
            None => {
                tracing::warn!(%ip, max = r.config.max_in_flight_per_peer, "webhook refused: too many bodies in flight from this address");
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(axum::http::header::RETRY_AFTER, "1")],
                    "too many webhook requests at once from this address; retry later",
                )
                    .into_response();
            }
        },
        None => None,
    };
    let Ok(_permit) = r.bodies.clone().try_acquire_owned() else {
        tracing::warn!(
            max = r.config.max_in_flight,
            "webhook refused: too many bodies in flight; HubSpot will retry"
        );
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(axum::http::header::RETRY_AFTER, "1")],
            "too many webhook requests at once; retry later",
        )
            .into_response();
    };
    let body: Bytes = match tokio::time::timeout(
        r.config.body_timeout,
        axum::body::to_bytes(body, r.config.max_body_bytes),
    )
    .await
    {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => {
            let inner = e.into_inner();
            let too_big =
                std::iter::successors(Some(&*inner as &(dyn std::error::Error + 'static)), |e| {
                    e.source()
                })
                .any(|e| e.is::<http_body_util::LengthLimitError>());
            return if too_big {
                (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "the batch is larger than the receiver accepts",
                )
                    .into_response()
            } else {
                (StatusCode::BAD_REQUEST, "the body could not be read").into_response()
            };
        }
        Err(_) => {
            tracing::warn!(after = ?r.config.body_timeout, "webhook body too slow; dropped");
            return (
                StatusCode::REQUEST_TIMEOUT,
                "the body did not arrive in time",
            )
                .into_response();
        }
    };
    if let Err(e) = r.verify(&method, &uri, &headers, &body) {
        tracing::warn!(reason = %e, "webhook rejected: bad signature");
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let changes = match parse_batch(&body) {
        Ok(c) => c,
        Err(msg) => {
            tracing::warn!(error = %msg, "webhook rejected: malformed batch");
            return (StatusCode::BAD_REQUEST, msg).into_response();
        }
    };
    let sink = r.sink.clone();
    let now = r.clock.now_ms();
    let n = changes.len();
    // On its own task: a commit cut off by the deadline still finishes (a retry is then a
    // duplicate), and a client that hangs up does not cancel it half way.
    let commit = tokio::spawn(async move { sink.store(&changes, now).await });
    match tokio::time::timeout(r.config.ack_deadline, commit).await {
        Ok(Ok(Ok(out))) => {
            if out.accepted > 0 {
                r.notify.notify_waiters();
                r.notify.notify_one();
            }
            tracing::debug!(
                events = n,
                accepted = out.accepted,
                duplicates = out.duplicates,
                "webhook batch stored"
            );
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(Ok(Err(e))) => {
            tracing::error!(error = %e, "webhook batch not stored; HubSpot will retry");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the event queue could not store this batch; retry later",
            )
                .into_response()
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "webhook commit task failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
        Err(_) => {
            // The commit may still land; a retry is then dropped as a duplicate.
            tracing::warn!("webhook commit slower than the ack deadline; answering 503");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the event queue is slow; retry later",
            )
                .into_response()
        }
    }
}

/// HubSpot's object type ids to our type names (`0-1` → `contacts`); a custom object keeps its
/// type id, which is also its path name.
pub fn type_name(type_id: &str) -> String {
    crate::objects::by_type_id(type_id).map_or_else(|| type_id.to_string(), |o| o.name.to_string())
}

/// A subscription prefix (`contact` of `contact.creation`) to the type it is about.
fn scope_type(scope: &str) -> Option<&'static str> {
    crate::objects::by_singular(scope)
        .filter(|o| o.webhooks)
        .map(|o| o.name)
}

/// Parses a delivery into changes, refusing the whole batch on the first bad event.
///
/// # Errors
/// A message naming the event index and the problem.
pub fn parse_batch(body: &[u8]) -> Result<Vec<Change>, String> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| format!("the body is not JSON ({e}); HubSpot sends a JSON array of events"))?;
    let Value::Array(events) = v else {
        return Err("the body must be a JSON array of events".into());
    };
    if events.len() > MAX_EVENTS {
        return Err(format!(
            "{} events in one request; HubSpot sends at most {MAX_EVENTS}",
            events.len()
        ));
    }
    events
        .iter()
        .enumerate()
        .map(|(i, e)| parse_event(e).map_err(|m| format!("event [{i}]: {m}")))
        .collect()
}

fn id_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn parse_event(e: &Value) -> Result<Change, String> {
    let kind_full = e
        .get("subscriptionType")
        .or_else(|| e.get("eventType"))
        .and_then(Value::as_str)
        .ok_or("no subscriptionType")?;
    let (scope, kind) = kind_full
        .split_once('.')
        .ok_or_else(|| format!("subscriptionType {kind_full:?} is not scope.event"))?;
    let object_type = if scope == "object" {
        let t = e
            .get("objectTypeId")
            .and_then(Value::as_str)
            .ok_or("an object.* event without objectTypeId")?;
        type_name(t)
    } else {
        scope_type(scope)
            .ok_or_else(|| format!("unknown subscription scope {scope:?}"))?
            .to_string()
    };
    let occurred_ms = e
        .get("occurredAt")
        .and_then(Value::as_i64)
        .ok_or("no occurredAt")?;
    let mut related = Vec::new();
    let object_id = match kind {
        "merge" => {
            let winner = id_of(e.get("newObjectId"))
                .or_else(|| id_of(e.get("primaryObjectId")))
                .or_else(|| id_of(e.get("objectId")))
                .ok_or("a merge without newObjectId or primaryObjectId")?;
            for m in e
                .get("mergedObjectIds")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(id) = id_of(Some(m)) {
                    related.push(format!("{object_type}/{id}"));
                }
            }
            if let Some(p) = id_of(e.get("primaryObjectId")) {
                if p != winner {
                    related.push(format!("{object_type}/{p}"));
                }
            }
            winner
        }
        "associationChange" => {
            let from = id_of(e.get("fromObjectId"))
                .or_else(|| id_of(e.get("objectId")))
                .ok_or("an associationChange without fromObjectId")?;
            if let (Some(t), Some(to)) = (
                e.get("toObjectTypeId").and_then(Value::as_str),
                id_of(e.get("toObjectId")),
            ) {
                related.push(format!("{}/{to}", type_name(t)));
            }
            from
        }
        _ => id_of(e.get("objectId")).ok_or("no objectId")?,
    };
    let key = format!(
        "{}:{}:{}:{}:{}:{}",
        e.get("portalId").map(Value::to_string).unwrap_or_default(),
        e.get("subscriptionId")
            .map(Value::to_string)
            .unwrap_or_default(),
        e.get("eventId").map(Value::to_string).unwrap_or_default(),
        occurred_ms,
        object_id,
        kind_full,
    );
    Ok(Change {
        key,
        occurred_ms,
        object_type,
        object_id,
        kind: kind.to_string(),
        related,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_parse_into_changes_with_stable_keys() {
        let body = br#"[
          {"eventId":1,"subscriptionId":5,"portalId":7,"occurredAt":10,"subscriptionType":"contact.propertyChange","attemptNumber":0,"objectId":123,"propertyName":"email","propertyValue":"a@b.c"},
          {"eventId":2,"subscriptionId":5,"portalId":7,"occurredAt":11,"eventType":"object.deletion","objectTypeId":"0-5","objectId":9},
          {"eventId":3,"subscriptionId":6,"portalId":7,"occurredAt":12,"subscriptionType":"contact.merge","objectId":4,"primaryObjectId":4,"mergedObjectIds":[5,6],"newObjectId":8},
          {"eventId":4,"subscriptionId":6,"portalId":7,"occurredAt":13,"subscriptionType":"ticket.associationChange","fromObjectId":9,"toObjectTypeId":"0-1","toObjectId":123,"fromObjectTypeId":"0-5"}
        ]"#;
        let c = parse_batch(body).unwrap();
        assert_eq!(c[0].object_type, "contacts");
        assert_eq!(c[0].key, "7:5:1:10:123:contact.propertyChange");
        assert_eq!(
            (c[1].object_type.as_str(), c[1].kind.as_str()),
            ("tickets", "deletion")
        );
        assert_eq!(c[2].object_id, "8");
        assert_eq!(c[2].related, vec!["contacts/5", "contacts/6", "contacts/4"]);
        assert_eq!(c[3].related, vec!["contacts/123"]);
        // attemptNumber is not part of the key: a retry is the same event.
        let retry = br#"[{"eventId":1,"subscriptionId":5,"portalId":7,"occurredAt":10,"subscriptionType":"contact.propertyChange","attemptNumber":3,"objectId":123}]"#;
        assert_eq!(parse_batch(retry).unwrap()[0].key, c[0].key);
    }

    #[test]
    fn v1_and_v2_signatures_count_only_when_configured() {
        use crate::webhook::signature::{sign_v1, sign_v2};
        let queue: Arc<dyn EventSink> = Arc::new(Refuses);
        let clock: SharedClock = Arc::new(crate::time::SystemClock);
        let secret = "s3cret";
        let mut config = ReceiverConfig::new(SecretString::from(secret.to_string()));
        config.public_url = Some("https://hooks.example.com/webhooks/hubspot".into());
        let body = br#"[]"#;
        let uri: Uri = "/webhooks/hubspot".parse().unwrap();
        let headers = |version: &str, sig: String| {
            let mut h = HeaderMap::new();
            h.insert("x-hubspot-signature-version", version.parse().unwrap());
            h.insert("x-hubspot-signature", sig.parse().unwrap());
            h
        };
        let v1 = headers("v1", sign_v1(secret, body));
        let v2 = headers(
            "v2",
            sign_v2(
                secret,
                "POST",
                "https://hooks.example.com/webhooks/hubspot",
                body,
            ),
        );
        let off = Receiver::new(
            config.clone(),
            queue.clone(),
            clock.clone(),
            Arc::new(Notify::new()),
        );
        assert!(off.verify(&Method::POST, &uri, &v1, body).is_err());
        assert!(off.verify(&Method::POST, &uri, &v2, body).is_err());
        config.accept_v1 = true;
        config.accept_v2 = true;
        let on = Receiver::new(config, queue, clock, Arc::new(Notify::new()));
        assert!(on.verify(&Method::POST, &uri, &v1, body).is_ok());
        assert!(
            on.verify(&Method::POST, &uri, &v2, body).is_ok(),
            "v2 signs the public URL"
        );
        assert!(on.verify(&Method::POST, &uri, &v1, b"[1]").is_err());
    }

    /// Verification never reaches the sink.
    struct Refuses;

    #[async_trait::async_trait]
    impl EventSink for Refuses {
        async fn store(
            &self,
            _: &[Change],
            _: i64,
        ) -> Result<super::super::Enqueued, super::super::SinkError> {
            Err(super::super::SinkError::Unavailable(
                "verification must not store".into(),
            ))
        }
    }

    #[test]
    fn malformed_batches_are_refused_whole_with_the_reason() {
        assert!(parse_batch(b"{}").unwrap_err().contains("array"));
        assert!(parse_batch(b"not json").unwrap_err().contains("not JSON"));
        let e = parse_batch(br#"[{"subscriptionType":"contact.creation","occurredAt":1,"objectId":1},{"subscriptionType":"contact.creation","occurredAt":1}]"#).unwrap_err();
        assert!(e.contains("event [1]") && e.contains("objectId"), "{e}");
        let many = format!(
            "[{}]",
            vec![r#"{"subscriptionType":"contact.creation","occurredAt":1,"objectId":1}"#; 101]
                .join(",")
        );
        assert!(parse_batch(many.as_bytes())
            .unwrap_err()
            .contains("at most 100"));
    }
}
