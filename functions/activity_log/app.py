"""The activity log's writer for refusals: ``ActivityQueue`` → a ``failed`` line of the trust table.

The API functions send a bot/AI create or PATCH they refused with a 4xx from their failure path
(``{"kind": "refusal"}``); the lines of records' changes are written by the event router, which reads
the CRM table's stream once for the outbox and the log. A line's id comes from its source, so a
redelivered message writes nothing and counts nothing twice. Partial batch failures; a message that
keeps failing goes to ``ActivityDLQ`` after 5 receives.
"""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from parity.approvals import activity, service
from parity.approvals.store import trust_store
from parity.core import jsonio
from parity.core.observability import bound, instrumented, logger, sqs_correlation_id


def record_handler(record: SQSRecord) -> None:
    message = jsonio.loads(record.body)
    with bound(correlation_id=sqs_correlation_id(record.raw_event) or record.message_id, company_id=message.get("company_id") if isinstance(message, dict) else None):
        line = activity.from_refusal(message)  # ValueError for anything else: retried, then the DLQ
        written = service.write_line(trust_store(), line)
        logger.info("activity line", extra={"line_id": line["id"], "action": line["action"], "status": line["status"], "written": written})


@instrumented
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event, record_handler, BatchProcessor(EventType.SQS), context)
