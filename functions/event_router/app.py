"""The outbox consumer: CRM table stream → signed-event queue, for bot/AI records with a room
of companies whose parity flag is on. Partial batch failures: a failed record is retried from
there on, and its events keep their ids, so the receiver dedupes what was already sent.

Each change is handled under the correlation id of the request that wrote the record (stored on
the item), and passes it on as a message attribute. New bot/AI records of companies whose flag is
on are counted here (``bot_deal_created`` …): the creates the stop-condition alarms compare with
the previews displayed, so companies not yet rolled out cannot trip them.
"""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

from datetime import datetime, timezone
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from parity.crm import flags
from parity.outbox import router
from parity.core.observability import CORRELATION_ATTRIBUTE, bound, count, instrumented, logger
from parity.core.clock import iso_ms
from parity.core.queues import queues
from parity.core.settings import settings
from parity.crm.store import crm_store


def _publish(messages: list[dict[str, Any]], correlation_id: str) -> None:
    """Every event to the webhook queue; creates also to the timeline-note queue (RFC CDTC-S04)."""
    config = settings()
    attributes = {CORRELATION_ATTRIBUTE: correlation_id}
    queues().publish(config.require("webhook_queue_url"), messages, attributes=attributes)
    creates = [m for m in messages if m["eventType"].endswith(".create")]
    if creates and config.timeline_queue_url:
        queues().publish(config.timeline_queue_url, creates, attributes=attributes)


def _parity_enabled(company_id: str) -> bool:
    config = settings()
    return flags.parity_enabled(company_id, lookup=crm_store().company_parity, default=config.parity_default_enabled, ttl=config.flag_cache_seconds)


def record_handler(record: DynamoDBRecord) -> None:
    config = settings()
    old = record.dynamodb.old_image if record.dynamodb else None
    new = record.dynamodb.new_image if record.dynamodb else None
    image = new or old or {}
    correlation_id = str(image.get("correlation_id") or f"stream-{record.event_id}")
    with bound(correlation_id=correlation_id, company_id=image.get("company_id"), record_id=image.get("id"), room_id=image.get("channel_integration_room_id")):
        sent = router.route_change(
            record.event_id or "",
            old,
            new,
            parity_enabled=_parity_enabled,
            publish=lambda messages: _publish(messages, correlation_id),
            url_template=config.crm_record_url_template,
            now_iso=iso_ms(datetime.now(timezone.utc)),
        )
        created = router.created_signal(old, new)
        if created and _parity_enabled(str(image.get("company_id"))):
            count(created)
        for event in sent:
            logger.info("event queued", extra={"event_id": event["event_id"], "event_type": event["eventType"]})


@instrumented
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # A processor holds one batch's outcome: a fresh one per invocation.
    return process_partial_response(event, record_handler, BatchProcessor(EventType.DynamoDBStreams), context)
