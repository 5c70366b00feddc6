"""Input checks shared by the approvals modules, without pydantic.

The create path reads ``confidence`` and ``agent_id`` on every bot/AI create, and the policy on
the same path: these checks are a few lines of the standard library, so they cost the create
path's cold start nothing (pydantic loads only on the first body the CRM's models parse,
``parity.crm.service.validate``). Each check returns the value it accepted and a *problem*
(``{"field", "message", "type"}``, the DESIGN.md error detail) instead of raising, so a caller
can name every offending field of a body in one 422, together with the fields other checks found.
Types follow pydantic's names (``number_type``, ``less_than_equal``, ``extra_forbidden``…), so a
client sees one vocabulary whichever check refused.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from parity.core.clock import iso_ms
from parity.core.errors import ValidationFailed

Problem = dict[str, str]

#: C0 and C1 control characters, DEL and lone surrogates: never in an id, a reason or a name.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
#: Control characters a free text may not hold (tab, newline and carriage return are allowed).
_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
#: The finest fraction a stored score keeps: a float's shortest repr has at most 17 significant
#: digits; 20 places fit DynamoDB's 38-digit numbers exactly and refuse 1e-200-style values.
MAX_DECIMAL_PLACES = 20
MAX_LIMIT = 100
DEFAULT_LIMIT = 50
MAX_CURSOR_LENGTH = 2048


def problem(field: str, message: str, type_: str) -> Problem:
    return {"field": field, "message": message, "type": type_}


def fail(problems: Iterable[Problem], message: str = "the request has invalid fields") -> None:
    """Raise one ``ValidationFailed`` (422) naming every problem, if there is any."""
    found = list(problems)
    if found:
        raise ValidationFailed(message, details=found)


def join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def object_problem(value: Any, field: str = "body") -> Problem | None:
    """A problem unless ``value`` is a JSON object."""
    if isinstance(value, Mapping):
        return None
    return problem(field, "must be a JSON object", "dict_type" if field != "body" else "object_type")


def unknown_fields(body: Mapping[str, Any], allowed: Collection[str], prefix: str = "") -> list[Problem]:
    """One problem per key of ``body`` that is not ``allowed`` (sorted, so answers are stable)."""
    return [problem(join(prefix, str(name)), "unknown field", "extra_forbidden") for name in sorted(map(str, body)) if name not in allowed]


def unit_number(value: Any, field: str) -> tuple[Decimal | None, Problem | None]:
    """A JSON number from 0 to 1 inclusive, as an exact ``Decimal``; None stays None.

    ``true`` is not a number (Python's bool is an int), nor is ``"0.8"`` (nothing is coerced from
    a string); NaN and infinities are not JSON numbers; more than ``MAX_DECIMAL_PLACES`` places
    could not be stored exactly. A float is read by its shortest repr (0.1 → Decimal("0.1")).
    """
    if value is None:
        return None, None
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return None, problem(field, "must be a number", "number_type")
    if isinstance(value, float):
        if not math.isfinite(value):
            return None, problem(field, "must be a finite number", "finite_number")
        number = Decimal(repr(value))
    elif isinstance(value, int):
        number = Decimal(value)
    else:
        number = value
    if not number.is_finite():
        return None, problem(field, "must be a finite number", "finite_number")
    if number < 0:
        return None, problem(field, "must be greater than or equal to 0", "greater_than_equal")
    if number > 1:
        return None, problem(field, "must be less than or equal to 1", "less_than_equal")
    try:
        exact = number.normalize() if number else Decimal(0)
    except InvalidOperation:  # pragma: no cover - a finite number in 0..1 always normalises
        return None, problem(field, "must be a number", "number_type")
    if -exact.as_tuple().exponent > MAX_DECIMAL_PLACES:  # type: ignore[operator]
        return None, problem(field, f"must have at most {MAX_DECIMAL_PLACES} decimal places", "decimal_max_places")
    return exact, None


def identifier(value: Any, field: str, *, max_length: int) -> tuple[str | None, Problem | None]:
    """A caller's id (an agent id, an sso id): text of 1 to ``max_length`` characters, not blank,
    with no control character or lone surrogate; kept exactly as sent. None stays None."""
    if value is None:
        return None, None
    if not isinstance(value, str):
        return None, problem(field, "must be a string", "string_type")
    if not value.strip():
        return None, problem(field, "must not be empty", "string_too_short")
    if len(value) > max_length:
        return None, problem(field, f"must be at most {max_length} characters", "string_too_long")
    if _CONTROL.search(value):
        return None, problem(field, "must not contain control characters", "value_error")
    return value, None


def free_text(value: Any, field: str, *, max_length: int) -> tuple[str | None, Problem | None]:
    """A person's text (a reject reason): at most ``max_length`` characters as sent, trimmed, no control
    characters but tab and newlines; empty after trimming is None. None stays None."""
    if value is None:
        return None, None
    if not isinstance(value, str):
        return None, problem(field, "must be a string", "string_type")
    text = value.strip()
    if len(value) > max_length:  # as sent: what a schema's maxLength says
        return None, problem(field, f"must be at most {max_length} characters", "string_too_long")
    if _TEXT_CONTROL.search(text):
        return None, problem(field, "must not contain control characters", "value_error")
    return text or None, None


def choice(value: Any, field: str, allowed: Collection[str]) -> tuple[str | None, Problem | None]:
    """One of ``allowed`` exactly; None stays None."""
    if value is None:
        return None, None
    if isinstance(value, str) and value in allowed:
        return value, None
    return None, problem(field, f"must be one of {', '.join(allowed)}", "enum")


def moment(value: Any, field: str) -> tuple[datetime | None, Problem | None]:
    """An ISO-8601 time with a time zone (``2026-11-23T03:00:00Z``, ``…+07:00``), as UTC; a time
    without a zone is refused rather than guessed. None (or an empty query value) stays None."""
    if value is None or value == "":
        return None, None
    if not isinstance(value, str) or len(value) > 64:
        return None, problem(field, "must be an ISO-8601 time", "datetime_type")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None, problem(field, "must be an ISO-8601 time, e.g. 2026-11-23T03:00:00Z", "datetime_parsing")
    if parsed.tzinfo is None:
        return None, problem(field, "must include a time zone, e.g. Z", "timezone_aware")
    return parsed.astimezone(timezone.utc), None


def parse_time(stamp: str) -> datetime:
    """One of our stored ``iso_ms`` stamps back as an aware UTC datetime."""
    return datetime.fromisoformat(stamp).astimezone(timezone.utc)


def stamp(when: datetime) -> str:
    return iso_ms(when)


def limit(value: Any, field: str = "limit") -> tuple[int, Problem | None]:
    """A page size from a query string: digits only, 1 to ``MAX_LIMIT``; absent → ``DEFAULT_LIMIT``."""
    if value is None or value == "":
        return DEFAULT_LIMIT, None
    text = str(value)
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_LIMIT:
        return DEFAULT_LIMIT, problem(field, f"must be an integer from 1 to {MAX_LIMIT}", "int_parsing")
    return int(text), None


def cursor(value: Any, field: str = "cursor") -> tuple[str | None, Problem | None]:
    """An opaque ``next_cursor`` as given back; only its size and characters are checked here
    (the store decodes it, and refuses one it did not make)."""
    if value is None or value == "":
        return None, None
    if not isinstance(value, str) or len(value) > MAX_CURSOR_LENGTH or _CONTROL.search(value):
        return None, problem(field, "not a cursor this API returned", "value_error")
    return value, None
