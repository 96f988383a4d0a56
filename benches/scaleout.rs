//! One HubSpot budget across processes, measured: three separate OS processes against one
//! private-pro sandbox (190 requests per 10 s, search 5/s), as a deployment runs them:
//! `hubspot-mcp sync --full`, an MCP replica (`serve --http`) under agent load (six agents:
//! five reading records back to back, one searching every 300 ms), and
//! `hubspot-mcp export`. Three runs of `SCALEOUT_SECS` (default 60) each:
//! 1. local governors only (each process believes it owns the budget);
//! 2. one shared budget through Redis (`[governor] redis_url`);
//! 3. the same, with Redis killed a third of the way in and restarted at two thirds.
//!
//! Everything is counted by the sandbox (its request log), not by the processes: 429s,
//! requests in any 10 s window, and the share of the budget used. Agent calls are counted by
//! the load generator (an MCP client over HTTP): failed calls and latency.
//!
//! Run: `cargo bench --bench scaleout` (needs `redis-server`, and the embedding model that
//! `scripts/provision.sh` installs). The last line is the summary:
//! `scaleout: shared_429s=… local_429s=… budget_use=… max_in_window=… redis_down_429s=… failed_calls=… local_failed_calls=…`

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hubspot_sandbox::seed::RecordCounts;
use hubspot_sandbox::{AppKind, Sandbox, SandboxConfig};
use parking_lot::Mutex;
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_hubspot-mcp");
const AGENTS: usize = 6;
const TOKEN: &str = "scaleout-bench-token";

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

struct Redis {
    port: u16,
    dir: PathBuf,
    child: Option<Proc>,
}

impl Redis {
    fn start(dir: &Path) -> Self {
        let mut r = Self {
            port: free_port(),
            dir: dir.join("redis"),
            child: None,
        };
        std::fs::create_dir_all(&r.dir).unwrap();
        r.restart();
        r
    }
    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
    fn kill(&mut self) {
        self.child = None;
    }
    fn restart(&mut self) {
        self.kill();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (Debian: apt-get install redis-server)");
        self.child = Some(Proc(child));
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A `hubspot-mcp` process pointed at the sandbox, with its own data directory.
fn product(args: &[&str], sb: &Sandbox, data: &Path, redis: Option<&str>) -> Proc {
    std::fs::create_dir_all(data).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("HUBSPOT_MCP_DATA_DIR", data)
        .env("HUBSPOT_MCP_HUBSPOT__TOKEN", sb.token())
        .env("HUBSPOT_MCP_HUBSPOT__CLIENT__BASE_URL", sb.base_url())
        .env("HUBSPOT_MCP_HTTP_TOKEN", TOKEN)
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(url) = redis {
        cmd.env("HUBSPOT_MCP_GOVERNOR__REDIS_URL", url);
    }
    Proc(cmd.spawn().expect("the hubspot-mcp binary"))
}

#[derive(Default)]
struct Agents {
    ok: AtomicU64,
    failed: AtomicU64,
    /// (seconds since the run started, latency ms) of every call.
    calls: Mutex<Vec<(f64, f64)>>,
    first_error: Mutex<Option<String>>,
}

/// `AGENTS` MCP clients calling `get_objects` (10 ids, one batch read each) back to back.
async fn agent_load(
    url: String,
    ids: Arc<Vec<String>>,
    stop: Arc<AtomicBool>,
    started: Instant,
) -> Arc<Agents> {
    let stats = Arc::new(Agents::default());
    let http = reqwest::Client::new();
    let mut tasks = Vec::new();
    for a in 0..AGENTS {
        let (http, url, ids, stop, stats) = (
            http.clone(),
            url.clone(),
            ids.clone(),
            stop.clone(),
            stats.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut k = a * 997;
            // Agent 0 searches (a person asking "find …", every 300 ms); the others read
            // records back to back.
            let searcher = a == 0;
            while !stop.load(Ordering::Relaxed) {
                let pick: Vec<&String> = (0..10).map(|j| &ids[(k + j * 131) % ids.len()]).collect();
                k += 10;
                let term = ["anna", "lee", "tech", "sales"][k % 4];
                let body = if searcher {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    json!({"jsonrpc": "2.0", "id": k, "method": "tools/call", "params": {
                        "name": "search_objects",
                        "arguments": {"objectType": "contacts", "query": term, "limit": 10}}})
                } else {
                    json!({"jsonrpc": "2.0", "id": k, "method": "tools/call", "params": {
                        "name": "get_objects",
                        "arguments": {"objectType": "contacts", "ids": pick, "properties": ["email"]}}})
                };
                let t = Instant::now();
                let r = http
                    .post(&url)
                    .bearer_auth(TOKEN)
                    .header("accept", "application/json, text/event-stream")
                    .header("mcp-protocol-version", "2025-06-18")
                    .json(&body)
                    .timeout(Duration::from_secs(60))
                    .send()
                    .await;
                let ms = t.elapsed().as_secs_f64() * 1e3;
                let ok = match r {
                    Ok(res) => {
                        let text = res.text().await.unwrap_or_default();
                        let v: Value = serde_json::from_str(text.trim_start_matches("data: ")).unwrap_or(Value::Null);
                        let good = v["result"].is_object() && v["result"]["isError"] != json!(true);
                        if !good {
                            stats.first_error.lock().get_or_insert(text.chars().take(300).collect());
                        }
                        good
                    }
                    Err(e) => {
                        stats.first_error.lock().get_or_insert(e.to_string());
                        false
                    }
                };
                if stop.load(Ordering::Relaxed) && !ok {
                    break; // cut off by the end of the run, not a failure
                }
                if ok { &stats.ok } else { &stats.failed }.fetch_add(1, Ordering::Relaxed);
                stats.calls.lock().push((started.elapsed().as_secs_f64(), ms));
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    stats
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() - 1) as f64 * p).round() as usize]
}

struct RunResult {
    r429: usize,
    max_in_window: usize,
    budget_use: f64,
    failed: u64,
    down_429s: usize,
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Local,
    Shared,
    SharedWithOutage,
}

async fn run(mode: Mode, sb: &Sandbox, ids: Arc<Vec<String>>, root: &Path, secs: u64) -> RunResult {
    let dir = root.join(match mode {
        Mode::Local => "local",
        Mode::Shared => "shared",
        Mode::SharedWithOutage => "outage",
    });
    let mut redis = (mode != Mode::Local).then(|| Redis::start(&dir));
    let url = redis.as_ref().map(Redis::url);
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let _replica = product(
        &["serve", "--http", &addr],
        sb,
        &dir.join("replica"),
        url.as_deref(),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the replica did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sb.clear_log();
    let started = Instant::now();
    let t0 = sb.clock().now_ms();
    let _sync = product(&["sync", "--full"], sb, &dir.join("sync"), url.as_deref());
    let out = dir.join("contacts.jsonl");
    let _export = product(
        &["export", "contacts", "-o", out.to_str().unwrap()],
        sb,
        &dir.join("export"),
        url.as_deref(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn(agent_load(
        format!("http://{addr}/mcp"),
        ids,
        stop.clone(),
        started,
    ));
    let third = Duration::from_secs(secs / 3);
    let mut down = (0i64, 0i64);
    if mode == Mode::SharedWithOutage {
        tokio::time::sleep(third).await;
        down.0 = sb.clock().now_ms();
        redis.as_mut().unwrap().kill();
        tokio::time::sleep(third).await;
        redis.as_mut().unwrap().restart();
        down.1 = sb.clock().now_ms();
        tokio::time::sleep(Duration::from_secs(secs) - third * 2).await;
    } else {
        tokio::time::sleep(Duration::from_secs(secs)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let t1 = sb.clock().now_ms();
    let agents = load.await.unwrap();
    let log: Vec<_> = sb
        .log_entries()
        .into_iter()
        .filter(|e| e.at_ms >= t0 && e.at_ms <= t1 && e.path.starts_with("/crm"))
        .collect();
    let r429 = log.iter().filter(|e| e.status == 429).count();
    let secondly = log
        .iter()
        .filter(|e| e.status == 429 && e.path.ends_with("/search"))
        .count();
    let burst: Vec<i64> = log
        .iter()
        .filter(|e| !e.path.ends_with("/search") && e.status != 429)
        .map(|e| e.at_ms)
        .collect();
    let searches = log
        .iter()
        .filter(|e| e.path.ends_with("/search") && e.status != 429)
        .count();
    let max_in_window = burst
        .iter()
        .map(|t| {
            burst
                .iter()
                .filter(|u| **u >= *t && **u < t + 10_000)
                .count()
        })
        .max()
        .unwrap_or(0);
    let seconds = (t1 - t0) as f64 / 1e3;
    let budget_use = burst.len() as f64 / (190.0 * seconds / 10.0);
    let down_429s = log
        .iter()
        .filter(|e| e.status == 429 && e.at_ms >= down.0 && e.at_ms <= down.1 + 10_000)
        .count();
    let exported = std::fs::read_to_string(&out)
        .map(|s| s.lines().count())
        .unwrap_or(0);
    let calls = agents.calls.lock().clone();
    let mut lat: Vec<f64> = calls.iter().map(|c| c.1).collect();
    let (p50, p99) = (pct(&mut lat.clone(), 0.5), pct(&mut lat, 0.99));
    let failed = agents.failed.load(Ordering::Relaxed);
    let name = match mode {
        Mode::Local => "local governors",
        Mode::Shared => "shared (Redis)",
        Mode::SharedWithOutage => "shared, Redis killed and restarted",
    };
    println!(
        "{name:<36} 429s {r429:>4} (search {secondly:>3})  max/10s {max_in_window:>3}  budget {:>5.1}%  agent calls {:>5} ok {failed:>3} failed, p50 {p50:>6.1} ms p99 {p99:>7.1} ms  background: {:.1} searches/s, export {exported} records",
        budget_use * 100.0,
        agents.ok.load(Ordering::Relaxed),
        searches as f64 / seconds,
    );
    if mode == Mode::SharedWithOutage {
        let mut worst_during = calls
            .iter()
            .filter(|c| c.0 >= third.as_secs_f64() && c.0 <= 2.0 * third.as_secs_f64() + 10.0)
            .map(|c| c.1)
            .collect::<Vec<_>>();
        println!(
            "{:<36} 429s while Redis was down (and 10 s after): {down_429s}; slowest agent call then {:.1} ms",
            "",
            pct(&mut worst_during, 1.0)
        );
    }
    if let Some(e) = agents.first_error.lock().as_ref() {
        println!("{:<36} first failed call: {e}", "");
    }
    RunResult {
        r429,
        max_in_window,
        budget_use,
        failed,
        down_429s,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let secs: u64 = std::env::var("SCALEOUT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let sb = Sandbox::start(SandboxConfig {
        app_kind: AppKind::PrivatePro,
        records: RecordCounts {
            contacts: 20_000,
            companies: 2_000,
            deals: 3_000,
            tickets: 3_000,
            ..RecordCounts::empty()
        },
        log_bodies: false,
        log_capacity: 1_000_000,
        ..Default::default()
    })
    .await
    .unwrap();
    let ids: Arc<Vec<String>> = Arc::new(
        sb.shared()
            .store
            .read()
            .records_of("0-1")
            .keys()
            .map(u64::to_string)
            .collect(),
    );
    let root = std::env::temp_dir().join(format!("hubspot-mcp-scaleout-{}", std::process::id()));
    println!("scaleout: 3 processes (sync --full, serve --http under {AGENTS} agents, export) against one private-pro sandbox, {secs} s per run");
    let local = run(Mode::Local, &sb, ids.clone(), &root, secs).await;
    // Let the sandbox's windows empty between runs.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let shared = run(Mode::Shared, &sb, ids.clone(), &root, secs).await;
    tokio::time::sleep(Duration::from_secs(11)).await;
    let outage = run(Mode::SharedWithOutage, &sb, ids, &root, secs).await;
    let _ = std::fs::remove_dir_all(&root);
    sb.shutdown().await;
    println!(
        "scaleout: shared_429s={} local_429s={} budget_use={:.3} max_in_window={} redis_down_429s={} failed_calls={} local_failed_calls={}",
        shared.r429,
        local.r429,
        shared.budget_use,
        shared.max_in_window,
        outage.down_429s,
        shared.failed + outage.failed,
        local.failed
    );
}
