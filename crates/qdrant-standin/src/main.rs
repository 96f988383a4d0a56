//! `qdrant-standin --listen 127.0.0.1:6334 --dir DIR`: serves the stand-in until SIGINT or
//! SIGTERM. The first line on stdout is the gRPC URL to give `qdrant_url` / `QDRANT_URL`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// A stand-in Qdrant server (gRPC) backed by qdrant-edge, for tests and benchmarks.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Where to listen (port 0: any free port; the URL is printed).
    #[arg(long, default_value = "127.0.0.1:6334")]
    listen: SocketAddr,
    /// Where collections are kept.
    #[arg(long)]
    dir: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "http://{addr}")?;
        out.flush()?;
    }
    let shutdown = async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
    };
    qdrant_standin::StandIn::new(args.dir)
        .serve(listener, shutdown)
        .await
}
