//! Is the sandbox fast enough never to be the bottleneck? Batch reads and searches per second
//! on loopback with limits off, against the fastest rate HubSpot allows any app (250 per 10 s,
//! i.e. 25 requests/s). Three rounds per workload; medians are reported.
//!
//! Run: `cargo bench --bench sandbox`. The last line is the summary the README quotes.

use std::time::{Duration, Instant};

use hubspot_sandbox::{Sandbox, SandboxConfig};
use serde_json::{json, Value};

const CLIENTS: usize = 8;
const ROUND: Duration = Duration::from_secs(3);

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// Runs `CLIENTS` concurrent loops of one request for `ROUND`; returns (requests/s, latencies ms).
async fn round(base: &str, token: &str, path: &str, body: Value) -> (f64, Vec<f64>) {
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .unwrap();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (client, url, token, body) = (
            client.clone(),
            format!("{base}{path}"),
            token.to_string(),
            body.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while start.elapsed() < ROUND {
                let t = Instant::now();
                let res = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert!(res.status().is_success(), "{}", res.status());
                let _ = res.bytes().await.unwrap();
                lat.push(t.elapsed().as_secs_f64() * 1e3);
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    (all.len() as f64 / start.elapsed().as_secs_f64(), all)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let config = SandboxConfig {
        limits_enabled: false,
        log_bodies: false,
        log_capacity: 0,
        ..Default::default()
    };
    let sb = Sandbox::start(config).await.unwrap();
    let (base, token) = (sb.base_url(), sb.token().to_string());
    let first = sb
        .shared()
        .store
        .read()
        .records_of("0-1")
        .keys()
        .next()
        .copied()
        .unwrap();
    let inputs: Vec<Value> = (0..100)
        .map(|i| json!({"id": (first + i).to_string()}))
        .collect();
    let batch =
        json!({"inputs": inputs, "properties": ["email", "firstname", "lastname", "phone"]});
    let search = json!({
        "filterGroups": [{"filters": [{"propertyName": "lifecyclestage", "operator": "EQ", "value": "customer"}, {"propertyName": "customer_tier", "operator": "IN", "values": ["gold", "platinum"]}]}],
        "sorts": [{"propertyName": "createdate", "direction": "DESCENDING"}], "limit": 100, "properties": ["email", "firstname"],
    });

    let mut results = Vec::new();
    for (name, path, body) in [
        ("batch_read", "/crm/v3/objects/contacts/batch/read", batch),
        ("search", "/crm/v3/objects/contacts/search", search),
    ] {
        let (mut rates, mut lats) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            let (rate, lat) = round(&base, &token, path, body.clone()).await;
            rates.push(rate);
            lats.extend(lat);
        }
        let (rate, p50, p99) = (
            median(rates.clone()),
            percentile(lats.clone(), 0.5),
            percentile(lats, 0.99),
        );
        println!("{name:<11} {CLIENTS} clients: {:>8.0} req/s (rounds {:?}), p50 {p50:.2} ms, p99 {p99:.2} ms", rate, rates.iter().map(|r| r.round()).collect::<Vec<_>>());
        results.push((name, rate, p50, p99));
    }
    let (b, s) = (&results[0], &results[1]);
    // HubSpot's fastest app tier allows 25 requests/s (250 per 10 s); search allows 5/s.
    println!(
        "sandbox: batch_reads_per_s={:.0} records_read_per_s={:.0} searches_per_s={:.0} batch_read_p50_ms={:.2} search_p50_ms={:.2} batch_headroom_x={:.0} search_headroom_x={:.0}",
        b.1,
        b.1 * 100.0,
        s.1,
        b.2,
        s.2,
        b.1 / 25.0,
        s.1 / 5.0
    );
}
