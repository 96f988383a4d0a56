//! The `hubspot-mcp` command line: parse, set up tracing, call the application layer, print.
//!
//! Wiring and lifecycle (credentials, sync, listeners, shutdown) live in `hubspot_mcp::app`,
//! which the tests drive too; this file only turns flags into calls and results into text.

mod cli;

use std::net::SocketAddr;

use anyhow::Context;
use clap::Parser;
use hubspot_mcp::app::{self, App, Portal, SyncOverrides};
use hubspot_mcp::config::Config;
use hubspot_mcp::mcp::http::{hash_token, parse_hash, HttpOptions};
use hubspot_mcp::mcp::{HubSpotMcp, ToolOptions, Toolset};
use hubspot_mcp::sync::seams::{EventQueue, RecordState};
use std::sync::Arc;

use cli::{
    AuditCommand, AuthCommand, Cli, Command, ConnectArgs, KnowledgeCommand, SchemasCommand,
    ServeArgs,
};

#[tokio::main]
async fn main() {
    let code = match run().await {
        Ok(()) => 0,
        Err(e) => {
            // The chain of causes and what to do, never a stack backtrace: these are
            // expected failures (a locked index, a missing model), reported to a person.
            eprintln!("error: {e:#}");
            1
        }
    };
    // Everything that must finish has (App::shutdown drained it). Exit now rather than let
    // the runtime wait for a blocking stdin read that can never be cancelled (stdio mode).
    std::process::exit(code);
}

/// The tracing filter: `RUST_LOG`, or info. rmcp's logs are held at info whatever `RUST_LOG`
/// says: at debug and trace they print tool arguments and CRM records whole.
fn log_filter() -> tracing_subscriber::EnvFilter {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,qdrant_edge=error".into());
    // All of rmcp, not only its service module: its streamable-HTTP transport logs whole
    // messages (tool results: CRM records, emails) at trace.
    match "rmcp=info".parse() {
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
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(dir) = &cli.data_dir {
        config.data_dir = dir.clone();
    }
    prepare_data_dir(&config.data_dir, cli.data_dir.is_some());
    if cli.test_mode {
        config.hubspot.client.production_guard = true;
    }
    let file = cli.config.as_deref();
    match cli.command {
        #[cfg(feature = "sandbox")]
        Command::Sandbox(args) => {
            hubspot_sandbox::cli::run(hubspot_sandbox::SandboxConfig::load(file)?, args).await
        }
        Command::Auth(cmd) => run_auth(config, file, cmd).await,
        Command::Serve(args) => run_serve(config, file, args).await,
        Command::Audit(cmd) => run_audit(&config, cmd),
        Command::Sync(args) => run_sync(config, file, args).await,
        Command::Search(args) => {
            let dir = app::sync_data_dir(&config, args.sandbox);
            let offline = hubspot_mcp::sync::search_offline(
                &config.sync,
                &dir,
                args.model_dir.clone(),
                &args.query,
                args.k,
                args.object_types.clone(),
            )
            .await;
            let hits = match offline {
                Ok(hits) => hits,
                // A server holds the index: ask it (the same index, read while it writes).
                Err(e) if is_busy(e.as_ref()) => {
                    search_through_server(&config, &dir, &args).await?
                }
                Err(e) => return Err(e),
            };
            if args.json {
                println!("{}", serde_json::to_string_pretty(&hits)?);
            }
            for h in hits.iter().filter(|_| !args.json) {
                println!(
                    "{:.3}  {:<20} {}\n       {}",
                    h.score, h.record, h.payload.title, h.payload.snippet
                );
            }
            Ok(())
        }
        Command::Reconcile(args) => run_reconcile(config, file, args).await,
        Command::Export(args) => run_export(config, file, args).await,
        Command::Knowledge(cmd) => run_knowledge(&config, cmd).await,
        Command::Duplicates(args) => {
            let (_, state) = open_sync_database(&config, args.sandbox).await?;
            let groups = state
                .duplicates(&args.field, args.object_type.as_deref(), args.limit)
                .await?;
            for (value, rows) in &groups {
                println!("{value}  ({} records)", rows.len());
                for r in rows {
                    println!("    {:<20} {}", r.reference, r.title);
                }
            }
            println!("{} groups", groups.len());
            Ok(())
        }
        Command::Paths => {
            let exe = std::env::current_exe().map(|p| p.display().to_string());
            println!("data directory  {}", config.data_dir.display());
            println!(
                "sandbox index   {}",
                app::sync_data_dir(&config, true).display()
            );
            println!(
                "hubspot index   {}",
                app::sync_data_dir(&config, false).display()
            );
            println!("audit log       {}", app::audit_path(&config).display());
            println!("http token      {}", http_token_path(&config).display());
            println!(
                "binary          {}",
                exe.unwrap_or_else(|e| format!("unknown ({e})"))
            );
            Ok(())
        }
        Command::Schemas(SchemasCommand::Export { dir }) => {
            let server = HubSpotMcp::offline(config.hubspot.client.clone());
            for path in hubspot_mcp::mcp::schemas::export(&server, &dir)? {
                println!("{path}");
            }
            Ok(())
        }
    }
}

/// Did this fail because another process holds the embedded index?
fn is_busy(e: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(e), |e| e.source()).any(|e| {
        matches!(
            e.downcast_ref::<hubspot_mcp::index::IndexError>(),
            Some(hubspot_mcp::index::IndexError::Busy { .. })
        )
    })
}

/// `search` while a server holds the index: its `semantic_search` tool answers.
async fn search_through_server(
    config: &Config,
    dir: &std::path::Path,
    args: &cli::SearchArgs,
) -> anyhow::Result<Vec<hubspot_mcp::index::Hit>> {
    use app::running::{client_token, RunningServer};
    let server = RunningServer::find(dir).await.with_context(|| {
        format!(
            "the index in {} is held by a server that does not serve HTTP (a stdio server, or `sync --listen`): ask it through its client, or stop it first",
            dir.display()
        )
    })?;
    eprintln!(
        "the index is held by the server at {} (pid {}); asking it",
        server.url, server.pid
    );
    let mut arguments = serde_json::json!({"query": args.query, "k": args.k});
    if !args.object_types.is_empty() {
        arguments["objectTypes"] = serde_json::json!(args.object_types);
    }
    let result = server
        .call_tool(
            client_token(&config.data_dir).as_deref(),
            "semantic_search",
            arguments,
        )
        .await?;
    let text = result["content"][0]["text"].as_str().unwrap_or_default();
    if result["isError"] == true {
        anyhow::bail!("{text}");
    }
    let out = &result["structuredContent"];
    if let Some(note) = out["note"].as_str() {
        eprintln!("note: {note}");
    }
    Ok(out["results"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|h| hubspot_mcp::index::Hit {
            record: format!(
                "{}/{}",
                h["objectType"].as_str().unwrap_or_default(),
                h["id"].as_str().unwrap_or_default()
            ),
            score: h["score"].as_f64().unwrap_or_default() as f32,
            payload: hubspot_mcp::index::Payload {
                object_type: h["objectType"].as_str().unwrap_or_default().into(),
                record_id: h["id"].as_str().unwrap_or_default().into(),
                title: h["title"].as_str().unwrap_or_default().into(),
                snippet: h["snippet"].as_str().unwrap_or_default().into(),
                ..Default::default()
            },
            chunk: 0,
        })
        .collect())
}

/// The portal a `--sandbox` flag chooses.
fn portal(sandbox: bool, file: Option<&std::path::Path>) -> anyhow::Result<Portal> {
    if !sandbox {
        return Ok(Portal::HubSpot);
    }
    #[cfg(feature = "sandbox")]
    return Portal::sandbox_from(file);
    #[cfg(not(feature = "sandbox"))]
    {
        let _ = file;
        anyhow::bail!("this build has no sandbox (built without the `sandbox` feature)")
    }
}

fn run_audit(config: &Config, cmd: AuditCommand) -> anyhow::Result<()> {
    let path = app::audit_path(config);
    let files = hubspot_mcp::audit::LogFiles::new(&path, &config.audit);
    match cmd {
        AuditCommand::Verify => {
            let report = hubspot_mcp::audit::verify(&files, &config.audit);
            for n in &report.notes {
                eprintln!("note: {n}");
            }
            if let Some(p) = report.problem {
                anyhow::bail!("audit log {} fails verification: {p}", path.display());
            }
            println!(
                "ok: {} entries, chain intact, signed, and reaching its head checkpoint ({})",
                report.entries,
                path.display()
            );
        }
        AuditCommand::Prune { older_than_days } => {
            let days = older_than_days
                .or(config.audit.retention_days)
                .context("no retention: pass --older-than-days N or set audit.retention_days")?;
            let cutoff = app::retention_cutoff(days);
            let n = hubspot_mcp::audit::prune(&files, &config.audit, &cutoff)?;
            println!(
                "pruned {n} entries recorded before {cutoff} ({})",
                path.display()
            );
        }
        AuditCommand::RotateKey => {
            let id = hubspot_mcp::audit::rotate_key(&files, &config.audit)?;
            println!(
                "new audit key {id} in {}: entries from now on are signed with it; the old keys stay to verify older entries",
                files.keys.display()
            );
        }
        AuditCommand::Tail { count } => {
            // Every field is shown escaped: a tool name or argument cannot move the cursor,
            // clear the screen or print a forged line.
            let shown = |s: &str| for_terminal(&s.escape_debug().to_string());
            for e in &hubspot_mcp::audit::read_tail(&path, count)? {
                println!(
                    "{:>6} {} {:<11} {:<20} {:>8.1} ms  {:<16} {}",
                    e.seq,
                    shown(&e.at),
                    shown(&e.draft.kind),
                    shown(e.draft.tool.as_deref().unwrap_or("-")),
                    e.draft.latency_us as f64 / 1000.0,
                    shown(e.draft.client.as_deref().unwrap_or("-")),
                    shown(&e.draft.outcome.chars().take(80).collect::<String>())
                );
            }
        }
        AuditCommand::Show { seq } => {
            let entries = hubspot_mcp::audit::read_all(&path)?;
            let e = entries
                .iter()
                .find(|e| e.seq == seq)
                .with_context(|| format!("no entry {seq} in {}", path.display()))?;
            // JSON escapes C0 control characters; C1 and bidirectional controls are escaped
            // too, so an entry cannot rewrite what the terminal shows.
            println!("{}", for_terminal(&serde_json::to_string_pretty(e)?));
        }
        AuditCommand::Export { .. } => {
            for e in hubspot_mcp::audit::read_all(&path)? {
                println!("{}", serde_json::to_string(&e)?);
            }
        }
    }
    Ok(())
}

/// Escapes what a terminal would act on beyond C0 controls: C1 controls (U+0080..U+009F, such
/// as CSI) and the bidirectional overrides and isolates that reorder what is shown.
fn for_terminal(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{80}'..='\u{9f}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}' => {
                format!("\\u{{{:x}}}", c as u32)
            }
            c => c.to_string(),
        })
        .collect()
}

/// Creates the data directory owner-only when it does not exist yet, and points at the data
/// an older version kept in `./.hubspot-mcp` (OAuth tokens, the audit chain, the index).
fn prepare_data_dir(dir: &std::path::Path, chosen: bool) {
    if !dir.exists() {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        if let Err(e) = b.create(dir) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot create the data directory");
        }
    }
    let legacy = std::path::Path::new(".hubspot-mcp");
    if !chosen && legacy.is_dir() && dir != legacy {
        tracing::warn!(
            legacy = %legacy.display(),
            data_dir = %dir.display(),
            "data from an older version is in ./.hubspot-mcp; this version uses the per-user data directory: move it there, or pass --data-dir .hubspot-mcp"
        );
    }
}

/// Where a generated HTTP bearer token is kept across restarts.
fn http_token_path(config: &Config) -> std::path::PathBuf {
    config.data_dir.join("http-token")
}

/// The generated bearer token: the one kept in `path` (owner-only), or a new one written
/// there (first start, or `--new-token`); `true` when it is new. A token file that is a
/// symbolic link or readable by others is refused rather than trusted.
fn kept_token(path: &std::path::Path, renew: bool) -> anyhow::Result<(String, bool)> {
    if !renew {
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => anyhow::bail!(
                "{} is a symbolic link; remove it (the token file is the server's own)",
                path.display()
            ),
            #[cfg(unix)]
            Ok(m) if std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o077 != 0 => {
                anyhow::bail!(
                    "{} is readable by other users; remove it (or pass --new-token) so a new one is written owner-only",
                    path.display()
                )
            }
            Ok(_) => match std::fs::read_to_string(path) {
                Ok(t) if t.trim().len() >= 32 => return Ok((t.trim().to_string(), false)),
                Ok(_) => {}
                Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
    let token = format!("hsmcp-{}", uuid::Uuid::new_v4().simple());
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
    {
        use std::io::Write;
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        let mut f = o
            .open(&tmp)
            .with_context(|| format!("writing {}", tmp.display()))?;
        f.write_all(token.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok((token, true))
}

/// The HTTP endpoint's options from the flags; prints a generated token when none was given.
fn http_options(
    addr: SocketAddr,
    args: &ServeArgs,
    config: &Config,
) -> anyhow::Result<HttpOptions> {
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
        let path = http_token_path(config);
        let (token, new) = kept_token(&path, args.new_token)?;
        opts.token_hashes.push(hash_token(&token));
        // Printed once, when made; after that it is only named (logs keep what they are given).
        if new {
            eprintln!(
                "HTTP bearer token (new; kept in {} across restarts, --new-token replaces it, --http-token-sha256 chooses your own): {token}",
                path.display()
            );
        } else {
            eprintln!(
                "HTTP bearer token: the one kept in {} (--new-token replaces it)",
                path.display()
            );
        }
    }
    Ok(opts)
}

async fn run_serve(
    config: Config,
    file: Option<&std::path::Path>,
    args: ServeArgs,
) -> anyhow::Result<()> {
    if !args.stdio && args.http.is_none() {
        anyhow::bail!("choose a transport: --stdio, or --http 127.0.0.1:8765");
    }
    let sync = args.sync || config.sync.enabled;
    let listen = config.sync.webhooks.listen;
    let mut handoff = config.handoff.clone();
    handoff.enabled |= args.toolsets.contains(&Toolset::Governance);
    let options = ToolOptions {
        handoff,
        toolsets: args.toolsets.clone(),
        read_only: args.read_only,
        granted_scopes: None,
    };
    options.handoff.validate().map_err(|e| anyhow::anyhow!(e))?;
    let http = match args.http {
        Some(addr) if !args.stdio => Some(http_options(addr, &args, &config)?),
        _ => None,
    };
    // A desktop client's stdio server beside a running HTTP server of the same data directory
    // shares it (one index, one audit log, one portal) instead of failing on their locks.
    if args.stdio {
        let dir = app::sync_data_dir(&config, args.sandbox);
        if let Some(server) = app::running::RunningServer::find(&dir).await {
            // What this invocation would restrict, the running server would not.
            if args.read_only || !args.toolsets.is_empty() || file.is_some() {
                anyhow::bail!(
                    "a server already serves {} ({}, pid {}), and --read-only, --toolsets or --config cannot be applied through it: give this client its own --data-dir, or start that server with the same options",
                    dir.display(),
                    server.url,
                    server.pid
                );
            }
            tracing::info!(url = %server.url, pid = server.pid, "a server already serves this data directory: bridging stdio to it");
            let token = app::running::client_token(&config.data_dir);
            return server.bridge_stdio(token).await;
        }
    }
    // Made before connecting (which can take seconds): from here a SIGTERM or Ctrl-C is
    // recorded, not fatal, and ends the server cleanly once it runs.
    let stop = app::shutdown_signal();
    let mut app = App::connect(config, portal(args.sandbox, file)?).await?;
    let result = async {
        app.check_handoff(&options.handoff).await?;
        if sync {
            app.open_sync(SyncOverrides {
                model_dir: args.model_dir.clone(),
                ..Default::default()
            })
            .await?;
            // An empty or partly filled index is backfilled in the background, resumably.
            app.start_sync(true);
            if args.stdio || listen.is_some() {
                let addr = listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
                app.serve_webhooks(addr).await?;
            }
        }
        let extra: Vec<String> = args.http_token.iter().cloned().collect();
        let server = app.mcp_server(&options, &extra)?;
        if args.stdio {
            app.serve_stdio(server, stop).await
        } else if let Some(opts) = http {
            let bound = app.serve_http(server, opts).await?;
            println!("http://{bound}/mcp");
            app.until_shutdown(stop).await
        } else {
            Ok(())
        }
    }
    .await;
    app.shutdown().await;
    result
}

/// The queue and record state alone (safe to read while a server holds the index): Redis when
/// `[sync.shared]` names it, else the sync database, or what to run first when there is none.
/// `hubspot-mcp knowledge add|list|remove`: the index on disk (or the Qdrant server), the
/// record state that catalogues the articles, and the model (only to add).
async fn run_knowledge(config: &Config, cmd: KnowledgeCommand) -> anyhow::Result<()> {
    use hubspot_mcp::knowledge::KnowledgeBase;
    let at = match &cmd {
        KnowledgeCommand::Add { at, .. }
        | KnowledgeCommand::List { at, .. }
        | KnowledgeCommand::Remove { at, .. } => at,
    };
    let dir = app::sync_data_dir(config, at.sandbox);
    let kb = KnowledgeBase::open(&config.sync, &dir, at.model_dir.clone()).await?;
    match cmd {
        KnowledgeCommand::Add { paths, .. } => {
            let r = kb.add_paths(&paths).await?;
            println!(
                "{} added, {} replaced, {} unchanged, {} removed (files gone); {} chunks embedded",
                r.added, r.replaced, r.unchanged, r.removed, r.chunks_embedded
            );
        }
        KnowledgeCommand::List { json, .. } => {
            let entries = kb.list().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&entries)?);
            } else {
                for e in &entries {
                    println!(
                        "{}  {:>3} chunks  {}\n    {}",
                        e.id, e.chunks, e.title, e.source
                    );
                }
                println!("{} articles", entries.len());
            }
        }
        KnowledgeCommand::Remove { which, .. } => {
            let gone = kb.remove(&which).await?;
            for e in &gone {
                println!("removed {}  {}", e.id, e.title);
            }
            let missing: Vec<&String> = which
                .iter()
                .filter(|w| !gone.iter().any(|e| e.id == **w || e.source == **w))
                .collect();
            anyhow::ensure!(
                missing.is_empty(),
                "no article has the id or source {missing:?}; `hubspot-mcp knowledge list` shows them"
            );
        }
    }
    Ok(())
}

async fn open_sync_database(
    config: &Config,
    sandbox: bool,
) -> anyhow::Result<(Arc<dyn EventQueue>, Arc<dyn RecordState>)> {
    let dir = app::sync_data_dir(config, sandbox);
    if config.sync.shared.redis_url.is_none() {
        let path = dir.join("sync.sqlite");
        anyhow::ensure!(
            path.exists(),
            "no sync database at {}: run `hubspot-mcp sync --full` or `serve --sync` first",
            path.display()
        );
    }
    hubspot_mcp::sync::open_state(&config.sync, &dir).await
}

/// Where the HubSpot budget is kept, as `sync --status` reports it: in-process, or shared
/// through Redis (with the processes sharing it), or Redis unreachable and what each process
/// then runs on.
async fn governor_status(config: &Config) -> serde_json::Value {
    use hubspot_mcp::hubspot::limit::{redacted_url, RedisGovernor};
    let Some(url) = &config.governor.redis_url else {
        return serde_json::json!({"mode": "local", "note": "one budget per process: set [governor] redis_url to share it"});
    };
    let base = config.hubspot.client.governor.clone();
    let redis = redacted_url(url);
    let probe = RedisGovernor::new(
        base.clone(),
        config.governor.clone(),
        std::sync::Arc::new(hubspot_mcp::time::SystemClock),
    );
    match probe {
        Err(e) => serde_json::json!({"mode": "misconfigured", "redis": redis, "error": e}),
        Ok(g) => match g.heartbeat().await {
            // This status command counts itself among the processes it reports.
            Ok(n) => {
                serde_json::json!({"mode": "shared", "redis": redis, "prefix": config.governor.prefix, "processes": n.saturating_sub(1)})
            }
            Err(e) => serde_json::json!({
                "mode": "fallback",
                "redis": redis,
                "error": e,
                "note": format!("Redis does not answer: each process runs on a local share of {} requests per {} ms divided by the processes it last saw (when_redis_is_down = {:?})", base.burst_max, base.interval_ms, config.governor.when_redis_is_down),
            }),
        },
    }
}

fn print_json(v: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

async fn run_sync(
    config: Config,
    file: Option<&std::path::Path>,
    args: cli::SyncArgs,
) -> anyhow::Result<()> {
    let now = chrono::Utc::now().timestamp_millis();
    if args.dead_letters {
        let (q, _) = open_sync_database(&config, args.connect.sandbox).await?;
        return print_json(&if args.retry {
            serde_json::json!({"retried": q.retry_dead_letters().await?})
        } else if args.drop {
            serde_json::json!({"dropped": q.drop_dead_letters(now).await?})
        } else {
            serde_json::json!({"deadLetters": q.dead_letters(1_000).await?})
        });
    }
    if args.status {
        // Only the queue database: SQLite is safe to read while a server holds the index.
        let mut status = match open_sync_database(&config, args.connect.sandbox).await {
            Ok((q, state)) => {
                let mut s = serde_json::to_value(
                    hubspot_mcp::sync::status::read(&*q, &*state, now).await?,
                )?;
                let types =
                    hubspot_mcp::sync::normalize::Mapping::load(config.sync.mapping.as_deref())?
                        .object_types();
                let index =
                    hubspot_mcp::sync::readiness::IndexReadiness::read(&*state, &types).await?;
                s["index"] = serde_json::json!({"readiness": index, "summary": index.summary()});
                s
            }
            // Nothing synced yet is a state to report, not a failure of the status command.
            Err(e) => serde_json::json!({"syncDatabase": null, "note": e.to_string()}),
        };
        status["governor"] = governor_status(&config).await;
        return print_json(&status);
    }
    if !args.full && !args.catch_up && args.listen.is_none() {
        anyhow::bail!(
            "nothing to do: pass --full, --catch-up, --listen ADDR, --status or --dead-letters"
        );
    }
    let mut app = App::connect(config, portal(args.connect.sandbox, file)?).await?;
    let result = async {
        let engine = app
            .open_sync(SyncOverrides {
                model_dir: args.connect.model_dir.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| {
                if args.full && format!("{e:#}").contains("open in another process") {
                    // A server holds the embedded index: the work is its to do.
                    anyhow::anyhow!(
                        "a running server holds this index ({e:#}).\n\
                         If it is `serve --sync`, it backfills an empty or partly filled index by itself, \
                         resumably, and keeps it fresh from webhooks: follow it with `hubspot-mcp sync --status` \
                         (the \"backfill\" entry shows done/total, rate and ETA per type; a backfill that \
                         stopped on an error says so in its log). If it is `sync --listen`, which does not \
                         backfill, stop it, run `hubspot-mcp sync --full`, and start it again. To re-read \
                         everything from scratch, stop the server and run `hubspot-mcp sync --full --restart`."
                    )
                } else {
                    e
                }
            })?;
        if args.full {
            let started = std::time::Instant::now();
            let reports =
                hubspot_mcp::sync::backfill::full_sync(&engine, args.restart, true).await?;
            let indexed: usize = reports.iter().map(|r| r.indexed).sum();
            println!(
                "{}",
                serde_json::json!({
                    "types": reports,
                    "indexed": indexed,
                    "seconds": started.elapsed().as_secs_f64(),
                    "requests": engine.client().metrics().requests,
                })
            );
        }
        if args.catch_up {
            let a = engine.catch_up_from_watermark().await?;
            println!("{}", serde_json::to_string(&a)?);
        }
        if let Some(addr) = args.listen {
            let url = app.serve_webhooks(addr).await?;
            app.start_sync(false);
            let stop = app::shutdown_signal();
            println!("{url}");
            app.until_shutdown(stop).await?;
        }
        anyhow::Ok(())
    }
    .await;
    app.shutdown().await;
    result
}

async fn run_export(
    config: Config,
    file: Option<&std::path::Path>,
    args: cli::ExportArgs,
) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let app = App::connect(config, portal(args.sandbox, file)?).await?;
    let report = hubspot_mcp::export::export(
        app.client(),
        hubspot_mcp::export::ExportRequest {
            object_type: args.object_type,
            properties: args.properties,
            filters: args.filters,
            format: args.format,
            out: args.out,
            restart: args.restart,
            progress: std::io::stderr().is_terminal(),
        },
    )
    .await;
    app.shutdown().await;
    print_json(&serde_json::to_value(report?)?)
}

async fn run_reconcile(
    config: Config,
    file: Option<&std::path::Path>,
    args: ConnectArgs,
) -> anyhow::Result<()> {
    let mut app = App::connect(config, portal(args.sandbox, file)?).await?;
    let reports = async {
        app.open_sync(SyncOverrides {
            model_dir: args.model_dir.clone(),
            ..Default::default()
        })
        .await?
        .reconcile()
        .await
        .map_err(anyhow::Error::from)
    }
    .await;
    app.shutdown().await;
    let reports = reports?;
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
    Ok(())
}

async fn run_auth(
    config: Config,
    file: Option<&std::path::Path>,
    cmd: AuthCommand,
) -> anyhow::Result<()> {
    use hubspot_mcp::hubspot::auth::{OAuthSession, StoredTokens, TokenStore};
    let http = hubspot_mcp::hubspot::client::default_http();
    let store = TokenStore::in_dir(&config.data_dir);
    let (sandbox, timeout) = match &cmd {
        AuthCommand::Login { sandbox, timeout } => (sandbox.clone(), Some(*timeout)),
        AuthCommand::Status { sandbox } => (sandbox.clone(), None),
    };
    let (client, authorize_url) = match sandbox.as_deref() {
        Some(url) => sandbox_oauth(&config, file, url)?,
        None => (
            app::oauth_client(&config)?,
            config.hubspot.authorize_url.clone(),
        ),
    };
    let Some(timeout) = timeout else {
        let session = OAuthSession::resume(
            http,
            client,
            std::sync::Arc::new(hubspot_mcp::time::SystemClock),
            store,
        )
        .await?;
        println!(
            "authorized: scopes {}",
            session.introspect().await?.join(" ")
        );
        return Ok(());
    };
    let req = hubspot_mcp::hubspot::login::LoginRequest {
        authorize_url,
        scopes: config.hubspot.scopes.clone(),
        optional_scopes: config.hubspot.optional_scopes.clone(),
        client,
        timeout: std::time::Duration::from_secs(timeout),
    };
    let auto = sandbox.is_some();
    let tokens = hubspot_mcp::hubspot::login::login(&http, &req, |url| async move {
        if auto {
            let _ = reqwest::get(&url).await;
        } else {
            eprintln!("Open this URL in a browser and approve the app:\n\n  {url}\n");
        }
    })
    .await?;
    let refresh_token = tokens
        .refresh_token
        .clone()
        .context("HubSpot returned no refresh token")?;
    store.save(&StoredTokens { refresh_token })?;
    println!("authorized: scopes {}", tokens.scopes.join(" "));
    println!(
        "refresh token stored encrypted in {}",
        store.path().display()
    );
    Ok(())
}

/// The sandbox's OAuth app (from the `[sandbox]` table) at a running sandbox's `url`.
fn sandbox_oauth(
    config: &Config,
    file: Option<&std::path::Path>,
    url: &str,
) -> anyhow::Result<(hubspot_mcp::hubspot::auth::OAuthClientConfig, String)> {
    #[cfg(feature = "sandbox")]
    {
        let app = hubspot_sandbox::SandboxConfig::load(file)?.oauth;
        let base = url.trim_end_matches('/').to_string();
        Ok((
            hubspot_mcp::hubspot::auth::OAuthClientConfig {
                base_url: base.clone(),
                client_id: app.client_id,
                client_secret: secrecy::SecretString::from(app.client_secret),
                v1_fallback: config.hubspot.oauth_v1_fallback,
                refresh_margin_secs: 300,
            },
            format!("{base}/oauth/authorize"),
        ))
    }
    #[cfg(not(feature = "sandbox"))]
    {
        let _ = (config, file, url);
        anyhow::bail!("this build has no sandbox (built without the `sandbox` feature)")
    }
}
