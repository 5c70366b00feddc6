"""POST /api/v3.1/tickets: a producer (chatbot, AI agent or person) creates a ticket."""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

from typing import Any

from parity.crm import service
from parity.core.http import Param, Request, Response, Router, result_response
from parity.core.observability import correlation_id, instrumented, logger
from parity.core.settings import settings
from parity.crm.store import crm_store

app = Router()


@app.route(
    "POST /api/v3.1/tickets",
    body="parity.crm.models:TicketCreate",
    headers={"Idempotency-Key": Param("parity.crm.schemas:IDEMPOTENCY_KEY")},
    status=201,
    answer="parity.crm.schemas:TICKET_ANSWER",
)
def create_ticket(request: Request) -> Response:
    result = service.create_record(
        crm_store(),
        request.company,
        "ticket",
        request.json(),
        url_template=settings().crm_record_url_template,
        idempotency_key=request.header("Idempotency-Key"),
        request_target=request.route_key,  # "POST /api/v3.1/tickets": part of the idempotency fingerprint
        correlation_id=correlation_id(),
    )
    logger.info("ticket created" if not result.replayed else "ticket create replayed", extra={"record_type": "ticket", **result.ids})
    return result_response(result)


@instrumented(http=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event)
