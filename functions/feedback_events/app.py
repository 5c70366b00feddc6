"""Feedback's worker: the bus events feedback follows, delivered by its rules to FeedbackQueue
(``parity.feedback.service``). Partial batch failures; every use case is idempotent, so a
redelivered event changes nothing twice.

    message.received (a feedback channel's)           → a report: a ticket made or joined
    ticket.changed (the CRM's)                        → a person's decisions copied; resolved →
                                                        the changelog proposed for approval
    approval.approved / approval.rejected (changelog) → the reporters told, or nothing sent
    message.sent / attempt_failed / failed (ours)     → a notification's outcome
"""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from parity.conversations.store import conversation_table
from parity.core import jsonio
from parity.core.bus import detail_of, event_bus
from parity.core.observability import bound, instrumented, logger
from parity.core.queues import queues
from parity.core.settings import settings
from parity.crm.store import crm_store
from parity.feedback import service
from parity.feedback.adapters import ConversationReader, CrmTickets, FeedbackOutbox
from parity.feedback.store import feedback_table


def _outbox() -> FeedbackOutbox:
    config = settings()
    return FeedbackOutbox(bus=event_bus(), queues=queues(), bus_name=config.require("event_bus_name"), reply_queue_url=config.require("reply_request_queue_url"))


def _tickets() -> CrmTickets:
    return CrmTickets(crm_store(), url_template=settings().crm_record_url_template)


def handle(event_type: str, detail: dict[str, Any]) -> str:
    """One event's use case; says what it came to (for the log)."""
    if event_type == "message.received":
        filed = service.intake_message(feedback_table(), _tickets(), ConversationReader(conversation_table()), detail)
        return f"filed into {filed['id']}" if filed else "not a report"
    if event_type == "ticket.changed":
        return service.on_ticket_changed(feedback_table(), _tickets(), _outbox(), detail)
    if event_type.startswith("approval."):
        return service.on_approval(feedback_table(), ConversationReader(conversation_table()), _outbox(), detail)
    if event_type in ("message.sent", "message.attempt_failed", "message.failed"):
        return service.on_delivery(feedback_table(), event_type, detail)
    return "not followed"


def record_handler(record: SQSRecord) -> None:
    event_type, detail = detail_of(jsonio.loads(record.body))
    with bound(correlation_id=str(detail.get("event_id") or record.message_id), company_id=detail.get("company_id")):
        outcome = handle(event_type, detail)
        logger.info("feedback event", extra={"event": event_type, "event_id": detail.get("event_id"), "outcome": outcome})


@instrumented
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event, record_handler, BatchProcessor(EventType.SQS), context)
