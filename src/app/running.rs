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

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// What `server.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningServer {
    pub pid: u32,
    /// `http://127.0.0.1:8765/mcp`.
    pub url: String,
}

/// Where a server in `dir` records itself.
pub fn record_path(dir: &Path) -> PathBuf {
    dir.join("server.json")
}

impl RunningServer {
    /// Records this process as the server of `dir` (owner-only file, replaced atomically).
    ///
    /// # Errors
    /// The directory cannot be written.
    pub fn record(dir: &Path, url: &str) -> std::io::Result<()> {
        let me = Self {
            pid: std::process::id(),
            url: url.to_string(),
        };
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!("server.json.tmp-{}", me.pid));
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create(true).truncate(true);
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

    /// The server of `dir`, if one is recorded and answers `/healthz` within a second (a
    /// record left by a killed server is ignored).
    pub async fn find(dir: &Path) -> Option<Self> {
        let s = Self::read(dir)?;
        let health = s.url.strip_suffix("/mcp").map(|b| format!("{b}/healthz"))?;
        let ok = reqwest::Client::new()
            .get(&health)
            .timeout(Duration::from_secs(1))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        ok.then_some(s)
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
        let v = self.post(token, &body).await?.context("no answer")?;
        if let Some(e) = v.get("error") {
            anyhow::bail!(
                "the server at {} refused the call: {}",
                self.url,
                e["message"]
            );
        }
        Ok(v["result"].clone())
    }

    /// POSTs one JSON-RPC message; `None` for an accepted notification (202).
    async fn post(
        &self,
        token: Option<&str>,
        message: &serde_json::Value,
    ) -> anyhow::Result<Option<serde_json::Value>> {
        let mut req = reqwest::Client::new()
            .post(&self.url)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .json(message);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req
            .send()
            .await
            .with_context(|| format!("the server at {} does not answer", self.url))?;
        let status = res.status();
        if status.as_u16() == 401 {
            anyhow::bail!("the server at {} refused the bearer token: set HUBSPOT_MCP_HTTP_TOKEN to the token it was started with", self.url);
        }
        if status.as_u16() == 202 {
            return Ok(None);
        }
        let text = res.text().await?;
        let json = text
            .lines()
            .find_map(|l| l.strip_prefix("data: "))
            .unwrap_or(&text);
        serde_json::from_str(json)
            .map(Some)
            .with_context(|| format!("the server at {} answered {status}: {text}", self.url))
    }

    /// Bridges stdio to the server until stdin ends: one JSON-RPC message per line each way.
    /// A message the server cannot take is answered with a JSON-RPC error, so the desktop
    /// client always hears back.
    ///
    /// # Errors
    /// Stdout cannot be written.
    pub async fn bridge_stdio(&self, token: Option<&str>) -> anyhow::Result<()> {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        let mut out = tokio::io::stdout();
        while let Some(line) = lines.next_line().await? {
            if line.trim().is_empty() {
                continue;
            }
            let message: serde_json::Value = match serde_json::from_str(&line) {
                Ok(m) => m,
                Err(e) => {
                    let err = serde_json::json!({"jsonrpc": "2.0", "id": null,
                        "error": {"code": -32700, "message": format!("Parse error: {e}")}});
                    out.write_all(format!("{err}\n").as_bytes()).await?;
                    out.flush().await?;
                    continue;
                }
            };
            let answer = match self.post(token, &message).await {
                Ok(a) => a,
                Err(e) => message.get("id").map(|id| {
                    serde_json::json!({"jsonrpc": "2.0", "id": id,
                        "error": {"code": -32603, "message": format!("{e:#}")}})
                }),
            };
            if let Some(a) = answer {
                out.write_all(format!("{a}\n").as_bytes()).await?;
                out.flush().await?;
            }
        }
        Ok(())
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
        RunningServer::record(&dir, "http://127.0.0.1:1/mcp").unwrap();
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
}
