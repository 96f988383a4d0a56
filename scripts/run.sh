#!/usr/bin/env bash
# The main job: the MCP server on an in-process sandbox (11,000 seeded records), with sync on:
# the sandbox's signed webhooks feed the durable queue, the workers keep the embedded semantic
# index (qdrant-edge + all-MiniLM-L6-v2) fresh, and `semantic_search` is offered.
# It provisions the embedding assets first (pinned by sha256, cached in ~/.cache/hubspot-mcp).
#   scripts/run.sh                       # streamable HTTP on 127.0.0.1:8765
#   scripts/run.sh --stdio               # stdio, for a desktop client
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/hubspot-mcp/target}"
export HUBSPOT_MCP_CACHE="$(scripts/provision.sh models)"
[ $# -gt 0 ] || set -- --http 127.0.0.1:8765
cargo build --release --locked --quiet
echo "binary: $CARGO_TARGET_DIR/release/hubspot-mcp" >&2
exec "$CARGO_TARGET_DIR/release/hubspot-mcp" serve --sandbox --sync "$@"
