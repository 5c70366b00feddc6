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


def deliver(store: PreviewStore, company: str, events: list[tuple]) -> None:
    for action, data, *reason in events:
        entry = sidebar.entry_from_event(action, data, reason=reason[0] if reason else None)
        # the webhook id is per event (duplicates share it), as the sender's event_id is
        store.apply(company, entry, webhook_id=f"{company}:{action}:{data['id']}:{data['version']}")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(recs=records, data=st.data())
def test_any_order_and_duplication_through_dynamodb_matches_the_model(aws, stack, recs, data):
    store = store_for(aws, stack)
    company = f"co-{uuid.uuid4().hex[:10]}"
    events = [e for r in recs for e in history(r)]
    shuffled = data.draw(st.permutations(events + data.draw(st.lists(st.sampled_from(events), max_size=4))))
    deliver(store, company, shuffled)
    got = sidebar.shown(store.entries(company, "r"))
    assert got == model(recs)


def test_duplicate_webhook_id_has_no_effect_and_stale_is_reported(aws, stack):
    store = store_for(aws, stack)
    company = f"co-{uuid.uuid4().hex[:10]}"
    v2 = {"id": "d1", "type": "deal", "version": 2, "created_at": "2026-01-01T00:00:00.000Z", "name": "v2", "channel_integration_room_id": "r"}
    v1 = dict(v2, version=1, name="v1")
    assert store.apply(company, sidebar.entry_from_event("update", v2), webhook_id=f"{company}-a") == "applied"
    assert store.apply(company, sidebar.entry_from_event("update", v2), webhook_id=f"{company}-a") == "duplicate"
    assert store.apply(company, sidebar.entry_from_event("create", v1), webhook_id=f"{company}-b") == "stale"
    assert sidebar.shown(store.entries(company, "r"))["deal"]["name"] == "v2"


def test_a_redelivery_is_one_write_that_changes_nothing(aws, stack):
    # GIVEN a record created (webhook a), updated (b) and deleted (c) in a room
    store = store_for(aws, stack)
    company = f"co-{uuid.uuid4().hex[:10]}"
    v1 = {"id": "d1", "type": "deal", "version": 1, "created_at": "2026-01-01T00:00:00.000Z", "name": "v1", "channel_integration_room_id": "r"}
    v2 = dict(v1, version=2, name="v2")
    assert store.apply(company, sidebar.entry_from_event("create", v1), webhook_id=f"{company}-a") == "applied"
    assert store.apply(company, sidebar.entry_from_event("update", v2), webhook_id=f"{company}-b") == "applied"
    # WHEN an older webhook is delivered again: THEN it is stale and the newer entry stays
    assert store.apply(company, sidebar.entry_from_event("create", v1), webhook_id=f"{company}-a") == "stale"
    assert sidebar.shown(store.entries(company, "r"))["deal"]["name"] == "v2"
    # WHEN the delete is delivered twice: THEN the second is a duplicate and the record stays deleted
    assert store.apply(company, sidebar.entry_from_event("delete", v2), webhook_id=f"{company}-c") == "applied"
    assert store.apply(company, sidebar.entry_from_event("delete", v2), webhook_id=f"{company}-c") == "duplicate"
    assert sidebar.shown(store.entries(company, "r"))["deal"] is None
    # AND the room holds one item per record
    items = aws.client("dynamodb").scan(TableName=stack.outputs["PreviewTableName"])["Items"]
    assert [i["sk"]["S"] for i in items if i["pk"]["S"].startswith(f"ROOM#{company}#")] == ["DEAL#d1"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(recs=moving_records, data=st.data())
def test_moves_in_and_out_through_dynamodb_match_the_pure_rule(aws, stack, recs, data):
    # GIVEN records that move in and out of room r (and some are deleted), delivered in any order
    store = store_for(aws, stack)
    company = f"co-{uuid.uuid4().hex[:10]}"
    events = [e for r in recs for e in room_events(r)]
    shuffled = data.draw(st.permutations(events + (data.draw(st.lists(st.sampled_from(events), max_size=4)) if events else [])))
    # WHEN the conditional writes apply them
    deliver(store, company, shuffled)
    # THEN the room shows what the pure rule (parity.inbox.sidebar.decide) shows for the same order
    state: dict = {}
    for action, d, reason in shuffled:
        incoming = sidebar.entry_from_event(action, d, reason=reason)
        decided = sidebar.decide(state.get(d["id"]), incoming)
        state[d["id"]] = decided or state.get(d["id"])
    assert sidebar.shown(store.entries(company, "r")) == sidebar.shown(state.values())


def test_a_record_that_left_the_room_shows_again_when_it_comes_back(aws, stack):
    # GIVEN a deal created in room r (v1), moved to room s (v2), then back to r (v3)
    store = store_for(aws, stack)
    company = f"co-{uuid.uuid4().hex[:10]}"
    v1 = {"id": "d1", "type": "deal", "version": 1, "created_at": "2026-01-01T00:00:00.000Z", "name": "v1", "channel_integration_room_id": "r"}
    v3 = dict(v1, version=3, name="v3")
    assert store.apply(company, sidebar.entry_from_event("create", v1), webhook_id=f"{company}-a") == "applied"
    assert store.apply(company, sidebar.entry_from_event("delete", v1, reason="left_room"), webhook_id=f"{company}-b") == "applied"
    assert sidebar.shown(store.entries(company, "r"))["deal"] is None
    # WHEN the re-entry arrives: THEN it shows in r again
    assert store.apply(company, sidebar.entry_from_event("create", v3), webhook_id=f"{company}-c") == "applied"
    assert sidebar.shown(store.entries(company, "r"))["deal"]["name"] == "v3"
    # AND a late leave of v1 or create of v1 changes nothing
    assert store.apply(company, sidebar.entry_from_event("delete", v1, reason="left_room"), webhook_id=f"{company}-d") == "stale"
    assert store.apply(company, sidebar.entry_from_event("create", v1), webhook_id=f"{company}-e") == "stale"
    assert sidebar.shown(store.entries(company, "r"))["deal"]["name"] == "v3"


def test_a_seen_webhook_id_with_another_body_has_no_effect(aws, stack):
    # GIVEN a delivery applied under webhook-id w
    store = store_for(aws, stack)
    company = f"co-{uuid.uuid4().hex[:10]}"
    v1 = {"id": "d1", "type": "deal", "version": 1, "created_at": "2026-01-01T00:00:00.000Z", "name": "v1", "channel_integration_room_id": "r"}
    forged = dict(v1, version=9, name="forged")
    assert store.apply(company, sidebar.entry_from_event("create", v1), webhook_id=f"{company}-w", body="body-1") == "applied"
    # WHEN another body arrives under the same webhook-id: THEN nothing changes
    assert store.apply(company, sidebar.entry_from_event("update", forged), webhook_id=f"{company}-w", body="body-2") == "duplicate"
    assert sidebar.shown(store.entries(company, "r"))["deal"]["name"] == "v1"
    # AND the same body again (a redelivery) is still told apart as a duplicate of itself
    assert store.apply(company, sidebar.entry_from_event("create", v1), webhook_id=f"{company}-w", body="body-1") == "duplicate"


def test_racing_receivers_cannot_corrupt_a_room(aws, stack):
    # GIVEN many versions of one record and a delete, delivered by 8 receivers at once
    store = store_for(aws, stack)
    company = f"co-{uuid.uuid4().hex[:10]}"
    base = {"id": "d1", "type": "deal", "created_at": "2026-01-01T00:00:00.000Z", "channel_integration_room_id": "r"}
    keeper = {"id": "d0", "type": "deal", "created_at": "2025-12-31T00:00:00.000Z", "channel_integration_room_id": "r", "version": 1, "name": "older"}
    events = [("update", dict(base, version=v, name=f"v{v}")) for v in range(1, 20)] + [("delete", dict(base, version=19))] + [("create", keeper)]
    lanes = [events[i::8] for i in range(8)]
    threads = [threading.Thread(target=deliver, args=(store, company, lane)) for lane in lanes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # THEN the deleted record stays deleted and the older live one shows
    entries = {e.record_id: e for e in store.entries(company, "r")}
    assert entries["d1"].state == "deleted"
    assert sidebar.shown(entries.values())["deal"]["name"] == "older"
