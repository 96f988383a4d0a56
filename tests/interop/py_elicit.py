"""Elicitation with the official Python SDK: a low-confidence proposal is confirmed, then another
is rejected, by answers given in the client; both answers reach the audit log. A gated batch of
two deal updates asks with each record's id and each property's current and proposed value, and
when it is declined nothing is written. An archive asks every time: declined, the contact stays;
approved, it is archived; both decisions reach the audit log.

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
    if len(answers) in (3, 4):
        return types.ElicitResult(action="decline")
    approve = len(answers) in (1, 5)
    return types.ElicitResult(action="accept", content={"approve": approve})


def check(cond, what):
    if not cond:
        raise SystemExit(f"expectation failed: {what}")


async def main():
    env = {**os.environ, "HUBSPOT_MCP_DATA_DIR": DATA, "HUBSPOT_MCP_SANDBOX__RECORDS__CONTACTS": "100", "HUBSPOT_MCP_HANDOFF__REVIEW_OWNER_ID": "90000102"}
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
            deals = (await s.call_tool("search_objects", {"objectType": "deals", "limit": 2, "properties": ["dealname", "amount"]})).structured_content["results"]
            batch = [{"id": deals[0]["id"], "properties": {"amount": " 999999"}}, {"id": deals[1]["id"], "properties": {"dealname": "WIPE: closed lost, fraud", "amount": "1"}}]
            third = await s.call_tool("update_objects", {"objectType": "deals", "records": batch, "confidence": 0.99, "rationale": "Quarter-end clean-up."})
            check(third.is_error, f"declined -> an error result: {third.content}")
            after = (await s.call_tool("get_objects", {"objectType": "deals", "ids": [d["id"] for d in deals], "properties": ["dealname", "amount"]})).structured_content["results"]
            by_id = {r["id"]: r["properties"] for r in after}
            for d in deals:
                check(by_id[d["id"]].get("amount") == d["properties"].get("amount") and by_id[d["id"]].get("dealname") == d["properties"].get("dealname"), f"declined: deal {d['id']} unchanged")
            q = answers[2]
            for d in deals:
                check(f"deals {d['id']}:" in q, f"the question names deal {d['id']}: {q}")
            check(f'amount: "{deals[0]["properties"]["amount"]}" -> "999999"' in q, f"current and proposed amount of the first deal: {q}")
            check(f'dealname: "{deals[1]["properties"]["dealname"]}" -> "WIPE: closed lost, fraud"' in q, f"current and proposed name of the second deal: {q}")
            contact = (await s.call_tool("search_objects", {"objectType": "contacts", "limit": 1})).structured_content["results"][0]["id"]
            archive = {"objectType": "contacts", "ids": [contact], "rationale": "Test contact created by mistake."}
            declined = await s.call_tool("archive_objects", archive)
            check(declined.is_error and declined.structured_content["decision"] == "rejected", f"declined archive: {declined.content}")
            still = await s.call_tool("get_objects", {"objectType": "contacts", "ids": [contact]})
            check(still.structured_content["missing"] == [], "a declined archive leaves the contact")
            approved = await s.call_tool("archive_objects", archive)
            check(not approved.is_error and approved.structured_content["archived"] == [contact], f"approved archive: {approved.content}")
            gone = await s.call_tool("get_objects", {"objectType": "contacts", "ids": [contact]})
            check(gone.structured_content["missing"] == [contact], f"the approved archive archived it: {gone.structured_content}")
            check("ARCHIVE 1 contacts record(s): " + contact in answers[3] and "created by mistake" in answers[3], f"the question names the record and the reason: {answers[3]}")
    check(len(answers) == 5 and "Confidence 0.40" in answers[0], f"the question shows the change and confidence: {answers}")
    check(f"tickets {ticket}:" in answers[0] and '-> "HIGH"' in answers[0], f"the question shows the record and its proposed value: {answers[0]}")
    export = subprocess.run([BIN, "audit", "export", "--jsonl"], env=env, capture_output=True, text=True, check=True).stdout
    gated = [json.loads(l) for l in export.splitlines() if '"propose_action"' in l or '"update_objects"' in l]
    check(len(gated) == 3, f"three audited gated calls: {len(gated)}")
    verdicts = [e["decision_path"][-1]["verdict"] for e in gated]
    check(verdicts == ["pass", "rejected", "rejected"], f"audited answers {verdicts}")
    archives = [json.loads(l) for l in export.splitlines() if '"archive_objects"' in l]
    archive_verdicts = [(e["outcome"].split(":")[0], e["decision_path"][-1]["verdict"]) for e in archives]
    check(archive_verdicts == [("refused", "rejected"), ("ok", "pass")], f"audited archives {archive_verdicts}")
    subprocess.run([BIN, "audit", "verify"], env=env, check=True, capture_output=True)
    print(json.dumps({"answers": len(answers), "verdicts": verdicts, "archives": archive_verdicts}))


asyncio.run(main())
