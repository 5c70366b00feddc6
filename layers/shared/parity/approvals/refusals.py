"""Refused bot/AI creates and PATCHes into the activity log, from the failure path only.

A create or PATCH of a bot/AI record answered with a 4xx other than 401 (the company is known) is a
``failed`` line of the activity log (``activity.refusal``): the API function sends one small message
to the activity queue and answers as it would have anyway. Nothing of the request's body is kept but
the flag, a valid ``agent_id`` and a valid ``confidence``. The success path does nothing here; a
send that fails is logged and never changes the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, Literal

from parity.approvals import activity, checks
from parity.approvals.policy import MAX_AGENT_ID_LENGTH
from parity.core.clock import iso_ms
from parity.core.errors import ParityError
from parity.core.observability import correlation_id, logger


def _lenient_body(request: Any) -> Mapping[str, Any]:
    try:
        body = request.json()
    except ParityError:
        return {}
    return body if isinstance(body, Mapping) else {}


def report(
    request: Any,
    refused: ParityError,
    *,
    action: Literal["create", "update"],
    record_type: str,
    record_id: str | None = None,
    record_flag: Callable[[], str | None] | None = None,
    send: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """Send the refusal's line to the activity log when it is one (``activity.refusal_logged``).
    ``record_flag`` reads a PATCHed record's own flag (a read on the failure path only); ``send``
    is the activity log's queue (``to_activity_log``) unless told otherwise."""
    if not 400 <= refused.status < 500 or refused.status == 401:
        return
    try:
        body = _lenient_body(request)
        flag = body.get("creator_flag") if action == "create" else (record_flag() if record_flag else None)
        if not activity.refusal_logged(refused.status, flag if isinstance(flag, str) else None):
            return
        confidence, _ = checks.unit_number(body.get("confidence"), "confidence")
        agent_id, _ = checks.identifier(body.get("agent_id"), "agent_id", max_length=MAX_AGENT_ID_LENGTH)
        context = request.event.get("requestContext") or {}
        message = activity.refusal(
            request.company, request_id=str(context.get("requestId") or correlation_id() or ""), at=iso_ms(datetime.now(timezone.utc)),
            action=action, record_type=record_type, record_id=record_id, creator_flag=str(flag), agent_id=agent_id, confidence=confidence,
            error_code=refused.code, correlation_id=correlation_id(),
        )
        (send or to_activity_log)(message)
    except Exception as exc:  # the answer is the refusal's, whatever happens here
        logger.warning("refusal not logged to the activity log", extra={"problem": type(exc).__name__})


def to_activity_log(message: dict[str, Any]) -> None:
    """Queue a refusal's line for the activity log's writer (``ActivityQueue``)."""
    from parity.core.queues import queues
    from parity.core.settings import settings

    queues().send(settings().require("activity_queue_url"), message)
