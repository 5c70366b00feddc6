"""JSON text in and out, with numbers kept exact.

Amounts and versions live in DynamoDB as numbers, which come back as ``Decimal``. The standard
library writes a ``Decimal`` only through ``default``, and the closest thing ``default`` can return
is a float: ``999999999999999.99`` would leave as ``1000000000000000.0`` (issue 12). ``dumps`` writes
each non-integral ``Decimal`` as its own decimal text instead (an integral one as an int), so every
answer, event and preview shows the value that was stored. ``loads`` reads fractions as ``Decimal``
and refuses ``NaN`` and ``Infinity``, which are not JSON.

Every JSON text the service writes (answers, queued events, dead letters) goes through ``dumps``.
"""

from __future__ import annotations

import json
import re
import secrets
from decimal import Decimal
from typing import Any


def dumps(payload: Any) -> str:
    """Compact JSON (UTF-8 text, not ASCII-escaped); Decimals exact."""
    exact: list[str] = []
    nonce = ""

    def default(value: Any) -> Any:
        nonlocal nonce
        if isinstance(value, Decimal):
            if not value.is_finite():
                raise ValueError(f"{value} is not a JSON number")
            if value == value.to_integral_value():
                return int(value)
            # A placeholder string that no caller's text can contain (a random nonce after a NUL),
            # swapped for the number's exact text once the document is written.
            nonce = nonce or secrets.token_hex(8)
            exact.append(str(value))
            return f"\x00{nonce}:{len(exact) - 1}"
        raise TypeError(f"not JSON serialisable: {type(value).__name__}")

    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=default)
    if not exact:
        return text
    return re.sub(rf'"\\u0000{nonce}:(\d+)"', lambda m: exact[int(m.group(1))], text)


def loads(text: str | bytes) -> Any:
    """JSON with fractions as ``Decimal``; ``NaN``/``Infinity`` refused (``ValueError``)."""
    return json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def plain(value: Any) -> Any:
    """DynamoDB's Decimals as JSON-ready numbers, recursively: an integral one becomes an int; any
    other stays a ``Decimal`` (exact: a float would round ``999999999999999.99``), which
    ``parity.core.jsonio.dumps`` writes as its own decimal text."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
