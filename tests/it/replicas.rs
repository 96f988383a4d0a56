//! Two `serve --http --sync` replicas as separate processes, sharing one portal (the sandbox),
//! one Redis (budget, queue, record state) and one index (the Qdrant stand-in), with no
//! affinity: a client alternates its calls between them and every call succeeds, including
//! those that read the shared record state and index.

use std::io::BufRead;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::redis_server::RedisServer;
use crate::support::{spawn, SandboxConfig};
use crate::sync::ChildGuard;

const TOKEN: &str = "replica-token";

fn replica(sb: &hubspot_sandbox::Sandbox, redis: &str, qdrant: &str) -> (ChildGuard, String) {
    let mut child = crate::support::bin()
        .args(["serve", "--http", "127.0.0.1:0", "--sync"])
        .env("HUBSPOT_MCP_HTTP_TOKEN", TOKEN)
        .env("HUBSPOT_MCP_HUBSPOT__TOKEN", sb.token())
        .env("HUBSPOT_MCP_HUBSPOT__CLIENT_SECRET", "replica-secret")
        .env("HUBSPOT_MCP_HUBSPOT__CLIENT__BASE_URL", sb.base_url())
        .env("HUBSPOT_MCP_GOVERNOR__REDIS_URL", redis)
        .env("HUBSPOT_MCP_SYNC__SHARED__REDIS_URL", redis)
        .env("HUBSPOT_MCP_SYNC__INDEX__QDRANT_URL", qdrant)
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("hubspot-mcp starts");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("/mcp"), "the replica printed {line:?}");
    (ChildGuard(child), line.trim().to_string())
}

async fn call(http: &reqwest::Client, url: &str, id: u64, tool: &str, args: Value) -> Value {
    let res = http
        .post(url)
        .bearer_auth(TOKEN)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .json(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                      "params": {"name": tool, "arguments": args}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{url}");
    let text = res.text().await.unwrap();
    let body = text
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap_or(&text);
    serde_json::from_str(body).unwrap_or_else(|_| panic!("{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_alternating_between_two_replicas_with_no_affinity_succeeds_every_call() {
    let sb = spawn(SandboxConfig {
        records: hubspot_sandbox::seed::RecordCounts::scaled(100),
        limits_enabled: false,
        ..Default::default()
    })
    .await;
    let redis = RedisServer::start();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let qdrant = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    {
        let s = stop.clone();
        let dir = crate::support::tempdir("replicas-qdrant");
        tokio::spawn(async move {
            qdrant_standin::StandIn::new(dir)
                .serve(listener, async move { s.cancelled().await })
                .await
        });
    }
    let (_a, url_a) = replica(&sb, &redis.url(), &qdrant);
    let (_b, url_b) = replica(&sb, &redis.url(), &qdrant);
    assert_ne!(url_a, url_b);
    let http = reqwest::Client::new();
    for i in 0..12u64 {
        let url = if i % 2 == 0 { &url_a } else { &url_b };
        let (tool, args) = match i % 3 {
            0 => (
                "search_objects",
                json!({"objectType": "contacts", "limit": 3}),
            ),
            1 => ("semantic_search", json!({"query": "refund charged twice"})),
            _ => ("find_duplicates", json!({"field": "email"})),
        };
        let r = call(&http, url, i + 1, tool, args).await;
        assert!(
            r["result"]["isError"] != json!(true) && r.get("error").is_none(),
            "call {i} ({tool}) to {url}: {r}"
        );
    }
    // Both replicas see the same shared parts ready.
    for url in [&url_a, &url_b] {
        let ready = http
            .get(url.replace("/mcp", "/readyz"))
            .timeout(Duration::from_secs(20))
            .send()
            .await
            .unwrap();
        let status = ready.status();
        let body = ready.text().await.unwrap();
        assert_eq!(status, 200, "{url}: {body}");
    }
    stop.cancel();
}

/// `qdrant-client` prints its version-compatibility warning with `println!`: on stdout, that
/// would corrupt the stdio MCP stream. With the index on a Qdrant server, every byte a
/// `serve --stdio --sync` writes to stdout is JSON-RPC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdio_with_a_qdrant_server_writes_only_json_rpc_to_stdout() {
    use std::io::Write;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let qdrant = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    {
        let s = stop.clone();
        let dir = crate::support::tempdir("stdio-qdrant");
        tokio::spawn(async move {
            qdrant_standin::StandIn::new(dir)
                .serve(listener, async move { s.cancelled().await })
                .await
        });
    }
    let mut child = crate::support::bin()
        .args(["serve", "--stdio", "--sandbox", "--sync"])
        .env("HUBSPOT_MCP_SYNC__INDEX__QDRANT_URL", &qdrant)
        .env("RUST_LOG", "error")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(
        stdin,
        r#"{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{"protocolVersion":"2025-06-18","capabilities":{{}},"clientInfo":{{"name":"t","version":"1"}}}}}}"#
    )
    .unwrap();
    writeln!(
        stdin,
        r#"{{"jsonrpc":"2.0","method":"notifications/initialized"}}"#
    )
    .unwrap();
    writeln!(
        stdin,
        r#"{{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{{"name":"semantic_search","arguments":{{"query":"refund charged twice"}}}}}}"#
    )
    .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let lines = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        for _ in 0..2 {
            let mut l = String::new();
            out.read_line(&mut l).unwrap();
            lines.push(l);
        }
        lines
    })
    .await
    .unwrap();
    drop(stdin);
    let _ = child.kill();
    let _ = child.wait();
    stop.cancel();
    for (n, l) in lines.iter().enumerate() {
        let v: Value = serde_json::from_str(l)
            .unwrap_or_else(|_| panic!("stdout line {n} is not JSON-RPC: {l:?}"));
        assert_eq!(v["jsonrpc"], "2.0", "{l}");
        assert_eq!(v["id"], json!(n + 1), "{l}");
    }
    assert!(lines[1].contains("\"result\""), "{}", lines[1]);
}
