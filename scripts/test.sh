#!/usr/bin/env bash
# Runs the whole test suite: the command README.md gives under "Run the tests".
# It provisions what the tests need (the crates pinned by Cargo.lock, and the third-party MCP
# clients of scripts/provision.sh, cached outside the clone) and runs every unit and
# integration test against the local sandbox.
# Network use is limited to loopback: no test ever calls the real HubSpot.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/hubspot-mcp/target}"
export RUST_BACKTRACE="${RUST_BACKTRACE:-0}"
export HUBSPOT_MCP_CACHE="$(scripts/provision.sh)"
# The shared-budget tests start their own Redis servers on loopback (Debian's redis-server).
if ! command -v redis-server >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq >/dev/null && apt-get install -y -qq redis-server redis-tools >/dev/null
  else
    echo "the tests need redis-server (Debian: sudo apt-get install redis-server)" >&2
    exit 1
  fi
fi
# Benchmarks are compiled (so they cannot rot) but not run: numbers come from `cargo bench`.
cargo test --locked --benches --no-run
cargo test --locked --workspace --lib --bins --tests "$@"
