"""Conversations (the RFC's rooms) and their state machine. Pure: times are parameters.

States: ``open`` (new conversations start here), ``pending`` (a bot is handling it), ``snoozed``
(until ``snoozed_until``) and ``resolved``. An agent or bot may move a conversation to any state
(``snoozed`` needs a future ``snoozed_until``); a customer message on a ``resolved`` or ``snoozed``
conversation reopens it, and so does a snooze running out. A message older than the last change of
state (a late delivery) does not reopen it: the customer wrote before it was resolved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from datetime import datetime, timedelta
from typing import Any, Literal

from parity.core.clock import iso_ms

State = Literal["open", "pending", "snoozed", "resolved"]
STATES: tuple[State, ...] = ("open", "pending", "snoozed", "resolved")
#: WhatsApp's customer-service window: free text within 24 h of the customer's last message.
WHATSAPP_WINDOW = timedelta(hours=24)
MAX_SNOOZE = timedelta(days=365)
#: Providers stamp messages to the second (WhatsApp, Intercom): a message stamped within this much
#: before a change of state may have been written after it, and counts as after it.
PROVIDER_TIME_RESOLUTION = timedelta(seconds=1)


class InvalidState(ValueError):
    """A state change the machine refuses; ``field`` names what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Conversation:
    id: str
    company_id: str
    channel_id: str
    channel_type: str
    contact_id: str
    thread: str
    state: State
    created_at: datetime
    state_changed_at: datetime
    snoozed_until: datetime | None = None
    last_message_at: datetime | None = None
    last_inbound_at: datetime | None = None
    version: int = 1


def room_id(make_id: str) -> str:
    """Parity's id of a conversation: ``room_`` + a time-ordered id (≤ 128 characters)."""
    return f"room_{make_id}"


def effective_state(conversation: Conversation, now: datetime) -> State:
    """The state as it is now: a snooze that ran out is open."""
    if conversation.state == "snoozed" and conversation.snoozed_until is not None and conversation.snoozed_until <= now:
        return "open"
    return conversation.state


def change_state(conversation: Conversation, state: Any, snoozed_until: datetime | None, *, now: datetime) -> Conversation | None:
    """The conversation after an agent's or bot's change, or None when it changes nothing.
    Raises ``InvalidState`` naming the field."""
    if state not in STATES:
        raise InvalidState("state", f"must be one of {', '.join(STATES)}")
    if state == "snoozed":
        if snoozed_until is None:
            raise InvalidState("snoozed_until", "required to snooze")
        if snoozed_until <= now:
            raise InvalidState("snoozed_until", "must be in the future")
        if snoozed_until > now + MAX_SNOOZE:
            raise InvalidState("snoozed_until", "at most a year ahead")
    elif snoozed_until is not None:
        raise InvalidState("snoozed_until", "only a snoozed conversation has one")
    if effective_state(conversation, now) == state and conversation.snoozed_until == snoozed_until:
        return None
    return replace(conversation, state=state, snoozed_until=snoozed_until if state == "snoozed" else None, state_changed_at=now, version=conversation.version + 1)


def on_customer_message(conversation: Conversation, at: datetime, *, now: datetime) -> Conversation:
    """The conversation after a customer message written ``at`` (the provider's time): its
    activity times move forward, and a resolved or snoozed conversation reopens unless the message
    is older than that state."""
    last_message = max(filter(None, (conversation.last_message_at, at)))
    last_inbound = max(filter(None, (conversation.last_inbound_at, at)))
    state = effective_state(conversation, now)
    reopen = state in ("resolved", "snoozed") and at + PROVIDER_TIME_RESOLUTION > conversation.state_changed_at
    return replace(
        conversation,
        last_message_at=last_message,
        last_inbound_at=last_inbound,
        state="open" if reopen or state == "open" else state,
        snoozed_until=None if reopen or state == "open" else conversation.snoozed_until,
        state_changed_at=now if reopen else conversation.state_changed_at,
    )


def wake(conversation: Conversation, now: datetime) -> Conversation | None:
    """A snoozed conversation whose time has come, opened; None when it is not one."""
    if conversation.state != "snoozed" or effective_state(conversation, now) != "open":
        return None
    return replace(conversation, state="open", snoozed_until=None, state_changed_at=now, version=conversation.version + 1)


def bump(conversation: Conversation) -> Conversation:
    """The next version of a conversation (every stored change is one)."""
    return replace(conversation, version=conversation.version + 1)


def whatsapp_window_open(conversation: Conversation, now: datetime) -> bool:
    """Whether free text may be sent on WhatsApp: the customer wrote within the last 24 h."""
    return conversation.last_inbound_at is not None and now - conversation.last_inbound_at < WHATSAPP_WINDOW


def public(conversation: Conversation, *, channel: Mapping[str, Any], contact: Mapping[str, Any] | None, now: datetime) -> dict[str, Any]:
    """The conversation as ``GET /api/v3.1/conversations/{room_id}`` shows it."""

    def when(moment: datetime | None) -> str | None:
        return iso_ms(moment) if moment else None

    state = effective_state(conversation, now)
    return {
        "id": conversation.id,
        "channel": {"id": channel.get("id"), "type": channel.get("type"), "name": channel.get("name")},
        "contact": {k: (contact or {}).get(k) for k in ("id", "name", "phone", "email")} if contact else {"id": conversation.contact_id, "name": None, "phone": None, "email": None},
        "state": state,
        "snoozed_until": when(conversation.snoozed_until) if state == "snoozed" else None,
        "created_at": when(conversation.created_at),
        "last_message_at": when(conversation.last_message_at),
        "last_inbound_at": when(conversation.last_inbound_at),
    }
