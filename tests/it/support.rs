//! Helpers shared by the integration tests.

use std::sync::Arc;

use hubspot_mcp::sandbox::seed::RecordCounts;
use hubspot_mcp::sandbox::Sandbox;
pub use hubspot_mcp::sandbox::SandboxConfig;
use hubspot_mcp::time::{ManualClock, SharedClock};
use serde_json::Value;

/// A small portal: fast to seed, big enough to page.
pub fn small() -> SandboxConfig {
    SandboxConfig {
        records: RecordCounts::scaled(500),
        ..Default::default()
    }
}

/// Starts a sandbox on the system clock.
pub async fn spawn(config: SandboxConfig) -> Sandbox {
    Sandbox::start(config).await.expect("sandbox starts")
}

/// Starts a sandbox on a manual clock.
pub async fn spawn_manual(config: SandboxConfig) -> (Sandbox, ManualClock) {
    let clock = ManualClock::new(1_780_272_000_000);
    let shared: SharedClock = Arc::new(clock.clone());
    (
        Sandbox::start_with_clock(config, shared)
            .await
            .expect("sandbox starts"),
        clock,
    )
}

/// A thin HTTP client bound to one sandbox and token.
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
}

/// A response, read.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Api {
    pub fn new(sb: &Sandbox) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: sb.base_url(),
            token: sb.token().to_string(),
        }
    }

    pub fn with_token(&self, token: &str) -> Self {
        Self {
            token: token.to_string(),
            ..self.clone()
        }
    }

    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Reply {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request reaches the sandbox");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.send(reqwest::Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.send(reqwest::Method::PUT, path, Some(body)).await
    }

    /// POSTs a form to an OAuth endpoint (no bearer).
    pub async fn form(&self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .form(fields)
            .send()
            .await
            .expect("request reaches the sandbox");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = res.json().await.unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
        }
    }
}

/// Serves `server` over streamable HTTP with `opts` (bound to 127.0.0.1:0 unless `opts` says
/// otherwise); returns the bound address and the token that stops it.
pub async fn serve_mcp(
    server: hubspot_mcp::mcp::HubSpotMcp,
    opts: hubspot_mcp::mcp::http::HttpOptions,
) -> (std::net::SocketAddr, tokio_util::sync::CancellationToken) {
    let cancel = tokio_util::sync::CancellationToken::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let c = cancel.clone();
    tokio::spawn(async move {
        let _ = hubspot_mcp::mcp::http::serve(server, opts, None, c, move |a| {
            let _ = tx.send(a);
        })
        .await;
    });
    (rx.await.expect("the MCP endpoint binds"), cancel)
}
