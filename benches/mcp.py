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
    return sandbox_get(url, "/__sandbox/log")["summary"]["total"]


def rss_kb(pattern):
    out = subprocess.run(["ps", "-eo", "rss,args"], capture_output=True, text=True).stdout
    rows = [l.split(None, 1) for l in out.splitlines()[1:] if pattern in l and "python" not in l and "ps -eo" not in l]
    return max((int(r[0]) for r in rows), default=0)


SERVERS = {
    "hubspot-mcp": {
        "params": lambda url, data: StdioServerParameters(command=BIN, args=["serve", "--stdio"], env={**os.environ, "HUBSPOT_MCP_HUBSPOT__TOKEN": TOKEN, "HUBSPOT_MCP_HUBSPOT__CLIENT__BASE_URL": url, "HUBSPOT_MCP_DATA_DIR": data, "RUST_LOG": "warn"}),
        "rss": "hubspot-mcp serve",
        "metadata": ("describe_properties", {"objectType": "tickets"}),
        "search": ("search_objects", {"objectType": "tickets", "query": "okta", "limit": 10, "properties": ["subject"]}),
    },
    "@hubspot/mcp-server": {
        "params": lambda url, data: StdioServerParameters(command="node", args=[f"{CACHE}/node/node_modules/@hubspot/mcp-server/dist/index.js"], env={**os.environ, "PRIVATE_APP_ACCESS_TOKEN": TOKEN, "BASE_URL_OVERRIDE": url}),
        "rss": "mcp-server/dist/index.js",
        "metadata": ("hubspot-list-properties", {"objectType": "tickets"}),
        "search": ("hubspot-search-objects", {"objectType": "tickets", "query": "okta", "limit": 10, "properties": ["subject"]}),
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
            sandbox_post(url, "/__sandbox/faults", {}) if False else None
    return row


async def bench_http(url):
    proc = subprocess.Popen([BIN, "serve", "--http", "127.0.0.1:0", "--http-token", "h"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env={**os.environ, "HUBSPOT_MCP_HUBSPOT__TOKEN": TOKEN, "HUBSPOT_MCP_HUBSPOT__CLIENT__BASE_URL": url, "HUBSPOT_MCP_DATA_DIR": tempfile.mkdtemp(), "RUST_LOG": "warn"})
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
    sb = subprocess.Popen([BIN, "sandbox", "--token", TOKEN, "--no-limits"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    url = sb.stdout.readline().decode().strip()
    try:
        rows = {}
        for name, spec in SERVERS.items():
            rows[name] = await bench_server(name, spec, url)
            urllib.request.urlopen(urllib.request.Request(url + "/__sandbox/faults", method="DELETE"))
        rows["hubspot-mcp (HTTP)"] = await bench_http(url)
    finally:
        sb.kill()
    for name, row in rows.items():
        print(f"{name}:")
        for k, v in row.items():
            print(f"  {k}: {round(v, 2) if isinstance(v, float) else v}")
    ours, theirs, http = rows["hubspot-mcp"], rows["@hubspot/mcp-server"], rows["hubspot-mcp (HTTP)"]
    print(
        "mcp: "
        f"tools={ours['tools']} defs_bytes={ours['defs_bytes']} peer_defs_bytes={theirs['defs_bytes']} "
        f"spawn_to_list_ms={ours['spawn_to_list_ms']:.1f} peer_spawn_to_list_ms={theirs['spawn_to_list_ms']:.1f} "
        f"search_p50_ms={ours['search_p50_ms']:.2f} search_p99_ms={ours['search_p99_ms']:.2f} "
        f"peer_search_p50_ms={theirs['search_p50_ms']:.2f} peer_search_p99_ms={theirs['search_p99_ms']:.2f} "
        f"http_search_p50_ms={http['search_p50_ms']:.2f} http_search_p99_ms={http['search_p99_ms']:.2f} "
        f"rss_mb={ours['rss_mb']:.1f} peer_rss_mb={theirs['rss_mb']:.1f} "
        f"metadata_api_calls_cached={ours['api_calls_per_metadata_call_after']} peer_metadata_api_calls={theirs['api_calls_per_metadata_call_after']}"
    )


asyncio.run(main())
