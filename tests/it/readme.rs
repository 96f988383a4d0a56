//! The README, read as a newcomer would: its numbers are the code's, and its everyday commands
//! run, in order, beside a running server on the same data directory.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use hubspot_mcp::hubspot::client::ClientSettings;
use hubspot_mcp::mcp::HubSpotMcp;

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[test]
fn the_readme_states_the_codes_numbers() {
    let text = readme();
    let tools = HubSpotMcp::offline(ClientSettings::default()).tools().len();
    assert!(
        text.contains(&format!("{tools} tools by default")),
        "the README's tool count is not {tools}"
    );
    let c = hubspot_sandbox::seed::RecordCounts::default();
    for (n, what) in [
        (c.contacts, "contacts"),
        (c.companies, "companies"),
        (c.deals, "deals"),
        (c.tickets, "tickets"),
        (c.notes, "notes"),
        (
            c.contacts + c.companies + c.deals + c.tickets,
            "seeded CRM records",
        ),
    ] {
        let claim = format!("{} {what}", thousands(n));
        assert!(text.contains(&claim), "the README does not say {claim:?}");
    }
}

/// The commands of the README's "Everyday tasks" block.
fn everyday_tasks() -> Vec<Vec<String>> {
    let text = readme();
    let start = text.find("<!-- readme-tasks").expect("the marked block");
    let block = &text[start..];
    let open = block.find("```sh\n").unwrap() + 6;
    let close = open + block[open..].find("```").unwrap();
    block[open..close]
        .lines()
        .filter(|l| l.starts_with("hubspot-mcp "))
        .map(|l| {
            // Quoted arguments stay whole.
            let mut args = Vec::new();
            let mut rest = l.trim_start_matches("hubspot-mcp ").trim();
            while !rest.is_empty() {
                if let Some(r) = rest.strip_prefix('"') {
                    let end = r.find('"').unwrap();
                    args.push(r[..end].to_string());
                    rest = r[end + 1..].trim_start();
                } else {
                    let end = rest.find(' ').unwrap_or(rest.len());
                    args.push(rest[..end].to_string());
                    rest = rest[end..].trim_start();
                }
            }
            args
        })
        .collect()
}

/// Broken once: while `scripts/run.sh` ran, the README's own `search --sandbox`,
/// `reconcile --sandbox` and stdio examples failed on the index lock, and `audit tail` from
/// another directory found no log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readmes_commands_run_beside_a_running_server() {
    let dir = crate::support::tempdir("readme");
    let env = |c: &mut std::process::Command| {
        c.env("HUBSPOT_MCP_DATA_DIR", &dir)
            .env("HUBSPOT_MCP_SANDBOX__RECORDS__CONTACTS", "100")
            .env("HUBSPOT_MCP_SANDBOX__RECORDS__COMPANIES", "20")
            .env("HUBSPOT_MCP_SANDBOX__RECORDS__DEALS", "40")
            .env("HUBSPOT_MCP_SANDBOX__RECORDS__TICKETS", "60")
            .env("RUST_LOG", "warn,qdrant_edge=error")
            .env_remove("HUBSPOT_MCP_HTTP_TOKEN")
            .current_dir(std::env::temp_dir());
    };
    // The quick start's server, with a generated (kept) token.
    let mut server = crate::support::bin();
    env(&mut server);
    let mut server = server
        .args(["serve", "--sandbox", "--sync", "--http", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _server = crate::sync::ChildGuard(server);
    let url = line.trim().to_string();
    let token = std::fs::read_to_string(dir.join("http-token")).unwrap();
    // Wait for the backfill, through the server's own tool.
    let started = Instant::now();
    loop {
        let v: serde_json::Value = reqwest::Client::new()
            .post(&url)
            .bearer_auth(token.trim())
            .header("accept", "application/json, text/event-stream")
            .json(
                &serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "semantic_search", "arguments": {"query": "login", "k": 1}}}),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if v["result"]["structuredContent"].get("index").is_none()
            && v["result"]["structuredContent"]["results"].is_array()
        {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "{v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let tasks = everyday_tasks();
    assert!(tasks.len() >= 5, "{tasks:?}");
    for args in tasks {
        let mut c = crate::support::bin();
        env(&mut c);
        let out = c.args(&args).output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "hubspot-mcp {args:?} failed: {text}");
        assert!(
            !text.contains("another process") && !text.contains("WouldBlock"),
            "hubspot-mcp {args:?}: {text}"
        );
        if args[0] == "search" {
            assert!(text.contains("tickets/"), "search found tickets: {text}");
        }
        if args[0] == "sync" {
            assert!(
                text.contains("\"complete\": true") && text.contains("the index is complete"),
                "sync --status reports the index: {text}"
            );
        }
    }
    // The README's stdio client configuration, beside the running server: bridged to it.
    let mut stdio = crate::support::bin();
    env(&mut stdio);
    let mut stdio = stdio
        .args(["serve", "--stdio", "--sandbox", "--sync"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut input = stdio.stdin.take().unwrap();
    let mut output = BufReader::new(stdio.stdout.take().unwrap());
    let _stdio = crate::sync::ChildGuard(stdio);
    for m in [
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"desktop","version":"1"}}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#,
    ] {
        writeln!(input, "{m}").unwrap();
    }
    input.flush().unwrap();
    let mut answers = Vec::new();
    for _ in 0..2 {
        let mut l = String::new();
        output.read_line(&mut l).unwrap();
        answers
            .push(serde_json::from_str::<serde_json::Value>(&l).unwrap_or_else(|_| panic!("{l}")));
    }
    assert_eq!(
        answers[0]["result"]["serverInfo"]["name"], "hubspot-mcp",
        "{answers:?}"
    );
    let names: Vec<&str> = answers[1]["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        names.contains(&"semantic_search"),
        "the running server's tools: {names:?}"
    );
    drop(input);
    let _ = std::fs::remove_dir_all(&dir);
}
