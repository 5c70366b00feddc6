"""The ingest worker: queued channel webhooks → contacts, conversations and messages
(``parity.conversations.ingest``). Fed by IngestQueue; partial batch failures.

A delivery that cannot be parsed as its provider's payload (validly signed, so the webhook answered
200) is parked at once in IngestDLQ with the reason, for an operator to inspect and redrive; any
other failure (the table busy, the store refusing) fails the message alone, and the queue retries it
and finally dead-letters it. Logs the ids and counts, never the texts.
"""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from parity.conversations import ingest
from parity.conversations.inbound import Unparseable
from parity.conversations.store import conversation_table
from parity.core import jsonio
from parity.core.observability import bound, instrumented, logger
from parity.core.queues import queues
from parity.core.settings import settings
from parity.crm.directory import contact_directory


def record_handler(record: SQSRecord) -> None:
    try:
        queued = jsonio.loads(record.body)
    except ValueError:
        queued = None
    ids = {k: queued.get(k) for k in ("company_id", "channel_id", "channel_type")} if isinstance(queued, dict) else {}
    with bound(correlation_id=record.message_id, **ids):
        try:
            if not isinstance(queued, dict):
                raise Unparseable("the queued message is not a delivery")
            outcome = ingest.ingest(queued, table=conversation_table(), contacts=contact_directory())
        except Unparseable as exc:
            attempts = int(record.attributes.approximate_receive_count or 1)
            queues().dead_letter(settings().require("ingest_dlq_url"), record.body, reason=str(exc), attempts=attempts, source="ingest")
            logger.error("channel delivery dead-lettered: not the provider's payload", extra={"message_id": record.message_id, "reason": str(exc)})
            return
        logger.info(
            "channel delivery ingested",
            extra={"message_id": record.message_id, "stored": outcome.stored, "duplicates": outcome.duplicates, "statuses": outcome.statuses, "rooms": outcome.rooms, "ignored": outcome.ignored or None},
        )


@instrumented
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=record_handler, processor=BatchProcessor(event_type=EventType.SQS), context=context)
