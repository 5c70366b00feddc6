"""POST /api/v3.1/contacts and GET /api/v3.1/contacts?phone=|email= (the producers' lead lookup)."""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

from typing import Any

from parity.crm import service
from parity.core.http import Router, caller_company, json_body, json_response
from parity.core.observability import instrumented
from parity.crm.store import crm_store

app = Router()


@app.post("/api/v3.1/contacts")
def create_contact():
    return json_response(201, service.create_contact(crm_store(), caller_company(app), json_body(app)))


@app.get("/api/v3.1/contacts")
def find_contacts():
    params = app.current_event.query
    found = service.find_contacts(crm_store(), caller_company(app), phone=params.get("phone"), email=params.get("email"))
    return json_response(200, found)


@instrumented(http=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event)
