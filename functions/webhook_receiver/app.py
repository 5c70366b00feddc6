"""POST /webhooks/qontak-crm (omnichannel side): verified, deduped, applied to the room preview.
Authenticated by the Standard Webhooks signature, not by a company token."""

from __future__ import annotations

from typing import Any

from parity import rooms, webhooks
from parity.http import build_resolver, json_response
from parity.observability import correlation_paths, logger
from parity.runtime import preview_store, settings

app = build_resolver(require_company=False)


@app.post("/webhooks/qontak-crm")
def receive():
    event = app.current_event
    body = event.decoded_body or ""
    result = rooms.receive(preview_store(), body, event.headers, secrets=webhooks.parse_secrets(settings().webhook_signing_secret))
    logger.info("webhook received", extra=result)
    return json_response(200, result)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
