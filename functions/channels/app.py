"""POST|GET /api/v3.1/channels and GET|DELETE /api/v3.1/channels/{id}: a company's WhatsApp, Slack
and Intercom channels (admin). Secrets are write-only: stored in SSM, never answered."""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

from typing import Any

from parity.conversations import channels
from parity.conversations.secrets import channel_secrets
from parity.conversations.store import conversation_table
from parity.core.http import Request, Response, Router, json_response
from parity.core.observability import bind, instrumented, logger
from parity.core.settings import settings

app = Router()
_ID = {"id": "parity.conversations.schemas:ID"}


def _base_url(request: Request) -> str:
    """Where this API is reached from outside (the channels' webhooks hang off it)."""
    configured = settings().channel_webhook_base_url
    if configured:
        return configured
    scheme = request.header("x-forwarded-proto") or "https"
    host = request.header("host") or str((request.event.get("requestContext") or {}).get("domainName") or "")
    return f"{scheme}://{host}"


@app.route("POST /api/v3.1/channels", status=201, body="parity.conversations.models:ChannelCreate", answer="parity.conversations.schemas:CHANNEL")
def create_channel(request: Request) -> Response:
    made = channels.create_channel(conversation_table(), channel_secrets(), request.company, request.json(), base_url=_base_url(request))
    bind(channel_id=made["data"]["id"])
    logger.info("channel created", extra={"channel_type": made["data"]["type"]})  # never its secrets
    return json_response(201, made)


@app.route("GET /api/v3.1/channels", answer="parity.conversations.schemas:CHANNELS")
def list_channels(request: Request) -> Response:
    return json_response(200, channels.list_channels(conversation_table(), request.company, base_url=_base_url(request)))


@app.route("GET /api/v3.1/channels/{id}", path=_ID, answer="parity.conversations.schemas:CHANNEL")
def get_channel(request: Request, id: str) -> Response:
    return json_response(200, channels.get_channel(conversation_table(), request.company, id, base_url=_base_url(request)))


@app.route("DELETE /api/v3.1/channels/{id}", path=_ID, status=204)
def delete_channel(request: Request, id: str) -> Response:
    channels.delete_channel(conversation_table(), channel_secrets(), request.company, id)
    logger.info("channel deleted", extra={"channel_id": id})
    return Response(status_code=204, body="")


@instrumented(http=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event)
