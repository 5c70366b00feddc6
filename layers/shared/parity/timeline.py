"""The timeline note of a bot/AI record: a bounded, masked excerpt of its chat and a link back to
the room (RFC CDTC-S04, CDTC-S05, ADR-5). Pure: no I/O, no clock; callers pass the time in.

Bounds (also in the README, "Timeline note"):

* ``preview`` holds the last ``PREVIEW_MESSAGES`` (5) messages that have text, oldest first, each
  ``{sender_type, sender_name, text, created_at}``. Messages without text (attachments, stickers)
  are left out. Whitespace runs become one space; control and invisible format characters go.
* ``text`` is cut to ``MAX_TEXT_CHARS`` (280) characters, ``sender_name`` to
  ``MAX_SENDER_NAME_CHARS`` (80), ``sender_type`` to ``MAX_SENDER_TYPE_CHARS`` (32); a cut ends in "…".
  Masking happens before the cut, so a number or address straddling the cut is still masked.
* Emails keep the first character of the local part and the domain: ``budi.s@example.com`` →
  ``b***@example.com``.
* Phone numbers keep their punctuation and their last ``PHONE_KEEP_DIGITS`` (3) digits:
  ``+62 812-3456-7890`` → ``+** ***-****-*890``, ``(021) 555-0101`` → ``(***) ***-*101``. A phone
  number is a run of digit groups joined by single spaces, dots, dashes or parentheses, with an
  optional leading ``+``, holding at least ``PHONE_MIN_DIGITS`` (8) digits in all; longer runs
  (card, account and ID numbers) are masked by the same rule. Left alone, as ordinary numbers:
  dates (``2026-11-23``, ``23/11/2026``, ``23-11-2026``), times, thousands-grouped amounts
  (``15.000.000``, ``1,500,000``), year ranges (``2024-2026``), amounts next to a currency
  (``Rp 150000000``, ``25000000 rupiah``), references (``#12345678``), numbers glued to letters
  (``INV20261123001``) and runs under 8 digits.
  Sender names are masked too: a customer without a saved name shows as their number.
* The note lives 365 days (``NOTE_TTL_SECONDS``, DynamoDB TTL attribute ``ttl``).

The hub's answer is validated here too (``parse_history``): anything but
``{"data": [{"id", "room_id", "sender_type", "sender_name", "text", "created_at"}, …]}`` with every
message in the asked room is malformed, and a malformed answer is no preview at all (ERR-2).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal
from urllib.parse import quote

from parity.records import CREATOR_LABELS, iso_ms

NOTE_TYPE = "chat_history"
PREVIEW_MESSAGES = 5
MAX_TEXT_CHARS = 280
MAX_SENDER_NAME_CHARS = 80
MAX_SENDER_TYPE_CHARS = 32
PHONE_MIN_DIGITS = 8
PHONE_KEEP_DIGITS = 3
NOTE_TTL_SECONDS = 365 * 24 * 3600
#: Most messages a hub answer may hold (we ask for 100; more is not a page of ours).
MAX_HISTORY_MESSAGES = 1000
#: Text kept past the cut while masking: longer than any email (254) or phone run, so whatever
#: starts before the cut is seen whole by the masking.
_MASK_MARGIN = 320
#: Raw text looked at, at most, before cleaning (a hub message may be huge).
_RAW_CHARS = 8192

PreviewStatus = Literal["ok", "unavailable"]

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


def parse_time(value: Any) -> datetime | None:
    """An ISO-8601 timestamp as an aware UTC datetime (no offset means UTC), else None."""
    if not isinstance(value, str) or not 10 <= len(value) <= 40:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


# ---- the preview -----------------------------------------------------------------------------
def preview(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """The last ``PREVIEW_MESSAGES`` messages with text, oldest first, bounded and masked."""
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
        for m, text in with_text[-PREVIEW_MESSAGES:]
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
    return " ".join(_LOOSE_ZWJ.sub("", kept).split())


def truncate(text: str, limit: int) -> str:
    """At most ``limit`` characters; a cut text ends in "…"."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


# ---- masking ---------------------------------------------------------------------------------
_EMAIL = re.compile(r"(?<![\w.%+-])([\w.%+-]+)@((?:[\w-]+\.)+[^\W\d_]{2,})(?![\w-])")

# A digit group: "0812", or "(021)" / "(+62)" in parentheses. A group of digits is never followed
# by another digit (so a run splits into groups in one way only: no backtracking blow-up) nor by
# ":" + digit (a time such as "10:30" is not part of a number).
_GROUP = r"(?:\(\+?\d{1,5}\)|\d+(?!\d|:\d))"
# Groups are joined by one space, dot or dash, or by nothing next to a parenthesis.
_SEP = r"(?:[ .-]|(?<=\))|(?=\())"
_PHONE = re.compile(
    rf"(?<![\w+#/@$])"  # not glued to a word, a reference (#123…), a path or a price
    rf"(?:\+ ?)?{_GROUP}(?:{_SEP}{_GROUP})*"
    rf"(?![\w@])"  # not glued to a word or an email address
)
_DATE = re.compile(r"^(?:\d{4}([-./])\d{1,2}\1\d{1,2}|\d{1,2}([-./])\d{1,2}\2(?:\d{4}|\d{2}))$")
_THOUSANDS = re.compile(r"^\d{1,3}(?:\.\d{3})+$")
_YEARS = re.compile(r"^(?:19|20)\d{2} ?- ?(?:19|20)\d{2}$")
_CURRENCY_BEFORE = re.compile(r"(?:\b(?:rp|idr|usd|sgd|myr|eur|us\$)|[$€£¥])\.? ?$", re.IGNORECASE)
_CURRENCY_AFTER = re.compile(r"^ ?(?:rupiah|idr|usd|sgd|myr|eur|juta|jt|ribu|rb|k|m)\b", re.IGNORECASE)


def mask(text: str) -> str:
    """Emails and phone numbers masked (rules in the module docstring); other text unchanged."""
    return _PHONE.sub(_mask_phone, _EMAIL.sub(_mask_email, text))


def _mask_email(match: re.Match[str]) -> str:
    return f"{match.group(1)[0]}***@{match.group(2)}"


def _mask_phone(match: re.Match[str]) -> str:
    run = match.group(0)
    digits = sum(ch.isdigit() for ch in run)
    if digits < PHONE_MIN_DIGITS or _ordinary_number(run, match.string[: match.start()], match.string[match.end() :]):
        return run
    keep_from = digits - PHONE_KEEP_DIGITS
    out, seen = [], 0
    for ch in run:
        if ch.isdigit():
            out.append(ch if seen >= keep_from else "*")
            seen += 1
        else:
            out.append(ch)
    return "".join(out)


def _ordinary_number(run: str, before: str, after: str) -> bool:
    """A date, a grouped amount or an amount next to its currency: not someone's number."""
    return bool(
        _DATE.match(run)
        or _THOUSANDS.match(run)
        or _YEARS.match(run)
        or _CURRENCY_BEFORE.search(before[-8:])
        or _CURRENCY_AFTER.match(after[:10])
    )


# ---- the note --------------------------------------------------------------------------------
def deeplink(template: str, room_id: str) -> str:
    """The room's address in the chat inbox (``ROOM_DEEPLINK_TEMPLATE``; the id URL-quoted)."""
    return template.format(room_id=quote(room_id, safe=""))


def note_id(record_type: str, record_id: str, room_id: str) -> str:
    """Stable per (record, room): a redelivered message names the same note."""
    digest = hashlib.sha256(f"{record_type}\n{record_id}\n{NOTE_TYPE}\n{room_id}".encode()).hexdigest()[:24]
    return f"note_{digest}"


def build_note(
    record: Mapping[str, Any],
    *,
    messages: Sequence[ChatMessage] | None,
    deeplink_template: str,
    now: datetime,
) -> dict[str, Any]:
    """The note for a record (the event's public ``data``) and its room's history.

    ``messages`` None means the history could not be had: the note is still made, with the
    deeplink and the creator label, and ``preview: null`` (RFC ERR-2).
    """
    record_type, record_id = str(record["type"]), str(record["id"])
    room_id = str(record["channel_integration_room_id"])
    flag = record.get("creator_flag")
    shown = preview(messages) if messages is not None else None
    status: PreviewStatus = "ok" if shown is not None else "unavailable"
    expires = now + timedelta(seconds=NOTE_TTL_SECONDS)
    return {
        "id": note_id(record_type, record_id, room_id),
        "type": NOTE_TYPE,
        "record_id": record_id,
        "record_type": record_type,
        "room_id": room_id,
        "creator_label": record.get("creator_label") or CREATOR_LABELS.get(flag or ""),
        "preview": shown,
        "preview_status": status,
        "deeplink": deeplink(deeplink_template, room_id),
        "created_at": iso_ms(now),
        "expires_at": iso_ms(expires),
        "ttl": int(expires.timestamp()),
    }


def newest_first(notes: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A record's notes as its timeline lists them: newest first (ties by id, for a stable order)."""
    return sorted((dict(n) for n in notes), key=lambda n: (n.get("created_at", ""), n.get("id", "")), reverse=True)
