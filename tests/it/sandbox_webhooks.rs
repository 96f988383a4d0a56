//! The webhook sender: API changes become signed, batched deliveries that a receiver can verify,
//! retried on failure.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use hubspot_mcp::webhook::signature::{verify_v1, verify_v3};
use hubspot_sandbox::webhooks::{Subscription, WebhookSettings};
use parking_lot::Mutex;
use serde_json::{json, Value};

use crate::support::{small, spawn, Api};

#[derive(Clone, Default)]
struct Receiver {
    seen: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    fail_first: Arc<AtomicUsize>,
}

impl Receiver {
    async fn start(fail_first: usize) -> (Self, String) {
        let rx = Self {
            fail_first: Arc::new(AtomicUsize::new(fail_first)),
            ..Default::default()
        };
        let state = rx.clone();
        let app = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
            let state = state.clone();
            async move {
                state.seen.lock().push((headers, body));
                let left = state.fail_first.load(Ordering::SeqCst);
                if left > 0 {
                    state.fail_first.store(left - 1, Ordering::SeqCst);
                    return StatusCode::INTERNAL_SERVER_ERROR;
                }
                StatusCode::NO_CONTENT
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (
            rx,
            format!("http://{addr}/hooks/hubspot%3Acrm?source=sandbox"),
        )
    }

    fn events(&self) -> Vec<Value> {
        self.seen
            .lock()
            .iter()
            .flat_map(|(_, b)| serde_json::from_slice::<Vec<Value>>(b).unwrap())
            .collect()
    }
}

fn settings(url: &str, subs: &[(&str, Option<&str>)]) -> WebhookSettings {
    WebhookSettings {
        target_url: Some(url.to_string()),
        client_secret: "sandbox-client-secret".into(),
        subscriptions: subs
            .iter()
            .map(|(t, p)| Subscription {
                event_type: (*t).into(),
                object_type_id: None,
                property_name: p.map(str::to_string),
            })
            .collect(),
        retry_base_ms: 10,
        flush_ms: 10,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_changes_emit_signed_events_that_verify() {
    let (rx, url) = Receiver::start(0).await;
    let sb = spawn(small()).await;
    sb.webhooks().configure(settings(
        &url,
        &[
            ("contact.creation", None),
            ("contact.propertyChange", Some("lastname")),
            ("contact.deletion", None),
            ("object.creation", None),
            ("contact.associationChange", None),
        ],
    ));
    let api = Api::new(&sb);
    let id = api
        .post(
            "/crm/v3/objects/contacts",
            json!({"properties": {"email": "hook@x.io", "firstname": "A", "lastname": "B"}}),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    api.patch(
        &format!("/crm/v3/objects/contacts/{id}"),
        json!({"properties": {"lastname": "C", "firstname": "Z"}}),
    )
    .await;
    api.put(
        &format!("/crm/v4/objects/contacts/{id}/associations/default/companies/10000001"),
        json!(null),
    )
    .await;
    api.delete(&format!("/crm/v3/objects/contacts/{id}")).await;
    assert!(sb.webhooks().wait_idle(Duration::from_secs(10)).await);

    for (headers, body) in rx.seen.lock().iter() {
        let h = |n: &str| headers.get(n).unwrap().to_str().unwrap().to_string();
        assert_eq!(h("x-hubspot-signature-version"), "v1");
        verify_v1("sandbox-client-secret", body, &h("x-hubspot-signature")).expect("v1 verifies");
        let now = chrono::Utc::now().timestamp_millis();
        verify_v3(
            "sandbox-client-secret",
            "POST",
            &url,
            body,
            &h("x-hubspot-request-timestamp"),
            &h("x-hubspot-signature-v3"),
            now,
            60_000,
        )
        .expect("v3 verifies against the public URL");
    }
    let events = rx.events();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["subscriptionType"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "contact.creation").count(),
        1
    );
    assert_eq!(kinds.iter().filter(|k| **k == "object.creation").count(), 1);
    let changes: Vec<&Value> = events
        .iter()
        .filter(|e| e["subscriptionType"] == "contact.propertyChange")
        .collect();
    assert_eq!(
        changes.len(),
        2,
        "lastname set at creation and changed once; firstname is not subscribed"
    );
    assert!(changes.iter().any(|e| e["propertyValue"] == "C"));
    let assoc = events
        .iter()
        .find(|e| e["subscriptionType"] == "contact.associationChange")
        .unwrap();
    assert_eq!(assoc["associationType"], "CONTACT_TO_COMPANY");
    assert_eq!(assoc["toObjectId"], 10000001);
    assert!(kinds.contains(&"contact.deletion"));
    let created = events
        .iter()
        .find(|e| e["subscriptionType"] == "object.creation")
        .unwrap();
    assert_eq!(created["objectTypeId"], "0-1");
    assert_eq!(created["objectId"].to_string(), id);
    assert_eq!(created["portalId"], 62515);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_batched_at_100_and_retried_with_rising_attempt_numbers() {
    let (rx, url) = Receiver::start(2).await;
    let sb = spawn(small()).await;
    let mut s = settings(&url, &[]);
    s.flush_ms = 200;
    sb.webhooks().configure(s);
    let raw: Vec<Value> = (0..250).map(|i| json!({"eventId": i, "subscriptionType": "contact.creation", "objectId": i, "attemptNumber": 0})).collect();
    for chunk in raw.chunks(50) {
        sb.webhooks().send_raw(chunk.to_vec());
    }
    assert!(sb.webhooks().wait_idle(Duration::from_secs(10)).await);
    let seen = rx.seen.lock();
    let sizes: Vec<usize> = seen
        .iter()
        .map(|(_, b)| serde_json::from_slice::<Vec<Value>>(b).unwrap().len())
        .collect();
    assert!(sizes.iter().all(|n| *n <= 100), "{sizes:?}");
    drop(seen);
    let events = rx.events();
    let mut delivered: Vec<i64> = events
        .iter()
        .map(|e| e["eventId"].as_i64().unwrap())
        .collect();
    delivered.sort_unstable();
    delivered.dedup();
    assert_eq!(delivered.len(), 250, "every event arrives");
    let attempts = sb.webhooks().attempts.lock().clone();
    assert_eq!(attempts.iter().filter(|a| a.status == Some(500)).count(), 2);
    assert!(
        events
            .iter()
            .any(|e| e["attemptNumber"].as_u64().unwrap() >= 1),
        "retries carry a higher attemptNumber"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_never_answers_2xx_gets_eleven_attempts_then_the_batch_is_abandoned() {
    let (rx, url) = Receiver::start(usize::MAX).await;
    let sb = spawn(small()).await;
    sb.webhooks().configure(settings(&url, &[]));
    sb.webhooks().send_raw(vec![json!({"eventId": 1})]);
    assert!(sb.webhooks().wait_idle(Duration::from_secs(20)).await);
    assert_eq!(rx.seen.lock().len(), 11, "one try and ten retries");
    assert_eq!(
        sb.webhooks().stats.batches_abandoned.load(Ordering::SeqCst),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_and_legacy_spelling_are_available_on_demand() {
    let (rx, url) = Receiver::start(0).await;
    let sb = spawn(small()).await;
    let mut s = settings(&url, &[("deal.creation", None)]);
    s.duplicate_rate = 1.0;
    s.legacy_event_type_field = true;
    sb.webhooks().configure(s);
    Api::new(&sb)
        .post(
            "/crm/v3/objects/deals",
            json!({"properties": {"dealname": "dupe"}}),
        )
        .await;
    assert!(sb.webhooks().wait_idle(Duration::from_secs(10)).await);
    let events = rx.events();
    assert_eq!(events.len(), 2, "the same delivery twice");
    assert_eq!(events[0]["eventId"], events[1]["eventId"]);
    assert_eq!(events[0]["eventType"], "deal.creation");
}
