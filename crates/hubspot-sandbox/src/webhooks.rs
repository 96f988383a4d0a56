//! The webhook sender: turns store changes into HubSpot webhook deliveries (§11 of the facts).
//!
//! - Subscriptions select events by type (`contact.creation`, `object.propertyChange` with an
//!   `objectTypeId`, …) and, for property changes, by property name.
//! - Events are batched (≤ 100 per request, flushed after a short window), signed with v1 and
//!   v3 exactly as HubSpot signs them, and POSTed with at most `concurrency` requests in flight.
//! - A non-2xx answer, a connection error or a wait over the timeout (5 s) is retried up to
//!   `max_retries` times with exponential backoff and jitter on a compressed schedule; each
//!   retry increments every event's `attemptNumber`.
//! - Optional chaos: duplicate deliveries and shuffled order, since HubSpot guarantees neither
//!   uniqueness nor order.
//!
//! The sender never runs under the store lock: mutations hand events over a channel.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::{mpsc, Semaphore};

use super::store::{ChangeEvent, ChangeKind};
use hubspot_wire::signature::{sign_v1, sign_v3};
use hubspot_wire::time::SharedClock;

/// One subscription.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    /// `contact.creation`, `deal.propertyChange`, `object.deletion`, `contact.privacyDeletion`, …
    pub event_type: String,
    /// For `object.*`: which object type (`0-1`, `2-…`); `None` means every type.
    #[serde(default)]
    pub object_type_id: Option<String>,
    /// For `*.propertyChange`: which property; `None` means every property.
    #[serde(default)]
    pub property_name: Option<String>,
}

/// Webhook delivery settings.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct WebhookSettings {
    /// Where deliveries go; no deliveries without it.
    pub target_url: Option<String>,
    /// The app's client secret, used to sign.
    pub client_secret: String,
    pub subscriptions: Vec<Subscription>,
    pub max_batch: usize,
    pub concurrency: usize,
    pub timeout_ms: u64,
    pub max_retries: u32,
    /// First retry delay; doubles each attempt, with full jitter, up to `retry_cap_ms`.
    pub retry_base_ms: u64,
    pub retry_cap_ms: u64,
    /// How long to gather events into one batch.
    pub flush_ms: u64,
    /// Probability that a batch is delivered twice.
    pub duplicate_rate: f64,
    /// Shuffle events within a batch.
    pub shuffle: bool,
    /// Use the `eventType` spelling instead of `subscriptionType` (legacy doc examples).
    pub legacy_event_type_field: bool,
}

impl std::fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("target_url", &self.target_url)
            .field("client_secret", &"[redacted]")
            .field("subscriptions", &self.subscriptions)
            .field("max_batch", &self.max_batch)
            .finish_non_exhaustive()
    }
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            target_url: None,
            client_secret: String::new(),
            subscriptions: Vec::new(),
            max_batch: 100,
            concurrency: 10,
            timeout_ms: 5_000,
            max_retries: 10,
            retry_base_ms: 500,
            retry_cap_ms: 30_000,
            flush_ms: 25,
            duplicate_rate: 0.0,
            shuffle: false,
            legacy_event_type_field: false,
        }
    }
}

impl WebhookSettings {
    /// Subscribes to every event kind of the standard objects and of `object.*`.
    pub fn subscribe_all(mut self) -> Self {
        for obj in hubspot_wire::objects::records().map(|o| o.singular) {
            for ev in [
                "creation",
                "deletion",
                "propertyChange",
                "associationChange",
                "merge",
                "restore",
            ] {
                self.subscriptions.push(Subscription {
                    event_type: format!("{obj}.{ev}"),
                    object_type_id: None,
                    property_name: None,
                });
            }
        }
        self.subscriptions.push(Subscription {
            event_type: "contact.privacyDeletion".into(),
            object_type_id: None,
            property_name: None,
        });
        for ev in [
            "creation",
            "deletion",
            "propertyChange",
            "associationChange",
            "merge",
            "restore",
        ] {
            self.subscriptions.push(Subscription {
                event_type: format!("object.{ev}"),
                object_type_id: Some(super::catalog::CUSTOM_OBJECT_ID.into()),
                property_name: None,
            });
        }
        self
    }
}

/// One delivery attempt, as tests see it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub batch: u64,
    pub attempt: u32,
    pub events: usize,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub at_ms: i64,
}

/// Delivery counters.
#[derive(Debug, Default)]
pub struct Stats {
    /// Messages handed to the sender task and not yet picked up.
    pub queued: AtomicU64,
    pub events_emitted: AtomicU64,
    pub batches_sent: AtomicU64,
    pub batches_delivered: AtomicU64,
    pub batches_abandoned: AtomicU64,
    pub in_flight: AtomicU64,
}

/// Handle to the sender task.
#[derive(Debug, Clone)]
pub struct WebhookSender {
    tx: mpsc::UnboundedSender<Vec<Value>>,
    settings: Arc<Mutex<WebhookSettings>>,
    pub stats: Arc<Stats>,
    pub attempts: Arc<Mutex<Vec<Attempt>>>,
    next_event_id: Arc<AtomicU64>,
    portal_id: u64,
    app_id: u64,
}

fn object_name(type_id: &str) -> Option<&'static str> {
    match type_id {
        "0-1" => Some("contact"),
        "0-2" => Some("company"),
        "0-3" => Some("deal"),
        "0-5" => Some("ticket"),
        _ => None,
    }
}

fn kind_name(kind: &ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Creation => "creation",
        ChangeKind::PropertyChange { .. } => "propertyChange",
        ChangeKind::Deletion => "deletion",
        ChangeKind::PrivacyDeletion => "privacyDeletion",
        ChangeKind::Restore => "restore",
        ChangeKind::Merge { .. } => "merge",
        ChangeKind::AssociationChange { .. } => "associationChange",
    }
}

impl WebhookSender {
    /// Starts the sender task.
    pub fn start(
        settings: WebhookSettings,
        clock: SharedClock,
        portal_id: u64,
        app_id: u64,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let sender = Self {
            tx,
            settings: Arc::new(Mutex::new(settings)),
            stats: Arc::new(Stats::default()),
            attempts: Arc::new(Mutex::new(Vec::new())),
            next_event_id: Arc::new(AtomicU64::new(1)),
            portal_id,
            app_id,
        };
        tokio::spawn(run(rx, sender.clone(), clock));
        sender
    }

    /// Replaces the settings (target, subscriptions, chaos).
    pub fn configure(&self, settings: WebhookSettings) {
        *self.settings.lock() = settings;
    }

    /// The current settings.
    pub fn settings(&self) -> WebhookSettings {
        self.settings.lock().clone()
    }

    /// Turns store changes into payloads for every matching subscription and queues them.
    pub fn publish(&self, changes: &[ChangeEvent]) {
        if changes.is_empty() {
            return;
        }
        let settings = self.settings.lock();
        if settings.target_url.is_none() || settings.subscriptions.is_empty() {
            return;
        }
        let mut out = Vec::new();
        for c in changes {
            for (i, sub) in settings.subscriptions.iter().enumerate() {
                if let Some(ev) =
                    self.payload(c, sub, 1_000 + i as u64, settings.legacy_event_type_field)
                {
                    out.push(ev);
                }
            }
        }
        drop(settings);
        if !out.is_empty() {
            self.stats
                .events_emitted
                .fetch_add(out.len() as u64, Ordering::Relaxed);
            self.stats.queued.fetch_add(1, Ordering::SeqCst);
            let _ = self.tx.send(out);
        }
    }

    /// Queues raw payloads as they are (tests of receivers with hand-made events).
    pub fn send_raw(&self, events: Vec<Value>) {
        self.stats
            .events_emitted
            .fetch_add(events.len() as u64, Ordering::Relaxed);
        self.stats.queued.fetch_add(1, Ordering::SeqCst);
        let _ = self.tx.send(events);
    }

    /// Waits until nothing is queued or in flight, or `timeout` passes. Returns whether idle.
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.stats.queued.load(Ordering::SeqCst) == 0
                && self.stats.in_flight.load(Ordering::SeqCst) == 0
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
            if tokio::time::Instant::now() > deadline {
                return false;
            }
        }
    }

    fn payload(
        &self,
        c: &ChangeEvent,
        sub: &Subscription,
        subscription_id: u64,
        legacy_field: bool,
    ) -> Option<Value> {
        let (scope, ev) = sub.event_type.split_once('.')?;
        if ev != kind_name(&c.kind) {
            return None;
        }
        let generic = scope == "object";
        if generic {
            if sub
                .object_type_id
                .as_deref()
                .is_some_and(|t| t != c.object_type_id)
            {
                return None;
            }
        } else if object_name(&c.object_type_id) != Some(scope) {
            return None;
        }
        let type_field = if legacy_field {
            "eventType"
        } else {
            "subscriptionType"
        };
        let mut p = json!({
            "eventId": self.next_event_id.fetch_add(1, Ordering::Relaxed),
            "subscriptionId": subscription_id,
            "portalId": self.portal_id,
            "appId": self.app_id,
            "occurredAt": c.occurred_at_ms,
            type_field: sub.event_type,
            "attemptNumber": 0,
            "objectId": c.object_id,
            "changeSource": "API",
            "sourceId": "sandbox",
        });
        if generic {
            p["objectTypeId"] = json!(c.object_type_id);
            p["isSensitive"] = json!(false);
        }
        match &c.kind {
            ChangeKind::Creation => p["changeFlag"] = json!("NEW"),
            ChangeKind::Deletion => p["changeFlag"] = json!("DELETED"),
            ChangeKind::PrivacyDeletion => p["changeFlag"] = json!("DELETED"),
            ChangeKind::Restore => p["changeFlag"] = json!("RESTORED"),
            ChangeKind::PropertyChange { name, value } => {
                if sub.property_name.as_deref().is_some_and(|n| n != name) {
                    return None;
                }
                p["propertyName"] = json!(name);
                p["propertyValue"] = json!(value);
            }
            ChangeKind::Merge {
                primary_id,
                merged_ids,
                new_id,
            } => {
                p["primaryObjectId"] = json!(primary_id);
                p["mergedObjectIds"] = json!(merged_ids);
                p["newObjectId"] = json!(new_id);
                p["numberOfPropertiesMoved"] = json!(0);
            }
            ChangeKind::AssociationChange {
                to_type,
                to_id,
                type_id,
                removed,
                primary,
            } => {
                let from = object_name(&c.object_type_id)
                    .unwrap_or("object")
                    .to_uppercase();
                let to = object_name(to_type).unwrap_or("object").to_uppercase();
                p["associationType"] = json!(format!("{from}_TO_{to}"));
                p["associationTypeId"] = json!(type_id);
                p["fromObjectTypeId"] = json!(c.object_type_id);
                p["toObjectTypeId"] = json!(to_type);
                p["fromObjectId"] = json!(c.object_id);
                p["toObjectId"] = json!(to_id);
                p["associationRemoved"] = json!(removed);
                p["isPrimaryAssociation"] = json!(primary);
            }
        }
        Some(p)
    }
}

async fn run(
    mut rx: mpsc::UnboundedReceiver<Vec<Value>>,
    sender: WebhookSender,
    clock: SharedClock,
) {
    let http = reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .unwrap_or_default();
    let gate = Arc::new(Semaphore::new(sender.settings.lock().concurrency.max(1)));
    let mut batch_seq = 0u64;
    let mut pending: Vec<Value> = Vec::new();
    loop {
        // Count the gathering phase as in flight before the message leaves `queued`, so that
        // `wait_idle` never sees both at zero while events are in hand.
        if pending.is_empty() {
            match rx.recv().await {
                Some(v) => {
                    sender.stats.in_flight.fetch_add(1, Ordering::SeqCst);
                    sender.stats.queued.fetch_sub(1, Ordering::SeqCst);
                    pending.extend(v);
                }
                None => return,
            }
        } else {
            sender.stats.in_flight.fetch_add(1, Ordering::SeqCst);
        }
        let settings = sender.settings.lock().clone();
        let deadline = tokio::time::sleep(Duration::from_millis(settings.flush_ms));
        tokio::pin!(deadline);
        while pending.len() < settings.max_batch {
            tokio::select! {
                more = rx.recv() => match more {
                    Some(v) => {
                        sender.stats.queued.fetch_sub(1, Ordering::SeqCst);
                        pending.extend(v);
                    }
                    None => break,
                },
                () = &mut deadline => break,
            }
        }
        let take = pending.len().min(settings.max_batch.max(1));
        let mut batch: Vec<Value> = pending.drain(..take).collect();
        if settings.shuffle {
            batch.shuffle(&mut rand::thread_rng());
        }
        let copies = if rand::thread_rng().gen_bool(settings.duplicate_rate.clamp(0.0, 1.0)) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            batch_seq += 1;
            sender.stats.batches_sent.fetch_add(1, Ordering::SeqCst);
            sender.stats.in_flight.fetch_add(1, Ordering::SeqCst);
            let permit = gate.clone().acquire_owned().await.ok();
            let (http, sender2, clock, settings, batch) = (
                http.clone(),
                sender.clone(),
                clock.clone(),
                settings.clone(),
                batch.clone(),
            );
            let id = batch_seq;
            tokio::spawn(async move {
                deliver(&http, &sender2, &clock, &settings, id, batch).await;
                sender2.stats.in_flight.fetch_sub(1, Ordering::SeqCst);
                drop(permit);
            });
        }
        sender.stats.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn deliver(
    http: &reqwest::Client,
    sender: &WebhookSender,
    clock: &SharedClock,
    settings: &WebhookSettings,
    id: u64,
    mut batch: Vec<Value>,
) {
    let Some(url) = settings.target_url.clone() else {
        return;
    };
    for attempt in 0..=settings.max_retries {
        for ev in &mut batch {
            ev["attemptNumber"] = json!(attempt);
        }
        let body = serde_json::to_vec(&batch).unwrap_or_default();
        let ts = clock.now_ms();
        let result = http
            .post(&url)
            .timeout(Duration::from_millis(settings.timeout_ms))
            .header("content-type", "application/json")
            .header(
                "x-hubspot-signature",
                sign_v1(&settings.client_secret, &body),
            )
            .header("x-hubspot-signature-version", "v1")
            .header(
                "x-hubspot-signature-v3",
                sign_v3(&settings.client_secret, "POST", &url, &body, ts),
            )
            .header("x-hubspot-request-timestamp", ts.to_string())
            .header(
                "user-agent",
                "HubSpot Connect 2.0 (http://dev.hubspot.com/) (sandbox)",
            )
            .body(body)
            .send()
            .await;
        let (status, error) = match &result {
            Ok(r) => (Some(r.status().as_u16()), None),
            Err(e) => (
                None,
                Some(if e.is_timeout() {
                    format!("no answer within {} ms", settings.timeout_ms)
                } else {
                    e.to_string()
                }),
            ),
        };
        sender.attempts.lock().push(Attempt {
            batch: id,
            attempt,
            events: batch.len(),
            status,
            error,
            at_ms: clock.now_ms(),
        });
        if status.is_some_and(|s| (200..300).contains(&s)) {
            sender
                .stats
                .batches_delivered
                .fetch_add(1, Ordering::SeqCst);
            return;
        }
        if attempt == settings.max_retries {
            break;
        }
        let cap = settings
            .retry_base_ms
            .saturating_mul(1u64 << attempt.min(20))
            .min(settings.retry_cap_ms)
            .max(1);
        let wait = rand::thread_rng().gen_range(cap / 2..=cap);
        tokio::time::sleep(Duration::from_millis(wait)).await;
    }
    tracing::warn!(
        batch = id,
        "webhook batch abandoned after {} attempts",
        settings.max_retries + 1
    );
    sender
        .stats
        .batches_abandoned
        .fetch_add(1, Ordering::SeqCst);
}
