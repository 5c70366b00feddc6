"""The chat excerpt of a timeline note: the last messages of the room's chat, bounded, cleaned
and masked (RFC CDTC-S05). Pure: no I/O. (The note's field is ``preview``, as the contract names it;
it is not the room's sidebar preview, which is ``parity.inbox.sidebar``.)

Bounds (also in the README, "Timeline note"):

* The excerpt holds the last ``EXCERPT_MESSAGES`` (5) messages that have text, oldest first, each
  ``{sender_type, sender_name, text, created_at}``. Messages without text (attachments, stickers)
  are left out. Whitespace runs become one space; control and invisible format characters go.
* ``text`` is cut to ``MAX_TEXT_CHARS`` (280) characters, ``sender_name`` to
  ``MAX_SENDER_NAME_CHARS`` (80), ``sender_type`` to ``MAX_SENDER_TYPE_CHARS`` (32); a cut ends in "…".
  Masking (``parity.timeline.masking``) happens before the cut, so a number or address straddling
  the cut is still masked. Sender names are masked too: a customer without a saved name shows as
  their number.

The hub's answer is validated here too (``parse_history``): anything but
``{"data": [{"id", "room_id", "sender_type", "sender_name", "text", "created_at"}, …]}`` with every
message in the asked room is malformed, and a malformed answer is no excerpt at all (ERR-2).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from parity.core.clock import iso_ms, parse_time
from parity.timeline.masking import mask, normalise

EXCERPT_MESSAGES = 5
MAX_TEXT_CHARS = 280
MAX_SENDER_NAME_CHARS = 80
MAX_SENDER_TYPE_CHARS = 32
#: Most messages a hub answer may hold (we ask for 100; more is not a page of ours).
MAX_HISTORY_MESSAGES = 1000
#: Text kept past the cut while masking: longer than any email (254) or phone run, so whatever
#: starts before the cut is seen whole by the masking.
_MASK_MARGIN = 320
#: Raw text looked at, at most, before cleaning (a hub message may be huge).
_RAW_CHARS = 8192

_ZWJ = "\u200d"
_LOOSE_ZWJ = re.compile(r"\u200d(?=\d|\s|\u200d|$)|(?<=\d|\s)\u200d|^\u200d")


@dataclass(frozen=True)
class ChatMessage:
    """One message of the hub's answer, validated."""

    id: str
    room_id: str
    sender_type: str
    sender_name: str | None
    text: str | None
    created_at: datetime


@dataclass(frozen=True)
class ChatHistory:
    """What a history fetch came back with: ``messages``, or None and the ``problem`` (for logs)."""

    messages: tuple[ChatMessage, ...] | None
    problem: str = ""
    attempts: int = 0

    @property
    def available(self) -> bool:
        return self.messages is not None


# ---- the hub's answer ------------------------------------------------------------------------
def parse_history(payload: Any, room_id: str) -> list[ChatMessage] | None:
    """The messages of a hub answer, or None when it is not the documented shape.

    Every message must belong to ``room_id``: a page holding another room's messages is not
    shown at all (it would put one customer's chat on another's record).
    """
    if not isinstance(payload, Mapping):
        return None
    data = payload.get("data")
    if not isinstance(data, list) or len(data) > MAX_HISTORY_MESSAGES:
        return None
    messages = []
    for item in data:
        message = _message(item)
        if message is None or message.room_id != room_id:
            return None
        messages.append(message)
    return messages


def _message(item: Any) -> ChatMessage | None:
    if not isinstance(item, Mapping):
        return None
    message_id, room, sender_type = item.get("id"), item.get("room_id"), item.get("sender_type")
    sender_name, text, created = item.get("sender_name"), item.get("text"), item.get("created_at")
    if not _is_id(message_id) or not _is_id(room):
        return None
    if not isinstance(sender_type, str) or not sender_type.strip():
        return None
    if not (sender_name is None or isinstance(sender_name, str)) or not (text is None or isinstance(text, str)):
        return None
    moment = parse_time(created)
    if moment is None:
        return None
    return ChatMessage(str(message_id), str(room), sender_type, sender_name, text, moment)


def _is_id(value: Any) -> bool:
    return (isinstance(value, str) and value != "") or (isinstance(value, int) and not isinstance(value, bool))


# ---- the excerpt -----------------------------------------------------------------------------
def excerpt(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """The last ``EXCERPT_MESSAGES`` messages with text, oldest first, bounded and masked."""
    with_text = [(m, clean(m.text or "")) for m in messages]
    with_text = [(m, text) for m, text in with_text if text]
    with_text.sort(key=lambda pair: (pair[0].created_at, pair[0].id))
    return [
        {
            "sender_type": truncate(clean(m.sender_type), MAX_SENDER_TYPE_CHARS),
            "sender_name": _bounded(m.sender_name, MAX_SENDER_NAME_CHARS),
            "text": _bounded(text, MAX_TEXT_CHARS),
            "created_at": iso_ms(m.created_at),
        }
        for m, text in with_text[-EXCERPT_MESSAGES:]
    ]


def _bounded(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    cleaned = clean(value)
    return truncate(mask(cleaned[: limit + _MASK_MARGIN]), limit) if cleaned else None


def clean(text: str) -> str:
    """One line of visible text: whitespace runs → one space; control, surrogate and invisible
    format characters (zero-width spaces, direction marks) removed, so they cannot hide a number.
    The zero-width joiner stays inside emoji sequences (👨‍👩‍👧), never next to a digit."""
    kept = "".join(
        " " if ch.isspace() else ch
        for ch in text[:_RAW_CHARS]
        if ch.isspace() or ch == _ZWJ or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co")
    )
    return " ".join(_LOOSE_ZWJ.sub("", normalise(kept)).split())


def truncate(text: str, limit: int) -> str:
    """At most ``limit`` characters; a cut text ends in "…"."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"
