"""Conversations on ``parity local`` as a developer meets them: the seeded channels (printed on
stderr at start, listed at ``/_local/channels``), ``parity simulate`` posting a correctly signed
webhook from another process, the fake providers' sent log after an agent's reply, Parity's own
chat-history API as the stack's hub, and the snooze waker run on demand."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone

import boto3
from parity.conversations.store import conversation_sk
from parity.crm.store import company_pk

from .conftest import ROOT, stack_environment
from .helpers import conversation_with, customer_writes, eventually, login, new_wa_id, seeded_channel


def simulate(base_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``parity simulate …`` in a process of its own, against the running stack."""
    command = [sys.executable, "-m", "parity_dev", "simulate", *args, "--url", base_url]
    return subprocess.run(command, cwd=ROOT, env=stack_environment(), capture_output=True, text=True, timeout=60)


def test_the_first_company_gets_one_channel_of_each_type_listed_and_printed_on_stderr(http, companies, local_stack_dir):
    # GIVEN `parity local --company a:… --company b:…`
    listed = http.get("/_local/channels").json()["data"]
    # THEN the first company, and only it, has a WhatsApp, a Slack and an Intercom channel, with their dev secrets
    assert sorted((c["company_id"], c["type"]) for c in listed) == [("a", "intercom"), ("a", "slack"), ("a", "whatsapp")]
    assert all(c["secret"] and c["api_token"] and c["webhook_url"].endswith(f"/channels/{c['type']}/{c['id']}") for c in listed)
    # ... the company's own channels, as the API lists them (without secrets)
    shown = http.get("/api/v3.1/channels", headers=login(http, companies["a"])).json()["data"]
    assert sorted(c["id"] for c in shown) == sorted(c["id"] for c in listed)
    assert http.get("/api/v3.1/channels", headers=login(http, companies["b"])).json()["data"] == []
    # AND their ids and secrets were printed at start on stderr (stdout holds only the ready line:
    # the fixture checks that when it stops the stack)
    log = (local_stack_dir / "parity-local.log").read_text()
    for channel in listed:
        assert channel["id"] in log and channel["secret"] in log


def test_parity_simulate_posts_a_signed_webhook_and_the_customer_lands_in_a_conversation(http, local_stack, companies):
    auth = login(http, companies["a"])
    whatsapp, slack = seeded_channel(http, "whatsapp"), seeded_channel(http, "slack")
    sender = new_wa_id()
    # WHEN `parity simulate whatsapp` runs, finding the channel's secret on the stack
    done = simulate(local_stack, "whatsapp", "--channel", whatsapp["id"], "--from", sender, "--name", "Wulan", "--text", "Halo, stok masih ada?")
    # THEN Meta's payload was signed with the channel's app secret and taken
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"status": 200, "answer": {"status": "accepted"}}
    conversation = conversation_with(http, auth, f"+{sender}")
    assert (conversation["channel"]["id"], conversation["contact"]["name"], conversation["state"]) == (whatsapp["id"], "Wulan", "open")
    texts = eventually(lambda: [m["text"] for m in http.get(f"/api/v3.1/conversations/{conversation['id']}/messages", headers=auth).json()["data"]], timeout=5)
    assert texts == ["Halo, stok masih ada?"]
    # WHEN it signs with another secret THEN the webhook refuses it (401) and the command says so
    forged = simulate(local_stack, "slack", "--channel", slack["id"], "--from", "U0FORGED", "--text", "hi", "--secret", "not-the-signing-secret")
    assert forged.returncode == 1 and json.loads(forged.stdout)["status"] == 401
    # AND a channel the stack did not seed needs --secret
    unknown = simulate(local_stack, "intercom", "--channel", "ch_unknown", "--from", "u1", "--text", "hi")
    assert unknown.returncode == 2 and "--secret" in unknown.stderr


def test_an_agents_reply_goes_to_the_fake_provider_and_shows_in_its_sent_log(http, companies):
    auth = login(http, companies["a"])
    sender = new_wa_id()
    customer_writes(http, seeded_channel(http, "whatsapp"), sender, "Bisa kirim hari ini?")
    room = conversation_with(http, auth, f"+{sender}")["id"]
    text = f"Bisa, kami kirim sore ini ({uuid.uuid4().hex[:6]})"
    # WHEN an agent replies in the conversation
    queued = http.post(f"/api/v3.1/conversations/{room}/messages", headers=auth, json={"text": text, "sender_type": "agent", "sender_name": "Rina"})
    assert queued.status_code == 202 and queued.json()["data"]["status"] == "queued"
    # THEN WhatsApp's (fake) Cloud API got it, addressed to the customer, and the reply shows as sent
    sent = eventually(lambda: [s for s in http.get("/_local/providers/sent").json()["data"] if (s["body"] or {}).get("text", {}).get("body") == text], timeout=5)
    assert (sent[0]["provider"], sent[0]["body"]["to"], sent[0]["status"]) == ("whatsapp", sender, 200)
    reply = eventually(lambda: [m for m in http.get(f"/api/v3.1/conversations/{room}/messages", headers=auth).json()["data"] if m["status"] == "sent"], timeout=5)
    assert reply[0]["provider_id"] == sent[0]["answer"]["messages"][0]["id"]


def test_the_chat_history_is_parity_own_api_with_the_internal_token(http, companies):
    auth = login(http, companies["a"])
    sender = new_wa_id()
    customer_writes(http, seeded_channel(http, "whatsapp"), sender, "halo")
    room = conversation_with(http, auth, f"+{sender}")["id"]
    internal = {"Authorization": "Bearer parity-local-hub-token"}  # the local stack's HUB_API_TOKEN
    history = eventually(lambda: http.get(f"/api/open/v1/messages/rooms/{room}", headers=internal, params={"offset": 1, "limit": 100}).json()["data"], timeout=5)
    assert [(m["sender_type"], m["text"]) for m in history] == [("customer", "halo")]
    # ... and no stand-in hub answers for rooms Parity does not host, nor its dev routes
    assert http.get("/api/open/v1/messages/rooms/room-123", headers=internal).status_code == 404
    assert http.post("/_local/rooms/room-123/messages", headers=internal, json={"text": "x"}).status_code == 404


def test_a_snoozed_conversation_is_reopened_when_the_waker_runs(http, companies):
    auth = login(http, companies["a"])
    sender = new_wa_id()
    customer_writes(http, seeded_channel(http, "whatsapp"), sender, "nanti saja")
    room = conversation_with(http, auth, f"+{sender}")["id"]
    until = datetime.now(timezone.utc) + timedelta(seconds=1)
    snoozed = http.post(f"/api/v3.1/conversations/{room}/state", headers=auth, json={"state": "snoozed", "snoozed_until": until.isoformat()})
    assert snoozed.json()["data"]["state"] == "snoozed"
    time.sleep(max(0.0, (until - datetime.now(timezone.utc)).total_seconds()) + 0.2)
    # WHEN the waker's schedule is run now (on its own it runs every minute, so it may have just run too)
    ran = http.post("/_local/schedules/SnoozeWakerFunction/run")
    assert ran.status_code == 200 and ran.json()["data"][0]["status"] == "ok", ran.text
    # THEN the conversation is open in the store, not only in reads (which count a snooze that ran out as open)
    info = http.get("/_local/stack").json()
    dynamodb = boto3.client("dynamodb", endpoint_url=info["aws_endpoint_url"], region_name=info["region"], aws_access_key_id="testing", aws_secret_access_key="testing")
    stored = dynamodb.get_item(TableName=info["outputs"]["ConversationTableName"], Key={"pk": {"S": company_pk("a")}, "sk": {"S": conversation_sk(room)}}, ConsistentRead=True)["Item"]
    assert stored["state"]["S"] == "open" and "snoozed_until" not in stored
    (waker,) = [s for s in http.get("/_local/schedules").json()["data"] if s["function"] == "SnoozeWakerFunction"]
    assert waker["expression"] == "rate(1 minute)" and waker["next_run_at"]
    assert any(run["status"] == "ok" and run["result"]["woken"] >= 1 for run in waker["last_runs"])
