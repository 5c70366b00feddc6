"""The omnichannel side: receive signed events into the room previews, and read a preview."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from parity import events, preview, webhooks
from parity.adapters.previews import PreviewStore
from parity.errors import Unauthorized, ValidationFailed

_REQUIRED = ("id", "type", "created_at", "version", "channel_integration_room_id")


@dataclass(frozen=True)
class Received:
    """What became of one delivery (``status``: applied, duplicate or stale) and what it was about."""

    status: str
    event_id: str
    company_id: str
    room_id: str
    record_id: str
    record_type: str

    def answer(self) -> dict[str, str]:
        """The receiver's response body."""
        return {"status": self.status, "event_id": self.event_id}


def receive(store: PreviewStore, body: bytes | str, headers: Mapping[str, str], *, secrets: Sequence[str]) -> Received:
    """Verify, dedupe on ``webhook-id``, apply. 401 and nothing applied on a bad signature."""
    try:
        event = webhooks.verify(body, headers, secrets)
    except webhooks.InvalidSignature as exc:
        raise Unauthorized(f"webhook signature rejected: {exc}") from exc
    problems = _problems(event)
    if problems:
        raise ValidationFailed("the event is not a CRM record event", details=problems)
    _record_type, action = events.parse_type(event["eventType"])  # type: ignore[misc]
    entry = preview.entry_from_event(action, event["data"])
    webhook_id = {k.lower(): v for k, v in headers.items()}["webhook-id"]
    status = store.apply(str(event["company_id"]), entry, webhook_id=webhook_id)
    data = event["data"]
    return Received(status, str(event.get("event_id", webhook_id)), str(event["company_id"]), str(data["channel_integration_room_id"]), str(data["id"]), str(data["type"]))


#: As ``parity.models.RoomId`` (1-128 characters, no control characters or lone surrogates), checked
#: without importing pydantic into the preview function.
_MAX_ROOM_ID = 128
_ROOM_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def room_preview(store: PreviewStore, company_id: str, room_id: str) -> dict[str, Any]:
    """What the room's sidebar shows: per slot the newest live bot/AI record, or null (the CTA).

    A room id no record could carry (empty, over 128 characters, control characters) is a 422.
    """
    if not room_id.strip() or len(room_id) > _MAX_ROOM_ID or _ROOM_CONTROL.search(room_id):
        raise ValidationFailed(
            "room_id is not a room id",
            details=[{"field": "room_id", "message": f"1 to {_MAX_ROOM_ID} characters, no control characters", "type": "value_error"}],
        )
    return {"room_id": room_id, **preview.shown(store.entries(company_id, room_id))}


def _problems(event: Any) -> list[dict[str, str]]:
    if not isinstance(event, dict):
        return [{"field": "body", "message": "must be a JSON object", "type": "object_type"}]
    problems = []
    parsed = events.parse_type(event.get("eventType", "")) if isinstance(event.get("eventType"), str) else None
    if parsed is None:
        problems.append({"field": "eventType", "message": "not a qontak.crm deal/ticket create/update/delete", "type": "value_error"})
    if not isinstance(event.get("company_id"), str) or not event.get("company_id"):
        problems.append({"field": "company_id", "message": "required", "type": "missing"})
    data = event.get("data")
    if not isinstance(data, dict):
        problems.append({"field": "data", "message": "must be an object", "type": "object_type"})
        return problems
    for name in _REQUIRED:
        if data.get(name) in (None, ""):
            problems.append({"field": f"data.{name}", "message": "required", "type": "missing"})
    if parsed and data.get("type") not in (None, parsed[0]):
        problems.append({"field": "data.type", "message": "does not match eventType", "type": "value_error"})
    if not isinstance(data.get("version", 0), int) or isinstance(data.get("version"), bool):
        problems.append({"field": "data.version", "message": "must be an integer", "type": "int_type"})
    return problems
