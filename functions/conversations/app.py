"""The conversation routes (contracts/conversations.md): list and read conversations, change a
conversation's state, list its messages, queue a reply (202; delivered from the table's stream)."""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

from typing import Any

from parity.conversations import service
from parity.conversations.store import conversation_table
from parity.core.http import Param, Request, Response, Router, json_response, result_response
from parity.core.observability import bind, instrumented, logger
from parity.crm.directory import contact_directory

app = Router()
_ROOM = {"room_id": "parity.conversations.schemas:ID"}
_LIST = {"limit": Param("parity.conversations.schemas:LIMIT"), "cursor": Param("parity.conversations.schemas:CURSOR")}


@app.route("GET /api/v3.1/conversations", query={**_LIST, "state": Param("parity.conversations.schemas:STATE"), "channel_id": Param("parity.conversations.schemas:ID")}, answer="parity.conversations.schemas:CONVERSATIONS")
def list_conversations(request: Request) -> Response:
    return json_response(200, service.list_conversations(conversation_table(), request.company, request.query))


@app.route("GET /api/v3.1/conversations/{room_id}", path=_ROOM, answer="parity.conversations.schemas:CONVERSATION")
def get_conversation(request: Request, room_id: str) -> Response:
    bind(room_id=room_id[:128])
    return json_response(200, service.get_conversation(conversation_table(), contact_directory(), request.company, room_id))


@app.route("POST /api/v3.1/conversations/{room_id}/state", path=_ROOM, body="parity.conversations.schemas:STATE_CHANGE", answer="parity.conversations.schemas:CONVERSATION")
def change_state(request: Request, room_id: str) -> Response:
    bind(room_id=room_id[:128])
    changed = service.change_state(conversation_table(), request.company, room_id, request.json())
    logger.info("conversation state", extra={"state": changed["data"]["state"]})
    return json_response(200, changed)


@app.route("GET /api/v3.1/conversations/{room_id}/messages", path=_ROOM, query=_LIST, answer="parity.conversations.schemas:MESSAGES")
def list_messages(request: Request, room_id: str) -> Response:
    bind(room_id=room_id[:128])
    return json_response(200, service.list_messages(conversation_table(), request.company, room_id, request.query))


@app.route(
    "POST /api/v3.1/conversations/{room_id}/messages", path=_ROOM, status=202,
    body="parity.conversations.models:OutboundMessage", answer="parity.conversations.schemas:MESSAGE",
    headers={"Idempotency-Key": Param("parity.core.idempotency:HEADER_SCHEMA")},
)
def send_message(request: Request, room_id: str) -> Response:
    bind(room_id=room_id[:128])
    result = service.queue_reply(
        conversation_table(), request.company, room_id, request.json(),
        idempotency_key=request.header("Idempotency-Key"), request_target=request.route_key,
    )
    logger.info("reply queued" if not result.replayed else "reply replayed", extra=dict(result.ids))
    return result_response(result)


@instrumented(http=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event)
