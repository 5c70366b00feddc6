"""Grouping: where a report goes, so that one problem is one ticket however many times and
places it is reported (contracts/feedback.md, "Intake"). Pure: the report's own time is the clock.

Similarity
    Language-independent: a text becomes its words as ``parity.feedback.text.words`` reads them
    (NFKC, casefolded, accents stripped, punctuation and ``_`` dropped), then the set of its word
    shingles of ``SHINGLE_SIZE`` words; two texts' similarity is the Jaccard index of their sets
    (shared shingles / all shingles). Near-identical means ``similarity >= NEAR_IDENTICAL`` (0.8).

    Why shingles of 2 words, not 3: reports are short (a chat message is often 8 to 20 words), and
    0.8 is strict. One word changed in the middle of an n-word text replaces k shingles of k words;
    with k = 2 the texts stay near-identical from 19 words on, with k = 3 only from 29; one word
    appended ("…, please") keeps them near-identical from 5 words on with k = 2, from 6 with k = 3.
    Pairs keep enough word order that a shuffled text or a text sharing only its vocabulary scores
    low, which single words (k = 1) would not. A text shorter than the shingle is one shingle of
    all its words.

    What holds (property-tested): the similarity is symmetric, between 0 and 1, 1.0 for texts with
    the same words in the same order, and unchanged by case, accents, punctuation and spacing.
    Word order matters: it is not invariant to reordering words (each pair keeps its order, so
    swapping two words changes up to three pairs); repeating a phrase adds no new shingle. Two
    texts without any word (only emoji or punctuation) are not similar at all (0.0): there is
    nothing to compare.

The decision (``decide``), in this order
    1. A report already applied (its ``report_id`` was seen: the store keeps one marker per report
       id, written with the ticket change) is a redelivery: nothing changes.
    2. Same conversation: the newest ticket the report's conversation reported into (its own
       conversation, or one that joined it), while unresolved and within ``SAME_CONVERSATION``
       (24 h) of that ticket's creation, takes it as one more report. For a conversation that
       joined a ticket made elsewhere, the 24 h count from that conversation's first report on it
       (the ticket may be days old by then; a follow-up minutes later is still the same report).
       After it is resolved, or later, a new message is a new report.
    3. Across channels (and across conversations of one channel): the unresolved ticket of the
       last ``ACROSS_CHANNELS`` (7 days) whose first report is most similar to this one, when near-
       identical, takes it (ties: the older ticket, the primary). Only a report of at least
       ``MIN_WORDS_TO_JOIN`` words is matched this way: "hi", "help" or "still broken" from two
       customers are alike as texts but say nothing about being one problem, so each makes its
       own ticket (a person can still see them side by side).
    4. Otherwise the report makes a new ticket.
    ``group`` applies the decision: joining (2 or 3) is ``parity.feedback.ticket.add_report``, a
    new ticket ``new_ticket`` with the triage's suggestion. The store writes the ticket it returns
    and the report's marker together (one transaction), so a redelivery finds the marker.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from parity.feedback.text import words
from parity.feedback.ticket import Report, add_report, is_resolved, moment_of, new_ticket
from parity.feedback.triage import TriageModel, suggest

SHINGLE_SIZE = 2
NEAR_IDENTICAL = 0.8
SAME_CONVERSATION = timedelta(hours=24)
ACROSS_CHANNELS = timedelta(days=7)
#: Words of a report read for similarity (a report is at most 10,000 characters).
MAX_WORDS = 2_000
#: A report shorter than this joins another conversation's ticket by similarity never (rule 3).
MIN_WORDS_TO_JOIN = 4


def shingles(text: str, size: int = SHINGLE_SIZE) -> frozenset[tuple[str, ...]]:
    """The set of ``size``-word shingles of ``text``'s words (one shingle when it has fewer)."""
    tokens = words(text)[:MAX_WORDS]
    if len(tokens) <= size:
        return frozenset([tuple(tokens)]) if tokens else frozenset()
    return frozenset(tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1))


def jaccard(a: frozenset[Any], b: frozenset[Any]) -> float:
    """|a ∩ b| / |a ∪ b|; 0.0 when both are empty."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def similarity(a: str, b: str) -> float:
    """How alike two reports are, 0.0 to 1.0 (see the module docstring)."""
    return jaccard(shingles(a), shingles(b))


def near_identical(a: str, b: str) -> bool:
    return similarity(a, b) >= NEAR_IDENTICAL


@dataclass(frozen=True)
class Decision:
    """Where a report goes: ``redelivery`` (nothing to do; ``ticket_id`` is where it went),
    ``same_conversation`` or ``near_duplicate`` (add it to ``ticket_id``), ``new`` (make a ticket)."""

    action: Literal["redelivery", "same_conversation", "near_duplicate", "new"]
    ticket_id: str | None = None
    similarity: float | None = None


def conversation_start(ticket: Mapping[str, Any], room_id: str) -> datetime | None:
    """When a conversation began reporting into ``ticket``: the ticket's creation for its own
    conversation, else the conversation's first ``reported_at`` on it; None if it never did."""
    if ticket.get("channel_integration_room_id") == room_id:
        return moment_of(ticket["created_at"])
    times = [moment_of(r["reported_at"]) for r in ticket.get("reporters") or [] if r.get("room_id") == room_id]
    return min(times) if times else None


def decide(report: Report, tickets: Iterable[Mapping[str, Any]], *, seen_ticket_id: str | None = None) -> Decision:
    """Where ``report`` goes, among ``tickets`` (the company's feedback tickets the store found
    for it: those its conversation reported into, and those of the last 7 days; more is harmless,
    every condition is checked here). ``seen_ticket_id``: where this report id went before, if it
    did. The rules, in order: the module docstring."""
    if seen_ticket_id is not None:
        return Decision("redelivery", seen_ticket_id)
    candidates = list(tickets)
    if report.room_id is not None:
        started = [(start, t) for t in candidates if (start := conversation_start(t, report.room_id)) is not None]
        if started:
            start, ticket = max(started, key=lambda pair: (moment_of(pair[1]["created_at"]), pair[1]["id"]))
            if not is_resolved(ticket) and report.reported_at - start < SAME_CONVERSATION:
                return Decision("same_conversation", ticket["id"])
    if len(words(report.text)[:MIN_WORDS_TO_JOIN]) < MIN_WORDS_TO_JOIN:
        return Decision("new")
    report_shingles = shingles(report.text)
    alike = []
    for ticket in candidates:
        if is_resolved(ticket) or report.reported_at - moment_of(ticket["created_at"]) > ACROSS_CHANNELS:
            continue
        score = jaccard(report_shingles, shingles(ticket.get("description") or ""))
        if score >= NEAR_IDENTICAL:
            alike.append((score, ticket))
    if alike:  # the most similar; on a tie the older ticket, the primary
        score, ticket = min(alike, key=lambda pair: (-pair[0], moment_of(pair[1]["created_at"]), pair[1]["id"]))
        return Decision("near_duplicate", ticket["id"], score)
    return Decision("new")


@dataclass(frozen=True)
class Grouped:
    """A decision and the ticket to write for it (None for a redelivery: nothing to write)."""

    decision: Decision
    ticket: dict[str, Any] | None


def group(
    report: Report,
    tickets: Iterable[Mapping[str, Any]],
    *,
    seen_ticket_id: str | None = None,
    now: datetime,
    model: TriageModel | None = None,
) -> Grouped:
    """``decide`` where the report goes and make the ticket to write: the joined ticket with one
    more report, or a new ticket triaged (by the rules, or ``model`` when given)."""
    candidates = list(tickets)
    decision = decide(report, candidates, seen_ticket_id=seen_ticket_id)
    if decision.action == "redelivery":
        return Grouped(decision, None)
    if decision.action == "new":
        return Grouped(decision, new_ticket(report, triage=suggest(report.text, model=model), now=now))
    target = next(t for t in candidates if t["id"] == decision.ticket_id)
    return Grouped(decision, add_report(target, report, now=now))
