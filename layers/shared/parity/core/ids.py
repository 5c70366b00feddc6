"""What an id may look like, checked wherever one enters: bounded, and safe in a key, a URL path
and a log line."""

from __future__ import annotations

import re

from parity.core.text import has_control

#: A company id: letters, digits, "_" and "-", 1 to 64 of them, starting with a letter or digit.
#: Checked wherever one enters (provisioning, ``parity local --company``, ``parity ops``, events).
COMPANY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
#: A chat room id is the channel's, not ours: any text of 1 to ``MAX_ROOM_ID`` characters, not
#: only spaces, with no control characters (``parity.crm.models.RoomId`` holds requests to it).
MAX_ROOM_ID = 128
ROOM_ID_RULE = f"1 to {MAX_ROOM_ID} characters, no control characters"
#: What any of our ids (records, contacts) looks like.
_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def check_company_id(value: str) -> str:
    """``value`` when it is a valid company id; else ``ValueError`` saying what one is."""
    if not isinstance(value, str) or not COMPANY_ID.match(value):
        raise ValueError(f"invalid company id {value!r}: 1 to 64 letters, digits, '_' or '-', starting with a letter or digit")
    return value


def valid_id(value: object) -> bool:
    """Whether ``value`` could be one of our record or contact ids. An id that could not is
    answered (404, a warning) before any store call: nothing unbounded reaches a key."""
    return isinstance(value, str) and _ID_PATTERN.match(value) is not None


def valid_room_id(value: object) -> bool:
    """Whether ``value`` could be a chat room id (``ROOM_ID_RULE``)."""
    return isinstance(value, str) and bool(value.strip()) and len(value) <= MAX_ROOM_ID and not has_control(value)
