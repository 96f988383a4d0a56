//! Every TCP listener of the project (the MCP endpoint, the webhook receiver, the sandbox)
//! is served here, with the same defences against slow and idle clients.
//!
//! `axum::serve` sets no timer on hyper, so a client that sends half a request head, or
//! opens a connection and never sends anything, holds it forever. Here each connection is
//! served by hyper's HTTP/1 server with:
//!
//! - a **header-read timeout**: the whole request head must arrive within it. hyper starts
//!   the timer whenever it waits for a head, which includes the wait between two requests
//!   of a keep-alive connection, so the same limit is the **idle timeout**;
//! - a **connection cap**: past it, new connections are accepted and closed at once, so a
//!   flood of slow connections cannot exhaust file descriptors or memory;
//! - **graceful shutdown**: on the shutdown signal the listener stops accepting, requests in
//!   flight finish (up to [`Limits::drain`]), then the remaining connections are closed.
//!
//! The request timeout and body limits are per-route concerns (a webhook body and an MCP
//! call differ) and are layered on the routers by their owners; this module only owns the
//! connection.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

/// Connection-level limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A request head must arrive within this; also how long an idle keep-alive connection
    /// is kept.
    pub header_read: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// On shutdown, how long requests in flight may take to finish.
    pub drain: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            max_connections: 1_024,
            drain: Duration::from_secs(10),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains.
///
/// # Errors
/// Never for a failed connection (it is logged and closed); only when accepting fails in a
/// way that retrying cannot fix.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let service = TowerToHyperService::new(app);
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer): (tokio::net::TcpStream, SocketAddr) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: wait a little rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, max = limits.max_connections, "connection refused: too many open connections");
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let conn = http.serve_connection(TokioIo::new(tcp), service.clone());
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection closed with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(after = ?limits.drain, "connections still open after the drain period; closing them");
    }
    Ok(())
}
