"""GET /api/open/v1/messages/rooms/{room_id}?offset=1&limit=100: a room's chat history as hub-core
serves it (RFC O7), from Parity's own conversations. A company bearer token reads its own rooms
only (another company's room is a 404); the internal ``HUB_API_TOKEN`` (recognised by the
authorizer) reads any room Parity hosts."""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

from typing import Any

from parity.conversations import service
from parity.conversations.store import conversation_table
from parity.core.errors import NotFound
from parity.core.http import Param, Request, Response, Router, json_response
from parity.core.observability import bind, instrumented

app = Router()


@app.route(
    "GET /api/open/v1/messages/rooms/{room_id}", internal=True, path={"room_id": "parity.conversations.schemas:ID"},
    query={"offset": Param("parity.conversations.schemas:OFFSET"), "limit": Param("parity.conversations.schemas:LIMIT")},
    answer="parity.conversations.schemas:HISTORY",
)
def chat_history(request: Request, room_id: str) -> Response:
    bind(room_id=room_id[:128])
    table = conversation_table()
    if request.internal:
        company = table.room_company(room_id) if room_id.startswith("room_") and len(room_id) <= 128 else None
        if company is None:
            raise NotFound(f"room {room_id[:128]} not found")
    else:
        company = request.company  # 401 without a company token
    return json_response(200, service.chat_history(table, company, room_id, request.query))


@instrumented(http=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event)
