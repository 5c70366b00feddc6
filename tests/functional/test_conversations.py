"""Conversations on the functional tier (contracts/conversations.md, route by route): channels and
their write-only secrets, the three signed webhooks, identity, conversations and their state, chat
history, replies to the providers, events, and another company's objects. Handlers on moto with the
resources of template.yaml, the whole pipeline running (``wired``). Over 400 lines: the contract
route by route in its order, so a reader checks it against contracts/conversations.md in one place."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from parity.conversations import signatures
from parity_dev.fake_providers import FakeProviders
from parity_dev.loopback import serve_mount

SECRETS = {"whatsapp": "meta-app-secret", "slack": "slack-signing-secret", "intercom": "intercom-client-secret"}


# ---- helpers -----------------------------------------------------------------------------------
@pytest.fixture
def providers(wired) -> Iterator[FakeProviders]:
    """The providers' send APIs, faked on loopback; the reply sender is pointed at them."""
    fake = FakeProviders()

    with serve_mount(fake.handle) as server, wired.setting(
        WHATSAPP_API_BASE_URL=f"{server.url}/_fake/whatsapp", SLACK_API_BASE_URL=f"{server.url}/_fake/slack",
        INTERCOM_API_BASE_URL=f"{server.url}/_fake/intercom", ALLOW_PRIVATE_TARGETS="true",
    ):
        yield fake


def channel(wired, auth, kind: str = "whatsapp", **extra: Any) -> dict[str, Any]:
    body = {"type": kind, "name": f"{kind} line", "secret": SECRETS[kind], "api_token": f"{kind}-token-1234", "account_id": {"whatsapp": "106540352242922", "slack": "T123ABC456", "intercom": "abc123"}[kind]}
    body.update({"whatsapp": {"verify_token": "verify-me", "default_region": "ID"}, "slack": {}, "intercom": {"admin_id": "814860"}}[kind])
    body.update(extra)
    made = wired.gateway.invoke("POST", "/api/v3.1/channels", headers=auth, json=body)
    assert made.status == 201, made.text
    return made.json()["data"]


def post(wired, ch: dict[str, Any], payload: Any, *, secret: str | None = None, headers: dict[str, str] | None = None, raw: bytes | None = None):
    body = raw if raw is not None else json.dumps(payload).encode()
    signed = signatures.SIGNERS[ch["type"]](body, secret or SECRETS[ch["type"]])
    return wired.gateway.invoke("POST", f"/channels/{ch['type']}/{ch['id']}", headers={"content-type": "application/json", **signed, **(headers or {})}, body=body)


def whatsapp_message(text: str, *, wa_id: str = "6281234567890", name: str = "Budi Santoso", at: datetime | None = None, wamid: str | None = None) -> dict[str, Any]:
    moment = at or datetime.now(timezone.utc)
    return {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"phone_number_id": "106540352242922"},
        "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
        "messages": [{"from": wa_id, "id": wamid or f"wamid.{uuid.uuid4().hex}", "timestamp": str(int(moment.timestamp())), "type": "text", "text": {"body": text}}]}}]}]}


def slack_message(text: str, *, user: str = "U123", channel_id: str = "C123", ts: str | None = None, thread_ts: str | None = None, event_id: str | None = None) -> dict[str, Any]:
    event = {"type": "message", "channel": channel_id, "user": user, "text": text, "ts": ts or f"{time.time():.6f}"}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return {"type": "event_callback", "team_id": "T123ABC456", "event_id": event_id or f"Ev{uuid.uuid4().hex[:10]}", "event": event}


def conversations(wired, auth, **query: str) -> list[dict[str, Any]]:
    answer = wired.gateway.invoke("GET", "/api/v3.1/conversations", headers=auth, query=query or None)
    assert answer.status == 200, answer.text
    return answer.json()["data"]


def messages(wired, auth, room: str) -> list[dict[str, Any]]:
    answer = wired.gateway.invoke("GET", f"/api/v3.1/conversations/{room}/messages", headers=auth)
    assert answer.status == 200, answer.text
    return answer.json()["data"]


# ---- channels ----------------------------------------------------------------------------------
def test_a_channel_is_made_listed_read_and_deleted_and_its_secrets_never_leave(wired, company, aws):
    auth = wired.login(company().api_key)
    made = channel(wired, auth, "intercom")
    # THEN the answer shows the channel and its webhook, never a secret
    assert made["id"].startswith("ch_") and made["webhook_url"].endswith(f"/channels/intercom/{made['id']}")
    assert not {"secret", "api_token", "verify_token"} & set(made) and SECRETS["intercom"] not in json.dumps(made)
    # AND the secrets are SecureStrings in SSM under the stack's prefix
    stored = aws.client("ssm").get_parameter(Name=f"/parity/channels/{made['id']}/secret", WithDecryption=True)["Parameter"]
    assert stored["Type"] == "SecureString" and stored["Value"] == SECRETS["intercom"]
    assert [c["id"] for c in wired.gateway.invoke("GET", "/api/v3.1/channels", headers=auth).json()["data"]] == [made["id"]]
    assert wired.gateway.invoke("GET", f"/api/v3.1/channels/{made['id']}", headers=auth).json()["data"] == made
    # WHEN it is deleted: THEN it is gone, and its webhook answers 404
    assert wired.gateway.invoke("DELETE", f"/api/v3.1/channels/{made['id']}", headers=auth).status == 204
    assert wired.gateway.invoke("GET", f"/api/v3.1/channels/{made['id']}", headers=auth).status == 404
    assert post(wired, made, {"id": "notif_1", "topic": "ping"}).status == 404


@pytest.mark.parametrize("body,fields", [
    ({"type": "sms"}, {"type", "name", "secret", "api_token", "account_id"}),
    ({"type": "whatsapp", "name": "x", "secret": "s", "api_token": "t", "account_id": "1"}, {"verify_token"}),
    ({"type": "intercom", "name": "x", "secret": "s", "api_token": "t", "account_id": "1"}, {"admin_id"}),
    ({"type": "slack", "name": "x", "secret": "s", "api_token": "t", "account_id": "1", "verify_token": "v"}, {"verify_token"}),
    ({"type": "whatsapp", "name": "x", "secret": "s", "api_token": "t", "account_id": "1", "verify_token": "v", "default_region": "XX"}, {"default_region"}),
])
def test_a_bad_channel_is_a_422_naming_its_fields_and_nothing_is_kept(wired, company, body, fields):
    auth = wired.login(company().api_key)
    answer = wired.gateway.invoke("POST", "/api/v3.1/channels", headers=auth, json=body)
    assert answer.status == 422 and {d["field"] for d in answer.json()["error"]["details"]} == fields
    assert wired.gateway.invoke("GET", "/api/v3.1/channels", headers=auth).json()["data"] == []


def test_another_companys_channel_is_a_404(wired, company):
    mine, theirs = wired.login(company().api_key), wired.login(company().api_key)
    made = channel(wired, theirs, "slack")
    for method in ("GET", "DELETE"):
        assert wired.gateway.invoke(method, f"/api/v3.1/channels/{made['id']}", headers=mine).status == 404
    assert wired.gateway.invoke("GET", "/api/v3.1/channels", headers=mine).json()["data"] == []


# ---- webhooks ----------------------------------------------------------------------------------
def test_the_whatsapp_handshake_echoes_the_challenge_only_for_the_verify_token(wired, company):
    made = channel(wired, wired.login(company().api_key))
    query = {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"}
    ok = wired.gateway.invoke("GET", f"/channels/whatsapp/{made['id']}", query=query)
    assert (ok.status, ok.text, ok.headers["content-type"]) == (200, "1158201444", "text/plain")
    assert wired.gateway.invoke("GET", f"/channels/whatsapp/{made['id']}", query={**query, "hub.verify_token": "guess"}).status == 403
    assert wired.gateway.invoke("GET", "/channels/whatsapp/ch_nope", query=query).status == 404


def test_a_customers_whatsapp_message_lands_in_a_conversation_with_their_contact(wired, company):
    auth = wired.login(company().api_key)
    made = channel(wired, auth)
    # WHEN a customer writes
    answer = post(wired, made, whatsapp_message("Halo, saya mau 2 unit"))
    assert answer.status == 200 and answer.json() == {"status": "accepted"}
    wired.drain()
    # THEN the conversation is there, open, with the customer as its contact
    (conversation,) = conversations(wired, auth)
    assert conversation["state"] == "open" and conversation["channel"]["type"] == "whatsapp"
    assert conversation["contact"]["name"] == "Budi Santoso" and conversation["contact"]["phone"] == "+6281234567890"
    # AND the message, as the customer wrote it
    (message,) = messages(wired, auth, conversation["id"])
    assert (message["direction"], message["sender_type"], message["text"], message["status"]) == ("inbound", "customer", "Halo, saya mau 2 unit", None)
    # AND the producers' phone lookup finds that same contact (RFC IB3)
    found = wired.gateway.invoke("GET", "/api/v3.1/contacts", headers=auth, query={"phone": "+62 812-3456-7890"}).json()["data"]
    assert [c["id"] for c in found] == [conversation["contact"]["id"]]


def test_a_redelivered_or_raced_message_is_stored_once(wired, company):
    auth = wired.login(company().api_key)
    made = channel(wired, auth)
    payload = whatsapp_message("once", wamid="wamid.SAME")
    # WHEN the provider delivers the same message 20 times at once, and once more later
    answers: list[int] = []
    threads = [threading.Thread(target=lambda: answers.append(post(wired, made, payload).status)) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [200] * 20
    assert post(wired, made, payload).status == 200
    wired.drain()
    # THEN one conversation holds one message
    (conversation,) = conversations(wired, auth)
    assert [m["provider_id"] for m in messages(wired, auth, conversation["id"])] == ["wamid.SAME"]


@pytest.mark.parametrize("how", ["unsigned", "wrong secret", "another channel's secret", "tampered"])
def test_a_delivery_not_signed_by_the_channel_is_a_401_and_nothing_is_stored(wired, company, how):
    auth = wired.login(company().api_key)
    made, other = channel(wired, auth), channel(wired, auth, "intercom")
    payload = whatsapp_message("forged")
    body = json.dumps(payload).encode()
    if how == "unsigned":
        answer = wired.gateway.invoke("POST", f"/channels/whatsapp/{made['id']}", headers={"content-type": "application/json"}, body=body)
    elif how == "wrong secret":
        answer = post(wired, made, payload, secret="not-the-secret")
    elif how == "another channel's secret":
        answer = post(wired, made, payload, secret=SECRETS["intercom"])
    else:
        signed = signatures.sign_whatsapp(body, SECRETS["whatsapp"])
        answer = wired.gateway.invoke("POST", f"/channels/whatsapp/{made['id']}", headers={"content-type": "application/json", **signed}, body=body.replace(b"forged", b"FORGED"))
    assert answer.status == 401, answer.text
    wired.drain()
    assert conversations(wired, auth) == [] and other


def test_slack_url_verification_stale_timestamps_and_retries(wired, company):
    auth = wired.login(company().api_key)
    made = channel(wired, auth, "slack")
    challenge = post(wired, made, {"type": "url_verification", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "token": "x"})
    assert challenge.status == 200 and challenge.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    # a timestamp more than 300 s old is a 401
    body = json.dumps(slack_message("old")).encode()
    stale = signatures.sign_slack(body, SECRETS["slack"], timestamp=int(time.time()) - 301)
    assert wired.gateway.invoke("POST", f"/channels/slack/{made['id']}", headers={"content-type": "application/json", **stale}, body=body).status == 401
    # a message and Slack's retry of it (same event_id, X-Slack-Retry-Num) are one message, in its thread
    message = slack_message("the export fails", ts="1795964400.000200", event_id="Ev1")
    assert post(wired, made, message).status == 200
    assert post(wired, made, message, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}).status == 200
    reply = slack_message("still failing", ts="1795964500.000300", thread_ts="1795964400.000200")
    assert post(wired, made, reply).status == 200
    wired.drain()
    (conversation,) = conversations(wired, auth)
    assert [m["text"] for m in messages(wired, auth, conversation["id"])] == ["the export fails", "still failing"]


def test_intercom_signs_with_sha1_and_its_html_is_stored_as_text(wired, company):
    auth = wired.login(company().api_key)
    made = channel(wired, auth, "intercom")
    notification = {"type": "notification_event", "id": f"notif_{uuid.uuid4().hex}", "topic": "conversation.user.created", "app_id": "abc123", "data": {"item": {
        "type": "conversation", "id": "147", "created_at": int(time.time()),
        "source": {"id": "403918320", "body": "<p>Hi <b>team</b> &amp; all<script>alert(1)</script></p>", "author": {"type": "user", "id": "u1", "name": "Ana", "email": "Ana@Example.com"}}}}}
    assert post(wired, made, {"type": "notification_event", "id": "notif_ping", "topic": "ping", "data": {"item": {}}}).status == 200
    assert post(wired, made, notification).status == 200
    wired.drain()
    (conversation,) = conversations(wired, auth)
    assert conversation["contact"]["email"] == "ana@example.com"
    assert [m["text"] for m in messages(wired, auth, conversation["id"])] == ["Hi team & all"]


def test_a_validly_signed_body_that_cannot_be_parsed_is_a_200_and_kept_in_the_ingest_dlq(wired, company, aws, stack):
    auth = wired.login(company().api_key)
    made = channel(wired, auth)
    marker = uuid.uuid4().hex
    answer = post(wired, made, None, raw=json.dumps({"entry": "not a list", "marker": marker}).encode())
    assert answer.status == 200
    wired.drain()
    sqs = aws.client("sqs")
    dlq = stack.outputs["IngestDLQUrl"]
    parked = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get("Messages", [])
    mine = [m for m in parked if marker in m["Body"]]
    assert mine and "list" in mine[0]["MessageAttributes"]["failure_reason"]["StringValue"]
    assert conversations(wired, auth) == []


# ---- identity ------------------------------------------------------------------------------------
def test_a_customer_on_two_channels_is_one_contact_by_email_but_never_two_identities_of_a_type(wired, company):
    auth = wired.login(company().api_key)
    intercom = channel(wired, auth, "intercom")
    first = {"type": "notification_event", "id": f"notif_{uuid.uuid4().hex}", "topic": "conversation.user.created", "app_id": "abc123", "data": {"item": {
        "type": "conversation", "id": "1", "created_at": int(time.time()), "source": {"id": "p1", "body": "<p>one</p>", "author": {"type": "user", "id": "u1", "name": "Ana", "email": "ana@example.com"}}}}}
    other_user = json.loads(json.dumps(first))
    other_user["id"] = f"notif_{uuid.uuid4().hex}"
    other_user["data"]["item"].update(id="2", source={"id": "p2", "body": "<p>two</p>", "author": {"type": "user", "id": "u2", "name": "Ana?", "email": "ana@example.com"}})
    assert post(wired, intercom, first).status == 200
    wired.drain()
    assert post(wired, intercom, other_user).status == 200
    wired.drain()
    contacts = {c["contact"]["id"] for c in conversations(wired, auth)}
    # THEN two Intercom users sharing an email are two contacts (a contact holds one identity of a type)
    assert len(contacts) == 2


def first_conversation(wired, company, text: str, **message: Any) -> tuple[dict, dict, dict]:
    """A new company's WhatsApp channel and a customer's first message on it, ``text``, handled:
    (the company's auth headers, the channel, the conversation the message opened)."""
    auth = wired.login(company().api_key)
    made = channel(wired, auth)
    post(wired, made, whatsapp_message(text, **message))
    wired.drain()
    (conversation,) = conversations(wired, auth)
    return auth, made, conversation


# ---- conversations, state, history ----------------------------------------------------------------
def test_a_channel_filter_no_channel_could_have_is_a_422_and_an_empty_one_is_no_filter(wired, company):
    auth, _, conversation = first_conversation(wired, company, "hello")

    def listed(channel_id):
        return wired.gateway.invoke("GET", "/api/v3.1/conversations", headers=auth, query={"channel_id": channel_id})

    # WHEN the filter is longer than any channel id (the document: 128; found by the fuzzer)
    too_long = listed("c" * 129)
    # THEN a 422 names channel_id
    assert too_long.status == 422 and [d["field"] for d in too_long.json()["error"]["details"]] == ["channel_id"]
    # AND an empty filter lists as no filter does
    assert [c["id"] for c in listed("").json()["data"]] == [conversation["id"]]


def test_the_state_machine_over_the_api(wired, company):
    auth, made, conversation = first_conversation(wired, company, "hello")
    room = conversation["id"]

    def state(body):
        return wired.gateway.invoke("POST", f"/api/v3.1/conversations/{room}/state", headers=auth, json=body)

    assert state({"state": "resolved"}).json()["data"]["state"] == "resolved"
    assert [c["id"] for c in conversations(wired, auth, state="resolved")] == [room]
    bad = state({"state": "snoozed"})
    assert bad.status == 422 and bad.json()["error"]["details"][0]["field"] == "snoozed_until"
    past = state({"state": "snoozed", "snoozed_until": (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat()})
    assert past.status == 422
    until = (datetime.now(timezone.utc) + timedelta(hours=2)).isoformat()
    snoozed = state({"state": "snoozed", "snoozed_until": until}).json()["data"]
    assert snoozed["state"] == "snoozed" and snoozed["snoozed_until"]
    # WHEN the customer writes again: THEN it reopens
    post(wired, made, whatsapp_message("are you there?"))
    wired.drain()
    assert wired.gateway.invoke("GET", f"/api/v3.1/conversations/{room}", headers=auth).json()["data"]["state"] == "open"
    assert state({"state": "closed"}).status == 422


def test_chat_history_is_served_as_hub_core_serves_it(wired, company, stack):
    auth = wired.login(company().api_key)
    made = channel(wired, auth)
    start = datetime.now(timezone.utc) - timedelta(minutes=10)
    for i in range(3):
        post(wired, made, whatsapp_message(f"message {i}", at=start + timedelta(minutes=i)))
    wired.drain()
    (conversation,) = conversations(wired, auth)
    room = conversation["id"]
    page = wired.gateway.invoke("GET", f"/api/open/v1/messages/rooms/{room}", headers=auth, query={"offset": "1", "limit": "2"}).json()["data"]
    # THEN the newest page first, oldest first within it
    assert [m["text"] for m in page] == ["message 1", "message 2"]
    assert set(page[0]) == {"id", "room_id", "sender_type", "sender_name", "text", "created_at"}
    second = wired.gateway.invoke("GET", f"/api/open/v1/messages/rooms/{room}", headers=auth, query={"offset": "2", "limit": "2"}).json()["data"]
    assert [m["text"] for m in second] == ["message 0"]
    # AND the internal hub token reads it too
    internal = {"Authorization": f"Bearer {wired.runtime.environment('AuthorizerFunction')['HUB_API_TOKEN']}"}
    assert len(wired.gateway.invoke("GET", f"/api/open/v1/messages/rooms/{room}", headers=internal).json()["data"]) == 3


def test_another_company_never_sees_a_conversation_its_messages_or_its_history(wired, company):
    mine, theirs = wired.login(company().api_key), wired.login(company().api_key)
    made = channel(wired, theirs)
    post(wired, made, whatsapp_message("private"))
    wired.drain()
    (conversation,) = conversations(wired, theirs)
    room = conversation["id"]
    assert conversations(wired, mine) == []
    for method, path, body in [("GET", f"/api/v3.1/conversations/{room}", None), ("GET", f"/api/v3.1/conversations/{room}/messages", None),
                               ("POST", f"/api/v3.1/conversations/{room}/state", {"state": "resolved"}), ("POST", f"/api/v3.1/conversations/{room}/messages", {"text": "x", "sender_type": "agent"}),
                               ("GET", f"/api/open/v1/messages/rooms/{room}", None)]:
        answer = wired.gateway.invoke(method, path, headers=mine, json=body) if body else wired.gateway.invoke(method, path, headers=mine)
        assert answer.status == 404, (method, path, answer.text)


# ---- replies -------------------------------------------------------------------------------------
def test_a_reply_is_queued_then_sent_once_to_the_provider(wired, company, providers):
    auth, made, conversation = first_conversation(wired, company, "halo")
    headers = {**auth, "Idempotency-Key": f"reply-{uuid.uuid4().hex}"}
    queued = wired.gateway.invoke("POST", f"/api/v3.1/conversations/{conversation['id']}/messages", headers=headers, json={"text": "Baik, kami kirim penawaran", "sender_type": "agent", "sender_name": "Sari"})
    assert queued.status == 202 and queued.json()["data"]["status"] == "queued"
    again = wired.gateway.invoke("POST", f"/api/v3.1/conversations/{conversation['id']}/messages", headers=headers, json={"text": "Baik, kami kirim penawaran", "sender_type": "agent", "sender_name": "Sari"})
    assert again.status == 202 and again.headers["idempotent-replayed"] == "true" and again.json() == queued.json()
    wired.drain()
    (sent,) = providers.sent("whatsapp")
    assert sent["path"] == "/v21.0/106540352242922/messages" and sent["token_tail"] == "1234"
    assert sent["body"] == {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "6281234567890", "type": "text", "text": {"body": "Baik, kami kirim penawaran", "preview_url": False}}
    reply = [m for m in messages(wired, auth, conversation["id"]) if m["direction"] == "outbound"]
    assert [(m["status"], m["provider_id"]) for m in reply] == [("sent", sent["answer"]["messages"][0]["id"])]


def test_a_provider_that_rate_limits_then_accepts_gets_the_reply_once(wired, company, providers):
    auth = wired.login(company().api_key)
    made = channel(wired, auth, "slack")
    post(wired, made, slack_message("help", ts="1795964400.000200"))
    wired.drain()
    (conversation,) = conversations(wired, auth)
    providers.fail("slack", 429, times=1, retry_after=0)
    assert wired.gateway.invoke("POST", f"/api/v3.1/conversations/{conversation['id']}/messages", headers=auth, json={"text": "on it", "sender_type": "bot"}).status == 202
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not [s for s in providers.sent("slack") if s["status"] == 200]:
        wired.drain(timeout=5)
        time.sleep(0.5)
    attempts = providers.sent("slack")
    assert [a["status"] for a in attempts] == [429, 200]
    assert attempts[1]["body"] == {"channel": "C123", "text": "on it", "thread_ts": "1795964400.000200"}


def test_a_final_refusal_fails_the_reply_and_parks_it_in_the_delivery_dlq(wired, company, providers, aws, stack):
    auth = wired.login(company().api_key)
    made = channel(wired, auth, "intercom")
    notification = {"type": "notification_event", "id": f"notif_{uuid.uuid4().hex}", "topic": "conversation.user.created", "app_id": "abc123", "data": {"item": {
        "type": "conversation", "id": "999", "created_at": int(time.time()), "source": {"id": "p", "body": "<p>hi</p>", "author": {"type": "user", "id": "u9", "name": "Lee"}}}}}
    post(wired, made, notification)
    wired.drain()
    (conversation,) = conversations(wired, auth)
    providers.fail("intercom", 404, times=1)
    assert wired.gateway.invoke("POST", f"/api/v3.1/conversations/{conversation['id']}/messages", headers=auth, json={"text": "hello", "sender_type": "agent"}).status == 202
    wired.drain()
    (reply,) = [m for m in messages(wired, auth, conversation["id"]) if m["direction"] == "outbound"]
    assert reply["status"] == "failed"
    assert len(providers.sent("intercom")) == 1  # never retried: a 4xx other than 429 is final


def test_free_text_outside_the_whatsapp_window_is_a_422_naming_template(wired, company, providers):
    auth, made, conversation = first_conversation(wired, company, "old message", at=datetime.now(timezone.utc) - timedelta(hours=25))
    refused = wired.gateway.invoke("POST", f"/api/v3.1/conversations/{conversation['id']}/messages", headers=auth, json={"text": "late", "sender_type": "agent"})
    assert refused.status == 422 and refused.json()["error"]["code"] == "outside_customer_service_window"
    assert refused.json()["error"]["details"][0]["field"] == "template"
    template = {"sender_type": "bot", "template": {"name": "order_update", "language": "id", "parameters": ["Budi"]}}
    assert wired.gateway.invoke("POST", f"/api/v3.1/conversations/{conversation['id']}/messages", headers=auth, json=template).status == 202
    wired.drain()
    (sent,) = providers.sent("whatsapp")
    assert sent["body"]["type"] == "template" and sent["body"]["template"]["name"] == "order_update"


# ---- the bus and the note ------------------------------------------------------------------------
def test_events_reach_the_bus_without_texts(wired, company, aws, stack):
    made_company = company()
    auth = wired.login(made_company.api_key)
    events_client, sqs = aws.client("events"), aws.client("sqs")
    bus = stack.outputs["EventBusName"]
    queue = sqs.create_queue(QueueName=f"bus-tap-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = f"tap-{uuid.uuid4().hex[:8]}"
    events_client.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps({"source": ["parity.conversations"], "detail": {"company_id": [made_company.id]}}))
    events_client.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "tap", "Arn": arn}])
    made = channel(wired, auth)
    post(wired, made, whatsapp_message("secret text 0812-9999-8888"))
    wired.drain()
    received = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])]
    kinds = sorted(e["detail-type"] for e in received)
    assert kinds == ["contact.identity_linked", "conversation.created", "message.received"]
    assert "secret text" not in json.dumps(received) and "0812" not in json.dumps(received)


def test_a_bots_deal_from_the_conversation_gets_a_note_with_what_the_customer_wrote(wired, company):
    auth, made, conversation = first_conversation(wired, company, "Tolong kirim penawaran ke budi@example.com ya")
    deal = wired.create(auth, room=conversation["id"], contact_id=conversation["contact"]["id"])
    wired.drain()
    (note,) = wired.notes(auth, deal)
    assert note["preview_status"] == "ok" and note["preview"][-1]["text"] == "Tolong kirim penawaran ke b***@example.com ya"
    assert deal["contact_ids"] == [conversation["contact"]["id"]]
