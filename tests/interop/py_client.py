"""Drives hubspot-mcp with the official Python MCP SDK (mcp 2.3.0), as a third-party client.

Usage:
  py_client.py stdio BINARY          spawns `BINARY serve --stdio --sandbox`
  py_client.py http URL TOKEN        connects to a running `serve --http` endpoint

Prints one JSON line with what it observed; exits non-zero on any failed expectation.
"""

import asyncio
import json
import sys
import time

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError as McpError


def check(cond, what):
    if not cond:
        raise SystemExit(f"expectation failed: {what}")


async def exercise(session: ClientSession) -> dict:
    init = await session.initialize()
    check(init.server_info.name == "hubspot-mcp", f"server name {init.server_info.name}")
    tools = await session.list_tools()
    names = sorted(t.name for t in tools.tools)
    check("search_objects" in names and len(names) <= 15, f"tools {names}")
    for t in tools.tools:
        check(t.annotations is not None and t.annotations.read_only_hint is not None, f"{t.name} has annotations")
        check(t.output_schema is not None, f"{t.name} has an output schema")

    res = await session.call_tool("search_objects", {"objectType": "tickets", "query": "okta", "limit": 3, "properties": ["subject"]})
    check(not res.is_error, f"search failed: {res.content}")
    sc = res.structured_content
    check(sc["total"] > 0 and len(sc["results"]) == 3, f"search results {sc}")

    # A mistyped property is refused before any HubSpot call, with close matches, as a tool
    # result the model reads (isError), not a protocol error (SEP-1303).
    bad = await session.call_tool("search_objects", {"objectType": "tickets", "filters": [{"property": "hs_ticket_priorty", "operator": "EQ", "value": "HIGH"}]})
    check(bad.is_error and "hs_ticket_priority" in bad.content[0].text, f"close match in {bad}")

    # A wrong enum value names the allowed ones; an invalid operator names the JSON path.
    bad = await session.call_tool("search_objects", {"objectType": "tickets", "filters": [{"property": "hs_ticket_priority", "operator": "LIKE", "value": "x"}]})
    check(bad.is_error and "filters[0].operator" in bad.content[0].text, f"path in {bad}")

    # A tool that does not exist stays a protocol error.
    try:
        await session.call_tool("no_such_tool", {})
        check(False, "an unknown tool was called")
    except McpError as e:
        check("not offered" in e.error.message, f"unknown tool: {e.error.message}")

    prompts = await session.list_prompts()
    pnames = sorted(p.name for p in prompts.prompts)
    check(pnames == ["account_brief", "triage_ticket"], f"prompts {pnames}")
    p = await session.get_prompt("triage_ticket", {"ticket_id": "10008036"})
    check("10008036" in p.messages[0].content.text, "prompt argument substituted")

    r = await session.read_resource("hubspot://schemas/tickets")
    schema = json.loads(r.contents[0].text)
    check("hs_ticket_priority" in schema["properties"], "schema resource lists properties")

    # Round trip time of a search call, for the record (benchmarks measure it properly).
    t = time.perf_counter()
    for _ in range(20):
        await session.call_tool("list_owners", {})
    per_call_ms = (time.perf_counter() - t) * 1000 / 20
    return {"tools": names, "prompts": pnames, "search_total": sc["total"], "owners_call_ms": round(per_call_ms, 2)}


async def main() -> None:
    mode = sys.argv[1]
    if mode == "stdio":
        params = StdioServerParameters(command=sys.argv[2], args=["serve", "--stdio", "--sandbox"])
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                report = await exercise(session)
    else:
        url, token = sys.argv[2], sys.argv[3]
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
        async with http:
            async with streamable_http_client(url, http_client=http) as streams:
                read, write = streams[0], streams[1]
                async with ClientSession(read, write) as session:
                    report = await exercise(session)
    report["mode"] = mode
    print(json.dumps(report))


asyncio.run(main())
