"""Feedback's ports on the other capabilities' own code (never their tables' layout): the CRM's
tickets and contacts, the conversations' messages, the bus and the reply request queue."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from parity.core.clock import Clock


class CrmTickets:
    """Feedback tickets in the CRM, through its create and update use cases."""

    def __init__(self, store: Any, *, url_template: str) -> None:
        self.store, self.url_template = store, url_template

    def ensure(self, company_id: str, ticket: Mapping[str, Any]) -> None:
        from parity.crm import service
        from parity.feedback.ticket import crm_create_body

        existing = self.store.get_record(company_id, "ticket", ticket["id"])
        if existing is None:
            body = {k: v for k, v in crm_create_body(ticket).items() if v is not None}
            # The id is the ticket's own (derived from its first report); the key makes a second
            # "ensure" racing this one answer the same creation, not a conflict.
            service.create_record(
                self.store, company_id, "ticket", body, url_template=self.url_template,
                idempotency_key=f"feedback-ticket-{ticket['id']}", request_target="feedback", clock=Clock(make_id=lambda _now: ticket["id"]),
            )
            return
        missing = [c for c in ticket.get("contact_ids") or [] if c not in (existing.get("contact_ids") or [])]
        if missing:
            service.update_record(self.store, company_id, "ticket", ticket["id"], {"crm_lead_ids": missing}, url_template=self.url_template)

    def read(self, company_id: str, ticket_id: str) -> dict[str, Any] | None:
        return self.store.get_record(company_id, "ticket", ticket_id)


class DirectoryReporters:
    """A POST's reporter as a contact, as conversations resolve a sender (``parity.crm.identity``)."""

    def __init__(self, directory: Any) -> None:
        self.directory = directory

    def resolve(self, company_id: str, *, name: str, email: str | None, phone: str | None) -> str:
        from parity.crm.identity import resolve

        return resolve(self.directory, company_id, [], name=name, email=email, phone=phone).contact_id


class ConversationReader:
    """A message's text and a conversation's last inbound time, through the conversations' store."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def message_text(self, company_id: str, room_id: str, created_at: str, message_id: str) -> str | None:
        message = self.table.message(company_id, room_id, created_at, message_id)
        if message is None:
            return None
        return str(message.get("text") or f"[{message.get('type') or 'message'}]")

    def last_inbound_at(self, company_id: str, room_id: str) -> datetime | None:
        conversation = self.table.conversation(company_id, room_id)
        return conversation.last_inbound_at if conversation else None


class FeedbackOutbox:
    """Feedback's events onto the bus; reply requests onto conversations' queue."""

    def __init__(self, *, bus: Any, queues: Any, bus_name: str, reply_queue_url: str) -> None:
        self.bus, self.queues, self.bus_name, self.reply_queue_url = bus, queues, bus_name, reply_queue_url

    def publish(self, events: Sequence[Mapping[str, Any]]) -> None:
        from parity.core.bus import entry
        from parity.feedback.service import SOURCE

        self.bus.put([entry(SOURCE, e, self.bus_name) for e in events])

    def request_replies(self, requests: Sequence[Mapping[str, Any]]) -> None:
        self.queues.publish(self.reply_queue_url, requests)
