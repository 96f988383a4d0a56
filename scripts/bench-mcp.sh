#!/usr/bin/env bash
# Runs the side-by-side MCP benchmark (benches/mcp_side_by_side.py) against a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/hubspot-mcp/target}"
cache="$(scripts/provision.sh)"
cargo build --release --locked --bin hubspot-mcp
exec "$cache/venv/bin/python" benches/mcp_side_by_side.py "$CARGO_TARGET_DIR/release/hubspot-mcp" "$cache"
