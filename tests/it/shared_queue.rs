//! The event queue on Redis Streams (`hubspot_mcp::sync::streams`), against a real
//! `redis-server` on a loopback port. Redis keeps real time, so these tests wait in real time
//! (leases of 100-200 ms).

use std::time::Duration;

use hubspot_mcp::sync::streams::{StreamQueue, StreamSettings};
use hubspot_mcp::webhook::Change;
use secrecy::SecretString;

use crate::redis_server::RedisServer;

fn change(key: &str, id: &str) -> Change {
    Change {
        key: key.into(),
        occurred_ms: 1,
        object_type: "contacts".into(),
        object_id: id.into(),
        kind: "propertyChange".into(),
        related: Vec::new(),
    }
}

async fn consumer(
    redis: &RedisServer,
    name: &str,
    tweak: impl FnOnce(&mut StreamSettings),
) -> StreamQueue {
    let mut s = StreamSettings {
        consumer: name.into(),
        lease: Duration::from_millis(150),
        ..Default::default()
    };
    tweak(&mut s);
    StreamQueue::connect(&SecretString::from(redis.url()), s)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redeliveries_are_dropped_at_the_door() {
    let redis = RedisServer::start();
    let q = consumer(&redis, "a", |_| {}).await;
    let e = q
        .enqueue(&[change("k1", "1"), change("k2", "2"), change("k1", "1")])
        .await
        .unwrap();
    assert_eq!((e.accepted, e.duplicates), (2, 1));
    let again = q.enqueue(&[change("k2", "2")]).await.unwrap();
    assert_eq!((again.accepted, again.duplicates), (0, 1));
    assert_eq!(redis.cli(&["XLEN", "hubspot-mcp:sync:events"]).trim(), "2");
    let leased = q.lease(10).await.unwrap();
    assert_eq!(leased.len(), 2);
    assert_eq!(leased[0].change, change("k1", "1"));
}

/// `XACK` does not check who holds an entry: a worker that stalled past its lease could ack
/// work another worker reclaimed and is still applying.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_workers_late_ack_of_a_reclaimed_entry_is_refused() {
    let redis = RedisServer::start();
    let a = consumer(&redis, "a", |_| {}).await;
    let b = consumer(&redis, "b", |_| {}).await;
    a.enqueue(&[change("k1", "1")]).await.unwrap();
    let held = a.lease(10).await.unwrap();
    assert_eq!(held.len(), 1);
    // Before the lease runs out, nothing is reclaimed.
    assert!(b.lease(10).await.unwrap().is_empty());
    tokio::time::sleep(Duration::from_millis(250)).await;
    let reclaimed = b.lease(10).await.unwrap();
    assert_eq!(reclaimed.len(), 1, "b reclaims the stalled entry");
    assert_eq!(reclaimed[0].id, held[0].id);
    let late = a.ack(&[held[0].id.clone()]).await.unwrap();
    assert_eq!((late.acked, late.refused), (0, 1), "a no longer owns it");
    let owner = b.ack(&[reclaimed[0].id.clone()]).await.unwrap();
    assert_eq!((owner.acked, owner.refused), (1, 0));
    assert_eq!(
        redis.cli(&["XLEN", "hubspot-mcp:sync:events"]).trim(),
        "0",
        "acked entries are deleted, never trimmed"
    );
    // A long apply keeps its lease: a keep resets the idle time.
    a.enqueue(&[change("k2", "2")]).await.unwrap();
    let long = a.lease(10).await.unwrap();
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        a.keep(&[long[0].id.clone()]).await.unwrap();
    }
    assert!(
        b.lease(10).await.unwrap().is_empty(),
        "a kept lease is not reclaimed"
    );
    assert_eq!(a.ack(&[long[0].id.clone()]).await.unwrap().acked, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_event_reaches_the_dead_letters_while_the_others_flow() {
    let redis = RedisServer::start();
    let q = consumer(&redis, "a", |s| {
        s.lease = Duration::from_millis(100);
        s.max_deliveries = 2;
    })
    .await;
    q.enqueue(&[change("poison", "666"), change("fine", "1")])
        .await
        .unwrap();
    let mut applied = Vec::new();
    for round in 0..4 {
        for l in q.lease(10).await.unwrap() {
            // The poison record fails every time (never acked); the others apply.
            if l.change.key != "poison" {
                applied.push(l.change.key.clone());
                assert_eq!(q.ack(&[l.id]).await.unwrap().acked, 1);
            }
        }
        if round == 1 {
            q.enqueue(&[change("later", "2")]).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert_eq!(applied, vec!["fine", "later"], "the others flowed");
    let dead = q.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].1.key, "poison");
    assert_eq!(dead[0].2, 3, "delivered past max_deliveries (2)");
    assert_eq!(redis.cli(&["XLEN", "hubspot-mcp:sync:events"]).trim(), "0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_is_an_error_nothing_is_acknowledged() {
    let mut redis = RedisServer::start();
    let q = consumer(&redis, "a", |_| {}).await;
    redis.kill();
    let e = q.enqueue(&[change("k1", "1")]).await;
    assert!(
        e.is_err(),
        "{e:?}: the receiver answers 503 and HubSpot retries"
    );
    redis.restart();
    // Redis back (empty: no persistence in this harness): the retry is accepted.
    let mut accepted = None;
    for _ in 0..20 {
        if let Ok(e) = q.enqueue(&[change("k1", "1")]).await {
            accepted = Some(e.accepted);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(accepted, Some(1));
    // The group went with Redis's data: the next lease recreates it and reads the entry.
    let leased = q.lease(10).await.unwrap();
    assert_eq!(leased.len(), 1);
}
