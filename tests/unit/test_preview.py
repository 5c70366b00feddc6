"""The room preview rule: any order and any duplication of a room's events ends in the same
preview as a plain model (newest live record per slot; versions forward; deletes final)."""

from hypothesis import given, settings
from hypothesis import strategies as st
from parity.inbox import sidebar
from parity.outbox import events


def data(record_id, record_type="deal", version=1, created_at="2026-01-01T00:00:00.000Z", name=None):
    return {"id": record_id, "type": record_type, "version": version, "created_at": created_at, "name": name or f"{record_id} v{version}", "channel_integration_room_id": "r"}


def apply_all(event_list):
    state: dict[tuple[str, str], sidebar.Entry] = {}
    for action, d, *reason in event_list:
        incoming = sidebar.entry_from_event(action, d, reason=reason[0] if reason else None)
        key = (incoming.record_type, incoming.record_id)
        decided = sidebar.decide(state.get(key), incoming)
        if decided is not None:
            state[key] = decided
    return sidebar.shown(state.values())


def test_newest_live_record_wins_and_delete_falls_back():
    first = data("a", created_at="2026-01-01T00:00:00.000Z")
    second = data("b", created_at="2026-01-01T00:00:01.000Z")
    assert apply_all([("create", first), ("create", second)])["deal"]["id"] == "b"
    assert apply_all([("create", first), ("create", second), ("delete", second)])["deal"]["id"] == "a"
    assert apply_all([("create", first), ("delete", first)]) == {"deal": None, "ticket": None}


def test_same_created_at_breaks_ties_by_id():
    assert apply_all([("create", data("b")), ("create", data("a"))])["deal"]["id"] == "b"


def test_late_create_after_delete_never_resurrects():
    assert apply_all([("delete", data("a")), ("create", data("a")), ("update", data("a", version=2))])["deal"] is None


def test_stale_update_is_ignored():
    shown = apply_all([("update", data("a", version=3, name="new")), ("update", data("a", version=2, name="old"))])
    assert shown["deal"]["name"] == "new"


def test_slots_are_independent():
    shown = apply_all([("create", data("d")), ("create", data("t", record_type="ticket"))])
    assert (shown["deal"]["id"], shown["ticket"]["id"]) == ("d", "t")


# ---- property: the real rule vs. a plain model over any order and duplication -------------
records = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", "d"]),
        st.sampled_from(["deal", "ticket"]),
        st.integers(min_value=0, max_value=3),  # created_at second
        st.integers(min_value=1, max_value=4),  # versions reached
        st.booleans(),  # deleted in the end
    ),
    min_size=1,
    max_size=4,
    unique_by=lambda r: r[0],
)


def history(record):
    record_id, record_type, second, versions, deleted = record
    created = f"2026-01-01T00:00:0{second}.000Z"
    out = [("create", data(record_id, record_type, 1, created))]
    out += [("update", data(record_id, record_type, v, created)) for v in range(2, versions + 1)]
    if deleted:
        out.append(("delete", data(record_id, record_type, versions, created)))
    return out


def model(recs):
    """Plain model: per slot, the newest by (created_at, id) among records not deleted, at their last version."""
    shown = {"deal": None, "ticket": None}
    for record_id, record_type, second, versions, deleted in sorted(recs, key=lambda r: (f"2026-01-01T00:00:0{r[2]}.000Z", r[0])):
        if not deleted:
            shown[record_type] = data(record_id, record_type, versions, f"2026-01-01T00:00:0{second}.000Z")
    return shown


@settings(max_examples=300, deadline=None)
@given(records, st.data())
def test_any_order_and_duplication_gives_the_model_preview(recs, draw):
    all_events = [e for r in recs for e in history(r)]
    duplicated = all_events + draw.draw(st.lists(st.sampled_from(all_events), max_size=6))
    shuffled = draw.draw(st.permutations(duplicated))
    assert apply_all(shuffled) == model(recs)


def test_a_record_that_leaves_and_comes_back_shows_again():
    # GIVEN a deal created in room r (v1), moved out (v2), then back into r (v3)
    v1, v3 = data("a", version=1), data("a", version=3)
    left = ("delete", v1, events.LEFT_ROOM)
    # WHEN the room sees the create, the leave and the re-entry, in order or with the leave late
    # THEN the deal shows again
    assert apply_all([("create", v1), left, ("create", v3)])["deal"]["version"] == 3
    assert apply_all([("create", v1), ("create", v3), left])["deal"]["version"] == 3
    # AND a late create of the version that left never brings it back on its own
    assert apply_all([left, ("create", v1)])["deal"] is None


def test_a_delete_stays_final_even_against_a_newer_version():
    assert apply_all([("delete", data("a", version=1), events.DELETED), ("create", data("a", version=3))])["deal"] is None
    assert apply_all([("delete", data("a", version=1)), ("update", data("a", version=2))])["deal"] is None


# ---- property: moves in and out of the room, in any order and duplication -------------------
moving_records = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),
        st.lists(st.booleans(), min_size=1, max_size=5),  # per version: in room r or elsewhere
        st.booleans(),  # deleted in the end
    ),
    min_size=1,
    max_size=3,
    unique_by=lambda r: r[0],
)


def room_events(record):
    """The events room r receives over a record's life, as the router decides them."""
    record_id, in_room, deleted = record
    versions = [
        {**data(record_id, version=v), "channel_integration_room_id": "r" if here else "elsewhere", "creator_flag": "bot", "company_id": "c"}
        for v, here in enumerate(in_room, start=1)
    ]
    changes = events.decide(None, versions[0])
    for old, new in zip(versions, versions[1:]):
        changes += events.decide(old, new)
    if deleted:
        changes += events.decide(versions[-1], None)
    out = []
    for change, record_data in changes:
        if record_data["channel_integration_room_id"] == "r":
            action = "delete" if change == "leave" else change
            out.append((action, record_data, events.LEFT_ROOM if change == "leave" else events.DELETED))
    return out


@settings(max_examples=300, deadline=None)
@given(moving_records, st.data())
def test_moves_in_any_order_and_duplication_show_exactly_the_records_last_in_the_room(recs, draw):
    # GIVEN records moving in and out of room r, some deleted at the end
    all_events = [e for r in recs for e in room_events(r)]
    duplicated = all_events + draw.draw(st.lists(st.sampled_from(all_events), max_size=6)) if all_events else []
    shuffled = draw.draw(st.permutations(duplicated))
    # WHEN the room applies them in any order, some twice
    shown = apply_all(shuffled)["deal"]
    # THEN it shows the newest record whose last version is in r and that was not deleted
    expected = sorted(r[0] for r in recs if r[1][-1] and not r[2])
    assert (shown["id"], shown["version"]) == (expected[-1], len(next(r for r in recs if r[0] == expected[-1])[1])) if expected else shown is None
