"""Sends the queued notifications to Slack (``parity.approvals.slack.send``): approval requests with
their Approve and Reject buttons, opened anomalies, hourly digests.

Each SQS message is one notification. A failed attempt (429, 5xx, no answer within the 10 s deadline)
hides the message until its next attempt (``SLACK_RETRY_SCHEDULE``, Retry-After honoured) and reports
the item failed; after the last, or at once for a refusal that no retry changes (Slack's ``ok: false``
for a bad channel or token, a target the SSRF guard refuses), it is parked in ``NotifyDLQ`` with the
reason. One Slack accepted is never posted again. Nothing here is on an approval's path.
"""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

from datetime import datetime, timezone
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from parity.approvals import slack
from parity.approvals.store import trust_store
from parity.conversations.secrets import channel_secrets
from parity.core import jsonio, outbound
from parity.core.observability import bound, instrumented
from parity.core.queues import queues, settle
from parity.core.settings import settings

DEADLINE_SECONDS = 10.0
_post = outbound.Poster("slack-notify", connect=2.0, read=5.0, deadline_seconds=DEADLINE_SECONDS)


def record_handler(record: SQSRecord) -> None:
    queued = jsonio.loads(record.body)
    with bound(correlation_id=record.message_id, company_id=queued.get("company_id")):
        config = settings()
        attempt = int(record.attributes.approximate_receive_count or 1)
        done = slack.send(
            trust_store(), queued, attempt, token_for=lambda channel_id: channel_secrets().get(channel_id, "api_token"), post=_post,
            base_url=config.slack_api_base_url, delays=config.retry_delays(), approval_url_template=config.approval_url_template,
            now=datetime.now(timezone.utc),
        )
        settle(queues(), record, done, attempt=attempt, what="slack notification", log={"kind": queued.get("kind"), "ref": queued.get("ref"), "attempt": attempt},
               queue_url=config.require("notify_queue_url"), dlq_url=config.require("notify_dlq_url"), source="notify")


@instrumented
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event, record_handler, BatchProcessor(EventType.SQS), context)
