//! The application layer: wiring and lifecycle, used by the binary and by every test harness.
//!
//! The binary parses arguments and calls this; tests call the same functions, so what a test
//! starts is what a user runs. Everything long-lived is started here, into one [`JoinSet`],
//! under one [`CancellationToken`]; [`App::shutdown`] cancels it, waits for every task to end
//! (bounded by [`DRAIN`]), flushes the index and stops the in-process sandbox. Nothing is
//! dropped mid-flight without being waited for.
//!
//! ```text
//!  App::connect(config, portal)          credentials (token, OAuth, or the sandbox's),
//!    │                                   the client (limits follow the sandbox's app kind)
//!    ├─ open_sync(overrides)             queue + model + index + receiver (sync::SyncRuntime)
//!    ├─ start_sync(backfill_if_empty)    worker, then catch-up or the first backfill   ┐
//!    ├─ serve_webhooks(addr)             the receiver on its own listener              │ JoinSet
//!    ├─ mcp_server(tool options)         HubSpotMcp + audit log (pruned) + sync         │
//!    ├─ serve_http(server, options)      streamable HTTP (+ the receiver's route)       ┘
//!    ├─ serve_stdio(server, signal)      until stdin closes or a shutdown signal
//!    └─ shutdown()                       cancel → drain → flush → stop the sandbox
//! ```
//!
//! Shutdown signals (Ctrl-C, SIGTERM) are awaited by [`shutdown_signal`]; stdio, HTTP and
//! `sync --listen` all end through [`App::shutdown`].

mod connect;
pub mod running;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use connect::{oauth_client, sync_data_dir, Portal};

use crate::config::Config;
use crate::embed::Embedder;
use crate::hubspot::HubSpotClient;
use crate::mcp::http::HttpOptions;
use crate::mcp::{HubSpotMcp, ToolOptions};
use crate::sync::{SyncEngine, SyncRuntime};
use crate::webhook::receiver::PATH as WEBHOOK_PATH;

/// How long shutdown waits for tasks to finish before aborting what is left.
pub const DRAIN: Duration = Duration::from_secs(20);

/// What [`App::open_sync`] may be given instead of what the configuration says.
#[derive(Default)]
pub struct SyncOverrides {
    /// Where the model is (`--model-dir`).
    pub model_dir: Option<PathBuf>,
    /// An embedder already loaded (tests share one per process).
    pub embedder: Option<Arc<dyn Embedder>>,
}

/// A connected application: a client, maybe sync, and the tasks it started.
pub struct App {
    config: Config,
    conn: connect::Connected,
    sync: Option<SyncRuntime>,
    tasks: JoinSet<()>,
    cancel: CancellationToken,
    /// The receiver is served already (on its own listener or the MCP one).
    webhooks_served: bool,
    /// Why a listener stopped on its own (it then cancels the app).
    failure: Arc<parking_lot::Mutex<Option<String>>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("data_dir", &self.conn.data_dir)
            .field("sync", &self.sync.is_some())
            .field("tasks", &self.tasks.len())
            .finish_non_exhaustive()
    }
}

impl App {
    /// Connects to `portal` with `config`.
    ///
    /// # Errors
    /// Missing or refused credentials, or a sandbox that does not start.
    pub async fn connect(config: Config, portal: Portal) -> anyhow::Result<Self> {
        let conn = connect::connect(&config, portal).await?;
        Ok(Self {
            config,
            conn,
            sync: None,
            tasks: JoinSet::new(),
            cancel: CancellationToken::new(),
            webhooks_served: false,
            failure: Arc::default(),
        })
    }

    /// The configuration the app was started with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The HubSpot client every part of the app shares.
    pub fn client(&self) -> &HubSpotClient {
        &self.conn.client
    }

    /// The in-process sandbox, when the portal is one.
    #[cfg(feature = "sandbox")]
    pub fn sandbox(&self) -> Option<&hubspot_sandbox::Sandbox> {
        self.conn.sandbox.as_ref()
    }

    /// Where this portal's sync state lives.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.conn.data_dir
    }

    /// The token that stops every task of the app.
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// The sync engine, once [`open_sync`](Self::open_sync) has run.
    pub fn engine(&self) -> Option<&SyncEngine> {
        self.sync.as_ref().map(|s| &s.engine)
    }

    /// The audit log's path.
    pub fn audit_path(&self) -> PathBuf {
        audit_path(&self.config)
    }

    /// Opens sync: the queue, the model, the index and the webhook receiver.
    ///
    /// # Errors
    /// No webhook secret, a missing model, or an index another process holds.
    pub async fn open_sync(&mut self, overrides: SyncOverrides) -> anyhow::Result<SyncEngine> {
        let mut sc = self.config.sync.clone();
        if overrides.model_dir.is_some() {
            sc.model_dir = overrides.model_dir;
        }
        let secret = self.conn.webhook_secret.clone().context(
            "sync needs the app's client secret to verify webhook signatures: set hubspot.client_secret (HUBSPOT_MCP_HUBSPOT__CLIENT_SECRET)",
        )?;
        let rt = SyncRuntime::open(
            &sc,
            &self.conn.data_dir,
            self.conn.client.clone(),
            secret,
            Arc::new(crate::time::SystemClock),
            overrides.embedder,
        )
        .await?;
        let engine = rt.engine.clone();
        self.sync = Some(rt);
        Ok(engine)
    }

    /// Starts the worker and, in the background, catch-up from the watermark (a known
    /// index) or the backfill (an empty index, when `backfill_if_empty`).
    ///
    /// # Panics
    /// Before [`open_sync`](Self::open_sync).
    pub fn start_sync(&mut self, backfill_if_empty: bool) {
        let engine = self.engine().expect("open_sync first").clone();
        let cancel = self.cancel.clone();
        #[cfg(feature = "sandbox")]
        let afresh = self.conn.sandbox.is_some();
        #[cfg(not(feature = "sandbox"))]
        let afresh = false;
        self.tasks.spawn(engine.clone().run_worker(cancel.clone()));
        self.tasks.spawn(async move {
            tokio::select! {
                () = cancel.cancelled() => {}
                () = initial_sync(engine, backfill_if_empty, afresh) => {}
            }
        });
    }

    /// Serves the webhook receiver on its own listener (stdio mode, `sync --listen`) and
    /// points the in-process sandbox's webhooks at it. Returns the receiver's URL.
    ///
    /// # Errors
    /// The address is taken.
    ///
    /// # Panics
    /// Before [`open_sync`](Self::open_sync).
    pub async fn serve_webhooks(&mut self, addr: SocketAddr) -> anyhow::Result<String> {
        let receiver = self
            .sync
            .as_ref()
            .expect("open_sync first")
            .receiver
            .clone();
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding the webhook receiver to {addr}"))?;
        let url = format!("http://{}{WEBHOOK_PATH}", listener.local_addr()?);
        let cancel = self.cancel.clone();
        self.tasks.spawn(async move {
            let limits = crate::listener::Limits::default();
            if let Err(e) =
                crate::listener::serve(listener, receiver.router(), limits, async move {
                    cancel.cancelled().await;
                })
                .await
            {
                tracing::error!(error = %e, "the webhook listener failed");
            }
        });
        self.webhooks_served = true;
        self.conn.point_webhooks_at(&url);
        tracing::info!(%url, "receiving webhooks");
        Ok(url)
    }

    /// Refuses to start a gate that could not hand off: no reviewer, or a reviewer who is not
    /// an owner of this portal (the review task would be refused, or nobody's).
    ///
    /// # Errors
    /// The policy is invalid, or the reviewer is unknown (the message says what to set).
    pub async fn check_handoff(
        &self,
        policy: &crate::handoff::HandoffPolicy,
    ) -> anyhow::Result<()> {
        if !policy.enabled {
            return Ok(());
        }
        policy.validate().map_err(|e| anyhow::anyhow!(e))?;
        let reviewer = policy.review_owner_id.as_deref().unwrap_or_default().trim();
        let owners = self.conn.client.owners().await?;
        if !owners.iter().any(|o| o.id == reviewer) {
            let known: Vec<String> = owners
                .iter()
                .take(10)
                .map(|o| format!("{} ({} {}, {})", o.id, o.first_name, o.last_name, o.email))
                .collect();
            anyhow::bail!(
                "handoff.review_owner_id = {reviewer:?} is not an owner of this portal, so review tasks would have nobody to review them; set it to one of: {}",
                known.join("; ")
            );
        }
        Ok(())
    }

    /// The MCP server: the client's tools under `options`, the audit log (pruned to its
    /// retention first) when enabled, and sync's tools when sync is open.
    ///
    /// # Errors
    /// The audit log cannot be opened or pruned.
    pub fn mcp_server(
        &mut self,
        options: &ToolOptions,
        extra_secrets: &[String],
    ) -> anyhow::Result<HubSpotMcp> {
        let mut options = options.clone();
        if options.granted_scopes.is_none() {
            options.granted_scopes = self.conn.granted.clone();
        }
        let (refresher, cancel) = (self.conn.client.clone(), self.cancel.clone());
        self.tasks.spawn(async move {
            tokio::select! {
                () = cancel.cancelled() => {}
                () = refresher.refresh_metadata_forever() => {}
            }
        });
        let mut server = HubSpotMcp::new(self.conn.client.clone(), &options);
        let audit = &self.config.audit;
        if audit.enabled {
            let files = crate::audit::LogFiles::new(&self.audit_path(), audit);
            let mut secrets = self.conn.secrets.clone();
            secrets.extend(extra_secrets.iter().cloned());
            if let Some(k) = &audit.key {
                secrets.push(secrecy::ExposeSecret::expose_secret(k).to_string());
            }
            let redactor = crate::audit::Redactor::new(secrets, audit.redact_pii);
            // Opened first: the lock makes this process the log's one writer, and retention
            // prunes under it.
            let log = crate::audit::AuditLog::open(files.clone(), audit, redactor)?;
            if let Some(days) = audit.retention_days {
                let cutoff = retention_cutoff(days);
                let n = log.prune(&cutoff)?;
                if n > 0 {
                    tracing::info!(entries = n, before = %cutoff, "audit retention: pruned old entries");
                }
            }
            tracing::info!(path = %files.log.display(), "auditing every tool call and prompt fetch");
            server = server.with_audit(Arc::new(log), audit.fail_closed);
        }
        if let Some(rt) = &self.sync {
            server = server.with_sync(rt.engine.clone());
        }
        Ok(server)
    }

    /// Serves `server` over streamable HTTP, with the webhook receiver's route on the same
    /// listener when sync is open and has no listener of its own. Returns the bound address.
    ///
    /// # Errors
    /// The address is taken, or a non-loopback address without bearer tokens.
    pub async fn serve_http(
        &mut self,
        server: HubSpotMcp,
        options: HttpOptions,
    ) -> anyhow::Result<SocketAddr> {
        let extra = match (&self.sync, self.webhooks_served) {
            (Some(rt), false) => {
                self.webhooks_served = true;
                Some(rt.receiver.router())
            }
            _ => None,
        };
        let with_webhooks = extra.is_some();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (cancel, failure) = (self.cancel.clone(), self.failure.clone());
        let record_dir = self.conn.data_dir.clone();
        let instance = options.instance.clone();
        self.tasks.spawn(async move {
            let mut tx = Some(tx);
            let served = crate::mcp::http::serve(server, options, extra, cancel.clone(), |a| {
                // Where the CLI and desktop clients of this data directory find this server.
                let host = if a.ip().is_unspecified() {
                    SocketAddr::from(([127, 0, 0, 1], a.port()))
                } else {
                    a
                };
                if let Err(e) = running::RunningServer::record(
                    &record_dir,
                    &format!("http://{host}/mcp"),
                    &instance,
                ) {
                    tracing::warn!(error = %e, "could not record this server for the CLI");
                }
                if let Some(tx) = tx.take() {
                    let _ = tx.send(Ok(a));
                }
            })
            .await;
            if let Err(e) = served {
                match tx.take() {
                    Some(tx) => {
                        let _ = tx.send(Err(e));
                    }
                    None => fail(&failure, &cancel, format!("the MCP endpoint failed: {e}")),
                }
            }
        });
        let addr = rx
            .await
            .context("the MCP endpoint ended before it bound")?
            .context("serving HTTP")?;
        if with_webhooks {
            let url = format!("http://{addr}{WEBHOOK_PATH}");
            self.conn.point_webhooks_at(&url);
            tracing::info!(%url, "receiving webhooks");
        }
        Ok(addr)
    }

    /// Serves `server` on stdin/stdout until the client closes stdin or a shutdown signal.
    ///
    /// # Errors
    /// The transport fails to start.
    pub async fn serve_stdio(
        &mut self,
        server: HubSpotMcp,
        signal: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        use rmcp::ServiceExt;
        // rmcp's `serve` waits for the client's `initialize`: `signal` (made before the app
        // connected, so a SIGTERM during start-up is not lost) is watched from the start.
        tokio::pin!(signal);
        let running = tokio::select! {
            r = server.serve(rmcp::transport::stdio()) => r.context("starting the stdio transport")?,
            () = &mut signal => return Ok(()),
            () = self.cancel.cancelled() => return Ok(()),
        };
        let ct = running.cancellation_token();
        tokio::select! {
            r = running.waiting() => { r.context("serving stdio")?; }
            () = &mut signal => {
                tracing::info!("shutting down");
                ct.cancel();
            }
            () = self.cancel.cancelled() => ct.cancel(),
        }
        Ok(())
    }

    /// Waits for Ctrl-C, SIGTERM, [`cancel_token`](Self::cancel_token), or a listener that
    /// stopped on its own.
    ///
    /// # Errors
    /// A listener failed after it started (the process should exit non-zero).
    pub async fn until_shutdown(
        &self,
        signal: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        tokio::select! {
            () = signal => tracing::info!("shutting down"),
            () = self.cancel.cancelled() => {}
        }
        match self.failure.lock().take() {
            Some(why) => Err(anyhow::anyhow!(why)),
            None => Ok(()),
        }
    }

    /// Stops everything: cancels every task, waits up to [`DRAIN`] for them to end (then
    /// aborts the rest), flushes the index and stops the in-process sandbox.
    pub async fn shutdown(mut self) {
        running::RunningServer::forget(&self.conn.data_dir);
        self.cancel.cancel();
        let drained = tokio::time::timeout(DRAIN, async {
            while let Some(r) = self.tasks.join_next().await {
                if let Err(e) = r {
                    if e.is_panic() {
                        tracing::error!(error = %e, "a task panicked");
                    }
                }
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                left = self.tasks.len(),
                "tasks still running after the drain period: aborting them"
            );
            self.tasks.shutdown().await;
        }
        if let Some(rt) = self.sync.take() {
            rt.engine.store().flush().await;
        }
        self.conn.stop().await;
    }
}

/// Records why a listener stopped and stops the app.
fn fail(failure: &parking_lot::Mutex<Option<String>>, cancel: &CancellationToken, why: String) {
    tracing::error!(error = %why, "stopping");
    failure.lock().get_or_insert(why);
    cancel.cancel();
}

/// The first thing sync does after the worker starts: catch up from the watermark, or
/// backfill an empty index (in the sandbox, or when asked), or say how to fill it.
/// The first sync work of a server: a backfill of an empty (or partly filled) index; after a
/// restart, a catch-up on what changed while down. An in-process sandbox starts from its seed
/// every time (`portal_afresh`), so what the index kept from the last run (records created,
/// changed or deleted since the seed) is checked against it record by record (a reconcile):
/// no ghost of the last run is served once it ends, and the index says "being checked" until
/// then (`semantic_search`, `/readyz`, `sync --status`).
async fn initial_sync(engine: SyncEngine, backfill_if_empty: bool, portal_afresh: bool) {
    let fresh = engine
        .state()
        .checkpoint("caught_up_ms")
        .await
        .ok()
        .flatten()
        .is_none();
    if fresh && backfill_if_empty {
        tracing::info!(
            types = ?engine.mapping().object_types(),
            "backfill started: the index is empty or partly filled; progress is logged per type, and semantic_search, /readyz and sync --status report it"
        );
        match crate::sync::backfill::full_sync(&engine, false, false).await {
            Ok(r) => tracing::info!(
                records = r.iter().map(|t| t.indexed).sum::<usize>(),
                "backfill done"
            ),
            Err(err) => {
                tracing::error!(error = %err, "backfill failed; run `hubspot-mcp sync --full` to resume it")
            }
        }
    } else if !fresh && portal_afresh {
        let _ = engine
            .state()
            .set_checkpoint(crate::sync::readiness::RECONCILING, Some("1"))
            .await;
        tracing::info!(
            "the sandbox starts from its seed: checking the index against it (reconcile)"
        );
        match crate::sync::patience::until_permanent("all", "reconcile", || engine.reconcile())
            .await
        {
            Ok(r) => {
                tracing::info!(
                    removed = r.iter().map(|t| t.extra).sum::<usize>(),
                    reindexed = r.iter().map(|t| t.missing + t.stale).sum::<usize>(),
                    "the index matches the sandbox"
                );
                let _ = engine
                    .state()
                    .set_checkpoint(crate::sync::readiness::RECONCILING, None)
                    .await;
            }
            Err(err) => {
                tracing::error!(error = %err, "the reconcile after a restart failed; `hubspot-mcp reconcile` repairs drift");
                let _ = engine
                    .state()
                    .set_checkpoint(crate::sync::readiness::RECONCILING, None)
                    .await;
            }
        }
    } else if !fresh {
        match engine.catch_up_from_watermark().await {
            Ok(Some(a)) => tracing::info!(?a, "caught up on changes made while down"),
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(error = %err, "catch-up failed; `hubspot-mcp reconcile` repairs drift")
            }
        }
    } else {
        tracing::warn!("the index is empty: run `hubspot-mcp sync --full` to backfill it");
    }
}

/// Where the audit log is: `audit.path`, or `<data_dir>/audit.jsonl`.
pub fn audit_path(config: &Config) -> PathBuf {
    config
        .audit
        .path
        .clone()
        .unwrap_or_else(|| config.data_dir.join("audit.jsonl"))
}

/// RFC 3339 time `days` ago.
pub fn retention_cutoff(days: u32) -> String {
    crate::time::iso_ms(chrono::Utc::now().timestamp_millis() - i64::from(days) * 86_400_000)
}

/// Resolves on Ctrl-C or (on Unix) SIGTERM.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    // SIGTERM's handler is installed here, when the future is made, not when it is first
    // polled: a signal that arrives while a listener's address is being printed neither is
    // lost nor kills the process by default.
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        #[cfg(unix)]
        let term = async move {
            match term {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            () = ctrl_c => {}
            () = term => {}
        }
    }
}
