"""The room preview: which bot/AI deal and ticket a chat room's sidebar shows.

Every live record of a room is kept, one entry per record, so the preview is computed when it is
read: the newest live record by (``created_at``, ``id``) per slot. Entries obey two rules that make
any order and any duplication of events end in the same preview:

- a record's state only moves forward by ``version``;
- a delete is final: a late create or update of a deleted record never brings it back.

``decide`` is the rule; the DynamoDB adapter enforces the same rule as a conditional write.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from parity.records import RECORD_TYPES


@dataclass(frozen=True)
class Entry:
    """One record as a room knows it."""

    record_type: str
    record_id: str
    created_at: str
    version: int
    deleted: bool
    data: Mapping[str, Any]


def entry_from_event(action: str, data: Mapping[str, Any]) -> Entry:
    return Entry(
        record_type=data["type"],
        record_id=str(data["id"]),
        created_at=str(data["created_at"]),
        version=int(data["version"]),
        deleted=action == "delete",
        data=data,
    )


def decide(existing: Entry | None, incoming: Entry) -> Entry | None:
    """The entry after ``incoming`` is applied, or None when it changes nothing."""
    if existing is not None and existing.deleted:
        return None  # deletes are final
    if incoming.deleted:
        return incoming
    if existing is not None and existing.version >= incoming.version:
        return None  # versions only move forward; a duplicate is a no-op
    return incoming


def shown(entries: Iterable[Entry]) -> dict[str, Mapping[str, Any] | None]:
    """Per slot, the newest live record by (created_at, id), or None for the call to action."""
    best: dict[str, Entry] = {}
    for entry in entries:
        if entry.deleted:
            continue
        current = best.get(entry.record_type)
        if current is None or (entry.created_at, entry.record_id) > (current.created_at, current.record_id):
            best[entry.record_type] = entry
    return {slot: (best[slot].data if slot in best else None) for slot in RECORD_TYPES}
