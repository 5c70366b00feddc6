"""The trust table's stream (its outbox): an approval's activity lines (held, then its decision),
its request to the approvers and its decision on the bus; an opened anomaly's notification.

The only reader of the table's stream. Lines are written here (each once: its id comes from the
approval and its status); notifications are queued on ``NotifyQueue`` per the company's settings
(immediate only; the digest reads the table itself), never awaited. Partial batch failures; an
exhausted batch is described on ``TrustRouterDLQ``.
"""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from parity.approvals import service
from parity.approvals.store import trust_store
from parity.core.bus import event_bus
from parity.core.dynamodb import images
from parity.core.observability import bound, instrumented, logger
from parity.core.queues import queues
from parity.core.settings import settings


def record_handler(record: DynamoDBRecord) -> None:
    old, new = images(record)
    image = new or old or {}
    with bound(correlation_id=str(image.get("resolved_correlation_id") or image.get("correlation_id") or record.event_id), company_id=image.get("company_id")):
        config = settings()
        done = service.route_trust_change(trust_store(), old, new, bus=event_bus(), queue=queues(), bus_name=config.require("event_bus_name"),
                                          notify_queue_url=config.require("notify_queue_url"))
        logger.info("trust change", extra={"entity": image.get("entity"), "id": image.get("id"), "status": image.get("status"), **done})


@instrumented
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event, record_handler, BatchProcessor(EventType.DynamoDBStreams), context)


