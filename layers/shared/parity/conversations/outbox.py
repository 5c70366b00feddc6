"""The conversations' outbox: what a change in the conversation table (or a new identity link in the
CRM table) means for the event bus and the delivery queue. Pure: the stream consumer passes the old
and new images and the stream record's own id.

Events (EventBridge, source ``parity.conversations``, ``detail-type`` the event's name), each with
``company_id``, ids and ``occurred_at`` — never message text, names, numbers or secrets:

    conversation.created        a conversation was made                 room_id, channel_id, contact_id
    conversation.state_changed  its state changed                       room_id, from, to
    message.received            a customer's message was stored         room_id, message_id, channel_id, contact_id,
                                                                        channel_type, channel_purpose
    message.sent                a reply was accepted by the provider    room_id, message_id, channel_id, attempts
    message.attempt_failed      an attempt at a reply failed; another   room_id, message_id, channel_id, attempt, error
                                follows
    message.failed              a reply failed for good                 room_id, message_id, channel_id, attempts, error
    contact.identity_linked     a channel identity joined a contact     contact_id, channel_type

A reply another capability asked for (``parity.conversations.requests``) carries its
``reference`` on each of its events, so the asker follows its fate without reading this table.
``error`` is the provider's refusal, masked as the timeline note masks and cut to 300 characters.

A new reply (``queued``) goes to the delivery queue. Being derived from the stream, nothing is lost
between a write and its event; a redelivered stream record yields the same ``event_id``, so
subscribers can dedupe.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SOURCE = "parity.conversations"
EVENT_TYPES = (
    "conversation.created", "conversation.state_changed", "message.received", "message.sent", "message.attempt_failed", "message.failed", "contact.identity_linked",
)
MAX_ERROR_CHARS = 300


@dataclass(frozen=True)
class Decided:
    events: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)


def _event(name: str, stream_event_id: str, occurred_at: str, **ids: Any) -> dict[str, Any]:
    digest = hashlib.sha256(f"{stream_event_id}:{name}".encode()).hexdigest()[:32]
    return {"event": name, "event_id": f"evt_{digest}", "occurred_at": occurred_at, **{k: v for k, v in ids.items() if v is not None}}


def decide(stream_event_id: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, *, now_iso: str) -> Decided:
    """The events and deliveries one stream record makes (rules in the module docstring)."""
    image = new or old or {}
    entity = image.get("entity")
    if entity == "conversation" and new:
        if not old:
            return Decided([_event("conversation.created", stream_event_id, str(new.get("created_at") or now_iso), company_id=new["company_id"], room_id=new["room_id"], channel_id=new["channel_id"], contact_id=new["contact_id"])])
        if old.get("state") != new.get("state"):
            return Decided([_event("conversation.state_changed", stream_event_id, str(new.get("state_changed_at") or now_iso), company_id=new["company_id"], room_id=new["room_id"], **{"from": old.get("state"), "to": new.get("state")})])
        return Decided()
    if entity == "message" and new:
        ids = {"company_id": new["company_id"], "room_id": new["room_id"], "message_id": new["id"], "channel_id": new.get("channel_id")}
        if new.get("direction") == "inbound":
            about = {"contact_id": new.get("contact_id"), "channel_type": new.get("channel_type"), "channel_purpose": new.get("channel_purpose")}
            return Decided([_event("message.received", stream_event_id, str(new["created_at"]), **about, **ids)]) if not old else Decided()
        if not old and new.get("status") == "queued":
            return Decided(deliveries=[{"company_id": new["company_id"], "room_id": new["room_id"], "created_at": new["created_at"], "message_id": new["id"]}])
        ids["reference"] = new.get("reference")
        status, before = new.get("status"), (old or {}).get("status")
        attempts = int(new.get("attempts") or 0)
        if status != before and status == "sent":
            return Decided([_event("message.sent", stream_event_id, now_iso, attempts=attempts, **ids)])
        if status != before and status == "failed":
            return Decided([_event("message.failed", stream_event_id, now_iso, attempts=attempts, error=_error(new), **ids)])
        if status == before == "queued" and attempts > int((old or {}).get("attempts") or 0):
            return Decided([_event("message.attempt_failed", stream_event_id, now_iso, attempt=attempts, error=_error(new), **ids)])
        return Decided()
    if entity == "identity" and new and not old:
        return Decided([_event("contact.identity_linked", stream_event_id, str(new.get("linked_at") or now_iso), company_id=new["company_id"], contact_id=new["contact_id"], channel_type=new.get("channel_type"))])
    return Decided()


def _error(message: Mapping[str, Any]) -> str:
    from parity.timeline.excerpt import clean, truncate
    from parity.timeline.masking import mask

    return truncate(mask(clean(str(message.get("last_error") or ""))), MAX_ERROR_CHARS) or "error"


def publish(stream_event_id: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, *, bus: Any, queue: Any, bus_name: str,
            delivery_queue_url: str, now_iso: str) -> Decided:
    """Carry out what one stream record decides: its events on the bus (``bus.put``), its replies on
    the delivery queue (``queue.send``); one log line each. The stream consumer and ``parity ops``'
    replay of a dead-lettered batch both come here, so a replay makes the same events, ids included."""
    from parity.core.observability import logger

    decided = decide(stream_event_id, old, new, now_iso=now_iso)
    if decided.events:
        bus.put([bus_entry(e, bus_name) for e in decided.events])
    for delivery in decided.deliveries:
        queue.send(delivery_queue_url, delivery)
    for event in decided.events:
        logger.info("event published", extra={"event": event["event"], "event_id": event["event_id"]})
    if decided.deliveries:
        logger.info("reply queued for delivery", extra={"message_id": decided.deliveries[0]["message_id"]})
    return decided


def bus_entry(event: Mapping[str, Any], bus_name: str) -> dict[str, Any]:
    """An EventBridge ``PutEvents`` entry for one event."""
    from parity.core.bus import entry

    return entry(SOURCE, event, bus_name)
