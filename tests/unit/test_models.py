"""Bad input is rejected with every offending field named; good input is kept exactly."""

import unicodedata
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from parity.core.errors import ValidationFailed
from parity.crm.models import MAX_LEAD_IDS, DealCreate, DealUpdate, TicketCreate
from parity.crm.service import validate


def fields_of(exc: ValidationFailed) -> set[str]:
    return {d["field"] for d in exc.details}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": 5}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"name": "a\x00b"}, "name"),
        ({"name": "a\ud800b"}, "name"),
        ({"name": "ok", "amount": -1}, "amount"),
        ({"name": "ok", "amount": "12"}, "amount"),
        ({"name": "ok", "amount": True}, "amount"),
        ({"name": "ok", "amount": Decimal("NaN")}, "amount"),
        ({"name": "ok", "amount": 10**16}, "amount"),
        ({"name": "ok", "stage": ["Won"]}, "stage"),
        ({"name": "ok", "crm_lead_ids": "abc"}, "crm_lead_ids"),
        ({"name": "ok", "crm_lead_ids": ["a", {"id": 1}]}, "crm_lead_ids[1]"),
        ({"name": "ok", "crm_lead_ids": ["x"] * (MAX_LEAD_IDS + 1)}, "crm_lead_ids"),
        ({"name": "ok", "contact_id": 1.5}, "contact_id"),
        ({"name": "ok", "contact_id": False}, "contact_id"),
        ({"name": "ok", "channel_integration_room_id": ""}, "channel_integration_room_id"),
        ({"name": "ok", "creator_flag": 1}, "creator_flag"),
        ({"name": "ok", "priority": "high"}, "priority"),  # a ticket field on a deal is unknown
        ({"name": "ok", "surprise": 1}, "surprise"),
    ],
)
def test_bad_deal_body_names_the_field(body, field):
    # GIVEN a deal body with one bad field / WHEN validated / THEN a 422 names that field
    with pytest.raises(ValidationFailed) as caught:
        validate(DealCreate, body)
    assert caught.value.status == 422
    assert field in fields_of(caught.value)


def test_every_offending_field_is_named_at_once():
    # GIVEN three bad fields / WHEN validated / THEN all three are reported together
    with pytest.raises(ValidationFailed) as caught:
        validate(DealCreate, {"name": "", "amount": "x", "extra": 1})
    assert fields_of(caught.value) == {"name", "amount", "extra"}


def test_non_object_body_is_refused():
    with pytest.raises(ValidationFailed) as caught:
        validate(DealCreate, ["name"])
    assert fields_of(caught.value) == {"body"}


def test_details_never_echo_the_input():
    # GIVEN a secret-looking value in a wrong place / THEN the error does not repeat it
    with pytest.raises(ValidationFailed) as caught:
        validate(DealCreate, {"name": "ok", "contact_id": {"token": "s3cret-value"}})
    assert "s3cret-value" not in repr(caught.value.details)


def test_ids_are_normalised_to_text_and_names_trimmed():
    deal = validate(DealCreate, {"name": "  Big deal ", "contact_id": 42, "crm_lead_ids": [7, "c9"], "amount": 3})
    assert deal.name == "Big deal"
    assert deal.contact_id == "42"
    assert deal.crm_lead_ids == ["7", "c9"]
    assert deal.amount == Decimal(3)


def test_ticket_accepts_its_own_fields():
    ticket = validate(TicketCreate, {"name": "Refund", "description": "line1\nline2", "priority": "high"})
    assert ticket.description == "line1\nline2"
    with pytest.raises(ValidationFailed) as caught:
        validate(TicketCreate, {"name": "x", "stage": "Won"})
    assert fields_of(caught.value) == {"stage"}


def test_update_tracks_only_sent_fields_and_null_clears():
    update = validate(DealUpdate, {"stage": None, "amount": 5})
    assert update.model_fields_set == {"stage", "amount"}
    assert update.stage is None


_SHOWS_NOTHING = {"Cf", "Zs", "Zl", "Zp", "Mn", "Me"}  # format, spaces, combining marks


@given(st.text(min_size=1, max_size=255).filter(lambda s: s.isprintable() and any(unicodedata.category(c) not in _SHOWS_NOTHING for c in s)))
def test_any_printable_name_is_kept_exactly_after_trimming(name):
    # GIVEN any printable name with something visible / WHEN validated / THEN it comes back trimmed, otherwise unchanged
    assert validate(DealCreate, {"name": name}).name == name.strip()


@pytest.mark.parametrize("name", ["\u0951", "\u200b\u0301", "\u202e"])
def test_a_name_of_only_marks_or_format_characters_is_refused_naming_the_field(name):
    # GIVEN a name that shows nothing: a lone combining mark (hypothesis found U+0951), marks on a zero-width space, a direction override
    with pytest.raises(ValidationFailed) as refused:
        validate(DealCreate, {"name": name})
    assert [d["field"] for d in refused.value.details] == ["name"]


@pytest.mark.parametrize(
    ("value", "accepted"),
    [(0, True), (1, True), (Decimal("0.65"), True), (Decimal("1.0"), True), (None, True),
     (Decimal("1.0001"), False), (-0.01, False), ("0.8", False), (True, False), (Decimal("NaN"), False), (Decimal("Infinity"), False), ([0.5], False)],
)
def test_confidence_is_a_number_from_0_to_1_on_creates_and_patches(value, accepted):
    # GIVEN a create and a PATCH body carrying the confidence
    for model, body in ((DealCreate, {"name": "ok"}), (DealUpdate, {})):
        if accepted:
            # THEN a number from 0 to 1 (or null) is kept exactly
            kept = validate(model, {**body, "confidence": value}).confidence
            assert kept == value or (value is not None and kept == Decimal(value))
        else:
            # THEN anything else is a 422 naming confidence
            with pytest.raises(ValidationFailed) as caught:
                validate(model, {**body, "confidence": value})
            assert fields_of(caught.value) == {"confidence"}


@pytest.mark.parametrize(("value", "accepted"), [("triage-ai", True), ("a" * 128, True), ("a" * 129, False), ("", False), ("  ", False), ("a\x00", False), (7, False)])
def test_agent_id_is_a_visible_text_of_at_most_128(value, accepted):
    if accepted:
        assert validate(TicketCreate, {"name": "ok", "agent_id": value}).agent_id == value
    else:
        with pytest.raises(ValidationFailed) as caught:
            validate(TicketCreate, {"name": "ok", "agent_id": value})
        assert fields_of(caught.value) == {"agent_id"}
