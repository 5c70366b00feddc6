"""Replies other capabilities ask conversations for (``parity.conversations.requests``), fed by
ReplyRequestQueue; partial batch failures. A request the reply route would refuse is answered
with a ``message.failed`` event bearing its reference, so the asker is never left waiting."""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from parity.conversations import outbox, requests
from parity.conversations.store import conversation_table
from parity.core import jsonio
from parity.core.bus import event_bus
from parity.core.observability import bound, instrumented, logger
from parity.core.settings import settings


def record_handler(record: SQSRecord) -> None:
    request = jsonio.loads(record.body)
    with bound(correlation_id=record.message_id, company_id=request.get("company_id"), room_id=request.get("room_id")):
        done = requests.handle(conversation_table(), request, request_id=record.message_id)
        if done.event is not None:
            event_bus().put([outbox.bus_entry(done.event, settings().require("event_bus_name"))])
            logger.warning("reply request refused", extra={"reference": request.get("reference"), "reason": done.error})
            return
        logger.info("reply requested", extra={"reference": request.get("reference")})


@instrumented
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event, record_handler, BatchProcessor(EventType.SQS), context)
