"""Masking emails and phone numbers in chat text, so a timeline note's chat excerpt never shows a
customer's contact details (RFC CDTC-S05). Pure.

* Before masking, text is normalised, and the excerpt keeps it so: Unicode NFKC (full-width
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
"""

from __future__ import annotations

import re
import unicodedata

PHONE_MIN_DIGITS = 8
PHONE_KEEP_DIGITS = 3


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
