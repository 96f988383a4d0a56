"""The semantic index through the official Python MCP SDK (mcp 2.3.0), over stdio.

Usage: py_semantic.py BINARY   spawns `BINARY serve --stdio --sandbox --sync` (a small portal)

The SDK validates every structured result against the tool's output schema. Prints one JSON
line with what it observed; exits non-zero on any failed expectation.
"""

import asyncio
import json
import os
import sys
import time

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError as McpError


def check(cond, what):
    if not cond:
        raise SystemExit(f"expectation failed: {what}")


async def main() -> None:
    env = dict(os.environ)
    env.update({
        "HUBSPOT_MCP_DATA_DIR": sys.argv[2],
        "HUBSPOT_MCP_SANDBOX__RECORDS__CONTACTS": "100",
        "HUBSPOT_MCP_SANDBOX__RECORDS__COMPANIES": "20",
        "HUBSPOT_MCP_SANDBOX__RECORDS__DEALS": "40",
        "HUBSPOT_MCP_SANDBOX__RECORDS__TICKETS": "60",
        "RUST_LOG": "error",
    })
    params = StdioServerParameters(command=sys.argv[1], args=["serve", "--stdio", "--sandbox", "--sync"], env=env)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            names = sorted(t.name for t in (await session.list_tools()).tools)
            check("semantic_search" in names and "find_duplicates" in names, f"tools {names}")
            # The backfill runs in the background on first start.
            deadline = time.time() + 120
            while True:
                res = await session.call_tool("semantic_search", {"query": "cannot log in with single sign-on", "objectTypes": ["tickets"], "k": 5})
                results = (res.structured_content or {}).get("results", [])
                if len(results) == 5:
                    break
                check(time.time() < deadline, f"backfill never finished: {res}")
                await asyncio.sleep(0.3)
            check(all(r["objectType"] == "tickets" and 0 < r["score"] <= 1 for r in results), f"hits {results}")
            scores = [r["score"] for r in results]
            check(scores == sorted(scores, reverse=True), f"best first: {scores}")
            try:
                await session.call_tool("semantic_search", {"query": "x", "k": 99})
                check(False, "k=99 accepted")
            except McpError as e:
                check("k: 99" in str(e), f"error names the argument: {e}")
            dups = await session.call_tool("find_duplicates", {"field": "email"})
            check(dups.structured_content is not None and "groups" in dups.structured_content, f"{dups}")
            print(json.dumps({"tools": len(names), "top": results[0]["title"], "top_score": results[0]["score"]}))


asyncio.run(main())
