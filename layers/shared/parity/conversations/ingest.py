"""The ingest worker's use case: one queued webhook delivery → messages in conversations.

For each customer message: the sender resolves to a contact (``parity.crm.identity``), the
provider's thread to a conversation (made on its first message; racing first messages make one),
the message is written once (its key is the provider's time and id: a redelivery writes nothing),
and the conversation's activity moves forward, reopening it when it was resolved or snoozed.
Delivery statuses of replies move their message's status forward. Every step is idempotent, so a
retried delivery (the queue's at-least-once) changes nothing twice. Events and reply deliveries
follow from the table's stream (``parity.conversations.outbox``), not from here.

A payload that is not the provider's shape raises ``Unparseable``: the handler parks it in the
ingest dead-letter queue with the reason (the webhook already answered 200).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from parity.conversations import inbound, model
from parity.conversations.inbound import InboundMessage, Unparseable
from parity.conversations.model import Conversation
from parity.conversations.store import inbound_message_id
from parity.core import jsonio
from parity.core.clock import Clock, iso_ms
from parity.crm.identity import ContactDirectory, Identity, resolve

_ATTEMPTS = 5


class Conversations(Protocol):
    """What ingesting needs of the conversation table (``parity.conversations.store.ConversationTable``)."""

    def channel(self, channel_id: str) -> dict[str, Any] | None: ...

    def conversation_for_thread(self, company_id: str, channel_id: str, thread: str) -> Conversation | None: ...

    def create_conversation(self, conversation: Conversation, *, summary: Mapping[str, Any]) -> bool: ...

    def conversation(self, company_id: str, room_id: str) -> Conversation | None: ...

    def replace_conversation(self, conversation: Conversation, *, expected_version: int) -> bool: ...

    def put_message(self, company_id: str, message: Mapping[str, Any]) -> bool: ...

    def outbound(self, channel_id: str, provider_id: str) -> dict[str, Any] | None: ...

    def set_status(self, company_id: str, room_id: str, created_at: str, message_id: str, status: str, **kwargs: Any) -> bool: ...


@dataclass
class Ingested:
    """What one delivery came to (for the log): counts and the rooms it touched."""

    stored: int = 0
    duplicates: int = 0
    statuses: int = 0
    ignored: str = ""
    rooms: list[str] = field(default_factory=list)


def envelope(channel: Mapping[str, Any], body: bytes, *, received_at: datetime) -> dict[str, Any]:
    """The queued form of a delivery: which channel, and the raw body as received."""
    try:
        text, encoding = body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = base64.b64encode(body).decode(), "base64"
    return {"channel_id": channel["id"], "company_id": channel["company_id"], "channel_type": channel["type"], "received_at": iso_ms(received_at), "encoding": encoding, "body": text}


def raw_body(queued: Mapping[str, Any]) -> bytes:
    body = str(queued.get("body", ""))
    return base64.b64decode(body) if queued.get("encoding") == "base64" else body.encode("utf-8")


def ingest(queued: Mapping[str, Any], *, table: Conversations, contacts: ContactDirectory, clock: Clock = Clock()) -> Ingested:
    """Store what a queued delivery carries (rules in the module docstring)."""
    channel = table.channel(str(queued.get("channel_id")))
    if channel is None or channel.get("company_id") != queued.get("company_id"):
        return Ingested(ignored="the channel no longer exists")
    body = raw_body(queued)
    try:
        payload = jsonio.loads(body)
    except (ValueError, RecursionError) as exc:
        raise Unparseable("the body is not JSON") from exc
    delivery = inbound.parse(channel["type"], payload, body)
    outcome = Ingested(ignored=delivery.ignored)
    for message in delivery.messages:
        room, written = _store(message, channel, delivery.extra, table=table, contacts=contacts, clock=clock)
        outcome.rooms.append(room)
        if written:
            outcome.stored += 1
        else:
            outcome.duplicates += 1
    for status in delivery.statuses:
        found = table.outbound(channel["id"], status.provider_id)
        if found and table.set_status(found["company_id"], found["room_id"], found["created_at"], found["message_id"], status.status, error=status.error):
            outcome.statuses += 1
    return outcome


def identities(channel: Mapping[str, Any], message: InboundMessage, extra: Mapping[str, Any]) -> list[Identity]:
    """The sender's channel identities: a WhatsApp wa_id (company-wide) and business-scoped id
    (this channel only); a Slack or Intercom user in its workspace or app."""
    kind, sender = channel["type"], message.sender
    if kind == "whatsapp":
        found = [Identity("whatsapp", "", sender.user_id)] if sender.user_id else []
        if sender.scoped_id:
            found.append(Identity("whatsapp", channel["id"], sender.scoped_id, alias=True))
        return found
    scope = str(extra.get("team_id") or extra.get("app_id") or channel.get("account_id") or channel["id"])
    return [Identity(kind, scope, str(sender.user_id))] if sender.user_id else []


def _store(message: InboundMessage, channel: Mapping[str, Any], extra: Mapping[str, Any], *, table: Conversations, contacts: ContactDirectory, clock: Clock) -> tuple[str, bool]:
    company = channel["company_id"]
    sender = message.sender
    name = sender.name or sender.phone or sender.email or f"{channel['type'].title()} user {sender.user_id or sender.scoped_id}"
    resolved = resolve(contacts, company, identities(channel, message, extra), name=name, email=sender.email, phone=sender.phone, region=channel.get("default_region"))
    thread = resolved.contact_id if channel["type"] == "whatsapp" else message.thread
    recipient = sender.user_id if channel["type"] == "whatsapp" else None
    conversation = _conversation(table, channel, thread, resolved.contact_id, name=name, phone=sender.phone, email=sender.email, recipient=recipient, clock=clock)
    stored = {
        "id": inbound_message_id(channel["id"], message.provider_id),
        "room_id": conversation.id,
        "channel_id": channel["id"],
        "channel_type": channel["type"],
        "channel_purpose": channel.get("purpose") or "conversations",
        "direction": "inbound",
        "sender_type": "customer",
        "sender_name": sender.name or name,
        "contact_id": resolved.contact_id,
        "type": message.type,
        "text": message.text,
        "created_at": iso_ms(message.created_at),
        "provider_id": message.provider_id,
    }
    written = table.put_message(company, stored)
    # Whether this delivery wrote the message or an earlier attempt did, the conversation's
    # activity moves forward: a crash between the two writes is healed by the retry.
    # The conversation was just read (or made): the first attempt decides on it, and only a lost race
    # (the conditional update refused) reads it again. One GetItem less per message.
    current = conversation
    for attempt in range(_ATTEMPTS):
        if attempt:
            current = table.conversation(company, conversation.id) or conversation
        updated = model.on_customer_message(current, message.created_at, now=clock.now())
        if updated == current or table.replace_conversation(model.bump(updated), expected_version=current.version):
            break
    return conversation.id, written


def _conversation(table: Conversations, channel: Mapping[str, Any], thread: str, contact_id: str, *, name: str, phone: str | None = None, email: str | None = None, recipient: str | None = None, clock: Clock) -> Conversation:
    """The thread's conversation, made on its first message (``recipient``: who a WhatsApp reply goes to)."""
    for _ in range(_ATTEMPTS):
        found = table.conversation_for_thread(channel["company_id"], channel["id"], thread)
        if found is not None:
            return found
        now = clock.now()
        made = Conversation(
            id=model.room_id(clock.make_id(now)),
            company_id=channel["company_id"],
            channel_id=channel["id"],
            channel_type=channel["type"],
            contact_id=contact_id,
            thread=thread,
            state="open",
            created_at=now,
            state_changed_at=now,
        )
        summary = {"channel_name": channel.get("name"), "contact_name": name}
        summary.update({k: v for k, v in (("contact_phone", phone), ("contact_email", email), ("recipient", recipient)) if v})
        if table.create_conversation(made, summary=summary):
            return made
    raise RuntimeError("the thread's conversation kept changing while it was looked up")
