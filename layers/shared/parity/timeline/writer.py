"""Timeline notes: the use cases (RFC CDTC-S04/S05, ADR-5, ERR-1/2, NEG-2).

``write_note`` turns one queued create event into at most one note per (record, room): fetch the
room's history (bounded; never fatal), make sure the record still exists, build the note, write it
once. ``timeline`` reads a record's notes for the API. The store, the history fetcher and the
clock are injected.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal, Protocol

from parity.outbox import events
from parity.timeline.note import build_note, newest_first
from parity.core.errors import NotFound
from parity.crm.records import RecordType
from parity.timeline.excerpt import ChatHistory


class NoteStore(Protocol):
    """Where notes are kept (``parity.timeline.store.NoteTable``)."""

    def put_note(self, company_id: str, note: Mapping[str, Any]) -> bool: ...

    def notes(self, company_id: str, record_type: str, record_id: str) -> list[dict[str, Any]]: ...


class Records(Protocol):
    """Whether a record exists in a company (``parity.crm.store.CrmStore``)."""

    def get_record(self, company_id: str, record_type: str, record_id: str) -> dict[str, Any] | None: ...


class UnreadableMessage(ValueError):
    """The queued message is not a record event: it fails, and the queue dead-letters it."""


Status = Literal["written", "duplicate", "skipped"]


@dataclass(frozen=True)
class NoteOutcome:
    status: Status
    reason: str = ""
    note: dict[str, Any] | None = None
    history_problem: str = ""


def write_note(
    body: str,
    *,
    notes: NoteStore,
    records: Records,
    fetch_history: Callable[[str], ChatHistory],
    deeplink_template: str,
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> NoteOutcome:
    """Write the timeline note a queued create event calls for, exactly once.

    Skipped (success, no note): events other than a create, records without a room (ERR-1) or
    without a creator flag (a manual record, NEG-2), and records that no longer exist. A history
    that cannot be had still gives the note, with ``preview: null`` (ERR-2). A note that cannot be
    written raises, so the queue retries the message and finally dead-letters it. A redelivery
    finds the note already there and writes nothing (``duplicate``).

    A record deleted before the worker runs gets no note: just before the write, one strongly
    consistent read (``store.get_record``: the event's company, record type and id; one GetItem,
    one read unit for a record up to 4 KB) must find it, else the outcome is ``skipped`` and the message succeeds. A read
    that fails raises (the queue retries). The check is made after the history fetch, so the gap
    it leaves is one round trip, not the hub's wait.

    What remains: a delete that lands between that read and the note's PutItem still leaves a
    note. Closing that gap needs the write conditioned on another item, i.e. a transaction
    (ConditionCheck on the record + Put): transactions bill two units per item, the check
    included, so every note would cost several times the one write unit it costs now; we do not
    pay that for a rare race. Such a note is never shown (the timeline route answers 404 for a
    missing record) and DynamoDB's TTL removes it after ``parity.timeline.note.NOTE_TTL_SECONDS`` (365 days).
    """
    event = _event(body)
    parsed = events.parse_type(event["eventType"])
    if parsed is None or parsed[1] != "create":
        return NoteOutcome("skipped", "not a record create event")
    record = event["data"]
    room = record.get("channel_integration_room_id")
    if not isinstance(room, str) or not room:
        return NoteOutcome("skipped", "the record has no chat room")
    if not record.get("creator_flag"):
        return NoteOutcome("skipped", "the record was not created by a bot or an AI agent")
    try:
        history = fetch_history(room)
    except Exception as exc:  # the fetcher should not raise; if it does, the note still goes out
        history = ChatHistory(None, f"history fetch failed ({type(exc).__name__})")
    company_id, record_type, record_id = str(event["company_id"]), str(record["type"]), str(record["id"])
    if records.get_record(company_id, record_type, record_id) is None:
        return NoteOutcome("skipped", "the record no longer exists (deleted before its note)")
    note = build_note(record, messages=history.messages, deeplink_template=deeplink_template, now=now())
    written = notes.put_note(company_id, note)
    return NoteOutcome("written" if written else "duplicate", note=note, history_problem=history.problem)


def _event(body: str) -> dict[str, Any]:
    try:
        event = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise UnreadableMessage("the message body is not JSON") from exc
    if not isinstance(event, dict) or not isinstance(event.get("eventType"), str):
        raise UnreadableMessage("the message has no eventType")
    if not isinstance(event.get("company_id"), str) or not event["company_id"]:
        raise UnreadableMessage("the message has no company_id")
    data = event.get("data")
    parsed = events.parse_type(event["eventType"])
    if not isinstance(data, dict) or not data.get("id") or (parsed is not None and data.get("type") != parsed[0]):
        raise UnreadableMessage("the message carries no record of its event type")
    return event


def timeline_of(notes: NoteStore, records: Records, company_id: str, record_type: RecordType, record_id: str) -> dict[str, Any]:
    """``GET /api/v3.1/{deals|tickets}/{id}/timeline``: the record's notes, newest first.

    The record must be the caller company's: otherwise a 404, as for the record itself.
    """
    if records.get_record(company_id, record_type, record_id) is None:
        raise NotFound(f"{record_type} {record_id} not found")
    return {"data": newest_first(notes.notes(company_id, record_type, record_id))}
