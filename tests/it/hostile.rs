//! Hostile callers of the HTTP endpoint and the webhook receiver: what must not get through,
//! what must not hold resources, and what must not spend the HubSpot budget. Every case here
//! was either broken once (named in the test) or held and must keep holding.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hubspot_mcp::hubspot::client::ClientSettings;
use hubspot_mcp::hubspot::limit::GovernorSettings;
use hubspot_mcp::hubspot::{Credentials, HubSpotClient};
use hubspot_mcp::listener::Limits;
use hubspot_mcp::mcp::http::{hash_token, HttpOptions};
use hubspot_mcp::mcp::{HubSpotMcp, ToolOptions};
use hubspot_mcp::sync::queue::Queue;
use hubspot_mcp::time::{SharedClock, SystemClock};
use hubspot_mcp::webhook::receiver::{Receiver, ReceiverConfig, PATH};
use hubspot_mcp::webhook::signature::sign_v3;
use hubspot_sandbox::faults::{FaultKind, FaultSpec};
use hubspot_sandbox::Sandbox;
use secrecy::SecretString;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use crate::support::{small, spawn};

const TOKEN: &str = "hostile-test-token";

struct Endpoint {
    sb: Sandbox,
    addr: SocketAddr,
    cancel: CancellationToken,
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl Endpoint {
    fn url(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }
}

async fn endpoint(governor: GovernorSettings, tweak: impl FnOnce(&mut HttpOptions)) -> Endpoint {
    let sb = spawn(small()).await;
    let client = HubSpotClient::builder(
        ClientSettings {
            base_url: sb.base_url(),
            governor,
            ..Default::default()
        },
        Credentials::Static(SecretString::from(sb.token().to_string())),
    )
    .build();
    let server = HubSpotMcp::new(client, &ToolOptions::default());
    let mut opts = HttpOptions::loopback(SocketAddr::from(([127, 0, 0, 1], 0)));
    opts.token_hashes.push(hash_token(TOKEN));
    opts.max_body_bytes = 64 * 1024;
    tweak(&mut opts);
    let (addr, cancel) = crate::support::serve_mcp(server, opts).await;
    Endpoint { sb, addr, cancel }
}

fn post(url: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(url)
        .bearer_auth(TOKEN)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .header("content-type", "application/json")
}

fn call(name: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name, "arguments": arguments}})
}

/// Broken once: each `/readyz` was a live `account-info` call, unauthenticated, and a
/// failing HubSpot's error was shown to anyone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_spends_at_most_one_call_and_tells_nothing_upstream() {
    let ep = endpoint(GovernorSettings::default(), |_| {}).await;
    let url = format!("http://{}/readyz", ep.addr);
    ep.sb.clear_log();
    let http = reqwest::Client::new();
    let probes: Vec<_> = (0..30)
        .map(|_| {
            let (http, url) = (http.clone(), url.clone());
            tokio::spawn(async move { http.get(&url).send().await.unwrap().status().as_u16() })
        })
        .collect();
    for p in probes {
        assert_eq!(p.await.unwrap(), 200);
    }
    let probes_sent = ep
        .sb
        .log_entries()
        .iter()
        .filter(|e| e.path.contains("account-info"))
        .count();
    assert_eq!(probes_sent, 1, "30 probes, one HubSpot call");

    // A failing HubSpot: a fresh endpoint (no cached answer), every account-info call 500s.
    let ep = endpoint(GovernorSettings::default(), |_| {}).await;
    ep.sb.inject(
        FaultSpec::new(FaultKind::Status { status: 500 }).on("/account-info/2026-03/details"),
    );
    let res = http
        .get(format!("http://{}/readyz", ep.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 503);
    assert_eq!(
        res.text().await.unwrap(),
        "not ready",
        "nothing about HubSpot's answer"
    );
    // Broken once: the probe was retried (5 requests to a failing HubSpot per readiness check).
    let probes_sent = ep
        .sb
        .log_entries()
        .iter()
        .filter(|e| e.path.contains("account-info"))
        .count();
    assert_eq!(probes_sent, 1, "one probe, never retried");
}

/// Broken once: malformed JSON-RPC got 415, an oversized chunked body 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_oversized_and_nested_bodies_get_clear_json_rpc_errors() {
    let ep = endpoint(GovernorSettings::default(), |_| {}).await;
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    for (label, body) in [
        (
            "truncated",
            b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/li".to_vec(),
        ),
        (
            "invalid utf-8",
            b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xff\xfe\"}".to_vec(),
        ),
        ("nested 10,000 deep", deep.into_bytes()),
        ("not json", b"hello".to_vec()),
    ] {
        let res = post(&ep.url()).body(body).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 400, "{label}");
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["error"]["code"], -32700, "{label}: {v}");
    }
    // Broken once: well-formed JSON that is not a JSON-RPC request MCP accepts got 415 with
    // a plain-text body.
    for (label, body) in [
        (
            "a batch",
            json!([{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}]),
        ),
        (
            "a null id",
            json!({"jsonrpc": "2.0", "id": null, "method": "tools/list"}),
        ),
        (
            "a fractional id",
            json!({"jsonrpc": "2.0", "id": 1.5, "method": "tools/list"}),
        ),
        (
            "version 1.0",
            json!({"jsonrpc": "1.0", "id": 1, "method": "tools/list"}),
        ),
        ("no version", json!({"id": 1, "method": "tools/list"})),
        (
            "a number method",
            json!({"jsonrpc": "2.0", "id": 1, "method": 7}),
        ),
        (
            "neither request nor response",
            json!({"jsonrpc": "2.0", "id": 1}),
        ),
        ("a scalar", json!(42)),
    ] {
        let res = post(&ep.url()).json(&body).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 400, "{label}");
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["error"]["code"], -32600, "{label}: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("Invalid Request"),
            "{label}: {v}"
        );
    }
    // Oversized, with and without a Content-Length.
    let big = vec![b' '; 200 * 1024];
    let res = post(&ep.url()).body(big.clone()).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 413, "with a length");
    let chunks = futures::stream::iter(
        big.chunks(8 * 1024)
            .map(|c| {
                Ok::<_, std::io::Error>(hyper::body::Frame::data(bytes::Bytes::copy_from_slice(c)))
            })
            .collect::<Vec<_>>(),
    );
    // The 413 is sent as soon as the limit is passed and the connection closed; a client still
    // writing may see the closed connection (EPIPE) before it reads the answer.
    match post(&ep.url())
        .body(reqwest::Body::wrap(http_body_util::StreamBody::new(chunks)))
        .send()
        .await
    {
        Ok(res) => assert_eq!(res.status().as_u16(), 413, "chunked"),
        Err(e) => assert!(e.is_request(), "refused mid-body: {e}"),
    }
    // A JSON-RPC batch is not part of this protocol version: a clear error, not a crash.
    let batch = json!([{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}]);
    let res = post(&ep.url()).json(&batch).send().await.unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    // Still serving.
    let res = post(&ep.url())
        .json(&json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
}

/// Held, and must keep holding: tokens, Host and Origin variants.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_host_and_origin_variants_are_refused() {
    let ep = endpoint(GovernorSettings::default(), |_| {}).await;
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    let http = reqwest::Client::new();
    let send = |auth: Option<&str>, host: Option<&str>, origin: Option<&str>| {
        let mut r = http
            .post(ep.url())
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .json(&list);
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        if let Some(h) = host {
            r = r.header("host", h);
        }
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        r.send()
    };
    let good = format!("Bearer {TOKEN}");
    for auth in [
        None,
        Some("Bearer"),
        Some("Bearer "),
        Some("Basic aG9zdGlsZTp0ZXN0"),
        Some("Bearer hostile-test-toke"),
        Some("Bearer hostile-test-tokenX"),
        Some(TOKEN),
    ] {
        assert_eq!(
            send(auth, None, None).await.unwrap().status().as_u16(),
            401,
            "{auth:?}"
        );
    }
    for host in [
        "evil.example",
        "localhost.evil.example",
        "127.0.0.1.nip.io",
        "[::2]",
    ] {
        assert_eq!(
            send(Some(&good), Some(host), None)
                .await
                .unwrap()
                .status()
                .as_u16(),
            403,
            "{host}"
        );
    }
    for origin in [
        "null",
        "http://localhost.evil.example",
        "https://evil.example",
        "file://",
    ] {
        assert_eq!(
            send(Some(&good), None, Some(origin))
                .await
                .unwrap()
                .status()
                .as_u16(),
            403,
            "{origin}"
        );
    }
    assert_eq!(
        send(Some(&good), None, Some("http://localhost:3000"))
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
}

/// Reads from a raw socket until the server closes it (0 bytes) or `limit` passes.
async fn closed_within(stream: &mut tokio::net::TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

/// Broken once: 200 slowloris connections were held for a minute, and an idle socket stayed
/// open after 300 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_connections_are_cut_off() {
    let ep = endpoint(GovernorSettings::default(), |o| {
        o.limits = Limits {
            header_read: Duration::from_millis(500),
            max_connections: 50,
            ..Limits::default()
        };
    })
    .await;
    // Slowloris: half a request head, then nothing.
    let mut slow = Vec::new();
    for _ in 0..20 {
        let mut s = tokio::net::TcpStream::connect(ep.addr).await.unwrap();
        s.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            .await
            .unwrap();
        slow.push(s);
    }
    for s in &mut slow {
        assert!(
            closed_within(s, Duration::from_secs(3)).await,
            "a slow head is cut off"
        );
    }
    // Idle: a connection that never sends a byte.
    let mut idle = tokio::net::TcpStream::connect(ep.addr).await.unwrap();
    assert!(
        closed_within(&mut idle, Duration::from_secs(3)).await,
        "an idle socket is closed"
    );
    // Idle keep-alive after a full request.
    let mut ka = tokio::net::TcpStream::connect(ep.addr).await.unwrap();
    ka.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    assert!(
        closed_within(&mut ka, Duration::from_secs(3)).await,
        "idle keep-alive is closed"
    );
    // And the server still answers.
    let ok = reqwest::get(format!("http://{}/healthz", ep.addr))
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
}

/// Broken once: `--stateful` sessions never expired and had no cap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_capped_and_expire_when_idle() {
    let ep = endpoint(GovernorSettings::default(), |o| {
        o.stateless = false;
        o.max_sessions = 3;
        o.session_idle = Duration::from_millis(600);
    })
    .await;
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    for i in 0..3 {
        let res = post(&ep.url()).json(&init).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200, "session {i}");
        assert!(res.headers().get("mcp-session-id").is_some());
    }
    let res = post(&ep.url()).json(&init).send().await.unwrap();
    assert_eq!(
        res.status().as_u16(),
        503,
        "the fourth session is refused as 'try later', not as a server fault"
    );
    assert!(res.headers().get("retry-after").is_some());
    let v: Value = res.json().await.unwrap();
    assert!(
        v["error"]["message"].as_str().unwrap().contains("sessions"),
        "{v}"
    );
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let res = post(&ep.url()).json(&init).send().await.unwrap();
    assert_eq!(
        res.status().as_u16(),
        200,
        "idle sessions expired and freed their places"
    );
}

/// Broken once: 193 abandoned searches all still ran, and fresh searches waited 20 s behind
/// them. A client that gives up (here: its HTTP timeout) stops the tool's HubSpot work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_calls_stop_their_hubspot_work() {
    let ep = endpoint(
        GovernorSettings {
            search_per_second: 1,
            ..Default::default()
        },
        |_| {},
    )
    .await;
    // Warm the metadata cache so that only searches are left to count.
    let warm = post(&ep.url())
        .json(&call(
            "describe_properties",
            json!({"objectType": "contacts"}),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(warm.status().as_u16(), 200);
    ep.sb.clear_log();
    let search = call(
        "search_objects",
        json!({"objectType": "contacts", "query": "a"}),
    );
    let mut abandoned = Vec::new();
    for _ in 0..20 {
        let req = post(&ep.url())
            .json(&search)
            .timeout(Duration::from_millis(300));
        abandoned.push(tokio::spawn(async move { req.send().await.is_err() }));
    }
    let mut gave_up = 0;
    for a in abandoned {
        gave_up += usize::from(a.await.unwrap());
    }
    // At 1 search/s, the first one or two are answered inside the client's 300 ms.
    assert!(gave_up >= 18, "only {gave_up} of 20 timed out");
    // Before the fix the abandoned searches kept running at 1/s: 6 had reached HubSpot by now.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let searches = ep
        .sb
        .log_entries()
        .iter()
        .filter(|e| e.path.ends_with("/search"))
        .count();
    assert!(
        searches <= 3,
        "{searches} of 20 abandoned searches still reached HubSpot"
    );
    // A fresh search is served at once: nothing abandoned is queued ahead of it.
    let started = Instant::now();
    let res = post(&ep.url()).json(&search).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert!(
        started.elapsed() < Duration::from_millis(2_500),
        "{:?}",
        started.elapsed()
    );
}

const SECRET: &str = "hostile-webhook-secret";

async fn receiver(
    tweak: impl FnOnce(&mut ReceiverConfig),
) -> (SocketAddr, Arc<Queue>, CancellationToken) {
    let dir = std::env::temp_dir().join(format!("hsmcp-hostile-{}", uuid::Uuid::new_v4().simple()));
    let queue = Arc::new(Queue::open(&dir.join("sync.sqlite")).unwrap());
    let mut cfg = ReceiverConfig::new(SecretString::from(SECRET.to_string()));
    tweak(&mut cfg);
    let clock: SharedClock = Arc::new(SystemClock);
    let r = Receiver::new(
        cfg,
        queue.clone(),
        clock,
        Arc::new(tokio::sync::Notify::new()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    let app = r.router();
    tokio::spawn(async move {
        let _ = hubspot_mcp::listener::serve(listener, app, Limits::default(), async move {
            c.cancelled().await;
        })
        .await;
    });
    (addr, queue, cancel)
}

/// Broken once: a webhook with `Content-Length: 1000` and no body had no answer after 150 s,
/// and 200 open 1 MiB bodies cost 190 MB before any signature was checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_bodies_are_checked_bounded_and_timed() {
    let (addr, queue, _cancel) = receiver(|c| {
        c.body_timeout = Duration::from_millis(500);
        c.max_in_flight = 2;
    })
    .await;
    let now = chrono::Utc::now().timestamp_millis();
    let uri = format!("http://{addr}{PATH}");
    // A promised body that never comes: 408 within the body timeout.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let sig = sign_v3(SECRET, "POST", &uri, b"", now);
    s.write_all(
        format!("POST {PATH} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 1000\r\nX-HubSpot-Signature-v3: {sig}\r\nX-HubSpot-Request-Timestamp: {now}\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let mut answer = vec![0u8; 1024];
    let started = Instant::now();
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&answer[..n])
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    // Unsigned, or stale: refused before the body is read (the body is never sent here).
    for headers in [
        String::new(),
        format!(
            "X-HubSpot-Signature-v3: {sig}\r\nX-HubSpot-Request-Timestamp: {}\r\n",
            now - 3_600_000
        ),
    ] {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(
            format!(
                "POST {PATH} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 1048000\r\n{headers}\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        let n = tokio::time::timeout(Duration::from_secs(2), s.read(&mut answer))
            .await
            .unwrap()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 401"),
            "answered at once"
        );
    }
    // More signed bodies in flight than allowed: the extra ones get 503 (HubSpot retries).
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("POST {PATH} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 1000\r\nX-HubSpot-Signature-v3: {sig}\r\nX-HubSpot-Request-Timestamp: {now}\r\n\r\n").as_bytes())
            .await
            .unwrap();
        held.push(s);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let body = "[]";
    let res = reqwest::Client::new()
        .post(&uri)
        .header(
            "x-hubspot-signature-v3",
            sign_v3(SECRET, "POST", &uri, body.as_bytes(), now),
        )
        .header("x-hubspot-request-timestamp", now.to_string())
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 503);
    drop(held);
    // A replayed valid delivery is stored once.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let event =
        json!([{"eventId": 7, "subscriptionId": 1, "portalId": 1, "appId": 1, "occurredAt": now,
        "subscriptionType": "contact.propertyChange", "attemptNumber": 0, "objectId": 101,
        "propertyName": "email", "propertyValue": "a@b.c", "changeSource": "CRM"}])
        .to_string();
    for _ in 0..3 {
        let res = reqwest::Client::new()
            .post(&uri)
            .header(
                "x-hubspot-signature-v3",
                sign_v3(SECRET, "POST", &uri, event.as_bytes(), now),
            )
            .header("x-hubspot-request-timestamp", now.to_string())
            .body(event.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 204);
    }
    let d = queue.depth(now).unwrap();
    assert_eq!(
        (d.pending, d.duplicates),
        (1, 2),
        "one event stored, two replays dropped"
    );
}

/// A connection from another loopback address (127.0.0.0/8 is all loopback on Linux), so a
/// test can be two peers at once.
async fn connect_from(source: [u8; 4], to: SocketAddr) -> tokio::net::TcpStream {
    let s = tokio::net::TcpSocket::new_v4().unwrap();
    s.bind(SocketAddr::from((source, 0))).unwrap();
    s.connect(to).await.unwrap()
}

/// Broken once: anyone who sent *a* signature header and a fresh timestamp took one of the
/// 32 body slots; 32 such connections made signed deliveries 503 for 10 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_signatures_holding_bodies_open_do_not_starve_signed_webhooks() {
    let (addr, queue, _cancel) = receiver(|_| {}).await;
    let now = chrono::Utc::now().timestamp_millis();
    let uri = format!("http://{addr}{PATH}");
    let forged = "Zm9yZ2VkIHNpZ25hdHVyZSBmb3JnZWQgc2lnbmF0dXJlIQ==";
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..64 {
        let mut s = connect_from([127, 0, 0, 2], addr).await;
        s.write_all(format!("POST {PATH} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 100000\r\nX-HubSpot-Signature-v3: {forged}\r\nX-HubSpot-Request-Timestamp: {now}\r\n\r\n").as_bytes())
            .await
            .unwrap();
        held.push(s);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The forger got its own share and 503s beyond it; its held bodies never complete.
    for s in &mut held {
        let mut buf = [0u8; 64];
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(5), s.read(&mut buf)).await {
            if String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 503") {
                refused += 1;
            }
        }
    }
    assert_eq!(refused, 64 - 8, "the forger holds 8 places, no more");
    // Signed deliveries from HubSpot's address are accepted meanwhile, and stored.
    for id in 0..20 {
        let event = json!([{"eventId": 1000 + id, "subscriptionId": 1, "portalId": 1, "appId": 1,
            "occurredAt": now, "subscriptionType": "contact.propertyChange", "attemptNumber": 0,
            "objectId": 101 + id, "propertyName": "email", "propertyValue": "a@b.c", "changeSource": "CRM"}])
        .to_string();
        let res = reqwest::Client::new()
            .post(&uri)
            .header(
                "x-hubspot-signature-v3",
                sign_v3(SECRET, "POST", &uri, event.as_bytes(), now),
            )
            .header("x-hubspot-request-timestamp", now.to_string())
            .body(event)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 204, "signed delivery {id}");
    }
    assert_eq!(
        queue.depth(now).unwrap().pending,
        20,
        "every signed event stored"
    );
    drop(held);
}

/// Broken once: 1,030 idle connections with no credentials blocked every request, health
/// checks and webhooks included, for about 8 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_peer_with_1100_idle_connections_does_not_lock_out_others() {
    let ep = endpoint(GovernorSettings::default(), |_| {}).await;
    let mut idle = Vec::new();
    for _ in 0..1_100 {
        idle.push(connect_from([127, 0, 0, 3], ep.addr).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let health = reqwest::Client::new()
        .get(format!("http://{}/healthz", ep.addr))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let res = post(&ep.url())
        .timeout(Duration::from_secs(5))
        .json(&call("list_owners", json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let v: Value = res.json().await.unwrap();
    assert!(v["result"]["structuredContent"].is_object(), "{v}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    drop(idle);
}
