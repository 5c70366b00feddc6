"""What the conversation routes do: list and read conversations and their messages, change a
conversation's state, queue a reply, and serve a room's chat history as hub-core serves it (RFC O7).

Every read and write is the caller's company's: another company's room is a 404. Replies are
written ``queued``; the table's stream hands them to the delivery queue (``outbox``), so a reply is
never lost between the write and the send.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

from parity.conversations import model
from parity.conversations.model import Conversation, InvalidState
from parity.core import idempotency, jsonio
from parity.core.clock import Clock, iso_ms, parse_time
from parity.core.http import ApiResult
from parity.core.errors import NotFound, ValidationFailed
from parity.core.dynamodb import Page
from parity.core.paging import limit_of
from parity.core.paging import paged as _paged

#: A message as the messages API shows it.
MESSAGE_FIELDS = ("id", "room_id", "direction", "sender_type", "sender_name", "type", "text", "created_at", "status", "provider_id")
HISTORY_FIELDS = ("id", "room_id", "sender_type", "sender_name", "text", "created_at")


class Store(Protocol):
    def conversation(self, company_id: str, room_id: str) -> Conversation | None: ...

    def conversation_item(self, company_id: str, room_id: str) -> dict[str, Any] | None: ...

    def conversations(self, company_id: str, *, limit: int, cursor: str | None, state: str | None = None, channel_id: str | None = None) -> Page: ...

    def replace_conversation(self, conversation: Conversation, *, expected_version: int) -> bool: ...

    def messages(self, company_id: str, room_id: str, *, limit: int, cursor: str | None, newest_first: bool = False) -> Page: ...

    def put_message(self, company_id: str, message: Mapping[str, Any]) -> bool: ...

    def put_reply(self, company_id: str, message: Mapping[str, Any], *, idempotency: Any, now: int) -> Any: ...

    def company_channel(self, company_id: str, channel_id: str) -> dict[str, Any] | None: ...


class Contacts(Protocol):
    def contact(self, company_id: str, contact_id: str) -> dict[str, Any] | None: ...


def _shape(item: Mapping[str, Any], *, now, contact: Mapping[str, Any] | None = None) -> dict[str, Any]:
    from parity.conversations.store import _conversation

    summary = item.get("summary") or {}
    channel = {"id": item["channel_id"], "type": item["channel_type"], "name": summary.get("channel_name")}
    shown_contact = contact or {"id": item["contact_id"], "name": summary.get("contact_name"), "phone": summary.get("contact_phone"), "email": summary.get("contact_email")}
    return model.public(_conversation(item), channel=channel, contact=shown_contact, now=now)


#: The longest channel id a filter may name (the document's ``ID``).
MAX_CHANNEL_ID_LENGTH = 128


def list_conversations(store: Store, company_id: str, query: Mapping[str, str], *, clock: Clock = Clock()) -> dict[str, Any]:
    """``GET /api/v3.1/conversations?state=&channel_id=&limit=&cursor=`` newest activity first."""
    state = query.get("state") or None
    if state is not None and state not in model.STATES:
        raise ValidationFailed("invalid state", details=[{"field": "state", "message": f"one of {', '.join(model.STATES)}", "type": "value_error"}])
    channel_id = query.get("channel_id") or None
    if channel_id is not None and len(channel_id) > MAX_CHANNEL_ID_LENGTH:  # no channel has such an id
        raise ValidationFailed("invalid channel_id", details=[{"field": "channel_id", "message": f"at most {MAX_CHANNEL_ID_LENGTH} characters", "type": "string_too_long"}])
    page = _paged(store.conversations, company_id=company_id, limit=limit_of(query.get("limit")), cursor=query.get("cursor") or None, state=state, channel_id=channel_id)
    now = clock.now()
    shown = [_shape(item, now=now) for item in page.items]
    if state is not None:  # the store filters what is stored; a snooze that ran out is open
        shown = [c for c in shown if c["state"] == state]
    return {"data": shown, "next_cursor": page.next_cursor}


def get_conversation(store: Store, contacts: Contacts, company_id: str, room_id: str, *, clock: Clock = Clock()) -> dict[str, Any]:
    item = store.conversation_item(company_id, room_id)
    if item is None:
        raise NotFound(f"conversation {room_id[:128]} not found")
    contact = contacts.contact(company_id, item["contact_id"])
    shown = {k: contact.get(k) for k in ("id", "name", "phone", "email")} if contact else None
    return {"data": _shape(item, now=clock.now(), contact=shown)}


def change_state(store: Store, company_id: str, room_id: str, body: Any, *, clock: Clock = Clock()) -> dict[str, Any]:
    """``POST /api/v3.1/conversations/{room_id}/state`` ``{"state", "snoozed_until"?}``."""
    if not isinstance(body, Mapping):
        raise ValidationFailed("the body must be a JSON object", details=[{"field": "body", "message": "must be a JSON object", "type": "object_type"}])
    unknown = sorted(set(body) - {"state", "snoozed_until"})
    if unknown:
        raise ValidationFailed("unknown fields", details=[{"field": f, "message": "unknown field", "type": "extra_forbidden"} for f in unknown])
    until_raw = body.get("snoozed_until")
    until = parse_time(until_raw) if until_raw is not None else None
    if until_raw is not None and until is None:
        raise ValidationFailed("invalid snoozed_until", details=[{"field": "snoozed_until", "message": "an ISO-8601 time", "type": "value_error"}])
    for _ in range(5):
        current = store.conversation(company_id, room_id)
        if current is None:
            raise NotFound(f"conversation {room_id[:128]} not found")
        try:
            changed = model.change_state(current, body.get("state"), until, now=clock.now())
        except InvalidState as exc:
            raise ValidationFailed("invalid state change", details=[{"field": exc.field, "message": str(exc), "type": "value_error"}]) from exc
        if changed is None or store.replace_conversation(changed, expected_version=current.version):
            break
    return get_conversation(store, _NoContacts(), company_id, room_id, clock=clock)


class _NoContacts:
    def contact(self, company_id: str, contact_id: str) -> None:
        return None


def list_messages(store: Store, company_id: str, room_id: str, query: Mapping[str, str]) -> dict[str, Any]:
    """``GET /api/v3.1/conversations/{room_id}/messages?limit=&cursor=`` oldest first."""
    if store.conversation_item(company_id, room_id) is None:
        raise NotFound(f"conversation {room_id[:128]} not found")
    page = _paged(store.messages, company_id=company_id, room_id=room_id, limit=limit_of(query.get("limit")), cursor=query.get("cursor") or None)
    return {"data": [public_message(m) for m in page.items], "next_cursor": page.next_cursor}


def public_message(message: Mapping[str, Any]) -> dict[str, Any]:
    shown = {k: message.get(k) for k in MESSAGE_FIELDS}
    if shown["direction"] == "inbound":
        shown["status"] = None
    return shown


def chat_history(store: Store, company_id: str, room_id: str, query: Mapping[str, str]) -> dict[str, Any]:
    """``GET /api/open/v1/messages/rooms/{room_id}?offset=1&limit=100`` as hub-core serves it: page
    ``offset`` (1 = the newest) of ``limit`` messages, newest page first, oldest first within it."""
    if store.conversation_item(company_id, room_id) is None:
        raise NotFound(f"room {room_id[:128]} not found")
    limit = limit_of(query.get("limit"), default=100)
    offset_raw = query.get("offset") or "1"
    if not offset_raw.isdigit() or not 1 <= int(offset_raw) <= 1000:
        raise ValidationFailed("invalid offset", details=[{"field": "offset", "message": "an integer from 1 to 1000 (the page, 1 = newest)", "type": "value_error"}])
    offset, cursor = int(offset_raw), None
    wanted: list[dict[str, Any]] = []
    for number in range(1, offset + 1):
        page = store.messages(company_id, room_id, limit=limit, cursor=cursor, newest_first=True)
        if number == offset:
            wanted = page.items
        cursor = page.next_cursor
        if cursor is None:
            break
    return {"data": [{k: m.get(k) for k in HISTORY_FIELDS} for m in reversed(wanted)]}


def queue_reply(
    store: Store,
    company_id: str,
    room_id: str,
    body: Any,
    *,
    idempotency_key: str | None = None,
    request_target: str = "",
    reference: str | None = None,
    max_attempts: int | None = None,
    clock: Clock = Clock(),
) -> ApiResult:
    """``POST /api/v3.1/conversations/{room_id}/messages``: write the reply ``queued`` (202); its
    delivery follows from the table's stream. An ``Idempotency-Key`` makes a retry safe: the same
    request answers the first 202 again, and nothing is queued twice. ``reference`` and
    ``max_attempts``: a reply another capability asked for (``parity.conversations.requests``)."""
    from parity.conversations.models import OutboundMessage
    from parity.crm.service import validate

    payload = validate(OutboundMessage, body)
    if payload.text is None and payload.template is None:
        raise ValidationFailed("text or template is required", details=[{"field": "text", "message": "required unless a template is given", "type": "missing"}])
    key_hash = idempotency.key_hash(idempotency_key)
    item = store.conversation_item(company_id, room_id)
    if item is None:
        raise NotFound(f"conversation {room_id[:128]} not found")
    conversation = store.conversation(company_id, room_id)
    now = clock.now()
    if payload.template is not None and item["channel_type"] != "whatsapp":
        raise ValidationFailed("templates are WhatsApp's", details=[{"field": "template", "message": "only a WhatsApp conversation takes a template", "type": "value_error"}])
    if item["channel_type"] == "whatsapp" and payload.template is None and conversation is not None and not model.whatsapp_window_open(conversation, now):
        raise OutsideWindow(
            "outside WhatsApp's 24 h customer-service window",
            details=[{"field": "template", "message": "the customer's last message is over 24 h old (or there is none): send a template", "type": "outside_customer_service_window"}],
        )
    message = {
        "id": f"msg_{clock.make_id(now)}",
        "room_id": room_id,
        "channel_id": item["channel_id"],
        "direction": "outbound",
        "sender_type": payload.sender_type,
        "sender_name": payload.sender_name,
        "type": "template" if payload.template else "text",
        "text": payload.text if payload.text is not None else f"[template {payload.template.name}]",
        "template": json.loads(payload.template.model_dump_json()) if payload.template else None,
        "created_at": iso_ms(now),
        "status": "queued",
        "status_rank": 0,
        "attempts": 0,
        **({"reference": reference} if reference else {}),
        **({"max_attempts": max_attempts} if max_attempts else {}),
    }
    answer = jsonio.dumps({"data": public_message(message)})
    fingerprint = idempotency.fingerprint(request_target, body)
    entry = idempotency.Entry(key_hash, fingerprint, 202, answer, int(now.timestamp()) + idempotency.TTL_SECONDS) if key_hash else None
    remembered = store.put_reply(company_id, message, idempotency=entry, now=int(now.timestamp()))
    if remembered is not None:
        return idempotency.replay_or_refuse(remembered, fingerprint)
    return ApiResult(202, answer, ids={"room_id": room_id, "message_id": message["id"]})


class OutsideWindow(ValidationFailed):
    code = "outside_customer_service_window"


def wake_snoozes(store: Store, due: list[dict[str, Any]], *, clock: Clock = Clock()) -> int:
    """Reopen the snoozed conversations whose time has come (the scheduled waker): each one's
    state becomes ``open`` in the store, so its ``conversation.state_changed`` event goes out.
    Reads already show them open (``model.effective_state``); this makes it so. Returns how many."""
    woken = 0
    now = clock.now()
    for ref in due:
        for _ in range(3):
            current = store.conversation(ref["company_id"], ref["room_id"])
            opened = model.wake(current, now) if current else None
            if opened is None:
                break
            if store.replace_conversation(opened, expected_version=current.version):
                woken += 1
                break
    return woken
