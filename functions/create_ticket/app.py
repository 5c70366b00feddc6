"""POST /api/v3.1/tickets: a producer (chatbot, AI agent or person) creates a ticket."""

from __future__ import annotations

from typing import Any

from parity import service
from parity.http import build_resolver, caller_company, header, json_body, result_response
from parity.observability import correlation_paths, logger
from parity.runtime import crm_store, settings

app = build_resolver()


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
    )
    return result_response(result)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
