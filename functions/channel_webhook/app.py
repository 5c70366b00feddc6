"""GET /channels/whatsapp/{id} (Meta's subscription handshake) and POST /channels/{type}/{id}: a
provider's signed webhook — verified over the raw body, queued durably, answered 200 fast.

No bearer token: the provider's signature is the authentication (``parity.conversations.webhook``).
One DynamoDB read (the channel), a cached SSM read (its secret), one queue send.
"""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

from datetime import datetime, timezone
from typing import Any

from parity.conversations import webhook
from parity.conversations.secrets import channel_secrets
from parity.conversations.store import conversation_table
from parity.core.http import Param, Request, Response, Router, json_response
from parity.core.observability import bind, instrumented, logger
from parity.core.queues import queues
from parity.core.settings import settings

app = Router()
_ID = {"id": "parity.conversations.schemas:ID"}
_HUB = Param("parity.conversations.schemas:HUB_QUERY")


@app.route("GET /channels/whatsapp/{id}", public=True, path=_ID, query={"hub.mode": _HUB, "hub.verify_token": _HUB, "hub.challenge": _HUB}, answer="parity.conversations.schemas:CHALLENGE")
def handshake(request: Request, id: str) -> Response:
    answer = webhook.handshake(conversation_table(), channel_secrets(), "whatsapp", id, request.query)
    return Response(status_code=200, body=answer.text or "", content_type="text/plain")


@app.route("POST /channels/{type}/{id}", public=True, path={"type": "parity.conversations.schemas:CHANNEL_TYPE", **_ID}, body="parity.conversations.schemas:PROVIDER_EVENT", answer="parity.conversations.schemas:ACCEPTED")
def receive(request: Request, type: str, id: str) -> Response:
    bind(channel_id=id[:64])
    config = settings()
    if type not in ("whatsapp", "slack", "intercom"):
        raise webhook.NotFound(f"no {type[:32]} channels")
    answer = webhook.receive(
        conversation_table(), channel_secrets(), type, id, request.body_bytes(), request.headers,
        enqueue=lambda queued: queues().send(config.require("ingest_queue_url"), queued),
        now=datetime.now(timezone.utc),
    )
    if answer.channel:
        bind(company_id=answer.channel.get("company_id"))
    logger.info("channel webhook", extra={"channel_type": type, "queued": answer.queued})
    return json_response(answer.status, answer.json)


@instrumented(http=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event)
