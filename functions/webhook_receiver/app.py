"""POST /webhooks/qontak-crm (omnichannel side): verified, deduped, applied to the room preview.
Authenticated by the Standard Webhooks signature, not by a company token; the secrets are the
operator-rotated ones (``parity.outbox.secrets``). The sender's ``X-Correlation-Id`` header is
this request's correlation id, so the receiver's log line joins the record's trail."""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

from typing import Any

from parity.inbox import receiver
from parity.core.errors import Unauthorized
from parity.core.http import Request, Response, Router, json_response
from parity.core.observability import bind, instrumented, logger
from parity.inbox.store import preview_store
from parity.outbox.secrets import signing_secrets

app = Router()


@app.route(
    "POST /webhooks/qontak-crm",
    public=True,  # no company token: the Standard Webhooks signature authenticates it
    body="parity.inbox.schemas:EVENT",
    answer="parity.inbox.schemas:RECEIVED",
)
def receive(request: Request) -> Response:
    body = request.body_bytes()  # the bytes as signed; over 64 KiB → 413 (no record event is that big)
    try:
        received = receiver.receive(preview_store(), body, request.headers, secrets=signing_secrets().current())
    except Unauthorized as exc:
        # Worth a line: a burst of these after a rotation means a side is missing the new secret.
        logger.warning("webhook rejected", extra={"reason": exc.message, "webhook_id": request.header("webhook-id")})
        raise
    bind(company_id=received.company_id, room_id=received.room_id, record_id=received.record_id)
    logger.info("webhook received", extra={"status": received.status, "event_id": received.event_id, "record_type": received.record_type})
    return json_response(200, received.answer())


@instrumented(http=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event)
