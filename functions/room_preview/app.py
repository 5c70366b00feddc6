"""GET /api/v3.1/rooms/{room_id}/preview: what the chat room's sidebar shows (company token)."""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

from typing import Any
from urllib.parse import unquote

from parity.inbox import receiver
from parity.core.http import Router, caller_company, json_response
from parity.core.observability import PREVIEW_DISPLAYED, bind, count, instrumented
from parity.inbox.store import preview_store

app = Router()


@app.get("/api/v3.1/rooms/<room_id>/preview")
def room_preview(room_id: str):
    # Path parameters arrive URL-encoded; room ids are compared as the producer sent them.
    room = unquote(room_id)
    bind(room_id=room)
    shown = receiver.room_preview(preview_store(), caller_company(app), room)
    for slot, metric in PREVIEW_DISPLAYED.items():
        if shown[slot] is not None:
            count(metric)  # the sidebar shows a bot/AI record instead of "Create …" (RFC §4 signal)
    return json_response(200, shown)


@instrumented(http=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event)
