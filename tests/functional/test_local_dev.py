"""What the local stack adds beside the template's routes for developers, on the session's stack:
the seeded channels (``/_local/channels``), the simulated customer (``/_local/simulate``: each
provider's own payload, signed with the channel's secret, through the stack's own webhook), the
providers' fake send APIs and their sent log, and the template's schedules (the snooze waker
reopening a snoozed conversation). Reached over HTTP, as a developer or the console reaches them."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from parity.conversations.store import conversation_sk
from parity.crm.store import company_pk
from parity_dev.local_channels import SEEDED


@pytest.fixture
def http(local_stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=local_stack.base_url, timeout=20) as client:
        yield client


@pytest.fixture
def seeded(local_stack, company, wired) -> dict[str, Any]:
    """A fresh company with the local stack's three channels, as ``parity local`` seeds its first one."""
    made = company()
    channels = {c["type"]: c for c in local_stack.seed_channels(made.id)}
    return {"company": made, "auth": wired.login(made.api_key), "channels": channels}


def conversations(wired, auth) -> list[dict[str, Any]]:
    answer = wired.gateway.invoke("GET", "/api/v3.1/conversations", headers=auth)
    assert answer.status == 200, answer.text
    return answer.json()["data"]


def texts(wired, auth, room: str) -> list[str]:
    answer = wired.gateway.invoke("GET", f"/api/v3.1/conversations/{room}/messages", headers=auth)
    assert answer.status == 200, answer.text
    return [m["text"] for m in answer.json()["data"]]


# ---- seeded channels -----------------------------------------------------------------------------
def test_seeded_channels_are_made_by_the_channel_use_case_and_listed_with_their_secrets(seeded, http, wired, aws, local_stack):
    mine = seeded["channels"]
    # THEN one of each type, listed at /_local/channels with the fixed dev secrets and webhook URLs
    assert sorted(mine) == ["intercom", "slack", "whatsapp"]
    listed = {c["id"]: c for c in http.get("/_local/channels").json()["data"]}
    for kind, channel in mine.items():
        assert listed[channel["id"]] == channel
        assert channel["secret"] == SEEDED[kind]["secret"] and channel["api_token"] == SEEDED[kind]["api_token"]
        assert channel["webhook_url"] == f"{local_stack.base_url}/channels/{kind}/{channel['id']}"
    assert mine["whatsapp"]["verify_token"] == SEEDED["whatsapp"]["verify_token"]
    # AND they are the company's channels as the API shows them: never a secret there
    shown = wired.gateway.invoke("GET", "/api/v3.1/channels", headers=seeded["auth"]).json()["data"]
    assert sorted(c["id"] for c in shown) == sorted(c["id"] for c in mine.values())
    assert not any({"secret", "api_token", "verify_token"} & set(c) for c in shown)
    # AND their secrets are SecureStrings in SSM, as the API would have stored them
    stored = aws.client("ssm").get_parameter(Name=f"/parity/channels/{mine['slack']['id']}/secret", WithDecryption=True)["Parameter"]
    assert (stored["Type"], stored["Value"]) == ("SecureString", SEEDED["slack"]["secret"])
    # AND the WhatsApp handshake answers with the seeded verify token
    query = {"hub.mode": "subscribe", "hub.verify_token": SEEDED["whatsapp"]["verify_token"], "hub.challenge": "42"}
    assert http.get(f"/channels/whatsapp/{mine['whatsapp']['id']}", params=query).text == "42"


# ---- the simulated customer ------------------------------------------------------------------------
def test_a_simulated_customer_writes_on_each_provider_and_again_in_the_same_room(seeded, http, wired):
    channels, auth = seeded["channels"], seeded["auth"]
    # WHEN a customer writes on each channel, as each provider delivers it, a few seconds ago (WhatsApp
    # and Intercom stamp messages to the second: two in one second have no order of their own)
    sent = [
        http.post("/_local/simulate", json={"provider": "whatsapp", "channel_id": channels["whatsapp"]["id"], "from": "6281234567890", "name": "Budi", "text": "Halo", "at": "-5s"}),
        http.post("/_local/simulate", json={"provider": "slack", "channel_id": channels["slack"]["id"], "from": "U0BUDI", "text": "the export fails", "at": "-5s"}),
        http.post("/_local/simulate", json={"provider": "intercom", "channel_id": channels["intercom"]["id"], "from": "u-ana", "name": "Ana", "email": "ana@example.com", "text": "<p>Hi <b>team</b></p>", "at": "-5s"}),
    ]
    # THEN the stack's own webhook took each one (signed with the channel's secret)
    assert [(s.status_code, s.json()["data"]["webhook"]) for s in sent] == [(200, {"status": 200, "body": {"status": "accepted"}})] * 3
    assert sent[0].json()["data"]["payload"]["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] == SEEDED["whatsapp"]["account_id"]
    wired.drain()
    rooms = {c["channel"]["type"]: c for c in conversations(wired, auth)}
    assert sorted(rooms) == ["intercom", "slack", "whatsapp"]
    assert rooms["intercom"]["contact"]["email"] == "ana@example.com"
    # WHEN the customer of each room writes again, by room (the console's "customer writes" box)
    for room in rooms.values():
        again = http.post("/_local/simulate", json={"room_id": room["id"], "text": f"again on {room['channel']['type']}"})
        assert again.status_code == 200, again.text
    wired.drain()
    # THEN each lands in the same room: the WhatsApp contact's, the Slack thread, the Intercom conversation
    assert len(conversations(wired, auth)) == 3
    assert texts(wired, auth, rooms["whatsapp"]["id"]) == ["Halo", "again on whatsapp"]
    assert texts(wired, auth, rooms["slack"]["id"]) == ["the export fails", "again on slack"]
    assert texts(wired, auth, rooms["intercom"]["id"]) == ["Hi team", "again on intercom"]


def test_a_backdated_message_keeps_its_time(seeded, http, wired):
    http.post("/_local/simulate", json={"provider": "whatsapp", "channel_id": seeded["channels"]["whatsapp"]["id"], "from": "6281111111111", "text": "old", "at": "-25h"})
    wired.drain()
    (room,) = conversations(wired, seeded["auth"])
    written = datetime.fromisoformat(room["last_inbound_at"].replace("Z", "+00:00"))
    assert timedelta(hours=24, minutes=59) < datetime.now(timezone.utc) - written < timedelta(hours=25, minutes=1)


@pytest.mark.parametrize(("body", "status", "fields"), [
    ({"provider": "sms", "channel_id": "ch_x", "from": "1", "text": "x"}, 422, {"provider"}),
    ({"channel_id": "ch_x", "text": ""}, 422, {"provider", "from", "text"}),
    ({"room_id": "room_x", "text": "x", "from": "1"}, 422, {"from"}),
    ({"provider": "whatsapp", "channel_id": "ch_x", "from": "1", "text": "x", "at": "yesterday"}, 422, {"at"}),
    ({"provider": "whatsapp", "channel_id": "ch_nope", "from": "1", "text": "x"}, 404, set()),
    ({"room_id": "room_nope", "text": "x"}, 404, set()),
    ([1, 2], 422, {"body"}),
])
def test_a_bad_simulation_is_refused_naming_what_is_wrong(http, body, status, fields):
    answer = http.post("/_local/simulate", json=body)
    assert answer.status_code == status, answer.text
    assert {d["field"] for d in answer.json()["error"]["details"]} == fields
    assert http.post("/_local/simulate", content=b"{not json").status_code == 400
    assert http.get("/_local/simulate").status_code == 405


def test_a_channel_simulated_as_another_provider_is_refused(seeded, http):
    answer = http.post("/_local/simulate", json={"provider": "slack", "channel_id": seeded["channels"]["whatsapp"]["id"], "from": "U1", "text": "x"})
    assert answer.status_code == 422 and answer.json()["error"]["details"][0]["field"] == "provider"


# ---- the providers' fake send APIs ----------------------------------------------------------------
def test_a_reply_goes_to_the_fake_provider_mounted_on_the_stack_and_shows_in_its_sent_log(seeded, http, wired):
    http.post("/_local/simulate", json={"provider": "slack", "channel_id": seeded["channels"]["slack"]["id"], "from": "U0SARI", "text": "help", "thread": "1795964400.000200"})
    wired.drain()
    (room,) = conversations(wired, seeded["auth"])
    text = f"on it {uuid.uuid4().hex[:8]}"
    queued = wired.gateway.invoke("POST", f"/api/v3.1/conversations/{room['id']}/messages", headers=seeded["auth"], json={"text": text, "sender_type": "agent"})
    assert queued.status == 202, queued.text
    wired.drain()
    # THEN Slack's fake chat.postMessage got it, with the seeded bot token, in the customer's thread
    (sent,) = [s for s in http.get("/_local/providers/sent").json()["data"] if (s["body"] or {}).get("text") == text]
    assert (sent["provider"], sent["path"], sent["status"], sent["token_tail"]) == ("slack", "/api/chat.postMessage", 200, SEEDED["slack"]["api_token"][-4:])
    assert sent["body"] == {"channel": "C0FEEDBACK", "text": text, "thread_ts": "1795964400.000200"}
    reply = wired.gateway.invoke("GET", f"/api/v3.1/conversations/{room['id']}/messages", headers=seeded["auth"]).json()["data"][-1]
    assert (reply["status"], reply["provider_id"]) == ("sent", sent["answer"]["ts"])


# ---- schedules -------------------------------------------------------------------------------------------
def test_the_templates_schedules_are_read_from_the_translated_template(stack):
    (waker,) = [s for s in stack.schedules if s.function == "SnoozeWakerFunction"]
    assert (waker.kind, waker.expression, waker.enabled, waker.input) == ("events", "rate(1 minute)", True, None)
    assert waker.arn.startswith("arn:aws:events:us-east-1:123456789012:rule/parity-SnoozeWakerFunction")


def test_the_snooze_waker_reopens_a_snoozed_conversation_on_its_schedule(seeded, http, wired, local_stack, aws, stack):
    # GIVEN a conversation snoozed for a moment, and a tap on the bus for the company's events
    made, auth = seeded["company"], seeded["auth"]
    sqs, events_client = aws.client("sqs"), aws.client("events")
    queue = sqs.create_queue(QueueName=f"waker-tap-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = f"waker-tap-{uuid.uuid4().hex[:8]}"
    events_client.put_rule(Name=rule, EventBusName=stack.outputs["EventBusName"], EventPattern=json.dumps({"detail-type": ["conversation.state_changed"], "detail": {"company_id": [made.id]}}))
    events_client.put_targets(Rule=rule, EventBusName=stack.outputs["EventBusName"], Targets=[{"Id": "tap", "Arn": arn}])
    http.post("/_local/simulate", json={"provider": "whatsapp", "channel_id": seeded["channels"]["whatsapp"]["id"], "from": "6282222222222", "text": "call me later"})
    wired.drain()
    (room,) = conversations(wired, auth)
    until = datetime.now(timezone.utc) + timedelta(seconds=1)
    snoozed = wired.gateway.invoke("POST", f"/api/v3.1/conversations/{room['id']}/state", headers=auth, json={"state": "snoozed", "snoozed_until": until.isoformat()})
    assert snoozed.status == 200 and snoozed.json()["data"]["state"] == "snoozed"
    time.sleep(max(0.0, (until - datetime.now(timezone.utc)).total_seconds()) + 0.2)
    item = {"TableName": stack.outputs["ConversationTableName"], "Key": {"pk": {"S": company_pk(made.id)}, "sk": {"S": conversation_sk(room["id"])}}, "ConsistentRead": True}
    stored = aws.client("dynamodb").get_item(**item).get("Item")
    assert stored is not None and stored["state"]["S"] == "snoozed"  # reads show it open; the store does not yet
    # WHEN the scheduler's clock reaches the waker's next run (rate(1 minute))
    runs = local_stack.scheduler.tick(datetime.now(timezone.utc) + timedelta(minutes=1, seconds=1))
    # THEN the waker ran with EventBridge's scheduled event and reopened it, in the store, with its event
    (run,) = [r for r in runs if r["function"] == "SnoozeWakerFunction"]
    assert run["status"] == "ok" and run["result"]["woken"] >= 1
    assert aws.client("dynamodb").get_item(**item)["Item"]["state"]["S"] == "open"
    wired.drain()
    received = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])]
    assert (room["id"], "snoozed", "open") in [(e["detail"]["room_id"], e["detail"]["from"], e["detail"]["to"]) for e in received]
    # AND the run is listed with the schedule
    (listed,) = [s for s in http.get("/_local/schedules").json()["data"] if s["function"] == "SnoozeWakerFunction"]
    assert listed["expression"] == "rate(1 minute)" and run in listed["last_runs"]


def test_a_schedule_runs_now_when_asked_over_http(http):
    answer = http.post("/_local/schedules/SnoozeWakerFunction/run")
    assert answer.status_code == 200, answer.text
    (run,) = answer.json()["data"]
    assert run["manual"] and run["status"] == "ok" and "woken" in run["result"]
    missing = http.post("/_local/schedules/CreateDealFunction/run")
    assert missing.status_code == 404 and "SnoozeWakerFunction" in missing.json()["error"]["message"]


def test_the_functions_send_to_the_stacks_fake_providers_by_default(local_stack, runtime):
    sender = runtime.environment("MessageSenderFunction")
    assert sender["WHATSAPP_API_BASE_URL"] == f"{local_stack.base_url}/_fake/whatsapp"
    assert sender["SLACK_API_BASE_URL"] == f"{local_stack.base_url}/_fake/slack"
    assert sender["INTERCOM_API_BASE_URL"] == f"{local_stack.base_url}/_fake/intercom"
