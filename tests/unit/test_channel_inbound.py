"""Provider payloads → stored messages: the documented shapes of Meta's WhatsApp Cloud API, Slack's
Events API and Intercom's webhooks, the ones ignored, and malformed ones (parse refuses them)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from parity.conversations import inbound
from parity.conversations.inbound import Unparseable

# Meta's documented text-message notification (WhatsApp Cloud API webhooks reference), with the
# business-scoped user id Meta added in 2026.
WHATSAPP = {
    "object": "whatsapp_business_account",
    "entry": [{
        "id": "102290129340398",
        "changes": [{
            "field": "messages",
            "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
                "contacts": [{"profile": {"name": "Budi Santoso"}, "wa_id": "6281234567890", "user_id": "US.13491208655302741918"}],
                "messages": [{"from": "6281234567890", "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=",
                              "timestamp": "1795964400", "text": {"body": "Halo, saya mau 2 unit"}, "type": "text"}],
            },
        }],
    }],
}
SLACK = {
    "token": "XXYYZZ", "team_id": "T123ABC456", "api_app_id": "A123ABC456", "type": "event_callback",
    "event_id": "Ev123ABC456", "event_time": 1795964400,
    "event": {"type": "message", "channel": "C123ABC456", "user": "U123ABC456", "text": "Hello world",
              "ts": "1795964400.000200", "channel_type": "channel"},
}
INTERCOM_CREATED = {
    "type": "notification_event", "app_id": "abc123", "id": "notif_ccd8a4d0-f965-11e3-a367-c779cae3e1b3",
    "topic": "conversation.user.created", "created_at": 1795964401, "delivery_attempts": 1,
    "data": {"type": "notification_event_data", "item": {
        "type": "conversation", "id": "147", "created_at": 1795964400,
        "source": {"type": "conversation", "id": "403918320", "delivered_as": "customer_initiated",
                   "body": "<p>Hi, the <b>export</b> fails &amp; shows an error</p><p>Help?</p><script>x()</script>",
                   "author": {"type": "user", "id": "5310d8e8598c9a0b24000002", "name": "Ana Ruiz", "email": "Ana@Example.com"}},
    }},
}


def body(payload) -> bytes:
    return json.dumps(payload).encode()


def test_a_whatsapp_text_message_carries_its_sender_and_provider_time():
    delivery = inbound.parse("whatsapp", WHATSAPP, body(WHATSAPP))
    (message,) = delivery.messages
    assert message.provider_id.startswith("wamid.")
    assert (message.type, message.text, message.thread) == ("text", "Halo, saya mau 2 unit", "")
    assert message.created_at == datetime.fromtimestamp(1795964400, tz=timezone.utc)
    assert message.sender.user_id == "6281234567890" and message.sender.phone == "+6281234567890"
    assert message.sender.name == "Budi Santoso" and message.sender.scoped_id == "US.13491208655302741918"
    # Meta sends no delivery id: the body's digest is the dedupe id
    assert delivery.dedupe_id == inbound.body_digest(body(WHATSAPP))


def test_a_whatsapp_image_is_stored_as_its_type():
    payload = json.loads(json.dumps(WHATSAPP))
    payload["entry"][0]["changes"][0]["value"]["messages"][0] = {"from": "6281234567890", "id": "wamid.X", "timestamp": "1795964400", "type": "image", "image": {"id": "1"}}
    (message,) = inbound.parse("whatsapp", payload, body(payload)).messages
    assert (message.type, message.text) == ("image", "[image]")


def test_whatsapp_statuses_are_read():
    payload = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "statuses": [{"id": "wamid.OUT", "status": "delivered", "timestamp": "1795964500", "recipient_id": "6281234567890"},
                     {"id": "wamid.OUT2", "status": "failed", "timestamp": "1795964501", "errors": [{"code": 131047, "title": "Re-engagement message"}]}]}}]}]}
    delivery = inbound.parse("whatsapp", payload, body(payload))
    assert [(s.provider_id, s.status, s.error) for s in delivery.statuses] == [("wamid.OUT", "delivered", None), ("wamid.OUT2", "failed", "Re-engagement message")]
    assert delivery.messages == ()


def test_a_slack_message_is_one_per_thread():
    delivery = inbound.parse("slack", SLACK, body(SLACK))
    (message,) = delivery.messages
    assert delivery.dedupe_id == "slack:Ev123ABC456"
    assert (message.provider_id, message.thread, message.text) == ("1795964400.000200", "C123ABC456:1795964400.000200", "Hello world")
    threaded = {**SLACK, "event": {**SLACK["event"], "thread_ts": "1795960000.000100", "ts": "1795964500.000300"}}
    assert inbound.parse("slack", threaded, body(threaded)).messages[0].thread == "C123ABC456:1795960000.000100"


@pytest.mark.parametrize("event", [
    {"type": "message", "subtype": "message_changed", "channel": "C1", "ts": "1.0"},
    {"type": "message", "bot_id": "B1", "channel": "C1", "ts": "1.0", "text": "from a bot"},
    {"type": "reaction_added", "user": "U1"},
])
def test_slack_edits_bots_and_other_events_change_nothing(event):
    payload = {**SLACK, "event": event}
    delivery = inbound.parse("slack", payload, body(payload))
    assert delivery.messages == () and delivery.ignored


def test_slack_url_verification_is_answered_with_its_challenge():
    payload = {"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"}
    assert inbound.parse("slack", payload, body(payload)).challenge == payload["challenge"]


def test_an_intercom_conversation_is_reduced_to_text():
    delivery = inbound.parse("intercom", INTERCOM_CREATED, body(INTERCOM_CREATED))
    (message,) = delivery.messages
    assert delivery.dedupe_id == "intercom:notif_ccd8a4d0-f965-11e3-a367-c779cae3e1b3"
    assert message.text == "Hi, the export fails & shows an error\n\nHelp?"
    assert (message.thread, message.provider_id) == ("147", "403918320")
    assert (message.sender.user_id, message.sender.email, message.sender.name) == ("5310d8e8598c9a0b24000002", "ana@example.com", "Ana Ruiz")


def test_an_intercom_reply_is_its_newest_customer_part():
    item = {"type": "conversation", "id": "147", "conversation_parts": {"type": "conversation_part.list", "conversation_parts": [
        {"id": "1", "part_type": "comment", "created_at": 1795964500, "body": "<p>first</p>", "author": {"type": "user", "id": "u1"}},
        {"id": "2", "part_type": "comment", "created_at": 1795964600, "body": "<p>an agent</p>", "author": {"type": "admin", "id": "a1"}},
        {"id": "3", "part_type": "comment", "created_at": 1795964700, "body": "<p>newest</p>", "author": {"type": "user", "id": "u1"}},
    ]}}
    payload = {**INTERCOM_CREATED, "topic": "conversation.user.replied", "data": {"item": item}}
    (message,) = inbound.parse("intercom", payload, body(payload)).messages
    assert (message.provider_id, message.text) == ("3", "newest")


def test_an_intercom_ping_changes_nothing():
    payload = {"type": "notification_event", "id": "notif_1", "topic": "ping", "data": {"item": {"type": "ping"}}}
    assert inbound.parse("intercom", payload, body(payload)).ignored == "topic 'ping'"


@pytest.mark.parametrize("channel_type,payload", [
    ("whatsapp", {"entry": "nope"}),
    ("whatsapp", {"entry": [{"changes": [{"value": {"messages": [{"id": "wamid.1", "timestamp": "1"}]}}]}]}),
    ("whatsapp", {"entry": [{"changes": [{"value": {"messages": [{"from": "62812", "id": "wamid.1", "timestamp": "soon", "type": "text", "text": {"body": "x"}}]}}]}]}),
    ("slack", {"type": "event_callback", "event": {"type": "message"}}),
    ("slack", {"type": "url_verification"}),
    ("intercom", {"topic": "conversation.user.created"}),
    ("intercom", {"id": "n", "topic": "conversation.user.created", "data": {"item": {"id": "1"}}}),
    ("intercom", ["not", "an", "object"]),
])
def test_a_payload_not_in_the_providers_shape_is_unparseable(channel_type, payload):
    with pytest.raises(Unparseable):
        inbound.parse(channel_type, payload, body(payload))


def test_text_is_stored_safely():
    # NUL and other control characters go, line breaks stay, huge texts are cut
    assert inbound.clean_text("a\x00b\x07c\n\n\n\nd\u202e") == "abc\n\nd\u202e"
    cut = inbound.clean_text("x" * 10_000)
    assert len(cut) == inbound.MAX_TEXT_CHARS and cut.endswith("…")


@given(st.text(max_size=300))
def test_any_intercom_html_reduces_to_text_without_tags_or_control_characters(html):
    text = inbound.clean_text(inbound.html_text(html))
    assert "\x00" not in text and len(text) <= inbound.MAX_TEXT_CHARS
    assert "<p>" not in inbound.clean_text(inbound.html_text(f"<p>{html.replace('<', '')}</p>"))
