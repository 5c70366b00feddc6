"""Timeline notes: one per bot/AI record and chat room, with an excerpt of the room's chat and a
link back to it (RFC CDTC-S04/S05). Fed by the event router with create events.

Partial batch failures: a message whose note could not be written fails alone and comes back
after the visibility timeout; after the queue's maxReceiveCount it moves to TimelineDLQ. A hub
that is slow or failing never fails a message: the note is written without preview (ERR-2).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from parity import notes
from parity.observability import logger
from parity.runtime import crm_store, hub, settings

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    outcome = notes.write_note(
        record.body,
        store=crm_store(),
        fetch_history=hub().chat_history,
        deeplink_template=settings().room_deeplink_template,
    )
    log: dict[str, Any] = {"message_id": record.message_id, "status": outcome.status}
    if outcome.note is not None:
        note = outcome.note
        log.update(record_id=note["record_id"], record_type=note["record_type"], room_id=note["room_id"], preview_status=note["preview_status"])
    if outcome.history_problem:
        logger.warning("timeline note without preview", extra={**log, "problem": outcome.history_problem})
    else:
        logger.info("timeline note", extra={**log, "reason": outcome.reason} if outcome.reason else log)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
