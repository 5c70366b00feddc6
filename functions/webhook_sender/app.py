"""Delivers queued events to the omnichannel receiver, signed per Standard Webhooks.

Each SQS message is one event. A failed attempt hides the message for the next delay of the
retry schedule and reports the item as failed; a message we give up on (410, schedule exhausted,
a refused target) goes to the dead-letter queue with the reason and leaves the queue.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from parity import delivery, webhooks
from parity.adapters import outbound
from parity.observability import logger
from parity.runtime import queues, settings

processor = BatchProcessor(event_type=EventType.SQS)


class RetryLater(Exception):
    """Marks the batch item failed; its visibility already says when it comes back."""


@lru_cache(maxsize=1)
def _http():
    # One keep-alive client per warm container: consecutive deliveries reuse the connection.
    return outbound.new_client(connect=2.0, read=5.0)


def _post(body: str, headers: dict[str, str]) -> delivery.Reply:
    config = settings()
    try:
        target = outbound.resolve(config.require("omnichannel_webhook_url"), allow_private=config.allow_private_targets)
    except outbound.BlockedTarget as exc:
        return delivery.Reply(status=None, problem=f"target refused: {exc}")
    import httpx

    try:
        response = outbound.send(_http(), "POST", target, content=body.encode("utf-8"), headers=headers)
    except httpx.TimeoutException:
        return delivery.Reply(status=None, problem="timed out")
    except httpx.HTTPError as exc:
        return delivery.Reply(status=None, problem=f"connection failed ({type(exc).__name__})")
    return delivery.Reply(status=response.status_code, retry_after=response.headers.get("retry-after"))


def record_handler(record: SQSRecord) -> None:
    config = settings()
    attempt = int(record.attributes.approximate_receive_count or 1)
    outcome = delivery.attempt(
        record.body,
        attempt,
        secrets=webhooks.parse_secrets(config.webhook_signing_secret),
        post=_post,
        schedule=webhooks.parse_schedule(config.webhook_retry_schedule),
        now=datetime.now(timezone.utc),
    )
    log = {"message_id": record.message_id, "attempt": attempt, "status": outcome.status}
    if outcome.delivered:
        logger.info("webhook delivered", extra=log)
        return
    if outcome.give_up or outcome.reason.startswith("target refused"):
        queues().dead_letter(config.require("webhook_dlq_url"), record.body, reason=outcome.reason, attempts=attempt, source="webhook")
        logger.error("webhook dead-lettered", extra={**log, "reason": outcome.reason})
        return
    queues().postpone(config.require("webhook_queue_url"), record.receipt_handle, outcome.delay)
    logger.warning("webhook attempt failed", extra={**log, "reason": outcome.reason, "retry_in_s": outcome.delay})
    raise RetryLater(outcome.reason)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
