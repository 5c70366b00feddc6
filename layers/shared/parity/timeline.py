"""The timeline note of a bot/AI record: a bounded, masked excerpt of its chat and a link back to
the room (RFC CDTC-S04, CDTC-S05, ADR-5). Pure: no I/O, no clock; callers pass the time in.

Bounds (also in the README, "Timeline note"):

* ``preview`` holds the last ``PREVIEW_MESSAGES`` (5) messages that have text, oldest first, each
  ``{sender_type, sender_name, text, created_at}``. Messages without text (attachments, stickers)
  are left out. Whitespace runs become one space; control and invisible format characters go.
* ``text`` is cut to ``MAX_TEXT_CHARS`` (280) characters, ``sender_name`` to
  ``MAX_SENDER_NAME_CHARS`` (80), ``sender_type`` to ``MAX_SENDER_TYPE_CHARS`` (32); a cut ends in "…".
  Masking happens before the cut, so a number or address straddling the cut is still masked.
* Before masking, text is normalised, and the note keeps it so: Unicode NFKC (full-width
  ``０８１２`` and ``budi＠example.com`` read as ``0812`` and ``budi@example.com``, odd spaces as
  spaces) and every dash variant (hyphen, non-breaking hyphen, figure, en and em dash, horizontal
  bar, minus sign, small and full-width hyphen-minus) as ``-``.
* Emails keep the first character of the local part and the domain: ``budi.s@example.com`` →
  ``b***@example.com``.
* Phone numbers keep their punctuation and their last ``PHONE_KEEP_DIGITS`` (3) digits:
  ``+62 812-3456-7890`` → ``+** ***-****-*890``, ``(021) 555-0101`` → ``(***) ***-*101``,
  ``0812/3456/7890`` → ``****/****/*890``. A phone number is a run of digit groups joined by
  single spaces, dots, dashes, slashes, underscores or commas, or by parentheses, with an optional
  leading ``+``, holding at least ``PHONE_MIN_DIGITS`` (8) digits in all; longer runs (card,
  account and ID numbers) are masked by the same rule. Left alone, as ordinary numbers: dates with
  a real month and day (``2026-11-23``, ``23/11/2026``, ``23-11-2026``, ``11/23/2026``) and date
  ranges (``23/11/2026-25/11/2026``), times (``10:30``, ``10.30``, ``10.30-12.00``),
  thousands-grouped amounts (``15.000.000``, ``1,500,000``, ``2.500.000,50``; never with a leading
  0), year ranges (``2024-2026``, ``2024/2026``), amounts next to a currency (``Rp 150000000``,
  ``25000000 rupiah``), references (``#12345678``, ``ref/12345678``), numbers glued to letters
  or digits (``INV20261123001``) and runs under 8 digits. ``_`` is punctuation, not a letter: a
  number in WhatsApp's ``_italics_`` is masked. When a run holds dates or times among its
  pieces (cut at spaces and commas), they stay and the pieces between them are judged on their
  own (``23/11/2026 0812 3456 7890`` → ``23/11/2026 **** **** *890``); after a leading ``+`` the
  whole run is the number.
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
    return " ".join(_LOOSE_ZWJ.sub("", normalise(kept)).split())


def truncate(text: str, limit: int) -> str:
    """At most ``limit`` characters; a cut text ends in "…"."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


# ---- masking ---------------------------------------------------------------------------------
#: Every dash a number may be written with, read as "-": hyphen, non-breaking hyphen, figure dash,
#: en dash, em dash, horizontal bar, hyphen bullet, minus sign, two- and three-em dash, small em
#: dash, small and full-width hyphen-minus (NFKC already folds some of them; the map holds all).
_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2043\u2212\u2e3a\u2e3b\ufe58\ufe63\uff0d"), "-")


def normalise(text: str) -> str:
    """Text as masking reads it, and as the note keeps it: Unicode NFKC (full-width digits, "＠",
    "／", "＿", "，" and odd spaces become their ASCII selves) and every dash variant "-"."""
    return unicodedata.normalize("NFKC", text).translate(_DASHES)


_EMAIL = re.compile(r"(?<![\w.%+-])([\w.%+-]+)@((?:[\w-]+\.)+[^\W\d_]{2,})(?![^\W_]|-)")

# Why this stays linear (a test feeds it ~450,000 adversarial characters): a digit group is never
# followed by another digit, so a run splits into groups in one way only; a separator is one
# character, or nothing next to a parenthesis, so each step has one way forward. Every place a
# match may stop but its last is followed by a separator or "(", which the closing look-ahead
# accepts: an attempt either matches (and its characters are consumed) or fails within its first
# group. The callbacks read at most a few characters either side of their run.
#
# A digit group: "0812", or "(021)" / "(+62)" in parentheses. A group of digits is never followed by
# ":" + digit either (a time such as "10:30" is not part of a number), nor by ":" + "*" (a digit
# masked already: masking twice changes nothing).
_GROUP = r"(?:\(\+?\d{1,5}\)|\d+(?!\d|:[\d*]))"
# Groups are joined by one space, dot, dash, slash, underscore or comma, or by nothing next to a
# parenthesis.
_SEP = r"(?:[ .,/_-]|(?<=\))|(?=\())"
_PHONE = re.compile(
    r"(?<![^\W_])(?<![+#/@$])"  # not glued to a word, a reference (#123…), a path or a price
    rf"(?:\+ ?)?{_GROUP}(?:{_SEP}{_GROUP})*"
    r"(?![^\W_]|@)"  # not glued to a word or an email address ("_" is punctuation: _italics_)
)
_PIECE = re.compile(r"[^ ,]+")
_YEAR, _MONTH, _DAY = r"[12]\d{3}", r"(?:0?[1-9]|1[0-2])", r"(?:0?[1-9]|[12]\d|3[01])"


def _date_pattern(tag: str, *, four_digit_year: bool = False) -> str:
    """A calendar date with one separator: year-month-day, day-month-year or month-day-year."""
    year = _YEAR if four_digit_year else rf"(?:{_YEAR}|\d{{2}})"
    return (
        rf"(?:{_YEAR}(?P<ymd{tag}>[-./]){_MONTH}(?P=ymd{tag}){_DAY}"
        rf"|{_DAY}(?P<dmy{tag}>[-./]){_MONTH}(?P=dmy{tag}){year}"
        rf"|{_MONTH}(?P<mdy{tag}>[-./]){_DAY}(?P=mdy{tag}){year})"
    )


_DATE = re.compile(rf"{_date_pattern('a')}")
_DATE_RANGE = re.compile(rf"{_date_pattern('a', four_digit_year=True)}-{_date_pattern('b', four_digit_year=True)}")
_TIME = re.compile(r"(?:[01]?\d|2[0-3])\.[0-5]\d(?:-(?:[01]?\d|2[0-3])\.[0-5]\d)?")  # 10.30, 10.30-12.00
_THOUSANDS = re.compile(r"[1-9]\d{0,2}(?:(?:\.\d{3})+(?:,\d{1,2})?|(?:,\d{3})+(?:\.\d{1,2})?)")
_YEARS = re.compile(r"(?:19|20)\d{2}[-/](?:19|20)\d{2}")
_CURRENCY_BEFORE = re.compile(r"(?:\b(?:rp|idr|usd|sgd|myr|eur|us\$)|[$€£¥])\.? ?$", re.IGNORECASE)
_CURRENCY_AFTER = re.compile(r"^ ?(?:rupiah|idr|usd|sgd|myr|eur|juta|jt|ribu|rb|k|m)\b", re.IGNORECASE)


def mask(text: str) -> str:
    """Emails and phone numbers masked (rules in the module docstring) in the normalised text;
    other text unchanged but for the normalisation."""
    return _PHONE.sub(_mask_phone, _EMAIL.sub(_mask_email, normalise(text)))


def _mask_email(match: re.Match[str]) -> str:
    return f"{match.group(1)[0]}***@{match.group(2)}"


def _mask_phone(match: re.Match[str]) -> str:
    """A run of digit groups, masked unless it is an ordinary number. A run that holds dates or
    times among its pieces (cut at spaces and commas: "23/11/2026 0812 3456 7890") keeps them and
    judges the parts between them on their own."""
    run, text, start = match.group(0), match.string, match.start()
    if _digit_count(run) < PHONE_MIN_DIGITS or _ordinary_number(run, text, start):
        return run
    kept = [] if run.startswith("+") else [piece.span() for piece in _PIECE.finditer(run) if _date_or_time(piece.group())]
    if not kept:  # (after a "+", the whole run is the international number)
        return _hide(run)
    out, at = [], 0
    for begin, end in [*kept, (len(run), len(run))]:
        gap = run[at:begin]
        part = gap.strip(" ,")  # the separators next to a kept piece stay as they are
        lead = len(gap) - len(gap.lstrip(" ,"))
        if part and _digit_count(part) >= PHONE_MIN_DIGITS and not _ordinary_number(part, text, start + at + lead):
            gap = gap[:lead] + _hide(part) + gap[lead + len(part) :]
        out += [gap, run[begin:end]]
        at = end
    return "".join(out)


def _digit_count(run: str) -> int:
    return sum(ch.isdecimal() for ch in run)


def _hide(run: str) -> str:
    """Every digit but the last ``PHONE_KEEP_DIGITS`` as "*"; the punctuation stays."""
    keep_from = _digit_count(run) - PHONE_KEEP_DIGITS
    out, seen = [], 0
    for ch in run:
        if ch.isdecimal():
            out.append(ch if seen >= keep_from else "*")
            seen += 1
        else:
            out.append(ch)
    return "".join(out)


def _date_or_time(piece: str) -> bool:
    return bool(_DATE.fullmatch(piece) or _DATE_RANGE.fullmatch(piece) or _TIME.fullmatch(piece))


def _ordinary_number(run: str, text: str, start: int) -> bool:
    """A date, a time, a grouped amount, a year range, or an amount next to its currency: not
    someone's number. ``start`` is where ``run`` begins in ``text`` (only a few characters either
    side are read)."""
    end = start + len(run)
    return bool(
        _date_or_time(run)
        or _THOUSANDS.fullmatch(run)
        or _YEARS.fullmatch(run)
        or _CURRENCY_BEFORE.search(text[max(0, start - 8) : start])
        or _CURRENCY_AFTER.match(text[end : end + 10])
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
