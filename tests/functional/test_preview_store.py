"""The preview table's conditional writes on moto: any order, any duplication and racing
receivers end in the same room preview as the plain model (DESIGN "Receiver and preview")."""

from __future__ import annotations

import threading
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from parity.inbox import sidebar
from parity.inbox.store import PreviewStore

from ..unit.test_preview import history, model, moving_records, records, room_events


def store_for(aws, stack) -> PreviewStore:
    # Each request is atomic, as DynamoDB's are: the local stack's AWS edge serves one at a time;
    # interleavings *between* requests stay arbitrary, which is what the race is about.
    return PreviewStore(stack.outputs["PreviewTableName"], client=aws.client("dynamodb"))


DEAL = {"id": "d1", "type": "deal", "version": 1, "created_at": "2026-01-01T00:00:00.000Z", "name": "v1", "channel_integration_room_id": "r"}
V2 = dict(DEAL, version=2, name="v2")


class Room:
    """Room ``r`` of a fresh company on the stack's preview table."""

    def __init__(self, aws, stack) -> None:
        self.store, self.company = store_for(aws, stack), f"co-{uuid.uuid4().hex[:10]}"

    def apply(self, action: str, data: dict, webhook: str, *, reason: str | None = None, body: str | None = None) -> str:
        """Deliver one event under webhook-id ``<company>-<webhook>``: applied, duplicate or stale."""
        return self.store.apply(self.company, sidebar.entry_from_event(action, data, reason=reason), webhook_id=f"{self.company}-{webhook}", body=body)

    def outcomes(self, *steps: tuple[str, dict, str]) -> list[str]:
        """``apply`` each (action, data, webhook) step in order: what each came to."""
        return [self.apply(action, data, webhook) for action, data, webhook in steps]

    def deliver(self, events: list[tuple]) -> None:
        """Apply ``events`` in order, each under its own webhook-id (a duplicate shares it, as the sender's event_id is)."""
        for action, data, *reason in events:
            self.store.apply(self.company, sidebar.entry_from_event(action, data, reason=reason[0] if reason else None),
                             webhook_id=f"{self.company}:{action}:{data['id']}:{data['version']}")

    def shown(self) -> dict:
        """What the room's sidebar shows."""
        return sidebar.shown(self.store.entries(self.company, "r"))

    def deal(self) -> dict | None:
        return self.shown()["deal"]


def any_order(data: st.DataObject, events: list[tuple]) -> list[tuple]:
    """``events`` with up to four of them again (redeliveries), in an order hypothesis draws."""
    return data.draw(st.permutations(events + (data.draw(st.lists(st.sampled_from(events), max_size=4)) if events else [])))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(recs=records, data=st.data())
def test_any_order_and_duplication_through_dynamodb_matches_the_model(aws, stack, recs, data):
    room = Room(aws, stack)
    room.deliver(any_order(data, [e for r in recs for e in history(r)]))
    assert room.shown() == model(recs)


def test_duplicate_webhook_id_has_no_effect_and_stale_is_reported(aws, stack):
    room = Room(aws, stack)
    assert room.outcomes(("update", V2, "a"), ("update", V2, "a"), ("create", DEAL, "b")) == ["applied", "duplicate", "stale"]
    assert room.deal()["name"] == "v2"


def test_a_redelivery_is_one_write_that_changes_nothing(aws, stack):
    # GIVEN a record created (webhook a), updated (b) and deleted (c) in a room
    room = Room(aws, stack)
    assert room.outcomes(("create", DEAL, "a"), ("update", V2, "b")) == ["applied", "applied"]
    # WHEN an older webhook is delivered again: THEN it is stale and the newer entry stays
    assert room.outcomes(("create", DEAL, "a")) == ["stale"] and room.deal()["name"] == "v2"
    # WHEN the delete is delivered twice: THEN the second is a duplicate and the record stays deleted
    assert room.outcomes(("delete", V2, "c"), ("delete", V2, "c")) == ["applied", "duplicate"] and room.deal() is None
    # AND the room holds one item per record
    items = aws.client("dynamodb").scan(TableName=stack.outputs["PreviewTableName"])["Items"]
    assert [i["sk"]["S"] for i in items if i["pk"]["S"].startswith(f"ROOM#{room.company}#")] == ["DEAL#d1"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(recs=moving_records, data=st.data())
def test_moves_in_and_out_through_dynamodb_match_the_pure_rule(aws, stack, recs, data):
    # GIVEN records that move in and out of room r (and some are deleted), delivered in any order
    room = Room(aws, stack)
    shuffled = any_order(data, [e for r in recs for e in room_events(r)])
    # WHEN the conditional writes apply them
    room.deliver(shuffled)
    # THEN the room shows what the pure rule (parity.inbox.sidebar.decide) shows for the same order
    state: dict = {}
    for action, d, reason in shuffled:
        incoming = sidebar.entry_from_event(action, d, reason=reason)
        decided = sidebar.decide(state.get(d["id"]), incoming)
        state[d["id"]] = decided or state.get(d["id"])
    assert room.shown() == sidebar.shown(state.values())


def test_a_record_that_left_the_room_shows_again_when_it_comes_back(aws, stack):
    # GIVEN a deal created in room r (v1), moved to room s (v2), then back to r (v3)
    room = Room(aws, stack)
    v1, v3 = DEAL, dict(DEAL, version=3, name="v3")
    assert room.apply("create", v1, "a") == "applied"
    assert room.apply("delete", v1, "b", reason="left_room") == "applied"
    assert room.deal() is None
    # WHEN the re-entry arrives: THEN it shows in r again
    assert room.apply("create", v3, "c") == "applied"
    assert room.deal()["name"] == "v3"
    # AND a late leave of v1 or create of v1 changes nothing
    assert room.apply("delete", v1, "d", reason="left_room") == "stale"
    assert room.apply("create", v1, "e") == "stale"
    assert room.deal()["name"] == "v3"


def test_a_seen_webhook_id_with_another_body_has_no_effect(aws, stack):
    # GIVEN a delivery applied under webhook-id w
    room = Room(aws, stack)
    v1 = DEAL
    forged = dict(v1, version=9, name="forged")
    assert room.apply("create", v1, "w", body="body-1") == "applied"
    # WHEN another body arrives under the same webhook-id: THEN nothing changes
    assert room.apply("update", forged, "w", body="body-2") == "duplicate"
    assert room.deal()["name"] == "v1"
    # AND the same body again (a redelivery) is still told apart as a duplicate of itself
    assert room.apply("create", v1, "w", body="body-1") == "duplicate"


def test_racing_receivers_cannot_corrupt_a_room(aws, stack):
    # GIVEN many versions of one record and a delete, delivered by 8 receivers at once
    room = Room(aws, stack)
    base = {"id": "d1", "type": "deal", "created_at": "2026-01-01T00:00:00.000Z", "channel_integration_room_id": "r"}
    keeper = {"id": "d0", "type": "deal", "created_at": "2025-12-31T00:00:00.000Z", "channel_integration_room_id": "r", "version": 1, "name": "older"}
    events = [("update", dict(base, version=v, name=f"v{v}")) for v in range(1, 20)] + [("delete", dict(base, version=19))] + [("create", keeper)]
    lanes = [events[i::8] for i in range(8)]
    threads = [threading.Thread(target=room.deliver, args=(lane,)) for lane in lanes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # THEN the deleted record stays deleted and the older live one shows
    entries = {e.record_id: e for e in room.store.entries(room.company, "r")}
    assert entries["d1"].state == "deleted"
    assert sidebar.shown(entries.values())["deal"]["name"] == "older"
