"""GET | PATCH | DELETE /api/v3.1/{deals|tickets}/{id} and GET …/{id}/timeline: a company's own
records only (another company's id is a 404: every key the store reads starts with the caller's
company)."""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

from typing import Any

from parity.approvals.gate import gate
from parity.timeline import writer
from parity.timeline.store import note_table
from parity.crm import service
from parity.crm.records import RecordType, valid_id
from parity.core.errors import NotFound, ParityError
from parity.core.http import Request, Response, Router, json_response
from parity.core.observability import bind, correlation_id, instrumented
from parity.core.settings import settings
from parity.crm.store import crm_store

app = Router()
_ID = {"id": "parity.crm.schemas:RECORD_ID"}
DEAL, TICKET = {"record_type": "deal"}, {"record_type": "ticket"}


@app.route("GET /api/v3.1/deals/{id}", args=DEAL, path=_ID, answer="parity.crm.schemas:DEAL_ANSWER")
@app.route("GET /api/v3.1/tickets/{id}", args=TICKET, path=_ID, answer="parity.crm.schemas:TICKET_ANSWER")
def get_record(request: Request, id: str, record_type: RecordType) -> Response:
    found = service.get_record(crm_store(), request.company, record_type, _record_id(record_type, id), url_template=settings().crm_record_url_template)
    return json_response(200, found)


_HELD = {202: "parity.approvals.schemas:HELD"}  # held for approval by the company's policy


@app.route("PATCH /api/v3.1/deals/{id}", args=DEAL, path=_ID, body="parity.crm.models:DealUpdate", answer="parity.crm.schemas:DEAL_ANSWER", also=_HELD)
@app.route("PATCH /api/v3.1/tickets/{id}", args=TICKET, path=_ID, body="parity.crm.models:TicketUpdate", answer="parity.crm.schemas:TICKET_ANSWER", also=_HELD)
def update_record(request: Request, id: str, record_type: RecordType) -> Response:
    record_id = _record_id(record_type, id)
    try:
        updated = service.update_record(
            crm_store(), request.company, record_type, record_id, request.json(),
            url_template=settings().crm_record_url_template, correlation_id=correlation_id(), gate=gate(),
            check=_feedback_rules if record_type == "ticket" else None,
        )
    except ParityError as refused:  # the failure path only: a refused PATCH of a bot/AI record is a line of the activity log
        from parity.approvals import refusals

        def record_flag() -> str | None:
            found = crm_store().get_record(request.company, record_type, record_id)
            return found.get("creator_flag") if found else None

        refusals.report(request, refused, action="update", record_type=record_type, record_id=record_id, record_flag=record_flag)
        raise
    if isinstance(updated, service.Held):
        return json_response(202, updated.body)
    return json_response(200, updated)


def _feedback_rules(current: dict[str, Any], changes: dict[str, Any]) -> None:
    """A feedback ticket's confirmed fields keep feedback's values (loaded only for a PATCH)."""
    from parity.feedback.ticket import check_feedback_ticket

    check_feedback_ticket(current, changes)


@app.route("DELETE /api/v3.1/deals/{id}", args=DEAL, path=_ID, status=204)
@app.route("DELETE /api/v3.1/tickets/{id}", args=TICKET, path=_ID, status=204)
def delete_record(request: Request, id: str, record_type: RecordType) -> Response:
    service.delete_record(crm_store(), request.company, record_type, _record_id(record_type, id))
    return Response(status_code=204, body="")


@app.route("GET /api/v3.1/deals/{id}/timeline", args=DEAL, path=_ID, answer="parity.timeline.schemas:TIMELINE")
@app.route("GET /api/v3.1/tickets/{id}/timeline", args=TICKET, path=_ID, answer="parity.timeline.schemas:TIMELINE")
def record_timeline(request: Request, id: str, record_type: RecordType) -> Response:
    return json_response(200, writer.timeline_of(note_table(), crm_store(), request.company, record_type, _record_id(record_type, id)))


def _record_id(record_type: RecordType, record_id: str) -> str:
    """The id, bound to the log line; one none of ours could be (say 1,000 bytes) is a 404 before
    any store call (nothing unbounded reaches a key)."""
    bind(record_id=record_id)
    if not valid_id(record_id):
        raise NotFound(f"{record_type} {record_id[:64]} not found")
    return record_id


@instrumented(http=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event)
