"""Confirmation over stateless HTTP with the official Python SDK.

A 2026-07-28 client (no session; every request carries its own `_meta`) is asked through an
input-required result: the question lists each record with its current and proposed values, a
decline writes nothing, an approval applies. An older client over the same stateless endpoint
cannot be asked: the change is handed off, nothing of it is written, and the result carries the
same per-record preview. The audit names each client.

Usage: py_confirm_http.py BINARY DATA_DIR
"""

import asyncio
import json
import os
import subprocess
import sys

from mcp import ClientSession, types
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

BIN, DATA = sys.argv[1], sys.argv[2]
TOKEN = "confirm-http-token"
questions = []
decisions = []


def check(cond, what):
    if not cond:
        raise SystemExit(f"expectation failed: {what}")


async def on_elicit(context, params):
    questions.append(params.message)
    approve = decisions.pop(0)
    if approve is None:
        return types.ElicitResult(action="decline")
    return types.ElicitResult(action="accept", content={"approve": approve})


def http():
    return create_mcp_http_client(headers={"Authorization": f"Bearer {TOKEN}"})


async def modern(url):
    """A 2026-07-28 client: asked through input-required rounds."""
    async with http() as h:
        async with Client(streamable_http_client(url, http_client=h), mode="2026-07-28", elicitation_callback=on_elicit, client_info=types.Implementation(name="modern-agent", version="7.1")) as c:
            deals = (await c.call_tool("search_objects", {"objectType": "deals", "limit": 2, "properties": ["dealname", "amount"]})).structured_content["results"]
            batch = [{"id": deals[0]["id"], "properties": {"amount": " 999999"}}, {"id": deals[1]["id"], "properties": {"dealname": "WIPE: closed lost, fraud", "amount": "1"}}]
            decisions.append(None)
            declined = await c.call_tool("update_objects", {"objectType": "deals", "records": batch, "confidence": 0.99, "rationale": "Quarter-end clean-up."})
            check(declined.is_error, f"declined -> an error result: {declined.content}")
            check(json.loads(declined.content[0].text)["decision"] == "rejected", f"rejected: {declined.content}")
            after = (await c.call_tool("get_objects", {"objectType": "deals", "ids": [d["id"] for d in deals], "properties": ["dealname", "amount"]})).structured_content["results"]
            by_id = {r["id"]: r["properties"] for r in after}
            for d in deals:
                check(by_id[d["id"]].get("amount") == d["properties"].get("amount") and by_id[d["id"]].get("dealname") == d["properties"].get("dealname"), f"declined: deal {d['id']} unchanged")
            q = questions[-1]
            for d in deals:
                check(f"deals {d['id']}:" in q, f"the question names deal {d['id']}: {q}")
            check(f'amount: "{deals[0]["properties"]["amount"]}" -> "999999"' in q, f"current and proposed amount: {q}")
            check(f'dealname: "{deals[1]["properties"]["dealname"]}" -> "WIPE: closed lost, fraud"' in q, f"current and proposed name: {q}")
            decisions.append(True)
            approved = await c.call_tool("update_objects", {"objectType": "deals", "records": batch[:1], "confidence": 0.99, "rationale": "The customer signed the big order."})
            check(not approved.is_error, f"approved -> applied: {approved.content}")
            got = (await c.call_tool("get_objects", {"objectType": "deals", "ids": [deals[0]["id"]], "properties": ["amount"]})).structured_content["results"][0]
            check(got["properties"]["amount"] == "999999", f"the approved amount was written as HubSpot stores it: {got}")
            return deals


async def legacy(url, deals):
    """A 2025-06-18 client over stateless HTTP: nobody can be asked; handed off, nothing written."""
    async with http() as h:
        async with streamable_http_client(url, http_client=h) as (r, w, *_):
            async with ClientSession(r, w, elicitation_callback=on_elicit) as s:
                await s.initialize()
                asked = len(questions)
                res = await s.call_tool("update_objects", {"objectType": "deals", "records": [{"id": deals[1]["id"], "properties": {"amount": "7e6"}}], "confidence": 0.99, "rationale": "Bulk fix."})
                check(res.is_error, f"handed off -> an error result: {res.content}")
                body = json.loads(res.content[0].text)
                check(body["decision"] == "handed_off", f"handed off: {body}")
                check(body["records"][0]["record"] == deals[1]["id"] and body["records"][0]["changes"][0]["proposed"] == "7000000", f"per-record preview: {body['records']}")
                check(len(questions) == asked, "a stateless legacy client is not asked")
                got = (await s.call_tool("get_objects", {"objectType": "deals", "ids": [deals[1]["id"]], "properties": ["amount"]})).structured_content["results"][0]
                check(got["properties"].get("amount") == deals[1]["properties"].get("amount"), f"nothing written: {got}")


async def main():
    env = {**os.environ, "HUBSPOT_MCP_DATA_DIR": DATA, "HUBSPOT_MCP_SANDBOX__RECORDS__CONTACTS": "100", "HUBSPOT_MCP_HANDOFF__REVIEW_OWNER_ID": "90000102"}
    server = subprocess.Popen([BIN, "serve", "--http", "127.0.0.1:0", "--sandbox", "--toolsets", "discovery,read,write,governance", "--http-token", TOKEN], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = server.stdout.readline().strip()
        check(url.startswith("http://127.0.0.1:"), f"the server prints its URL: {url!r}")
        deals = await modern(url)
        await legacy(url, deals)
    finally:
        server.terminate()
        server.wait(timeout=30)
    export = subprocess.run([BIN, "audit", "export", "--jsonl"], env=env, capture_output=True, text=True, check=True).stdout
    entries = [json.loads(l) for l in export.splitlines()]
    writes = [e for e in entries if e.get("tool") == "update_objects"]
    outcomes = [e["outcome"] for e in writes]
    check(outcomes.count("pending") == 2, f"each question is one audited input-required round: {outcomes}")
    clients = sorted({e["client"] for e in entries})
    check(any(c.startswith("modern-agent 7.1") for c in clients), f"the modern client is named: {clients}")
    check(not any(c.startswith("rmcp") for c in clients), f"never the server library's name: {clients}")
    verify = subprocess.run([BIN, "audit", "verify"], env=env, capture_output=True, text=True)
    check(verify.returncode == 0, f"audit verifies: {verify.stderr}")
    print(json.dumps({"questions": len(questions), "outcomes": outcomes, "clients": clients}))


asyncio.run(main())
