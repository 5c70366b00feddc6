"""The fields of deals and tickets, declared once.

Everything else derives from this declaration or is checked against it: the request models
(``parity.crm.models``), the record rules and view (``parity.crm.records``: what a create stores, what a
PATCH may change, what the room's sidebar shows, ``public()``), the API document's record schema
(``parity.crm.schemas``) and, by a unit test, the producer client's ``Deal``/``Ticket``, which ships
without this layer. Plain data, no pydantic: importing it costs a function's cold start nothing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from parity.core.ids import MAX_ROOM_ID

RecordType = Literal["deal", "ticket"]
RECORD_TYPES: tuple[RecordType, ...] = ("deal", "ticket")

#: creator_flag → the label the CRM and the inbox show (RFC CDTC-S06).
CREATOR_LABELS = {"bot": "Bot", "agentic_ai": "AI"}


class Kind:
    """What a field's value is in JSON, and the bounds a request must keep.

    ``json`` is the JSON type: ``string``, ``number``, ``integer``, ``array``, or ``id`` (a string, or an
    integer an older producer sends, kept as text). ``max_length`` counts characters (strings, ids) or
    items (arrays); ``visible`` strings must hold a visible character (never empty or blank).
    """

    # Plain slotted classes, not dataclasses: building a dataclass costs ≈ 0.7 ms of a cold start each.
    __slots__ = ("json", "max_length", "visible", "items", "minimum", "maximum", "decimal_places", "format")

    def __init__(
        self,
        json: str,
        max_length: int | None = None,
        *,
        visible: bool = False,
        items: Kind | None = None,
        minimum: Decimal | int | None = None,
        maximum: Decimal | None = None,
        decimal_places: int | None = None,
        format: str | None = None,  # noqa: A002 - JSON schema's word; "date-time" for the record's timestamps
    ) -> None:
        self.json, self.max_length, self.visible, self.items = json, max_length, visible, items
        self.minimum, self.maximum, self.decimal_places, self.format = minimum, maximum, decimal_places, format

    def __repr__(self) -> str:
        return f"Kind({self.json!r}, {self.max_length!r})"


#: At most this many ``crm_lead_ids`` per request (the producers send one or two).
MAX_LEAD_IDS = 50
#: Largest accepted amount (a deal value, in the account's currency), and its finest fraction:
#: with 15 integer and 6 decimal digits every amount fits DynamoDB's 38-digit numbers exactly.
MAX_AMOUNT = Decimal(10) ** 15
AMOUNT_DECIMAL_PLACES = 6

NAME = Kind("string", 255, visible=True)
SHORT_TEXT = Kind("string", 255)
LONG_TEXT = Kind("string", 10_000)
ROOM_ID = Kind("string", MAX_ROOM_ID, visible=True)
CREATOR_FLAG = Kind("string", 64)
CATEGORY = Kind("string", 64)
#: How sure a bot or an AI agent was (0..1), and which agent it was (contracts/approvals.md): a
#: company's approval policy holds a create or PATCH below its threshold for a person.
CONFIDENCE = Kind("number", minimum=0, maximum=Decimal(1), decimal_places=20)
AGENT_ID = Kind("string", 128, visible=True)
AMOUNT = Kind("number", minimum=0, maximum=MAX_AMOUNT, decimal_places=AMOUNT_DECIMAL_PLACES)
#: A contact id as a producer sends it; whether it names a contact of the caller's company is the store's question.
LEAD_ID = Kind("id", 128)
#: What the API's document shows an ``id`` kind as: a string, or an integer an older producer sends (kept as text).
ID_JSON = {"type": ["string", "integer"]}
LEAD_IDS = Kind("array", MAX_LEAD_IDS, items=LEAD_ID)
# Kinds only the record view has (the server sets these).
TEXT = Kind("string")
VERSION = Kind("integer", minimum=1)
TIMESTAMP = Kind("string", format="date-time")
IDS = Kind("array", items=TEXT)


class Field:
    """One field: its name and kind; ``required`` at create (else optional and nullable);
    ``shown`` by the room's sidebar (a change makes an update event); ``patchable`` by a PATCH;
    ``stored`` on the record and in its view (else a request-only field)."""

    __slots__ = ("name", "kind", "required", "shown", "patchable", "stored")

    def __init__(
        self, name: str, kind: Kind, *, required: bool = False, shown: bool = False, patchable: bool = True, stored: bool = True,
    ) -> None:
        self.name, self.kind, self.required, self.shown, self.patchable, self.stored = name, kind, required, shown, patchable, stored

    def __repr__(self) -> str:
        return f"Field({self.name!r})"


#: Each type's own fields, in the order the record view shows them.
TYPE_FIELDS: dict[RecordType, tuple[Field, ...]] = {
    "deal": (
        Field("name", NAME, required=True, shown=True),
        Field("pipeline", SHORT_TEXT, shown=True),
        Field("stage", SHORT_TEXT, shown=True),
        Field("amount", AMOUNT, shown=True),
        Field("status", SHORT_TEXT, shown=True),
    ),
    "ticket": (
        Field("name", NAME, required=True, shown=True),
        Field("description", LONG_TEXT),
        Field("priority", SHORT_TEXT, shown=True),
        Field("status", SHORT_TEXT, shown=True),
        # A person's triage of a feedback ticket (contracts/feedback.md; its values are checked
        # there) and what was done when resolving it (the changelog's second sentence).
        Field("category", CATEGORY),
        Field("resolution_note", LONG_TEXT),
    ),
}

#: What a producer (bot, AI agent or person) adds to a create of either type: where it came from and
#: whom it is about. ``contact_id`` and ``crm_lead_ids`` are both accepted (the producers disagree,
#: RFC OQ-10) and only request the links the record's ``contact_ids`` hold; a PATCH adds links, never
#: removes one. ``creator_flag`` is set once, at create (a PATCH that changes it is refused).
#: ``confidence`` and ``agent_id`` say how sure the automation was and which one it was; a create or
#: PATCH may carry them, and the record keeps the latest (its events and activity lines carry them).
ORIGIN_FIELDS: tuple[Field, ...] = (
    Field("source", SHORT_TEXT),
    Field("channel_integration_room_id", ROOM_ID),
    Field("contact_id", LEAD_ID, patchable=False, stored=False),
    Field("crm_lead_ids", LEAD_IDS, patchable=False, stored=False),
    Field("creator_flag", CREATOR_FLAG, patchable=False),
    Field("confidence", CONFIDENCE),
    Field("agent_id", AGENT_ID),
)


class ViewField:
    """A field of the record view (``records.public``), for the document and the client's models."""

    __slots__ = ("name", "kind", "nullable", "enum")

    def __init__(self, name: str, kind: Kind, *, nullable: bool = False, enum: tuple[str | None, ...] | None = None) -> None:
        self.name, self.kind, self.nullable, self.enum = name, kind, nullable, enum

    def __repr__(self) -> str:
        return f"ViewField({self.name!r})"


def view_fields(record_type: RecordType) -> tuple[ViewField, ...]:
    """The record view of one type, field by field in the order ``records.public`` writes them."""
    own = [ViewField(f.name, f.kind, nullable=not f.required) for f in TYPE_FIELDS[record_type]]
    origin = {f.name: ViewField(f.name, f.kind, nullable=True) for f in ORIGIN_FIELDS if f.stored}
    ticket_number = [ViewField("unique_ticket_id", TEXT)] if record_type == "ticket" else []
    return (
        ViewField("id", TEXT),
        ViewField("type", TEXT, enum=(record_type,)),
        *ticket_number,
        *own,
        origin["source"],
        origin["channel_integration_room_id"],
        ViewField("contact_ids", IDS),
        origin["creator_flag"],
        ViewField("creator_label", TEXT, nullable=True, enum=(*CREATOR_LABELS.values(), None)),
        origin["confidence"],
        origin["agent_id"],
        # The approver's sso_id, when a person approved the held create or change that wrote it.
        ViewField("approved_by", TEXT, nullable=True),
        ViewField("created_at", TIMESTAMP),
        ViewField("updated_at", TIMESTAMP),
        ViewField("version", VERSION),
        ViewField("url", TEXT),
    )


def names(record_type: RecordType) -> tuple[str, ...]:
    """The type's own field names, in view order."""
    return tuple(f.name for f in TYPE_FIELDS[record_type])


def shown(record_type: RecordType) -> frozenset[str]:
    """The fields whose change the room's sidebar shows: only these make an update event (DESIGN "Events")."""
    return frozenset(f.name for f in TYPE_FIELDS[record_type] if f.shown)


def patchable(record_type: RecordType) -> tuple[str, ...]:
    """The stored fields a PATCH may change (``creator_flag`` is set once; contact links only grow)."""
    return tuple(f.name for f in (*TYPE_FIELDS[record_type], *ORIGIN_FIELDS) if f.patchable and f.stored)
