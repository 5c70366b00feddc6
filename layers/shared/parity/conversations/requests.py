"""Replies other capabilities ask for (a feedback notification): the reply request queue's use case.

A request is ``{"company_id", "room_id", "body" (a POST …/conversations/{room_id}/messages body),
"idempotency_key", "reference", "max_attempts"?}``. It is written as that route writes a reply
(``service.queue_reply``): queued, delivered from the table's stream, each of its events carrying
the ``reference``. The ``idempotency_key`` makes a redelivered request (or the asker asking again)
queue nothing twice (asked again with another body, the first request stands). A request the route would refuse (the conversation is gone, WhatsApp's 24 h
window closed, a body that is not valid) is ``refused``: the handler tells the asker with a
``message.failed`` event bearing the reference, since no message exists to carry it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from parity.conversations import outbox
from parity.conversations.service import Store, queue_reply
from parity.core.clock import Clock, iso_ms
from parity.core.errors import IdempotencyKeyReused, ParityError

REQUEST_TARGET = "reply-request"


@dataclass(frozen=True)
class Requested:
    result: str  # "queued" | "refused"
    error: str = ""
    event: dict[str, Any] | None = None


def handle(store: Store, request: Mapping[str, Any], *, request_id: str, clock: Clock = Clock()) -> Requested:
    """Queue the requested reply, or say why it is refused (with the event that tells the asker)."""
    company, room = str(request.get("company_id", "")), str(request.get("room_id", ""))
    try:
        queue_reply(
            store, company, room, request.get("body"),
            idempotency_key=str(request.get("idempotency_key") or "") or None,
            request_target=REQUEST_TARGET,
            reference=str(request.get("reference") or "") or None,
            max_attempts=int(request["max_attempts"]) if request.get("max_attempts") else None,
            clock=clock,
        )
    except IdempotencyKeyReused:
        return Requested("queued")  # asked before with another body (re-planned): the first stands
    except ParityError as exc:
        if exc.status >= 500 or exc.status in (409, 429):
            raise  # not the request's fault: the queue retries it
        details = "; ".join(f"{d.get('field')}: {d.get('message')}" for d in exc.details)
        error = f"{exc.code}: {exc.message}" + (f" ({details})" if details else "")
        digest = hashlib.sha256(f"{request_id}:refused".encode()).hexdigest()[:32]
        event = {
            "event": "message.failed", "event_id": f"evt_{digest}", "occurred_at": iso_ms(clock.now()),
            "company_id": company, "room_id": room, "reference": request.get("reference"), "attempts": 1, "error": error[: outbox.MAX_ERROR_CHARS],
        }
        return Requested("refused", error, event)
    return Requested("queued")
