"""The timeline-note use cases over fakes: exactly one note per (record, room) whatever the
redeliveries, no note without a room or for a manual record, a degraded note when the history
cannot be had, and a store failure left to the queue (RFC CDTC-S04, ERR-1, ERR-2, NEG-2)."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone

import pytest

from parity import notes
from parity.errors import NotFound, ServiceUnavailable
from parity.timeline import ChatHistory, ChatMessage

NOW = datetime(2026, 11, 23, 3, 22, 22, tzinfo=timezone.utc)
TEMPLATE = "https://chat.example.com/inbox/{room_id}"


class FakeNoteStore:
    """The CRM table's note methods, with the adapter's conditional-write semantics."""

    def __init__(self, *, failing: bool = False) -> None:
        self.items: dict[tuple[str, str, str, str], dict] = {}
        self.records: set[tuple[str, str, str]] = set()
        self.failing = failing

    def put_note(self, company_id, note):
        if self.failing:
            raise ServiceUnavailable("the CRM table is busy; retry shortly")
        key = (company_id, note["record_type"], note["record_id"], note["room_id"])
        if key in self.items:
            return False
        self.items[key] = copy.deepcopy(dict(note))
        return True

    def notes(self, company_id, record_type, record_id):
        return [copy.deepcopy(n) for (c, t, r, _), n in self.items.items() if (c, t, r) == (company_id, record_type, record_id)]

    def get_record(self, company_id, record_type, record_id):
        return {"id": record_id} if (company_id, record_type, record_id) in self.records else None


class FakeHub:
    def __init__(self, history: ChatHistory) -> None:
        self.history = history
        self.rooms: list[str] = []

    def __call__(self, room_id: str) -> ChatHistory:
        self.rooms.append(room_id)
        return self.history


HISTORY = ChatHistory((ChatMessage("m1", "room-123", "customer", "Budi", "email budi@example.com", NOW),), attempts=1)


def event(action="create", record_type="deal", **data):
    record = {"id": "r1", "type": record_type, "name": "Budi - 2 units", "channel_integration_room_id": "room-123", "creator_flag": "bot", "creator_label": "Bot", **data}
    return json.dumps({"eventType": f"qontak.crm.{record_type}.{action}", "event_id": "evt_1", "company_id": "c1", "occurred_at": "2026-11-23T03:22:22.000Z", "data": record})


def write(body, store, hub=None):
    return notes.write_note(body, store=store, fetch_history=hub or FakeHub(HISTORY), deeplink_template=TEMPLATE, now=lambda: NOW)


def test_a_bot_deal_with_a_room_gets_its_note():
    # GIVEN a bot deal created in room-123 / WHEN its create event is handled
    store, hub = FakeNoteStore(), FakeHub(HISTORY)
    outcome = write(event(), store, hub)
    # THEN one note is written, with the masked preview of that room and the link back
    assert outcome.status == "written" and hub.rooms == ["room-123"]
    (note,) = store.items.values()
    assert note["preview_status"] == "ok" and note["preview"][0]["text"] == "email b***@example.com"
    assert note["deeplink"] == "https://chat.example.com/inbox/room-123" and note["creator_label"] == "Bot"


def test_a_redelivered_message_still_makes_one_note():
    # GIVEN the note was written / WHEN the same message comes again (at-least-once delivery)
    store = FakeNoteStore()
    first = write(event(), store)
    again = write(event(), store)
    # THEN there is still exactly one note, the first one
    assert (first.status, again.status) == ("written", "duplicate")
    assert len(store.items) == 1


def test_the_same_record_in_another_room_gets_its_own_note():
    store = FakeNoteStore()
    write(event(), store)
    write(event(channel_integration_room_id="room-456"), store, FakeHub(ChatHistory(())))
    assert sorted(room for (_, _, _, room) in store.items) == ["room-123", "room-456"]


@pytest.mark.parametrize("room", [None, ""])
def test_no_room_no_note(room):
    # ERR-1: a record without a chat room has no conversation to excerpt
    store, hub = FakeNoteStore(), FakeHub(HISTORY)
    outcome = write(event(channel_integration_room_id=room), store, hub)
    assert outcome.status == "skipped" and store.items == {} and hub.rooms == []


def test_a_manual_record_gets_no_note():
    # NEG-2: a record a person created keeps the ordinary behaviour
    store, hub = FakeNoteStore(), FakeHub(HISTORY)
    outcome = write(event(creator_flag=None, creator_label=None), store, hub)
    assert outcome.status == "skipped" and store.items == {} and hub.rooms == []


@pytest.mark.parametrize("action", ["update", "delete"])
def test_only_creates_make_notes(action):
    store = FakeNoteStore()
    assert write(event(action), store).status == "skipped" and store.items == {}


def test_a_ticket_gets_its_note_too():
    store = FakeNoteStore()
    write(event(record_type="ticket", creator_flag="agentic_ai", creator_label="AI"), store)
    (note,) = store.items.values()
    assert note["record_type"] == "ticket" and note["creator_label"] == "AI"


def test_history_unavailable_still_writes_the_note_without_preview():
    # GIVEN the hub timed out (ERR-2) / THEN the note is written with link and label, no preview
    store = FakeNoteStore()
    outcome = write(event(), store, FakeHub(ChatHistory(None, "no complete answer within 3 s", 1)))
    (note,) = store.items.values()
    assert outcome.status == "written" and outcome.history_problem.startswith("no complete answer")
    assert note["preview"] is None and note["preview_status"] == "unavailable" and note["deeplink"].endswith("room-123")


def test_a_fetcher_that_raises_does_not_lose_the_note():
    def broken(room_id):
        raise RuntimeError("bug")

    store = FakeNoteStore()
    outcome = write(event(), store, broken)
    assert outcome.status == "written" and store.items and next(iter(store.items.values()))["preview"] is None


def test_a_store_failure_raises_so_the_queue_retries():
    # GIVEN the table refuses the write / THEN the failure surfaces: the message fails, is retried,
    # and finally dead-lettered; it is never acknowledged without its note
    with pytest.raises(ServiceUnavailable):
        write(event(), FakeNoteStore(failing=True))


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        json.dumps(["x"]),
        json.dumps({"eventType": "qontak.crm.deal.create", "data": {"id": "r1", "type": "deal"}}),
        json.dumps({"eventType": "qontak.crm.deal.create", "company_id": "c1", "data": {"type": "deal"}}),
        json.dumps({"eventType": "qontak.crm.deal.create", "company_id": "c1", "data": {"id": "r1", "type": "ticket"}}),
    ],
)
def test_an_unreadable_message_fails_rather_than_vanishing(body):
    with pytest.raises(notes.UnreadableMessage):
        write(body, FakeNoteStore())


# ---- the timeline route's use case -------------------------------------------------------------
def test_timeline_lists_the_records_notes_newest_first():
    store = FakeNoteStore()
    store.records.add(("c1", "deal", "r1"))
    write(event(), store)
    later = lambda: datetime(2026, 11, 24, tzinfo=timezone.utc)  # noqa: E731
    notes.write_note(event(channel_integration_room_id="room-456"), store=store, fetch_history=FakeHub(ChatHistory(())), deeplink_template=TEMPLATE, now=later)
    shown = notes.timeline_of(store, "c1", "deal", "r1")["data"]
    assert [n["room_id"] for n in shown] == ["room-456", "room-123"]


def test_a_record_without_notes_has_an_empty_timeline():
    store = FakeNoteStore()
    store.records.add(("c1", "deal", "r1"))
    assert notes.timeline_of(store, "c1", "deal", "r1") == {"data": []}


def test_another_companys_record_is_a_404():
    # GIVEN company c1's deal with a note / WHEN company c2 asks for its timeline / THEN 404
    store = FakeNoteStore()
    store.records.add(("c1", "deal", "r1"))
    write(event(), store)
    with pytest.raises(NotFound):
        notes.timeline_of(store, "c2", "deal", "r1")
