"""GET | PATCH | DELETE /api/v3.1/{deals|tickets}/{id} and GET …/{id}/timeline: a company's own
records only (another company's id is a 404: every key the store reads starts with the caller's
company)."""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

from typing import Any

from parity.timeline import writer
from parity.timeline.store import note_table
from parity.crm import service
from parity.core.http import Response, Router, caller_company, json_body, json_response
from parity.core.observability import bind, correlation_id, instrumented
from parity.core.settings import settings
from parity.crm.store import crm_store

app = Router()
_TYPES = {"deals": "deal", "tickets": "ticket"}


@app.get("/api/v3.1/<collection>/<record_id>")
def get_record(collection: str, record_id: str):
    bind(record_id=record_id)
    found = service.get_record(crm_store(), caller_company(app), _type(collection, record_id), record_id, url_template=settings().crm_record_url_template)
    return json_response(200, found)


@app.patch("/api/v3.1/<collection>/<record_id>")
def update_record(collection: str, record_id: str):
    company = caller_company(app)
    bind(record_id=record_id)
    updated = service.update_record(
        crm_store(), company, _type(collection, record_id), record_id, json_body(app),
        url_template=settings().crm_record_url_template, correlation_id=correlation_id(),
    )
    return json_response(200, updated)


@app.delete("/api/v3.1/<collection>/<record_id>")
def delete_record(collection: str, record_id: str):
    bind(record_id=record_id)
    service.delete_record(crm_store(), caller_company(app), _type(collection, record_id), record_id)
    return Response(status_code=204, body="")


@app.get("/api/v3.1/<collection>/<record_id>/timeline")
def record_timeline(collection: str, record_id: str):
    bind(record_id=record_id)
    return json_response(200, writer.timeline_of(note_table(), crm_store(), caller_company(app), _type(collection, record_id), record_id))


def _type(collection: str, record_id: str) -> Any:
    """The record type of a route; a record id none of ours could be (say 1,000 bytes) is a 404
    before any store call (nothing unbounded reaches a key)."""
    from parity.core.errors import NotFound
    from parity.crm.records import valid_id

    # Only the template's routes reach us; anything else is a route we do not have.
    if collection not in _TYPES:
        raise NotFound("no such route")
    if not valid_id(record_id):
        raise NotFound(f"{_TYPES[collection]} {record_id[:64]} not found")
    return _TYPES[collection]


@instrumented(http=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event)
