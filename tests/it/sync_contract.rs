//! One contract for the sync seams, run against every backend: the SQLite queue and record
//! state (the embedded default) and Redis Streams plus hashes (shared by workers in many
//! processes, against a real `redis-server` on a loopback port).
//!
//! Each case is written once, as an `async fn(&Backend)`, and `contract!` runs it on both.
//! Two consumers (`a`, `b`) stand for two workers: for SQLite two handles on one database,
//! for Redis two consumers of one group. Redis measures lease idleness on its own clock, so
//! the Redis runs wait in real time for lapses (100-300 ms); SQLite runs on the injected clock
//! alone. The Redis-only cases (a worker that keeps dying, Redis going away) follow.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hubspot_mcp::sync::queue::Queue;
use hubspot_mcp::sync::seams::{Claim, ClaimRequest, EventQueue, Failed, RecordRow, RecordState};
use hubspot_mcp::sync::shared::{RedisState, StreamQueue, StreamSettings};
use hubspot_mcp::webhook::{Change, EventSink};
use secrecy::SecretString;

use crate::redis_server::RedisServer;

/// A lease shorter than any apply here: what "the holder stopped" means.
const LEASE: i64 = 150;

struct Backend {
    a: Arc<dyn EventQueue>,
    b: Arc<dyn EventQueue>,
    state: Arc<dyn RecordState>,
    now: AtomicI64,
    real_time: bool,
    redis: Option<RedisServer>,
}

impl Backend {
    fn now(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }

    /// Lets `ms` pass on the injected clock (and, for Redis, for real).
    async fn pass(&self, ms: i64) {
        self.now.fetch_add(ms, Ordering::SeqCst);
        if self.real_time {
            tokio::time::sleep(Duration::from_millis(ms as u64)).await;
        }
    }

    async fn sqlite() -> Self {
        let dir = crate::support::tempdir("contract");
        let q = Queue::open(&dir.join("sync.sqlite")).unwrap();
        Self {
            a: Arc::new(q.clone()),
            b: Arc::new(Queue::open(&dir.join("sync.sqlite")).unwrap()),
            state: Arc::new(q),
            now: AtomicI64::new(1_000_000),
            real_time: false,
            redis: None,
        }
    }

    async fn redis() -> Self {
        let redis = RedisServer::start();
        let url = SecretString::from(redis.url());
        let consumer = |name: &str| StreamSettings {
            consumer: name.into(),
            max_deliveries: 3,
            ..Default::default()
        };
        Self {
            a: Arc::new(StreamQueue::connect(&url, consumer("a")).await.unwrap()),
            b: Arc::new(StreamQueue::connect(&url, consumer("b")).await.unwrap()),
            state: Arc::new(RedisState::connect(&url, "hubspot-mcp:sync").await.unwrap()),
            now: AtomicI64::new(chrono::Utc::now().timestamp_millis()),
            real_time: true,
            redis: Some(redis),
        }
    }
}

fn change(key: &str, id: &str, occurred_ms: i64) -> Change {
    Change {
        key: key.into(),
        occurred_ms,
        object_type: "contacts".into(),
        object_id: id.into(),
        kind: "propertyChange".into(),
        related: vec!["companies/9".into()],
    }
}

fn backoff(failures: i64) -> i64 {
    failures * 100
}

macro_rules! contract {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$case(&super::Backend::sqlite().await).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn redis() {
                super::$case(&super::Backend::redis().await).await;
            }
        }
    )*};
}

contract!(
    duplicates_are_dropped_at_the_door_and_acks_are_counted_once,
    a_stale_workers_late_ack_of_reclaimed_work_is_refused,
    a_kept_lease_is_not_reclaimed,
    a_transient_failure_holds_events_back_without_counting,
    a_poison_event_is_dead_lettered_while_the_others_flow,
    record_state_reads_the_same_from_every_backend,
);

async fn duplicates_are_dropped_at_the_door_and_acks_are_counted_once(t: &Backend) {
    let now = t.now();
    // Through the receiver's seam: the same call a webhook takes.
    let sink: Arc<dyn EventSink> = t.a.clone();
    let e = sink
        .store(
            &[
                change("k1", "1", 1),
                change("k2", "2", 1),
                change("k1", "1", 1),
            ],
            now,
        )
        .await
        .unwrap();
    assert_eq!((e.accepted, e.duplicates), (2, 1));
    let again = t.b.enqueue(&[change("k2", "2", 1)], now).await.unwrap();
    assert_eq!(
        (again.accepted, again.duplicates),
        (0, 1),
        "a redelivery to any process"
    );
    let leased = t.a.lease(10, now, LEASE).await.unwrap();
    assert_eq!(
        leased
            .iter()
            .map(|l| l.change.key.as_str())
            .collect::<Vec<_>>(),
        ["k1", "k2"],
        "oldest first"
    );
    assert_eq!(leased[0].change, change("k1", "1", 1));
    assert_eq!(leased[0].attempts, 1);
    assert!(
        t.b.lease(10, now, LEASE).await.unwrap().is_empty(),
        "a leased event goes to one worker"
    );
    let d = t.a.depth(now).await.unwrap();
    assert_eq!((d.pending, d.leased, d.duplicates), (0, 2, 2), "{d:?}");
    let acked = t.a.ack(&leased, now).await.unwrap();
    assert_eq!((acked.acked, acked.refused), (2, 0));
    assert!(t.b.is_done("k1").await.unwrap());
    let d = t.b.depth(now).await.unwrap();
    assert_eq!(
        (d.pending, d.leased, d.processed, d.double_acks),
        (0, 0, 2, 0),
        "{d:?}"
    );
    // A late redelivery of a processed event is still a duplicate.
    let late = t.b.enqueue(&[change("k1", "1", 1)], now).await.unwrap();
    assert_eq!(late.duplicates, 1);
    assert!(t.a.lease(10, now, LEASE).await.unwrap().is_empty());
}

async fn a_stale_workers_late_ack_of_reclaimed_work_is_refused(t: &Backend) {
    t.a.enqueue(&[change("k", "1", 1)], t.now()).await.unwrap();
    let stale = t.a.lease(10, t.now(), LEASE).await.unwrap();
    assert_eq!(stale.len(), 1);
    // Worker a stalls past its lease; worker b takes the event over.
    t.pass(LEASE + 100).await;
    let taken = t.b.lease(10, t.now(), LEASE).await.unwrap();
    assert_eq!(taken.len(), 1, "the lapsed lease came back");
    assert_eq!(taken[0].attempts, 2);
    let late = t.a.ack(&stale, t.now()).await.unwrap();
    assert_eq!(
        (late.acked, late.refused),
        (0, 1),
        "the stale ack is refused"
    );
    assert_eq!(
        t.a.fail(&stale[0], "late", t.now(), 5, backoff)
            .await
            .unwrap(),
        Failed::NotHeld,
        "so is a stale failure"
    );
    let d = t.a.depth(t.now()).await.unwrap();
    assert_eq!((d.leased, d.processed), (1, 0), "b still holds it: {d:?}");
    let ok = t.b.ack(&taken, t.now()).await.unwrap();
    assert_eq!((ok.acked, ok.refused), (1, 0));
    let d = t.a.depth(t.now()).await.unwrap();
    assert_eq!(
        (d.pending, d.leased, d.processed, d.double_acks),
        (0, 0, 1, 0)
    );
}

async fn a_kept_lease_is_not_reclaimed(t: &Backend) {
    t.a.enqueue(&[change("long", "1", 1)], t.now())
        .await
        .unwrap();
    let long = t.a.lease(10, t.now(), LEASE).await.unwrap();
    for _ in 0..4 {
        t.pass(LEASE / 2).await;
        t.a.keep(&long, t.now(), LEASE).await.unwrap();
        assert!(
            t.b.lease(10, t.now(), LEASE).await.unwrap().is_empty(),
            "a kept lease is not reclaimed"
        );
    }
    assert_eq!(t.a.ack(&long, t.now()).await.unwrap().acked, 1);
}

async fn a_transient_failure_holds_events_back_without_counting(t: &Backend) {
    t.a.enqueue(&[change("k", "1", 1)], t.now()).await.unwrap();
    let l = t.a.lease(10, t.now(), LEASE).await.unwrap();
    t.a.retry_later(&l, t.now(), 300).await.unwrap();
    assert!(
        t.b.lease(10, t.now(), LEASE).await.unwrap().is_empty(),
        "held back"
    );
    let d = t.a.depth(t.now()).await.unwrap();
    assert_eq!(
        (d.pending + d.leased, d.dead),
        (1, 0),
        "still queued: {d:?}"
    );
    t.pass(350).await;
    let back = t.b.lease(10, t.now(), LEASE).await.unwrap();
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].change.key, "k");
    // No failure was counted: it takes the full max_failures (2) to dead-letter it.
    assert!(matches!(
        t.b.fail(&back[0], "HubSpot said 400", t.now(), 2, backoff)
            .await
            .unwrap(),
        Failed::Retrying { failures: 1, .. }
    ));
}

async fn a_poison_event_is_dead_lettered_while_the_others_flow(t: &Backend) {
    t.a.enqueue(&[change("bad", "1", 1), change("good", "2", 1)], t.now())
        .await
        .unwrap();
    let mut applied = Vec::new();
    let mut outcomes = Vec::new();
    for round in 0..6 {
        for l in t.a.lease(10, t.now(), LEASE).await.unwrap() {
            if l.change.key == "bad" {
                outcomes.push(
                    t.a.fail(
                        &l,
                        "HubSpot said 400: no such property",
                        t.now(),
                        3,
                        backoff,
                    )
                    .await
                    .unwrap(),
                );
            } else {
                applied.push(l.change.key.clone());
                assert_eq!(t.a.ack(&[l], t.now()).await.unwrap().acked, 1);
            }
        }
        if round == 1 {
            t.b.enqueue(&[change("later", "3", 1)], t.now())
                .await
                .unwrap();
        }
        t.pass(320).await;
    }
    assert_eq!(applied, ["good", "later"], "the others flowed");
    assert_eq!(outcomes.len(), 3, "{outcomes:?}");
    assert!(matches!(outcomes[0], Failed::Retrying { failures: 1, .. }));
    assert!(matches!(outcomes[1], Failed::Retrying { failures: 2, .. }));
    assert_eq!(outcomes[2], Failed::DeadLettered { failures: 3 });
    let dead = t.b.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!((dead[0].key.as_str(), dead[0].failures), ("bad", 3));
    assert!(dead[0].error.contains("400"));
    let d = t.b.depth(t.now()).await.unwrap();
    assert_eq!((d.pending, d.leased, d.dead), (0, 0, 1), "{d:?}");
    // Retried: back once, failures reset.
    assert_eq!(t.b.retry_dead_letters().await.unwrap(), 1);
    let back = t.a.lease(10, t.now(), LEASE).await.unwrap();
    assert_eq!(back.len(), 1);
    assert!(matches!(
        t.a.fail(&back[0], "again", t.now(), 2, backoff)
            .await
            .unwrap(),
        Failed::Retrying { failures: 1, .. }
    ));
    t.pass(250).await;
    let back = t.a.lease(10, t.now(), LEASE).await.unwrap();
    assert_eq!(
        t.a.fail(&back[0], "again", t.now(), 2, backoff)
            .await
            .unwrap(),
        Failed::DeadLettered { failures: 2 }
    );
    // Dropped: its key stays seen, so a redelivery is a duplicate.
    assert_eq!(t.a.drop_dead_letters(t.now()).await.unwrap(), 1);
    assert_eq!(
        t.b.enqueue(&[change("bad", "1", 1)], t.now())
            .await
            .unwrap()
            .duplicates,
        1
    );
    assert_eq!(t.a.depth(t.now()).await.unwrap().dead, 0);
}

fn row(id: &str, email: Option<&str>, updated: i64, digest: &str) -> RecordRow {
    RecordRow {
        reference: format!("contacts/{id}"),
        object_type: "contacts".into(),
        id: id.into(),
        title: format!("Contact {id}"),
        updated_ms: Some(updated),
        digest: digest.into(),
        email: email.map(str::to_string),
        domain: None,
        phone: None,
    }
}

async fn record_state_reads_the_same_from_every_backend(t: &Backend) {
    let s = &t.state;
    s.put_records(&[
        row("2", Some("a@x.io"), 20, "d2"),
        row("10", Some("a@x.io"), 100, "d10"),
        row("3", Some("b@x.io"), 30, "d3"),
        row("7", None, 70, "d7"),
    ])
    .await
    .unwrap();
    let mut company = row("5", Some("a@x.io"), 50, "c5");
    company.reference = "companies/5".into();
    company.object_type = "companies".into();
    s.put_records(&[company]).await.unwrap();
    let d = s
        .digests(&["contacts/2".into(), "contacts/99".into()])
        .await
        .unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(d["contacts/2"], "d2");
    // Numeric order, not text order (10 after 7), a page at a time.
    let page = s
        .record_versions_page("contacts", i64::MIN, 3)
        .await
        .unwrap();
    assert_eq!(page, [(2, Some(20)), (3, Some(30)), (7, Some(70))]);
    let page = s.record_versions_page("contacts", 7, 3).await.unwrap();
    assert_eq!(page, [(10, Some(100))]);
    assert_eq!(
        s.record_counts().await.unwrap(),
        [("companies".to_string(), 1), ("contacts".to_string(), 4)]
    );
    let dups = s.duplicates("email", Some("contacts"), 10).await.unwrap();
    assert_eq!(dups.len(), 1);
    assert_eq!(dups[0].0, "a@x.io");
    assert_eq!(
        dups[0]
            .1
            .iter()
            .map(|r| r.reference.as_str())
            .collect::<Vec<_>>(),
        ["contacts/10", "contacts/2"]
    );
    let all = s.duplicates("email", None, 10).await.unwrap();
    assert_eq!(all[0].1.len(), 3, "across types when none is named");
    // A changed email moves the record between groups; a deleted record leaves its group.
    s.put_records(&[row("3", Some("a@x.io"), 31, "d3b")])
        .await
        .unwrap();
    s.delete_records(&["contacts/2".into()], 1_000)
        .await
        .unwrap();
    let dups = s.duplicates("email", Some("contacts"), 10).await.unwrap();
    assert_eq!(
        dups[0]
            .1
            .iter()
            .map(|r| r.reference.as_str())
            .collect::<Vec<_>>(),
        ["contacts/10", "contacts/3"]
    );
    assert!(
        s.duplicates("name", None, 10).await.is_err(),
        "unknown field"
    );
    assert_eq!(
        s.record_versions_page("contacts", i64::MIN, 10)
            .await
            .unwrap(),
        [(3, Some(31)), (7, Some(70)), (10, Some(100))]
    );
    // Claims before an index write: content already held is unchanged; an older version than
    // the one held is stale; one worker at a time writes a record (shared backends; one SQLite
    // process has no one to race); a read from before a deletion cannot bring it back.
    let req = |r: &str, d: &str, updated: i64, read: i64| ClaimRequest {
        reference: r.into(),
        digest: d.into(),
        updated_ms: Some(updated),
        read_ms: read,
    };
    assert_eq!(
        s.claim(
            &[
                req("contacts/3", "d3b", 31, 0),
                req("contacts/7", "d7-old", 60, 0),
                req("contacts/7", "d7-new", 80, 0),
            ],
            5_000
        )
        .await
        .unwrap(),
        [Claim::Unchanged, Claim::Stale, Claim::Granted]
    );
    let shared = t.redis.is_some();
    assert_eq!(
        s.claim(&[req("contacts/7", "d7-newer", 90, 0)], 5_000)
            .await
            .unwrap(),
        [if shared {
            Claim::Contended
        } else {
            Claim::Granted
        }]
    );
    s.release(&["contacts/7".into()]).await.unwrap();
    assert_eq!(
        s.claim(&[req("contacts/7", "d7-newer", 90, 0)], 5_000)
            .await
            .unwrap(),
        [Claim::Granted],
        "released"
    );
    // contacts/2 was deleted at 1,000: a read from before is stale, one from after is not.
    assert_eq!(
        s.claim(
            &[
                req("contacts/2", "d2-ghost", 20, 900),
                req("contacts/2", "d2-restored", 2_000, 1_500)
            ],
            5_000
        )
        .await
        .unwrap()[0],
        if shared { Claim::Stale } else { Claim::Granted }
    );
    // The applied occurredAt only rises.
    s.mark_applied(&[("contacts/3".into(), 500), ("contacts/7".into(), 40)])
        .await
        .unwrap();
    s.mark_applied(&[("contacts/3".into(), 400)]).await.unwrap();
    let at = s
        .applied_at(&[
            "contacts/3".into(),
            "contacts/7".into(),
            "contacts/8".into(),
        ])
        .await
        .unwrap();
    assert_eq!((at["contacts/3"], at["contacts/7"], at.len()), (500, 40, 2));
    // Checkpoints.
    s.set_checkpoint("backfill:contacts", Some("42"))
        .await
        .unwrap();
    s.set_checkpoint("backfill_progress:contacts", Some("{\"done\":1}"))
        .await
        .unwrap();
    assert_eq!(
        s.checkpoint("backfill:contacts").await.unwrap().as_deref(),
        Some("42")
    );
    assert_eq!(
        s.checkpoints_under("backfill_progress:").await.unwrap(),
        [("contacts".to_string(), "{\"done\":1}".to_string())]
    );
    s.set_checkpoint("backfill:contacts", None).await.unwrap();
    assert_eq!(s.checkpoint("backfill:contacts").await.unwrap(), None);
}

/// A worker that dies every time it takes an event (never acks, never fails it) would
/// circle it forever: past `max_deliveries` (3 here) it goes to the dead letters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_an_event_that_kills_its_workers_is_dead_lettered_after_n_deliveries() {
    let t = Backend::redis().await;
    t.a.enqueue(
        &[change("killer", "666", 1), change("fine", "1", 1)],
        t.now(),
    )
    .await
    .unwrap();
    let mut applied = Vec::new();
    for round in 0..6 {
        let q = if round % 2 == 0 { &t.a } else { &t.b };
        for l in q.lease(10, t.now(), LEASE).await.unwrap() {
            if l.change.key != "killer" {
                applied.push(l.change.key.clone());
                assert_eq!(q.ack(&[l], t.now()).await.unwrap().acked, 1);
            }
        }
        t.pass(LEASE + 50).await;
    }
    assert_eq!(applied, ["fine"]);
    let dead = t.a.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!((dead[0].key.as_str(), dead[0].failures), ("killer", 4));
    assert!(
        dead[0].error.contains("without an ack"),
        "{}",
        dead[0].error
    );
    let redis = t.redis.as_ref().unwrap();
    assert_eq!(
        redis.cli(&["XLEN", "hubspot-mcp:sync:events"]),
        "0",
        "acked entries are deleted"
    );
    assert_eq!(redis.cli(&["XLEN", "hubspot-mcp:sync:dead"]), "1");
}

/// Redis away: the enqueue fails (the receiver answers 503, HubSpot retries) within the
/// receiver's ack deadline; once Redis is back, the retry is accepted and, although Redis lost
/// its data (no persistence here), the next lease recreates the consumer group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_fails_fast_nothing_is_acknowledged_and_the_group_comes_back() {
    let mut t = Backend::redis().await;
    let mut redis = t.redis.take().unwrap();
    redis.kill();
    let started = std::time::Instant::now();
    let e = t.a.enqueue(&[change("k1", "1", 1)], t.now()).await;
    assert!(e.is_err(), "{e:?}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "inside the receiver's 4 s ack deadline: {:?}",
        started.elapsed()
    );
    let msg = e.unwrap_err().to_string();
    assert!(msg.contains("Redis") && !msg.contains("redis://"), "{msg}");
    redis.restart();
    let mut accepted = None;
    for _ in 0..50 {
        if let Ok(e) = t.a.enqueue(&[change("k1", "1", 1)], t.now()).await {
            accepted = Some(e.accepted);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(accepted, Some(1));
    let leased = t.b.lease(10, t.now(), LEASE).await.unwrap();
    assert_eq!(leased.len(), 1);
}

/// The whole path, with Redis stopped in the middle of deliveries: the sandbox sends signed
/// webhooks to the receiver, which stores them in the shared queue before answering. While
/// Redis is down the receiver answers 503 and nothing is acknowledged; the sandbox retries (as
/// HubSpot does), and once Redis is back its retries land. Redis runs with
/// `appendfsync always` here, so what was acknowledged before the crash survives it: at the
/// end the queue holds every event the sandbox emitted, each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_during_delivery_503_then_the_retries_land_and_nothing_acked_is_lost() {
    use hubspot_mcp::time::{SharedClock, SystemClock};
    use hubspot_mcp::webhook::receiver::{Receiver, ReceiverConfig, PATH};
    use hubspot_sandbox::seed::RecordCounts;
    use hubspot_sandbox::webhooks::{Subscription, WebhookSettings};
    use serde_json::{json, Value};

    const SECRET: &str = "redis-down-secret";
    let mut redis = RedisServer::start_durable();
    let url = SecretString::from(redis.url());
    let queue = Arc::new(
        StreamQueue::connect(&url, StreamSettings::default())
            .await
            .unwrap(),
    );
    let clock: SharedClock = Arc::new(SystemClock);
    let receiver = Receiver::new(
        ReceiverConfig::new(SecretString::from(SECRET.to_string())),
        queue.clone(),
        clock,
        Arc::new(tokio::sync::Notify::new()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = format!("http://{}{PATH}", listener.local_addr().unwrap());
    let stop = tokio_util::sync::CancellationToken::new();
    {
        let (app, stop) = (receiver.router(), stop.clone());
        tokio::spawn(async move {
            hubspot_mcp::listener::serve(
                listener,
                app,
                hubspot_mcp::listener::Limits::default(),
                async move { stop.cancelled().await },
            )
            .await
        });
    }
    let mut cfg = crate::support::SandboxConfig {
        records: RecordCounts::scaled(100),
        limits_enabled: false,
        ..Default::default()
    };
    cfg.oauth.client_secret = SECRET.into();
    let sb = crate::support::spawn(cfg).await;
    let mut w = WebhookSettings::default();
    w.subscriptions.push(Subscription {
        event_type: "contact.propertyChange".into(),
        object_type_id: None,
        property_name: Some("jobtitle".into()),
    });
    w.target_url = Some(target);
    w.client_secret = SECRET.into();
    w.retry_base_ms = 100;
    w.retry_cap_ms = 500;
    w.max_retries = 100;
    sb.webhooks().configure(w);
    let api = crate::support::Api::new(&sb);
    let page = api.get("/crm/v3/objects/contacts?limit=100").await.body;
    let ids: Vec<String> = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    let update = |round: usize| {
        let inputs: Vec<Value> = ids
            .iter()
            .map(|id| json!({"id": id, "properties": {"jobtitle": format!("Role {round}")}}))
            .collect();
        json!({ "inputs": inputs })
    };
    // Round 0 lands while Redis is up.
    api.post("/crm/v3/objects/contacts/batch/update", update(0))
        .await;
    assert!(sb.webhooks().wait_idle(Duration::from_secs(30)).await);
    let before = queue.depth(0).await.unwrap();
    assert_eq!(before.pending, ids.len() as u64);
    // Redis crashes; round 1 is delivered meanwhile and refused with 503.
    redis.kill();
    api.post("/crm/v3/objects/contacts/batch/update", update(1))
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let refused = sb
            .webhooks()
            .attempts
            .lock()
            .iter()
            .filter(|a| a.status == Some(503))
            .count();
        if refused > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no 503 while Redis was down"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Redis is back with what it acknowledged; the sandbox's retries land.
    redis.restart();
    assert!(
        sb.webhooks().wait_idle(Duration::from_secs(60)).await,
        "the retries never landed"
    );
    let emitted = sb
        .webhooks()
        .stats
        .events_emitted
        .load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(emitted, 2 * ids.len() as u64);
    let abandoned = sb
        .webhooks()
        .stats
        .batches_abandoned
        .load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(abandoned, 0);
    // Read back from Redis itself: every emitted event is queued, once.
    assert_eq!(
        redis.cli(&["XLEN", "hubspot-mcp:sync:events"]),
        emitted.to_string()
    );
    let d = queue.depth(0).await.unwrap();
    assert_eq!(d.pending, emitted, "{d:?}");
    stop.cancel();
}
