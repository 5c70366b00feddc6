"""What feedback does (contracts/feedback.md), each use case over ports: the feedback table
(``store.FeedbackTable``), the CRM's tickets and contacts, the conversations it reads, and its
outbox (the bus and the reply requests). The rules are the pure modules' (``ticket``,
``grouping``, ``summary``, ``notify``); this module only sequences reads and writes.

Entries:
    intake            a message on a ``feedback`` channel (``message.received``) or a POST
    submit            ``POST /api/v3.1/feedback``
    list_feedback, feedback_summary, put_settings, get_settings, list_notifications
    on_ticket_changed the CRM's ``ticket.changed``: copy a person's decisions; a resolution
                      proposes the changelog (``feedback.changelog_proposed`` on the bus)
    on_approval       approvals' ``approval.approved`` of a changelog: plan, store and send the
                      notifications (``approval.rejected``: nothing)
    on_delivery       conversations' ``message.sent|attempt_failed|failed`` of a notification

Every step is idempotent: a report's id marks it seen in the same transaction that writes its
ticket; the CRM ticket's id is derived from the report, so a crash between the two writes is healed
by the redelivery; a notification's id is derived from (ticket, contact) and its send's
Idempotency-Key is that id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from parity.core import jsonio
from parity.core.clock import Clock, parse_time
from parity.core.errors import Conflict as ConflictError
from parity.core.http import ApiResult
from parity.core.paging import limit_of, paged
from parity.feedback import grouping, notify, ticket as tickets
from parity.feedback.store import Conflict
from parity.feedback.summary import changelog_text
from parity.feedback.ticket import Report

SOURCE = "parity.feedback"
#: A notification's send carries this reference: ``feedback:<ticket id>:<notification id>``.
REFERENCE_PREFIX = "feedback:"
_ATTEMPTS = 5


# ---- ports ------------------------------------------------------------------------------------
class Store(Protocol):
    """The feedback table (``parity.feedback.store.FeedbackTable``)."""

    def seen(self, company_id: str, report_id: str) -> str | None: ...
    def ticket(self, company_id: str, ticket_id: str) -> dict[str, Any] | None: ...
    def candidates(self, company_id: str, *, room_id: str | None, since: datetime) -> list[dict[str, Any]]: ...
    def record_report(self, company_id: str, report_id: str, ticket: Mapping[str, Any], *, room_id: str | None, expected_version: int | None) -> None: ...
    def update_ticket(self, company_id: str, ticket: Mapping[str, Any], *, expected_version: int) -> bool: ...
    def tickets(self, company_id: str, *, limit: int, cursor: str | None, filters: Mapping[str, str | None]) -> Any: ...
    def tickets_since(self, company_id: str, since: datetime) -> list[dict[str, Any]]: ...
    def notifications_of(self, company_id: str, ticket_id: str) -> list[dict[str, Any]]: ...
    def put_notification(self, company_id: str, notification: Mapping[str, Any], *, now: datetime) -> bool: ...
    def notification(self, company_id: str, ticket_id: str, notification_id: str) -> dict[str, Any] | None: ...
    def replace_notification(self, company_id: str, notification: Mapping[str, Any], *, expected_attempts: int) -> bool: ...
    def notifications(self, company_id: str, *, limit: int, cursor: str | None, status: str | None = None) -> Any: ...
    def settings(self, company_id: str) -> dict[str, Any] | None: ...
    def put_settings(self, company_id: str, settings: Mapping[str, Any]) -> None: ...


class Tickets(Protocol):
    """The CRM's tickets as feedback asks for them (``parity.feedback.adapters.CrmTickets``)."""

    def ensure(self, company_id: str, ticket: Mapping[str, Any]) -> None:
        """The CRM ticket exists (made with the feedback ticket's id) and links every reporter."""

    def read(self, company_id: str, ticket_id: str) -> dict[str, Any] | None: ...


class Reporters(Protocol):
    def resolve(self, company_id: str, *, name: str, email: str | None, phone: str | None) -> str:
        """The contact a POST's reporter is (found by email, else phone, else made)."""


class Conversations(Protocol):
    def message_text(self, company_id: str, room_id: str, created_at: str, message_id: str) -> str | None: ...
    def last_inbound_at(self, company_id: str, room_id: str) -> datetime | None: ...


class Outbox(Protocol):
    def publish(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Feedback's events onto the bus (source ``parity.feedback``)."""

    def request_replies(self, requests: Sequence[Mapping[str, Any]]) -> None:
        """Replies for conversations to send (``parity.conversations.requests``)."""


# ---- intake -----------------------------------------------------------------------------------
def intake(store: Store, crm: Tickets, company_id: str, report: Report, *, clock: Clock = Clock()) -> tuple[dict[str, Any], bool]:
    """File one report (the grouping rules: ``parity.feedback.grouping``) and make sure the CRM
    holds its ticket. Returns the ticket and whether this call filed the report (False: it was
    seen before)."""
    for _ in range(_ATTEMPTS):
        since = report.reported_at - grouping.ACROSS_CHANNELS
        seen = store.seen(company_id, report.id)
        candidates = [] if seen else store.candidates(company_id, room_id=report.room_id, since=since)
        grouped = grouping.group(report, candidates, seen_ticket_id=seen, now=clock.now())
        if grouped.ticket is None:
            found = store.ticket(company_id, str(grouped.decision.ticket_id))
            if found is None:
                raise RuntimeError("a report's marker names a ticket that is not there")
            crm.ensure(company_id, found)  # heals a crash between the two writes
            return found, False
        expected = None if grouped.decision.action == "new" else int(grouped.ticket.get("_version") or 0)
        try:
            store.record_report(company_id, report.id, grouped.ticket, room_id=report.room_id, expected_version=expected)
        except Conflict:
            continue  # the ticket moved on, or the report was filed meanwhile: decide again
        crm.ensure(company_id, grouped.ticket)
        return {k: v for k, v in grouped.ticket.items() if not k.startswith("_")}, True
    raise ConflictError("the feedback ticket kept changing while the report was filed; retry")


def report_of_message(detail: Mapping[str, Any], text: str) -> Report:
    """The report a ``message.received`` of a feedback channel is."""
    reported_at = parse_time(str(detail.get("occurred_at")))
    if reported_at is None:
        raise ValueError("the event has no time")
    return Report(
        id=tickets.report_id(str(detail["company_id"]), "message", str(detail["message_id"])),
        channel=str(detail["channel_type"]),
        contact_id=str(detail["contact_id"]),
        text=text,
        reported_at=reported_at,
        channel_id=detail.get("channel_id"),
        room_id=detail.get("room_id"),
    )


def intake_message(store: Store, crm: Tickets, conversations: Conversations, detail: Mapping[str, Any], *, clock: Clock = Clock()) -> dict[str, Any] | None:
    """A message received on a channel: a report when the channel's purpose is ``feedback``
    (None otherwise, or when the message is gone)."""
    if detail.get("channel_purpose") != "feedback" or detail.get("channel_type") not in tickets.PROVIDER_CHANNELS:
        return None
    company = str(detail["company_id"])
    text = conversations.message_text(company, str(detail["room_id"]), str(detail["occurred_at"]), str(detail["message_id"]))
    if text is None:
        return None
    filed, _ = intake(store, crm, company, report_of_message(detail, text), clock=clock)
    return filed


def submit(store: Store, crm: Tickets, reporters: Reporters, company_id: str, body: Any, *, request_id: str, idempotency_key: str | None = None, clock: Clock = Clock()) -> ApiResult:
    """``POST /api/v3.1/feedback``: 201 the new report's ticket; 200 the ticket of an
    ``external_id`` seen before; a retry under the same ``Idempotency-Key`` answers its 201 again
    (``Idempotent-Replayed``). Without either, each request is a new report."""
    payload = tickets.parse_feedback(body)
    if payload.external_id:
        report_id, replay_status = tickets.report_id(company_id, "external", payload.external_id), 200
    else:
        report_id, replay_status = tickets.report_id(company_id, "request", f"key:{idempotency_key}" if idempotency_key else request_id), 201
    seen = store.seen(company_id, report_id)
    found = store.ticket(company_id, seen) if seen is not None else None
    if found is not None:
        crm.ensure(company_id, found)
        return ApiResult(replay_status, jsonio.dumps({"data": public_ticket(found)}), replayed=True)
    reporter = payload.reporter
    contact = reporters.resolve(company_id, name=reporter.name or reporter.email or reporter.phone or "Reporter", email=reporter.email, phone=reporter.phone)
    report = Report(id=report_id, channel=payload.source, contact_id=contact, text=payload.text, reported_at=clock.now())
    filed, new = intake(store, crm, company_id, report, clock=clock)
    status = 201 if new else replay_status
    return ApiResult(status, jsonio.dumps({"data": public_ticket(filed)}), replayed=not new, ids={"ticket_id": filed["id"], "contact_id": contact})


def public_ticket(ticket: Mapping[str, Any]) -> dict[str, Any]:
    """A feedback ticket as the API answers it (every field, null when unset)."""
    shown = {name: ticket.get(name) for name in PUBLIC_TICKET_FIELDS}
    shown["reporter_contact_ids"] = list(shown["reporter_contact_ids"] or [])
    shown["reporters"] = list(shown["reporters"] or [])
    shown["contact_ids"] = list(shown["contact_ids"] or [])
    return shown


PUBLIC_TICKET_FIELDS = (
    "id", "type", "name", "description", "status", "priority", "category", "source", "channel_integration_room_id",
    "creator_flag", "contact_ids", "reporter_contact_ids", "reporters", "report_count", "summary",
    "suggested_type", "suggested_priority", "created_at", "updated_at",
)


# ---- reading ----------------------------------------------------------------------------------
def list_feedback(store: Store, company_id: str, query: Mapping[str, str]) -> dict[str, Any]:
    """``GET /api/v3.1/feedback?status=&category=&priority=&channel=&limit=&cursor=`` newest first."""
    filters = tickets.parse_list_filters(query)
    limit = limit_of(query.get("limit"))
    page = paged(store.tickets, company_id=company_id, limit=limit, cursor=query.get("cursor") or None, filters=vars(filters))
    return {"data": [public_ticket(t) for t in page.items], "next_cursor": page.next_cursor}


def feedback_summary(store: Store, company_id: str, query: Mapping[str, str], *, clock: Clock = Clock()) -> dict[str, Any]:
    """``GET /api/v3.1/feedback/summary?period=24h|7d|30d``."""
    period = tickets.parse_period(query.get("period"))
    now = clock.now()
    found = store.tickets_since(company_id, now - tickets.PERIODS[period])
    return {"data": tickets.summary_figures(found, period=period, now=now)}


def get_settings(store: Store, company_id: str) -> dict[str, Any]:
    return {"data": {**notify.DEFAULT_SETTINGS, **(store.settings(company_id) or {})}}


def put_settings(store: Store, company_id: str, body: Any) -> dict[str, Any]:
    """``PUT /api/v3.1/feedback/settings`` (admin): 200 with the settings."""
    chosen = notify.parse_settings(body)
    store.put_settings(company_id, chosen)
    return {"data": chosen}


def list_notifications(store: Store, company_id: str, query: Mapping[str, str]) -> dict[str, Any]:
    """``GET /api/v3.1/notifications?ticket_id=&status=&limit=&cursor=`` newest first; by ticket,
    every notification of that ticket (another company's ticket: none)."""
    filters = notify.parse_notification_filters(query)
    limit = limit_of(query.get("limit"))
    if filters.ticket_id is not None:
        found = [n for n in store.notifications_of(company_id, filters.ticket_id) if notify.notification_matches(n, filters)]
        found.sort(key=lambda n: (str(n.get("created_at")), n["id"]), reverse=True)
        return {"data": [public_notification(n) for n in found], "next_cursor": None}
    page = paged(store.notifications, company_id=company_id, limit=limit, cursor=query.get("cursor") or None, status=filters.status)
    return {"data": [public_notification(n) for n in page.items], "next_cursor": page.next_cursor}


NOTIFICATION_FIELDS = ("id", "ticket_id", "contact_id", "channel", "channel_id", "status", "attempts", "last_error", "sent_at", "created_at")


def public_notification(notification: Mapping[str, Any]) -> dict[str, Any]:
    shown = {name: notification.get(name) for name in NOTIFICATION_FIELDS}
    shown["attempts"] = int(shown["attempts"] or 0)
    if notification.get("text") is not None and notification.get("channel") in tickets.API_SOURCES:
        shown["text"] = notification["text"]  # what the product shows its user
    return shown


# ---- a person's decisions, and the release valve ------------------------------------------------
def on_ticket_changed(store: Store, crm: Tickets, outbox: Outbox, detail: Mapping[str, Any]) -> str:
    """The CRM's ``ticket.changed``: copy the confirmed fields onto the feedback ticket (only a
    newer CRM version); a move into ``resolved`` proposes the changelog. Says what it did."""
    company, ticket_id, version = str(detail["company_id"]), str(detail["record_id"]), int(detail.get("version") or 0)
    found = store.ticket(company, ticket_id)
    if found is None:
        return "not a feedback ticket"
    for _ in range(_ATTEMPTS):
        if int(found.get("crm_version") or 0) >= version:
            break
        copied = {**tickets.with_confirmed(found, {k: detail.get(k) for k in ("status", "category", "priority")}), "crm_version": version}
        if store.update_ticket(company, copied, expected_version=int(found["_version"])):
            break
        found = store.ticket(company, ticket_id) or found
    if not tickets.became_resolved({"status": detail.get("from_status")}, {"status": detail.get("status")}):
        return "copied"
    record = crm.read(company, ticket_id) or {}
    internal = [ticket_id, str(record.get("unique_ticket_id") or ""), *(found.get("contact_ids") or []),
                *(r.get("room_id") or "" for r in found.get("reporters") or []), *(r.get("channel_id") or "" for r in found.get("reporters") or [])]
    text = changelog_text(str(found.get("summary") or ""), record.get("resolution_note"), internal_ids=[i for i in internal if i])
    approval_id = "apr_" + hashlib.sha256(f"{company}\x00{ticket_id}\x00{version}".encode()).hexdigest()[:32]
    outbox.publish([{
        "event": "feedback.changelog_proposed", "event_id": f"evt_{approval_id[4:]}", "occurred_at": detail.get("occurred_at"),
        "company_id": company, "ticket_id": ticket_id, "approval_id": approval_id, "text": text,
    }])
    return "changelog proposed"


def on_approval(store: Store, conversations: Conversations, outbox: Outbox, detail: Mapping[str, Any], *, clock: Clock = Clock()) -> str:
    """An approved changelog: every distinct reporter of the ticket is told once (``notify.plan``).
    A rejected (or expired) one sends nothing. Delivered twice, nothing is planned twice; a
    notification stored but whose send was not requested (a crash between) is requested again,
    under the same Idempotency-Key."""
    if detail.get("kind") != "changelog" or detail.get("status") != "approved":
        return "nothing to send"
    company, ticket_id = str(detail["company_id"]), str(detail["record_id"])
    found = store.ticket(company, ticket_id)
    if found is None:
        return "not a feedback ticket"
    text = str(detail.get("text") or "")
    now = clock.now()
    rooms = {r["room_id"] for r in found.get("reporters") or [] if r.get("channel") == "whatsapp" and r.get("room_id")}
    last_inbound = {room: conversations.last_inbound_at(company, room) for room in rooms}
    planned = notify.plan(found, company_id=company, text=text, template=notify.template_of(store.settings(company)), last_inbound_at=last_inbound, now=now)
    requests = []
    for each in planned:
        notification = {**each.notification, **({"text": text} if each.notification["channel"] in tickets.API_SOURCES else {}), "room_id": each.outbound.room_id if each.outbound else None}
        if not store.put_notification(company, notification, now=now):
            stored = store.notification(company, ticket_id, notification["id"]) or {}
            if each.outbound is None or stored.get("status") != "pending" or int(stored.get("attempts") or 0) > 0:
                continue
        if each.outbound is not None:
            requests.append({
                "company_id": company, "room_id": each.outbound.room_id, "body": each.outbound.body,
                "idempotency_key": each.outbound.idempotency_key, "max_attempts": each.outbound.max_attempts,
                "reference": f"{REFERENCE_PREFIX}{ticket_id}:{notification['id']}",
            })
    if requests:
        outbox.request_replies(requests)
    return f"{len(planned)} notification(s), {len(requests)} send(s) requested"


def on_delivery(store: Store, event_type: str, detail: Mapping[str, Any], *, clock: Clock = Clock()) -> str:
    """A notification's send came to something: accepted (``message.sent``), an attempt failed
    (``message.attempt_failed``) or it failed for good (``message.failed``)."""
    reference = str(detail.get("reference") or "")
    if not reference.startswith(REFERENCE_PREFIX) or reference.count(":") != 2:
        return "not a notification"
    _, ticket_id, notification_id = reference.split(":")
    company = str(detail["company_id"])
    if event_type == "message.sent":
        attempt, error, final = int(detail.get("attempts") or 1), None, False
    elif event_type == "message.attempt_failed":
        attempt, error, final = int(detail.get("attempt") or 1), str(detail.get("error") or "error"), False
    elif event_type == "message.failed":
        attempt, error, final = max(int(detail.get("attempts") or 1), 1), str(detail.get("error") or "error"), True
    else:
        return "not a delivery outcome"
    at = parse_time(str(detail.get("occurred_at") or "")) or clock.now()
    for _ in range(_ATTEMPTS):
        current = store.notification(company, ticket_id, notification_id)
        if current is None:
            return "no such notification"
        after = notify.after_attempt(current, attempt=attempt, error=error, at=at, final=final)
        if after.notification == current:
            return "nothing new"
        if store.replace_notification(company, after.notification, expected_attempts=int(current.get("attempts") or 0)):
            return str(after.notification["status"])
    raise ConflictError("the notification kept changing; retry")
