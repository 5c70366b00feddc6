"""POST /api/v3.1/teams/company_token: X-Crm-Api-Key + sso_id → an expiring bearer token."""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

from typing import Any

from parity.crm import service
from parity.core.http import Param, Request, Response, Router, json_response
from parity.core.observability import bind, instrumented, logger
from parity.core.settings import settings
from parity.crm.store import crm_store

app = Router()


@app.route(
    "POST /api/v3.1/teams/company_token",
    public=True,  # the key exchange itself: no bearer token yet
    body="parity.crm.models:TokenRequest",
    headers={"X-Crm-Api-Key": Param("parity.crm.schemas:API_KEY", required=True)},
    answer="parity.crm.schemas:TOKEN",
)
def exchange_token(request: Request) -> Response:
    body = request.json()
    token = service.exchange_api_key(crm_store(), request.header("X-Crm-Api-Key"), body, ttl_seconds=settings().token_ttl_seconds)
    bind(company_id=token["company_id"])
    logger.info("token issued", extra={"expires_in": token["expires_in"]})  # never the key or the token
    return json_response(200, token)


@instrumented(http=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event)
