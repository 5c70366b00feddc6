"""What no text we accept may hold, checked wherever text enters (request bodies, signed events,
path parameters)."""

from __future__ import annotations

import re

#: C0 control characters other than tab, line feed and carriage return; DEL; and lone surrogates
#: (which no UTF-8 text can carry, and which DynamoDB and JSON encoders refuse).
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def has_control(value: str) -> bool:
    """Whether ``value`` holds a character of ``CONTROL``."""
    return CONTROL.search(value) is not None
