"""How feedback meets the other capabilities, pure: the CRM's ``ticket.changed``, the
conversations' events for a requested reply, a reply's attempt limit, reply requests refused, and
a notification's outcomes arriving in any order (``parity.feedback.service.on_delivery``)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from parity.conversations import delivery, outbox, requests
from parity.core.clock import Clock, parse_delays
from parity.core.errors import IdempotencyKeyReused, NotFound, ServiceUnavailable
from parity.core.outbound import Exchange
from parity.crm import changes
from parity.feedback import service

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=timezone.utc)


# ---- the CRM's ticket.changed ----------------------------------------------------------------------
def _ticket(**fields: Any) -> dict[str, Any]:
    return {"entity": "record", "type": "ticket", "company_id": "c1", "id": "t1", "version": 2, "status": "open", "name": "n", "updated_at": "2026-11-29T09:00:00.000Z", **fields}


def test_a_ticket_status_category_or_priority_change_is_published_without_text():
    (event,) = changes.decide("s1", _ticket(version=1), _ticket(status="resolved", name="secret name"))
    assert event["event"] == "ticket.changed" and (event["from_status"], event["status"], event["version"]) == ("open", "resolved", 2)
    assert "secret name" not in str(event)
    assert changes.decide("s1", _ticket(version=1), _ticket(status="resolved"))[0]["event_id"] == event["event_id"]  # a redelivery: the same id
    assert changes.decide("s2", _ticket(), _ticket(category="bug"))[0]["category"] == "bug"


@pytest.mark.parametrize("old,new", [
    (_ticket(), _ticket(name="renamed")),                      # no watched field changed
    (None, _ticket()),                                         # a create (feedback made it)
    (_ticket(), None),                                         # a delete
    (_ticket(type="deal"), _ticket(type="deal", status="won")),  # a deal
    ({"entity": "contact"}, {"entity": "contact", "status": "x"}),
])
def test_other_changes_publish_nothing(old, new):
    assert changes.decide("s1", old, new) == []


# ---- the conversations' events for a requested reply ------------------------------------------------
def _reply(**fields: Any) -> dict[str, Any]:
    return {"entity": "message", "company_id": "c1", "room_id": "r1", "id": "m1", "channel_id": "ch1", "direction": "outbound",
            "created_at": "2026-11-29T09:00:00.000Z", "status": "queued", "attempts": 0, "reference": "feedback:t1:ntf_1", **fields}


def test_a_requested_replys_events_carry_its_reference_attempts_and_a_masked_error():
    (retry,) = outbox.decide("e1", _reply(), _reply(attempts=1, last_error="user +62 812 3456 7890 not reachable"), now_iso="x").events
    assert retry["event"] == "message.attempt_failed" and retry["attempt"] == 1 and retry["reference"] == "feedback:t1:ntf_1"
    assert "3456" not in retry["error"]
    assert outbox.decide("e2", _reply(attempts=1), _reply(attempts=1, last_error="again"), now_iso="x").events == []  # not counted twice
    (sent,) = outbox.decide("e3", _reply(attempts=1), _reply(status="sent", attempts=2), now_iso="x").events
    assert (sent["event"], sent["attempts"], sent["reference"]) == ("message.sent", 2, "feedback:t1:ntf_1")
    (failed,) = outbox.decide("e4", _reply(attempts=4), _reply(status="failed", attempts=5, last_error="503"), now_iso="x").events
    assert (failed["event"], failed["attempts"], failed["error"]) == ("message.failed", 5, "503")


def test_a_message_received_says_its_channels_type_and_purpose():
    message = {"entity": "message", "company_id": "c1", "room_id": "r1", "id": "m1", "channel_id": "ch1", "direction": "inbound", "contact_id": "k1",
               "created_at": "2026-11-29T09:00:00.000Z", "channel_type": "slack", "channel_purpose": "feedback", "text": "secret words"}
    (event,) = outbox.decide("e1", None, message, now_iso="x").events
    assert (event["channel_type"], event["channel_purpose"]) == ("slack", "feedback") and "secret words" not in str(event)


# ---- a reply's attempt limit ----------------------------------------------------------------------
class Replies:
    def __init__(self, message: dict[str, Any]) -> None:
        self.stored, self.noted, self.statuses = message, [], []

    def message(self, *_: Any) -> dict[str, Any]:
        return self.stored

    def conversation_item(self, *_: Any) -> dict[str, Any]:
        return {"thread": "C1:1.0", "summary": {}}

    def channel(self, channel_id: str) -> dict[str, Any]:
        return {"id": channel_id, "company_id": "c1", "type": "slack"}

    def set_status(self, company_id, room_id, created_at, message_id, status, **kwargs) -> bool:
        self.statuses.append((status, kwargs.get("attempts")))
        self.stored = {**self.stored, "status": status}
        return True

    def remember_outbound(self, *_: Any, **__: Any) -> None:
        pass

    def note_attempt(self, company_id, room_id, created_at, message_id, *, attempts, error) -> bool:
        self.noted.append((attempts, error))
        return True


def _attempt(replies: Replies, number: int) -> delivery.Attempted:
    return delivery.attempt(
        {"company_id": "c1", "room_id": "r1", "created_at": replies.stored["created_at"], "message_id": "m1"}, number, replies=replies,
        api_token=lambda _: "token", post=lambda *_: Exchange(503, {}, b"{}", ""), base_urls={"slack": "https://slack.test"}, now=NOW,
    )


def test_a_reply_with_max_attempts_fails_for_good_at_its_last_attempt_each_before_noted():
    replies = Replies(_reply(max_attempts=5, created_at="2026-11-29T09:00:00.000Z"))
    # WHEN the provider answers 503 to every attempt
    outcomes = [_attempt(replies, n) for n in range(1, 6)]
    # THEN four retries, each noted on the message, then failed at the fifth
    assert [o.result for o in outcomes] == ["retry"] * 4 + ["failed"]
    assert [n for n, _ in replies.noted] == [1, 2, 3, 4] and replies.statuses == [("failed", 5)]
    assert "gave up after 5 attempts" in outcomes[-1].reason


def test_a_reply_without_a_limit_keeps_retrying_on_the_schedule():
    replies = Replies(_reply(created_at="2026-11-29T09:00:00.000Z"))
    assert [_attempt(replies, n).delay for n in range(1, 7)] == [1, 4, 15, 60, 300, 300]


def test_a_retry_schedule_is_read_from_configuration():
    assert parse_delays("0, 0,2", default=(1,), name="X") == (0, 0, 2) and parse_delays(None, default=(1,), name="X") == (1,)
    for bad in ("-1", "a,b", ","):
        with pytest.raises(ValueError, match="X"):
            parse_delays(bad, default=(1,), name="X")


# ---- reply requests ---------------------------------------------------------------------------------
def test_a_request_the_reply_route_refuses_is_told_back_with_its_reference(monkeypatch):
    def refuse(*_: Any, **__: Any) -> None:
        raise NotFound("conversation r1 not found")

    monkeypatch.setattr(requests, "queue_reply", refuse)
    done = requests.handle(None, {"company_id": "c1", "room_id": "r1", "reference": "feedback:t1:ntf_1", "body": {}}, request_id="sqs-1", clock=Clock(now=lambda: NOW))
    assert done.result == "refused" and done.event is not None
    assert (done.event["event"], done.event["reference"], done.event["attempts"]) == ("message.failed", "feedback:t1:ntf_1", 1)
    assert "not_found" in done.event["error"]


def test_a_request_asked_again_queues_nothing_and_a_busy_table_is_retried(monkeypatch):
    def reused(*_: Any, **__: Any) -> None:
        raise IdempotencyKeyReused("the key was used with another body")

    monkeypatch.setattr(requests, "queue_reply", reused)
    assert requests.handle(None, {"company_id": "c1", "room_id": "r1"}, request_id="sqs-1").result == "queued"

    def busy(*_: Any, **__: Any) -> None:
        raise ServiceUnavailable("busy")

    monkeypatch.setattr(requests, "queue_reply", busy)
    with pytest.raises(ServiceUnavailable):
        requests.handle(None, {"company_id": "c1", "room_id": "r1"}, request_id="sqs-1")


# ---- a notification's outcomes, in any order ----------------------------------------------------------
class Notifications:
    """The two methods ``on_delivery`` uses, over one stored notification."""

    def __init__(self) -> None:
        self.stored = {"id": "ntf_1", "ticket_id": "t1", "contact_id": "k1", "channel": "slack", "status": "pending", "attempts": 0, "last_error": None, "sent_at": None}

    def notification(self, company_id: str, ticket_id: str, notification_id: str) -> dict[str, Any] | None:
        return dict(self.stored) if (ticket_id, notification_id) == ("t1", "ntf_1") else None

    def replace_notification(self, company_id: str, notification: dict[str, Any], *, expected_attempts: int) -> bool:
        if self.stored["attempts"] != expected_attempts:
            return False
        self.stored = dict(notification)
        return True


def _outcome(attempt: int, last: int, sent: bool) -> tuple[str, dict[str, Any]]:
    base = {"company_id": "c1", "reference": "feedback:t1:ntf_1", "occurred_at": (NOW + timedelta(seconds=attempt)).isoformat()}
    if attempt < last:
        return "message.attempt_failed", {**base, "attempt": attempt, "error": f"503 on {attempt}"}
    if sent:
        return "message.sent", {**base, "attempts": attempt}
    return "message.failed", {**base, "attempts": attempt, "error": "503 for good"}


@settings(max_examples=150, deadline=None)
@given(last=st.integers(1, 5), sent=st.booleans(), data=st.data())
def test_outcomes_delivered_twice_or_out_of_order_end_as_the_last_attempt_says(last, sent, data):
    # GIVEN the outcomes of a send's attempts 1..last (the last one sent, or failed for good)
    outcomes = [_outcome(n, last, sent) for n in range(1, last + 1)]
    # WHEN they arrive shuffled, some twice
    delivered = data.draw(st.permutations(outcomes + data.draw(st.lists(st.sampled_from(outcomes), max_size=4))))
    store = Notifications()
    for event_type, detail in delivered:
        service.on_delivery(store, event_type, detail, clock=Clock(now=lambda: NOW))
    # THEN the notification is final as its last attempt says, whatever arrived after it
    final = store.stored
    assert final["status"] == ("sent" if sent else "permanently_failed")
    assert (final["sent_at"] is not None) == sent and (final["last_error"] is None) == sent


def test_an_outcome_that_is_not_a_notifications_changes_nothing():
    store = Notifications()
    assert service.on_delivery(store, "message.sent", {"company_id": "c1", "reference": "other:1"}) == "not a notification"
    assert service.on_delivery(store, "message.sent", {"company_id": "c1", "reference": "feedback:t9:ntf_9"}) == "no such notification"
    assert store.stored["status"] == "pending"
