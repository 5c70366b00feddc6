"""GET /api/v3.1/rooms/{room_id}/preview: what the chat room's sidebar shows (company token)."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from parity import rooms
from parity.http import build_resolver, caller_company, json_response
from parity.observability import correlation_paths, logger
from parity.runtime import preview_store

app = build_resolver()


@app.get("/api/v3.1/rooms/<room_id>/preview")
def room_preview(room_id: str):
    # Path parameters arrive URL-encoded; room ids are compared as the producer sent them.
    return json_response(200, rooms.room_preview(preview_store(), caller_company(app), unquote(room_id)))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
