"""The room preview: which bot/AI deal and ticket a chat room's sidebar shows.

Every record a room has seen is kept, one entry per record, so the preview is computed when it is
read: the newest live record by (``created_at``, ``id``) per slot. An entry is in one of three
states: ``live`` (in the room), ``left`` (it moved to another room, or its room was cleared) or
``deleted`` (the record is gone). Entries obey rules that make any order and any duplication of
events end in the same preview:

- a record's state only moves forward: by ``version``, and at one version ``left`` comes after
  ``live`` (the version that moved a record out is the one it had in the room);
- a leave is final only for the versions it covers: a newer version that puts the record back in
  the room shows again, while a late create or update of an older version never does;
- a delete is final: nothing brings a deleted record back.

``decide`` is the rule; the DynamoDB adapter enforces the same rule as a conditional write.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from parity.outbox import events
from parity.crm.records import RECORD_TYPES

State = Literal["live", "left", "deleted"]
_ORDER = {"live": 0, "left": 1}


@dataclass(frozen=True)
class Entry:
    """One record as a room knows it."""

    record_type: str
    record_id: str
    created_at: str
    version: int
    state: State
    data: Mapping[str, Any]

    @property
    def live(self) -> bool:
        return self.state == "live"


def entry_from_event(action: str, data: Mapping[str, Any], *, reason: str | None = None) -> Entry:
    """The entry a record event makes: a create or update is ``live``; a delete is ``left`` when
    its ``reason`` says the record left the room, else ``deleted``."""
    if action != "delete":
        state: State = "live"
    else:
        state = "left" if reason == events.LEFT_ROOM else "deleted"  # no reason: deleted
    return Entry(
        record_type=data["type"],
        record_id=str(data["id"]),
        created_at=str(data["created_at"]),
        version=int(data["version"]),
        state=state,
        data=data,
    )


def decide(existing: Entry | None, incoming: Entry) -> Entry | None:
    """The entry after ``incoming`` is applied, or None when it changes nothing."""
    if existing is not None and existing.state == "deleted":
        return None  # deletes are final
    if incoming.state == "deleted" or existing is None:
        return incoming
    if (incoming.version, _ORDER[incoming.state]) <= (existing.version, _ORDER[existing.state]):
        return None  # the past, or a duplicate
    return incoming


def shown(entries: Iterable[Entry]) -> dict[str, Mapping[str, Any] | None]:
    """Per slot, the newest live record by (created_at, id), or None for the call to action."""
    best: dict[str, Entry] = {}
    for entry in entries:
        if not entry.live:
            continue
        current = best.get(entry.record_type)
        if current is None or (entry.created_at, entry.record_id) > (current.created_at, current.record_id):
            best[entry.record_type] = entry
    return {slot: (best[slot].data if slot in best else None) for slot in RECORD_TYPES}
