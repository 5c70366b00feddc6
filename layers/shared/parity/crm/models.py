"""Request bodies, validated with pydantic v2.

Strict on purpose: unknown fields, wrong JSON types, empty names, over-long strings and
control characters are rejected with the offending field named; nothing is coerced from a
string into a number or from a number into a string, except ids (producers send both).

The deal and ticket models are built from the one declaration of their fields
(``parity.crm.fields``): each field's kind becomes its type here, required fields are required at
create, and a PATCH takes every field as optional.
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
    create_model,
)

from parity.core.text import has_control
from parity.crm import fields
from parity.crm.fields import AMOUNT_DECIMAL_PLACES, MAX_AMOUNT, MAX_LEAD_IDS, Kind, RecordType  # noqa: F401  (named here too)


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


def text(max_length: int, *, min_length: int = 0) -> Any:
    """A string field: stripped, bounded, no control characters; with ``min_length``, visible."""
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


def _exact(value: Decimal) -> Decimal:
    # 1.50 and 1.5 are one amount; DynamoDB would store either as 1.5.
    return value.normalize() if value else Decimal(0)


def _id_as_text(value: Any) -> Any:
    # Our ids are strings; older producers send integers. Anything else is a type error.
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError("must be a string or an integer")
    return str(value)


def typed(kind: Kind) -> Any:
    """The pydantic type of a declared kind (``parity.crm.fields``)."""
    if kind.json == "string" and kind.max_length:
        return text(kind.max_length, min_length=1 if kind.visible else 0)
    if kind.json == "number":
        bounds = Field(ge=kind.minimum, le=kind.maximum, decimal_places=kind.decimal_places, strict=False)
        return Annotated[Decimal, BeforeValidator(_number_only), bounds, AfterValidator(_exact)]
    if kind.json == "id":
        # A contact id as a producer sends it, normalised to text. Whether it names a contact of the
        # caller's company is checked against the store: an unknown id is a warning, not an error.
        return Annotated[str, BeforeValidator(_id_as_text), Field(max_length=kind.max_length, json_schema_extra=fields.ID_JSON)]
    if kind.json == "array" and kind.items is not None:
        return Annotated[list[typed(kind.items)], Field(max_length=kind.max_length)]  # type: ignore[misc]
    raise ValueError(f"no request type for a {kind.json} field")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _record_body(record_type: RecordType, *, update: bool) -> type[_Body]:
    """The create (or PATCH) body of a record type: what a producer adds (``ORIGIN_FIELDS``: source,
    room, contacts, creator flag), then the type's own fields. In a PATCH only the fields sent change
    and ``null`` clears an optional one; a required field is optional there but never null, and
    ``creator_flag`` is accepted only to be refused when it differs (it is set once, at create)."""
    definitions: dict[str, Any] = {}
    for declared in (*fields.ORIGIN_FIELDS, *fields.TYPE_FIELDS[record_type]):
        field_type = typed(declared.kind)
        if declared.required:
            definitions[declared.name] = (field_type, None) if update else (field_type, ...)
        else:
            definitions[declared.name] = (field_type | None, None)
    name = f"{record_type.capitalize()}{'Update' if update else 'Create'}"
    return create_model(name, __base__=_Body, __module__=__name__, **definitions)


DealCreate = _record_body("deal", update=False)
TicketCreate = _record_body("ticket", update=False)
DealUpdate = _record_body("deal", update=True)
TicketUpdate = _record_body("ticket", update=True)


Name = typed(fields.NAME)


class ContactCreate(_Body):
    name: Name
    phone: text(32) | None = None  # type: ignore[valid-type]
    email: text(254) | None = None  # type: ignore[valid-type]


class TokenRequest(_Body):
    sso_id: text(255, min_length=1)  # type: ignore[valid-type]


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
