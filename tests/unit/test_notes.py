"""The timeline-note use cases over fakes: exactly one note per (record, room) whatever the
redeliveries, no note without a room or for a manual record, a degraded note when the history
cannot be had, and a store failure left to the queue (RFC CDTC-S04, ERR-1, ERR-2, NEG-2)."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone

import pytest
from parity.core.errors import NotFound, ServiceUnavailable
from parity.timeline import writer
from parity.timeline.excerpt import ChatHistory, ChatMessage

from .fakes import FakeStore

NOW = datetime(2026, 11, 23, 3, 22, 22, tzinfo=timezone.utc)
TEMPLATE = "https://chat.example.com/inbox/{room_id}"


class FakeNoteStore(FakeStore):
    """The CRM table's records (``tests/unit/fakes.py``) and its note methods, with the adapter's
    conditional-write semantics; ``reads`` lists every ``get_record`` asked of it."""

    def __init__(self, *, failing: bool = False) -> None:
        super().__init__()
        self.items: dict[tuple[str, str, str, str], dict] = {}
        self.reads: list[tuple[str, str, str]] = []
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
        self.reads.append((company_id, record_type, record_id))
        return super().get_record(company_id, record_type, record_id)

    def add_record(self, company_id: str = "c1", record_type: str = "deal", record_id: str = "r1") -> None:
        record = {"id": record_id, "type": record_type, "company_id": company_id, "version": 1}
        self.create_record(record, contact_ids=[], idempotency=None, now=0)


def stored(*records: tuple[str, str, str], failing: bool = False) -> FakeNoteStore:
    """A store holding ``records`` ((company, type, id)); by default company c1's deal r1."""
    store = FakeNoteStore(failing=failing)
    for record in records or [("c1", "deal", "r1")]:
        store.add_record(*record)
    return store


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
    return writer.write_note(body, notes=store, records=store, fetch_history=hub or FakeHub(HISTORY), deeplink_template=TEMPLATE, now=lambda: NOW)


def test_a_bot_deal_with_a_room_gets_its_note():
    # GIVEN a bot deal created in room-123 / WHEN its create event is handled
    store, hub = stored(), FakeHub(HISTORY)
    outcome = write(event(), store, hub)
    # THEN one note is written, with the masked preview of that room and the link back
    assert outcome.status == "written" and hub.rooms == ["room-123"]
    (note,) = store.items.values()
    assert note["preview_status"] == "ok" and note["preview"][0]["text"] == "email b***@example.com"
    assert note["deeplink"] == "https://chat.example.com/inbox/room-123" and note["creator_label"] == "Bot"


def test_a_redelivered_message_still_makes_one_note():
    # GIVEN the note was written / WHEN the same message comes again (at-least-once delivery)
    store = stored()
    first = write(event(), store)
    again = write(event(), store)
    # THEN there is still exactly one note, the first one
    assert (first.status, again.status) == ("written", "duplicate")
    assert len(store.items) == 1


def test_the_same_record_in_another_room_gets_its_own_note():
    store = stored()
    write(event(), store)
    write(event(channel_integration_room_id="room-456"), store, FakeHub(ChatHistory(())))
    assert sorted(room for (_, _, _, room) in store.items) == ["room-123", "room-456"]


@pytest.mark.parametrize("room", [None, ""])
def test_no_room_no_note(room):
    # ERR-1: a record without a chat room has no conversation to excerpt
    store, hub = stored(), FakeHub(HISTORY)
    outcome = write(event(channel_integration_room_id=room), store, hub)
    assert outcome.status == "skipped" and store.items == {} and hub.rooms == []


def test_a_manual_record_gets_no_note():
    # NEG-2: a record a person created keeps the ordinary behaviour
    store, hub = stored(), FakeHub(HISTORY)
    outcome = write(event(creator_flag=None, creator_label=None), store, hub)
    assert outcome.status == "skipped" and store.items == {} and hub.rooms == []


@pytest.mark.parametrize("action", ["update", "delete"])
def test_only_creates_make_notes(action):
    store = stored()
    assert write(event(action), store).status == "skipped" and store.items == {}


def test_a_ticket_gets_its_note_too():
    store = stored(("c1", "ticket", "r1"))
    write(event(record_type="ticket", creator_flag="agentic_ai", creator_label="AI"), store)
    (note,) = store.items.values()
    assert note["record_type"] == "ticket" and note["creator_label"] == "AI"


def test_history_unavailable_still_writes_the_note_without_preview():
    # GIVEN the hub timed out (ERR-2) / THEN the note is written with link and label, no preview
    store = stored()
    outcome = write(event(), store, FakeHub(ChatHistory(None, "no complete answer within 3 s", 1)))
    (note,) = store.items.values()
    assert outcome.status == "written" and outcome.history_problem.startswith("no complete answer")
    assert note["preview"] is None and note["preview_status"] == "unavailable" and note["deeplink"].endswith("room-123")


def test_a_fetcher_that_raises_does_not_lose_the_note():
    def broken(room_id):
        raise RuntimeError("bug")

    store = stored()
    outcome = write(event(), store, broken)
    assert outcome.status == "written" and store.items and next(iter(store.items.values()))["preview"] is None


def test_a_store_failure_raises_so_the_queue_retries():
    # GIVEN the table refuses the write / THEN the failure surfaces: the message fails, is retried,
    # and finally dead-lettered; it is never acknowledged without its note
    with pytest.raises(ServiceUnavailable):
        write(event(), stored(failing=True))


# ---- a record that no longer exists (issue 12, defect 9) ----------------------------------------
def test_a_record_deleted_before_the_worker_runs_gets_no_note():
    # GIVEN company c1's bot deal r1, deleted before its queued create event is handled
    store, hub = stored(), FakeHub(HISTORY)
    assert store.delete_record("c1", "deal", "r1")
    # WHEN the create event is handled
    outcome = write(event(), store, hub)
    # THEN no note is written (none kept 365 days for a record nobody can open), and the message
    # succeeds as a skip that says why: nothing to retry, nothing to dead-letter
    assert outcome.status == "skipped" and outcome.note is None
    assert "no longer exists" in outcome.reason
    assert store.items == {}


def test_a_redelivered_event_of_a_deleted_record_still_writes_nothing():
    store = stored()
    store.delete_record("c1", "deal", "r1")
    assert [write(event(), store).status for _ in range(3)] == ["skipped"] * 3
    assert store.items == {}


@pytest.mark.parametrize("other", [("c2", "deal", "r1"), ("c1", "ticket", "r1"), ("c1", "deal", "r2")])
def test_only_the_companys_record_of_that_type_and_id_counts(other):
    # GIVEN a record of another company, another type or another id, but not c1's deal r1
    store = stored(other)
    # WHEN c1's deal r1 create event is handled / THEN it gets no note
    assert write(event(), store).status == "skipped" and store.items == {}


def test_the_check_is_one_read_of_the_record_before_the_write():
    # GIVEN c1's live bot deal r1 / WHEN its create event is handled
    store = stored()
    outcome = write(event(), store)
    # THEN the note is written after exactly one read: the company's deal r1 (the cost: one GetItem)
    assert outcome.status == "written" and len(store.items) == 1
    assert store.reads == [("c1", "deal", "r1")]


def test_a_failed_record_check_raises_so_the_queue_retries():
    # GIVEN the table refuses the record read / THEN the message fails (retried, finally
    # dead-lettered) rather than being acknowledged without knowing whether the record exists
    store = stored()

    def busy(*args):
        raise ServiceUnavailable("the CRM table is busy; retry shortly")

    store.get_record = busy  # type: ignore[method-assign]
    with pytest.raises(ServiceUnavailable):
        write(event(), store)
    assert store.items == {}


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
    with pytest.raises(writer.UnreadableMessage):
        write(body, stored())


# ---- the timeline route's use case -------------------------------------------------------------
def test_timeline_lists_the_records_notes_newest_first():
    store = stored()
    write(event(), store)
    later = lambda: datetime(2026, 11, 24, tzinfo=timezone.utc)  # noqa: E731
    writer.write_note(event(channel_integration_room_id="room-456"), notes=store, records=store, fetch_history=FakeHub(ChatHistory(())), deeplink_template=TEMPLATE, now=later)
    shown = writer.timeline_of(store, store, "c1", "deal", "r1")["data"]
    assert [n["room_id"] for n in shown] == ["room-456", "room-123"]


def test_a_record_without_notes_has_an_empty_timeline():
    store = stored()
    assert writer.timeline_of(store, store, "c1", "deal", "r1") == {"data": []}


def test_another_companys_record_is_a_404():
    # GIVEN company c1's deal with a note / WHEN company c2 asks for its timeline / THEN 404
    store = stored()
    write(event(), store)
    with pytest.raises(NotFound):
        writer.timeline_of(store, store, "c2", "deal", "r1")
