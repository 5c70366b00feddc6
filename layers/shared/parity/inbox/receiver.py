"""The omnichannel side: receive signed events into the room previews, and read a preview."""

from __future__ import annotations

from decimal import Decimal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from parity.outbox import events, signing
from parity.inbox import sidebar
from parity.crm import records
from parity.core.dynamodb import storable_number
from parity.inbox.store import PreviewStore
from parity.core.ids import COMPANY_ID, ROOM_ID_RULE, valid_room_id
from parity.core.errors import Unauthorized, ValidationFailed

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


#: A webhook-id longer than this is refused (ours are ``evt_`` + 32 hex digits); it becomes a key.
MAX_WEBHOOK_ID = 255


def receive(store: PreviewStore, body: bytes | str, headers: Mapping[str, str], *, secrets: Sequence[str]) -> Received:
    """Verify, dedupe on ``webhook-id``, apply. 401 and nothing applied on a bad signature; 422 and
    nothing applied on a signed body that is not a record event DynamoDB can hold; a ``webhook-id``
    seen before with another body has no effect."""
    try:
        event = signing.verify(body, headers, secrets)
    except signing.InvalidSignature as exc:
        raise Unauthorized(f"webhook signature rejected: {exc}") from exc
    except signing.UnreadableBody as exc:
        raise ValidationFailed("the event is not JSON", details=[{"field": "body", "message": f"not JSON ({exc})", "type": "json_invalid"}]) from exc
    webhook_id = {k.lower(): v for k, v in headers.items()}["webhook-id"]
    problems = _problems(event)
    if len(webhook_id) > MAX_WEBHOOK_ID:
        problems.append({"field": "webhook-id", "message": f"at most {MAX_WEBHOOK_ID} characters", "type": "string_too_long"})
    if problems:
        raise ValidationFailed("the event is not a CRM record event", details=problems)
    _record_type, action = events.parse_type(event["eventType"])  # type: ignore[misc]
    entry = sidebar.entry_from_event(action, event["data"], reason=event.get("reason"))
    status = store.apply(str(event["company_id"]), entry, webhook_id=webhook_id, body=body)
    data = event["data"]
    return Received(status, str(event.get("event_id", webhook_id)), str(event["company_id"]), str(data["channel_integration_room_id"]), str(data["id"]), str(data["type"]))


def room_preview(store: PreviewStore, company_id: str, room_id: str) -> dict[str, Any]:
    """What the room's sidebar shows: per slot the newest live bot/AI record, or null (the CTA).

    A room id no record could carry (``parity.core.ids.ROOM_ID_RULE``) is a 422.
    """
    if not valid_room_id(room_id):
        raise ValidationFailed("room_id is not a room id", details=[{"field": "room_id", "message": ROOM_ID_RULE, "type": "value_error"}])
    return {"room_id": room_id, **sidebar.shown(store.entries(company_id, room_id))}


def _problems(event: Any) -> list[dict[str, str]]:
    if not isinstance(event, dict):
        return [{"field": "body", "message": "must be a JSON object", "type": "object_type"}]
    problems = []
    parsed = events.parse_type(event.get("eventType", "")) if isinstance(event.get("eventType"), str) else None
    if parsed is None:
        problems.append({"field": "eventType", "message": "not a qontak.crm deal/ticket create/update/delete", "type": "value_error"})
    if not isinstance(event.get("company_id"), str) or not COMPANY_ID.match(event["company_id"]):
        problems.append({"field": "company_id", "message": "required: a company id", "type": "value_error"})
    if event.get("reason") not in (None, events.DELETED, events.LEFT_ROOM) or (event.get("reason") is not None and parsed and parsed[1] != "delete"):
        problems.append({"field": "reason", "message": f"only a delete has a reason: {events.DELETED} or {events.LEFT_ROOM}", "type": "value_error"})
    data = event.get("data")
    if not isinstance(data, dict):
        problems.append({"field": "data", "message": "must be an object", "type": "object_type"})
        return problems
    for name in _REQUIRED:
        if data.get(name) in (None, ""):
            problems.append({"field": f"data.{name}", "message": "required", "type": "missing"})
    if parsed and data.get("type") not in (None, parsed[0]):
        problems.append({"field": "data.type", "message": "does not match eventType", "type": "value_error"})
    if data.get("id") not in (None, "") and not records.valid_id(data.get("id")):
        problems.append({"field": "data.id", "message": "not a record id", "type": "value_error"})
    version = data.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version < 2**63:
        problems.append({"field": "data.version", "message": "must be an integer from 1", "type": "int_type"})
    room = data.get("channel_integration_room_id")
    if room not in (None, "") and not valid_room_id(room):
        problems.append({"field": "data.channel_integration_room_id", "message": ROOM_ID_RULE, "type": "value_error"})
    problems.extend({"field": f"data.{path}", "message": "a number DynamoDB cannot hold (38 digits, magnitude 1E-130 to 1E+126)", "type": "number_range"} for path in _unstorable_numbers(data))
    return problems


def _unstorable_numbers(value: Any, path: str = "") -> list[str]:
    """The paths of the numbers in ``value`` that DynamoDB cannot hold exactly."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _unstorable_numbers(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _unstorable_numbers(v, f"{path}[{i}]")]
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool) and not storable_number(value):
        return [path]
    return []
