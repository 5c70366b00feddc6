"""What people read of a report: the ticket's ``summary`` and, once it is resolved, the
customer-facing changelog text (contracts/feedback.md). Pure.

The summary
    The report's first sentence of at least ``MIN_SENTENCE_WORDS`` (3) words (a leading "Hi!",
    "Hola equipo." or "Help!" says nothing about the problem; when no sentence is that long, the
    first one), at most ``SUMMARY_MAX_CHARS`` (120) characters, emails and phone
    numbers masked exactly as the timeline note masks its chat excerpt: the same cleaning (one
    line, control and invisible characters gone, NFKC and dashes normalised), the same masking, the
    same cut ending in "…" (``parity.timeline``; nothing of it is restated here). The whole report is
    masked before the sentence is looked for, so a number or address straddling the cut is masked
    all the same. A sentence ends at ``.``, ``!``, ``?`` or ``…`` (possibly followed by closing
    quotes or brackets) followed by a space or the end, or at ``。``; so "v2.3", "Rp 15.000" and
    "budi.s@example.com" do not end one. (An abbreviation such as "e.g." does: a known limit.)

The changelog text
    Drafted when a feedback ticket is resolved, from its summary and the optional resolution note,
    for a person to approve before any customer sees it. It holds no internal id, email address or
    phone number: ``public_text`` removes (not masks: a customer has no use for ``b***@…``) every
    email address and every phone number the timeline masking recognises, every number of 8 or
    more digits, written together or in groups joined by spaces or ``. , / _ - ( ) +`` (order,
    card and account numbers the masking leaves readable; a date with a four-digit year goes too,
    which the approver may put back), our ids (``TCK-…``,
    ``room_…``, ``ch_…``, ``apr_…``, ``ntf_…``, ``rpt_…``, ``msg_…``, UUIDs and any hex id of 8
    or more characters mixing digits and letters, even cut short by the summary's "…") and any id
    the caller names; then it tidies the punctuation left behind. At most
    ``CHANGELOG_MAX_CHARS`` (500) characters: a short message that fits a WhatsApp template
    variable. English only for now: the approver may rewrite it in the reporters' language.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from parity.core.errors import ValidationFailed
from parity.timeline.excerpt import clean, truncate
from parity.timeline.masking import mask

SUMMARY_MAX_CHARS = 120
MIN_SENTENCE_WORDS = 3
CHANGELOG_MAX_CHARS = 500

_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s|$)|。")

# ---- the summary -------------------------------------------------------------------------------
def first_sentence(text: str) -> str:
    """The first sentence of ``text`` with at least ``MIN_SENTENCE_WORDS`` words, else its first
    sentence (all of ``text`` when it has no sentence end)."""
    sentences, start = [], 0
    for end in _SENTENCE_END.finditer(text):
        sentences.append(text[start : end.end()].strip())
        start = end.end()
        if len(sentences[-1].split()) >= MIN_SENTENCE_WORDS:
            return sentences[-1]
    rest = text[start:].strip()
    if rest and len(rest.split()) >= MIN_SENTENCE_WORDS:
        return rest
    return next((s for s in sentences if s), rest)


def summary(text: str) -> str:
    """The ticket's summary of a report: its first sentence, masked as the timeline note masks,
    at most ``SUMMARY_MAX_CHARS`` characters (a cut ends in "…"). Empty for a report with no
    visible text."""
    return truncate(first_sentence(mask(clean(text))).strip(), SUMMARY_MAX_CHARS)


# ---- the changelog -----------------------------------------------------------------------------
_EMAILISH = re.compile(r"\S*@\S*")
#: A number, possibly masked: digits and "*" and the separators between them. Removed when it
#: holds a "*" (a phone number the masking found) or 8 or more digits.
_NUMBER_RUN = re.compile(r"(?P<open>\(\+?)?\+?[\d*](?:[\d*()+ .,/_-]*[\d*])?(?(open)\)?)")
NUMBER_MAX_DIGITS = 7
_INTERNAL_IDS = re.compile(
    r"\bTCK-[0-9A-Za-z*]*"  # "*": the summary's masking may have hidden an id's digits already
    r"|\b(?:room|ch|apr|ntf|rpt|msg)_[A-Za-z0-9_*-]*"
    r"|\b(?=[0-9a-f-]*\d)(?=[0-9a-f-]*[a-f])[0-9a-f]{8,}(?:-[0-9a-f]+)*",
    re.IGNORECASE,
)
_SPACE_BEFORE_MARK = re.compile(r"\s+([,.;:!?…)\]])")
_EMPTY_BRACKETS = re.compile(r"\([\s,;:]*\)|\[[\s,;:]*\]|\"\s*\"|“\s*”")
_MARKS_AFTER_OPENING = re.compile(r"([(\[])[\s,;:]+")
_MARKS_BEFORE_CLOSING = re.compile(r"[\s,;:]+([)\]])")
_REPEATED_MARKS = re.compile(r"([,;:])(?:\s*[,;:])+")
_LEADING_MARKS = re.compile(r"^[\s,;:.]+")


def public_text(text: str, *, internal_ids: Iterable[str] = ()) -> str:
    """``text`` cleaned as the timeline cleans it, without emails, phone numbers, numbers of 8 or
    more digits or internal ids (see the module docstring), punctuation tidied."""
    ids = sorted({i for i in internal_ids if i}, key=len, reverse=True)
    named = re.compile("|".join(map(re.escape, ids)), re.IGNORECASE) if ids else None
    current = clean(text)
    while True:  # a removal may bring two harmless pieces together into something to remove
        out = _INTERNAL_IDS.sub(" ", current)
        out = named.sub(" ", out) if named else out
        out = _EMAILISH.sub(" ", mask(out))
        out = _tidy(_NUMBER_RUN.sub(_drop_number, out))
        if out == current:
            return out
        current = out


def _drop_number(match: re.Match[str]) -> str:
    run = match.group()
    hidden = "*" in run or sum(ch.isdecimal() for ch in run) > NUMBER_MAX_DIGITS
    return " " if hidden else run


def _tidy(text: str) -> str:
    text = " ".join(text.split())
    text = _EMPTY_BRACKETS.sub("", text)
    text = _MARKS_BEFORE_CLOSING.sub(r"\1", _MARKS_AFTER_OPENING.sub(r"\1", text))
    text = _SPACE_BEFORE_MARK.sub(r"\1", text)
    text = _REPEATED_MARKS.sub(r"\1", text)
    return " ".join(_LEADING_MARKS.sub("", text).split())


def changelog_text(summary_text: str, resolution_note: str | None = None, *, internal_ids: Iterable[str] = ()) -> str:
    """The customer-facing message proposed when a feedback ticket is resolved: what they
    reported (the summary) and, when given, what was done (the resolution note), with nothing
    internal or personal in it. At most ``CHANGELOG_MAX_CHARS`` characters."""
    ids = tuple(internal_ids)
    what = public_text(summary_text, internal_ids=ids).rstrip(" .!?")
    note = public_text(resolution_note or "", internal_ids=ids)
    text = f"Good news: the problem you reported (\u201c{what}\u201d) has been fixed." if what else "Good news: the problem you reported has been fixed."
    if note:
        text += " " + (note if note[-1] in ".!?…" else note + ".")
    return truncate(text, CHANGELOG_MAX_CHARS)


def check_changelog_text(text: object, *, field: str = "text") -> str:
    """An approver's edited changelog text, cleaned; ``ValidationFailed`` naming ``field`` when it
    is not a string, empty, or over ``CHANGELOG_MAX_CHARS``. A person's words are not rewritten."""
    problem = None
    if not isinstance(text, str):
        problem = ("must be a string", "string_type")
    elif not clean(text):
        problem = ("must not be empty", "string_too_short")
    elif len(clean(text)) > CHANGELOG_MAX_CHARS:
        problem = (f"must be at most {CHANGELOG_MAX_CHARS} characters", "string_too_long")
    if problem:
        raise ValidationFailed(f"{field} is invalid", details=[{"field": field, "message": problem[0], "type": problem[1]}])
    return clean(text)  # type: ignore[arg-type]
