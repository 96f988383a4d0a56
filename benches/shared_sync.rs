//! Sync shared by workers in separate processes, measured. It starts what it needs: Redis on a
//! loopback port, the Qdrant stand-in (`crates/qdrant-standin`, gRPC, backed by qdrant-edge),
//! the sandbox (1,000 contacts), a webhook receiver that stores into the shared Redis queue,
//! and `hubspot-mcp sync --listen` workers as separate OS processes sharing Redis (queue and
//! record state) and the stand-in (the index).
//!
//! The sandbox sends 10,000 `contact.propertyChange` events (ten rounds of batch updates over
//! 1,000 contacts), 5% of its batches delivered twice and every batch shuffled:
//! 1. 4,000 events queued, then one worker drains them: `workers1_records_per_s`;
//! 2. 4,000 more queued, then two workers drain them: `workers2_records_per_s`;
//! 3. 2,000 more while both run; one worker is killed with SIGKILL while it holds leased
//!    entries, and the other reclaims them once their lease lapses: `reclaimed`.
//!
//! Checked from the outside: every distinct event the receiver accepted is processed (`lost`
//! counts those that are not); no content is written to the index twice (`applied_twice`:
//! (point, payload) pairs the stand-in saw more than once, plus double acks); and every
//! contact's indexed version equals the sandbox's. A "record" below is one event applied
//! (read from HubSpot, compared, embedded and written when it changed): the rates are events
//! drained per second. On two shared cores a second worker adds little (embedding is the
//! bottleneck and both compete for the same cores): the pair shows what sharing costs.
//!
//! Run: `cargo bench --bench shared_sync` (needs `redis-server` and the embedding model that
//! `scripts/provision.sh` installs). Last line:
//! `shared-sync: events=… lost=… applied_twice=… reclaimed=… workers1_records_per_s=… workers2_records_per_s=…`

use std::collections::{HashMap, HashSet};
use std::io::BufRead;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hubspot_mcp::index::qdrant::QdrantServer;
use hubspot_mcp::index::{Exactness, SearchFilter, VectorStore};
use hubspot_mcp::sync::seams::EventQueue;
use hubspot_mcp::sync::shared::{StreamQueue, StreamSettings};
use hubspot_mcp::time::{SharedClock, SystemClock};
use hubspot_mcp::webhook::receiver::{Receiver, ReceiverConfig, PATH};
use hubspot_mcp::webhook::{Change, Enqueued, EventSink, SinkError};
use hubspot_sandbox::seed::RecordCounts;
use hubspot_sandbox::webhooks::{Subscription, WebhookSettings};
use hubspot_sandbox::{Sandbox, SandboxConfig};
use parking_lot::Mutex;
use secrecy::SecretString;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

const BIN: &str = env!("CARGO_BIN_EXE_hubspot-mcp");
const SECRET: &str = "shared-sync-bench-secret";
const LEASE_MS: u64 = 3_000;
const COLLECTION: &str = "shared_sync_bench";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills its process when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn redis_server(dir: &Path) -> (Proc, u16) {
    let port = free_port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--dir"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server (apt-get install redis-server)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (Proc(child), port)
}

fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli");
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// A `sync --listen` worker process sharing Redis and the stand-in; returns once it is ready.
fn worker(sb: &Sandbox, data: &Path, redis: &str, qdrant: &str) -> Proc {
    std::fs::create_dir_all(data).unwrap();
    let mut child = Command::new(BIN)
        .args(["sync", "--listen", &format!("127.0.0.1:{}", free_port())])
        .env("HUBSPOT_MCP_DATA_DIR", data)
        .env("HUBSPOT_MCP_HUBSPOT__TOKEN", sb.token())
        .env("HUBSPOT_MCP_HUBSPOT__CLIENT_SECRET", SECRET)
        .env("HUBSPOT_MCP_HUBSPOT__CLIENT__BASE_URL", sb.base_url())
        .env("HUBSPOT_MCP_HUBSPOT__CLIENT__GOVERNOR__BURST_MAX", "100000")
        .env("HUBSPOT_MCP_SYNC__SHARED__REDIS_URL", redis)
        .env("HUBSPOT_MCP_SYNC__INDEX__QDRANT_URL", qdrant)
        .env("HUBSPOT_MCP_SYNC__INDEX__COLLECTION", COLLECTION)
        .env("HUBSPOT_MCP_SYNC__ENGINE__LEASE_MS", LEASE_MS.to_string())
        .env("HUBSPOT_MCP_SYNC__ENGINE__BATCH", "200")
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the hubspot-mcp binary");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains(PATH), "the worker printed {line:?}");
    Proc(child)
}

/// The receiver's sink: the shared queue, remembering every distinct event it was given.
struct Recording {
    queue: StreamQueue,
    keys: Mutex<HashSet<String>>,
}

#[async_trait::async_trait]
impl EventSink for Recording {
    async fn store(&self, changes: &[Change], now_ms: i64) -> Result<Enqueued, SinkError> {
        let out = self.queue.store(changes, now_ms).await?;
        self.keys
            .lock()
            .extend(changes.iter().map(|c| c.key.clone()));
        Ok(out)
    }
}

async fn contact_ids(sb: &Sandbox) -> Vec<String> {
    let http = reqwest::Client::new();
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut url = format!("{}/crm/v3/objects/contacts?limit=100", sb.base_url());
        if let Some(a) = &after {
            url.push_str(&format!("&after={a}"));
        }
        let page: Value = http
            .get(url)
            .bearer_auth(sb.token())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        out.extend(
            page["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_string()),
        );
        match page.pointer("/paging/next/after").and_then(Value::as_str) {
            Some(a) => after = Some(a.to_string()),
            None => return out,
        }
    }
}

/// One round: every contact's job title changes (10 batch updates of 100).
async fn round(sb: &Sandbox, ids: &[String], n: usize) {
    let http = reqwest::Client::new();
    for chunk in ids.chunks(100) {
        let inputs: Vec<Value> = chunk
            .iter()
            .map(|id| json!({"id": id, "properties": {"jobtitle": format!("Engineer, round {n}")}}))
            .collect();
        let res = http
            .post(format!(
                "{}/crm/v3/objects/contacts/batch/update",
                sb.base_url()
            ))
            .bearer_auth(sb.token())
            .json(&json!({"inputs": inputs}))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{}", res.status());
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Waits until the queue holds nothing and `processed` reached `target`; returns the elapsed
/// time and the processed count when draining began.
async fn drain(q: &StreamQueue, target: u64, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let d = q.depth(now_ms()).await.unwrap();
        if d.pending + d.leased == 0 && d.processed >= target {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "not drained in {limit:?}: {d:?} (target {target})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let root = std::env::temp_dir().join(format!(
        "hsmcp-shared-sync-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(root.join("redis")).unwrap();
    let (_redis, redis_port) = redis_server(&root.join("redis"));
    let redis_url = format!("redis://127.0.0.1:{redis_port}/");

    // The index: the stand-in, on a loopback port, in this process.
    let standin = qdrant_standin::StandIn::new(root.join("qdrant"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let qdrant_url = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let serving = {
        let (s, stop) = (standin.clone(), stop.clone());
        tokio::spawn(async move {
            s.serve(listener, async move { stop.cancelled().await })
                .await
        })
    };

    // The receiver: verifies, parses, and stores into the shared queue before its 204.
    let sink = Arc::new(Recording {
        queue: StreamQueue::connect(
            &SecretString::from(redis_url.clone()),
            StreamSettings {
                consumer: "bench-reader".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap(),
        keys: Mutex::new(HashSet::new()),
    });
    let clock: SharedClock = Arc::new(SystemClock);
    let receiver = Receiver::new(
        ReceiverConfig::new(SecretString::from(SECRET.to_string())),
        sink.clone(),
        clock,
        Arc::new(tokio::sync::Notify::new()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let receiver_url = format!("http://{}{PATH}", listener.local_addr().unwrap());
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

    // The sandbox: 1,000 contacts; shuffled batches, 5% delivered twice.
    let mut cfg = SandboxConfig {
        records: RecordCounts::scaled(1_000),
        limits_enabled: false,
        search_lag_ms: 0,
        ..Default::default()
    };
    cfg.oauth.client_secret = SECRET.into();
    let sb = Sandbox::start(cfg).await.unwrap();
    let mut w = WebhookSettings::default();
    w.subscriptions.push(Subscription {
        event_type: "contact.propertyChange".into(),
        object_type_id: None,
        property_name: Some("jobtitle".into()),
    });
    w.target_url = Some(receiver_url);
    w.client_secret = SECRET.into();
    w.duplicate_rate = 0.05;
    w.shuffle = true;
    w.retry_base_ms = 200;
    w.retry_cap_ms = 2_000;
    sb.webhooks().configure(w);
    let ids = contact_ids(&sb).await;
    assert_eq!(ids.len(), 1_000);
    let q = &sink.queue;

    // 1. One worker drains 4,000 queued events.
    for n in 0..4 {
        round(&sb, &ids, n).await;
    }
    assert!(sb.webhooks().wait_idle(Duration::from_secs(120)).await);
    let a = worker(&sb, &root.join("a"), &redis_url, &qdrant_url);
    let t1 = drain(q, 4_000, Duration::from_secs(900)).await;
    let rate1 = 4_000.0 / t1.as_secs_f64();
    eprintln!("phase 1: 4,000 events by one worker in {t1:.1?} ({rate1:.0}/s)");
    drop(a);

    // 2. Two workers drain 4,000 more.
    for n in 4..8 {
        round(&sb, &ids, n).await;
    }
    assert!(sb.webhooks().wait_idle(Duration::from_secs(120)).await);
    let (ra, rb) = (root.join("a"), root.join("b"));
    let (s1, s2) = (&sb, &sb);
    let (r1, r2, q1, q2) = (&redis_url, &redis_url, &qdrant_url, &qdrant_url);
    let (a, b) = std::thread::scope(|sc| {
        let a = sc.spawn(|| worker(s1, &ra, r1, q1));
        let b = sc.spawn(|| worker(s2, &rb, r2, q2));
        (a.join().unwrap(), b.join().unwrap())
    });
    let before = q.depth(now_ms()).await.unwrap().processed;
    let t2 = drain(q, 8_000, Duration::from_secs(900)).await;
    let rate2 = (8_000 - before.min(8_000)) as f64 / t2.as_secs_f64();
    eprintln!(
        "phase 2: {} events by two workers in {t2:.1?} ({rate2:.0}/s)",
        8_000 - before.min(8_000)
    );

    // 3. 2,000 more while both run; worker b is killed while it holds leased entries.
    let b_pid = b.0.id();
    let mut b = Some(b);
    let mut reclaimed = 0u64;
    let feeding = {
        let (sb_url, token, ids) = (
            sb.base_url().to_string(),
            sb.token().to_string(),
            ids.clone(),
        );
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            for n in 8..10 {
                for chunk in ids.chunks(100) {
                    let inputs: Vec<Value> = chunk
                        .iter()
                        .map(|id| json!({"id": id, "properties": {"jobtitle": format!("Engineer, round {n}")}}))
                        .collect();
                    http.post(format!("{sb_url}/crm/v3/objects/contacts/batch/update"))
                        .bearer_auth(&token)
                        .json(&json!({"inputs": inputs}))
                        .send()
                        .await
                        .unwrap();
                }
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while b.is_some() && Instant::now() < deadline {
        let consumers = redis_cli(
            redis_port,
            &["XINFO", "CONSUMERS", "hubspot-mcp:sync:events", "workers"],
        );
        let lines: Vec<&str> = consumers.lines().collect();
        let mut held = 0u64;
        for (i, l) in lines.iter().enumerate() {
            if l.contains(&format!("-{b_pid}-")) {
                held = lines
                    .get(i + 2)
                    .and_then(|p| p.trim().parse().ok())
                    .unwrap_or(0);
            }
        }
        if held > 0 {
            let mut p = b.take().unwrap();
            p.0.kill().unwrap(); // SIGKILL, mid-batch
            let _ = p.0.wait();
            reclaimed = held;
            eprintln!("phase 3: killed worker b (pid {b_pid}) holding {held} entries");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(reclaimed > 0, "worker b never held entries to kill it with");
    feeding.await.unwrap();
    assert!(sb.webhooks().wait_idle(Duration::from_secs(120)).await);
    drain(q, 10_000, Duration::from_secs(900)).await;
    drop(a);

    // Checked from the outside.
    let events = sb
        .webhooks()
        .stats
        .events_emitted
        .load(std::sync::atomic::Ordering::SeqCst);
    let keys: Vec<String> = sink.keys.lock().iter().cloned().collect();
    let mut lost = 0;
    for k in &keys {
        if !q.is_done(k).await.unwrap() {
            lost += 1;
        }
    }
    lost += (events as usize).saturating_sub(keys.len());
    let depth = q.depth(now_ms()).await.unwrap();
    let writes = standin.writes();
    let applied_twice = writes.repeated + depth.double_acks;
    // Every contact's indexed version is the sandbox's.
    let store = QdrantServer::connect(&qdrant_url, COLLECTION, None, 384)
        .await
        .unwrap();
    let probe = {
        let mut v = vec![0.0f32; 384];
        v[0] = 1.0;
        v
    };
    let hits = store
        .search(
            &probe,
            5_000,
            &SearchFilter {
                object_types: vec!["contacts".into()],
                ..Default::default()
            },
            Exactness::Exact,
        )
        .await
        .unwrap();
    let indexed: HashMap<String, Option<i64>> = hits
        .into_iter()
        .filter(|h| h.chunk == 0)
        .map(|h| (h.payload.record_id.clone(), h.payload.updated_ms))
        .collect();
    let http = reqwest::Client::new();
    let mut mismatched = 0;
    for chunk in ids.chunks(100) {
        let body: Value = http
            .post(format!("{}/crm/v3/objects/contacts/batch/read", sb.base_url()))
            .bearer_auth(sb.token())
            .json(&json!({"inputs": chunk.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(), "properties": ["jobtitle"]}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for r in body["results"].as_array().unwrap() {
            let id = r["id"].as_str().unwrap();
            let hubspot = r["updatedAt"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.timestamp_millis());
            if indexed.get(id).copied().flatten() != hubspot {
                mismatched += 1;
            }
        }
    }
    stop.cancel();
    eprintln!(
        "checks: {} distinct events accepted, {} duplicate deliveries dropped, {} points written, {} contacts indexed, {mismatched} differ from HubSpot",
        keys.len(),
        depth.duplicates,
        writes.points,
        indexed.len()
    );
    // The shards flush when their last handle goes: before their directory does.
    drop(store);
    let _ = serving.await;
    drop(standin);
    let _ = std::fs::remove_dir_all(&root);
    println!(
        "shared-sync: events={events} lost={lost} applied_twice={applied_twice} reclaimed={reclaimed} workers1_records_per_s={rate1:.0} workers2_records_per_s={rate2:.0}"
    );
    if lost > 0 || applied_twice > 0 || mismatched > 0 {
        std::process::exit(1);
    }
}
