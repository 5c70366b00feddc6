"""GET /api/v3.1/rooms/{room_id}/preview: what the chat room's sidebar shows (company token)."""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

from typing import Any

from parity.inbox import receiver
from parity.core.http import Request, Response, Router, json_response
from parity.core.observability import PREVIEW_DISPLAYED, bind, count, instrumented
from parity.inbox.store import preview_store

app = Router()


@app.route("GET /api/v3.1/rooms/{room_id}/preview", path={"room_id": "parity.inbox.schemas:ROOM_ID"}, answer="parity.inbox.schemas:PREVIEW")
def room_preview(request: Request, room_id: str) -> Response:
    # API Gateway has decoded the room id (once); it is compared as the producer sent it.
    bind(room_id=room_id)
    shown = receiver.room_preview(preview_store(), request.company, room_id)
    for slot, metric in PREVIEW_DISPLAYED.items():
        if shown[slot] is not None:
            count(metric)  # the sidebar shows a bot/AI record instead of "Create …" (RFC §4 signal)
    return json_response(200, shown)


@instrumented(http=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event)
