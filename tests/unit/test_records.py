"""The pure rules of deals and tickets: origin context, labels, links, patches."""

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from parity.core.errors import ImmutableField
from parity.crm import records

NOW = datetime(2026, 11, 23, 3, 22, 22, 123456, tzinfo=timezone.utc)
URL = "https://crm.example.com/{type}s/{id}"


def make(record_type="deal", **fields):
    fields.setdefault("name", "Deal")
    record, warnings = records.new_record(record_type, "c1", fields, record_id="r1", now=NOW, contact_ids=fields.pop("contact_ids", []))
    return record, warnings


@pytest.mark.parametrize(("flag", "label"), [("bot", "Bot"), ("agentic_ai", "AI")])
def test_recognised_creator_flag_gets_its_label(flag, label):
    # GIVEN a bot/AI create / WHEN shown / THEN the creator label is Bot/AI (CDTC-S06)
    record, warnings = make(creator_flag=flag)
    shown = records.public(record, URL)
    assert (shown["creator_flag"], shown["creator_label"], warnings) == (flag, label, [])


@pytest.mark.parametrize("flag", [None, ""])
def test_absent_creator_flag_is_the_ordinary_creator(flag):
    record, warnings = make(creator_flag=flag)
    shown = records.public(record, URL)
    assert shown["creator_flag"] is None and shown["creator_label"] is None and warnings == []


@pytest.mark.parametrize("flag", ["BOT", "human", "ai"])
def test_unrecognised_creator_flag_is_stored_absent_with_a_warning(flag):
    record, warnings = make(creator_flag=flag)
    assert record["creator_flag"] is None
    assert [w["field"] for w in warnings] == ["creator_flag"]


def test_source_is_kept_exactly_as_sent():
    # NEG-3: a bot create does not rewrite the source
    record, _ = make(source="Whatsapp Chatbot")
    assert records.public(record, URL)["source"] == "Whatsapp Chatbot"


def test_contact_id_and_lead_ids_are_linked_as_a_union_each_once():
    ids, warnings = records.contact_candidates("c2", ["c1", "c2", "c3", "c1"])
    assert ids == ["c2", "c1", "c3"]
    assert warnings == []


def test_invalid_contact_ids_are_left_out_with_a_warning_naming_the_field():
    ids, warnings = records.contact_candidates("bad id!", ["ok1", "", "x" * 65])
    assert ids == ["ok1"]
    assert [w["field"] for w in warnings] == ["contact_id", "crm_lead_ids[1]", "crm_lead_ids[2]"]


def test_unknown_contact_warnings_name_each_field_that_sent_it():
    warnings = records.unknown_contact_warnings({"c9"}, "c9", ["c1", "c9"])
    assert [w["field"] for w in warnings] == ["contact_id", "crm_lead_ids[1]"]


@given(st.one_of(st.none(), st.text(alphabet="abc12", min_size=1, max_size=3)), st.lists(st.text(alphabet="abc12", min_size=1, max_size=3), max_size=8))
def test_union_property(contact_id, lead_ids):
    # For any inputs: every valid id sent is linked exactly once, nothing else is linked
    ids, _ = records.contact_candidates(contact_id, lead_ids)
    sent = ([contact_id] if contact_id else []) + lead_ids
    assert sorted(ids) == sorted(set(sent))
    assert len(ids) == len(set(ids))


def test_new_deal_shape_and_times():
    record, _ = make(amount=Decimal("1500.50"), channel_integration_room_id="room-1", contact_ids=["c1"])
    shown = records.public(record, URL)
    assert shown["created_at"] == shown["updated_at"] == "2026-11-23T03:22:22.123Z"
    assert shown["version"] == 1
    assert shown["url"] == "https://crm.example.com/deals/r1"
    assert shown["amount"] == 1500.5
    assert shown["contact_ids"] == ["c1"]
    assert shown["channel_integration_room_id"] == "room-1"
    assert "unique_ticket_id" not in shown


def test_integral_amount_stays_an_integer():
    record, _ = make(amount=Decimal("2000"))
    assert records.public(record, URL)["amount"] == 2000
    assert isinstance(records.public(record, URL)["amount"], int)


def test_ticket_has_a_unique_ticket_id_derived_from_its_id():
    record, _ = make("ticket", priority="high")
    shown = records.public(record, URL)
    assert shown["unique_ticket_id"] == "TCK-R1"
    assert shown["url"] == "https://crm.example.com/tickets/r1"
    assert shown["priority"] == "high"


def test_patch_bumps_version_and_keeps_creator():
    record, _ = make(creator_flag="bot", stage="New")
    later = datetime(2026, 11, 24, tzinfo=timezone.utc)
    updated = records.apply_patch(record, {"stage": "Won"}, now=later, add_contact_ids=[])
    assert updated["stage"] == "Won" and updated["version"] == 2
    assert updated["creator_flag"] == "bot"
    assert updated["updated_at"] == "2026-11-24T00:00:00.000Z"
    assert updated["created_at"] == record["created_at"]


def test_patch_that_changes_nothing_makes_no_new_version():
    record, _ = make(stage="New")
    assert records.apply_patch(record, {"stage": "New"}, now=NOW, add_contact_ids=[]) is None


@pytest.mark.parametrize("attempt", ["agentic_ai", None])
def test_creator_flag_cannot_change_after_create(attempt):
    record, _ = make(creator_flag="bot")
    with pytest.raises(ImmutableField) as caught:
        records.apply_patch(record, {"creator_flag": attempt}, now=NOW, add_contact_ids=[])
    assert caught.value.status == 422 and caught.value.details[0]["field"] == "creator_flag"


def test_same_creator_flag_in_a_patch_is_harmless():
    record, _ = make(creator_flag="bot")
    assert records.apply_patch(record, {"creator_flag": "bot"}, now=NOW, add_contact_ids=[]) is None


def test_patch_links_more_contacts_without_duplicates():
    record, _ = make(contact_ids=["c1"])
    updated = records.apply_patch(record, {}, now=NOW, add_contact_ids=["c1", "c2"])
    assert updated["contact_ids"] == ["c1", "c2"]


def test_patch_ignores_fields_of_the_other_type():
    record, _ = make()
    assert records.apply_patch(record, {"priority": "high"}, now=NOW, add_contact_ids=[]) is None


@pytest.mark.parametrize(("field", "shown"), [("name", True), ("stage", True), ("amount", True), ("source", False), ("contact_ids", False)])
def test_only_shown_fields_count_as_a_visible_change(field, shown):
    record, _ = make(stage="New", amount=Decimal(1), source="a")
    changed = dict(record, **{field: ["x"] if field == "contact_ids" else "other"})
    assert records.shown_fields_changed(record, changed) is shown
