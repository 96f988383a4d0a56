//! The `hubspot-mcp sandbox` command, as a script would use it.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

#[tokio::test]
async fn sandbox_command_accepts_the_given_token_and_prints_its_url() {
    let mut child = crate::support::bin()
        .args([
            "sandbox",
            "--addr",
            "127.0.0.1:0",
            "--records",
            "50",
            "--token",
            "T-cli-test",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary runs");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut url = String::new();
    out.read_line(&mut url).unwrap();
    let url = url.trim().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let res = reqwest::Client::new()
        .get(format!("{url}/crm/v3/objects/contacts?limit=1"))
        .bearer_auth("T-cli-test")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let res = reqwest::Client::new()
        .get(format!("{url}/crm/v3/objects/contacts?limit=1"))
        .bearer_auth("other")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    child.kill().unwrap();
    let _ = child.wait();
}

#[tokio::test]
async fn sandbox_command_prints_a_ready_token_when_none_is_given() {
    let mut child = crate::support::bin()
        .args(["sandbox", "--records", "50"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary runs");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let (mut url, mut token) = (String::new(), String::new());
    out.read_line(&mut url).unwrap();
    out.read_line(&mut token).unwrap();
    let token = token
        .trim()
        .strip_prefix("token: ")
        .expect("a token line")
        .to_string();
    assert!(token.starts_with("pat-na1-"));
    let res = reqwest::Client::new()
        .get(format!("{}/crm/v3/owners", url.trim()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    child.kill().unwrap();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_login_against_the_sandbox_stores_an_encrypted_refresh_token() {
    let sb = crate::support::spawn(crate::support::small()).await;
    let dir = std::env::temp_dir().join(format!("hsmcp-auth-{}", uuid::Uuid::new_v4()));
    let d = dir.clone();
    let run = move |args: &[&str]| {
        let out = crate::support::bin()
            .args(args)
            .env("HUBSPOT_MCP_DATA_DIR", &d)
            .env_remove("HUBSPOT_MCP_TOKEN_KEY")
            .output()
            .expect("binary runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let base = sb.base_url();
    let (ok, stdout, stderr) =
        tokio::task::spawn_blocking(move || run(&["auth", "login", "--sandbox", &base]))
            .await
            .unwrap();
    assert!(ok, "{stderr}");
    assert!(stdout.contains("crm.objects.contacts.read"), "{stdout}");
    let stored = std::fs::read(dir.join("oauth-tokens.enc")).unwrap();
    assert!(
        !String::from_utf8_lossy(&stored).contains("na1-"),
        "the refresh token is encrypted"
    );
    let out = crate::support::bin()
        .args(["auth", "status", "--sandbox", &sb.base_url()])
        .env("HUBSPOT_MCP_DATA_DIR", &dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("authorized: scopes"));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn serve_audits_tool_calls_and_audit_verify_checks_the_chain() {
    use std::io::Write;
    let dir = std::env::temp_dir().join(format!("hsmcp-serve-audit-{}", uuid::Uuid::new_v4()));
    let mut child = crate::support::bin()
        .args(["serve", "--stdio", "--sandbox"])
        .env("HUBSPOT_MCP_DATA_DIR", &dir)
        .env("HUBSPOT_MCP_SANDBOX__RECORDS__CONTACTS", "50")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    writeln!(stdin, r#"{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{"protocolVersion":"2025-06-18","capabilities":{{}},"clientInfo":{{"name":"cli-test","version":"1"}}}}}}"#).unwrap();
    out.read_line(&mut line).unwrap();
    writeln!(
        stdin,
        r#"{{"jsonrpc":"2.0","method":"notifications/initialized"}}"#
    )
    .unwrap();
    writeln!(stdin, r#"{{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{{"name":"list_owners","arguments":{{}}}}}}"#).unwrap();
    line.clear();
    out.read_line(&mut line).unwrap();
    assert!(line.contains("Maya"), "{line}");
    // A hostile tool name with terminal escapes: refused, and audited as sent.
    writeln!(stdin, r#"{{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{{"name":"x\u001b]0;pwned\u0007\u001b[2J\nforged 999 line","arguments":{{}}}}}}"#).unwrap();
    line.clear();
    out.read_line(&mut line).unwrap();
    assert!(line.contains("not offered"), "{line}");
    let run = |args: &[&str]| {
        crate::support::bin()
            .args(args)
            .env("HUBSPOT_MCP_DATA_DIR", &dir)
            .env("HUBSPOT_MCP_SANDBOX__RECORDS__CONTACTS", "50")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    // While the server writes the log: no prune, no rotation, no second writer.
    for args in [
        &["audit", "prune", "--older-than-days", "0"][..],
        &["audit", "rotate-key"][..],
        &["serve", "--stdio", "--sandbox"][..],
    ] {
        let o = run(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && err.contains("being written by another process (pid"),
            "{args:?}: {err}"
        );
    }
    child.kill().ok();
    let _ = child.wait();
    let verify = run(&["audit", "verify"]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(
        String::from_utf8_lossy(&verify.stdout).contains("2 entries"),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    let tail = run(&["audit", "tail"]);
    let text = String::from_utf8_lossy(&tail.stdout);
    assert!(
        text.contains("list_owners") && text.contains("cli-test"),
        "{text}"
    );
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}') && text.lines().count() == 2,
        "control characters are escaped, no line is forged: {text:?}"
    );
    assert!(text.contains("\\u{1b}]0;pwned"), "{text}");
    // Cutting the last entry is caught, with what a person needs to know.
    let log = dir.join("audit.jsonl");
    let kept: String = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .take(1)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&log, kept).unwrap();
    let verify = run(&["audit", "verify"]);
    let err = String::from_utf8_lossy(&verify.stderr);
    assert!(
        !verify.status.success()
            && err.contains("ends at entry 1 but its head checkpoint records entry 2"),
        "{err}"
    );
    // And the server does not start a chain over it.
    let o = run(&["serve", "--stdio", "--sandbox"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("were removed"), "{err}");
    std::fs::remove_dir_all(dir).ok();
}

/// Runs a stdio session against a separate sandbox with known credential values, with debug
/// logging on, and returns (everything the server printed to stdout, its stderr, its audit file).
fn session_with_known_token(
    token: &str,
    sandbox_url: &str,
    dir: &std::path::Path,
) -> (String, String, String) {
    use std::io::Write;
    let stderr_path = dir.join("stderr.log");
    let mut child = crate::support::bin()
        .args(["serve", "--stdio"])
        .env("HUBSPOT_MCP_HUBSPOT__TOKEN", token)
        .env("HUBSPOT_MCP_HUBSPOT__CLIENT__BASE_URL", sandbox_url)
        .env("HUBSPOT_MCP_DATA_DIR", dir)
        .env("RUST_LOG", "debug")
        .env("HUBSPOT_MCP_SPAN_TIMINGS", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut all = String::new();
    let requests = [
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"leak-test","version":"1"}}}"#,
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_owners","arguments":{}}}"#,
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"search_objects","arguments":{"objectType":"tickets","limit":2}}}"#,
        r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"search_objects","arguments":{"objectType":"tickets","filters":[{"property":"nope","operator":"EQ","value":"x"}]}}}"#,
        r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"create_objects","arguments":{"objectType":"contacts","records":[{"properties":{"customer_tier":"Gold"}}]}}}"#,
        r#"{"jsonrpc":"2.0","id":6,"method":"prompts/get","params":{"name":"account_brief","arguments":{"company":"acme.com"}}}"#,
    ];
    for (i, r) in requests.iter().enumerate() {
        writeln!(stdin, "{r}").unwrap();
        if i == 0 {
            writeln!(
                stdin,
                r#"{{"jsonrpc":"2.0","method":"notifications/initialized"}}"#
            )
            .unwrap();
        }
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        all.push_str(&line);
    }
    child.kill().ok();
    let _ = child.wait();
    let audit = std::fs::read_to_string(dir.join("audit.jsonl")).unwrap_or_default();
    (all, std::fs::read_to_string(stderr_path).unwrap(), audit)
}

#[test]
fn a_whole_session_never_shows_a_known_token_in_output_logs_or_audit() {
    let good = "pat-na1-known-good-0f3c9a";
    let bad = "pat-na1-known-bad-77d2e1";
    let mut sandbox = crate::support::bin()
        .args(["sandbox", "--records", "100", "--token", good])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut url = String::new();
    BufReader::new(sandbox.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    let url = url.trim().to_string();
    for token in [good, bad] {
        let dir = std::env::temp_dir().join(format!("hsmcp-leak-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let (stdout, stderr, audit) = session_with_known_token(token, &url, &dir);
        assert!(
            stdout.contains("\"id\":6"),
            "the session ran to the end: {stdout}"
        );
        if token == good {
            assert!(
                stdout.contains("Maya") && !audit.is_empty(),
                "a real session: {stdout}"
            );
        } else {
            assert!(
                stdout.contains("isError") || stdout.contains("credentials"),
                "the bad token is refused: {stdout}"
            );
        }
        for (what, text) in [("output", &stdout), ("logs", &stderr), ("audit", &audit)] {
            assert!(!text.contains(token), "the token leaked into the {what}");
            assert!(
                !text.contains("sandbox-client-secret"),
                "the client secret leaked into the {what}"
            );
        }
        std::fs::remove_dir_all(dir).ok();
    }
    sandbox.kill().ok();
    let _ = sandbox.wait();
}

/// Broken once: at `RUST_LOG=trace`, rmcp's HTTP transport logged whole tool results.
#[test]
fn trace_logs_hold_no_crm_data() {
    let log = crate::support::tempdir("trace").join("stderr.log");
    let mut child = crate::support::bin()
        .args([
            "serve",
            "--sandbox",
            "--http",
            "127.0.0.1:0",
            "--http-token",
            "t",
        ])
        .env("HUBSPOT_MCP_SANDBOX__RECORDS__CONTACTS", "50")
        .env("RUST_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut url = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    let url = url.trim().to_string();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let v: serde_json::Value = rt.block_on(async {
        reqwest::Client::new()
            .post(&url)
            .bearer_auth("t")
            .header("accept", "application/json, text/event-stream")
            .json(&serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
                "name": "search_objects", "arguments": {"objectType": "contacts", "limit": 3, "properties": ["email", "firstname"]}}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    let _ = child.kill();
    let _ = child.wait();
    let emails: Vec<String> = v["result"]["structuredContent"]["results"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .filter_map(|r| r["properties"]["email"].as_str().map(str::to_string))
        .collect();
    assert_eq!(emails.len(), 3, "{v}");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.len() > 1_000,
        "trace logging is on: {} bytes",
        logged.len()
    );
    for e in &emails {
        assert!(!logged.contains(e.as_str()), "{e} is in the trace log");
    }
}
