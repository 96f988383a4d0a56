//! The `hubspot-mcp` command line: parse, set up tracing, call into the library.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use hubspot_mcp::config::Config;
use hubspot_mcp::hubspot::auth::{OAuthClientConfig, OAuthSession, StoredTokens, TokenStore};
use hubspot_mcp::hubspot::login::{login, LoginRequest};
use hubspot_mcp::hubspot::{Credentials, HubSpotClient};
use hubspot_mcp::mcp::http::{hash_token, parse_hash, HttpOptions};
use hubspot_mcp::mcp::{HubSpotMcp, ToolOptions};
use hubspot_mcp::sandbox::oauth::{StaticToken, TokenKind};
use hubspot_mcp::sandbox::seed::RecordCounts;
use hubspot_mcp::sandbox::{AppKind, Sandbox};
use secrecy::SecretString;

/// HubSpot CRM as safe, rate-aware agent tools.
#[derive(Debug, Parser)]
#[command(name = "hubspot-mcp", version, about)]
struct Cli {
    /// A TOML configuration file (see README.md, "Configuration").
    #[arg(long, global = true, env = "HUBSPOT_MCP_CONFIG")]
    config: Option<PathBuf>,
    /// Test mode: the production guard refuses writes unless the portal is a developer test
    /// account or a sandbox.
    #[arg(long, global = true)]
    test_mode: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the local HubSpot-compatible sandbox until Ctrl-C.
    Sandbox(SandboxArgs),
    /// OAuth: authorize this app on a portal, or report what is authorized.
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Serve HubSpot as MCP tools over stdio or streamable HTTP.
    Serve(ServeArgs),
    /// Generated JSON Schemas.
    #[command(subcommand)]
    Schemas(SchemasCommand),
    /// Read and check the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Event-driven sync into the semantic index: backfill, receive webhooks, report.
    Sync(SyncArgs),
    /// Semantic search over the index.
    Search(SearchArgs),
    /// Compare HubSpot's ids and update times with the index and repair drift.
    Reconcile(ConnectArgs),
    /// Records sharing a normalized email, domain or phone.
    Duplicates(DuplicatesArgs),
}

/// Where HubSpot is, for the commands that read it.
#[derive(Debug, Clone, clap::Args)]
struct ConnectArgs {
    /// Start an in-process sandbox with seeded data and read it instead of HubSpot.
    #[arg(long)]
    sandbox: bool,
    /// The embedding model directory (air-gapped installs); default: the provisioned cache.
    #[arg(long, env = "HUBSPOT_MCP_MODEL_DIR")]
    model_dir: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct SyncArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// Read every configured object type (resumes from its checkpoint after a crash).
    #[arg(long)]
    full: bool,
    /// With --full: forget the checkpoints and start over.
    #[arg(long)]
    restart: bool,
    /// Receive webhooks on this address and run the workers until Ctrl-C.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Print queue depth and age, index size and checkpoints as JSON.
    #[arg(long)]
    status: bool,
    /// Re-read records changed since the last event seen (downtime catch-up).
    #[arg(long)]
    catch_up: bool,
    /// List the events that failed for good (poison records), with their last error, as JSON.
    #[arg(long)]
    dead_letters: bool,
    /// With --dead-letters: put them all back in the queue, failures reset.
    #[arg(long, requires = "dead_letters", conflicts_with = "drop")]
    retry: bool,
    /// With --dead-letters: discard them all (a redelivery of the same event is dropped too).
    #[arg(long, requires = "dead_letters")]
    drop: bool,
}

#[derive(Debug, clap::Args)]
struct SearchArgs {
    /// The index `serve --sandbox --sync` (or `sync --sandbox`) built, in `<data_dir>/sandbox`.
    #[arg(long)]
    sandbox: bool,
    /// What to look for.
    query: String,
    /// How many results.
    #[arg(short, long, default_value_t = 10)]
    k: usize,
    /// Only this object type; repeatable.
    #[arg(long = "type")]
    object_types: Vec<String>,
    /// JSON output.
    #[arg(long)]
    json: bool,
    /// The embedding model directory.
    #[arg(long, env = "HUBSPOT_MCP_MODEL_DIR")]
    model_dir: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct DuplicatesArgs {
    /// The index `serve --sandbox --sync` (or `sync --sandbox`) built, in `<data_dir>/sandbox`.
    #[arg(long)]
    sandbox: bool,
    /// email, domain or phone.
    #[arg(long, default_value = "email")]
    field: String,
    /// Only this object type.
    #[arg(long = "type")]
    object_type: Option<String>,
    #[arg(long, default_value_t = 50)]
    limit: usize,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// The last entries.
    Tail {
        #[arg(short = 'n', default_value_t = 20)]
        count: usize,
    },
    /// One entry, by sequence number.
    Show { seq: u64 },
    /// Every entry as JSON lines.
    Export {
        /// JSON lines (the only format today; the flag keeps scripts explicit).
        #[arg(long)]
        jsonl: bool,
    },
    /// Checks the hash chain; exits non-zero at the first edited, deleted or reordered entry.
    Verify,
    /// Removes entries older than the retention (the chain stays verifiable through an
    /// anchor). Run it while no server writes the log; `serve` prunes when it starts.
    Prune {
        /// Days to keep (default: audit.retention_days).
        #[arg(long)]
        older_than_days: Option<u32>,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Serve over stdin/stdout (for Claude Desktop, Cursor, VS Code).
    #[arg(long, conflicts_with = "http")]
    stdio: bool,
    /// Serve streamable HTTP at /mcp on this address (for example 127.0.0.1:8765).
    #[arg(long)]
    http: Option<SocketAddr>,
    /// Start an in-process sandbox with seeded data and point the client at it.
    #[arg(long)]
    sandbox: bool,
    /// Offer only these toolsets.
    #[arg(long, value_enum, value_delimiter = ',')]
    toolsets: Vec<hubspot_mcp::mcp::Toolset>,
    /// Offer no write tools.
    #[arg(long)]
    read_only: bool,
    /// SHA-256 (hex) of a bearer token HTTP callers may present; repeatable.
    #[arg(long = "http-token-sha256")]
    http_token_sha256: Vec<String>,
    /// A bearer token in plain text, hashed at start (prefer the hash).
    #[arg(long, env = "HUBSPOT_MCP_HTTP_TOKEN", hide_env_values = true)]
    http_token: Option<String>,
    /// Serve HTTP without authentication (loopback addresses only).
    #[arg(long)]
    no_auth: bool,
    /// A Host (or host:port) the HTTP endpoint answers to, beyond loopback; repeatable.
    #[arg(long = "allowed-host")]
    allowed_hosts: Vec<String>,
    /// A browser Origin allowed to call the HTTP endpoint; repeatable.
    #[arg(long = "allowed-origin")]
    allowed_origins: Vec<String>,
    /// Keep sessions (SSE) instead of the stateless JSON mode.
    #[arg(long)]
    stateful: bool,
    /// Run sync too: receive webhooks, keep the semantic index fresh, offer semantic_search.
    #[arg(long)]
    sync: bool,
    /// The embedding model directory (air-gapped installs); default: the provisioned cache.
    #[arg(long, env = "HUBSPOT_MCP_MODEL_DIR")]
    model_dir: Option<PathBuf>,
}

/// Like the derived one, but the plain-text token is never shown.
impl std::fmt::Debug for ServeArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeArgs")
            .field("stdio", &self.stdio)
            .field("http", &self.http)
            .field("sandbox", &self.sandbox)
            .field("toolsets", &self.toolsets)
            .field("read_only", &self.read_only)
            .field("http_token_sha256", &self.http_token_sha256.len())
            .field(
                "http_token",
                &self.http_token.as_ref().map(|_| "[redacted]"),
            )
            .field("no_auth", &self.no_auth)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("allowed_origins", &self.allowed_origins)
            .field("stateful", &self.stateful)
            .field("sync", &self.sync)
            .field("model_dir", &self.model_dir)
            .finish()
    }
}

#[derive(Debug, Subcommand)]
enum SchemasCommand {
    /// Write every tool's definition (input and output schemas, annotations) to DIR.
    Export {
        #[arg(long, default_value = "schemas")]
        dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum AuthCommand {
    /// Authorization-code flow with a loopback redirect, state and PKCE; stores the refresh
    /// token encrypted in the data directory.
    Login {
        /// Authorize against a running sandbox at this URL (consents automatically).
        #[arg(long)]
        sandbox: Option<String>,
        /// Seconds to wait for the browser.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Refreshes the stored token once and reports the granted scopes (introspection).
    Status {
        /// A running sandbox's URL instead of HubSpot.
        #[arg(long)]
        sandbox: Option<String>,
    },
}

#[derive(Debug, clap::Args)]
struct SandboxArgs {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long)]
    addr: Option<SocketAddr>,
    /// Seed of the generated data (the same seed gives the same portal).
    #[arg(long)]
    seed: Option<u64>,
    /// Number of contacts; other types scale with it (default 5000: 1000 companies, 2000 deals, 3000 tickets).
    #[arg(long)]
    records: Option<usize>,
    /// The kind of app whose limits to enforce.
    #[arg(long, value_enum)]
    app_kind: Option<AppKind>,
    /// Accept this private-app token (otherwise one is generated and printed).
    #[arg(long, env = "HUBSPOT_MCP_SANDBOX_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// OAuth access-token lifetime in seconds.
    #[arg(long)]
    expires_in: Option<i64>,
    /// Rotate refresh tokens on every refresh.
    #[arg(long)]
    rotate_refresh_tokens: bool,
    /// Milliseconds before a write is visible to search.
    #[arg(long)]
    search_lag_ms: Option<i64>,
    /// Send Retry-After on 429s.
    #[arg(long)]
    retry_after: bool,
    /// Turn every rate limit off.
    #[arg(long)]
    no_limits: bool,
    /// `accountType` reported by /account-info/v3/details.
    #[arg(long)]
    account_type: Option<String>,
    /// Deliver webhooks for every change to this URL.
    #[arg(long)]
    webhook_url: Option<String>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The chain of causes and what to do, never a stack backtrace: these are
            // expected failures (a locked index, a missing model), reported to a person.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The tracing filter: `RUST_LOG`, or info. rmcp's request and response logs are held at
/// info whatever `RUST_LOG` says: at debug they print tool arguments and CRM records whole.
fn log_filter() -> tracing_subscriber::EnvFilter {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,qdrant_edge=error".into());
    match "rmcp::service=info".parse() {
        Ok(d) => filter.add_directive(d),
        Err(_) => filter,
    }
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // HUBSPOT_MCP_SPAN_TIMINGS=1 logs every span's busy and idle time when it closes.
    let span_events = if std::env::var_os("HUBSPOT_MCP_SPAN_TIMINGS").is_some() {
        tracing_subscriber::fmt::format::FmtSpan::CLOSE
    } else {
        tracing_subscriber::fmt::format::FmtSpan::NONE
    };
    tracing_subscriber::fmt()
        .with_span_events(span_events)
        .with_env_filter(log_filter())
        .with_writer(std::io::stderr)
        .init();
    let config = Config::load(cli.config.as_deref())?;
    let mut config = config;
    if cli.test_mode {
        config.hubspot.client.production_guard = true;
    }
    match cli.command {
        Command::Sandbox(args) => run_sandbox(config, args).await,
        Command::Auth(cmd) => run_auth(config, cmd).await,
        Command::Serve(args) => run_serve(config, args).await,
        Command::Audit(cmd) => run_audit(&config, cmd),
        Command::Sync(args) => run_sync(config, args).await,
        Command::Search(args) => run_search(config, args).await,
        Command::Reconcile(args) => run_reconcile(config, args).await,
        Command::Duplicates(args) => run_duplicates(config, args).await,
        Command::Schemas(SchemasCommand::Export { dir }) => {
            let client = HubSpotClient::builder(
                config.hubspot.client.clone(),
                Credentials::Static(SecretString::from(String::new())),
            )
            .build();
            let server = HubSpotMcp::new(client, &ToolOptions::default());
            for path in hubspot_mcp::mcp::schemas::export(&server, &dir)? {
                println!("{path}");
            }
            Ok(())
        }
    }
}

fn audit_path(config: &Config) -> PathBuf {
    config
        .audit
        .path
        .clone()
        .unwrap_or_else(|| config.data_dir.join("audit.jsonl"))
}

/// RFC 3339 time `days` ago.
fn retention_cutoff(days: u32) -> String {
    hubspot_mcp::time::iso_ms(chrono::Utc::now().timestamp_millis() - i64::from(days) * 86_400_000)
}

fn run_audit(config: &Config, cmd: AuditCommand) -> anyhow::Result<()> {
    let path = audit_path(config);
    match cmd {
        AuditCommand::Verify => {
            let report = hubspot_mcp::audit::verify(&path);
            match report.problem {
                None => {
                    let anchored = std::fs::read_to_string(hubspot_mcp::audit::anchor_path(&path))
                        .ok()
                        .map(|_| " from its retention anchor")
                        .unwrap_or("");
                    println!(
                        "ok: {} entries, chain intact{anchored} ({})",
                        report.entries,
                        path.display()
                    );
                    Ok(())
                }
                Some(p) => anyhow::bail!("audit log {} fails verification: {p}", path.display()),
            }
        }
        AuditCommand::Prune { older_than_days } => {
            let days = older_than_days
                .or(config.audit.retention_days)
                .context("no retention: pass --older-than-days N or set audit.retention_days")?;
            let cutoff = retention_cutoff(days);
            let n = hubspot_mcp::audit::prune(&path, &cutoff)?;
            println!(
                "pruned {n} entries recorded before {cutoff} ({})",
                path.display()
            );
            Ok(())
        }
        AuditCommand::Tail { count } => {
            let entries = hubspot_mcp::audit::read_tail(&path, count)?;
            for e in &entries {
                println!(
                    "{:>6} {} {:<11} {:<20} {:>8.1} ms  {:<16} {}",
                    e.seq,
                    e.at,
                    e.draft.kind,
                    e.draft.tool.as_deref().unwrap_or("-"),
                    e.draft.latency_us as f64 / 1000.0,
                    e.draft.client.as_deref().unwrap_or("-"),
                    e.draft.outcome.chars().take(80).collect::<String>()
                );
            }
            Ok(())
        }
        AuditCommand::Show { seq } => {
            let entries = hubspot_mcp::audit::read_all(&path)?;
            let e = entries
                .iter()
                .find(|e| e.seq == seq)
                .with_context(|| format!("no entry {seq} in {}", path.display()))?;
            println!("{}", serde_json::to_string_pretty(e)?);
            Ok(())
        }
        AuditCommand::Export { .. } => {
            for e in hubspot_mcp::audit::read_all(&path)? {
                println!("{}", serde_json::to_string(&e)?);
            }
            Ok(())
        }
    }
}

/// A HubSpot client (or one on an in-process sandbox) and what goes with it.
struct Connected {
    client: HubSpotClient,
    sandbox: Option<Sandbox>,
    granted: Option<Vec<String>>,
    /// Values the audit log and logs must never contain.
    secrets: Vec<String>,
    /// The app's client secret: the key webhook signatures are checked with.
    webhook_secret: Option<SecretString>,
    /// Where sync state lives (a `sandbox/` subdirectory for the sandbox's portal).
    data_dir: PathBuf,
}

async fn connect(config: &Config, sandbox: bool) -> anyhow::Result<Connected> {
    let mut settings = config.hubspot.client.clone();
    if settings.data_dir.is_none() {
        settings.data_dir = Some(config.data_dir.clone());
    }
    let mut sb_handle = None;
    let mut data_dir = config.data_dir.clone();
    let mut webhook_secret = config.hubspot.client_secret.clone();
    let creds = if sandbox {
        let sb = Sandbox::start(config.sandbox.clone())
            .await
            .context("starting the in-process sandbox")?;
        settings.base_url = sb.base_url();
        let limits = config.sandbox.effective_limits();
        settings.governor.burst_max = limits.burst_max;
        settings.governor.daily = limits.daily;
        settings.data_dir = None;
        let token = SecretString::from(sb.token().to_string());
        tracing::info!(url = %sb.base_url(), "serving against the in-process sandbox");
        data_dir = config.data_dir.join("sandbox");
        webhook_secret = Some(SecretString::from(
            config.sandbox.oauth.client_secret.clone(),
        ));
        sb_handle = Some(sb);
        Credentials::Static(token)
    } else if let Some(t) = config.hubspot.token.clone() {
        Credentials::Static(t)
    } else {
        let (oauth, _) = oauth_client(config, None)?;
        let store = TokenStore::in_dir(&config.data_dir);
        let session = OAuthSession::resume(
            hubspot_mcp::hubspot::client::default_http(),
            oauth,
            std::sync::Arc::new(hubspot_mcp::time::SystemClock),
            store,
        )
        .await?;
        Credentials::OAuth(std::sync::Arc::new(session))
    };
    let mut granted = None;
    if let Credentials::OAuth(s) = &creds {
        let scopes = s.introspect().await?;
        tracing::info!(scopes = %scopes.join(" "), "granted OAuth scopes");
        granted = Some(scopes);
    }
    let mut secrets: Vec<String> = Vec::new();
    if let Credentials::Static(t) = &creds {
        secrets.push(secrecy::ExposeSecret::expose_secret(t).to_string());
    }
    secrets.push(config.sandbox.oauth.client_secret.clone());
    if let Some(cs) = &config.hubspot.client_secret {
        secrets.push(secrecy::ExposeSecret::expose_secret(cs).to_string());
    }
    Ok(Connected {
        client: HubSpotClient::builder(settings, creds).build(),
        sandbox: sb_handle,
        granted,
        secrets,
        webhook_secret,
        data_dir,
    })
}

/// Opens sync (queue, model, index, receiver) for a connection.
async fn open_sync(
    config: &Config,
    conn: &Connected,
    model_dir: Option<PathBuf>,
) -> anyhow::Result<hubspot_mcp::sync::SyncRuntime> {
    let mut sc = config.sync.clone();
    if model_dir.is_some() {
        sc.model_dir = model_dir;
    }
    let secret = conn.webhook_secret.clone().context(
        "sync needs the app's client secret to verify webhook signatures: set hubspot.client_secret (HUBSPOT_MCP_HUBSPOT__CLIENT_SECRET)",
    )?;
    hubspot_mcp::sync::SyncRuntime::open(
        &sc,
        &conn.data_dir,
        conn.client.clone(),
        secret,
        std::sync::Arc::new(hubspot_mcp::time::SystemClock),
    )
    .await
}

/// Serves the webhook receiver on its own listener (stdio mode, `sync --listen`).
async fn serve_receiver(
    receiver: &std::sync::Arc<hubspot_mcp::webhook::receiver::Receiver>,
    addr: SocketAddr,
    cancel: tokio_util::sync::CancellationToken,
) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the webhook receiver to {addr}"))?;
    let bound = listener.local_addr()?;
    let app = receiver.router();
    tokio::spawn(async move {
        let limits = hubspot_mcp::listener::Limits::default();
        let _ = hubspot_mcp::listener::serve(listener, app, limits, async move {
            cancel.cancelled().await;
        })
        .await;
    });
    Ok(bound)
}

/// Points the in-process sandbox's webhook sender at our receiver.
fn sandbox_webhooks_to(sb: &Sandbox, config: &Config, url: String) {
    let mut w = hubspot_mcp::sandbox::webhooks::WebhookSettings::default().subscribe_all();
    w.target_url = Some(url);
    w.client_secret = config.sandbox.oauth.client_secret.clone();
    sb.webhooks().configure(w);
}

/// Starts the workers, and catch-up or (sandbox, first run) the backfill, in the background.
fn start_sync(
    engine: &hubspot_mcp::sync::SyncEngine,
    backfill_if_empty: bool,
    cancel: tokio_util::sync::CancellationToken,
) {
    tokio::spawn(engine.clone().run_worker(cancel));
    let e = engine.clone();
    tokio::spawn(async move {
        let fresh = e
            .queue()
            .checkpoint("caught_up_ms")
            .ok()
            .flatten()
            .is_none();
        if fresh && backfill_if_empty {
            match hubspot_mcp::sync::backfill::full_sync(&e, false, false).await {
                Ok(r) => tracing::info!(
                    records = r.iter().map(|t| t.indexed).sum::<usize>(),
                    "backfill done"
                ),
                Err(err) => {
                    tracing::error!(error = %err, "backfill failed; run `hubspot-mcp sync --full` to resume it")
                }
            }
        } else if !fresh {
            match e.catch_up_from_watermark().await {
                Ok(Some(a)) => tracing::info!(?a, "caught up on changes made while down"),
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(error = %err, "catch-up failed; `hubspot-mcp reconcile` repairs drift")
                }
            }
        } else {
            tracing::warn!("the index is empty: run `hubspot-mcp sync --full` to backfill it");
        }
    });
}

async fn run_serve(config: Config, args: ServeArgs) -> anyhow::Result<()> {
    if !args.stdio && args.http.is_none() {
        anyhow::bail!("choose a transport: --stdio, or --http 127.0.0.1:8765");
    }
    let conn = connect(&config, args.sandbox).await?;
    let mut secrets = conn.secrets.clone();
    if let Some(t) = &args.http_token {
        secrets.push(t.clone());
    }
    let client = conn.client.clone();
    let _refresher = client.spawn_metadata_refresher();
    let mut handoff = config.handoff.clone();
    handoff.enabled |= args
        .toolsets
        .contains(&hubspot_mcp::mcp::Toolset::Governance);
    let options = ToolOptions {
        handoff,
        toolsets: args.toolsets.clone(),
        read_only: args.read_only,
        granted_scopes: conn.granted.clone(),
    };
    let mut server = HubSpotMcp::new(client, &options);
    if config.audit.enabled {
        let path = audit_path(&config);
        if let Some(days) = config.audit.retention_days {
            let cutoff = retention_cutoff(days);
            let n = hubspot_mcp::audit::prune(&path, &cutoff)?;
            if n > 0 {
                tracing::info!(entries = n, before = %cutoff, "audit retention: pruned old entries");
            }
        }
        let redactor = hubspot_mcp::audit::Redactor::new(secrets, config.audit.redact_pii);
        let log = hubspot_mcp::audit::AuditLog::open(&path, redactor, config.audit.sync)?;
        tracing::info!(path = %path.display(), "auditing every tool call and prompt fetch");
        server = server.with_audit(std::sync::Arc::new(log), config.audit.fail_closed);
    }
    let cancel = tokio_util::sync::CancellationToken::new();
    let mut receiver = None;
    if args.sync || config.sync.enabled {
        let rt = open_sync(&config, &conn, args.model_dir.clone()).await?;
        server = server.with_sync(rt.engine.clone());
        start_sync(&rt.engine, args.sandbox, cancel.clone());
        if args.stdio || config.sync.webhooks.listen.is_some() {
            let addr = config
                .sync
                .webhooks
                .listen
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
            let bound = serve_receiver(&rt.receiver, addr, cancel.clone()).await?;
            tracing::info!(url = %format!("http://{bound}{}", hubspot_mcp::webhook::receiver::PATH), "receiving webhooks");
            if let Some(sb) = &conn.sandbox {
                sandbox_webhooks_to(
                    sb,
                    &config,
                    format!("http://{bound}{}", hubspot_mcp::webhook::receiver::PATH),
                );
            }
        } else {
            receiver = Some(rt.receiver.clone());
        }
    }
    if args.stdio {
        use rmcp::ServiceExt;
        let running = server
            .serve(rmcp::transport::stdio())
            .await
            .context("starting the stdio transport")?;
        running.waiting().await.context("serving stdio")?;
    } else if let Some(addr) = args.http {
        let mut opts = HttpOptions::loopback(addr);
        opts.stateless = !args.stateful;
        opts.allowed_hosts
            .extend(args.allowed_hosts.iter().cloned());
        if !addr.ip().is_unspecified() {
            opts.allowed_hosts.push(addr.ip().to_string());
        }
        opts.allowed_origins = args.allowed_origins.clone();
        for h in &args.http_token_sha256 {
            opts.token_hashes
                .push(parse_hash(h).map_err(|e| anyhow::anyhow!("--http-token-sha256 {h}: {e}"))?);
        }
        if let Some(t) = &args.http_token {
            opts.token_hashes.push(hash_token(t));
        }
        if opts.token_hashes.is_empty() && !args.no_auth {
            let generated = format!("hsmcp-{}", uuid::Uuid::new_v4().simple());
            opts.token_hashes.push(hash_token(&generated));
            eprintln!("HTTP bearer token for this run (pass --http-token-sha256 to choose your own): {generated}");
        }
        let c2 = cancel.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            c2.cancel();
        });
        let extra = receiver.as_ref().map(|r| r.router());
        let sb = conn.sandbox.as_ref();
        let target = &config;
        hubspot_mcp::mcp::http::serve(server, opts, extra, cancel.clone(), |a| {
            println!("http://{a}/mcp");
            if let (Some(sb), true) = (sb, receiver.is_some()) {
                sandbox_webhooks_to(
                    sb,
                    target,
                    format!("http://{a}{}", hubspot_mcp::webhook::receiver::PATH),
                );
            }
        })
        .await
        .context("serving HTTP")?;
    }
    cancel.cancel();
    drop(conn);
    Ok(())
}

/// The sync database alone (safe to read while a server holds the index), or what to run
/// first when there is none.
fn open_sync_database(
    config: &Config,
    sandbox: bool,
) -> anyhow::Result<hubspot_mcp::sync::queue::Queue> {
    let path = sync_data_dir(config, sandbox).join("sync.sqlite");
    anyhow::ensure!(
        path.exists(),
        "no sync database at {}: run `hubspot-mcp sync --full` or `serve --sync` first",
        path.display()
    );
    Ok(hubspot_mcp::sync::queue::Queue::open(&path)?)
}

async fn run_sync(config: Config, args: SyncArgs) -> anyhow::Result<()> {
    if args.dead_letters {
        let q = open_sync_database(&config, args.connect.sandbox)?;
        let now = chrono::Utc::now().timestamp_millis();
        let out = if args.retry {
            serde_json::json!({"retried": q.retry_dead_letters()?})
        } else if args.drop {
            serde_json::json!({"dropped": q.drop_dead_letters(now)?})
        } else {
            serde_json::json!({"deadLetters": q.dead_letters(1_000)?})
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    if args.status {
        // Only the queue database: SQLite is safe to read while a server runs (the index is
        // held open by that server).
        let q = open_sync_database(&config, args.connect.sandbox)?;
        let now = chrono::Utc::now().timestamp_millis();
        let counts: std::collections::BTreeMap<String, u64> =
            q.record_counts()?.into_iter().collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "queue": q.depth(now)?,
                "deadLetters": q.dead_letters(20)?,
                "records": counts,
                "caughtUpMs": q.checkpoint("caught_up_ms")?,
                "lastReceivedMs": q.checkpoint("last_received_ms")?,
            }))?
        );
        return Ok(());
    }
    let conn = connect(&config, args.connect.sandbox).await?;
    let rt = open_sync(&config, &conn, args.connect.model_dir.clone()).await?;
    let engine = rt.engine.clone();
    if args.full {
        let started = std::time::Instant::now();
        let reports = hubspot_mcp::sync::backfill::full_sync(&engine, args.restart, true).await?;
        let m = engine.client().metrics();
        let indexed: usize = reports.iter().map(|r| r.indexed).sum();
        println!(
            "{}",
            serde_json::to_string(&serde_json::json!({
                "types": reports,
                "indexed": indexed,
                "seconds": started.elapsed().as_secs_f64(),
                "requests": m.requests,
            }))?
        );
    }
    if args.catch_up {
        let a = engine.catch_up_from_watermark().await?;
        println!("{}", serde_json::to_string(&a)?);
    }
    if let Some(addr) = args.listen {
        let cancel = tokio_util::sync::CancellationToken::new();
        let bound = serve_receiver(&rt.receiver, addr, cancel.clone()).await?;
        println!("http://{bound}{}", hubspot_mcp::webhook::receiver::PATH);
        if let Some(sb) = &conn.sandbox {
            sandbox_webhooks_to(
                sb,
                &config,
                format!("http://{bound}{}", hubspot_mcp::webhook::receiver::PATH),
            );
        }
        start_sync(&engine, false, cancel.clone());
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
        cancel.cancel();
    }
    if !args.full && !args.catch_up && args.listen.is_none() {
        anyhow::bail!(
            "nothing to do: pass --full, --catch-up, --listen ADDR, --status or --dead-letters"
        );
    }
    let store = engine.store().clone();
    tokio::task::spawn_blocking(move || store.flush()).await?;
    Ok(())
}

async fn run_search(config: Config, args: SearchArgs) -> anyhow::Result<()> {
    let mut sc = config.sync.clone();
    if args.model_dir.is_some() {
        sc.model_dir = args.model_dir.clone();
    }
    let embedder = hubspot_mcp::sync::open_embedder(&sc).await?;
    let store = hubspot_mcp::sync::open_store(
        &sc,
        &sync_data_dir(&config, args.sandbox),
        embedder.dimensions(),
    )
    .await?;
    let filter = hubspot_mcp::index::SearchFilter {
        object_types: args.object_types.clone(),
        ..Default::default()
    };
    let (query, k, ef) = (args.query.clone(), args.k, sc.engine.ef);
    let hits = tokio::task::spawn_blocking(move || {
        hubspot_mcp::sync::engine::search_index(&*embedder, &*store, &query, k, &filter, ef)
    })
    .await??;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&hits)?);
    } else {
        for h in hits {
            println!(
                "{:.3}  {:<20} {}\n       {}",
                h.score, h.record, h.payload.title, h.payload.snippet
            );
        }
    }
    Ok(())
}

/// The sync state of the configured portal, or of the sandbox's (in `sandbox/`).
fn sync_data_dir(config: &Config, sandbox: bool) -> PathBuf {
    if sandbox {
        config.data_dir.join("sandbox")
    } else {
        config.data_dir.clone()
    }
}

async fn run_reconcile(config: Config, args: ConnectArgs) -> anyhow::Result<()> {
    let conn = connect(&config, args.sandbox).await?;
    let rt = open_sync(&config, &conn, args.model_dir.clone()).await?;
    let reports = rt.engine.reconcile().await?;
    println!(
        "{:<12} {:>10} {:>10} {:>8} {:>8} {:>8} {:>9} {:>9}",
        "type", "hubspot", "index", "missing", "stale", "extra", "repaired", "requests"
    );
    for r in &reports {
        println!(
            "{:<12} {:>10} {:>10} {:>8} {:>8} {:>8} {:>9} {:>9}",
            r.object_type,
            r.in_hubspot,
            r.in_index,
            r.missing,
            r.stale,
            r.extra,
            r.repaired,
            r.requests
        );
    }
    let store = rt.engine.store().clone();
    tokio::task::spawn_blocking(move || store.flush()).await?;
    Ok(())
}

async fn run_duplicates(config: Config, args: DuplicatesArgs) -> anyhow::Result<()> {
    let path = sync_data_dir(&config, args.sandbox).join("sync.sqlite");
    anyhow::ensure!(
        path.exists(),
        "no sync database at {}: run `hubspot-mcp sync --full` first",
        path.display()
    );
    let q = hubspot_mcp::sync::queue::Queue::open(&path)?;
    let groups = q.duplicates(&args.field, args.object_type.as_deref(), args.limit)?;
    for (value, rows) in &groups {
        println!("{value}  ({} records)", rows.len());
        for r in rows {
            println!("    {:<20} {}", r.reference, r.title);
        }
    }
    println!("{} groups", groups.len());
    Ok(())
}

/// The OAuth client settings: from the configuration, or the sandbox's app when `sandbox` is set.
fn oauth_client(
    config: &Config,
    sandbox: Option<&str>,
) -> anyhow::Result<(OAuthClientConfig, String)> {
    if let Some(url) = sandbox {
        let app = &config.sandbox.oauth;
        let c = OAuthClientConfig {
            base_url: url.trim_end_matches('/').to_string(),
            client_id: app.client_id.clone(),
            client_secret: SecretString::from(app.client_secret.clone()),
            v1_fallback: config.hubspot.oauth_v1_fallback,
            refresh_margin_secs: 300,
        };
        return Ok((c, format!("{}/oauth/authorize", url.trim_end_matches('/'))));
    }
    let h = &config.hubspot;
    let client_id = h.client_id.clone().context(
        "hubspot.client_id is not set: add it to the config file or HUBSPOT_MCP_HUBSPOT__CLIENT_ID",
    )?;
    let client_secret = h
        .client_secret
        .clone()
        .context("hubspot.client_secret is not set: use HUBSPOT_MCP_HUBSPOT__CLIENT_SECRET")?;
    let c = OAuthClientConfig {
        base_url: h.client.base_url.clone(),
        client_id,
        client_secret,
        v1_fallback: h.oauth_v1_fallback,
        refresh_margin_secs: 300,
    };
    Ok((c, h.authorize_url.clone()))
}

async fn run_auth(config: Config, cmd: AuthCommand) -> anyhow::Result<()> {
    let http = hubspot_mcp::hubspot::client::default_http();
    let store = TokenStore::in_dir(&config.data_dir);
    match cmd {
        AuthCommand::Login { sandbox, timeout } => {
            let (client, authorize_url) = oauth_client(&config, sandbox.as_deref())?;
            let req = LoginRequest {
                authorize_url,
                scopes: config.hubspot.scopes.clone(),
                optional_scopes: config.hubspot.optional_scopes.clone(),
                client,
                timeout: std::time::Duration::from_secs(timeout),
            };
            let auto = sandbox.is_some();
            let tokens = login(&http, &req, |url| async move {
                if auto {
                    let _ = reqwest::get(&url).await;
                } else {
                    eprintln!("Open this URL in a browser and approve the app:\n\n  {url}\n");
                }
            })
            .await?;
            let refresh = tokens
                .refresh_token
                .clone()
                .context("HubSpot returned no refresh token")?;
            store.save(&StoredTokens {
                refresh_token: refresh,
            })?;
            println!("authorized: scopes {}", tokens.scopes.join(" "));
            println!(
                "refresh token stored encrypted in {}",
                store.path().display()
            );
            Ok(())
        }
        AuthCommand::Status { sandbox } => {
            let (client, _) = oauth_client(&config, sandbox.as_deref())?;
            let session = OAuthSession::resume(
                http,
                client,
                std::sync::Arc::new(hubspot_mcp::time::SystemClock),
                store,
            )
            .await?;
            let scopes = session.introspect().await?;
            println!("authorized: scopes {}", scopes.join(" "));
            Ok(())
        }
    }
}

async fn run_sandbox(config: Config, args: SandboxArgs) -> anyhow::Result<()> {
    let mut c = config.sandbox;
    if let Some(a) = args.addr {
        c.addr = a;
    }
    if let Some(s) = args.seed {
        c.seed = s;
    }
    if let Some(n) = args.records {
        c.records = RecordCounts::scaled(n);
    }
    if let Some(k) = args.app_kind {
        c.app_kind = k;
    }
    if let Some(e) = args.expires_in {
        c.oauth.expires_in_secs = e;
    }
    if let Some(l) = args.search_lag_ms {
        c.search_lag_ms = l;
    }
    if let Some(t) = args.account_type {
        c.account_type = t;
    }
    c.oauth.rotate_refresh_tokens |= args.rotate_refresh_tokens;
    c.retry_after |= args.retry_after;
    c.limits_enabled &= !args.no_limits;
    let given = args.token.is_some();
    if let Some(t) = args.token {
        c.static_tokens.insert(
            0,
            StaticToken {
                token: t,
                kind: TokenKind::PrivateApp,
                scopes: None,
            },
        );
    }
    if let Some(url) = args.webhook_url {
        c.webhooks = c.webhooks.subscribe_all();
        c.webhooks.target_url = Some(url);
    }
    let kind = c.app_kind;
    let (client_id, portal) = (c.oauth.client_id.clone(), c.portal_id);
    let sandbox = Sandbox::start(c).await.context("starting the sandbox")?;
    println!("{}", sandbox.base_url());
    if !given {
        // Printed once so that a script can probe the sandbox with curl; never logged.
        println!("token: {}", sandbox.token());
    }
    eprintln!(
        "sandbox: portal {portal}, app kind {kind:?} ({} requests / 10 s), OAuth client id {client_id}. Ctrl-C stops it.",
        kind.burst()
    );
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    sandbox.shutdown().await;
    Ok(())
}
