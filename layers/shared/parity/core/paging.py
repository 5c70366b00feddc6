"""A list route's ``limit`` and ``cursor``: one reading for every list (1..100, 50 when absent;
a cursor that is not this list's is a 422 naming ``cursor``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from parity.core.dynamodb import BadCursor, Page
from parity.core.errors import ValidationFailed

#: The ``limit`` parameter in the API's document: ``limit=`` (empty) is the default, as the contracts'
#: ``?status=&limit=&cursor=`` templates write it; the range is ``limit_of``'s to say.
LIMIT_SCHEMA = {"type": "string", "pattern": "^[0-9]{0,3}$"}
MAX_LIMIT = 100
DEFAULT_LIMIT = 50


def limit_of(value: str | None, *, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> int:
    """The ``limit`` query parameter: 1..``maximum``, ``default`` when absent; else a 422 naming it."""
    if value is None or value == "":
        return default
    if not value.isdigit() or not 1 <= int(value) <= maximum:
        raise ValidationFailed("invalid limit", details=[{"field": "limit", "message": f"an integer from 1 to {maximum}", "type": "value_error"}])
    return int(value)


def paged(read: Callable[..., Page], **kwargs: Any) -> Page:
    """``read(**kwargs)``, a foreign cursor becoming a 422 naming ``cursor``."""
    try:
        return read(**kwargs)
    except BadCursor as exc:
        raise ValidationFailed("invalid cursor", details=[{"field": "cursor", "message": str(exc), "type": "value_error"}]) from exc
