"""Timeline notes: one per bot/AI record and chat room, with an excerpt of the room's chat and a
link back to it (RFC CDTC-S04/S05). Fed by the event router with create events.

Partial batch failures: a message whose note could not be written fails alone and comes back
after the visibility timeout; after the queue's maxReceiveCount it moves to TimelineDLQ. A hub
that is slow or failing never fails a message: the note is written without preview (ERR-2). A
record deleted before its message is handled gets no note: the message succeeds as ``skipped``
(one consistent read of the record decides; ``writer.write_note`` says what race is left).

Counts ``timeline_log_created``, ``timeline_preview_unavailable`` (a note without its chat excerpt)
and ``timeline_log_creation_failed`` (an attempt that wrote nothing; the queue retries it). Logs the
ids and outcome under the record's correlation id, never the chat texts.
"""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from parity.outbox import events
from parity.timeline import writer
from parity.timeline.store import note_table
from parity.core.errors import ParityError
from parity.core.observability import (
    TIMELINE_LOG_CREATED,
    TIMELINE_LOG_CREATION_FAILED,
    TIMELINE_PREVIEW_UNAVAILABLE,
    bound,
    count,
    instrumented,
    logger,
    sqs_correlation_id,
)
from parity.core.settings import settings
from parity.crm.store import crm_store
from parity.timeline.hub import hub
from parity.conversations.history import ConversationHistory
from parity.conversations.store import conversation_table


def _history() -> ConversationHistory:
    # Parity's own rooms from the conversation table; any other room from the hub, as before.
    return ConversationHistory(conversation_table, hub())


def record_handler(record: SQSRecord) -> None:
    ids = events.about(events.peek(record.body))  # for the log; write_note says what is wrong with a bad one
    with bound(correlation_id=sqs_correlation_id(record.raw_event) or ids["event_id"] or record.message_id, **ids):
        try:
            outcome = writer.write_note(
                record.body,
                notes=note_table(),
                records=crm_store(),
                fetch_history=lambda room: _history().history(str(ids.get("company_id") or ""), room),
                deeplink_template=settings().room_deeplink_template,
            )
        except Exception as exc:
            count(TIMELINE_LOG_CREATION_FAILED)
            # The type, and the message only of our own errors: a driver's message may quote data.
            problem = f"{type(exc).__name__}: {exc}" if isinstance(exc, (writer.UnreadableMessage, ParityError)) else type(exc).__name__
            logger.error("timeline note not written; the queue retries it", extra={"message_id": record.message_id, "problem": problem})
            raise
        log: dict[str, Any] = {"message_id": record.message_id, "status": outcome.status}
        if outcome.note is not None:
            log.update(record_type=outcome.note["record_type"], preview_status=outcome.note["preview_status"])
        if outcome.status == "written":
            count(TIMELINE_LOG_CREATED)
            if outcome.note is not None and outcome.note["preview_status"] != "ok":
                count(TIMELINE_PREVIEW_UNAVAILABLE)
        if outcome.history_problem:
            logger.warning("timeline note without preview", extra={**log, "problem": outcome.history_problem})
        else:
            logger.info("timeline note", extra={**log, "reason": outcome.reason} if outcome.reason else log)


@instrumented
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # A processor holds one batch's outcome: a fresh one per invocation.
    return process_partial_response(event, record_handler, BatchProcessor(EventType.SQS), context)
