"""The record fields are declared once (``parity.crm.fields``): the request models, the record view and
the producer client's models derive from that declaration or agree with it."""

from __future__ import annotations

import types
import typing
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from parity.crm import fields, records
from parity.crm.fields import RECORD_TYPES, RecordType

NOW = datetime(2026, 11, 23, 3, 22, 22, 123000, tzinfo=timezone.utc)


def _declared_kind(kind: fields.Kind) -> str:
    if kind.format == "date-time":
        return "date-time"
    return "string" if kind.json == "id" else kind.json


def _client_kind(annotation: typing.Any) -> str:
    """What a client model field holds, as a JSON kind (``None`` aside: the client is lenient on purpose)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        (annotation,) = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is typing.Literal:
        return "string"
    if typing.get_origin(annotation) is list:
        return "array"
    return {str: "string", int: "integer", Decimal: "number", datetime: "date-time"}[annotation]


@pytest.mark.parametrize("record_type", RECORD_TYPES)
def test_the_clients_record_models_have_the_declared_fields_and_kinds(record_type: RecordType):
    # The client ships to producers without the layer, so it cannot import the declaration: it is checked here.
    from parity_client.models import Deal, Ticket

    # GIVEN the declared record view and the client's model of that type
    model = {"deal": Deal, "ticket": Ticket}[record_type]
    declared = {f.name: _declared_kind(f.kind) for f in fields.view_fields(record_type)}
    # WHEN their fields are compared
    client = {name: _client_kind(info.annotation) for name, info in model.model_fields.items()}
    # THEN they have the same names, each of the same kind
    assert client == declared


@pytest.mark.parametrize("record_type", RECORD_TYPES)
def test_the_record_view_is_the_declared_one_in_its_order(record_type: RecordType):
    # GIVEN a record made from a create body
    record, _ = records.new_record(record_type, "c1", {"name": "n", "amount": Decimal("2.50")}, record_id="r1", now=NOW, contact_ids=["k1"])
    # WHEN shown
    shown = records.public(record, "https://crm.example.com/{type}s/{id}")
    # THEN it holds exactly the declared view fields, in the declared order
    assert list(shown) == [f.name for f in fields.view_fields(record_type)]


@pytest.mark.parametrize("record_type", RECORD_TYPES)
def test_the_request_models_take_the_declared_fields(record_type: RecordType):
    from parity.crm import models

    # GIVEN the declaration: what a producer adds to a create, then the type's own fields
    declared = [f.name for f in (*fields.ORIGIN_FIELDS, *fields.TYPE_FIELDS[record_type])]
    required = [f.name for f in fields.TYPE_FIELDS[record_type] if f.required]
    create = getattr(models, f"{record_type.capitalize()}Create")
    update = getattr(models, f"{record_type.capitalize()}Update")
    # THEN the create and PATCH bodies take exactly those fields; the create requires the required ones,
    # a PATCH none
    assert list(create.model_fields) == declared == list(update.model_fields)
    assert [n for n, info in create.model_fields.items() if info.is_required()] == required
    assert [n for n, info in update.model_fields.items() if info.is_required()] == []


def test_what_the_sidebar_shows_and_a_patch_may_change_follow_the_declaration():
    assert records.SHOWN_FIELDS == {"deal": {"name", "pipeline", "stage", "status", "amount"}, "ticket": {"name", "status", "priority"}}
    # creator_flag is set once; contact_id and crm_lead_ids only request links (they are not record fields)
    assert fields.patchable("deal") == ("name", "pipeline", "stage", "amount", "status", "source", "channel_integration_room_id", "confidence", "agent_id")
    assert fields.patchable("ticket") == ("name", "description", "priority", "status", "category", "resolution_note", "source", "channel_integration_room_id", "confidence", "agent_id")


@pytest.mark.parametrize("record_type", RECORD_TYPES)
def test_the_clients_create_takes_every_declared_create_field(record_type: RecordType):
    import inspect

    from parity_client.client import CreateOptions, ParityClient

    # GIVEN the fields a create body takes, as declared
    declared = {f.name for f in (*fields.ORIGIN_FIELDS, *fields.TYPE_FIELDS[record_type])}
    # WHEN the client's create method's own parameters and its options are read (room_id is the room field's name there)
    create = getattr(ParityClient, f"create_{record_type}")
    named = {n for n, p in inspect.signature(create).parameters.items() if p.kind is p.KEYWORD_ONLY or n == "name"}
    options = set(CreateOptions.__optional_keys__) - {"idempotency_key"}
    taken = {"channel_integration_room_id" if n == "room_id" else n for n in named | options}
    # THEN a producer can send each declared field, and nothing else
    assert taken == declared
