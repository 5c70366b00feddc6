"""The outbox consumer: CRM table stream → signed-event queue, for bot/AI records with a room
of companies whose parity flag is on. Partial batch failures: a failed record is retried from
there on, and its events keep their ids, so the receiver dedupes what was already sent."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from parity import flags, routing
from parity.observability import logger
from parity.records import iso_ms
from parity.runtime import crm_store, queues, settings

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def _publish(messages: list[dict[str, Any]]) -> None:
    """Every event to the webhook queue; creates also to the timeline-note queue (RFC CDTC-S04)."""
    config = settings()
    queues().publish(config.require("webhook_queue_url"), messages)
    creates = [m for m in messages if m["eventType"].endswith(".create")]
    if creates and config.timeline_queue_url:
        queues().publish(config.timeline_queue_url, creates)


def record_handler(record: DynamoDBRecord) -> None:
    config = settings()
    sent = routing.route_change(
        record.event_id or "",
        record.dynamodb.old_image if record.dynamodb else None,
        record.dynamodb.new_image if record.dynamodb else None,
        parity_enabled=lambda company: flags.parity_enabled(company, lookup=crm_store().company_parity, default=config.parity_default_enabled),
        publish=_publish,
        url_template=config.crm_record_url_template,
        now_iso=iso_ms(datetime.now(timezone.utc)),
    )
    for event in sent:
        logger.info("event queued", extra={"event_id": event["event_id"], "event_type": event["eventType"], "company_id": event["company_id"], "record_id": event["data"]["id"], "room_id": event["data"]["channel_integration_room_id"]})


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
