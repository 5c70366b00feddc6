"""Request bodies, validated with pydantic v2.

Strict on purpose: unknown fields, wrong JSON types, empty names, over-long strings and
control characters are rejected with the offending field named; nothing is coerced from a
string into a number or from a number into a string, except ids (producers send both).
"""

from __future__ import annotations

import math
import unicodedata
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictStr,
    StringConstraints,
    ValidationError,
)

from parity.core.ids import MAX_ROOM_ID
from parity.core.text import has_control

#: At most this many ``crm_lead_ids`` per request (the producers send one or two).
MAX_LEAD_IDS = 50
#: Largest accepted amount (a deal value, in the account's currency), and its finest fraction:
#: with 15 integer and 6 decimal digits every amount fits DynamoDB's 38-digit numbers exactly.
MAX_AMOUNT = Decimal(10) ** 15
AMOUNT_DECIMAL_PLACES = 6


def _no_control_chars(value: str) -> str:
    if has_control(value):
        raise ValueError("must not contain control characters or lone surrogates")
    return value


def _visible(value: str) -> str:
    # A name of only format characters (U+202E, zero-width spaces, BOM) shows as nothing: empty.
    if value and all(unicodedata.category(ch) in _INVISIBLE for ch in value):
        raise ValueError("must contain a visible character")
    return value


_INVISIBLE = frozenset({"Cf", "Zs", "Zl", "Zp", "Mn", "Me"})


def _text(max_length: int, *, min_length: int = 0) -> Any:
    checks = [AfterValidator(_no_control_chars)]
    if min_length:
        checks.append(AfterValidator(_visible))
    return Annotated[
        StrictStr,
        StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
        *checks,
    ]


def _number_only(value: Any) -> Any:
    # bool is an int in Python and a string would be coerced by Decimal: neither is a JSON number.
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise ValueError("must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite number")
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueError("must be a finite number")
    return value


Name = _text(255, min_length=1)
ShortText = _text(255)
LongText = _text(10_000)
RoomId = _text(MAX_ROOM_ID, min_length=1)
CreatorFlag = _text(64)
def _exact(value: Decimal) -> Decimal:
    # 1.50 and 1.5 are one amount; DynamoDB would store either as 1.5.
    return value.normalize() if value else Decimal(0)


Amount = Annotated[
    Decimal,
    BeforeValidator(_number_only),
    Field(ge=0, le=MAX_AMOUNT, decimal_places=AMOUNT_DECIMAL_PLACES, strict=False),
    AfterValidator(_exact),
]


def _id_as_text(value: Any) -> Any:
    # Our ids are strings; older producers send integers. Anything else is a type error.
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError("must be a string or an integer")
    return str(value)


#: A contact id as a producer sends it, normalised to text. Whether it names a contact of the
#: caller's company is checked against the store: an unknown id is a warning, not an error.
LeadId = Annotated[str, BeforeValidator(_id_as_text), Field(max_length=128)]
LeadIds = Annotated[list[LeadId], Field(max_length=MAX_LEAD_IDS)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _Origin(_Body):
    """What a bot or AI producer adds to a create: where it came from and who it is about."""

    source: ShortText | None = None
    channel_integration_room_id: RoomId | None = None
    contact_id: LeadId | None = None
    crm_lead_ids: LeadIds | None = None
    creator_flag: CreatorFlag | None = None


class DealCreate(_Origin):
    name: Name
    pipeline: ShortText | None = None
    stage: ShortText | None = None
    amount: Amount | None = None
    status: ShortText | None = None


class TicketCreate(_Origin):
    name: Name
    description: LongText | None = None
    priority: ShortText | None = None
    status: ShortText | None = None


class _Update(_Body):
    """A PATCH: only the fields sent change; ``null`` clears an optional field.

    ``creator_flag`` is accepted only to be refused when it differs (it is set once, at create).
    """

    source: ShortText | None = None
    channel_integration_room_id: RoomId | None = None
    contact_id: LeadId | None = None
    crm_lead_ids: LeadIds | None = None
    creator_flag: CreatorFlag | None = None


class DealUpdate(_Update):
    name: Name = None  # type: ignore[assignment]  # optional in a PATCH, but never null
    pipeline: ShortText | None = None
    stage: ShortText | None = None
    amount: Amount | None = None
    status: ShortText | None = None


class TicketUpdate(_Update):
    name: Name = None  # type: ignore[assignment]
    description: LongText | None = None
    priority: ShortText | None = None
    status: ShortText | None = None


class ContactCreate(_Body):
    name: Name
    phone: _text(32) | None = None  # type: ignore[valid-type]
    email: _text(254) | None = None  # type: ignore[valid-type]


class TokenRequest(_Body):
    sso_id: _text(255, min_length=1)  # type: ignore[valid-type]


def error_details(exc: ValidationError) -> list[dict[str, str]]:
    """pydantic errors as DESIGN.md details: one entry per offending field, input never echoed."""
    details = []
    for err in exc.errors(include_input=False, include_url=False):
        message = err["msg"].removeprefix("Value error, ")
        details.append({"field": field_path(err["loc"]), "message": message, "type": err["type"]})
    return details


def field_path(loc: tuple[int | str, ...]) -> str:
    """``("crm_lead_ids", 2)`` → ``crm_lead_ids[2]``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"
