"""Applies the Slack clicks the interaction route queued, and posts their outcome to ``response_url``.

``decide``: the approve or reject use case as the approver the clicking Slack user maps to (exactly as
the API decides: one conditional write, so a click racing another decision gets its 409), then the
message is replaced with the outcome (``parity.approvals.notifications.outcome_message``). A post that
fails is queued again as a plain ``reply`` (the decision is never made twice); a reply is retried
along ``SLACK_RETRY_SCHEDULE``, then parked in ``DecisionDLQ`` with the reason.
"""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from parity.approvals import service, slack
from parity.approvals.store import trust_store
from parity.core import jsonio, outbound
from parity.core.observability import bound, instrumented, logger
from parity.core.queues import queues, retry_or_give_up
from parity.core.settings import settings
from parity.crm.store import crm_store

DEADLINE_SECONDS = 5.0
_post = outbound.Poster("slack-respond", connect=2.0, read=3.0, deadline_seconds=DEADLINE_SECONDS)


def record_handler(record: SQSRecord) -> None:
    queued = jsonio.loads(record.body)
    config = settings()
    with bound(correlation_id=f"slack-{record.message_id}", company_id=queued.get("company_id")):
        attempt = int(record.attributes.approximate_receive_count or 1)
        if queued.get("kind") == "decide":
            decider = service.Decider(trust_store(), crm_store(), url_template=config.crm_record_url_template)
            body = slack.apply_click(
                queued,
                decide=lambda company, sso_id, approval_id, decision: decider.decide_as(company, sso_id, approval_id, decision, correlation_id=f"slack-{record.message_id}"),
                read=trust_store().approval, approval_url_template=config.approval_url_template,
            )
            logger.info("slack click applied", extra={"approval_id": queued.get("approval_id"), "decision": queued.get("decision"), "by": queued.get("sso_id")})
            attempt = 1
        else:
            body = queued.get("body")
        url = queued.get("response_url")
        if not url or not isinstance(body, dict):
            return
        done = slack.respond(url, body, attempt, post=_post, delays=config.retry_delays())
        if done.result == "sent":
            return
        if queued.get("kind") == "decide":  # the decision stands; only the reply is tried again
            queues().send(config.require("decision_queue_url"), {"kind": "reply", "company_id": queued.get("company_id"), "response_url": url, "body": body})
            logger.warning("slack reply failed; queued again", extra={"reason": done.reason})
            return
        retry_or_give_up(queues(), record, give_up=done.result == "failed", reason=done.reason, delay=done.delay, attempts=attempt,
                         queue_url=config.require("decision_queue_url"), dlq_url=config.require("decision_dlq_url"), source="decision", what="slack reply",
                         log={"attempt": attempt})


@instrumented
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event, record_handler, BatchProcessor(EventType.SQS), context)
