"""The conversations' outbox consumer: the conversation table's stream (and the CRM table's new
identity links) → events on the bus, and new replies → the delivery queue
(``parity.conversations.outbox``). Partial batch failures: a failed record is retried from there on,
and its events keep their ids."""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

from datetime import datetime, timezone
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from parity.conversations import outbox
from parity.core.bus import event_bus
from parity.core.clock import iso_ms
from parity.core.dynamodb import images
from parity.core.observability import bound, instrumented
from parity.core.queues import queues
from parity.core.settings import settings


def record_handler(record: DynamoDBRecord) -> None:
    old, new = images(record)
    image = new or old or {}
    with bound(correlation_id=f"stream-{record.event_id}", company_id=image.get("company_id"), room_id=image.get("room_id")):
        config = settings()
        outbox.publish(record.event_id or "", old, new, bus=event_bus(), queue=queues(), bus_name=config.require("event_bus_name"),
                       delivery_queue_url=config.require("delivery_queue_url"), now_iso=iso_ms(datetime.now(timezone.utc)))


@instrumented
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event, record_handler, BatchProcessor(EventType.DynamoDBStreams), context)
