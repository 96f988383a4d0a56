//! One contract for the vector store, run against every backend: qdrant-edge in-process (the
//! default), `qdrant-client` over gRPC to the stand-in (`crates/qdrant-standin`: the crate's
//! own generated server traits backed by qdrant-edge, on a loopback port), and a real Qdrant
//! server when `QDRANT_URL` is set (none installs on CI machines: that run is skipped there,
//! and says so).
//!
//! The ground truth is the exact in-memory scan ([`ExactStore`]).

use std::sync::Arc;

use hubspot_mcp::index::edge::{EdgeStore, HnswParams};
use hubspot_mcp::index::exact::ExactStore;
use hubspot_mcp::index::qdrant::QdrantServer;
use hubspot_mcp::index::{
    Blocking, BlockingStore, Exactness, Hit, IndexError, Payload, Point, SearchFilter, VectorStore,
};
use tokio_util::sync::CancellationToken;

const DIM: usize = 16;

fn unit(seed: u64) -> Vec<f32> {
    use rand::{Rng, SeedableRng};
    let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let v: Vec<f32> = (0..DIM).map(|_| r.gen_range(-1.0f32..1.0)).collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / n).collect()
}

fn point(i: u64, chunk: u32) -> Point {
    let ty = if i % 3 == 0 { "tickets" } else { "contacts" };
    Point {
        record: format!("{ty}/{i}"),
        chunk,
        vector: unit(i * 10 + u64::from(chunk)),
        payload: Payload {
            object_type: ty.into(),
            record_id: i.to_string(),
            title: format!("record {i}"),
            snippet: format!("chunk {chunk} of record {i}"),
            stage: Some(if i % 2 == 0 { "1" } else { "2" }.into()),
            owner_id: Some((i % 4).to_string()),
            created_ms: Some(i as i64 * 7),
            updated_ms: Some(i as i64),
            associations: vec![format!("companies/{}", i % 9)],
            ..Default::default()
        },
    }
}

fn points() -> Vec<Point> {
    let mut pts = Vec::new();
    for i in 0..300u64 {
        pts.push(point(i, 0));
        if i % 10 == 0 {
            pts.push(point(i, 1));
        }
    }
    pts
}

fn ids(h: &[Hit]) -> Vec<(String, u32)> {
    h.iter().map(|x| (x.record.clone(), x.chunk)).collect()
}

/// A stand-in on a loopback port, stopped when dropped.
struct StandIn {
    url: String,
    stop: CancellationToken,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn standin() -> StandIn {
    let dir = crate::support::tempdir("standin");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let s = stop.clone();
    tokio::spawn(async move {
        qdrant_standin::StandIn::new(dir)
            .serve(listener, async move { s.cancelled().await })
            .await
            .unwrap();
    });
    StandIn { url, stop }
}

fn collection() -> String {
    format!("hsmcp_{}", uuid::Uuid::new_v4().simple())
}

/// The contract every backend passes. `reopen` opens the same index again, after this
/// handle is dropped (the embedded index has one writer).
async fn contract<F: std::future::Future<Output = Arc<dyn VectorStore>>>(
    store: Arc<dyn VectorStore>,
    reopen: impl FnOnce() -> F,
) {
    let exact = ExactStore::new();
    let pts = points();
    store.upsert(pts.clone()).await.unwrap();
    exact.upsert(pts.clone()).unwrap();
    assert_eq!(store.count().await.unwrap(), 330);
    // Writing the same chunks again overwrites them (ids come from record and chunk).
    store.upsert(pts[..50].to_vec()).await.unwrap();
    assert_eq!(store.count().await.unwrap(), 330, "upserts are idempotent");
    // Filtered searches agree with the exact scan, with scores and payloads intact.
    let filters = [
        SearchFilter::default(),
        SearchFilter {
            object_types: vec!["tickets".into()],
            stage: Some("1".into()),
            updated_after_ms: Some(30),
            ..Default::default()
        },
        SearchFilter {
            owner_id: Some("2".into()),
            updated_before_ms: Some(200),
            created_after_ms: Some(70),
            ..Default::default()
        },
    ];
    for (n, f) in filters.iter().enumerate() {
        let q = unit(4_242 + n as u64);
        let a = store.search(&q, 10, f, Exactness::Exact).await.unwrap();
        let b = exact.search(&q, 10, f, Exactness::Exact).unwrap();
        assert_eq!(ids(&a), ids(&b), "filter {n}");
        for (x, y) in a.iter().zip(&b) {
            assert!((x.score - y.score).abs() < 1e-4);
            assert_eq!(x.payload, y.payload);
        }
        let approx = store
            .search(&q, 10, f, Exactness::Approximate { ef: 128 })
            .await
            .unwrap();
        assert!(
            approx.iter().all(|h| f.matches(&h.payload)),
            "filter {n} honoured"
        );
    }
    // Deleting a record removes every chunk; shrinking drops chunks past the new end.
    store.delete_records(&["tickets/0".into()]).await.unwrap();
    store
        .delete_chunks_from(&[("tickets/30".into(), 1)])
        .await
        .unwrap();
    assert_eq!(store.count().await.unwrap(), 327);
    let hits = store
        .search(&unit(300), 1, &SearchFilter::default(), Exactness::Exact)
        .await
        .unwrap();
    assert_eq!(hits[0].record, "tickets/30", "its chunk 0 is still there");
    // A vector of the wrong size is a typed error, not a panic or a silent write.
    let mut bad = point(999, 0);
    bad.vector.truncate(8);
    assert!(matches!(
        store.upsert(vec![bad]).await,
        Err(IndexError::Dimensions { got: 8, want: 16 })
    ));
    store.optimize().await.unwrap();
    store.flush().await;
    // Durable: what was written is there for the next process.
    drop(store);
    let again = reopen().await;
    assert_eq!(
        again.count().await.unwrap(),
        327,
        "points survive reopening"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contract_holds_on_qdrant_edge() {
    let dir = crate::support::tempdir("edge-contract");
    let store = Arc::new(Blocking::new(
        EdgeStore::open(&dir, DIM, HnswParams::default()).unwrap(),
    ));
    contract(store, || async move {
        Arc::new(Blocking::new(
            EdgeStore::open(&dir, DIM, HnswParams::default()).unwrap(),
        )) as Arc<dyn VectorStore>
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contract_holds_on_qdrant_client_through_the_standin() {
    let s = standin().await;
    let c = collection();
    let store = Arc::new(QdrantServer::connect(&s.url, &c, None, DIM).await.unwrap());
    let (url, c2) = (s.url.clone(), c.clone());
    contract(store, || async move {
        Arc::new(QdrantServer::connect(&url, &c2, None, DIM).await.unwrap()) as Arc<dyn VectorStore>
    })
    .await;
    // The collection exists now with 16 dimensions: another size is refused, typed.
    let wrong = QdrantServer::connect(&s.url, &c, None, 8).await;
    assert!(
        matches!(wrong, Err(IndexError::Dimensions { got: 8, want: 16 })),
        "{wrong:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contract_holds_on_a_real_qdrant_server_when_one_is_reachable() {
    let Some(url) = std::env::var("QDRANT_URL").ok().filter(|u| !u.is_empty()) else {
        eprintln!("QDRANT_URL is not set: the contract did not run against a real Qdrant server");
        return;
    };
    let key = std::env::var("QDRANT_API_KEY")
        .ok()
        .map(secrecy::SecretString::from);
    let c = collection();
    let store = Arc::new(
        QdrantServer::connect(&url, &c, key.clone(), DIM)
            .await
            .unwrap(),
    );
    let (u2, c2) = (url.clone(), c.clone());
    contract(store, || async move {
        Arc::new(QdrantServer::connect(&u2, &c2, key, DIM).await.unwrap()) as Arc<dyn VectorStore>
    })
    .await;
}

/// Qdrant going away is a typed, prompt error that names the server (never its credentials),
/// and the same store works again once it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_qdrant_server_that_goes_away_is_a_prompt_typed_error() {
    let s = standin().await;
    let c = collection();
    let url = s.url.replace("http://", "http://user:s3cret@");
    let store = QdrantServer::connect(&url, &c, None, DIM).await.unwrap();
    store.upsert(vec![point(1, 0)]).await.unwrap();
    drop(s);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    let e = store.count().await.unwrap_err();
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let msg = e.to_string();
    assert!(matches!(e, IndexError::Server { .. }), "{e:?}");
    assert!(!msg.contains("s3cret"), "{msg}");
    // Nothing listens there now: connecting is refused the same way.
    let refused = QdrantServer::connect("http://127.0.0.1:9", &c, None, DIM).await;
    assert!(
        matches!(refused, Err(IndexError::Server { .. })),
        "{refused:?}"
    );
}

/// Semantic search on real embeddings gives the same top 10 through the remote backend as
/// through the embedded one, for 20 fixed queries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn semantic_search_agrees_between_embedded_and_remote_for_twenty_queries() {
    let e = crate::support::embedder();
    let topics = [
        "password reset email never arrives",
        "invoice charged twice this month",
        "mobile app crashes on startup",
        "cannot export report to CSV",
        "SSO login fails with SAML error",
        "shipment delayed at customs",
        "refund request for cancelled plan",
        "API rate limit exceeded errors",
        "dashboard loads very slowly",
        "two-factor code not accepted",
    ];
    let mut texts = Vec::new();
    for (i, t) in topics.iter().enumerate() {
        for v in 0..12 {
            texts.push(format!("{t} (case {v}, customer {})", i * 31 + v));
        }
    }
    let vectors = e.embed(&texts).unwrap();
    let pts: Vec<Point> = vectors
        .into_iter()
        .enumerate()
        .map(|(i, v)| Point {
            record: format!("tickets/{i}"),
            chunk: 0,
            vector: v,
            payload: Payload {
                object_type: "tickets".into(),
                record_id: i.to_string(),
                title: texts[i].clone(),
                ..Default::default()
            },
        })
        .collect();
    let dir = crate::support::tempdir("agree");
    let edge = Blocking::new(EdgeStore::open(&dir, e.dimensions(), HnswParams::default()).unwrap());
    let s = standin().await;
    let remote = QdrantServer::connect(&s.url, &collection(), None, e.dimensions())
        .await
        .unwrap();
    edge.upsert(pts.clone()).await.unwrap();
    remote.upsert(pts).await.unwrap();
    let queries: Vec<String> = topics
        .iter()
        .flat_map(|t| [format!("customer says: {t}"), format!("how do I fix {t}?")])
        .collect();
    assert_eq!(queries.len(), 20);
    let qv = e.embed(&queries).unwrap();
    for (q, v) in queries.iter().zip(qv) {
        let f = SearchFilter::default();
        let a = edge
            .search(&v, 10, &f, Exactness::Approximate { ef: 128 })
            .await
            .unwrap();
        let b = remote
            .search(&v, 10, &f, Exactness::Approximate { ef: 128 })
            .await
            .unwrap();
        assert_eq!(ids(&a), ids(&b), "top 10 for {q:?}");
    }
}
