"""Side-by-side MCP benchmark: hubspot-mcp against HubSpot's own @hubspot/mcp-server 0.4.0,
both pointed at the same local sandbox, in one run, driven by the official Python SDK.

Prints, per server: tool count and the bytes of all tool definitions; spawn -> tools/list
answered (median of 5); tools/call round trips (p50/p99) for a metadata call and a search call
over stdio (and HTTP for ours); RSS after the run; the HubSpot API requests each call made (read
from the sandbox's request log); and what the agent sees when the sandbox injects 429s.

Run: scripts/bench-mcp.sh (builds the release binary, provisions the peers, runs this). The last
line is the summary the README quotes.
"""

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

BIN, CACHE = sys.argv[1], sys.argv[2]
N = int(os.environ.get("MCP_BENCH_CALLS", "300"))
TOKEN = "bench-token"
# The sandbox runs with its limits off to measure latency, and the peer paces nothing; so that
# both are measured on equal terms, our governor is told the limits are off too. (With limits
# on, ours holds searches to 5/s where the peer would collect 429s.)
UNPACED = {"HUBSPOT_MCP_HUBSPOT__CLIENT__GOVERNOR__SEARCH_PER_SECOND": "1000000", "HUBSPOT_MCP_HUBSPOT__CLIENT__GOVERNOR__BURST_MAX": "1000000"}


def pct(v, p):
    v = sorted(v)
    return v[round((len(v) - 1) * p)]


def sandbox_get(url, path):
    with urllib.request.urlopen(url + path) as r:
        return json.loads(r.read())


def sandbox_post(url, path, body):
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST", headers={"content-type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return r.status


def api_requests(url):
    """HubSpot API requests the sandbox served, not counting this script's admin calls."""
    routes = sandbox_get(url, "/__sandbox/log")["summary"]["routes"]
    return sum(r["count"] for k, r in routes.items() if "/__sandbox" not in k)


def rss_kb(pattern):
    out = subprocess.run(["ps", "-eo", "rss,args"], capture_output=True, text=True).stdout
    rows = [l.split(None, 1) for l in out.splitlines()[1:] if pattern in l and "python" not in l and "ps -eo" not in l]
    return max((int(r[0]) for r in rows), default=0)


SERVERS = {
    "hubspot-mcp": {
        "params": lambda url, data: StdioServerParameters(command=BIN, args=["serve", "--stdio"], env={**os.environ, "HUBSPOT_MCP_HUBSPOT__TOKEN": TOKEN, "HUBSPOT_MCP_HUBSPOT__CLIENT__BASE_URL": url, "HUBSPOT_MCP_DATA_DIR": data, "RUST_LOG": "warn", **UNPACED}),
        "rss": "hubspot-mcp serve",
        "metadata": ("describe_properties", {"objectType": "tickets"}),
        "search": ("search_objects", {"objectType": "companies", "filters": [{"property": "customer_tier", "operator": "EQ", "value": "platinum"}], "limit": 10, "properties": ["name"]}),
    },
    "@hubspot/mcp-server": {
        "params": lambda url, data: StdioServerParameters(command="node", args=[f"{CACHE}/node/node_modules/@hubspot/mcp-server/dist/index.js"], env={**os.environ, "PRIVATE_APP_ACCESS_TOKEN": TOKEN, "BASE_URL_OVERRIDE": url}),
        "rss": "mcp-server/dist/index.js",
        "metadata": ("hubspot-list-properties", {"objectType": "tickets"}),
        "search": ("hubspot-search-objects", {"objectType": "companies", "filterGroups": [{"filters": [{"propertyName": "customer_tier", "operator": "EQ", "value": "platinum"}]}], "limit": 10, "properties": ["name"]}),
    },
}


async def spawn_to_list(params):
    t = time.perf_counter()
    async with stdio_client(params) as (r, w):
        async with ClientSession(r, w) as s:
            await s.initialize()
            tools = await s.list_tools()
            elapsed = (time.perf_counter() - t) * 1000
    return elapsed, tools


async def timed_calls(session, name, args, n):
    lat = []
    for _ in range(n):
        t = time.perf_counter()
        res = await session.call_tool(name, args)
        lat.append((time.perf_counter() - t) * 1000)
        if res.is_error:
            raise SystemExit(f"{name} failed: {res.content}")
    return lat


async def bench_server(name, spec, url):
    data = tempfile.mkdtemp(prefix="mcp-bench-")
    params = spec["params"](url, data)
    spawns, tools = [], None
    for _ in range(5):
        ms, tools = await spawn_to_list(params)
        spawns.append(ms)
    defs = json.dumps([t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools.tools], separators=(",", ":"))
    row = {"tools": len(tools.tools), "defs_bytes": len(defs), "spawn_to_list_ms": statistics.median(spawns)}
    async with stdio_client(params) as (r, w):
        async with ClientSession(r, w) as s:
            await s.initialize()
            meta, search = spec["metadata"], spec["search"]
            before = api_requests(url)
            await s.call_tool(*meta)
            first_meta = api_requests(url) - before
            before = api_requests(url)
            for _ in range(10):
                await s.call_tool(*meta)
            row["api_calls_first_metadata_call"] = first_meta
            row["api_calls_per_metadata_call_after"] = (api_requests(url) - before) / 10
            await timed_calls(s, *search, 10)
            before = api_requests(url)
            lat = await timed_calls(s, *search, N)
            row["api_calls_per_search_call"] = (api_requests(url) - before) / N
            row["search_p50_ms"], row["search_p99_ms"] = pct(lat, 0.5), pct(lat, 0.99)
            lat = await timed_calls(s, *meta, N)
            row["metadata_p50_ms"], row["metadata_p99_ms"] = pct(lat, 0.5), pct(lat, 0.99)
            row["rss_mb"] = rss_kb(spec["rss"]) / 1024
            raw = raw_stdio_latency(params, *search, N)
            row["raw_search_p50_ms"], row["raw_search_p99_ms"] = pct(raw, 0.5), pct(raw, 0.99)
            # 429s: three injected TEN_SECONDLY_ROLLING answers on search.
            sandbox_post(url, "/__sandbox/faults", {"type": "rate_limit", "policy": "TEN_SECONDLY_ROLLING", "route": "*/search", "count": 3})
            before = api_requests(url)
            t = time.perf_counter()
            res = await s.call_tool(*search)
            row["on_429"] = {
                "is_error": bool(res.is_error),
                "requests": api_requests(url) - before,
                "ms": round((time.perf_counter() - t) * 1000),
                "agent_sees": (res.content[0].text[:160] if res.content else ""),
            }

    return row


def raw_stdio_latency(params, name, args, n):
    """tools/call round trips as raw JSON-RPC lines over stdio: the server's own cost, with no
    client SDK in the way (the Python SDK adds ~2 ms a call, and validates structured output)."""
    p = subprocess.Popen([params.command, *params.args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=params.env)

    def rpc(method, prm, i):
        p.stdin.write((json.dumps({"jsonrpc": "2.0", "id": i, "method": method, "params": prm}) + "\n").encode())
        p.stdin.flush()
        while True:
            line = json.loads(p.stdout.readline())
            if line.get("id") == i:
                return line

    rpc("initialize", {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}, 0)
    p.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
    p.stdin.flush()
    lat = []
    for i in range(n + 10):
        t = time.perf_counter()
        rpc("tools/call", {"name": name, "arguments": args}, i + 1)
        if i >= 10:
            lat.append((time.perf_counter() - t) * 1000)
    p.kill()
    return lat


def direct_search_latency(url, n):
    """The same search sent straight to the sandbox: the backend's share of every tool call."""
    import http.client
    host, port = url.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port))
    body = json.dumps({"filterGroups": [{"filters": [{"propertyName": "customer_tier", "operator": "EQ", "value": "platinum"}]}], "limit": 10, "properties": ["name"]})
    lat = []
    for _ in range(n):
        t = time.perf_counter()
        conn.request("POST", "/crm/objects/2026-03/companies/search", body, {"authorization": f"Bearer {TOKEN}", "content-type": "application/json"})
        conn.getresponse().read()
        lat.append((time.perf_counter() - t) * 1000)
    return lat


async def bench_http(url):
    proc = subprocess.Popen([BIN, "serve", "--http", "127.0.0.1:0", "--http-token", "h"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env={**os.environ, "HUBSPOT_MCP_HUBSPOT__TOKEN": TOKEN, "HUBSPOT_MCP_HUBSPOT__CLIENT__BASE_URL": url, "HUBSPOT_MCP_DATA_DIR": tempfile.mkdtemp(), "RUST_LOG": "warn", **UNPACED})
    mcp_url = proc.stdout.readline().decode().strip()
    try:
        http = create_mcp_http_client(headers={"Authorization": "Bearer h"})
        async with http:
            async with streamable_http_client(mcp_url, http_client=http) as streams:
                async with ClientSession(streams[0], streams[1]) as s:
                    await s.initialize()
                    spec = SERVERS["hubspot-mcp"]
                    await timed_calls(s, *spec["search"], 10)
                    lat = await timed_calls(s, *spec["search"], N)
                    meta = await timed_calls(s, *spec["metadata"], N)
                    return {"search_p50_ms": pct(lat, 0.5), "search_p99_ms": pct(lat, 0.99), "metadata_p50_ms": pct(meta, 0.5), "metadata_p99_ms": pct(meta, 0.99)}
    finally:
        proc.kill()


async def main():
    sb = subprocess.Popen([BIN, "sandbox", "--token", TOKEN, "--no-limits"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={**os.environ, "HUBSPOT_MCP_SANDBOX__LOG_BODIES": "false"})
    url = sb.stdout.readline().decode().strip()
    try:
        rows = {}
        for name, spec in SERVERS.items():
            rows[name] = await bench_server(name, spec, url)
            urllib.request.urlopen(urllib.request.Request(url + "/__sandbox/faults", method="DELETE"))
        rows["hubspot-mcp (HTTP)"] = await bench_http(url)
        direct = direct_search_latency(url, N)
        rows["sandbox direct (same search, no MCP server)"] = {"search_p50_ms": pct(direct, 0.5), "search_p99_ms": pct(direct, 0.99)}
    finally:
        sb.kill()
    for name, row in rows.items():
        print(f"{name}:")
        for k, v in row.items():
            print(f"  {k}: {round(v, 2) if isinstance(v, float) else v}")
    ours, theirs, http = rows["hubspot-mcp"], rows["@hubspot/mcp-server"], rows["hubspot-mcp (HTTP)"]
    base = rows["sandbox direct (same search, no MCP server)"]["search_p50_ms"]
    print(f"server overhead over the direct search (p50): ours {ours['search_p50_ms'] - base:.2f} ms, peer {theirs['search_p50_ms'] - base:.2f} ms")
    print(
        "mcp: "
        f"tools={ours['tools']} defs_bytes={ours['defs_bytes']} peer_defs_bytes={theirs['defs_bytes']} "
        f"spawn_to_list_ms={ours['spawn_to_list_ms']:.1f} peer_spawn_to_list_ms={theirs['spawn_to_list_ms']:.1f} "
        f"raw_search_p50_ms={ours['raw_search_p50_ms']:.2f} peer_raw_search_p50_ms={theirs['raw_search_p50_ms']:.2f} raw_ratio={ours['raw_search_p50_ms'] / theirs['raw_search_p50_ms']:.2f} "
        f"search_p50_ms={ours['search_p50_ms']:.2f} search_p99_ms={ours['search_p99_ms']:.2f} "
        f"peer_search_p50_ms={theirs['search_p50_ms']:.2f} peer_search_p99_ms={theirs['search_p99_ms']:.2f} "
        f"http_search_p50_ms={http['search_p50_ms']:.2f} http_search_p99_ms={http['search_p99_ms']:.2f} "
        f"direct_search_p50_ms={base:.2f} overhead_p50_ms={ours['search_p50_ms'] - base:.2f} peer_overhead_p50_ms={theirs['search_p50_ms'] - base:.2f} "
        f"rss_mb={ours['rss_mb']:.1f} peer_rss_mb={theirs['rss_mb']:.1f} "
        f"metadata_api_calls_cached={ours['api_calls_per_metadata_call_after']} peer_metadata_api_calls={theirs['api_calls_per_metadata_call_after']}"
    )


asyncio.run(main())
