"""Telling reporters the fix: who is told, how, and what becomes of each notification once a
changelog is approved (contracts/feedback.md, "Resolution and the release valve"). Pure: time is
a parameter.

Who
    Every distinct reporter of the ticket (``reporter_contact_ids``) once, on the channel they
    reported through; a reporter on several, the most recent: their ``reporters`` entry with the
    newest ``reported_at`` (ties: the later entry).

How (``plan``)
    * WhatsApp: free text when the conversation's last inbound message is less than 24 h old;
      else the company's template (``PUT /api/v3.1/feedback/settings``), its one body variable
      ``{{1}}`` given the approved text (on one line, as Meta requires of a variable); else nothing
      is sent and the notification is ``channel_restricted``, listed for a person to follow up.
    * Slack: a reply in the report's thread; Intercom: a reply in the conversation. Both are the
      report's conversation (``room_id``): conversations knows its thread and conversation ids.
    * ``in_app`` / ``backoffice``: stored, ``sent`` at once, for the product to read.
    * A channel that needs a conversation but has none (or a channel type unknown here):
      ``channel_restricted`` with the reason.
    Sends go through the conversations' outbound path (``Outbound``: the body of
    ``POST /api/v3.1/conversations/{room_id}/messages``, the notification id as its
    ``Idempotency-Key``, at most ``MAX_ATTEMPTS`` attempts).

Never twice
    A notification's id is derived from (company, ticket, contact): an approval delivered again
    plans nothing for a notification that exists (``existing``), and a reporter is told once per
    ticket. ``after_attempt`` never moves a notification out of ``sent``, ``permanently_failed``
    or ``channel_restricted``, and ``may_attempt`` refuses a sixth attempt or an attempt on a sent
    notification.

Attempts
    At most ``MAX_ATTEMPTS`` (5): the outbound path's first five, each after the previous one by
    ``ATTEMPT_DELAYS`` (0, 1 s, 4 s, 15 s, 60 s: at 0, 1, 5, 20 and 80 s). A failure is ``failed``
    until the fifth, then ``permanently_failed``; a failure the provider says is final (a 4xx other
    than 429) is ``permanently_failed`` at once. Outcomes may arrive twice or out of order: one for
    an attempt already counted changes nothing, so the notification ends as its latest attempt says.
    ``last_error`` is that attempt's error (masked as the timeline note masks: a provider's message
    may quote the customer's number), None once sent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from parity.core.clock import iso_ms
from parity.core.errors import ValidationFailed
from parity.core.ids import valid_id
from parity.crm.models import error_details
from parity.feedback.ticket import API_SOURCES, Reporter, moment_of
from parity.timeline.excerpt import clean, truncate
from parity.timeline.masking import mask

STATUSES: tuple[str, ...] = ("pending", "sent", "failed", "permanently_failed", "channel_restricted")
FINAL = frozenset({"sent", "permanently_failed", "channel_restricted"})
MAX_ATTEMPTS = 5
#: Seconds to wait before attempt n (n = 1..5), after the previous one: conversations' schedule.
ATTEMPT_DELAYS: tuple[int, ...] = (0, 1, 4, 15, 60)
WHATSAPP_WINDOW = timedelta(hours=24)
MAX_ERROR_CHARS = 500
#: Channels whose replies go to the report's conversation.
CONVERSATION_CHANNELS = ("whatsapp", "slack", "intercom")

RESTRICTED_WINDOW = "outside the WhatsApp 24 h window and no template set (PUT /api/v3.1/feedback/settings)"
RESTRICTED_NO_ROOM = "no conversation to reply in"
RESTRICTED_CHANNEL = "no way to send on this channel"


# ---- who ---------------------------------------------------------------------------------------
def recipients(ticket: Mapping[str, Any]) -> list[Reporter]:
    """Each distinct reporter once, on their most recent channel, in ``reporter_contact_ids``
    order (contacts with no ``reporters`` entry have no way back and are left out)."""
    newest: dict[str, Mapping[str, Any]] = {}
    for entry in ticket.get("reporters") or []:
        current = newest.get(entry["contact_id"])
        if current is None or moment_of(entry["reported_at"]) >= moment_of(current["reported_at"]):
            newest[entry["contact_id"]] = entry
    order = list(dict.fromkeys([*(ticket.get("reporter_contact_ids") or []), *newest]))
    return [Reporter.of_entry(newest[c]) for c in order if c in newest]


def notification_id(company_id: str, ticket_id: str, contact_id: str) -> str:
    """The notification of a ticket's fix to one contact: one per (company, ticket, contact)."""
    digest = hashlib.sha256(f"{company_id}\x00{ticket_id}\x00{contact_id}".encode()).hexdigest()
    return "ntf_" + digest[:32]


# ---- how ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Template:
    """The company's WhatsApp template (``{"name", "language"}`` of the feedback settings)."""

    name: str
    language: str


@dataclass(frozen=True)
class Outbound:
    """A send for the conversations' outbound path: ``POST /api/v3.1/conversations/{room_id}/
    messages`` with ``body`` and ``Idempotency-Key: idempotency_key``, stopping after
    ``max_attempts``."""

    room_id: str
    body: dict[str, Any]
    idempotency_key: str
    max_attempts: int = MAX_ATTEMPTS


@dataclass(frozen=True)
class Planned:
    """A notification to store, and the send to make for it (None: nothing to send)."""

    notification: dict[str, Any]
    outbound: Outbound | None


def plan(
    ticket: Mapping[str, Any],
    *,
    company_id: str,
    text: str,
    template: Template | None,
    last_inbound_at: Mapping[str, datetime | None],
    now: datetime,
    existing: Collection[str] = (),
) -> list[Planned]:
    """The notifications an approved changelog ``text`` makes for ``ticket``'s reporters (how: the
    module docstring). ``last_inbound_at``: each conversation's newest inbound message time, by
    room id. ``existing``: notification ids already stored (an approval delivered again)."""
    planned = []
    for who in recipients(ticket):
        nid = notification_id(company_id, ticket["id"], who.contact_id)
        if nid in existing:
            continue
        notification = {
            "id": nid,
            "ticket_id": ticket["id"],
            "contact_id": who.contact_id,
            "channel": who.channel,
            **({"channel_id": who.channel_id} if who.channel_id is not None else {}),
            "status": "pending",
            "attempts": 0,
            "last_error": None,
            "sent_at": None,
        }
        if who.channel in API_SOURCES:
            planned.append(Planned({**notification, "status": "sent", "attempts": 1, "sent_at": iso_ms(now)}, None))
            continue
        body, reason = _body(who, text=text, template=template, last_inbound_at=last_inbound_at, now=now)
        if body is None or who.room_id is None:  # (a body always has a room: for the type checker)
            planned.append(Planned({**notification, "status": "channel_restricted", "last_error": reason}, None))
        else:
            planned.append(Planned(notification, Outbound(who.room_id, body, nid)))
    return planned


def _body(who: Reporter, *, text: str, template: Template | None, last_inbound_at: Mapping[str, datetime | None], now: datetime) -> tuple[dict[str, Any] | None, str]:
    if who.channel not in CONVERSATION_CHANNELS:
        return None, RESTRICTED_CHANNEL
    if who.room_id is None:
        return None, RESTRICTED_NO_ROOM
    if who.channel == "whatsapp" and not in_window(last_inbound_at.get(who.room_id), now):
        if template is None:
            return None, RESTRICTED_WINDOW
        variable = " ".join(text.split())  # Meta refuses line breaks, tabs and runs of spaces in one
        return {"sender_type": "bot", "template": {"name": template.name, "language": template.language, "parameters": [variable]}}, ""
    return {"sender_type": "bot", "text": text}, ""


def in_window(last_inbound_at: datetime | None, now: datetime) -> bool:
    """Whether WhatsApp allows free text: the last inbound message is less than 24 h old."""
    return last_inbound_at is not None and now - last_inbound_at < WHATSAPP_WINDOW


# ---- attempts ----------------------------------------------------------------------------------
def may_attempt(notification: Mapping[str, Any], attempt: int) -> bool:
    """Whether attempt number ``attempt`` (1-based) may be made: the next one, not past the
    limit, and the notification neither sent nor given up."""
    return notification["status"] in ("pending", "failed") and attempt == int(notification["attempts"]) + 1 and attempt <= MAX_ATTEMPTS


@dataclass(frozen=True)
class AfterAttempt:
    """The notification after an attempt's outcome, and in how many seconds the next attempt
    comes (None: no further attempt)."""

    notification: dict[str, Any]
    retry_in: int | None


def after_attempt(notification: Mapping[str, Any], *, attempt: int, error: str | None, at: datetime, final: bool = False) -> AfterAttempt:
    """The outcome of attempt ``attempt`` (1-based) made ``at``: ``error`` None means the provider
    accepted it; ``final`` means the provider's refusal is final (a 4xx other than 429). An
    outcome for an attempt already counted, or for a notification already final, changes nothing."""
    if attempt < 1:
        raise ValueError("attempts count from 1")
    current = dict(notification)
    if current["status"] in FINAL or attempt <= int(current["attempts"]):
        return AfterAttempt(current, None)
    if error is None:
        return AfterAttempt({**current, "status": "sent", "attempts": attempt, "last_error": None, "sent_at": iso_ms(at)}, None)
    updated = {**current, "attempts": attempt, "last_error": truncate(mask(clean(error)), MAX_ERROR_CHARS) or "error"}
    if final or attempt >= MAX_ATTEMPTS:
        return AfterAttempt({**updated, "status": "permanently_failed"}, None)
    return AfterAttempt({**updated, "status": "failed"}, ATTEMPT_DELAYS[attempt])


# ---- settings and the notifications list ---------------------------------------------------------
DEFAULT_SETTINGS: dict[str, Any] = {"whatsapp_template": None}

#: WhatsApp template names: lower-case letters, digits and "_" (Meta's rule), at most 512.
TemplateName = Annotated[str, StringConstraints(strict=True, pattern=r"^[a-z0-9_]{1,512}$")]
#: A WhatsApp template language code: "en", "id", "es_MX", "pt_BR", "fil".
LanguageCode = Annotated[str, StringConstraints(strict=True, pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class TemplateIn(_Body):
    name: TemplateName
    language: LanguageCode


class FeedbackSettings(_Body):
    """``PUT /api/v3.1/feedback/settings`` (admin): replaces the settings; ``whatsapp_template``
    null or absent means none (WhatsApp reporters outside the window are then
    ``channel_restricted``)."""

    whatsapp_template: TemplateIn | None = None


def parse_settings(payload: Any) -> dict[str, Any]:
    """The settings a PUT body sets, or ``ValidationFailed`` naming every offending field."""
    if not isinstance(payload, Mapping):
        raise ValidationFailed("the body must be a JSON object", details=[{"field": "body", "message": "must be an object", "type": "model_type"}])
    try:
        return FeedbackSettings.model_validate(dict(payload)).model_dump()
    except ValidationError as exc:
        raise ValidationFailed("invalid feedback settings", details=error_details(exc)) from exc


def template_of(settings: Mapping[str, Any] | None) -> Template | None:
    """The WhatsApp template of stored settings, if one is set."""
    chosen = (settings or {}).get("whatsapp_template")
    return Template(chosen["name"], chosen["language"]) if chosen else None


@dataclass(frozen=True)
class NotificationFilters:
    ticket_id: str | None = None
    status: str | None = None


def parse_notification_filters(query: Mapping[str, str]) -> NotificationFilters:
    """``GET /api/v3.1/notifications?ticket_id=&status=`` (``limit``/``cursor``: the edge's)."""
    ticket_id, status = query.get("ticket_id") or None, query.get("status") or None
    details = []
    if ticket_id is not None and not valid_id(ticket_id):
        details.append({"field": "ticket_id", "message": "not a valid ticket id", "type": "value_error"})
    if status is not None and status not in STATUSES:
        details.append({"field": "status", "message": f"must be one of {', '.join(STATUSES)}", "type": "enum"})
    if details:
        raise ValidationFailed("invalid filters", details=details)
    return NotificationFilters(ticket_id, status)


def notification_matches(notification: Mapping[str, Any], filters: NotificationFilters) -> bool:
    return (filters.ticket_id is None or notification["ticket_id"] == filters.ticket_id) and (
        filters.status is None or notification["status"] == filters.status
    )
