"""The preview route refuses room ids no record could carry (found by the fuzzer: a 129-character room
id was answered 200 with an empty preview, where the API's document says it is invalid)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from parity.core.errors import ValidationFailed
from parity.inbox import receiver


class _NoStore:
    def __init__(self):
        self.read = []

    def entries(self, company_id, room_id):
        self.read.append(room_id)
        return []


@pytest.mark.parametrize("room_id", ["0" * 129, "", "   ", "room\x00id", "room\x1bid", "\ud800"])
def test_a_room_id_no_record_could_carry_is_a_422_without_reading(room_id):
    # GIVEN a room id the create models would refuse
    store = _NoStore()
    # WHEN its preview is asked for
    with pytest.raises(ValidationFailed) as refused:
        receiver.room_preview(store, "c", room_id)
    # THEN it is a 422 naming room_id, and the store was not read
    assert refused.value.status == 422 and refused.value.details[0]["field"] == "room_id"
    assert store.read == []


@pytest.mark.parametrize("room_id", ["r" * 128, "room-123", "ruang obrolan ☕"])
def test_a_valid_room_id_is_read(room_id):
    store = _NoStore()
    assert receiver.room_preview(store, "c", room_id) == {"room_id": room_id, "deal": None, "ticket": None}
    assert store.read == [room_id]


@given(st.text(max_size=140))
def test_every_room_id_a_record_can_carry_is_one_the_preview_reads(room_id):
    # GIVEN any room id a create accepts (the model strips it, as it stores it)
    from parity.core.ids import valid_room_id
    from parity.crm import fields
    from parity.crm.models import typed
    from pydantic import TypeAdapter, ValidationError

    try:
        stored = TypeAdapter(typed(fields.ROOM_ID)).validate_python(room_id)
    except ValidationError:
        return
    # THEN the one room-id rule (parity.core.ids) accepts it too: its room's preview can be read
    assert valid_room_id(stored)
