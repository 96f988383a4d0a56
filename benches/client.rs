//! What the client spends and what it costs, against the sandbox in one run:
//! - API calls per 1,000 records for read, update and upsert: the client (batch-first)
//!   against a naive one-record-per-call loop and against the physical minimum (⌈n/100⌉);
//! - search and batch-read calls for 10,000 records;
//! - budget utilization and 429s with three background workers on a private-pro budget;
//! - how long interactive calls wait while the backfill saturates that budget (p50, p99);
//! - the limiter's own added latency when a slot is free (p50, p99).
//!
//! Run: `cargo bench --bench client`. The last line is the summary the README quotes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hubspot_mcp::hubspot::client::{Call, ClientSettings, HubSpotClient, WriteOp};
use hubspot_mcp::hubspot::error::EndpointGroup;
use hubspot_mcp::hubspot::limit::{Bucket, GovernorSettings, Lane, LocalGovernor, RateGovernor};
use hubspot_mcp::hubspot::model::WriteInput;
use hubspot_mcp::hubspot::Credentials;
use hubspot_sandbox::seed::RecordCounts;
use hubspot_sandbox::{AppKind, Sandbox, SandboxConfig};
use secrecy::SecretString;
use serde_json::json;

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn client(sb: &Sandbox, kind: AppKind, unlimited: bool) -> HubSpotClient {
    let l = kind.limits();
    let mut g = GovernorSettings {
        burst_max: l.burst_max,
        daily: l.daily,
        ..Default::default()
    };
    if unlimited {
        g.burst_max = 1_000_000;
        g.search_per_second = 1_000_000;
    }
    let s = ClientSettings {
        base_url: sb.base_url(),
        governor: g,
        ..Default::default()
    };
    HubSpotClient::builder(
        s,
        Credentials::Static(SecretString::from(sb.token().to_string())),
    )
    .build()
}

fn requests(sb: &Sandbox) -> u64 {
    sb.log_summary().total
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // ---- request counts (limits off: this measures calls, not time) ----
    let sb = Sandbox::start(SandboxConfig {
        records: RecordCounts {
            contacts: 10_000,
            ..RecordCounts::empty()
        },
        limits_enabled: false,
        log_bodies: false,
        log_capacity: 0,
        ..Default::default()
    })
    .await
    .unwrap();
    let c = client(&sb, AppKind::ApiAddon, true);
    let http = reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .unwrap();
    let ids: Vec<String> = sb
        .shared()
        .store
        .read()
        .records_of("0-1")
        .keys()
        .map(u64::to_string)
        .collect();
    let n: usize = 1_000;
    let minimum = n.div_ceil(100) as u64;

    sb.clear_log();
    let (found, search_calls) = c
        .search_all(Lane::Background, "contacts", &[], &[])
        .await
        .unwrap();
    assert_eq!(found.len(), 10_000);
    let search_calls_10k = search_calls;
    let out = c
        .batch_read(Lane::Background, "contacts", &ids, &[], None)
        .await
        .unwrap();
    let batch_calls_10k = out.requests;

    sb.clear_log();
    c.batch_read(
        Lane::Background,
        "contacts",
        &ids[..n],
        &["email".into()],
        None,
    )
    .await
    .unwrap();
    let read_client = requests(&sb);
    sb.clear_log();
    for id in &ids[..n] {
        http.get(format!(
            "{}/crm/objects/2026-03/contacts/{id}",
            sb.base_url()
        ))
        .bearer_auth(sb.token())
        .send()
        .await
        .unwrap();
    }
    let read_naive = requests(&sb);

    let updates: Vec<WriteInput> = ids[..n]
        .iter()
        .map(|id| WriteInput {
            id: Some(id.clone()),
            id_property: None,
            properties: [("jobtitle".to_string(), "Bench".to_string())].into(),
        })
        .collect();
    sb.clear_log();
    c.batch_write(Lane::Background, "contacts", WriteOp::Update, &updates)
        .await
        .unwrap();
    let update_client = requests(&sb);
    sb.clear_log();
    for id in &ids[..n] {
        http.patch(format!(
            "{}/crm/objects/2026-03/contacts/{id}",
            sb.base_url()
        ))
        .bearer_auth(sb.token())
        .json(&json!({"properties": {"jobtitle": "Naive"}}))
        .send()
        .await
        .unwrap();
    }
    let update_naive = requests(&sb);

    let upserts: Vec<WriteInput> = (0..n)
        .map(|i| WriteInput {
            id: Some(format!("BENCH-{i}")),
            id_property: Some("crm_external_id".into()),
            properties: [("firstname".to_string(), "Up".to_string())].into(),
        })
        .collect();
    sb.clear_log();
    c.batch_write(Lane::Background, "contacts", WriteOp::Upsert, &upserts)
        .await
        .unwrap();
    let upsert_client = requests(&sb);
    // Naive upsert: look the record up by its unique value, then create or update it.
    sb.clear_log();
    for i in 0..n {
        let url = format!(
            "{}/crm/objects/2026-03/contacts/NAIVE-{i}?idProperty=crm_external_id",
            sb.base_url()
        );
        let found = http
            .get(&url)
            .bearer_auth(sb.token())
            .send()
            .await
            .unwrap()
            .status()
            .is_success();
        if found {
            http.patch(&url)
                .bearer_auth(sb.token())
                .json(&json!({"properties": {"firstname": "Up"}}))
                .send()
                .await
                .unwrap();
        } else {
            http.post(format!("{}/crm/objects/2026-03/contacts", sb.base_url())).bearer_auth(sb.token()).json(&json!({"properties": {"crm_external_id": format!("NAIVE-{i}"), "firstname": "Up"}})).send().await.unwrap();
        }
    }
    let upsert_naive = requests(&sb);

    println!("API calls per {n} records   client   naive loop   minimum");
    println!("  read                    {read_client:>6}   {read_naive:>10}   {minimum:>7}");
    println!("  update                  {update_client:>6}   {update_naive:>10}   {minimum:>7}");
    println!("  upsert                  {upsert_client:>6}   {upsert_naive:>10}   {minimum:>7}");
    println!("search_all over 10,000 contacts: {search_calls_10k} calls (minimum 50); batch read of 10,000 ids: {batch_calls_10k} calls (minimum 100)");
    sb.shutdown().await;

    // ---- shared budget and priority lanes on a private-pro budget (190 / 10 s) ----
    let sb = Sandbox::start(SandboxConfig {
        app_kind: AppKind::PrivatePro,
        records: RecordCounts::scaled(500),
        log_bodies: false,
        ..Default::default()
    })
    .await
    .unwrap();
    let c = client(&sb, AppKind::PrivatePro, false);
    let ids: Vec<String> = sb
        .shared()
        .store
        .read()
        .records_of("0-1")
        .keys()
        .map(u64::to_string)
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..3usize {
        let (c, ids, stop) = (c.clone(), ids.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let _ = c
                    .batch_read(
                        Lane::Background,
                        "contacts",
                        &ids[w * 100..w * 100 + 100],
                        &[],
                        None,
                    )
                    .await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(11)).await;
    let mut waits = Vec::new();
    let mut governor_waits = Vec::new();
    while started.elapsed() < Duration::from_secs(30) {
        let t = Instant::now();
        let reply = c
            .execute(&Call::get(
                hubspot_mcp::hubspot::model::ApiVersion::Dated.object(
                    &hubspot_mcp::hubspot::path::ObjectType::parse("contacts").unwrap(),
                    &hubspot_mcp::hubspot::path::RecordId::parse(&ids[waits.len() % 400]).unwrap(),
                ),
                Lane::Interactive,
                EndpointGroup::Objects,
            ))
            .await
            .unwrap();
        governor_waits.push(reply.waited.as_secs_f64() * 1e3);
        waits.push(t.elapsed().as_secs_f64() * 1e3);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let summary = sb.log_summary();
    let served = summary.statuses.get(&200).copied().unwrap_or(0) as f64;
    let budget_use = served / (190.0 * elapsed / 10.0);
    let throttled: u64 = summary.rate_limited.values().sum();
    let (wait_p50, wait_p99) = (pct(&mut waits.clone(), 0.5), pct(&mut waits, 0.99));
    let gov_p99 = pct(&mut governor_waits, 0.99);
    println!(
        "interactive waits, slowest five (ms): {:?}; of which in the governor, p99 {gov_p99:.1} ms",
        waits
            .iter()
            .rev()
            .take(5)
            .map(|w| w.round())
            .collect::<Vec<_>>()
    );
    println!(
        "budget: {served} requests in {elapsed:.1} s = {:.1}% of 190/10 s, 429s {throttled}",
        budget_use * 100.0
    );
    println!("interactive call during the backfill: p50 {wait_p50:.1} ms, p99 {wait_p99:.1} ms (one slot = {:.1} ms)", 10_000.0 / 187.0);
    sb.shutdown().await;

    // ---- the limiter's own latency when a slot is free ----
    let g = LocalGovernor::new(
        GovernorSettings {
            burst_max: 10_000_000,
            ..Default::default()
        },
        Arc::new(hubspot_mcp::time::SystemClock),
    );
    let mut lat = Vec::with_capacity(100_000);
    for _ in 0..100_000 {
        let t = Instant::now();
        let permit = g.acquire(Lane::Interactive, Bucket::Burst).await.unwrap();
        g.release(permit);
        lat.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let (l50, l99) = (pct(&mut lat.clone(), 0.5), pct(&mut lat, 0.99));
    println!("limiter added latency (free slot): p50 {l50:.2} µs, p99 {l99:.2} µs");
    println!(
        "client: budget_use={:.3} 429s={throttled} search_calls_10k={search_calls_10k} batch_calls_10k={batch_calls_10k} interactive_wait_p99_ms={wait_p99:.1} read_calls_per_1k={read_client} update_calls_per_1k={update_client} upsert_calls_per_1k={upsert_client} naive_read_calls_per_1k={read_naive} limiter_p99_us={l99:.2}",
        budget_use
    );
}
