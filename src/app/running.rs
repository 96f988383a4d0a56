//! One server per data directory, shared: how the CLI and desktop clients reach a server that
//! is already running instead of fighting it for the index and the audit log.
//!
//! A server on HTTP records where it listens in `<dir>/server.json` (`dir` is the sync data
//! directory: `<data_dir>/sandbox` for the in-process sandbox, so a sandbox server and a
//! HubSpot server never stand in for each other), owner-only, and removes it when it stops.
//! Whoever finds the embedded index held by another process reads that file, checks
//! `/healthz`, and then:
//!
//! - `hubspot-mcp search` asks the server's `semantic_search` tool;
//! - `hubspot-mcp serve --stdio` (a desktop client) becomes a bridge: each JSON-RPC line from
//!   stdin is POSTed to the server's `/mcp` and its answer written to stdout, so the desktop
//!   client sees the same portal, index, audit log and gate as every other client.
//!
//! The bearer token is the one the server keeps in `<data_dir>/http-token`, or
//! `HUBSPOT_MCP_HTTP_TOKEN` when the server was given its own.

use std::path::{Path, PathBuf};
use std::time::Duration;

use std::sync::Arc;

use anyhow::Context;
use serde::{Deserialize, Serialize};

pub use crate::mcp::http::INSTANCE_HEADER;

/// What `server.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningServer {
    pub pid: u32,
    /// `http://127.0.0.1:8765/mcp`.
    pub url: String,
    /// A random id of this server process, echoed by its `/healthz`: a record left by a server
    /// that died is never taken for whatever listens on that port now.
    pub instance: String,
}

/// Where a server in `dir` records itself.
pub fn record_path(dir: &Path) -> PathBuf {
    dir.join("server.json")
}

/// An HTTP client for loopback only: no proxy ever sees the token or the CRM data.
fn loopback_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap_or_default()
}

fn is_loopback_url(url: &str) -> bool {
    reqwest::Url::parse(url).is_ok_and(|u| match u.host_str() {
        Some("localhost") => true,
        Some(h) => h
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    })
}

impl RunningServer {
    /// Records this process as the server of `dir` (owner-only file, replaced atomically).
    ///
    /// # Errors
    /// The directory cannot be written.
    pub fn record(dir: &Path, url: &str, instance: &str) -> std::io::Result<()> {
        let me = Self {
            pid: std::process::id(),
            url: url.to_string(),
            instance: instance.to_string(),
        };
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!("server.json.tmp-{}", uuid::Uuid::new_v4().simple()));
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        std::io::Write::write_all(&mut o.open(&tmp)?, &serde_json::to_vec(&me)?)?;
        std::fs::rename(&tmp, record_path(dir))
    }

    /// Removes the record of `dir` if it is this process's.
    pub fn forget(dir: &Path) {
        let path = record_path(dir);
        if Self::read(dir).is_some_and(|s| s.pid == std::process::id()) {
            let _ = std::fs::remove_file(path);
        }
    }

    /// The record of `dir`, if there is a readable one.
    pub fn read(dir: &Path) -> Option<Self> {
        let bytes = std::fs::read(record_path(dir)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The server of `dir`: recorded, on a loopback address, and answering `/healthz` within a
    /// second with the recorded instance id (a record left by a killed server, or another
    /// server now on its port, is ignored).
    pub async fn find(dir: &Path) -> Option<Self> {
        let s = Self::read(dir)?;
        if !is_loopback_url(&s.url) {
            tracing::warn!(url = %s.url, "ignoring a server record that is not on a loopback address");
            return None;
        }
        let health = s.url.strip_suffix("/mcp").map(|b| format!("{b}/healthz"))?;
        let res = loopback_client()
            .get(&health)
            .timeout(Duration::from_secs(1))
            .send()
            .await
            .ok()?;
        let same = res
            .headers()
            .get(INSTANCE_HEADER)
            .and_then(|v| v.to_str().ok())
            == Some(s.instance.as_str());
        (res.status().is_success() && same).then_some(s)
    }

    /// Calls one tool over the server's stateless HTTP endpoint.
    ///
    /// # Errors
    /// The server does not answer, refuses the token, or answers with a JSON-RPC error.
    pub async fn call_tool(
        &self,
        token: Option<&str>,
        name: &str,
        arguments: serde_json::Value,
    ) -> anyhow::Result<serde_json::Value> {
        let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": name, "arguments": arguments}});
        let session = Session::default();
        let answers = session.post(self, token, &body).await?;
        let v = answers
            .into_iter()
            .find(|a| a.get("id").is_some())
            .context("no answer")?;
        if let Some(e) = v.get("error") {
            anyhow::bail!(
                "the server at {} refused the call: {}",
                self.url,
                e["message"]
            );
        }
        Ok(v["result"].clone())
    }

    /// Bridges stdio to the server until stdin ends: one JSON-RPC message per line each way.
    /// `initialize` goes first and alone (its answer sets the protocol version and, against a
    /// `--stateful` server, the session); every other message runs in a task of its own, so
    /// a `ping` or `notifications/cancelled` never waits behind a long call. Every request
    /// is answered: an error the server could not tie to it (a refusal with a null id, a
    /// non-JSON-RPC body, no answer) comes back with the request's id.
    ///
    /// # Errors
    /// Stdin cannot be read.
    pub async fn bridge_stdio(&self, token: Option<String>) -> anyhow::Result<()> {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<serde_json::Value>();
        let writer = tokio::spawn(async move {
            let mut out = tokio::io::stdout();
            while let Some(m) = rx.recv().await {
                if out.write_all(format!("{m}\n").as_bytes()).await.is_err()
                    || out.flush().await.is_err()
                {
                    break;
                }
            }
        });
        let session = Arc::new(Session::default());
        let me = Arc::new(self.clone());
        let mut tasks = tokio::task::JoinSet::new();
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        while let Some(line) = lines.next_line().await? {
            if line.trim().is_empty() {
                continue;
            }
            let message: serde_json::Value = match serde_json::from_str(&line) {
                Ok(m) => m,
                Err(e) => {
                    let _ = tx.send(serde_json::json!({"jsonrpc": "2.0", "id": null,
                        "error": {"code": -32700, "message": format!("Parse error: {e}")}}));
                    continue;
                }
            };
            let (me, session, tx, token) = (me.clone(), session.clone(), tx.clone(), token.clone());
            let relay = async move {
                for a in session.relay(&me, token.as_deref(), &message).await {
                    let _ = tx.send(a);
                }
            };
            if line.contains("\"initialize\"") {
                relay.await;
            } else {
                tasks.spawn(relay);
            }
            while tasks.try_join_next().is_some() {}
        }
        while tasks.join_next().await.is_some() {}
        drop(tx);
        let _ = writer.await;
        Ok(())
    }
}

/// What the bridge learns from `initialize`.
#[derive(Debug, Default)]
struct Session {
    /// The negotiated protocol version, sent with every later request.
    version: parking_lot::Mutex<Option<String>>,
    /// `Mcp-Session-Id`, when the server keeps sessions (`--stateful`).
    id: parking_lot::Mutex<Option<String>>,
}

impl Session {
    /// Sends one message and returns what to write back: the server's messages, with an error
    /// tied to the request's id wherever the server's answer could not be.
    async fn relay(
        &self,
        server: &RunningServer,
        token: Option<&str>,
        message: &serde_json::Value,
    ) -> Vec<serde_json::Value> {
        let id = message
            .get("method")
            .and(message.get("id"))
            .filter(|i| !i.is_null())
            .cloned();
        let fail = |why: String| {
            id.clone()
                .map(|id| {
                    serde_json::json!({"jsonrpc": "2.0", "id": id,
                        "error": {"code": -32603, "message": why}})
                })
                .into_iter()
                .collect::<Vec<_>>()
        };
        match self.post(server, token, message).await {
            Ok(answers) => {
                let mut out = Vec::new();
                for mut a in answers {
                    if a.get("jsonrpc").is_none() {
                        out.extend(fail(format!("the server answered: {a}")));
                        continue;
                    }
                    if a.get("id").is_some_and(serde_json::Value::is_null) {
                        if let Some(id) = &id {
                            a["id"] = id.clone();
                        }
                    }
                    if message["method"] == "initialize" {
                        if let Some(v) = a["result"]["protocolVersion"].as_str() {
                            *self.version.lock() = Some(v.to_string());
                        }
                    }
                    out.push(a);
                }
                if out.is_empty() {
                    return fail(format!("the server at {} sent no answer", server.url));
                }
                out
            }
            Err(e) => fail(format!("{e:#}")),
        }
    }

    /// POSTs one message; the JSON-RPC messages of the answer (none for an accepted
    /// notification or response, every `data:` event of a stream).
    async fn post(
        &self,
        server: &RunningServer,
        token: Option<&str>,
        message: &serde_json::Value,
    ) -> anyhow::Result<Vec<serde_json::Value>> {
        let mut req = loopback_client()
            .post(&server.url)
            .timeout(Duration::from_secs(300))
            .header("accept", "application/json, text/event-stream")
            .json(message);
        // `initialize` carries its version in its body; the header must not contradict it.
        if message["method"] != "initialize" {
            let version = self.version.lock().clone();
            req = req.header(
                "mcp-protocol-version",
                version.unwrap_or_else(|| "2025-06-18".into()),
            );
            if let Some(sid) = self.id.lock().clone() {
                req = req.header("mcp-session-id", sid);
            }
        }
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req
            .send()
            .await
            .with_context(|| format!("the server at {} does not answer", server.url))?;
        let status = res.status();
        if let Some(sid) = res
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
        {
            *self.id.lock() = Some(sid.to_string());
        }
        if status.as_u16() == 401 {
            anyhow::bail!("the server at {} refused the bearer token: set HUBSPOT_MCP_HTTP_TOKEN to the token it was started with", server.url);
        }
        if status.as_u16() == 202 {
            return Ok(Vec::new());
        }
        let text = res.text().await?;
        let events: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .collect();
        let bodies = if events.is_empty() {
            vec![text.as_str()]
        } else {
            events
        };
        bodies
            .into_iter()
            .map(|b| {
                serde_json::from_str(b)
                    .with_context(|| format!("the server at {} answered {status}: {b}", server.url))
            })
            .collect()
    }
}

/// The token a client of the running server presents: `HUBSPOT_MCP_HTTP_TOKEN`, else the
/// generated one kept in `<data_dir>/http-token`.
pub fn client_token(data_dir: &Path) -> Option<String> {
    std::env::var("HUBSPOT_MCP_HTTP_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
        .or_else(|| {
            std::fs::read_to_string(data_dir.join("http-token"))
                .ok()
                .map(|t| t.trim().to_string())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_owner_only_and_forgotten_only_by_its_writer() {
        let dir = std::env::temp_dir().join(format!("hsmcp-running-{}", uuid::Uuid::new_v4()));
        RunningServer::record(&dir, "http://127.0.0.1:1/mcp", "i-1").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(record_path(&dir))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{mode:o}");
        }
        assert_eq!(RunningServer::read(&dir).unwrap().pid, std::process::id());
        std::fs::write(
            record_path(&dir),
            r#"{"pid": 1, "url": "http://127.0.0.1:1/mcp"}"#,
        )
        .unwrap();
        RunningServer::forget(&dir);
        assert!(record_path(&dir).exists(), "another server's record stays");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn only_loopback_servers_are_trusted() {
        assert!(is_loopback_url("http://127.0.0.1:8765/mcp"));
        assert!(is_loopback_url("http://[::1]:8765/mcp"));
        assert!(is_loopback_url("http://localhost:8765/mcp"));
        assert!(!is_loopback_url("http://10.0.0.5:8765/mcp"));
        assert!(!is_loopback_url("http://localhost.evil.example/mcp"));
    }
}
