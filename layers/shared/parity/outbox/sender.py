"""The webhook sender's use case: one signed attempt at delivering one event, and what next."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from parity.outbox import signing


@dataclass(frozen=True)
class Reply:
    """What the receiver answered; ``status`` None when no answer came (timeout, connection
    failed, the name not resolving now…: ``problem`` says which). ``refused``: the target itself
    is refused (not a valid URL, or not a public address), so no attempt was made and no retry
    would change that."""

    status: int | None
    retry_after: str | None = None
    problem: str = ""
    refused: bool = False


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    give_up: bool = False
    delay: int = 0
    reason: str = ""
    status: int | None = None


def attempt(
    body: str,
    attempt_number: int,
    *,
    secrets: Sequence[str],
    post: Callable[[str, dict[str, str]], Reply],
    schedule: Sequence[int],
    now: datetime,
    extra_headers: Mapping[str, str] | None = None,
) -> Outcome:
    """Sign ``body`` afresh (same ``webhook-id``, new timestamp) and post it once, with
    ``extra_headers`` (the correlation id) beside the signature headers.

    2xx → delivered. 410 or a refused target → give up now. Anything else (3xx: redirects are
    never followed; 4xx; 5xx; no answer, the name not resolving included) → retry along the
    schedule, honouring ``Retry-After``; give up past it.
    """
    event_id = _event_id(body)
    headers = {"content-type": "application/json", **(extra_headers or {}), **signing.sign(event_id, body, secrets, now=now)}
    reply = post(body, headers)
    if reply.status is not None and 200 <= reply.status < 300:
        return Outcome(delivered=True, status=reply.status)
    if reply.refused:
        return Outcome(delivered=False, give_up=True, reason=f"target refused: {reply.problem}")
    if reply.status is None:
        reason = reply.problem or "no answer"
    elif 300 <= reply.status < 400:
        reason = f"answered {reply.status} (redirects are not followed)"
    else:
        reason = f"answered {reply.status}"
    decision = signing.after_failure(attempt_number, status=reply.status, retry_after=reply.retry_after, reason=reason, schedule=schedule, now=now)
    return Outcome(delivered=False, give_up=decision.give_up, delay=decision.delay, reason=decision.reason, status=reply.status)


def _event_id(body: str) -> str:
    event: Any = json.loads(body)
    event_id = event.get("event_id") if isinstance(event, dict) else None
    if not isinstance(event_id, str) or not event_id:
        raise ValueError("the queued event has no event_id")
    return event_id
