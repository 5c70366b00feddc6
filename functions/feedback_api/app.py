"""The feedback routes (contracts/feedback.md): report feedback, list it, its summary, the
company's feedback settings, and the notifications of fixes (``parity.feedback.service``)."""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

from typing import Any

from parity.approvals.roles import caller_of
from parity.core.http import Param, Request, Response, Router, json_response, result_response
from parity.core.observability import instrumented, logger
from parity.core.settings import settings
from parity.crm.directory import contact_directory
from parity.crm.store import crm_store
from parity.feedback import service
from parity.feedback.adapters import CrmTickets, DirectoryReporters
from parity.feedback.store import feedback_table

app = Router()
_S = "parity.feedback.schemas"
_LIST = {"limit": Param(f"{_S}:LIMIT"), "cursor": Param(f"{_S}:CURSOR")}


def _tickets() -> CrmTickets:
    return CrmTickets(crm_store(), url_template=settings().crm_record_url_template)


@app.route(
    "POST /api/v3.1/feedback", status=201, body="parity.feedback.ticket:FeedbackCreate", answer=f"{_S}:TICKET",
    headers={"Idempotency-Key": Param("parity.core.idempotency:HEADER_SCHEMA")},
)
def report_feedback(request: Request) -> Response:
    result = service.submit(
        feedback_table(), _tickets(), DirectoryReporters(contact_directory()), request.company, request.json(),
        request_id=request.request_id, idempotency_key=request.header("Idempotency-Key"),
    )
    logger.info("feedback reported" if not result.replayed else "feedback seen before", extra=dict(result.ids))
    return result_response(result)


@app.route(
    "GET /api/v3.1/feedback", answer=f"{_S}:TICKETS",
    query={**_LIST, "status": Param(f"{_S}:STATUS"), "category": Param(f"{_S}:CATEGORY"), "priority": Param(f"{_S}:PRIORITY"), "channel": Param(f"{_S}:CHANNEL")},
)
def list_feedback(request: Request) -> Response:
    return json_response(200, service.list_feedback(feedback_table(), request.company, request.query))


@app.route("GET /api/v3.1/feedback/summary", query={"period": Param(f"{_S}:PERIOD")}, answer=f"{_S}:SUMMARY")
def feedback_summary(request: Request) -> Response:
    return json_response(200, service.feedback_summary(feedback_table(), request.company, request.query))


@app.route("GET /api/v3.1/feedback/settings", answer=f"{_S}:SETTINGS")
def get_settings(request: Request) -> Response:
    return json_response(200, service.get_settings(feedback_table(), request.company))


@app.route("PUT /api/v3.1/feedback/settings", body=f"{_S}:SETTINGS_BODY", answer=f"{_S}:SETTINGS")
def put_settings(request: Request) -> Response:
    caller_of(request).require("feedback_settings")
    return json_response(200, service.put_settings(feedback_table(), request.company, request.json()))


@app.route(
    "GET /api/v3.1/notifications", answer=f"{_S}:NOTIFICATIONS",
    query={**_LIST, "ticket_id": Param(f"{_S}:ID"), "status": Param(f"{_S}:NOTIFICATION_STATUS")},
)
def list_notifications(request: Request) -> Response:
    return json_response(200, service.list_notifications(feedback_table(), request.company, request.query))


@instrumented(http=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event)
