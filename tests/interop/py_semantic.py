"""The semantic index through the official Python MCP SDK (mcp 2.3.0), over stdio.

Usage: py_semantic.py BINARY DATA_DIR   adds two knowledge articles with `BINARY knowledge add`,
then spawns `BINARY serve --stdio --sandbox --sync` (a small portal)

The SDK validates every structured result against the tool's output schema. Prints one JSON
line with what it observed; exits non-zero on any failed expectation.
"""

import asyncio
import json
import os
import subprocess
import sys
import time

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError as McpError


def check(cond, what):
    if not cond:
        raise SystemExit(f"expectation failed: {what}")


def resolve(schema, root):
    while isinstance(schema, dict) and "$ref" in schema:
        name = schema["$ref"].split("/")[-1]
        schema = root.get("$defs", {}).get(name) or root.get("definitions", {}).get(name)
    return schema or {}


def undeclared(value, schema, root, at="$"):
    """Keys the result carries that its schema does not declare (the SDK's own validation
    cannot see them: output schemas allow extra keys)."""
    schema = resolve(schema, root)
    out = []
    for alt in schema.get("anyOf", []) + schema.get("oneOf", []):
        alt = resolve(alt, root)
        if isinstance(value, dict) and alt.get("properties"):
            schema = alt
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for k, v in value.items():
            if k in props:
                out += undeclared(v, props[k], root, f"{at}.{k}")
            elif isinstance(extra, dict):
                out += undeclared(v, extra, root, f"{at}.{k}")
            elif extra is not True:
                out.append(f"{at}.{k}")
    elif isinstance(value, list):
        items = schema.get("items", {})
        for i, v in enumerate(value):
            out += undeclared(v, items, root, f"{at}[{i}]")
    return out


async def main() -> None:
    env = dict(os.environ)
    env.update({
        "HUBSPOT_MCP_DATA_DIR": sys.argv[2],
        "HUBSPOT_MCP_SANDBOX__RECORDS__CONTACTS": "100",
        "HUBSPOT_MCP_SANDBOX__RECORDS__COMPANIES": "20",
        "HUBSPOT_MCP_SANDBOX__RECORDS__DEALS": "40",
        "HUBSPOT_MCP_SANDBOX__RECORDS__TICKETS": "60",
        "RUST_LOG": "error",
        # One search every 2 s: the backfill takes long enough to be seen in progress.
        "HUBSPOT_MCP_HUBSPOT__CLIENT__GOVERNOR__SEARCH_PER_SECOND": "1",
        "HUBSPOT_MCP_HUBSPOT__CLIENT__GOVERNOR__SEARCH_INTERVAL_MS": "2000",
    })
    # Knowledge articles, added through the CLI before the server starts (one writer at a
    # time for the embedded index), are found beside records.
    kb = os.path.join(sys.argv[2], "kb")
    os.makedirs(kb, exist_ok=True)
    with open(os.path.join(kb, "sso.md"), "w") as f:
        f.write("# Rotating the SAML certificate\n\nWhen the identity provider's signing certificate expires, single sign-on fails for every user. Upload the new certificate under Settings, Security.\n")
    with open(os.path.join(kb, "refund.html"), "w") as f:
        f.write("<html><head><title>Refunding a duplicate charge</title></head><body><p>A card charged twice is refunded from Billing, Payments.</p></body></html>")
    added = subprocess.run([sys.argv[1], "knowledge", "add", "--sandbox", kb], env=env, capture_output=True, text=True)
    check(added.returncode == 0 and "2 added" in added.stdout, f"knowledge add: {added.stdout} {added.stderr}")
    listed = subprocess.run([sys.argv[1], "knowledge", "list", "--sandbox", "--json"], env=env, capture_output=True, text=True, check=True)
    check(len(json.loads(listed.stdout)) == 2, f"knowledge list: {listed.stdout}")
    params = StdioServerParameters(command=sys.argv[1], args=["serve", "--stdio", "--sandbox", "--sync"], env=env)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            names = sorted(t.name for t in (await session.list_tools()).tools)
            check("semantic_search" in names and "find_duplicates" in names, f"tools {names}")
            # The backfill runs in the background on first start; until it ends, results say
            # how far it is rather than passing for "nothing similar".
            deadline = time.time() + 120
            seen_progress = None
            while True:
                res = await session.call_tool("semantic_search", {"query": "cannot log in with single sign-on", "objectTypes": ["tickets"], "k": 5})
                sc = res.structured_content or {}
                results = sc.get("results", [])
                if "index" in sc:
                    check(sc["index"]["complete"] is False and "still being built" in sc.get("note", ""), f"progress {sc}")
                    check(set(sc["index"]["types"]) == {"contacts", "companies", "deals", "tickets"}, f"types {sc['index']}")
                    seen_progress = seen_progress or sc["index"]
                elif len(results) == 5:
                    break
                check(time.time() < deadline, f"backfill never finished: {res}")
                await asyncio.sleep(0.2)
            check(seen_progress is not None, "semantic_search during the backfill reported its progress")
            check(all(r["objectType"] == "tickets" and 0 < r["score"] <= 1 for r in results), f"hits {results}")
            scores = [r["score"] for r in results]
            check(scores == sorted(scores, reverse=True), f"best first: {scores}")
            articles = await session.call_tool("semantic_search", {"query": "SSO broke when the IdP certificate expired", "kinds": ["articles"], "k": 2})
            arts = articles.structured_content["results"]
            check([a["kind"] for a in arts] == ["article", "article"] and arts[0]["title"] == "Rotating the SAML certificate", f"articles {arts}")
            check(arts[0]["url"].startswith("file://"), f"an article's url {arts[0]}")
            mixed = (await session.call_tool("semantic_search", {"query": "users locked out after the SAML certificate expired", "k": 10})).structured_content["results"]
            check({"article", "record"} <= {m["kind"] for m in mixed}, f"mixed {mixed}")
            check(all(m["url"].startswith("https://") for m in mixed if m["kind"] == "record"), f"records link to HubSpot {mixed}")
            bad = await session.call_tool("semantic_search", {"query": "x", "k": 99})
            check(bad.is_error and "k: 99" in bad.content[0].text, f"error names the argument: {bad}")
            dups = await session.call_tool("find_duplicates", {"field": "email"})
            check(dups.structured_content is not None and "groups" in dups.structured_content, f"{dups}")

            # Every tool's real output against its declared output schema: the SDK validates
            # each (a missing required field, a wrong type), and no field goes undeclared.
            tools = {t.name: t for t in (await session.list_tools()).tools}
            found = await session.call_tool("search_objects", {"objectType": "contacts", "limit": 2, "properties": ["email"]})
            contact = found.structured_content["results"][0]["id"]
            company = (await session.call_tool("search_objects", {"objectType": "companies", "limit": 1})).structured_content["results"][0]["id"]
            samples = {
                "list_object_types": {},
                "describe_properties": {"objectType": "tickets"},
                "list_owners": {},
                "list_pipelines": {"objectType": "tickets"},
                "search_objects": {"objectType": "tickets", "query": "login", "limit": 3},
                "get_objects": {"objectType": "contacts", "ids": [contact, "999999999"], "history": ["firstname"]},
                "get_associations": {"objectType": "contacts", "ids": [contact], "toObjectType": "companies"},
                "create_objects": {"objectType": "contacts", "records": [{"properties": {"email": "schema@outputs.test", "firstname": "Schema"}}]},
                "update_objects": {"objectType": "contacts", "records": [{"id": contact, "properties": {"firstname": "Checked"}}]},
                "upsert_objects": {"objectType": "contacts", "idProperty": "email", "records": [{"id": "upsert@outputs.test", "properties": {"firstname": "Up"}}]},
                "associate_objects": {"objectType": "contacts", "id": contact, "toObjectType": "companies", "toId": company},
                "semantic_search": {"similarTo": f"contacts/{contact}", "k": 3},
                "find_duplicates": {"field": "email"},
            }
            check(set(tools) <= set(samples), f"a listed tool has no sample call: {set(tools) - set(samples)}")
            for name, tool in sorted(tools.items()):
                res = await session.call_tool(name, samples[name])
                check(not res.is_error, f"{name}: {res.content}")
                schema = tool.output_schema
                check(schema is not None and res.structured_content is not None, f"{name} has structured output")
                extra = undeclared(res.structured_content, schema, schema)
                check(not extra, f"{name} returns fields its output schema does not declare: {extra}")
            print(json.dumps({"tools": len(names), "top": results[0]["title"], "top_score": results[0]["score"], "articles": len(arts), "mixed_kinds": sorted({m["kind"] for m in mixed})}))


asyncio.run(main())
