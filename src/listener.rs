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
//! - a **per-peer cap** (a quarter of the connection cap by default): one address cannot
//!   take every connection, so health checks, signed webhooks and authenticated callers from
//!   elsewhere are still served while one peer floods the listener. Each request carries its
//!   peer address (`axum::extract::ConnectInfo`) for per-peer limits further in;
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
    /// Connections served at once from one IP address.
    pub max_per_peer: usize,
    /// On shutdown, how long requests in flight may take to finish.
    pub drain: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            max_connections: 1_024,
            max_per_peer: 256,
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
    let peers = Arc::new(PeerCounts::default());
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
        let Some(from_peer) = peers.take(peer.ip(), limits.max_per_peer) else {
            tracing::warn!(%peer, max = limits.max_per_peer, "connection refused: too many open connections from this address");
            drop(tcp);
            continue;
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, max = limits.max_connections, "connection refused: too many open connections");
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        // The peer rides on each request as an extension; the router is shared, not rebuilt
        // per connection (a `layer` here would re-wrap every route on every accept).
        let service = TowerToHyperService::new(tower::ServiceExt::map_request(
            app.clone(),
            move |mut req: axum::http::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                req
            },
        ));
        let conn = http.serve_connection(TokioIo::new(tcp), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection closed with an error");
            }
            drop(permit);
            drop(from_peer);
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

/// What each IP address holds of a shared limit (connections, bodies being read).
#[derive(Debug, Default)]
pub struct PeerCounts(parking_lot::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>);

/// One place a peer holds; given back when dropped.
#[derive(Debug)]
pub struct PeerSlot {
    counts: Arc<PeerCounts>,
    ip: std::net::IpAddr,
}

impl PeerCounts {
    /// A place for `ip`, unless it already holds `max`. An IPv4-mapped IPv6 address counts as
    /// its IPv4 address, and IPv6 addresses count per /64 (what one host is usually given),
    /// so rotating through a prefix does not multiply a peer's share.
    pub fn take(self: &Arc<Self>, ip: std::net::IpAddr, max: usize) -> Option<PeerSlot> {
        let ip = match ip.to_canonical() {
            std::net::IpAddr::V6(v6) => {
                let s = v6.segments();
                std::net::IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
            v4 => v4,
        };
        let mut m = self.0.lock();
        let n = m.entry(ip).or_insert(0);
        if *n >= max.max(1) {
            return None;
        }
        *n += 1;
        Some(PeerSlot {
            counts: self.clone(),
            ip,
        })
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut m = self.counts.0.lock();
        if let Some(n) = m.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}
