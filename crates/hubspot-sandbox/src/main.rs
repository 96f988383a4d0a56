//! `hubspot-sandbox`: a strict local HubSpot on a port, for anyone's integration tests.

use std::path::PathBuf;

use clap::Parser;
use hubspot_sandbox::cli::{run, SandboxArgs};
use hubspot_sandbox::SandboxConfig;

/// A strict local HubSpot: HubSpot's limits, 429 bodies, OAuth, signed webhooks, faults and a
/// seeded portal. Prints its URL (and token) on stdout; Ctrl-C or SIGTERM stops it.
#[derive(Debug, Parser)]
#[command(name = "hubspot-sandbox", version)]
struct Cli {
    /// A TOML file whose `[sandbox]` table sets the defaults (the same file hubspot-mcp reads).
    #[arg(long, env = "HUBSPOT_MCP_CONFIG")]
    config: Option<PathBuf>,
    #[command(flatten)]
    args: SandboxArgs,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match SandboxConfig::load(cli.config.as_deref()) {
        Ok(config) => run(config, cli.args).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
