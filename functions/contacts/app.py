"""POST /api/v3.1/contacts and GET /api/v3.1/contacts?phone=|email= (the producers' lead lookup)."""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

from typing import Any

from parity.crm import service
from parity.core.http import Param, Request, Response, Router, json_response
from parity.core.observability import instrumented
from parity.crm.store import crm_store

app = Router()


@app.route("POST /api/v3.1/contacts", body="parity.crm.models:ContactCreate", status=201, answer="parity.crm.schemas:CONTACT_ANSWER")
def create_contact(request: Request) -> Response:
    return json_response(201, service.create_contact(crm_store(), request.company, request.json()))


_LOOKUP = Param("parity.crm.schemas:CONTACT_LOOKUP")


@app.route("GET /api/v3.1/contacts", query={"phone": _LOOKUP, "email": _LOOKUP}, answer="parity.crm.schemas:CONTACT_LIST")
def find_contacts(request: Request) -> Response:
    params = request.query
    found = service.find_contacts(crm_store(), request.company, phone=params.get("phone"), email=params.get("email"))
    return json_response(200, found)


@instrumented(http=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event)
