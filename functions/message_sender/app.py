"""Delivers queued replies to the providers' send APIs (``parity.conversations.delivery``).

Each SQS message is one reply. A failed attempt hides the message until its next attempt (1 s, 4 s,
15 s, 60 s, then every 5 minutes, ``Retry-After`` honoured) and reports the item failed; a reply
that failed for good (a final refusal, or 24 h of attempts) is marked ``failed`` and parked in the
delivery dead-letter queue with the reason. A reply the provider accepted is never sent again.
Each attempt has a total deadline of 10 s (``parity.core.outbound.exchange``).
"""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from parity.conversations import delivery
from parity.conversations.outbound import FIRST_DELAYS
from parity.conversations.secrets import channel_secrets
from parity.conversations.store import conversation_table
from parity.core import jsonio, outbound
from parity.core.clock import parse_delays
from parity.core.observability import bound, instrumented
from parity.core.queues import queues, settle
from parity.core.settings import settings

DEADLINE_SECONDS = 10.0
_post = outbound.Poster("reply-send", connect=2.0, read=5.0, deadline_seconds=DEADLINE_SECONDS)


@lru_cache(maxsize=4)
def _first_delays(value: str | None) -> tuple[int, ...]:
    return parse_delays(value, default=FIRST_DELAYS, name="REPLY_RETRY_SCHEDULE")


def record_handler(record: SQSRecord) -> None:
    queued = jsonio.loads(record.body)
    with bound(correlation_id=record.message_id, company_id=queued.get("company_id"), room_id=queued.get("room_id")):
        attempt = int(record.attributes.approximate_receive_count or 1)
        config = settings()
        done = delivery.attempt(
            queued, attempt, replies=conversation_table(), api_token=lambda channel_id: channel_secrets().get(channel_id, "api_token"),
            post=_post, base_urls=config.provider_base_urls(), now=datetime.now(timezone.utc),
            first_delays=_first_delays(config.reply_retry_schedule),
        )
        settle(queues(), record, done, attempt=attempt, what="reply", log={"message_id": queued.get("message_id"), "attempt": attempt},
               queue_url=config.require("delivery_queue_url"), dlq_url=config.require("delivery_dlq_url"), source="delivery")


@instrumented
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event, record_handler, BatchProcessor(EventType.SQS), context)
