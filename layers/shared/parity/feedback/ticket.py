"""The feedback ticket: its fields on top of a CRM ticket, the ``POST /api/v3.1/feedback`` body,
the list filters and the summary figures (contracts/feedback.md). Pure: time is a parameter.
A little over 400 lines: the ticket's fields and every rule that reads them (filters, figures) stay
in one module, so "confirmed, else suggested" is written once.

A feedback ticket is a plain dict, as CRM records are (``parity.crm.records``)::

    id, type ("ticket"), name (the summary), description (the report), status ("open" at first),
    priority, category            confirmed: None until a person sets them (PATCH /tickets/{id})
    source                        "<channel type> feedback", or the POST's "in_app" / "backoffice"
    channel_integration_room_id   the conversation it came from (None for a POST)
    creator_flag ("bot"), contact_ids
    reporter_contact_ids, reporters [{"contact_id", "channel", "channel_id"?, "room_id"?,
    "reported_at"}], report_count, summary, suggested_type, suggested_priority
    created_at, updated_at

``crm_create_body`` is the part the CRM stores (a valid ``POST /api/v3.1/tickets`` body);
``FEEDBACK_FIELDS`` the part only feedback keeps. Suggested and confirmed are never mixed:
nothing here writes ``category`` or ``priority`` but ``with_confirmed``, and nothing writes
``suggested_*`` after the ticket is made; every reading that needs "the" category or priority
(filters, figures) takes the confirmed value, else the suggested one (``category_of``,
``priority_of``).

Decisions the contract leaves open (also in docs/feedback-design.md):

* Size: ``text`` is at most ``MAX_TEXT_CHARS`` (10,000) characters, the CRM's limit for a
  ticket's description, which the report becomes: a longer text is a 422 naming ``text``, like
  every other over-long field. A body over the API's byte limit (64 KiB) is a 413 at the HTTP
  edge before it is read. An empty or invisible text is a 422 naming ``text``. A channel message
  is never refused: its text is cut to the limit (ending in "…").
* A reporter needs an email or a phone (422 naming ``reporter``): the reporter resolves to a
  contact, contacts are found by exactly those, and a reporter with neither could never be told
  the fix, nor counted once across reports.
* A ticket's channel (the ``channel`` filter, ``by_channel``) is the channel of its first report,
  so the list filtered by a channel holds exactly the tickets ``by_channel`` counts for it.
* Resolved, for grouping: ``resolved`` or ``closed``; only a move into ``resolved`` proposes a
  changelog (``became_resolved``).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, StrictStr, StringConstraints, ValidationError, model_validator

from parity.core.clock import iso_ms
from parity.core.errors import ValidationFailed
from parity.crm.models import Name, error_details
from parity.feedback.summary import summary as summarise_text
from parity.feedback.triage import PRIORITIES, TYPES, Triage
from parity.timeline.excerpt import clean, parse_time, truncate

#: Channel types a report comes through: the providers' (conversations.md) and the API's sources.
PROVIDER_CHANNELS: tuple[str, ...] = ("whatsapp", "slack", "intercom")
API_SOURCES: tuple[str, ...] = ("in_app", "backoffice")
CHANNELS: tuple[str, ...] = (*PROVIDER_CHANNELS, *API_SOURCES)
CATEGORIES = TYPES
OPEN = "open"
RESOLVED = "resolved"
RESOLVED_STATUSES = frozenset({RESOLVED, "closed"})
MAX_TEXT_CHARS = 10_000
MAX_STATUS_CHARS = 64
DEFAULT_NAME = "Feedback report"
#: ``GET /api/v3.1/feedback/summary?period=``; absent means ``DEFAULT_PERIOD``.
PERIODS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
DEFAULT_PERIOD = "7d"
TOP_REPORTERS = 10

#: What only feedback keeps of a ticket (the CRM keeps the rest: ``crm_create_body``).
FEEDBACK_FIELDS = ("reporter_contact_ids", "reporters", "report_count", "summary", "suggested_type", "suggested_priority")


# ---- a report ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Reporter:
    """Who reported, through which channel and conversation, when: one ``reporters`` entry of a
    ticket, and the way back to that person once it is fixed (``parity.feedback.notify``)."""

    contact_id: str
    channel: str
    reported_at: datetime
    channel_id: str | None = None
    room_id: str | None = None

    def entry(self) -> dict[str, Any]:
        """The stored ``reporters`` entry (absent ids left out)."""
        entry: dict[str, Any] = {"contact_id": self.contact_id, "channel": self.channel}
        if self.channel_id is not None:
            entry["channel_id"] = self.channel_id
        if self.room_id is not None:
            entry["room_id"] = self.room_id
        entry["reported_at"] = iso_ms(self.reported_at)
        return entry

    @classmethod
    def of_entry(cls, entry: Mapping[str, Any]) -> Reporter:
        return cls(entry["contact_id"], entry["channel"], moment_of(entry["reported_at"]), entry.get("channel_id"), entry.get("room_id"))


@dataclass(frozen=True, kw_only=True)
class Report(Reporter):
    """One report, wherever it came from: a message on a ``feedback`` channel or a
    ``POST /api/v3.1/feedback``; its reporter (already resolved to a contact), its ``id`` and ``text``."""

    id: str
    text: str


def report_id(company_id: str, kind: Literal["message", "external", "request"], value: str) -> str:
    """A report's id, the same for every delivery of the same report, scoped to the company:

    * ``message``: the conversations' id of the inbound message (unique per provider message:
      conversations already drops the providers' redeliveries; an event delivered twice carries it
      twice);
    * ``external``: a POST's ``external_id`` (contract: seen before for the company → the same
      ticket);
    * ``request``: a POST without ``external_id``: the request's own id (each one a new report;
      its ``Idempotency-Key``, when sent, is the HTTP edge's business).
    """
    digest = hashlib.sha256(f"{company_id}\x00{kind}\x00{value}".encode()).hexdigest()
    return "rpt_" + digest[:32]


def ticket_id_for(report: Report) -> str:
    """The id of the ticket a report makes when it makes one: like ``parity.core.clock.new_id``
    (12 hex digits of epoch ms, then 12 more), but derived from the report, so a retried creation
    makes the same ticket, not a second one."""
    millis = int(report.reported_at.timestamp() * 1000)
    return f"{millis:012x}{hashlib.sha256(report.id.encode()).hexdigest()[:12]}"


# ---- the ticket --------------------------------------------------------------------------------
def source_of(report: Report) -> str:
    """``"<channel type> feedback"`` for a channel message, the POST's own ``source`` otherwise."""
    return report.channel if report.channel in API_SOURCES else f"{report.channel} feedback"


def description_of(text: str) -> str:
    """The report as the ticket's description: control characters (but line breaks and tabs) and
    lone surrogates dropped, trimmed, cut to ``MAX_TEXT_CHARS`` ("…")."""
    kept = "".join(ch for ch in text[: MAX_TEXT_CHARS * 2] if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs"))
    return truncate(kept.strip(), MAX_TEXT_CHARS)


def new_ticket(report: Report, *, triage: Triage, now: datetime) -> dict[str, Any]:
    """The feedback ticket a new report makes (id from ``ticket_id_for``)."""
    if report.channel not in CHANNELS:
        raise ValueError(f"unknown channel {report.channel!r}")
    text_summary = summarise_text(report.text)
    stamp = iso_ms(now)
    return {
        "id": ticket_id_for(report),
        "type": "ticket",
        "name": text_summary or DEFAULT_NAME,
        "description": description_of(report.text),
        "status": OPEN,
        "priority": None,
        "category": None,
        "source": source_of(report),
        "channel_integration_room_id": report.room_id if report.channel in PROVIDER_CHANNELS else None,
        "creator_flag": "bot",
        "contact_ids": [report.contact_id],
        "reporter_contact_ids": [report.contact_id],
        "reporters": [report.entry()],
        "report_count": 1,
        "summary": text_summary,
        "suggested_type": triage.type,
        "suggested_priority": triage.priority,
        "created_at": stamp,
        "updated_at": stamp,
    }


def add_report(ticket: Mapping[str, Any], report: Report, *, now: datetime) -> dict[str, Any]:
    """The ticket after one more report joined it: ``report_count`` + 1; the reporter added to
    ``reporter_contact_ids`` (and the linked ``contact_ids``) when new; ``reporters`` gains an
    entry for a new (contact, channel, channel id, conversation). An entry's ``reported_at`` is
    when that contact first reported through that conversation and never moves: the 24 h of a
    conversation count from it, and the newest entry is the reporter's most recent channel.
    Nothing else changes: no suggestion is redone, no confirmed field touched."""
    updated = dict(ticket)
    updated["report_count"] = int(ticket.get("report_count") or 0) + 1
    for name in ("reporter_contact_ids", "contact_ids"):
        ids = list(ticket.get(name) or [])
        updated[name] = ids if report.contact_id in ids else [*ids, report.contact_id]
    entry, reporters = report.entry(), [dict(r) for r in ticket.get("reporters") or []]
    same_way = ("contact_id", "channel", "channel_id", "room_id")
    if not any(all(r.get(k) == entry.get(k) for k in same_way) for r in reporters):
        reporters.append(entry)
    updated["reporters"] = reporters
    updated["updated_at"] = iso_ms(now)
    return updated


def crm_create_body(ticket: Mapping[str, Any]) -> dict[str, Any]:
    """What the CRM stores of a feedback ticket: a ``POST /api/v3.1/tickets`` body."""
    return {
        "name": ticket["name"],
        "description": ticket["description"],
        "status": ticket["status"],
        "source": ticket["source"],
        "channel_integration_room_id": ticket["channel_integration_room_id"],
        "crm_lead_ids": list(ticket["contact_ids"]),
        "creator_flag": ticket["creator_flag"],
    }


def is_resolved(ticket: Mapping[str, Any]) -> bool:
    return ticket.get("status") in RESOLVED_STATUSES


def became_resolved(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> bool:
    """Whether a change moved a ticket into ``resolved`` (what proposes a changelog)."""
    return after.get("status") == RESOLVED and (before is None or before.get("status") != RESOLVED)


def check_confirmed(changes: Mapping[str, Any]) -> None:
    """A PATCH of a feedback ticket: ``category`` one of ``CATEGORIES`` and ``priority`` one of
    ``PRIORITIES`` (or null to unset); ``ValidationFailed`` naming every offending field."""
    details = []
    for name, allowed in (("category", CATEGORIES), ("priority", PRIORITIES)):
        if name in changes and changes[name] is not None and changes[name] not in allowed:
            details.append({"field": name, "message": f"must be one of {', '.join(allowed)}", "type": "enum"})
    if details:
        raise ValidationFailed("invalid feedback ticket fields", details=details)


def is_feedback_ticket(record: Mapping[str, Any]) -> bool:
    """Whether a CRM ticket is a feedback ticket: its source is a feedback channel's or a POST's."""
    source = record.get("source")
    return source in API_SOURCES or source in {f"{channel} feedback" for channel in PROVIDER_CHANNELS}


def check_feedback_ticket(current: Mapping[str, Any], changes: Mapping[str, Any]) -> None:
    """The CRM's PATCH of a ticket: a feedback ticket's confirmed fields are checked
    (``check_confirmed``); any other ticket's are the CRM's plain fields."""
    if is_feedback_ticket(current):
        check_confirmed(changes)


def with_confirmed(ticket: Mapping[str, Any], crm_record: Mapping[str, Any]) -> dict[str, Any]:
    """The feedback ticket with the CRM's current ``status``, ``category``, ``priority``, ``name``
    and ``updated_at`` (a person's decisions, from the CRM stream); the suggestions untouched."""
    updated = dict(ticket)
    for name in ("status", "category", "priority", "name", "updated_at"):
        if name in crm_record:
            updated[name] = crm_record[name]
    return updated


# ---- reading: the confirmed value, else the suggested one ---------------------------------------
def category_of(ticket: Mapping[str, Any]) -> str | None:
    return ticket.get("category") or ticket.get("suggested_type")


def priority_of(ticket: Mapping[str, Any]) -> str | None:
    return ticket.get("priority") or ticket.get("suggested_priority")


def channel_of(ticket: Mapping[str, Any]) -> str | None:
    """The channel of the ticket's first report."""
    reporters = ticket.get("reporters") or []
    return reporters[0].get("channel") if reporters else None


# ---- POST /api/v3.1/feedback ---------------------------------------------------------------------
def _visible(value: str) -> str:
    if not clean(value):
        raise ValueError("must contain visible text")
    return value


#: The contacts' own rules (``parity.crm.service``: an email at most 254 bytes with one "@" and a
#: dot after it; a phone of 5 to 20 decimal digits): a reporter the CRM would refuse as a contact
#: is refused here, in the same terms. A test holds the two together.
_EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: str) -> str:
    if len(value.encode("utf-8")) > 254 or not _EMAIL_SHAPE.match(value):
        raise ValueError("not an email address (at most 254 bytes)")
    return value


def _phone(value: str) -> str:
    if not 5 <= sum(ch.isdecimal() for ch in value) <= 20:
        raise ValueError("must hold 5 to 20 digits")
    return value


ReportText = Annotated[StrictStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT_CHARS), AfterValidator(_visible)]
Email = Annotated[StrictStr, StringConstraints(strip_whitespace=True, max_length=254), AfterValidator(_email)]
#: 32 characters, as ``ContactCreate`` allows.
Phone = Annotated[StrictStr, StringConstraints(strip_whitespace=True, max_length=32), AfterValidator(_phone)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ReporterIn(_Body):
    name: Name | None = None
    email: Email | None = None
    phone: Phone | None = None

    @model_validator(mode="after")
    def _reachable(self) -> ReporterIn:
        if self.email is None and self.phone is None:
            raise ValueError("needs an email or a phone: the reporter becomes a contact and is told the fix")
        return self


class FeedbackCreate(_Body):
    """``POST /api/v3.1/feedback``."""

    text: ReportText
    reporter: ReporterIn
    source: Literal["in_app", "backoffice"]
    external_id: Name | None = None


def parse_feedback(payload: Any) -> FeedbackCreate:
    """A validated ``POST /api/v3.1/feedback`` body, or ``ValidationFailed`` (422) naming every
    offending field (``text``, ``reporter``, ``reporter.email``, ``source``, …)."""
    if not isinstance(payload, Mapping):
        raise ValidationFailed("the body must be a JSON object", details=[{"field": "body", "message": "must be an object", "type": "model_type"}])
    try:
        return FeedbackCreate.model_validate(dict(payload))
    except ValidationError as exc:
        raise ValidationFailed("invalid feedback", details=error_details(exc)) from exc


# ---- GET /api/v3.1/feedback ----------------------------------------------------------------------
@dataclass(frozen=True)
class ListFilters:
    status: str | None = None
    category: str | None = None
    priority: str | None = None
    channel: str | None = None


def parse_list_filters(query: Mapping[str, str]) -> ListFilters:
    """The list's filters from the query (``limit`` and ``cursor`` are the HTTP edge's);
    ``ValidationFailed`` naming every unknown value. An empty value is no filter."""
    values = {name: (query.get(name) or None) for name in ("status", "category", "priority", "channel")}
    details = []
    for name, allowed in (("category", CATEGORIES), ("priority", PRIORITIES), ("channel", CHANNELS)):
        if values[name] is not None and values[name] not in allowed:
            details.append({"field": name, "message": f"must be one of {', '.join(allowed)}", "type": "enum"})
    status = values["status"]
    if status is not None and (len(status) > MAX_STATUS_CHARS or not clean(status)):
        details.append({"field": "status", "message": f"must be 1 to {MAX_STATUS_CHARS} visible characters", "type": "string"})
    if details:
        raise ValidationFailed("invalid filters", details=details)
    return ListFilters(**values)


def matches(ticket: Mapping[str, Any], filters: ListFilters) -> bool:
    """Whether a ticket passes the filters (category and priority: confirmed, else suggested)."""
    return (
        (filters.status is None or ticket.get("status") == filters.status)
        and (filters.category is None or category_of(ticket) == filters.category)
        and (filters.priority is None or priority_of(ticket) == filters.priority)
        and (filters.channel is None or channel_of(ticket) == filters.channel)
    )


def newest_first(tickets: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Newest first, by (``created_at``, ``id``)."""
    return sorted(tickets, key=lambda t: (moment_of(t["created_at"]), t["id"]), reverse=True)


# ---- GET /api/v3.1/feedback/summary --------------------------------------------------------------
def parse_period(value: str | None) -> str:
    """``24h``, ``7d`` or ``30d`` (absent: ``DEFAULT_PERIOD``); else a 422 naming ``period``."""
    if value in (None, ""):
        return DEFAULT_PERIOD
    if value not in PERIODS:
        raise ValidationFailed("invalid period", details=[{"field": "period", "message": f"must be one of {', '.join(PERIODS)}", "type": "enum"}])
    return value


def summary_figures(tickets: Iterable[Mapping[str, Any]], *, period: str, now: datetime) -> dict[str, Any]:
    """The summary's ``data``: the tickets created in the last ``period`` up to ``now``, each
    counted once per breakdown, by its confirmed value, else its suggested one. The closed sets
    (channels, categories, priorities; ``open`` and ``resolved``) are listed with their zeros, so a
    chart keeps its shape; other statuses appear when used. ``top_reporters``: the contacts on most
    of those tickets, at most ``TOP_REPORTERS``, most first (ties by contact id)."""
    since = now - PERIODS[period]
    chosen = [t for t in tickets if since < moment_of(t["created_at"]) <= now]
    by_channel = dict.fromkeys(CHANNELS, 0)
    by_category = dict.fromkeys(CATEGORIES, 0)
    by_priority = dict.fromkeys(PRIORITIES, 0)
    by_status: dict[str, int] = dict.fromkeys((OPEN, RESOLVED), 0)
    reporters: Counter[str] = Counter()
    for ticket in chosen:
        for counts, value in ((by_channel, channel_of(ticket)), (by_category, category_of(ticket)),
                              (by_priority, priority_of(ticket)), (by_status, ticket.get("status"))):
            key = value if value is not None else "unknown"
            counts[key] = counts.get(key, 0) + 1
        reporters.update(set(ticket.get("reporter_contact_ids") or []))
    top = sorted(reporters.items(), key=lambda item: (-item[1], item[0]))[:TOP_REPORTERS]
    return {
        "period": period,
        "total": len(chosen),
        "by_channel": by_channel,
        "by_category": by_category,
        "by_priority": by_priority,
        "by_status": by_status,
        "top_reporters": [{"contact_id": contact, "count": n} for contact, n in top],
    }


def moment_of(value: Any) -> datetime:
    """A stored time (the ISO text tickets keep, or a datetime) as an aware UTC datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    moment = parse_time(value)
    if moment is None:
        raise ValueError(f"not a time: {value!r}")
    return moment
