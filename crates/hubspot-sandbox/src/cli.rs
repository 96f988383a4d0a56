//! The command line of the sandbox, shared by the `hubspot-sandbox` binary and
//! `hubspot-mcp sandbox`: flags over [`SandboxConfig`], then run until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;

use crate::oauth::{StaticToken, TokenKind};
use crate::seed::RecordCounts;
use crate::{AppKind, Sandbox, SandboxConfig};

/// Flags that override the `[sandbox]` table of the configuration.
#[derive(Debug, Default, clap::Args)]
pub struct SandboxArgs {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long)]
    pub addr: Option<SocketAddr>,
    /// Seed of the generated data (the same seed gives the same portal).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Number of contacts; other types scale with it (default 5000: 1000 companies, 2000 deals, 3000 tickets).
    #[arg(long)]
    pub records: Option<usize>,
    /// The kind of app whose limits to enforce.
    #[arg(long, value_enum)]
    pub app_kind: Option<AppKind>,
    /// Accept this private-app token (otherwise one is generated and printed).
    #[arg(long, env = "HUBSPOT_MCP_SANDBOX_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// OAuth access-token lifetime in seconds.
    #[arg(long)]
    pub expires_in: Option<i64>,
    /// Rotate refresh tokens on every refresh.
    #[arg(long)]
    pub rotate_refresh_tokens: bool,
    /// Milliseconds before a write is visible to search.
    #[arg(long)]
    pub search_lag_ms: Option<i64>,
    /// Send Retry-After on 429s.
    #[arg(long)]
    pub retry_after: bool,
    /// Turn every rate limit off.
    #[arg(long)]
    pub no_limits: bool,
    /// `accountType` reported by /account-info/v3/details.
    #[arg(long)]
    pub account_type: Option<String>,
    /// Deliver webhooks for every change to this URL.
    #[arg(long)]
    pub webhook_url: Option<String>,
}

impl SandboxConfig {
    /// Defaults, then the `[sandbox]` table of `file` (if given; it must exist), then
    /// `HUBSPOT_MCP_SANDBOX__*` variables: the same file and variables `hubspot-mcp` reads.
    ///
    /// # Errors
    /// A message naming the key that failed, or a missing file.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut fig = Figment::from(Serialized::default("sandbox", SandboxConfig::default()));
        if let Some(path) = file {
            anyhow::ensure!(
                path.exists(),
                "config file {} does not exist",
                path.display()
            );
            fig = fig.merge(Toml::file(path));
        }
        fig = fig.merge(Env::prefixed("HUBSPOT_MCP_").split("__"));
        fig.extract_inner("sandbox")
            .map_err(|e| anyhow::anyhow!("invalid sandbox configuration: {e}"))
    }

    /// These settings with the command line's overrides applied.
    pub fn with_args(mut self, args: SandboxArgs) -> Self {
        let c = &mut self;
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
            c.webhooks = c.webhooks.clone().subscribe_all();
            c.webhooks.target_url = Some(url);
        }
        self
    }
}

/// Starts the sandbox, prints its URL (and, unless one was given, its token) on stdout, and
/// serves until Ctrl-C or SIGTERM, then drains its connections.
///
/// # Errors
/// The address is taken, or the configuration is invalid.
pub async fn run(config: SandboxConfig, args: SandboxArgs) -> anyhow::Result<()> {
    let given = args.token.is_some();
    let c = config.with_args(args);
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
    shutdown_signal().await;
    sandbox.shutdown().await;
    Ok(())
}

/// Resolves on Ctrl-C or (on Unix) SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sandbox_table_then_environment_override_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "hubspot-mcp.toml",
                "data_dir = \"/tmp/x\"\n[sandbox]\nseed = 7\napp_kind = \"public\"\n",
            )?;
            jail.set_env("HUBSPOT_MCP_SANDBOX__SEED", "9");
            let c = SandboxConfig::load(Some(Path::new("hubspot-mcp.toml")))
                .map_err(|e| e.to_string())?;
            assert_eq!(c.seed, 9);
            assert_eq!(c.app_kind, AppKind::Public);
            assert_eq!(c.search.max_page_size, 200);
            let flagged = c.with_args(SandboxArgs {
                seed: Some(11),
                no_limits: true,
                ..SandboxArgs::default()
            });
            assert_eq!(flagged.seed, 11);
            assert!(!flagged.limits_enabled);
            Ok(())
        });
    }

    #[test]
    fn a_missing_file_is_a_clear_error() {
        let e = SandboxConfig::load(Some(Path::new("/nonexistent/x.toml"))).unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
    }
}
