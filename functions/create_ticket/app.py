"""POST /api/v3.1/tickets: a producer (chatbot, AI agent or person) creates a ticket."""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

from typing import Any

from parity.crm import service
from parity.core.http import Router, caller_company, header, json_body, result_response
from parity.core.observability import correlation_id, instrumented, logger
from parity.core.settings import settings
from parity.crm.store import crm_store

app = Router()


@app.post("/api/v3.1/tickets")
def create_ticket():
    result = service.create_record(
        crm_store(),
        caller_company(app),
        "ticket",
        json_body(app),
        url_template=settings().crm_record_url_template,
        idempotency_key=header(app, "Idempotency-Key"),
        request_target="POST /api/v3.1/tickets",
        correlation_id=correlation_id(),
    )
    logger.info("ticket created" if not result.replayed else "ticket create replayed", extra={"record_type": "ticket", **result.ids})
    return result_response(result)


@instrumented(http=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event)
