"""CRM → omnichannel events, decided from a record's change on the outbox stream.

Pure: the stream consumer passes the old and new record images and the stream's own event id;
this module says which events to send. Ids are derived from the stream record, so a redelivered
stream record yields the same ``event_id`` (the receiver's dedupe key, the ``webhook-id``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Literal

from parity.crm import records

Action = Literal["create", "update", "delete"]
#: What a change does to a record in a room: ``leave`` is sent as a ``delete`` whose ``reason`` is
#: ``left_room`` (the record lives on elsewhere and may come back); a real delete says ``deleted``.
Change = Literal["create", "update", "delete", "leave"]
EVENT_PREFIX = "qontak.crm"
#: The ``reason`` of a delete event.
LEFT_ROOM = "left_room"
DELETED = "deleted"


def eligible(record: Mapping[str, Any] | None) -> bool:
    """A record the room's sidebar cares about: created by a bot or AI, in a chat room (RFC §2.4)."""
    return bool(record and record.get("creator_flag") and record.get("channel_integration_room_id"))


def decide(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> list[tuple[Change, Mapping[str, Any]]]:
    """The events a change makes, in the order to send them.

    Manual records never make one (NEG-2); an update only when a shown field changed; a record
    moved to another room leaves the old room (``leave``, as it was there) and enters the new one
    (create).
    """
    was, now = eligible(old), eligible(new)
    if old is None:
        return [("create", new)] if now and new is not None else []
    if new is None:
        return [("delete", old)] if was else []
    if was and now and old.get("channel_integration_room_id") == new.get("channel_integration_room_id"):
        return [("update", new)] if records.shown_fields_changed(old, new) else []
    out: list[tuple[Change, Mapping[str, Any]]] = []
    if was:
        out.append(("leave", old))
    if now:
        out.append(("create", new))
    return out


def event_id(stream_event_id: str, change: Change) -> str:
    """Stable across redeliveries of the same stream record; distinct per change of one stream record."""
    digest = hashlib.sha256(f"{stream_event_id}:{change}".encode()).hexdigest()[:32]
    return f"evt_{digest}"


def build(change: Change, record: Mapping[str, Any], *, event_id: str, occurred_at: str, url_template: str) -> dict[str, Any]:
    """The event body of DESIGN.md "Events"; a delete also says why (``reason``: ``deleted`` or
    ``left_room``), so the room knows whether a newer version may bring the record back."""
    action = "delete" if change == "leave" else change
    event: dict[str, Any] = {
        "eventType": f"{EVENT_PREFIX}.{record['type']}.{action}",
        "event_id": event_id,
        "company_id": record["company_id"],
        "occurred_at": occurred_at,
        "data": records.public(record, url_template),
    }
    if action == "delete":
        event["reason"] = LEFT_ROOM if change == "leave" else DELETED
    return event


def parse_type(event_type: str) -> tuple[records.RecordType, Action] | None:
    """``qontak.crm.deal.update`` → ``("deal", "update")``; None for anything else."""
    prefix, _, rest = event_type.rpartition(".")
    kind = prefix.removeprefix(f"{EVENT_PREFIX}.")
    if not prefix.startswith(f"{EVENT_PREFIX}.") or kind not in records.RECORD_TYPES or rest not in ("create", "update", "delete"):
        return None
    return kind, rest  # type: ignore[return-value]


def peek(body: str) -> dict[str, Any]:
    """A queued message's event as it is, for logs and listings: ``{}`` when the body is not a JSON
    object (the use case that reads it properly says why)."""
    try:
        event = json.loads(body)
    except ValueError:
        return {}
    return event if isinstance(event, dict) else {}


def about(event: Any) -> dict[str, Any]:
    """The ids an event names, for log lines and listings: its company, record, room and event id,
    each None when absent (all of them for anything that is not an event)."""
    event = event if isinstance(event, Mapping) else {}
    data = event.get("data") if isinstance(event.get("data"), Mapping) else {}
    return {"company_id": event.get("company_id"), "record_id": data.get("id"), "room_id": data.get("channel_integration_room_id"), "event_id": event.get("event_id")}
