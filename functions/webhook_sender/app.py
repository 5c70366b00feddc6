"""Delivers queued events to the omnichannel receiver, signed per Standard Webhooks.

Each SQS message is one event. A failed attempt hides the message for the next delay of the
retry schedule and reports the item as failed; a message we give up on (410, schedule exhausted,
a refused target) goes to the dead-letter queue with the reason and leaves the queue.

A refused target is one ``parity.core.outbound`` will not connect to: not a valid URL, or a
name resolving to an address that is not public. A name that does not resolve right now (a
resolver error such as EAI_AGAIN, or no address) is not refused: it is a failed attempt like a
timeout, retried on the schedule. The decision is ``sender.Reply.refused``, never the wording.

Each attempt has a total deadline of ``DEADLINE_SECONDS`` (10 s): name resolution, connect, request,
the answer's headers and its body together (``outbound.within``); the connection must be made
within ``CONNECT_SECONDS`` (2 s) and ``READ_SECONDS`` (5 s) of silence ends it earlier. A receiver
that drips its answer a byte at a time costs the deadline and no more: the attempt is "timed out"
and retried on the schedule, and its connection is cut. With the SQS batch of 5, a batch takes
at most about 5 x 10 s, within the function's 60 s timeout.

Signed with the operator-rotated secret(s) (``parity.outbox.secrets``); the message's correlation
id goes along as ``X-Correlation-Id``. Counts ``webhook_delivered`` (with the latency from the
event's ``occurred_at``) and ``webhook_delivery_failed`` per failed attempt.
"""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from parity.outbox import events, sender, signing
from parity.core import outbound
from parity.core.observability import (
    CORRELATION_ATTRIBUTE,
    WEBHOOK_DELIVERED,
    WEBHOOK_DELIVERY_FAILED,
    WEBHOOK_DELIVERY_LATENCY,
    bound,
    count,
    instrumented,
    logger,
    milliseconds,
    sqs_correlation_id,
)
from parity.core.queues import queues, retry_or_give_up
from parity.core.settings import settings
from parity.outbox.secrets import signing_secrets


DEADLINE_SECONDS = 10.0
CONNECT_SECONDS = 2.0
READ_SECONDS = 5.0


@lru_cache(maxsize=1)
def _http():
    # One keep-alive client per warm container: consecutive deliveries reuse the connection.
    return outbound.new_client(connect=CONNECT_SECONDS, read=READ_SECONDS)


def _post(body: str, headers: dict[str, str]) -> sender.Reply:
    """One attempt, within ``DEADLINE_SECONDS`` whatever the receiver does."""
    config = settings()
    answered = outbound.exchange(
        _http(), "POST", config.require("omnichannel_webhook_url"), body=body.encode("utf-8"), headers=headers,
        allow_private=config.allow_private_targets, deadline_seconds=DEADLINE_SECONDS,
        connect_seconds=CONNECT_SECONDS, read_seconds=READ_SECONDS, max_answer_bytes=16 * 1024, name="webhook-send",
    )
    return sender.Reply(status=answered.status, retry_after=answered.headers.get("retry-after"), problem=answered.problem, refused=answered.refused)


def _latency_ms(occurred_at: Any, now: datetime) -> float | None:
    try:
        moment = datetime.fromisoformat(str(occurred_at).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (now - moment).total_seconds() * 1000 if moment.tzinfo else None


def record_handler(record: SQSRecord) -> None:
    event = events.peek(record.body)  # its ids for the log (the body itself is never logged)
    ids = events.about(event)
    correlation_id = sqs_correlation_id(record.raw_event) or str(ids["event_id"] or record.message_id)
    with bound(correlation_id=correlation_id, **ids):
        _deliver(record, event, correlation_id)


def _deliver(record: SQSRecord, event: dict[str, Any], correlation_id: str) -> None:
    config = settings()
    attempt = int(record.attributes.approximate_receive_count or 1)
    now = datetime.now(timezone.utc)
    outcome = sender.attempt(
        record.body,
        attempt,
        secrets=signing_secrets().current(),
        post=_post,
        schedule=signing.parse_schedule(config.webhook_retry_schedule),
        now=now,
        extra_headers={"X-Correlation-Id": correlation_id},
    )
    log = {"message_id": record.message_id, "attempt": attempt, "status": outcome.status}
    if outcome.delivered:
        count(WEBHOOK_DELIVERED)
        latency = _latency_ms(event.get("occurred_at"), datetime.now(timezone.utc))
        if latency is not None:
            milliseconds(WEBHOOK_DELIVERY_LATENCY, latency)
        logger.info("webhook delivered", extra={**log, "latency_ms": None if latency is None else round(latency)})
        return
    count(WEBHOOK_DELIVERY_FAILED)
    # Given up on: 410, the schedule exhausted, or a refused target (Reply.refused).
    retry_or_give_up(queues(), record, give_up=outcome.give_up, reason=outcome.reason, delay=outcome.delay, attempts=attempt,
                     queue_url=config.require("webhook_queue_url"), dlq_url=config.require("webhook_dlq_url"), source="webhook",
                     what="webhook", log=log, attributes={CORRELATION_ATTRIBUTE: correlation_id})


@instrumented
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # A processor holds one batch's outcome: a fresh one per invocation.
    return process_partial_response(event, record_handler, BatchProcessor(EventType.SQS), context)
