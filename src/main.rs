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
}

#[derive(Debug, clap::Args)]
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
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // HUBSPOT_MCP_SPAN_TIMINGS=1 logs every span's busy and idle time when it closes.
    let span_events = if std::env::var_os("HUBSPOT_MCP_SPAN_TIMINGS").is_some() {
        tracing_subscriber::fmt::format::FmtSpan::CLOSE
    } else {
        tracing_subscriber::fmt::format::FmtSpan::NONE
    };
    tracing_subscriber::fmt()
        .with_span_events(span_events)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
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

fn run_audit(config: &Config, cmd: AuditCommand) -> anyhow::Result<()> {
    let path = audit_path(config);
    match cmd {
        AuditCommand::Verify => {
            let report = hubspot_mcp::audit::verify(&path);
            match report.problem {
                None => {
                    println!(
                        "ok: {} entries, chain intact ({})",
                        report.entries,
                        path.display()
                    );
                    Ok(())
                }
                Some(p) => anyhow::bail!("audit log {} fails verification: {p}", path.display()),
            }
        }
        AuditCommand::Tail { count } => {
            let entries = hubspot_mcp::audit::read_all(&path)?;
            for e in entries.iter().skip(entries.len().saturating_sub(count)) {
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

async fn run_serve(config: Config, args: ServeArgs) -> anyhow::Result<()> {
    if !args.stdio && args.http.is_none() {
        anyhow::bail!("choose a transport: --stdio, or --http 127.0.0.1:8765");
    }
    let mut settings = config.hubspot.client.clone();
    if settings.data_dir.is_none() {
        settings.data_dir = Some(config.data_dir.clone());
    }
    let mut sandbox = None;
    let creds = if args.sandbox {
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
        sandbox = Some(sb);
        Credentials::Static(token)
    } else if let Some(t) = config.hubspot.token.clone() {
        Credentials::Static(t)
    } else {
        let (oauth, _) = oauth_client(&config, None)?;
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
    // Values the audit log must never contain, wherever they appear.
    let mut secrets: Vec<String> = Vec::new();
    if let Credentials::Static(t) = &creds {
        secrets.push(secrecy::ExposeSecret::expose_secret(t).to_string());
    }
    if let Some(t) = &args.http_token {
        secrets.push(t.clone());
    }
    secrets.push(config.sandbox.oauth.client_secret.clone());
    if let Some(cs) = &config.hubspot.client_secret {
        secrets.push(secrecy::ExposeSecret::expose_secret(cs).to_string());
    }
    let client = HubSpotClient::builder(settings, creds).build();
    let _refresher = client.spawn_metadata_refresher();
    let mut handoff = config.handoff.clone();
    handoff.enabled |= args
        .toolsets
        .contains(&hubspot_mcp::mcp::Toolset::Governance);
    let options = ToolOptions {
        handoff,
        toolsets: args.toolsets.clone(),
        read_only: args.read_only,
        granted_scopes: granted,
    };
    let mut server = HubSpotMcp::new(client, &options);
    if config.audit.enabled {
        let path = audit_path(&config);
        let redactor = hubspot_mcp::audit::Redactor::new(secrets, config.audit.redact_pii);
        let log = hubspot_mcp::audit::AuditLog::open(&path, redactor, config.audit.sync)?;
        tracing::info!(path = %path.display(), "auditing every tool call and prompt fetch");
        server = server.with_audit(std::sync::Arc::new(log), config.audit.fail_closed);
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
        let cancel = tokio_util::sync::CancellationToken::new();
        let c2 = cancel.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            c2.cancel();
        });
        hubspot_mcp::mcp::http::serve(server, opts, cancel, |a| println!("http://{a}/mcp"))
            .await
            .context("serving HTTP")?;
    }
    drop(sandbox);
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
