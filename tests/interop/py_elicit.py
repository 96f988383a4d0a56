"""Elicitation with the official Python SDK: a low-confidence proposal is confirmed, then another
is rejected, by answers given in the client; both answers reach the audit log.

Usage: py_elicit.py BINARY DATA_DIR
"""

import asyncio
import json
import os
import subprocess
import sys

from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client

BIN, DATA = sys.argv[1], sys.argv[2]
answers = []


async def on_elicit(context, params):
    answers.append(params.message)
    approve = len(answers) == 1
    return types.ElicitResult(action="accept", content={"approve": approve})


def check(cond, what):
    if not cond:
        raise SystemExit(f"expectation failed: {what}")


async def main():
    env = {**os.environ, "HUBSPOT_MCP_DATA_DIR": DATA, "HUBSPOT_MCP_SANDBOX__RECORDS__CONTACTS": "100"}
    params = StdioServerParameters(command=BIN, args=["serve", "--stdio", "--sandbox", "--toolsets", "discovery,read,write,governance"], env=env)
    async with stdio_client(params) as (r, w):
        async with ClientSession(r, w, elicitation_callback=on_elicit) as s:
            await s.initialize()
            found = await s.call_tool("search_objects", {"objectType": "tickets", "limit": 1})
            ticket = found.structured_content["results"][0]["id"]
            proposal = {"action": "set_priority", "objectType": "tickets", "recordId": ticket, "properties": {"hs_ticket_priority": "HIGH"}, "confidence": 0.4, "rationale": "Customer says the outage blocks payroll."}
            first = await s.call_tool("propose_action", proposal)
            check(not first.is_error, f"first: {first.content}")
            check(first.structured_content["decision"] == "applied", f"confirmed -> applied: {first.structured_content}")
            check(first.structured_content["decisionPath"][-1]["rule"] == "user_confirmation", "the answer is in the decision path")
            second = await s.call_tool("propose_action", {**proposal, "properties": {"hs_ticket_priority": "LOW"}})
            check(second.structured_content["decision"] == "rejected", f"rejected: {second.structured_content}")
            got = await s.call_tool("get_objects", {"objectType": "tickets", "ids": [ticket], "properties": ["hs_ticket_priority"]})
            check(got.structured_content["results"][0]["properties"]["hs_ticket_priority"] == "HIGH", "the confirmed change was applied, the rejected one not")
    check(len(answers) == 2 and "Confidence 0.40" in answers[0], f"the question shows the change and confidence: {answers}")
    export = subprocess.run([BIN, "audit", "export", "--jsonl"], env=env, capture_output=True, text=True, check=True).stdout
    gated = [json.loads(l) for l in export.splitlines() if '"propose_action"' in l]
    check(len(gated) == 2, f"two audited proposals: {len(gated)}")
    verdicts = [e["decision_path"][-1]["verdict"] for e in gated]
    check(verdicts == ["pass", "rejected"], f"audited answers {verdicts}")
    subprocess.run([BIN, "audit", "verify"], env=env, check=True, capture_output=True)
    print(json.dumps({"answers": len(answers), "verdicts": verdicts}))


asyncio.run(main())
