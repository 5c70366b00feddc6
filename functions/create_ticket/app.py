"""POST /api/v3.1/tickets: a producer (chatbot, AI agent or person) creates a ticket
(``parity.crm.create_route``, the body it shares with the other create route)."""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

from typing import Any

from parity.core.http import Param, Request, Response, Router
from parity.core.observability import instrumented
from parity.crm import create_route

app = Router()


@app.route(
    "POST /api/v3.1/tickets",
    body="parity.crm.models:TicketCreate",
    headers={"Idempotency-Key": Param("parity.crm.schemas:IDEMPOTENCY_KEY")},
    status=201,
    answer="parity.crm.schemas:TICKET_ANSWER",
    also={202: "parity.approvals.schemas:HELD"},  # held for approval by the company's policy
)
def create_ticket(request: Request) -> Response:
    return create_route.create(request, "ticket")


@instrumented(http=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event)
