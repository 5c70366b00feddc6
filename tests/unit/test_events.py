"""Which record changes make which events (RFC CDTC-S01, NEG-1, NEG-2)."""

import json

import pytest
from parity.outbox import events

URL = "https://crm.example.com/{type}s/{id}"


def rec(**over):
    base = {"id": "d1", "type": "deal", "company_id": "c1", "name": "Deal", "stage": "New", "creator_flag": "bot", "channel_integration_room_id": "room-1", "created_at": "2026-01-01T00:00:00.000Z", "updated_at": "2026-01-01T00:00:00.000Z", "version": 1, "contact_ids": []}
    return {**base, **over}


def actions(old, new):
    return [(action, record.get("channel_integration_room_id")) for action, record in events.decide(old, new)]


def test_bot_record_with_room_makes_create_update_delete():
    assert actions(None, rec()) == [("create", "room-1")]
    assert actions(rec(), rec(stage="Won", version=2)) == [("update", "room-1")]
    assert actions(rec(), None) == [("delete", "room-1")]


@pytest.mark.parametrize("record", [rec(creator_flag=None), rec(channel_integration_room_id=None), rec(creator_flag=None, channel_integration_room_id=None)])
def test_manual_or_roomless_records_never_emit(record):
    # NEG-2: manual records; ERR-1: no room → nothing to show
    assert actions(None, record) == []
    assert actions(record, dict(record, name="x")) == []
    assert actions(record, None) == []


def test_update_only_when_a_shown_field_changes():
    assert actions(rec(), rec(source="other", contact_ids=["c9"], version=2)) == []
    assert actions(rec(), rec(amount=5, version=2)) == [("update", "room-1")]


def test_moving_rooms_leaves_one_and_enters_the_other():
    assert actions(rec(), rec(channel_integration_room_id="room-2", version=2)) == [("leave", "room-1"), ("create", "room-2")]
    assert actions(rec(channel_integration_room_id=None), rec(version=2)) == [("create", "room-1")]
    assert actions(rec(), rec(channel_integration_room_id=None, version=2)) == [("leave", "room-1")]
    assert actions(rec(), None) == [("delete", "room-1")]


def test_a_delete_event_says_whether_the_record_left_the_room_or_is_gone():
    # GIVEN a record that moved out of its room, and one that was deleted
    left = events.build("leave", rec(), event_id="evt_1", occurred_at="2026-01-01T00:00:00.000Z", url_template=URL)
    gone = events.build("delete", rec(), event_id="evt_2", occurred_at="2026-01-01T00:00:00.000Z", url_template=URL)
    # THEN both are delete events of the old room, told apart by their reason
    assert (left["eventType"], left["reason"], left["data"]["channel_integration_room_id"]) == ("qontak.crm.deal.delete", "left_room", "room-1")
    assert (gone["eventType"], gone["reason"]) == ("qontak.crm.deal.delete", "deleted")
    # AND a create carries no reason
    assert "reason" not in events.build("create", rec(), event_id="evt_3", occurred_at="2026-01-01T00:00:00.000Z", url_template=URL)


def test_event_ids_are_stable_per_stream_record_and_action():
    assert events.event_id("s1", "create") == events.event_id("s1", "create")
    assert len({events.event_id("s1", "create"), events.event_id("s1", "delete"), events.event_id("s2", "create")}) == 3


def test_event_body_carries_the_public_record():
    body = events.build("create", rec(), event_id="evt_1", occurred_at="2026-01-01T00:00:00.000Z", url_template=URL)
    assert body["eventType"] == "qontak.crm.deal.create"
    assert body["company_id"] == "c1" and body["event_id"] == "evt_1"
    assert body["data"]["creator_label"] == "Bot" and body["data"]["url"] == "https://crm.example.com/deals/d1"


@pytest.mark.parametrize(("text", "parsed"), [("qontak.crm.deal.create", ("deal", "create")), ("qontak.crm.ticket.delete", ("ticket", "delete")), ("qontak.crm.lead.create", None), ("qontak.crm.deal.merge", None), ("other.deal.create", None), ("", None)])
def test_parse_type(text, parsed):
    assert events.parse_type(text) == parsed


def test_the_ids_a_queued_event_names_are_read_leniently_for_logs():
    body = json.dumps({"eventType": "qontak.crm.deal.create", "event_id": "evt_1", "company_id": "c1", "data": {"id": "d1", "channel_integration_room_id": "room-1"}})
    assert events.about(events.peek(body)) == {"company_id": "c1", "record_id": "d1", "room_id": "room-1", "event_id": "evt_1"}
    nothing = {"company_id": None, "record_id": None, "room_id": None, "event_id": None}
    for unreadable in ("not json", "[1, 2]", '{"data": "x"}', "NaN"):
        assert events.about(events.peek(unreadable)) == nothing
