"""Feedback's changelog proposals → changelog approvals (contracts/feedback.md, "the release valve").

``ChangelogProposalsRule`` puts each ``feedback.changelog_proposed`` of the bus on
``ProposalQueue``; here each becomes a pending ``changelog`` approval of the ticket
(``parity.approvals.service.propose_changelog``), decided in the approval inbox like any other; its
decision goes back on the bus (``approval.approved`` with the final text) for feedback to send.
The approval id is feedback's, so a redelivered event writes nothing. Partial batch failures; a
message that keeps failing goes to ``ProposalDLQ`` after 5 receives.
"""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from parity.approvals import service
from parity.approvals.store import trust_store
from parity.core import jsonio
from parity.core.clock import utc_now
from parity.core.observability import bound, instrumented, logger


def record_handler(record: SQSRecord) -> None:
    event = jsonio.loads(record.body)  # the bus's envelope: {"detail-type", "source", "detail", …}
    detail = event.get("detail") if isinstance(event, dict) else None
    if not isinstance(detail, dict):
        raise ValueError("not an EventBridge event")
    with bound(correlation_id=str(detail.get("event_id") or record.message_id), company_id=detail.get("company_id")):
        done = service.propose_changelog(trust_store(), detail, now=utc_now(), correlation_id=detail.get("event_id"))
        logger.info("changelog proposal", extra={"approval_id": detail.get("approval_id"), "ticket_id": detail.get("ticket_id"), "done": done})


@instrumented
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event, record_handler, BatchProcessor(EventType.SQS), context)
