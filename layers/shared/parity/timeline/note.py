"""The timeline note of a bot/AI record: its chat excerpt and a link back to the room (RFC
CDTC-S04, ADR-5). Pure: no I/O, no clock; callers pass the time in. The note lives 365 days
(``NOTE_TTL_SECONDS``, DynamoDB TTL attribute ``ttl``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

from parity.core.clock import iso_ms
from parity.crm.records import CREATOR_LABELS
from parity.timeline.excerpt import ChatMessage, excerpt

NOTE_TYPE = "chat_history"
NOTE_TTL_SECONDS = 365 * 24 * 3600

PreviewStatus = Literal["ok", "unavailable"]


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
    shown = excerpt(messages) if messages is not None else None
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
