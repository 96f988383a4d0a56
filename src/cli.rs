//! The command line: every subcommand and flag, parsed by clap. `main.rs` dispatches them to
//! the application layer (`hubspot_mcp::app`).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
#[cfg(feature = "sandbox")]
use hubspot_sandbox::cli::SandboxArgs;

/// HubSpot CRM as safe, rate-aware agent tools.
#[derive(Debug, Parser)]
#[command(name = "hubspot-mcp", version, about)]
pub struct Cli {
    /// A TOML configuration file (see docs/configuration.md).
    #[arg(long, global = true, env = "HUBSPOT_MCP_CONFIG")]
    pub config: Option<PathBuf>,
    /// Test mode: the production guard refuses writes unless the portal is a developer test
    /// account or a sandbox.
    #[arg(long, global = true)]
    pub test_mode: bool,
    /// Where indexes, queues, tokens and the audit log live (default: the platform's per-user
    /// data directory, e.g. ~/.local/share/hubspot-mcp; `hubspot-mcp paths` prints it).
    #[arg(long, global = true, env = "HUBSPOT_MCP_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the local HubSpot-compatible sandbox until Ctrl-C (as `hubspot-sandbox` does).
    #[cfg(feature = "sandbox")]
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
    /// Knowledge articles in the semantic index: add Markdown, HTML and text files, list,
    /// remove.
    #[command(subcommand)]
    Knowledge(KnowledgeCommand),
    /// Every record of a type to JSON Lines or CSV (Search API, background lane, resumable).
    Export(ExportArgs),
    /// Where this installation keeps its data: the data directory, the sandbox's index, the
    /// audit log, the HTTP token file, and the binary itself.
    Paths,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Read the in-process sandbox instead of HubSpot.
    #[arg(long)]
    pub sandbox: bool,
    /// The object type: contacts, companies, deals, tickets, or a custom type's id.
    pub object_type: String,
    /// The file to write (a state file beside it makes the export resumable).
    #[arg(long, short)]
    pub out: PathBuf,
    /// jsonl or csv.
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: hubspot_mcp::export::Format,
    /// Properties to export, comma-separated; default: every property of the type.
    #[arg(long, value_delimiter = ',')]
    pub properties: Vec<String>,
    /// `property:OPERATOR[:value]`, e.g. `lifecyclestage:EQ:customer`; repeatable (all hold).
    #[arg(long = "filter")]
    pub filters: Vec<String>,
    /// Forget an unfinished export into this file and start over.
    #[arg(long)]
    pub restart: bool,
}

/// Where HubSpot is, for the commands that read it.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectArgs {
    /// Start an in-process sandbox with seeded data and read it instead of HubSpot.
    #[arg(long)]
    pub sandbox: bool,
    /// The embedding model directory (air-gapped installs); default: the provisioned cache.
    #[arg(long, env = "HUBSPOT_MCP_MODEL_DIR")]
    pub model_dir: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Read every configured object type (resumes from its checkpoint after a crash).
    #[arg(long)]
    pub full: bool,
    /// With --full: forget the checkpoints and start over.
    #[arg(long)]
    pub restart: bool,
    /// Receive webhooks on this address and run the workers until Ctrl-C.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Print queue depth and age, index size and checkpoints as JSON.
    #[arg(long)]
    pub status: bool,
    /// Re-read records changed since the last event seen (downtime catch-up).
    #[arg(long)]
    pub catch_up: bool,
    /// List the events that failed for good (poison records), with their last error, as JSON.
    #[arg(long)]
    pub dead_letters: bool,
    /// With --dead-letters: put them all back in the queue, failures reset.
    #[arg(long, requires = "dead_letters", conflicts_with = "drop")]
    pub retry: bool,
    /// With --dead-letters: discard them all (a redelivery of the same event is dropped too).
    #[arg(long, requires = "dead_letters")]
    pub drop: bool,
}

#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// The index `serve --sandbox --sync` (or `sync --sandbox`) built, in `<data_dir>/sandbox`.
    #[arg(long)]
    pub sandbox: bool,
    /// What to look for.
    pub query: String,
    /// How many results.
    #[arg(short, long, default_value_t = 10)]
    pub k: usize,
    /// Only this object type; repeatable.
    #[arg(long = "type")]
    pub object_types: Vec<String>,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
    /// The embedding model directory.
    #[arg(long, env = "HUBSPOT_MCP_MODEL_DIR")]
    pub model_dir: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct DuplicatesArgs {
    /// The index `serve --sandbox --sync` (or `sync --sandbox`) built, in `<data_dir>/sandbox`.
    #[arg(long)]
    pub sandbox: bool,
    /// email, domain or phone.
    #[arg(long, default_value = "email")]
    pub field: String,
    /// Only this object type.
    #[arg(long = "type")]
    pub object_type: Option<String>,
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

#[derive(Debug, Subcommand)]
pub enum KnowledgeCommand {
    /// Adds (or replaces) articles from files and directories: Markdown, HTML, plain text.
    /// Unchanged articles are not embedded again; adding a directory again also removes the
    /// articles of files gone from it.
    Add {
        /// Files or directories (searched recursively).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        at: KnowledgeAt,
    },
    /// The articles in the index.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        at: KnowledgeAt,
    },
    /// Removes articles by id (from `list`) or by file path.
    Remove {
        #[arg(required = true)]
        which: Vec<String>,
        #[command(flatten)]
        at: KnowledgeAt,
    },
}

/// Which index the knowledge commands work on.
#[derive(Debug, clap::Args)]
pub struct KnowledgeAt {
    /// The index `serve --sandbox --sync` uses, in `<data_dir>/sandbox`.
    #[arg(long)]
    pub sandbox: bool,
    /// The embedding model directory.
    #[arg(long, env = "HUBSPOT_MCP_MODEL_DIR")]
    pub model_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
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
    /// Checks the signed chain from its start (entry 1 or a signed anchor) to its head
    /// checkpoint; exits non-zero at the first edited, removed, reordered or forged entry.
    Verify,
    /// Adds a new signing key and makes it current (refused while a server writes the log).
    RotateKey,
    /// Removes entries older than the retention (the chain stays verifiable through a signed
    /// anchor). Refused while a server writes the log; `serve` prunes when it starts.
    Prune {
        /// Days to keep (default: audit.retention_days).
        #[arg(long)]
        older_than_days: Option<u32>,
    },
}

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Serve over stdin/stdout (for Claude Desktop, Cursor, VS Code).
    #[arg(long, conflicts_with = "http")]
    pub stdio: bool,
    /// Serve streamable HTTP at /mcp on this address (for example 127.0.0.1:8765).
    #[arg(long)]
    pub http: Option<SocketAddr>,
    /// Start an in-process sandbox with seeded data and point the client at it.
    #[arg(long)]
    pub sandbox: bool,
    /// Offer only these toolsets.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub toolsets: Vec<hubspot_mcp::mcp::Toolset>,
    /// Offer no write tools.
    #[arg(long)]
    pub read_only: bool,
    /// SHA-256 (hex) of a bearer token HTTP callers may present; repeatable.
    #[arg(long = "http-token-sha256")]
    pub http_token_sha256: Vec<String>,
    /// A bearer token in plain text, hashed at start (prefer the hash).
    #[arg(long, env = "HUBSPOT_MCP_HTTP_TOKEN", hide_env_values = true)]
    pub http_token: Option<String>,
    /// Serve HTTP without authentication (loopback addresses only).
    #[arg(long)]
    pub no_auth: bool,
    /// Replace the generated bearer token kept in `<data_dir>/http-token` with a new one.
    #[arg(long)]
    pub new_token: bool,
    /// A Host (or host:port) the HTTP endpoint answers to, beyond loopback; repeatable.
    #[arg(long = "allowed-host")]
    pub allowed_hosts: Vec<String>,
    /// A browser Origin allowed to call the HTTP endpoint; repeatable.
    #[arg(long = "allowed-origin")]
    pub allowed_origins: Vec<String>,
    /// Keep sessions (SSE) instead of the stateless JSON mode.
    #[arg(long)]
    pub stateful: bool,
    /// Run sync too: receive webhooks, keep the semantic index fresh, offer semantic_search.
    #[arg(long)]
    pub sync: bool,
    /// The embedding model directory (air-gapped installs); default: the provisioned cache.
    #[arg(long, env = "HUBSPOT_MCP_MODEL_DIR")]
    pub model_dir: Option<PathBuf>,
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
            .field("new_token", &self.new_token)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("allowed_origins", &self.allowed_origins)
            .field("stateful", &self.stateful)
            .field("sync", &self.sync)
            .field("model_dir", &self.model_dir)
            .finish()
    }
}

#[derive(Debug, Subcommand)]
pub enum SchemasCommand {
    /// Write every tool's definition (input and output schemas, annotations) to DIR.
    Export {
        #[arg(long, default_value = "schemas")]
        dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
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
