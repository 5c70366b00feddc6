"""The two create routes (``POST /api/v3.1/deals`` and ``/tickets``): two functions, one route
declaration (``router``) and one behaviour (``create``). The record is created through the CRM's
use case behind the company's approval gate (a held create answers 202); a refused bot/AI create
is a line of the activity log (the failure path only); each outcome is one log line."""

from __future__ import annotations

from typing import Literal

from parity.approvals.gate import gate
from parity.core.errors import ParityError
from parity.core.http import Param, Request, Response, Router, result_response
from parity.core.observability import correlation_id, logger
from parity.core.settings import settings
from parity.crm import service
from parity.crm.store import crm_store


RecordType = Literal["deal", "ticket"]


def router(record_type: RecordType) -> Router:
    """The create function's route table: ``POST /api/v3.1/<record_type>s``, answered by ``create``."""
    app = Router()
    app.route(
        f"POST /api/v3.1/{record_type}s",
        args={"record_type": record_type},
        body=f"parity.crm.models:{record_type.capitalize()}Create",
        headers={"Idempotency-Key": Param("parity.core.idempotency:HEADER_SCHEMA")},
        status=201,
        answer=f"parity.crm.schemas:{record_type.upper()}_ANSWER",
        also={202: "parity.approvals.schemas:HELD"},  # held for approval by the company's policy
    )(create)
    return app


def create(request: Request, record_type: RecordType) -> Response:
    try:
        result = service.create_record(
            crm_store(),
            request.company,
            record_type,
            request.json(),
            url_template=settings().crm_record_url_template,
            idempotency_key=request.header("Idempotency-Key"),
            request_target=request.route_key,  # "POST /api/v3.1/deals": part of the idempotency fingerprint
            correlation_id=correlation_id(),
            gate=gate(),
        )
    except ParityError as refused:
        from parity.approvals import refusals

        refusals.report(request, refused, action="create", record_type=record_type)
        raise
    if result.status == 202:
        logger.info(f"{record_type} held for approval" if not result.replayed else f"{record_type} hold replayed", extra={"record_type": record_type, **result.ids})
    else:
        logger.info(f"{record_type} created" if not result.replayed else f"{record_type} create replayed", extra={"record_type": record_type, **result.ids})
    return result_response(result)
