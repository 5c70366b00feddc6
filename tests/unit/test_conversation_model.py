"""The conversation state machine, the WhatsApp window, and the outbound schedule and answers."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from parity.conversations import model, outbound
from parity.conversations.model import Conversation, InvalidState

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)


def conversation(**changes) -> Conversation:
    base = Conversation(id="room_1", company_id="co", channel_id="ch_1", channel_type="whatsapp", contact_id="c1", thread="",
                        state="open", created_at=T0, state_changed_at=T0)
    return dataclasses.replace(base, **changes) if changes else base


def test_agents_may_move_a_conversation_to_any_state():
    for state in model.STATES:
        until = T0 + timedelta(hours=1) if state == "snoozed" else None
        changed = model.change_state(conversation(state="pending"), state, until, now=T0)
        assert changed is None if state == "pending" else changed.state == state


@pytest.mark.parametrize("until,field", [(None, "snoozed_until"), (T0, "snoozed_until"), (T0 - timedelta(seconds=1), "snoozed_until"), (T0 + timedelta(days=400), "snoozed_until")])
def test_a_snooze_needs_a_future_time(until, field):
    with pytest.raises(InvalidState) as refused:
        model.change_state(conversation(), "snoozed", until, now=T0)
    assert refused.value.field == field


def test_an_unknown_state_or_a_time_without_a_snooze_is_refused():
    with pytest.raises(InvalidState, match="must be one of"):
        model.change_state(conversation(), "closed", None, now=T0)
    with pytest.raises(InvalidState) as refused:
        model.change_state(conversation(), "open", T0 + timedelta(hours=1), now=T0)
    assert refused.value.field == "snoozed_until"


@pytest.mark.parametrize("state", ["resolved", "snoozed"])
def test_a_customer_message_reopens_a_resolved_or_snoozed_conversation(state):
    closed = conversation(state=state, snoozed_until=T0 + timedelta(hours=5) if state == "snoozed" else None, state_changed_at=T0)
    after = model.on_customer_message(closed, T0 + timedelta(minutes=1), now=T0 + timedelta(minutes=1))
    assert (after.state, after.snoozed_until, after.last_inbound_at) == ("open", None, T0 + timedelta(minutes=1))


def test_a_late_delivery_older_than_the_resolution_does_not_reopen():
    resolved = conversation(state="resolved", state_changed_at=T0, last_inbound_at=T0 - timedelta(hours=1), last_message_at=T0 - timedelta(hours=1))
    after = model.on_customer_message(resolved, T0 - timedelta(minutes=30), now=T0 + timedelta(minutes=5))
    assert after.state == "resolved" and after.last_inbound_at == T0 - timedelta(minutes=30)


def test_a_pending_conversation_stays_with_its_bot():
    assert model.on_customer_message(conversation(state="pending"), T0, now=T0).state == "pending"


def test_a_snooze_past_its_time_reads_as_open():
    snoozed = conversation(state="snoozed", snoozed_until=T0 + timedelta(hours=1))
    assert model.effective_state(snoozed, T0) == "snoozed"
    assert model.effective_state(snoozed, T0 + timedelta(hours=1)) == "open"


def test_activity_times_only_move_forward():
    times = [T0 + timedelta(minutes=m) for m in (5, 1, 9, 3)]
    current = conversation()
    for moment in times:
        current = model.on_customer_message(current, moment, now=T0 + timedelta(hours=1))
    assert current.last_inbound_at == current.last_message_at == max(times)


def test_the_whatsapp_window_is_24_hours_from_the_last_inbound_message():
    assert not model.whatsapp_window_open(conversation(), T0)
    wrote = conversation(last_inbound_at=T0)
    assert model.whatsapp_window_open(wrote, T0 + timedelta(hours=23, minutes=59))
    assert not model.whatsapp_window_open(wrote, T0 + timedelta(hours=24))


# ---- outbound ---------------------------------------------------------------------------------------
def test_the_schedule_is_1_4_15_60_then_every_5_minutes_until_24_hours():
    delays = []
    now, attempt = T0, 1
    while (delay := outbound.next_delay(attempt, first_attempt_at=T0, now=now)) is not None:
        delays.append(delay)
        now += timedelta(seconds=delay)
        attempt += 1
    assert delays[:5] == [1, 4, 15, 60, 300] and set(delays[4:]) == {300}
    assert now <= T0 + timedelta(hours=24) < now + timedelta(seconds=300)


def test_retry_after_is_honoured():
    assert outbound.next_delay(1, first_attempt_at=T0, now=T0, retry_after=30) == 30
    assert outbound.next_delay(1, first_attempt_at=T0, now=T0, retry_after=0) == 1


@pytest.mark.parametrize("channel_type,status,body,accepted,final,provider_id", [
    ("whatsapp", 200, {"messaging_product": "whatsapp", "contacts": [{"input": "62812", "wa_id": "62812"}], "messages": [{"id": "wamid.OUT"}]}, True, False, "wamid.OUT"),
    ("whatsapp", 400, {"error": {"message": "(#131047) Re-engagement message", "code": 131047}}, False, True, None),
    ("whatsapp", 429, {}, False, False, None),
    ("whatsapp", 503, {}, False, False, None),
    ("slack", 200, {"ok": True, "channel": "C1", "ts": "1795964400.000300"}, True, False, "1795964400.000300"),
    ("slack", 200, {"ok": False, "error": "channel_not_found"}, False, True, None),
    ("slack", 200, {"ok": False, "error": "ratelimited"}, False, False, None),
    ("intercom", 200, {"type": "conversation", "id": "147", "conversation_parts": {"conversation_parts": [{"id": "9001"}]}}, True, False, "9001"),
    ("intercom", 404, {"type": "error.list", "errors": [{"code": "not_found", "message": "Resource Not Found"}]}, False, True, None),
])
def test_provider_answers_are_read_as_the_providers_mean_them(channel_type, status, body, accepted, final, provider_id):
    answer = outbound.read_answer(channel_type, status, body)
    assert (answer.accepted, answer.final, answer.provider_id) == (accepted, final, provider_id)


def test_no_answer_is_retried():
    answer = outbound.read_answer("whatsapp", None, None, problem="timed out")
    assert not answer.accepted and not answer.final and answer.error == "timed out"


def test_each_provider_gets_its_own_request_shape():
    wa = outbound.request_for("whatsapp", "https://graph.facebook.com", api_token="T", account_id="106540352242922", thread="", recipient="6281234567890", admin_id=None, text="Halo", template=None)
    assert wa.url == "https://graph.facebook.com/v21.0/106540352242922/messages"
    assert wa.body == {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "6281234567890", "type": "text", "text": {"body": "Halo", "preview_url": False}}
    tpl = outbound.request_for("whatsapp", "https://x", api_token="T", account_id="1", thread="", recipient="62", admin_id=None, text=None, template=outbound.Template("fixed", "id", ("Budi",)))
    assert tpl.body["template"] == {"name": "fixed", "language": {"code": "id"}, "components": [{"type": "body", "parameters": [{"type": "text", "text": "Budi"}]}]}
    slack = outbound.request_for("slack", "https://slack.com", api_token="xoxb", account_id="T1", thread="C1:1795960000.000100", recipient=None, admin_id=None, text="hi", template=None)
    assert (slack.url, slack.body) == ("https://slack.com/api/chat.postMessage", {"channel": "C1", "text": "hi", "thread_ts": "1795960000.000100"})
    intercom = outbound.request_for("intercom", "https://api.intercom.io", api_token="dG9r", account_id="app", thread="147", recipient=None, admin_id="814860", text="hello", template=None)
    assert intercom.url == "https://api.intercom.io/conversations/147/reply"
    assert intercom.body == {"message_type": "comment", "type": "admin", "admin_id": "814860", "body": "hello"}
    assert all(r.headers["Authorization"].startswith("Bearer ") for r in (wa, slack, intercom))


@given(st.lists(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(timezone.utc)), min_size=1, max_size=8))
def test_any_order_of_messages_leaves_the_newest_times(moments):
    current = conversation(created_at=datetime(2025, 1, 1, tzinfo=timezone.utc), state_changed_at=datetime(2025, 1, 1, tzinfo=timezone.utc))
    for moment in moments:
        current = model.on_customer_message(current, moment, now=max(moments))
    assert current.last_inbound_at == max(moments) and current.state == "open"


def test_a_snooze_that_ran_out_is_woken_open_and_nothing_else_is():
    snoozed = conversation(state="snoozed", snoozed_until=T0 + timedelta(hours=1))
    assert model.wake(snoozed, T0) is None
    woken = model.wake(snoozed, T0 + timedelta(hours=1))
    assert (woken.state, woken.snoozed_until, woken.version) == ("open", None, 2)
    assert model.wake(conversation(state="resolved"), T0 + timedelta(days=9)) is None
