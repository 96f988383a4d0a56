//! One HubSpot budget across processes: the Redis governor against a real `redis-server` on
//! loopback, read back from Redis and from what callers saw, never from the governor's word.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hubspot_mcp::hubspot::limit::{
    Bucket, GovernorMode, GovernorSettings, Lane, LimitError, RateGovernor, RedisGovernor,
    SharedSettings, Throttle, WhenRedisIsDown,
};
use proptest::prelude::*;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::redis_server::RedisServer;

fn shared(url: &str, prefix: &str) -> SharedSettings {
    SharedSettings {
        redis_url: Some(SecretString::from(url.to_string())),
        prefix: prefix.into(),
        // Generous, so a loaded CI machine never falls back by accident; the outage tests
        // meet a refused connection, which fails at once.
        timeout_ms: 1_000,
        heartbeat_ms: 100,
        ..Default::default()
    }
}

fn budget(cap: u32, window_ms: i64) -> GovernorSettings {
    GovernorSettings {
        burst_max: cap,
        interval_ms: window_ms,
        margin: Some(0),
        search_per_second: 2,
        ..Default::default()
    }
}

fn governor(base: GovernorSettings, s: SharedSettings) -> RedisGovernor {
    RedisGovernor::new(base, s, Arc::new(hubspot_mcp::time::SystemClock)).unwrap()
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64
}

/// What one hammering child process is asked to do.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Hammer {
    url: String,
    prefix: String,
    cap: u32,
    window_ms: i64,
    tasks: usize,
    per_task: usize,
    latency_ms: u64,
    search: bool,
}

/// The body of a child process of the property test below: many concurrent callers through
/// one governor, each "arriving at HubSpot" half-way between admission and release; prints
/// the arrival times.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a child process of the cross-process property test (run by it)"]
async fn hammer_child() {
    let h: Hammer = serde_json::from_str(&std::env::var("HAMMER").expect("HAMMER")).unwrap();
    let g = Arc::new(governor(
        budget(h.cap, h.window_ms),
        shared(&h.url, &h.prefix),
    ));
    let mut tasks = Vec::new();
    for t in 0..h.tasks {
        let (g, h) = (g.clone(), h.clone());
        tasks.push(tokio::spawn(async move {
            let mut arrivals = Vec::new();
            for k in 0..h.per_task {
                let lane = if (t + k) % 3 == 0 {
                    Lane::Interactive
                } else {
                    Lane::Background
                };
                let bucket = if h.search && k % 2 == 0 {
                    Bucket::Search
                } else {
                    Bucket::Burst
                };
                let p = g.acquire(lane, bucket).await.unwrap();
                let lat = Duration::from_millis((k as u64 * 7 + t as u64 * 3) % (h.latency_ms + 1));
                tokio::time::sleep(lat).await;
                arrivals.push((now_us(), bucket == Bucket::Search));
                tokio::time::sleep(lat).await;
                g.release(p);
            }
            arrivals
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    assert_eq!(
        g.snapshot().mode,
        GovernorMode::Shared,
        "the child never fell back"
    );
    // Let the last releases reach Redis before the process ends.
    tokio::time::sleep(Duration::from_millis(200)).await;
    println!("\nARRIVALS {}", serde_json::to_string(&all).unwrap());
}

/// How many interactive calls `g` admits within `span` (each released at once).
async fn admitted_within(g: &RedisGovernor, span: Duration) -> usize {
    let started = Instant::now();
    let mut n = 0;
    while started.elapsed() < span {
        if let Ok(Ok(p)) = tokio::time::timeout(
            Duration::from_millis(50),
            g.acquire(Lane::Interactive, Bucket::Burst),
        )
        .await
        {
            g.release(p);
            n += 1;
        }
    }
    n
}

/// The most arrivals in any window of `window_us`.
fn worst(arrivals: &[i64], window_us: i64) -> usize {
    let mut a = arrivals.to_vec();
    a.sort_unstable();
    (0..a.len())
        .map(|i| a[i..].iter().take_while(|t| **t < a[i] + window_us).count())
        .max()
        .unwrap_or(0)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4, failure_persistence: None, ..ProptestConfig::default() })]
    /// Several OS processes, each with concurrent callers of both lanes and both buckets,
    /// never put more than the limit into any window (as HubSpot would count them: at
    /// arrival), whatever the latency.
    #[test]
    fn the_shared_log_never_admits_more_than_the_limit_in_any_window_across_processes(
        cap in 2u32..8,
        window_ms in 300i64..700,
        processes in 2usize..4,
        tasks in 2usize..5,
        latency_ms in 0u64..40,
        search in any::<bool>(),
    ) {
        let redis = RedisServer::start();
        let per_task = (3 * cap as usize / processes).max(2);
        let h = Hammer {
            url: redis.url(),
            prefix: format!("prop-{}", now_us()),
            cap, window_ms, tasks, per_task, latency_ms, search,
        };
        let exe = std::env::current_exe().unwrap();
        let children: Vec<_> = (0..processes)
            .map(|_| {
                Command::new(&exe)
                    .args(["governor_shared::hammer_child", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
                    .env("HAMMER", serde_json::to_string(&h).unwrap())
                    .stdout(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let mut burst = Vec::new();
        let mut search_arrivals = Vec::new();
        for c in children {
            let out = c.wait_with_output().unwrap();
            prop_assert!(out.status.success(), "a child failed");
            let text = String::from_utf8_lossy(&out.stdout);
            let line = text.lines().find_map(|l| l.strip_prefix("ARRIVALS ")).expect("the child's arrivals");
            let a: Vec<(i64, bool)> = serde_json::from_str(line).unwrap();
            for (t, s) in a {
                if s { search_arrivals.push(t) } else { burst.push(t) }
            }
        }
        prop_assert_eq!(burst.len() + search_arrivals.len(), processes * tasks * per_task, "every call was admitted");
        let w = worst(&burst, window_ms * 1000);
        prop_assert!(w <= cap as usize, "{w} arrivals in one {window_ms} ms window, limit {cap}");
        let ws = worst(&search_arrivals, 1_000_000);
        prop_assert!(ws <= 2, "{ws} searches in one second, limit 2");
    }
}

/// An interactive caller waiting in one process goes before background callers of another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactive_callers_anywhere_go_before_background_callers() {
    let redis = RedisServer::start();
    let s = shared(&redis.url(), "lanes");
    let a = governor(budget(2, 600), s.clone());
    let b = governor(budget(2, 600), s);
    let p1 = a.acquire(Lane::Interactive, Bucket::Burst).await.unwrap();
    let p2 = a.acquire(Lane::Interactive, Bucket::Burst).await.unwrap();
    a.release(p1);
    a.release(p2);
    // The window is full. Background callers in `b` queue first, then one interactive in `a`.
    let started = Instant::now();
    let bg = tokio::spawn({
        let b = b.clone();
        async move {
            let p = b.acquire(Lane::Background, Bucket::Burst).await.unwrap();
            let at = started.elapsed();
            b.release(p);
            at
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let p = a.acquire(Lane::Interactive, Bucket::Burst).await.unwrap();
    let interactive_at = started.elapsed();
    a.release(p);
    let background_at = bg.await.unwrap();
    assert!(
        interactive_at < background_at,
        "interactive {interactive_at:?} before background {background_at:?}"
    );
}

/// A 429 seen by one process holds every process back until HubSpot's Retry-After.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_seen_by_one_process_backs_off_the_others() {
    let redis = RedisServer::start();
    let s = shared(&redis.url(), "cooldown");
    let a = governor(budget(100, 10_000), s.clone());
    let b = governor(budget(100, 10_000), s);
    a.throttled(Throttle::Burst {
        retry_after: Some(Duration::from_millis(800)),
    });
    // The cooldown is set off the caller's path: wait until Redis shows it.
    let deadline = Instant::now() + Duration::from_secs(2);
    while redis
        .cli(&["PTTL", "{cooldown}:cooldown:burst"])
        .parse::<i64>()
        .unwrap_or(-2)
        <= 0
    {
        assert!(Instant::now() < deadline, "the cooldown reached Redis");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let started = Instant::now();
    let p = b.acquire(Lane::Interactive, Bucket::Burst).await.unwrap();
    b.release(p);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(500),
        "the other process waited out the 429 ({waited:?})"
    );
}

/// A waiter that gives up took nothing and releases nothing: the shared log is unchanged and
/// its interactive registration is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_waiter_takes_and_releases_nothing() {
    let redis = RedisServer::start();
    let g = governor(budget(2, 5_000), shared(&redis.url(), "drop"));
    let p1 = g.acquire(Lane::Interactive, Bucket::Burst).await.unwrap();
    let p2 = g.acquire(Lane::Interactive, Bucket::Burst).await.unwrap();
    assert_eq!(redis.cli(&["ZCARD", "{drop}:burst"]), "2");
    let wait = g.acquire(Lane::Interactive, Bucket::Burst);
    assert!(tokio::time::timeout(Duration::from_millis(150), wait)
        .await
        .is_err());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(redis.cli(&["ZCARD", "{drop}:burst"]), "2", "nothing taken");
    assert_eq!(
        redis.cli(&["ZCARD", "{drop}:waiting"]),
        "0",
        "the abandoned interactive wait unregistered"
    );
    // The two real permits are still held (in flight: scored in the future) until released.
    let before: Vec<String> = redis
        .cli(&["ZRANGE", "{drop}:burst", "0", "-1", "WITHSCORES"])
        .lines()
        .map(str::to_string)
        .collect();
    g.release(p1);
    g.release(p2);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let after: Vec<String> = redis
        .cli(&["ZRANGE", "{drop}:burst", "0", "-1", "WITHSCORES"])
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(after.len(), 4, "{after:?}");
    assert!(
        after[1] < before[1],
        "released entries count from their answer: {before:?} → {after:?}"
    );
}

/// Redis killed while a caller waits: the wait ends in the fallback share (not a hang on the
/// client's reconnect backoff), and the process rejoins when Redis returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_mid_wait_ends_in_the_fallback_and_rejoins() {
    let mut redis = RedisServer::start();
    let g = governor(budget(4, 1_000), shared(&redis.url(), "outage"));
    // Seen once, as one process.
    assert_eq!(g.heartbeat().await.unwrap(), 1);
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(g.acquire(Lane::Interactive, Bucket::Burst).await.unwrap());
    }
    let waiting = tokio::spawn({
        let g = g.clone();
        async move {
            let started = Instant::now();
            let p = g.acquire(Lane::Interactive, Bucket::Burst).await;
            (p.map(|p| g.release(p)), started.elapsed())
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    redis.kill();
    let (r, waited) = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the wait ended: no hang while Redis is away")
        .unwrap();
    r.unwrap();
    assert_eq!(g.snapshot().mode, GovernorMode::Fallback);
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    // The share is never unlimited: 4 per second for the one process seen.
    let n = admitted_within(&g, Duration::from_millis(900)).await;
    assert!(
        n <= 4,
        "{n} admitted in under one window on the fallback share of 4"
    );
    for p in held {
        g.release(p);
    }
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(5);
    while g.snapshot().mode != GovernorMode::Shared {
        assert!(Instant::now() < deadline, "rejoined after Redis returned");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // It handed over what it spent: the shared log knows of the fallback's requests.
    let p = g.acquire(Lane::Interactive, Bucket::Burst).await.unwrap();
    g.release(p);
    assert!(
        redis
            .cli(&["ZCARD", "{outage}:burst"])
            .parse::<u32>()
            .unwrap()
            >= 1
    );
}

/// Redis unreachable from the start: the process assumes `fallback_processes` sharers and
/// never runs unlimited; with `refuse`, calls fail with a clear error instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_from_the_start_is_a_conservative_share_or_a_clear_refusal() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://127.0.0.1:{port}/");
    let mut s = shared(&url, "down");
    s.fallback_processes = 4;
    let g = governor(budget(20, 1_000), s.clone());
    let n = admitted_within(&g, Duration::from_millis(900)).await;
    assert_eq!(g.snapshot().mode, GovernorMode::Fallback);
    assert!(
        (1..=5).contains(&n),
        "{n} admitted: a share of 20 / 4 processes"
    );

    s.when_redis_is_down = WhenRedisIsDown::Refuse;
    let g = governor(budget(20, 1_000), s);
    let started = Instant::now();
    let e = g
        .acquire(Lane::Interactive, Bucket::Burst)
        .await
        .expect_err("refused");
    assert!(matches!(e, LimitError::Unavailable(_)), "{e:?}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "refused promptly"
    );
}

/// `sync --status` says where the budget is kept: shared (and by how many other processes),
/// or Redis unreachable and what each process runs on, never with Redis's password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_status_shows_where_the_budget_is_kept() {
    let redis = RedisServer::start();
    let dir = crate::support::tempdir("status");
    let status = |url: &str| {
        let out = crate::support::bin()
            .args(["sync", "--status", "--sandbox"])
            .env("HUBSPOT_MCP_DATA_DIR", &dir)
            .env("HUBSPOT_MCP_GOVERNOR__REDIS_URL", url)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(!text.contains("s3cret-pw"), "{text}");
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["governor"].clone()
    };
    // One serving process shares the budget.
    let g = governor(budget(10, 1_000), shared(&redis.url(), "hubspot-mcp"));
    g.heartbeat().await.unwrap();
    let s = status(&redis.url());
    assert_eq!(s["mode"], "shared", "{s}");
    assert_eq!(s["processes"], 1, "{s}");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let s = status(&format!("redis://:s3cret-pw@127.0.0.1:{closed}/"));
    assert_eq!(s["mode"], "fallback", "{s}");
    assert!(s["note"].as_str().unwrap().contains("local share"), "{s}");
    std::fs::remove_dir_all(dir).ok();
}
