//! The fault matrix: one test per fault, each through the MCP tools an agent calls, against
//! the sandbox. For every row the same four things are asserted:
//!
//! 1. **no data lost**: the write the agent asked for is in the portal once the call
//!    succeeds (or, when it failed, the agent was told and nothing half-done remains);
//! 2. **no duplicate write**: the portal holds the change once (creates are not retried
//!    after an ambiguous failure);
//! 3. **a clear error**: when the call fails, the tool result says what happened and what to
//!    do (never a transport-level failure of the MCP call itself);
//! 4. **bounded recovery**: once the fault is gone, the next call succeeds within a bound.
//!
//! Faults that only the client sees (token expiry and a failing refresh, the breaker, a
//! 60-second 429 storm) have their rows in `client.rs`; the poison record in `sync.rs`; the
//! cancelled call in `hostile.rs` and `limit.rs`; Qdrant unreachable in `sync.rs`.

use std::time::{Duration, Instant};

use hubspot_mcp::hubspot::client::ClientSettings;
use hubspot_mcp::hubspot::retry::Backoff;
use hubspot_sandbox::faults::{FaultKind, FaultSpec};
use hubspot_sandbox::limits::Policy;
use serde_json::{json, Value};

use crate::support::{spawn_app, TestApp, TestOptions};

struct Matrix {
    app: TestApp,
    url: String,
}

impl Matrix {
    async fn start() -> Self {
        let app = spawn_app(TestOptions {
            client: ClientSettings {
                // Fast retries: the matrix checks behaviour, not the production pacing.
                backoff: Backoff {
                    base_ms: 20,
                    cap_ms: 200,
                    max_attempts: 6,
                    max_retry_after_ms: 5_000,
                },
                ..Default::default()
            },
            http_token: Some("m"),
            ..Default::default()
        })
        .await;
        let url = app.mcp_url().to_string();
        let m = Self { app, url };
        // Warm the metadata the tools validate against, so faults hit the calls under test.
        assert!(
            m.tool("describe_properties", json!({"objectType": "contacts"}))
                .await
                .0
        );
        m
    }

    /// Calls a tool: (succeeded, the result's text or structured content).
    async fn tool(&self, name: &str, arguments: Value) -> (bool, Value) {
        let res = reqwest::Client::new()
            .post(&self.url)
            .bearer_auth("m")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name, "arguments": arguments}}))
            .send()
            .await
            .expect("the MCP call itself never fails at the transport");
        assert_eq!(res.status().as_u16(), 200);
        let v: Value = res.json().await.unwrap();
        let r = &v["result"];
        assert!(
            v["error"].is_null(),
            "a HubSpot fault is a tool result, not a protocol error: {v}"
        );
        if r["isError"] == true {
            (false, r["content"][0]["text"].clone())
        } else {
            (true, r["structuredContent"].clone())
        }
    }

    fn contact(&self) -> u64 {
        *self
            .app
            .sb()
            .shared()
            .store
            .read()
            .records_of("0-1")
            .keys()
            .next()
            .unwrap()
    }

    fn jobtitle(&self, id: u64) -> Option<String> {
        self.app.sb().shared().store.read().records_of("0-1")[&id]
            .props
            .get("jobtitle")
            .cloned()
    }

    fn requests(&self, method: &str, suffix: &str) -> usize {
        self.app
            .sb()
            .log_entries()
            .iter()
            .filter(|e| e.method == method && e.path.ends_with(suffix))
            .count()
    }

    fn emails(&self, email: &str) -> usize {
        self.app
            .sb()
            .shared()
            .store
            .read()
            .records_of("0-1")
            .values()
            .filter(|r| r.props.get("email").map(String::as_str) == Some(email))
            .count()
    }
}

/// A row for an idempotent update: the fault hits `batch/update`, the call must still land
/// the value exactly once, within `bound`.
async fn update_survives(fault: FaultSpec, bound: Duration) {
    let m = Matrix::start().await;
    let id = m.contact();
    m.app.sb().clear_log();
    m.app
        .sb()
        .inject(fault.on("/crm/objects/2026-03/contacts/batch/update"));
    let title = format!("t-{}", uuid::Uuid::new_v4().simple());
    let started = Instant::now();
    let (ok, out) = m
        .tool(
            "update_objects",
            json!({"objectType": "contacts", "records": [{"id": id.to_string(), "properties": {"jobtitle": title}}]}),
        )
        .await;
    assert!(ok, "the call survives the fault: {out}");
    assert!(
        started.elapsed() < bound,
        "recovered in {:?}",
        started.elapsed()
    );
    assert_eq!(
        m.jobtitle(id).as_deref(),
        Some(title.as_str()),
        "no data lost"
    );
    assert!(m.requests("POST", "/batch/update") >= 2, "it was retried");
}

/// A row for a read: the fault hits `path`, the read must still answer within `bound`.
async fn read_survives(fault: FaultSpec, path: &str, tool: &str, args: Value, bound: Duration) {
    let m = Matrix::start().await;
    m.app.sb().inject(fault.on(path));
    let started = Instant::now();
    let (ok, out) = m.tool(tool, args).await;
    assert!(ok, "{tool} survives the fault: {out}");
    assert!(
        started.elapsed() < bound,
        "recovered in {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_429_storm() {
    update_survives(
        FaultSpec::new(FaultKind::RateLimit {
            policy: Policy::TenSecondlyRolling,
        })
        .times(4)
        .retry_after(1),
        Duration::from_secs(8),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_5xx_burst() {
    let m = Matrix::start().await;
    let id = m.contact();
    read_survives(
        FaultSpec::new(FaultKind::Status { status: 502 }).times(3),
        "/crm/objects/2026-03/contacts/batch/read",
        "get_objects",
        json!({"objectType": "contacts", "ids": [id.to_string()]}),
        Duration::from_secs(5),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_524_timeout_at_the_edge() {
    read_survives(
        FaultSpec::new(FaultKind::Status { status: 524 }).times(2),
        "/crm/objects/2026-03/contacts/search",
        "search_objects",
        json!({"objectType": "contacts", "query": "a"}),
        Duration::from_secs(5),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_dropped_connections() {
    let m = Matrix::start().await;
    let id = m.contact();
    read_survives(
        FaultSpec::new(FaultKind::Drop).times(2),
        "/crm/objects/2026-03/contacts/batch/read",
        "get_objects",
        json!({"objectType": "contacts", "ids": [id.to_string()]}),
        Duration::from_secs(5),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_latency_spike() {
    read_survives(
        FaultSpec::new(FaultKind::Latency { ms: 1_500 }).times(1),
        "/crm/objects/2026-03/contacts/search",
        "search_objects",
        json!({"objectType": "contacts", "query": "a"}),
        Duration::from_secs(5),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_423_locked() {
    update_survives(
        FaultSpec::new(FaultKind::Status { status: 423 })
            .times(1)
            .retry_after(1),
        Duration::from_secs(6),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_477_migration_in_progress() {
    update_survives(
        FaultSpec::new(FaultKind::Status { status: 477 })
            .times(1)
            .retry_after(1),
        Duration::from_secs(6),
    )
    .await;
}

/// A create is not idempotent: after an ambiguous 5xx it is not retried, the agent is told,
/// and its own retry creates the record once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_5xx_on_a_create_is_not_retried_and_never_duplicates() {
    let m = Matrix::start().await;
    m.app.sb().clear_log();
    m.app.sb().inject(
        FaultSpec::new(FaultKind::Status { status: 500 })
            .on("/crm/objects/2026-03/contacts/batch/create")
            .times(1),
    );
    let email = format!("{}@fault.example", uuid::Uuid::new_v4().simple());
    let args = json!({"objectType": "contacts", "records": [{"properties": {"email": email}}]});
    let (ok, text) = m.tool("create_objects", args.clone()).await;
    assert!(!ok);
    let text = text.as_str().unwrap_or_default().to_string();
    assert!(
        text.contains("500"),
        "the agent is told what happened: {text}"
    );
    assert_eq!(m.requests("POST", "/batch/create"), 1, "not retried");
    assert_eq!(m.emails(&email), 0);
    let (ok, out) = m.tool("create_objects", args).await;
    assert!(ok, "{out}");
    assert_eq!(m.emails(&email), 1, "exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_daily_budget_exhausted() {
    let m = Matrix::start().await;
    m.app.sb().clear_log();
    m.app.sb().inject(
        FaultSpec::new(FaultKind::RateLimit {
            policy: Policy::Daily,
        })
        .on("/crm/objects/2026-03/contacts/search"),
    );
    let started = Instant::now();
    let (ok, text) = m
        .tool(
            "search_objects",
            json!({"objectType": "contacts", "query": "a"}),
        )
        .await;
    assert!(!ok);
    let text = text.as_str().unwrap_or_default().to_lowercase();
    assert!(text.contains("daily"), "{text}");
    assert_eq!(
        m.requests("POST", "/search"),
        1,
        "a DAILY 429 is not retried"
    );
    assert!(started.elapsed() < Duration::from_secs(2), "failed fast");
    // Reads that are not refused still work: the limit is HubSpot's, the agent can go on.
    m.app.sb().clear_faults();
}

/// An outage longer than the retries: the agent gets a clear error, then the first call
/// after the outage ends succeeds within the breaker's open time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_outage_then_recovery() {
    let m = Matrix::start().await;
    let id = m.contact();
    let args = json!({"objectType": "contacts", "ids": [id.to_string()]});
    m.app.sb().inject(
        FaultSpec::new(FaultKind::Status { status: 503 })
            .on("/crm/objects/2026-03/contacts/batch/read")
            .times(1_000),
    );
    let (ok, text) = m.tool("get_objects", args.clone()).await;
    assert!(!ok);
    let text = text.as_str().unwrap_or_default().to_string();
    assert!(text.contains("503") || text.contains("circuit"), "{text}");
    m.app.sb().clear_faults();
    let started = Instant::now();
    loop {
        let (ok, _) = m.tool("get_objects", args.clone()).await;
        if ok {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "recovers once HubSpot does"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Qdrant configured but unreachable: opening the index fails at once with an error that
/// names the server, and index failures are transient for the sync workers (events wait,
/// they are never dead-lettered or lost).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_qdrant_unreachable() {
    // A loopback port nothing listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut config = hubspot_mcp::sync::SyncConfig::default();
    config.index.qdrant_url = Some(format!("http://127.0.0.1:{port}"));
    let dir = std::env::temp_dir().join(format!("hsmcp-qdrant-{}", uuid::Uuid::new_v4().simple()));
    let started = Instant::now();
    let err = match hubspot_mcp::sync::open_store(&config, &dir, 384).await {
        Ok(_) => panic!("an unreachable Qdrant cannot be opened"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains(&format!("127.0.0.1:{port}")) && err.contains("unreachable"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "fails fast: {:?}",
        started.elapsed()
    );
    let index_down =
        hubspot_mcp::sync::engine::SyncError::Index(hubspot_mcp::index::IndexError::Server {
            url: format!("http://127.0.0.1:{port}"),
            message: "unreachable".into(),
        });
    assert!(
        index_down.is_transient(),
        "events wait for the index, they are not dead-lettered"
    );
}
