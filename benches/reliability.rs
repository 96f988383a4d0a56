//! Reliability figures, measured against the sandbox with its limits on (a private-pro app:
//! 190 requests per 10 s, search 5/s): what a burst, an abandoned load and a probe flood cost.
//! Five rounds each; medians are reported.
//!
//! Run: `cargo bench --bench reliability`. The last line is the summary the README quotes:
//! `reliability: search_burst_requests=… search_burst_429s=… abandoned_reached=… readyz_calls=…`
//! (the physical minimum is 50 requests and 0 429s for the burst, 0 for the abandoned
//! searches beyond those answered in time, and 1 call for the probes).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hubspot_mcp::hubspot::client::ClientSettings;
use hubspot_mcp::hubspot::limit::{GovernorSettings, Lane};
use hubspot_mcp::hubspot::model::SearchQuery;
use hubspot_mcp::hubspot::{Credentials, HubSpotClient};
use hubspot_mcp::mcp::http::HttpOptions;
use hubspot_mcp::mcp::{HubSpotMcp, ToolOptions};
use hubspot_sandbox::seed::RecordCounts;
use hubspot_sandbox::{AppKind, Sandbox, SandboxConfig};
use secrecy::SecretString;
use serde_json::json;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig {
        app_kind: AppKind::PrivatePro,
        records: RecordCounts::scaled(500),
        ..Default::default()
    })
    .await
    .unwrap()
}

fn client(sb: &Sandbox, search_per_second: u32) -> HubSpotClient {
    HubSpotClient::builder(
        ClientSettings {
            base_url: sb.base_url(),
            governor: GovernorSettings {
                burst_max: 190,
                search_per_second,
                ..Default::default()
            },
            ..Default::default()
        },
        Credentials::Static(SecretString::from(sb.token().to_string())),
    )
    .build()
}

/// The MCP server over `sb` (at `search_per_second`) on loopback: its address and its stop.
async fn serve(
    sb: &Sandbox,
    search_per_second: u32,
) -> (SocketAddr, tokio_util::sync::CancellationToken) {
    let server = HubSpotMcp::new(client(sb, search_per_second), &ToolOptions::default());
    let opts = HttpOptions::loopback(SocketAddr::from(([127, 0, 0, 1], 0)));
    let cancel = tokio_util::sync::CancellationToken::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let c = cancel.clone();
    tokio::spawn(async move {
        let _ = hubspot_mcp::mcp::http::serve(server, opts, None, c, move |a| {
            let _ = tx.send(a);
        })
        .await;
    });
    (rx.await.unwrap(), cancel)
}

fn searches(sb: &Sandbox) -> (usize, usize) {
    let log = sb.log_entries();
    let s: Vec<_> = log.iter().filter(|e| e.path.ends_with("/search")).collect();
    (s.len(), s.iter().filter(|e| e.status == 429).count())
}

/// 50 concurrent searches from one process.
async fn search_burst() -> (usize, usize) {
    let sb = sandbox().await;
    let c = Arc::new(client(&sb, 5));
    let q = SearchQuery {
        query: Some("a".into()),
        limit: 10,
        ..Default::default()
    };
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (c, q) = (c.clone(), q.clone());
            tokio::spawn(async move { c.search(Lane::Interactive, "contacts", &q).await.is_ok() })
        })
        .collect();
    for t in tasks {
        assert!(t.await.unwrap());
    }
    searches(&sb)
}

/// 20 MCP searches whose client gives up after 300 ms, at 1 search/s: how many still reach
/// HubSpot (besides those answered within the 300 ms).
async fn abandoned() -> usize {
    let sb = sandbox().await;
    let (addr, cancel) = serve(&sb, 1).await;
    let url = format!("http://{addr}/mcp");
    let post = |body: serde_json::Value, timeout: Duration| {
        reqwest::Client::new()
            .post(&url)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .timeout(timeout)
            .json(&body)
            .send()
    };
    let call = |name: &str, args: serde_json::Value| json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name, "arguments": args}});
    post(
        call("describe_properties", json!({"objectType": "contacts"})),
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    sb.clear_log();
    let search = call(
        "search_objects",
        json!({"objectType": "contacts", "query": "a"}),
    );
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let f = post(search.clone(), Duration::from_millis(300));
            tokio::spawn(async move { f.await.is_ok() })
        })
        .collect();
    let mut answered = 0;
    for t in tasks {
        answered += usize::from(t.await.unwrap());
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    cancel.cancel();
    searches(&sb).0.saturating_sub(answered)
}

/// 30 concurrent unauthenticated `/readyz` probes: HubSpot calls spent.
async fn readyz() -> usize {
    let sb = sandbox().await;
    let (addr, cancel) = serve(&sb, 5).await;
    let url = format!("http://{addr}/readyz");
    let tasks: Vec<_> = (0..30)
        .map(|_| tokio::spawn(reqwest::get(url.clone())))
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    cancel.cancel();
    sb.log_entries()
        .iter()
        .filter(|e| e.path.contains("account-info"))
        .count()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (mut req, mut thr, mut ab, mut rz) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..5 {
        let (r, t) = search_burst().await;
        let a = abandoned().await;
        let z = readyz().await;
        println!("round {round}: 50 concurrent searches → {r} requests, {t} 429s; 20 abandoned → {a} reached HubSpot; 30 probes → {z} calls");
        req.push(r as f64);
        thr.push(t as f64);
        ab.push(a as f64);
        rz.push(z as f64);
    }
    println!(
        "reliability: search_burst_requests={} search_burst_429s={} abandoned_reached={} readyz_calls={}",
        median(req),
        median(thr),
        median(ab),
        median(rz)
    );
}
