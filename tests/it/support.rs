//! Helpers shared by the integration tests.

use std::sync::Arc;

use hubspot_mcp::time::{ManualClock, SharedClock};
use hubspot_sandbox::seed::RecordCounts;
use hubspot_sandbox::Sandbox;
pub use hubspot_sandbox::SandboxConfig;
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

/// A HubSpot client for `sb` with `settings` (their base URL is replaced by the sandbox's).
pub fn client_for(
    sb: &Sandbox,
    settings: hubspot_mcp::hubspot::ClientSettings,
) -> hubspot_mcp::hubspot::HubSpotClient {
    hubspot_mcp::hubspot::HubSpotClient::builder(
        hubspot_mcp::hubspot::ClientSettings {
            base_url: sb.base_url(),
            ..settings
        },
        hubspot_mcp::hubspot::Credentials::Static(secrecy::SecretString::from(
            sb.token().to_string(),
        )),
    )
    .build()
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

/// What [`spawn_app`] starts. The default: a small sandbox with limits on, the default tools,
/// no sync, no HTTP endpoint, no audit log.
pub struct TestOptions {
    pub sandbox: SandboxConfig,
    pub tools: hubspot_mcp::mcp::ToolOptions,
    /// The client's settings (the sandbox's base URL and, with limits on, its limits are
    /// filled in by the app).
    pub client: hubspot_mcp::hubspot::ClientSettings,
    /// Open sync (queue, the shared test embedder, index) and serve the receiver.
    pub sync: bool,
    /// With `sync`: point the sandbox's webhooks at the receiver and start the worker.
    pub webhooks: bool,
    pub engine: hubspot_mcp::sync::EngineSettings,
    /// Serve MCP over HTTP with this bearer token.
    pub http_token: Option<&'static str>,
    /// HTTP endpoint options beyond the token (address, limits).
    pub http: Option<hubspot_mcp::mcp::http::HttpOptions>,
    /// Record an audit log in the app's data directory.
    pub audit: bool,
}

impl Default for TestOptions {
    fn default() -> Self {
        Self {
            sandbox: small(),
            tools: hubspot_mcp::mcp::ToolOptions::default(),
            client: hubspot_mcp::hubspot::ClientSettings::default(),
            sync: false,
            webhooks: false,
            engine: hubspot_mcp::sync::EngineSettings::default(),
            http_token: None,
            http: None,
            audit: false,
        }
    }
}

/// The webhook signing secret of every test app's sandbox.
pub const WEBHOOK_SECRET: &str = "sandbox-client-secret";

/// An application as the binary starts it (`hubspot_mcp::app::App`), on an in-process
/// sandbox, in its own data directory.
pub struct TestApp {
    pub app: hubspot_mcp::app::App,
    pub client: hubspot_mcp::hubspot::HubSpotClient,
    /// `http://127.0.0.1:PORT/mcp`, with `http_token`.
    pub mcp_url: Option<String>,
    /// The receiver's URL, with `sync`.
    pub webhook_url: Option<String>,
    /// The audit log's path (written with `audit`).
    pub audit: std::path::PathBuf,
}

impl TestApp {
    pub fn sb(&self) -> &Sandbox {
        self.app.sandbox().expect("a test app runs on a sandbox")
    }

    /// The sync engine (with `sync`).
    pub fn engine(&self) -> &hubspot_mcp::sync::SyncEngine {
        self.app.engine().expect("spawn_app with sync: true")
    }

    pub fn webhook_url(&self) -> &str {
        self.webhook_url
            .as_deref()
            .expect("spawn_app with sync: true")
    }

    pub fn mcp_url(&self) -> &str {
        self.mcp_url.as_deref().expect("spawn_app with http_token")
    }

    /// Where the sync database and the index are.
    pub fn dir(&self) -> &std::path::Path {
        self.app.data_dir()
    }

    /// The token that stops the app's tasks.
    pub fn cancel(&self) -> tokio_util::sync::CancellationToken {
        self.app.cancel_token()
    }

    /// Stops the app the way the binary does (cancel, drain, flush).
    pub async fn shutdown(self) {
        self.app.shutdown().await;
    }
}

/// A fresh temporary directory.
pub fn tempdir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("hsmcp-{tag}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The embedding model, loaded once per test process.
pub fn embedder() -> Arc<dyn hubspot_mcp::embed::Embedder> {
    static E: std::sync::OnceLock<Arc<dyn hubspot_mcp::embed::Embedder>> =
        std::sync::OnceLock::new();
    E.get_or_init(|| {
        let dir = hubspot_mcp::embed::default_model_dir();
        Arc::new(
            hubspot_mcp::embed::FastEmbedder::load(&dir, 2)
                .unwrap_or_else(|e| panic!("{e} (run scripts/provision.sh models)")),
        )
    })
    .clone()
}

/// Starts the application on a sandbox, through the same `App` calls the binary makes.
pub async fn spawn_app(options: TestOptions) -> TestApp {
    let root = tempdir("app");
    let mut config = hubspot_mcp::config::Config {
        data_dir: root.clone(),
        ..Default::default()
    };
    config.hubspot.client = options.client;
    config.sync.engine = options.engine;
    config.audit.enabled = options.audit;
    config.audit.fail_closed = true;
    config.audit.path = Some(root.join("audit.jsonl"));
    let mut sandbox = options.sandbox;
    sandbox.oauth.client_secret = WEBHOOK_SECRET.into();
    let portal = hubspot_mcp::app::Portal::Sandbox(Box::new(sandbox));
    let mut app = hubspot_mcp::app::App::connect(config, portal)
        .await
        .expect("the app connects to its sandbox");
    let mut webhook_url = None;
    if options.sync {
        app.open_sync(hubspot_mcp::app::SyncOverrides {
            embedder: Some(embedder()),
            ..Default::default()
        })
        .await
        .expect("sync opens");
        let url = app
            .serve_webhooks(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("the receiver binds");
        if options.webhooks {
            app.start_sync(false);
        } else if let Some(sb) = app.sandbox() {
            sb.webhooks()
                .configure(hubspot_sandbox::webhooks::WebhookSettings::default());
        }
        webhook_url = Some(url);
    }
    let mut mcp_url = None;
    if let Some(token) = options.http_token {
        let secrets = vec![token.to_string()];
        app.check_handoff(&options.tools.handoff)
            .await
            .expect("the handoff policy starts");
        let server = app
            .mcp_server(&options.tools, &secrets)
            .expect("the MCP server builds");
        let mut opts = options.http.unwrap_or_else(|| {
            hubspot_mcp::mcp::http::HttpOptions::loopback(std::net::SocketAddr::from((
                [127, 0, 0, 1],
                0,
            )))
        });
        opts.token_hashes
            .push(hubspot_mcp::mcp::http::hash_token(token));
        let addr = app
            .serve_http(server, opts)
            .await
            .expect("the MCP endpoint binds");
        mcp_url = Some(format!("http://{addr}/mcp"));
    }
    TestApp {
        client: app.client().clone(),
        audit: root.join("audit.jsonl"),
        app,
        mcp_url,
        webhook_url,
    }
}

/// The text of a tool call the tool refused: an `isError` result the model can read (bad
/// arguments, a HubSpot rejection), never a JSON-RPC error. Panics on anything else.
pub fn refusal(v: &serde_json::Value) -> String {
    assert!(
        v["error"].is_null(),
        "a protocol error, not a tool result: {v}"
    );
    assert_eq!(v["result"]["isError"], true, "not refused: {v}");
    v["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The `hubspot-mcp` binary with a data directory of its own (a fresh temporary one; a test
/// that needs a particular one sets `HUBSPOT_MCP_DATA_DIR` after this), so no test reads or
/// writes the user's per-user data directory.
pub fn bin() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_hubspot-mcp"));
    c.env("HUBSPOT_MCP_DATA_DIR", tempdir("bin"));
    c
}
