//! Sync end to end on the sandbox: signed webhooks → durable queue → workers → real embeddings
//! (the provisioned MiniLM) → qdrant-edge → semantic search; backfill with resume; privacy
//! deletion; merges; associations; duplicates; reconcile.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hubspot_mcp::hubspot::client::{ClientSettings, HubSpotClient};
use hubspot_mcp::hubspot::limit::GovernorSettings;
use hubspot_mcp::index::edge::{EdgeStore, HnswParams};
use hubspot_mcp::index::SearchFilter;
use hubspot_mcp::sync::backfill::{full_sync, minimum_calls};
use hubspot_mcp::sync::normalize::Mapping;
use hubspot_mcp::sync::queue::Queue;
use hubspot_mcp::sync::{EngineSettings, SyncEngine};
use hubspot_mcp::time::SystemClock;
use hubspot_mcp::webhook::receiver::PATH;
use hubspot_mcp::webhook::signature::sign_v3;
use hubspot_sandbox::seed::RecordCounts;
use hubspot_sandbox::webhooks::WebhookSettings;
use hubspot_sandbox::Sandbox;
use serde_json::{json, Value};

use crate::support::{spawn, Api, SandboxConfig};

pub use crate::support::{embedder, tempdir};
use crate::support::{spawn_app, TestApp, TestOptions, WEBHOOK_SECRET as SECRET};

/// A client with no limits of its own, for a sandbox started outside an app.
fn client(sb: &Sandbox) -> HubSpotClient {
    crate::support::client_for(
        sb,
        ClientSettings {
            base_url: sb.base_url(),
            ..unlimited()
        },
    )
}

fn unlimited() -> ClientSettings {
    ClientSettings {
        governor: GovernorSettings {
            burst_max: 100_000,
            search_per_second: 100_000,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// The app with sync open on a sandbox of `records` contacts (limits off, no search lag), and
/// the receiver served; with `webhooks`, the sandbox's webhooks point at it and the worker runs.
pub async fn rig(records: usize, webhooks: bool) -> TestApp {
    rig_with(
        records,
        webhooks,
        EngineSettings {
            coalesce_ms: 20,
            ..Default::default()
        },
    )
    .await
}

pub async fn rig_with(records: usize, webhooks: bool, engine: EngineSettings) -> TestApp {
    spawn_app(TestOptions {
        sandbox: SandboxConfig {
            records: RecordCounts::scaled(records),
            limits_enabled: false,
            search_lag_ms: 0,
            ..Default::default()
        },
        client: unlimited(),
        sync: true,
        webhooks,
        engine,
        ..Default::default()
    })
    .await
}

async fn post_signed(
    url: &str,
    body: &str,
    ts: i64,
    sign_uri: &str,
    secret: &str,
) -> reqwest::Response {
    let sig = sign_v3(secret, "POST", sign_uri, body.as_bytes(), ts);
    reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("x-hubspot-signature-v3", sig)
        .header("x-hubspot-request-timestamp", ts.to_string())
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn forged_stale_altered_and_misaddressed_webhooks_get_a_bare_401_and_valid_ones_are_stored_once(
) {
    let r = rig(10, false).await;
    let now = chrono::Utc::now().timestamp_millis();
    let body = r#"[{"eventId":1,"subscriptionId":2,"portalId":3,"occurredAt":1780272000000,"subscriptionType":"contact.propertyChange","attemptNumber":0,"objectId":42,"propertyName":"email","propertyValue":"a@b.io"}]"#;
    // Forged: signed with another secret.
    let res = post_signed(
        r.webhook_url(),
        body,
        now,
        r.webhook_url(),
        "not-the-secret",
    )
    .await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.text().await.unwrap(), "", "a 401 leaks nothing");
    // Stale: six minutes old.
    assert_eq!(
        post_signed(
            r.webhook_url(),
            body,
            now - 6 * 60_000,
            r.webhook_url(),
            SECRET
        )
        .await
        .status(),
        401
    );
    // Too far in the future.
    assert_eq!(
        post_signed(
            r.webhook_url(),
            body,
            now + 10 * 60_000,
            r.webhook_url(),
            SECRET
        )
        .await
        .status(),
        401
    );
    // Altered body: signed over one body, another sent.
    let sig = sign_v3(SECRET, "POST", r.webhook_url(), body.as_bytes(), now);
    let altered = body.replace("a@b.io", "evil@b.io");
    let res = reqwest::Client::new()
        .post(r.webhook_url())
        .header("x-hubspot-signature-v3", sig)
        .header("x-hubspot-request-timestamp", now.to_string())
        .body(altered)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // Wrong URI: signed for another endpoint.
    let other = r.webhook_url().replace(PATH, "/other");
    assert_eq!(
        post_signed(r.webhook_url(), body, now, &other, SECRET)
            .await
            .status(),
        401
    );
    // No signature at all, and a v1 signature (not accepted unless configured).
    let res = reqwest::Client::new()
        .post(r.webhook_url())
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let q = r.engine().queue();
    assert_eq!(
        q.depth(now).await.unwrap().pending,
        0,
        "nothing rejected was stored"
    );

    // Valid: stored durably before the 204; a redelivery (attemptNumber 1) is a duplicate.
    let res = post_signed(r.webhook_url(), body, now, r.webhook_url(), SECRET).await;
    assert_eq!(res.status(), 204);
    assert_eq!(q.depth(now).await.unwrap().pending, 1);
    let retry = body.replace("\"attemptNumber\":0", "\"attemptNumber\":1");
    assert_eq!(
        post_signed(r.webhook_url(), &retry, now, r.webhook_url(), SECRET)
            .await
            .status(),
        204
    );
    let d = q.depth(now).await.unwrap();
    assert_eq!((d.pending, d.duplicates), (1, 1));

    // Malformed but signed: a 400 that says what is wrong; 101 events: refused.
    let res = post_signed(
        r.webhook_url(),
        r#"{"not":"an array"}"#,
        now,
        r.webhook_url(),
        SECRET,
    )
    .await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("array"));
    let many = format!(
        "[{}]",
        vec![body.trim_start_matches('[').trim_end_matches(']'); 101].join(",")
    );
    let res = post_signed(r.webhook_url(), &many, now, r.webhook_url(), SECRET).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("at most 100"));
    // Oversized: refused before it is read.
    let huge = "x".repeat(2 * 1024 * 1024);
    let res = post_signed(r.webhook_url(), &huge, now, r.webhook_url(), SECRET).await;
    assert_eq!(res.status(), 413);
    assert_eq!(q.depth(now).await.unwrap().pending, 1);
}

/// `id -> updated_ms` of every indexed record of a type, read through the record state.
async fn versions(engine: &SyncEngine, ty: &str) -> std::collections::HashMap<String, Option<i64>> {
    let mut out = std::collections::HashMap::new();
    let mut after = i64::MIN;
    loop {
        let page = engine
            .state()
            .record_versions_page(ty, after, 1_000)
            .await
            .unwrap();
        let Some(&(last, _)) = page.last() else {
            return out;
        };
        after = last;
        out.extend(page.into_iter().map(|(id, v)| (id.to_string(), v)));
    }
}

/// Searches until `pred` holds for the hits or `timeout` passes; returns the wait.
async fn wait_search(
    engine: &SyncEngine,
    query: &str,
    filter: &SearchFilter,
    timeout: Duration,
    pred: impl Fn(&[hubspot_mcp::index::Hit]) -> bool,
) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < timeout {
        let hits = engine.search(query, 10, filter).await.unwrap();
        if pred(&hits) {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

#[tokio::test]
async fn backfill_hits_the_minimum_calls_then_webhooks_keep_the_index_fresh_and_forget_deleted_people(
) {
    let r = rig(200, true).await;
    // Backfill: 200 contacts, 40 companies, 80 deals, 120 tickets (+ notes, not configured).
    let before = r.sb().log_summary().total;
    let reports = full_sync(&r.engine(), false, false).await.unwrap();
    let calls = r.sb().log_summary().total - before;
    let mapping = Mapping::builtin();
    let minimum: u64 = reports
        .iter()
        .map(|t| minimum_calls(t.total, mapping.objects[&t.object_type].associations.len()))
        .sum();
    let indexed: usize = reports.iter().map(|t| t.indexed).sum();
    assert_eq!(indexed, 440);
    assert!(
        (calls as f64) <= minimum as f64 * 1.02,
        "backfill spent {calls} calls, the minimum is {minimum}"
    );
    let counts = r.engine().state().record_counts().await.unwrap();
    assert_eq!(counts.iter().map(|c| c.1).sum::<u64>(), 440, "{counts:?}");

    // Messy duplicate emails of the seed normalize to the same address.
    let dups = r
        .engine()
        .state()
        .duplicates("email", Some("contacts"), 50)
        .await
        .unwrap();
    assert!(
        !dups.is_empty(),
        "the seed has contacts sharing an email in different spellings"
    );

    // A new ticket is searchable by meaning within seconds of its creation.
    let api = Api::new(&r.sb());
    let res = api
        .post(
            "/crm/v3/objects/tickets",
            json!({"properties": {
                "subject": "Forklift telemetry gateway keeps rebooting",
                "content": "The warehouse forklift telemetry gateway reboots every few minutes and drops sensor data.",
                "hs_pipeline": "0", "hs_pipeline_stage": "1"
            }}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    let ticket = res.body["id"].as_str().unwrap().to_string();
    let tickets = SearchFilter {
        object_types: vec!["tickets".into()],
        ..Default::default()
    };
    let waited = wait_search(
        &r.engine(),
        "warehouse vehicle sensor box restarting",
        &tickets,
        Duration::from_secs(20),
        |h| h.first().is_some_and(|x| x.payload.record_id == ticket),
    )
    .await;
    assert!(waited.is_some(), "the new ticket never became the top hit");

    // Associating it with a contact updates its payload.
    let contact = versions(r.engine(), "contacts")
        .await
        .into_keys()
        .min()
        .unwrap();
    let res = api
        .put(
            &format!("/crm/v4/objects/tickets/{ticket}/associations/default/contacts/{contact}"),
            json!({}),
        )
        .await;
    assert!(res.status < 300, "{} {}", res.status, res.body);
    let want = format!("contacts/{contact}");
    assert!(
        wait_search(
            &r.engine(),
            "warehouse vehicle sensor box restarting",
            &tickets,
            Duration::from_secs(20),
            |h| {
                h.first()
                    .is_some_and(|x| x.payload.associations.contains(&want))
            }
        )
        .await
        .is_some(),
        "the association never reached the payload"
    );

    // A privacy deletion makes the person unsearchable within seconds, and forgets their row.
    let person = versions(r.engine(), "contacts")
        .await
        .into_keys()
        .max()
        .unwrap();
    let got = api
        .get(&format!(
            "/crm/v3/objects/contacts/{person}?properties=email,firstname,lastname"
        ))
        .await;
    let email = got.body["properties"]["email"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let name = format!(
        "{} {}",
        got.body["properties"]["firstname"].as_str().unwrap_or(""),
        got.body["properties"]["lastname"].as_str().unwrap_or("")
    );
    let query = format!("{name} {email}");
    let contacts = SearchFilter {
        object_types: vec!["contacts".into()],
        ..Default::default()
    };
    let hits = r.engine().search(&query, 10, &contacts).await.unwrap();
    assert!(
        hits.iter().any(|h| h.payload.record_id == person),
        "found before deletion"
    );
    let res = api
        .post(
            "/crm/v3/objects/contacts/gdpr-delete",
            json!({"objectId": person}),
        )
        .await;
    assert!(res.status < 300, "{} {}", res.status, res.body);
    let gone = wait_search(
        &r.engine(),
        &query,
        &contacts,
        Duration::from_secs(10),
        |h| !h.iter().any(|x| x.payload.record_id == person),
    )
    .await;
    assert!(
        gone.is_some(),
        "the privacy-deleted contact is still searchable"
    );
    assert!(!versions(r.engine(), "contacts").await.contains_key(&person));

    // A merge removes the merged-away contact.
    let ids: Vec<String> = {
        let mut v: Vec<String> = versions(r.engine(), "contacts").await.into_keys().collect();
        v.sort();
        v
    };
    let (keep, lose) = (ids[1].clone(), ids[2].clone());
    let res = api
        .post(
            "/crm/v3/objects/contacts/merge",
            json!({"primaryObjectId": keep, "objectIdToMerge": lose}),
        )
        .await;
    assert!(res.status < 300, "{} {}", res.status, res.body);
    let deadline = Instant::now() + Duration::from_secs(10);
    while versions(r.engine(), "contacts").await.contains_key(&lose) {
        assert!(
            Instant::now() < deadline,
            "the merged-away contact is still indexed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Nothing drifted: reconcile finds nothing to repair.
    assert!(r.sb().webhooks().wait_idle(Duration::from_secs(10)).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rec = r.engine().reconcile().await.unwrap();
    for t in &rec {
        assert_eq!((t.missing, t.stale, t.extra), (0, 0, 0), "{t:?}");
    }
    let d = r
        .engine()
        .queue()
        .depth(chrono::Utc::now().timestamp_millis())
        .await
        .unwrap();
    assert_eq!(d.double_acks, 0);
}

#[tokio::test]
async fn a_crashed_backfill_resumes_from_its_checkpoint_and_reconcile_repairs_drift() {
    // One checkpoint per 200-record page, so a 300-contact type is checkpointed mid-way.
    let r = rig_with(
        300,
        false,
        EngineSettings {
            backfill_block: 200,
            ..Default::default()
        },
    )
    .await;
    // "Crash" mid-way (types run in name order: companies, contacts, deals, tickets): drop the
    // backfill once contacts are checkpointed but not finished.
    let e2 = r.engine().clone();
    let task = tokio::spawn(async move { full_sync(&e2, false, false).await });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let cp = r
            .engine()
            .state()
            .checkpoint("backfill:contacts")
            .await
            .unwrap();
        if cp.as_deref().is_some_and(|v| v != "done") {
            break;
        }
        assert!(
            cp.as_deref() != Some("done"),
            "missed the mid-type checkpoint"
        );
        assert!(Instant::now() < deadline, "no checkpoint written");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    task.abort();
    let _ = task.await;
    let before = r.sb().log_summary().total;
    let reports = full_sync(&r.engine(), false, false).await.unwrap();
    let second = r.sb().log_summary().total - before;
    let companies = reports
        .iter()
        .find(|t| t.object_type == "companies")
        .unwrap();
    assert!(
        companies.skipped,
        "companies were finished before the crash"
    );
    let contacts = reports
        .iter()
        .find(|t| t.object_type == "contacts")
        .unwrap();
    assert!(contacts.resumed_above.is_some(), "{contacts:?}");
    assert_eq!(
        contacts.indexed, 100,
        "only the unfinished page is read again"
    );
    let counts: u64 = r
        .engine()
        .state()
        .record_counts()
        .await
        .unwrap()
        .iter()
        .map(|c| c.1)
        .sum();
    assert_eq!(counts, 300 + 60 + 120 + 180, "every record indexed once");
    // `sync --status` shows each type's backfill: done, total, rate, ETA.
    let status = hubspot_mcp::sync::status::read(&**r.engine().queue(), &**r.engine().state(), 0)
        .await
        .unwrap();
    for ty in ["contacts", "companies", "deals", "tickets"] {
        let b = &status.backfill[ty];
        assert_eq!(b["finished"], true, "{ty}: {b}");
        assert_eq!(b["done"], b["total"], "{ty}: {b}");
    }
    assert!(
        second < 60,
        "the resumed run re-read only the unfinished types: {second} calls"
    );

    // Drift: the index loses a record and HubSpot changes another behind our back (no
    // webhooks in this rig); reconcile finds and repairs both.
    let lost = versions(r.engine(), "deals")
        .await
        .into_keys()
        .next()
        .unwrap();
    r.engine()
        .forget(vec![format!("deals/{lost}")])
        .await
        .unwrap();
    let api = Api::new(&r.sb());
    let changed = versions(r.engine(), "tickets")
        .await
        .into_keys()
        .next()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let res = api
        .patch(
            &format!("/crm/v3/objects/tickets/{changed}"),
            json!({"properties": {"subject": "Changed while we were not listening"}}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let rec = r.engine().reconcile().await.unwrap();
    let deals = rec.iter().find(|t| t.object_type == "deals").unwrap();
    let tickets = rec.iter().find(|t| t.object_type == "tickets").unwrap();
    assert_eq!((deals.missing, deals.repaired), (1, 1), "{deals:?}");
    assert_eq!((tickets.stale, tickets.repaired), (1, 1), "{tickets:?}");
    let again = r.engine().reconcile().await.unwrap();
    assert!(
        again.iter().all(|t| t.missing + t.stale + t.extra == 0),
        "{again:?}"
    );

    // Background work finishes through an outage: 503s open the breakers, and reconcile and
    // catch-up wait them out (for the time each breaker says) instead of exiting.
    let outage = || {
        hubspot_sandbox::faults::FaultSpec::new(hubspot_sandbox::faults::FaultKind::Status {
            status: 503,
        })
        .for_duration(Duration::from_secs(2))
    };
    r.sb().inject(outage());
    let during = r
        .engine()
        .reconcile()
        .await
        .expect("reconcile waited the outage out");
    assert!(
        during.iter().all(|t| t.missing + t.stale + t.extra == 0),
        "{during:?}"
    );
    r.sb().inject(outage());
    r.engine()
        .catch_up(0)
        .await
        .expect("catch-up waited the outage out");
    assert!(
        r.sb().log_entries().iter().any(|e| e.status == 503),
        "the outage did reach the client"
    );
    assert!(r.dir().join("sync.sqlite").exists());
}

/// One JSON-RPC request to a streamable-HTTP MCP endpoint (stateless JSON mode).
pub async fn mcp_post(
    http: reqwest::Client,
    url: String,
    token: &'static str,
    body: Value,
) -> Value {
    let text = http
        .post(&url)
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .json(&body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    serde_json::from_str::<Value>(text.trim_start_matches("data: "))
        .unwrap_or_else(|_| panic!("{text}"))
}

/// Kills its child process when dropped, so a failing test never leaves one behind (an orphan
/// holding the test's stderr would stall the whole run).
pub struct ChildGuard(pub std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `hubspot-mcp sync --listen` as a child process on a fixed port, configured through the
/// environment to read the sandbox.
fn spawn_listener(sb: &Sandbox, dir: &std::path::Path, port: u16) -> ChildGuard {
    use std::io::BufRead;
    let mut child = crate::support::bin()
        .args(["sync", "--listen", &format!("127.0.0.1:{port}")])
        .env("HUBSPOT_MCP_DATA_DIR", dir)
        .env("HUBSPOT_MCP_HUBSPOT__TOKEN", sb.token())
        .env("HUBSPOT_MCP_HUBSPOT__CLIENT_SECRET", SECRET)
        .env("HUBSPOT_MCP_HUBSPOT__CLIENT__BASE_URL", sb.base_url())
        .env("HUBSPOT_MCP_HUBSPOT__CLIENT__GOVERNOR__BURST_MAX", "100000")
        .env("HUBSPOT_MCP_SYNC__ENGINE__BATCH", "5000")
        .env("RUST_LOG", "warn,qdrant_edge=error")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("hubspot-mcp starts");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains(PATH), "the listener printed {line:?}");
    ChildGuard(child)
}

/// `sync --full` beside a running server that holds the embedded index does not just fail:
/// it says that the server backfills by itself, how to follow it, and how to start over.
#[tokio::test]
async fn sync_full_beside_a_running_server_says_what_to_do() {
    let sb = spawn(SandboxConfig {
        records: RecordCounts::scaled(100),
        limits_enabled: false,
        ..Default::default()
    })
    .await;
    let dir = crate::support::tempdir("beside");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _server = spawn_listener(&sb, &dir, port);
    let out = crate::support::bin()
        .args(["sync", "--full"])
        .env("HUBSPOT_MCP_DATA_DIR", &dir)
        .env("HUBSPOT_MCP_HUBSPOT__TOKEN", sb.token())
        .env("HUBSPOT_MCP_HUBSPOT__CLIENT_SECRET", SECRET)
        .env("HUBSPOT_MCP_HUBSPOT__CLIENT__BASE_URL", sb.base_url())
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("running server holds this index")
            && err.contains("sync --status")
            && err.contains("sync --full --restart"),
        "{err}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn kill_9_during_a_burst_of_10000_webhook_events_loses_nothing_and_applies_nothing_twice() {
    let mut cfg = SandboxConfig {
        records: RecordCounts::scaled(1_000),
        limits_enabled: false,
        search_lag_ms: 0,
        ..Default::default()
    };
    cfg.oauth.client_secret = SECRET.into();
    let sb = spawn(cfg).await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempdir("crash");
    let mut w = WebhookSettings::default();
    w.subscriptions
        .push(hubspot_sandbox::webhooks::Subscription {
            event_type: "contact.propertyChange".into(),
            object_type_id: None,
            property_name: Some("jobtitle".into()),
        });
    w.target_url = Some(format!("http://127.0.0.1:{port}{PATH}"));
    w.client_secret = SECRET.into();
    // HubSpot retries over hours; the sandbox compresses that so the test finishes.
    w.retry_base_ms = 200;
    w.retry_cap_ms = 2_000;
    sb.webhooks().configure(w);
    let mut child = spawn_listener(&sb, &dir, port);

    // The burst: 100 batch updates of 100 contacts, ten rounds over 1,000 contacts, one
    // `contact.propertyChange` event each: 10,000 events.
    let api = Api::new(&sb);
    let ids: Vec<String> = {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let path = match &after {
                Some(a) => format!("/crm/v3/objects/contacts?limit=100&after={a}"),
                None => "/crm/v3/objects/contacts?limit=100".to_string(),
            };
            let page = api.get(&path).await.body;
            out.extend(
                page["results"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["id"].as_str().unwrap().to_string()),
            );
            match page.pointer("/paging/next/after").and_then(Value::as_str) {
                Some(a) => after = Some(a.to_string()),
                None => break,
            }
        }
        out
    };
    assert_eq!(ids.len(), 1_000);
    let db = dir.join("sync.sqlite");
    let mut killed_at = None;
    for round in 0..10 {
        for chunk in ids.chunks(100) {
            let inputs: Vec<Value> = chunk
                .iter()
                .map(|id| json!({"id": id, "properties": {"jobtitle": format!("Engineer, round {round}")}}))
                .collect();
            let res = api
                .post(
                    "/crm/v3/objects/contacts/batch/update",
                    json!({"inputs": inputs}),
                )
                .await;
            assert_eq!(res.status, 200, "{}", res.body);
        }
        // Kill -9 once a few thousand events are in, mid-burst.
        if killed_at.is_none() && round >= 3 {
            let q = Queue::open(&db).unwrap();
            let d = q.depth(chrono::Utc::now().timestamp_millis()).unwrap();
            if d.pending + d.leased + d.processed >= 2_000 {
                child.0.kill().unwrap(); // SIGKILL
                let _ = child.0.wait();
                killed_at = Some(d);
            }
        }
    }
    let killed_at = killed_at.expect("the listener was killed mid-burst");
    let emitted = sb
        .webhooks()
        .stats
        .events_emitted
        .load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(emitted, 10_000);
    // Down for a moment (HubSpot keeps retrying), then back on the same port.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let child = spawn_listener(&sb, &dir, port);
    assert!(
        sb.webhooks().wait_idle(Duration::from_secs(120)).await,
        "deliveries never settled"
    );
    let q = Queue::open(&db).unwrap();
    let deadline = Instant::now() + Duration::from_secs(180);
    let d = loop {
        let d = q.depth(chrono::Utc::now().timestamp_millis()).unwrap();
        if d.pending + d.leased == 0 && d.processed >= 10_000 {
            break d;
        }
        assert!(Instant::now() < deadline, "queue never drained: {d:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    drop(child);
    let abandoned = sb
        .webhooks()
        .stats
        .batches_abandoned
        .load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(abandoned, 0, "HubSpot gave up on a batch");
    // Every event processed exactly once: 10,000 distinct events acked, none acked twice.
    assert_eq!(d.processed, 10_000, "{d:?} (killed at {killed_at:?})");
    assert_eq!(d.double_acks, 0, "{d:?}");
    // And the index holds every contact's last state: nothing missing, nothing stale.
    let queue = Queue::open(&db).unwrap();
    let e = embedder();
    let store = Arc::new(hubspot_mcp::index::Blocking::new(
        EdgeStore::open(&dir.join("index"), e.dimensions(), HnswParams::default()).unwrap(),
    ));
    let engine = SyncEngine::new(
        client(&sb),
        Arc::new(queue.clone()),
        Arc::new(queue),
        store,
        e,
        Arc::new(Mapping::builtin()),
        EngineSettings::default(),
        Arc::new(SystemClock),
        Arc::new(tokio::sync::Notify::new()),
    );
    let rec = engine.reconcile().await.unwrap();
    let contacts = rec.iter().find(|t| t.object_type == "contacts").unwrap();
    assert_eq!(
        (
            contacts.in_index,
            contacts.missing,
            contacts.stale,
            contacts.extra
        ),
        (1_000, 0, 0, 0),
        "{contacts:?}"
    );
    eprintln!("crash: killed at {killed_at:?}; after restart {d:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn semantic_search_and_find_duplicates_are_mcp_tools_and_what_they_retrieve_is_audited() {
    use hubspot_mcp::mcp::http::{hash_token, HttpOptions};
    use hubspot_mcp::mcp::{HubSpotMcp, ToolOptions};
    let r = rig(100, false).await;
    full_sync(&r.engine(), false, false).await.unwrap();
    let audit = r.dir().join("audit.jsonl");
    let log = hubspot_mcp::audit::AuditLog::open(
        hubspot_mcp::audit::LogFiles::beside(&audit),
        &hubspot_mcp::audit::AuditConfig {
            sync: false,
            ..Default::default()
        },
        hubspot_mcp::audit::Redactor::new(vec![r.sb().token().to_string()], false),
    )
    .unwrap();
    let server = HubSpotMcp::new(r.client.clone(), &ToolOptions::default())
        .with_sync(r.engine().clone())
        .with_audit(Arc::new(log), true);
    let mut opts = HttpOptions::loopback(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
    opts.token_hashes.push(hash_token("t"));
    let (tx, rx) = tokio::sync::oneshot::channel();
    let c = r.cancel();
    tokio::spawn(async move {
        let _ = hubspot_mcp::mcp::http::serve(server, opts, None, c, move |a| {
            let _ = tx.send(a);
        })
        .await;
    });
    let url = format!("http://{}/mcp", rx.await.unwrap());
    let http = reqwest::Client::new();
    let rpc = |id: u64, method: &str, params: Value| {
        mcp_post(
            http.clone(),
            url.clone(),
            "t",
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
        )
    };
    let tools = rpc(1, "tools/list", json!({})).await;
    let names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"semantic_search") && names.contains(&"find_duplicates"),
        "{names:?}"
    );

    let v = rpc(2, "tools/call", json!({"name": "semantic_search", "arguments": {"query": "customers locked out of single sign-on", "objectTypes": ["tickets"], "k": 5}})).await;
    let results = v["result"]["structuredContent"]["results"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .clone();
    assert_eq!(results.len(), 5);
    for h in &results {
        assert_eq!(h["objectType"], "tickets");
        assert!(h["score"].as_f64().unwrap() > 0.2, "{h}");
        assert!(!h["title"].as_str().unwrap().is_empty());
        assert!(!h["snippet"].as_str().unwrap().is_empty());
    }
    // Bad arguments are isError results that say what to fix.
    let v = rpc(
        3,
        "tools/call",
        json!({"name": "semantic_search", "arguments": {"query": "x", "k": 0}}),
    )
    .await;
    assert!(crate::support::refusal(&v).contains("k: 0"), "{v}");
    let v = rpc(
        4,
        "tools/call",
        json!({"name": "semantic_search", "arguments": {"query": "x", "objectTypes": ["widgets"]}}),
    )
    .await;
    assert!(crate::support::refusal(&v).contains("widgets"), "{v}");
    let v = rpc(
        5,
        "tools/call",
        json!({"name": "find_duplicates", "arguments": {"field": "email"}}),
    )
    .await;
    assert!(v["result"]["structuredContent"]["groups"].is_array(), "{v}");

    // The audit entry of the search holds the retrieved ids and scores.
    let entries = hubspot_mcp::audit::read_all(&audit).unwrap();
    let search = entries
        .iter()
        .find(|e| e.draft.tool.as_deref() == Some("semantic_search"))
        .unwrap();
    assert_eq!(search.draft.retrieved.len(), 5);
    assert_eq!(search.draft.retrieved[0]["id"], results[0]["id"]);
    assert!(search.draft.retrieved[0]["scoreMilli"].as_i64().unwrap() > 200);
    assert!(hubspot_mcp::audit::verify(
        &hubspot_mcp::audit::LogFiles::beside(&audit),
        &Default::default()
    )
    .problem
    .is_none());
}

/// The main job as a newcomer runs it: `serve --sandbox --sync --http`, then a ticket created
/// through the MCP write tool is found by `semantic_search` through the product's own webhooks.
/// `serve --sandbox --sync --http` on a small portal in `dir`, and its /mcp URL.
fn start(dir: &std::path::Path) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = crate::support::bin()
        .args([
            "serve",
            "--sandbox",
            "--sync",
            "--http",
            "127.0.0.1:0",
            "--http-token",
            "tok",
        ])
        .env("HUBSPOT_MCP_DATA_DIR", &dir)
        .env("HUBSPOT_MCP_SANDBOX__RECORDS__CONTACTS", "100")
        .env("HUBSPOT_MCP_SANDBOX__RECORDS__COMPANIES", "20")
        .env("HUBSPOT_MCP_SANDBOX__RECORDS__DEALS", "40")
        .env("HUBSPOT_MCP_SANDBOX__RECORDS__TICKETS", "60")
        .env("RUST_LOG", "warn,qdrant_edge=error")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().to_string();
    assert!(url.ends_with("/mcp"), "{url}");
    (child, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_sandbox_sync_backfills_finds_a_new_ticket_and_forgets_it_after_a_restart() {
    let dir = tempdir("serve");
    let (child, url) = start(&dir);
    let _child = ChildGuard(child);
    let http = reqwest::Client::new();
    let call = |id: u64, name: &str, args: Value| {
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": name, "arguments": args}});
        mcp_post(http.clone(), url.clone(), "tok", body)
    };
    // The backfill runs in the background on first start: wait for tickets to be searchable.
    let started = Instant::now();
    loop {
        let v = call(
            1,
            "semantic_search",
            json!({"query": "invoice charged twice", "objectTypes": ["tickets"]}),
        )
        .await;
        if v["result"]["structuredContent"]["results"]
            .as_array()
            .is_some_and(|a| a.len() == 10)
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "backfill never finished: {v}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let v = call(
        2,
        "create_objects",
        json!({"objectType": "tickets", "records": [{"properties": {
        "subject": "Espresso machine integration leaks customer loyalty points",
        "content": "Loyalty points vanish after the coffee machine syncs orders.",
        "hs_pipeline": "0", "hs_pipeline_stage": "1"}}]}),
    )
    .await;
    let id = v["result"]["structuredContent"]["results"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"))
        .to_string();
    let started = Instant::now();
    loop {
        let v = call(3, "semantic_search", json!({"query": "coffee maker sync loses reward points", "objectTypes": ["tickets"], "k": 3})).await;
        if v["result"]["structuredContent"]["results"][0]["id"] == json!(id) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the new ticket never surfaced: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Broken once: after a restart the sandbox starts from its seed, but the index kept the
    // ticket: it stayed the top hit while get_objects said it did not exist. Killed (no
    // graceful shutdown) and started again on the same data directory:
    drop(_child);
    let (child, url) = start(&dir);
    let _child = ChildGuard(child);
    let call = |id: u64, name: &str, args: Value| {
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": name, "arguments": args}});
        mcp_post(http.clone(), url.clone(), "tok", body)
    };
    let v = call(
        4,
        "get_objects",
        json!({"objectType": "tickets", "ids": [id]}),
    )
    .await;
    assert_eq!(
        v["result"]["structuredContent"]["missing"],
        json!([id]),
        "the sandbox starts from its seed: {v}"
    );
    let started = Instant::now();
    let hits = loop {
        let v = call(5, "semantic_search", json!({"query": "coffee maker sync loses reward points", "objectTypes": ["tickets"], "k": 3})).await;
        let out = &v["result"]["structuredContent"];
        if out.get("index").is_none() && out["results"].is_array() {
            break out["results"].clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the index never matched the sandbox again: {v}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        hits.as_array()
            .unwrap()
            .iter()
            .all(|h| h["id"] != json!(id)),
        "a ghost of the last run is served: {hits}"
    );
    drop(_child);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn catch_up_rereads_what_changed_while_no_webhooks_arrived() {
    let r = rig(60, false).await;
    full_sync(&r.engine(), false, false).await.unwrap();
    // A change HubSpot could not deliver (this rig receives no webhooks): catch-up finds it
    // by last-modified time, from the watermark the backfill left.
    // The lowest id, so every run patches the same ticket (the versions come as a HashMap).
    let before = versions(r.engine(), "tickets").await;
    let ticket = before.keys().min().unwrap().clone();
    let indexed_before = before[&ticket];
    tokio::time::sleep(Duration::from_millis(5)).await;
    let res = Api::new(&r.sb())
        .patch(
            &format!("/crm/v3/objects/tickets/{ticket}"),
            json!({"properties": {"subject": "Hydroponic pump controller lost its schedule"}}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let tickets = SearchFilter {
        object_types: vec!["tickets".into()],
        ..Default::default()
    };
    // Not indexed before catch-up: the index still holds the version the backfill read. (A
    // search cannot tell: a seeded ticket's old text may already be the best match.)
    assert_eq!(
        versions(r.engine(), "tickets").await[&ticket],
        indexed_before,
        "not indexed before catch-up"
    );
    let applied = r
        .engine()
        .catch_up_from_watermark()
        .await
        .unwrap()
        .expect("a watermark exists");
    assert!(applied.upserted >= 1, "{applied:?}");
    assert_ne!(
        versions(r.engine(), "tickets").await[&ticket],
        indexed_before,
        "catch-up indexed the new version"
    );
    let hits = r
        .engine()
        .search("hydroponic pump schedule", 1, &tickets)
        .await
        .unwrap();
    assert_eq!(hits[0].payload.record_id, ticket);
}

/// Broken once: a batch whose read kept failing with a 4xx was retried forever and every event
/// behind it waited. Now the good events are applied at once, and the poison one (a ticket
/// whose read HubSpot answers with a 400 however often it is asked) goes to the dead letters
/// after `max_failures`, with its error, for `sync --dead-letters`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_event_is_dead_lettered_and_the_events_behind_it_are_applied() {
    let rig = rig_with(
        200,
        false,
        EngineSettings {
            coalesce_ms: 20,
            max_failures: 2,
            ..Default::default()
        },
    )
    .await;
    let contacts: Vec<u64> = rig
        .sb()
        .shared()
        .store
        .read()
        .records_of("0-1")
        .keys()
        .take(5)
        .copied()
        .collect();
    let ticket = *rig
        .sb()
        .shared()
        .store
        .read()
        .records_of("0-5")
        .keys()
        .next()
        .unwrap();
    rig.sb().inject(
        hubspot_sandbox::faults::FaultSpec::new(hubspot_sandbox::faults::FaultKind::Status {
            status: 400,
        })
        .on("/crm/objects/2026-03/tickets/batch/read"),
    );
    let now = chrono::Utc::now().timestamp_millis();
    let change = |key: String, object_type: &str, id: String| hubspot_mcp::sync::queue::Change {
        key,
        occurred_ms: now,
        object_type: object_type.into(),
        object_id: id,
        kind: "propertyChange".into(),
        related: Vec::new(),
    };
    let mut changes = vec![change("poison".into(), "tickets", ticket.to_string())];
    changes.extend(
        contacts
            .iter()
            .map(|c| change(format!("contact-{c}"), "contacts", c.to_string())),
    );
    let q = rig.engine().queue().clone();
    q.enqueue(&changes, now).await.unwrap();
    tokio::spawn(rig.engine().clone().run_worker(rig.cancel()));
    let started = std::time::Instant::now();
    loop {
        let mut all_good = true;
        for c in &contacts {
            all_good &= q.is_done(&format!("contact-{c}")).await.unwrap();
        }
        if all_good {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the good events were held back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    loop {
        if q.depth(chrono::Utc::now().timestamp_millis())
            .await
            .unwrap()
            .dead
            == 1
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the poison event was never dead-lettered: {:?} {:?}",
            q.depth(chrono::Utc::now().timestamp_millis())
                .await
                .unwrap(),
            rig.sb()
                .log_entries()
                .iter()
                .filter(|e| e.path.contains("tickets"))
                .map(|e| format!("{} {} {}", e.method, e.path, e.status))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let dead = q.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!((dead[0].key.as_str(), dead[0].failures), ("poison", 2));
    assert!(dead[0].error.contains("400"), "{}", dead[0].error);
    let d = q
        .depth(chrono::Utc::now().timestamp_millis())
        .await
        .unwrap();
    assert_eq!((d.pending, d.leased, d.double_acks), (0, 0, 0), "{d:?}");
    let indexed: Vec<i64> = rig
        .engine()
        .state()
        .record_versions_page("contacts", 0, 100_000)
        .await
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    for c in &contacts {
        assert!(indexed.contains(&(*c as i64)), "contact {c} is indexed");
    }
}

/// A handoff's "similar records" come from the record's own indexed text, never include the
/// record itself, and all score at or above the policy's floor; when nothing does, the note
/// says so instead of listing noise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handoff_cites_records_similar_to_the_record_itself_above_the_floor() {
    use hubspot_mcp::mcp::http::{hash_token, HttpOptions};
    use hubspot_mcp::mcp::{HubSpotMcp, ToolOptions};
    let r = rig(100, false).await;
    full_sync(&r.engine(), false, false).await.unwrap();
    let serve = |floor: f64| {
        let options = ToolOptions {
            handoff: hubspot_mcp::handoff::HandoffPolicy {
                enabled: true,
                review_owner_id: Some("90000102".into()),
                similar_min_score: floor,
                ..Default::default()
            },
            ..Default::default()
        };
        let server = HubSpotMcp::new(r.client.clone(), &options).with_sync(r.engine().clone());
        let mut opts = HttpOptions::loopback(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
        opts.token_hashes.push(hash_token("t"));
        crate::support::serve_mcp(server, opts)
    };
    let ticket = *r
        .sb()
        .shared()
        .store
        .read()
        .records_of("0-5")
        .keys()
        .nth(2)
        .unwrap();
    // A knowledge article about what the ticket says: the note cites it for the reviewer.
    let text = r
        .engine()
        .record_text("tickets", &ticket.to_string())
        .await
        .unwrap()
        .unwrap();
    let docs = crate::support::tempdir("handoff-kb");
    std::fs::write(
        docs.join("runbook.md"),
        format!("# Runbook for this kind of ticket\n\n{text}\n"),
    )
    .unwrap();
    hubspot_mcp::knowledge::KnowledgeBase::new(
        r.engine().store().clone(),
        r.engine().state().clone(),
        crate::support::embedder(),
    )
    .add_paths(std::slice::from_ref(&docs))
    .await
    .unwrap();
    let http = reqwest::Client::new();
    for (floor, expect_some) in [(0.5, true), (0.999, false)] {
        let (addr, stop) = serve(floor).await;
        let url = format!("http://{addr}/mcp");
        let v = mcp_post(
            http.clone(),
            url,
            "t",
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "propose_action", "arguments": {
                "action": "update", "objectType": "tickets", "recordId": ticket.to_string(),
                "properties": {"subject": format!("floor {floor}")}, "confidence": 0.1,
                "rationale": "zebra giraffe penguin unrelated words"}}}),
        )
        .await;
        let out = &v["result"]["structuredContent"];
        assert_eq!(out["decision"], "handed_off", "{v}");
        let retrieved = out["handoff"]["retrieved"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let note_id: u64 = out["handoff"]["noteId"].as_str().unwrap().parse().unwrap();
        let note =
            r.sb().shared().store.read().records_of("0-46")[&note_id].props["hs_note_body"].clone();
        if expect_some {
            assert!(
                !retrieved.is_empty(),
                "tickets of the same topic are similar: {out}"
            );
            let article = retrieved
                .iter()
                .find(|h| h["objectType"] == "knowledge")
                .unwrap_or_else(|| panic!("the note cites the article: {out}"));
            assert!(
                article["url"].as_str().unwrap().ends_with("runbook.md"),
                "{article}"
            );
            assert!(note.contains("Runbook for this kind of ticket"), "{note}");
            for hit in &retrieved {
                assert_ne!(hit["id"], ticket.to_string(), "never the record itself");
                assert!(hit["score"].as_f64().unwrap() >= 0.5, "{hit}");
                assert!(note.contains(hit["id"].as_str().unwrap()), "{note}");
            }
        } else {
            assert!(retrieved.is_empty(), "{out}");
            assert!(note.contains("none scored 0.999 or more"), "{note}");
        }
        stop.cancel();
    }
    let _ = std::fs::remove_dir_all(&docs);
}
