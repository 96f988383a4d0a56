//! The semantic index, measured end to end on the sandbox with real embeddings (the
//! provisioned all-MiniLM-L6-v2 int8 through fastembed):
//!
//! 1. Backfill of the seeded portal (11,000 records): HubSpot calls against the minimum
//!    (`sync::backfill::minimum_calls`), embedding plus indexing rate.
//! 2. Retrieval quality: the 74 labelled queries of `sandbox::seed_text::EVAL_QUERIES`
//!    (paraphrased, not copied from any ticket). recall@10 = share of the top 10 tickets whose
//!    seeded topic is the query's topic (every topic has far more than 10 tickets, so this is
//!    recall of a 10-slot answer); hit@1 = the first ticket is on topic.
//! 3. Freshness: a ticket created in the sandbox → signed webhook → queue → worker → index;
//!    time until `semantic_search` returns it first. 40 tickets, p50 and p95.
//! 4. Search at 100,000 points: the 11,000 real document embeddings plus 89,000 vectors derived
//!    from them (a real embedding mixed with another and re-normalised: clustered like real
//!    data, unlike uniform random vectors, on which HNSW recall is meaningless). HNSW (qdrant-edge,
//!    m=16, ef_construct=128) at several `ef` against an exact scan of the same points, same run.
//!    HNSW recall is also measured on the 11,000 real embeddings alone.
//! 5. The remote backend: `qdrant-client` over gRPC to the Qdrant stand-in (on loopback), on
//!    the 11,000 real embeddings: p99 per search and how many of each query's top 10 are the
//!    embedded backend's (the stand-in never builds HNSW, so its answers are exact: the
//!    agreement is also the embedded HNSW's recall). No real Qdrant server was run.
//! 6. Peak RSS.
//!
//! Run: `cargo bench --bench index` (needs `scripts/provision.sh` for the model). The last
//! line is the summary the README quotes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hubspot_mcp::embed::{default_model_dir, Embedder, FastEmbedder};
use hubspot_mcp::hubspot::client::{ClientSettings, HubSpotClient};
use hubspot_mcp::hubspot::limit::GovernorSettings;
use hubspot_mcp::hubspot::Credentials;
use hubspot_mcp::index::edge::{EdgeStore, HnswParams};
use hubspot_mcp::index::exact::ExactStore;
use hubspot_mcp::index::qdrant::QdrantServer;
use hubspot_mcp::index::{BlockingStore, Exactness, Payload, Point, SearchFilter, VectorStore};
use hubspot_mcp::sync::backfill::{full_sync, minimum_calls};
use hubspot_mcp::sync::normalize::Mapping;
use hubspot_mcp::sync::queue::Queue;
use hubspot_mcp::sync::{EngineSettings, SyncEngine};
use hubspot_mcp::time::{SharedClock, SystemClock};
use hubspot_mcp::webhook::receiver::{Receiver, ReceiverConfig, PATH};
use hubspot_sandbox::seed_text::{topic_index, EVAL_QUERIES};
use hubspot_sandbox::webhooks::WebhookSettings;
use hubspot_sandbox::{Sandbox, SandboxConfig};
use rand::{Rng, SeedableRng};
use secrecy::SecretString;
use serde_json::json;

fn pct(v: &[f64], p: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn rss_peak_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// recall@10 with ties: an approximate hit counts when it scores at least the exact 10th
/// score (identical documents have identical vectors, so "which copy" is not an error).
fn tied_recall(approx: &[hubspot_mcp::index::Hit], truth: &[hubspot_mcp::index::Hit]) -> f64 {
    let Some(kth) = truth.last().map(|h| h.score) else {
        return 1.0;
    };
    approx
        .iter()
        .filter(|h| h.score >= kth - 1e-5)
        .count()
        .min(truth.len()) as f64
        / truth.len() as f64
}

fn unit(v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.into_iter().map(|x| x / n).collect()
}

const SECRET: &str = "bench-secret";

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join(format!(
        "hsmcp-index-bench-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let mut cfg = SandboxConfig {
        limits_enabled: false,
        search_lag_ms: 0,
        ..Default::default()
    };
    cfg.oauth.client_secret = SECRET.into();
    let sb = Sandbox::start(cfg).await.unwrap();
    let client = HubSpotClient::builder(
        ClientSettings {
            base_url: sb.base_url(),
            governor: GovernorSettings {
                burst_max: 100_000,
                search_per_second: 100_000,
                ..Default::default()
            },
            ..Default::default()
        },
        Credentials::Static(SecretString::from(sb.token().to_string())),
    )
    .build();
    let t = Instant::now();
    let embedder: Arc<dyn Embedder> = Arc::new(
        FastEmbedder::load(&default_model_dir(), 0).expect("run scripts/provision.sh first"),
    );
    eprintln!("model loaded in {:.2} s", t.elapsed().as_secs_f64());
    let queue = Queue::open(&dir.join("sync.sqlite")).unwrap();
    let store = Arc::new(EdgeStore::open(&dir.join("index"), 384, HnswParams::default()).unwrap());
    let notify = Arc::new(tokio::sync::Notify::new());
    let clock: SharedClock = Arc::new(SystemClock);
    let engine = SyncEngine::new(
        client,
        Arc::new(queue.clone()),
        Arc::new(queue.clone()),
        Arc::new(hubspot_mcp::index::Blocking(store.clone())),
        embedder.clone(),
        Arc::new(Mapping::builtin()),
        EngineSettings {
            coalesce_ms: 10,
            ..Default::default()
        },
        clock.clone(),
        notify.clone(),
    );

    // 1. Backfill.
    let before = sb.log_summary().total;
    let t = Instant::now();
    let reports = full_sync(&engine, false, false).await.unwrap();
    let secs = t.elapsed().as_secs_f64();
    let calls = sb.log_summary().total - before;
    let mapping = Mapping::builtin();
    let minimum: u64 = reports
        .iter()
        .map(|r| minimum_calls(r.total, mapping.objects[&r.object_type].associations.len()))
        .sum();
    let records: usize = reports.iter().map(|r| r.indexed).sum();
    let texts = engine
        .stats()
        .embedded_texts
        .load(std::sync::atomic::Ordering::Relaxed);
    let index_per_s = records as f64 / secs;
    println!(
        "backfill: records={records} chunks={texts} seconds={secs:.1} calls={calls} minimum_calls={minimum} ratio={:.3} records_per_s={index_per_s:.0}",
        calls as f64 / minimum as f64
    );

    // Embedding alone, on the ticket documents (batch 32, as the workers embed).
    let sample: Vec<String> = (0..512)
        .map(|i| {
            let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(i);
            let (s, b) = hubspot_sandbox::seed_text::ticket_text(&mut r, (i % 15) as usize);
            format!("Ticket: {s}\n{b}")
        })
        .collect();
    let t = Instant::now();
    let _ = embedder.embed(&sample).unwrap();
    let embed_per_s = sample.len() as f64 / t.elapsed().as_secs_f64();
    println!("embed: texts_per_s={embed_per_s:.0}");

    // 2. Retrieval quality on the labelled queries.
    let tickets = SearchFilter {
        object_types: vec!["tickets".into()],
        ..Default::default()
    };
    let mut recall = Vec::new();
    let mut hit1 = 0usize;
    let mut lat = Vec::new();
    for (q, topic) in EVAL_QUERIES {
        let want = topic_index(topic).unwrap();
        let t = Instant::now();
        let hits = engine.search(q, 10, &tickets).await.unwrap();
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        let on_topic: Vec<bool> = hits
            .iter()
            .map(|h| {
                h.payload
                    .record_id
                    .parse::<u64>()
                    .ok()
                    .and_then(|id| sb.topic_of(id))
                    == Some(want)
            })
            .collect();
        recall.push(on_topic.iter().filter(|x| **x).count() as f64 / 10.0);
        if on_topic.first() == Some(&true) {
            hit1 += 1;
        }
    }
    let recall_at_10 = recall.iter().sum::<f64>() / recall.len() as f64;
    println!(
        "quality: queries={} recall_at_10={recall_at_10:.3} hit_at_1={:.3} min_query_recall={:.1} query_p50_ms={:.2}",
        EVAL_QUERIES.len(),
        hit1 as f64 / EVAL_QUERIES.len() as f64,
        recall.iter().cloned().fold(1.0, f64::min),
        pct(&lat, 0.5)
    );

    // 3. Freshness through signed webhooks.
    let receiver = Receiver::new(
        ReceiverConfig::new(SecretString::from(SECRET.to_string())),
        Arc::new(queue.clone()),
        clock.clone(),
        notify.clone(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}{PATH}", listener.local_addr().unwrap());
    let app = receiver.router();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut w = WebhookSettings::default().subscribe_all();
    w.target_url = Some(url);
    w.client_secret = SECRET.into();
    sb.webhooks().configure(w);
    let cancel = tokio_util::sync::CancellationToken::new();
    tokio::spawn(engine.clone().run_worker(cancel.clone()));
    let http = reqwest::Client::new();
    let subjects = [
        "Pallet scanner firmware bricked after update",
        "Invoice PDF shows the wrong VAT number",
        "Drone delivery ETA widget frozen on the dashboard",
        "Greenhouse humidity alerts arrive twice",
        "Podcast RSS feed import stops at episode 50",
    ];
    let mut fresh = Vec::new();
    for i in 0..40 {
        let subject = format!("{} (case {i})", subjects[i % subjects.len()]);
        let t = Instant::now();
        let res = http
            .post(format!("{}/crm/v3/objects/tickets", sb.base_url()))
            .bearer_auth(sb.token())
            .json(&json!({"properties": {"subject": subject, "content": subject, "hs_pipeline": "0", "hs_pipeline_stage": "1"}}))
            .send()
            .await
            .unwrap();
        let id = res.json::<serde_json::Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        loop {
            let hits = engine.search(&subject, 3, &tickets).await.unwrap();
            if hits.iter().any(|h| h.payload.record_id == id) {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "ticket {id} never became searchable"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        fresh.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let (fresh_p50, fresh_p95) = (pct(&fresh, 0.5), pct(&fresh, 0.95));
    println!(
        "freshness: n={} p50_ms={fresh_p50:.0} p95_ms={fresh_p95:.0} max_ms={:.0}",
        fresh.len(),
        pct(&fresh, 1.0)
    );
    cancel.cancel();
    // The engine's footprint: everything so far is what `serve --sync` holds for this portal.
    let engine_rss = rss_peak_mb();
    println!("rss: engine_peak_mb={engine_rss:.0} (model, 11,000-record index, queue, sandbox)");

    // 4. 100k points: 11,000 real document embeddings plus derived vectors. The index does not
    // hand its vectors back, so the documents are regenerated from the seed's text generators
    // (tickets and notes) and embedded again.
    let docs: Vec<String> = {
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        (0..11_000u64)
            .map(|i| {
                let topic = r.gen_range(0..15);
                if i % 3 == 0 {
                    let (s, b) = hubspot_sandbox::seed_text::ticket_text(&mut r, topic);
                    format!("Ticket: {s}\n{b}")
                } else {
                    format!(
                        "Note: {}",
                        hubspot_sandbox::seed_text::note_text(&mut r, topic)
                    )
                }
            })
            .collect()
    };
    let t = Instant::now();
    let emb = embedder.clone();
    let base: Vec<Vec<f32>> = tokio::task::spawn_blocking(move || emb.embed(&docs).unwrap())
        .await
        .unwrap();
    let bulk_embed_per_s = base.len() as f64 / t.elapsed().as_secs_f64();
    println!(
        "embed: bulk_texts={} bulk_texts_per_s={bulk_embed_per_s:.0}",
        base.len()
    );

    // Tuning m and ef on real embeddings alone (the 11,000 regenerated documents).
    let qtexts_tune: Vec<String> = EVAL_QUERIES.iter().map(|(q, _)| q.to_string()).collect();
    let tune_queries = embedder.embed(&qtexts_tune).unwrap();
    let (base2, dir2) = (base.clone(), dir.clone());
    let tuning = tokio::task::spawn_blocking(move || {
        let pts: Vec<Point> = base2
            .iter()
            .enumerate()
            .map(|(i, v)| Point {
                record: format!("real/{i}"),
                chunk: 0,
                vector: v.clone(),
                payload: Payload::default(),
            })
            .collect();
        let mut lines = Vec::new();
        for m in [8usize, 16, 32] {
            let st = EdgeStore::open(&dir2.join(format!("tune-m{m}")), 384, HnswParams { m, ef_construct: 128 }).unwrap();
            for c in pts.chunks(1_000) {
                st.upsert(c.to_vec()).unwrap();
            }
            let t = Instant::now();
            st.optimize().unwrap();
            let build = t.elapsed().as_secs_f64();
            let truth: Vec<Vec<hubspot_mcp::index::Hit>> = tune_queries
                .iter()
                .map(|q| st.search(q, 10, &SearchFilter::default(), Exactness::Exact).unwrap())
                .collect();
            for ef in [32usize, 64, 128] {
                let mut rec = 0.0;
                let mut lat = Vec::new();
                for (q, tr) in tune_queries.iter().zip(&truth) {
                    let t = Instant::now();
                    let h = st.search(q, 10, &SearchFilter::default(), Exactness::Approximate { ef }).unwrap();
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    rec += tied_recall(&h, tr);
                }
                lines.push(format!(
                    "tune: points=11000 m={m} ef={ef} recall_at_10={:.4} p50_ms={:.3} build_s={build:.1}",
                    rec / tune_queries.len() as f64,
                    pct(&lat, 0.5)
                ));
            }
        }
        lines
    })
    .await
    .unwrap();
    for l in &tuning {
        println!("{l}");
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let mut vectors = base.clone();
    while vectors.len() < 100_000 {
        let a = &base[rng.gen_range(0..base.len())];
        let b = &base[rng.gen_range(0..base.len())];
        let w: f32 = rng.gen_range(0.15..0.45);
        vectors.push(unit(
            a.iter()
                .zip(b)
                .map(|(x, y)| x + w * y + rng.gen_range(-0.02f32..0.02))
                .collect(),
        ));
    }
    let points: Vec<Point> = vectors
        .iter()
        .enumerate()
        .map(|(i, v)| Point {
            record: format!("bench/{i}"),
            chunk: 0,
            vector: v.clone(),
            payload: Payload {
                object_type: if i % 7 == 0 {
                    "tickets".into()
                } else {
                    "contacts".into()
                },
                record_id: i.to_string(),
                ..Default::default()
            },
        })
        .collect();
    let big = Arc::new(EdgeStore::open(&dir.join("big"), 384, HnswParams::default()).unwrap());
    let exact = Arc::new(ExactStore::new());
    let (b2, e2, pts) = (big.clone(), exact.clone(), points);
    let (upsert_s, optimize_s) = tokio::task::spawn_blocking(move || {
        let t = Instant::now();
        for c in pts.chunks(1_000) {
            b2.upsert(c.to_vec()).unwrap();
        }
        let up = t.elapsed().as_secs_f64();
        e2.upsert(pts).unwrap();
        let t = Instant::now();
        b2.optimize().unwrap();
        (up, t.elapsed().as_secs_f64())
    })
    .await
    .unwrap();
    println!(
        "build: points=100000 upsert_per_s={:.0} optimize_s={optimize_s:.1}",
        100_000.0 / upsert_s
    );
    // Queries: the labelled queries plus fresh ticket texts (not in the index).
    let mut qtexts: Vec<String> = EVAL_QUERIES.iter().map(|(q, _)| q.to_string()).collect();
    let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(99);
    while qtexts.len() < 200 {
        let (s, _) = hubspot_sandbox::seed_text::ticket_text(&mut r, qtexts.len() % 15);
        qtexts.push(s);
    }
    let queries = embedder.embed(&qtexts).unwrap();
    let none = SearchFilter::default();
    let (big2, exact2, queries2) = (big.clone(), exact.clone(), queries.clone());
    let results = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        let mut exact_lat = Vec::new();
        let mut truth = Vec::new();
        for q in &queries2 {
            let t = Instant::now();
            let h = exact2.search(q, 10, &none, Exactness::Exact).unwrap();
            exact_lat.push(t.elapsed().as_secs_f64() * 1000.0);
            truth.push(h);
        }
        let mut edge_exact = Vec::new();
        for q in &queries2 {
            let t = Instant::now();
            let _ = big2.search(q, 10, &none, Exactness::Exact).unwrap();
            edge_exact.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let mut summary = (0.0, 0.0, 0.0, 0.0);
        for ef in [32usize, 64, 128, 256] {
            let mut lat = Vec::new();
            let mut rec = 0.0;
            for (q, tr) in queries2.iter().zip(&truth) {
                let t = Instant::now();
                let h = big2.search(q, 10, &none, Exactness::Approximate { ef }).unwrap();
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
                rec += tied_recall(&h, tr);
            }
            let recall = rec / queries2.len() as f64;
            lines.push(format!(
                "hnsw: ef={ef} recall_at_10={recall:.4} p50_ms={:.2} p99_ms={:.2}",
                pct(&lat, 0.5),
                pct(&lat, 0.99)
            ));
            if ef == 128 {
                summary = (pct(&lat, 0.5), pct(&lat, 0.99), recall, 0.0);
            }
        }
        // Filtered (1 in 7 points are "tickets").
        let tf = SearchFilter {
            object_types: vec!["tickets".into()],
            ..Default::default()
        };
        let mut rec = 0.0;
        let mut lat = Vec::new();
        for q in &queries2 {
            let tr = exact2.search(q, 10, &tf, Exactness::Exact).unwrap();
            let t = Instant::now();
            let h = big2.search(q, 10, &tf, Exactness::Approximate { ef: 128 }).unwrap();
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
            rec += tied_recall(&h, &tr);
        }
        lines.push(format!(
            "hnsw_filtered: share=0.14 ef=128 recall_at_10={:.4} p50_ms={:.2} p99_ms={:.2}",
            rec / queries2.len() as f64,
            pct(&lat, 0.5),
            pct(&lat, 0.99)
        ));
        lines.push(format!(
            "exact: scan_p50_ms={:.2} scan_p99_ms={:.2} edge_exact_p50_ms={:.2} edge_exact_p99_ms={:.2}",
            pct(&exact_lat, 0.5),
            pct(&exact_lat, 0.99),
            pct(&edge_exact, 0.5),
            pct(&edge_exact, 0.99)
        ));
        summary.3 = pct(&exact_lat, 0.5);
        (lines, summary)
    })
    .await
    .unwrap();
    for l in &results.0 {
        println!("{l}");
    }
    let (p50, p99, hnsw_recall, exact_p50) = results.1;

    // HNSW recall on the real document embeddings alone (the 11k backfilled index).
    let store2 = store.clone();
    let queries3 = queries.clone();
    let real_recall = tokio::task::spawn_blocking(move || {
        let mut rec = 0.0;
        for q in &queries3 {
            let tr = store2
                .search(q, 10, &SearchFilter::default(), Exactness::Exact)
                .unwrap();
            let h = store2
                .search(
                    q,
                    10,
                    &SearchFilter::default(),
                    Exactness::Approximate { ef: 128 },
                )
                .unwrap();
            rec += tied_recall(&h, &tr);
        }
        rec / queries3.len() as f64
    })
    .await
    .unwrap();
    println!("hnsw_real: points={texts} ef=128 recall_at_10={real_recall:.4}");
    // The remote backend: qdrant-client over gRPC to the stand-in (qdrant-edge behind the
    // crate's own server traits, on loopback), against the embedded backend, on the same real
    // document embeddings and the same queries.
    let (remote_p99, agreement) = {
        let standin_dir = dir.join("standin");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = tokio_util::sync::CancellationToken::new();
        let s = stop.clone();
        let serving = tokio::spawn(async move {
            qdrant_standin::StandIn::new(standin_dir)
                .serve(listener, async move { s.cancelled().await })
                .await
        });
        let pts: Vec<Point> = base
            .iter()
            .enumerate()
            .map(|(i, v)| Point {
                record: format!("real/{i}"),
                chunk: 0,
                vector: v.clone(),
                payload: Payload {
                    object_type: "tickets".into(),
                    record_id: i.to_string(),
                    ..Default::default()
                },
            })
            .collect();
        let remote = QdrantServer::connect(&url, "bench_remote", None, 384)
            .await
            .unwrap();
        let local = hubspot_mcp::index::Blocking::new(
            EdgeStore::open(&dir.join("local"), 384, HnswParams::default()).unwrap(),
        );
        for c in pts.chunks(1_000) {
            VectorStore::upsert(&remote, c.to_vec()).await.unwrap();
            VectorStore::upsert(&local, c.to_vec()).await.unwrap();
        }
        VectorStore::optimize(&local).await.unwrap();
        let ef = Exactness::Approximate { ef: 128 };
        let mut lat = Vec::new();
        let mut agree = 0.0;
        for q in &queries {
            let a = VectorStore::search(&local, q, 10, &SearchFilter::default(), ef)
                .await
                .unwrap();
            let t = Instant::now();
            let b = VectorStore::search(&remote, q, 10, &SearchFilter::default(), ef)
                .await
                .unwrap();
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
            let mine: std::collections::HashSet<&str> =
                a.iter().map(|h| h.record.as_str()).collect();
            agree += b
                .iter()
                .filter(|h| mine.contains(h.record.as_str()))
                .count() as f64
                / a.len().max(1) as f64;
        }
        stop.cancel();
        drop(remote);
        drop(local);
        let _ = serving.await;
        let agreement = agree / queries.len() as f64;
        println!(
            "remote: points={} queries={} remote_search_p50_ms={:.2} remote_search_p99_ms={:.2} top10_agreement={agreement:.3} (qdrant-client over gRPC to the stand-in; no real Qdrant server here)",
            base.len(),
            queries.len(),
            pct(&lat, 0.5),
            pct(&lat, 0.99)
        );
        (pct(&lat, 0.99), agreement)
    };
    let rss = rss_peak_mb();
    println!(
        "rss: bench_peak_mb={rss:.0} (adds the 100k points twice: HNSW and the exact baseline)"
    );
    println!(
        "index: freshness_p95_ms={fresh_p95:.0} recall_at_10={recall_at_10:.3} search_p99_ms={p99:.2} embed_per_s={embed_per_s:.0} search_p50_ms={p50:.2} exact_p50_ms={exact_p50:.2} hnsw_recall_at_10={hnsw_recall:.3} hnsw_real_recall_at_10={real_recall:.3} backfill_call_ratio={:.3} index_records_per_s={index_per_s:.0} engine_rss_mb={engine_rss:.0} bench_rss_mb={rss:.0} remote_search_p99_ms={remote_p99:.2} remote_top10_agreement={agreement:.3}",
        calls as f64 / minimum as f64
    );
    // Close every shard before deleting their files.
    drop(engine);
    drop(store);
    drop(big);
    let _ = std::fs::remove_dir_all(&dir);
}
