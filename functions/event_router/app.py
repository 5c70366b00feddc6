"""The outbox consumer: CRM table stream → signed-event queue, for bot/AI records with a room
of companies whose parity flag is on; and the CRM's own events (``parity.crm.changes``: a ticket's
status, category or priority changed) → the event bus, for every company. Partial batch failures: a failed record is retried from
there on, and its events keep their ids, so the receiver dedupes what was already sent.

Each change is handled under the correlation id of the request that wrote the record (stored on
the item), and passes it on as a message attribute. New bot/AI records of companies whose flag is
on are counted here (``bot_deal_created`` …): the creates the stop-condition alarms compare with
the previews displayed, so companies not yet rolled out cannot trip them.
"""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from parity.core.bus import entry, event_bus
from parity.core.observability import bound, count, instrumented, logger
from parity.core.queues import queues
from parity.core.settings import settings
from parity.crm import changes, flags
from parity.crm.store import crm_store
from parity.outbox import router


def _parity_enabled(company_id: str) -> bool:
    config = settings()
    return flags.parity_enabled(company_id, lookup=crm_store().company_parity, default=config.parity_default_enabled, ttl=config.flag_cache_seconds)


def _router() -> router.Router:
    config = settings()
    return router.Router(
        queues(),
        webhook_queue_url=config.require("webhook_queue_url"),
        timeline_queue_url=config.timeline_queue_url,
        parity_enabled=_parity_enabled,
        url_template=config.crm_record_url_template,
    )


def record_handler(record: DynamoDBRecord) -> None:
    change = router.change_of(record)
    with bound(correlation_id=change.correlation_id, **change.about()):
        routed = _router().route(change)
        if routed.created:
            count(routed.created)
        for event in routed.events:
            logger.info("event queued", extra={"event_id": event["event_id"], "event_type": event["eventType"]})
        published = changes.decide(change.stream_event_id, change.old, change.new)
        if published:
            bus_name = settings().require("event_bus_name")
            event_bus().put([entry(changes.SOURCE, e, bus_name) for e in published])
            logger.info("event published", extra={"event": published[0]["event"], "event_id": published[0]["event_id"]})


@instrumented
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # A processor holds one batch's outcome: a fresh one per invocation.
    return process_partial_response(event, record_handler, BatchProcessor(EventType.DynamoDBStreams), context)
