"""Standard Webhooks signing and verification (through the reference library), and the
sender's retry schedule. Pure: no network, the clock is a parameter."""

from __future__ import annotations

import base64
import email.utils
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from secrets import token_bytes
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from parity.core import jsonio

#: Default delays between attempts, in seconds: ~31.7 h in all (≥ 24 h, like Svix's ~28 h),
#: backing off from 10 s to 8 h. ``WEBHOOK_RETRY_SCHEDULE`` overrides it (the local stack
#: shortens it). Attempt n+1 waits schedule[n-1]; after the last delay comes the last attempt.
DEFAULT_RETRY_SCHEDULE = (10, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 28800, 28800)
#: SQS cannot hide a message longer than 12 h.
MAX_DELAY_SECONDS = 12 * 3600


class InvalidSignature(Exception):
    """Missing, malformed, stale, future or simply wrong signature headers."""


class UnreadableBody(ValueError):
    """A validly signed body that is not JSON (or holds ``NaN``/``Infinity``)."""


def parse_secrets(value: str | None) -> list[str]:
    """``WEBHOOK_SIGNING_SECRET``: one ``whsec_…`` secret, or several separated by spaces or
    commas while a rotation overlaps (the sender signs with each, the receiver accepts any)."""
    return [part for part in (value or "").replace(",", " ").split() if part]


def new_secret() -> str:
    """A fresh signing secret in the Standard Webhooks form: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(token_bytes(32)).decode()


def parse_schedule(value: str | None) -> tuple[int, ...]:
    from parity.core.clock import parse_delays

    return parse_delays(value, default=DEFAULT_RETRY_SCHEDULE, name="WEBHOOK_RETRY_SCHEDULE")


def sign(event_id: str, body: str, secrets: Sequence[str], *, now: datetime) -> dict[str, str]:
    """The three Standard Webhooks headers; one ``v1,`` signature per secret."""
    if not secrets:
        raise ValueError("no webhook signing secret configured")
    signatures = " ".join(Webhook(secret).sign(event_id, now, body) for secret in secrets)
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signatures,
    }


def verify(body: bytes | str, headers: Mapping[str, str], secrets: Sequence[str]) -> Any:
    """The parsed body when any secret verifies any signature within ±5 minutes.

    Raises ``InvalidSignature`` for a missing, malformed, stale or wrong signature, and
    ``UnreadableBody`` for a validly signed body that is not JSON with JSON numbers (``NaN`` is not
    one): a caller's mistake, not a forgery. Fractions are read as ``Decimal`` (exact, as stored).
    """
    if not secrets:
        raise InvalidSignature("no webhook secret configured")
    refusals: list[WebhookVerificationError] = []
    for secret in secrets:
        try:
            Webhook(secret).verify(body, dict(headers), json_parse=False)
            break
        except WebhookVerificationError as exc:  # each secret is tried (at most two, during a rotation)
            refusals.append(exc)
        except (ValueError, TypeError) as exc:  # malformed headers, or a body that is not UTF-8
            raise InvalidSignature("malformed signature headers or body") from exc
    else:
        # Missing headers and a stale timestamp are refused alike by every secret: the first says why.
        raise InvalidSignature(str(refusals[0])) from refusals[0]
    try:
        return jsonio.loads(body)
    except (ValueError, RecursionError) as exc:
        raise UnreadableBody(str(exc).split(":")[0]) from exc


@dataclass(frozen=True)
class Decision:
    """What to do after a failed attempt: retry after ``delay`` seconds, or give up."""

    give_up: bool
    delay: int = 0
    reason: str = ""


def after_failure(attempt: int, *, status: int | None, retry_after: str | None, reason: str, schedule: Sequence[int], now: datetime | None = None) -> Decision:
    """Attempt ``attempt`` (1-based) failed. 410 stops at once; otherwise back off along the
    schedule, waiting at least what ``Retry-After`` asks; past the schedule, give up."""
    if status == 410:
        return Decision(give_up=True, reason=f"{reason}; the receiver said 410 Gone")
    if attempt > len(schedule):
        return Decision(give_up=True, reason=f"{reason}; gave up after {attempt} attempts")
    delay = schedule[attempt - 1]
    asked = retry_after_seconds(retry_after, now=now)
    if asked is not None:
        delay = max(delay, asked)
    return Decision(give_up=False, delay=min(delay, MAX_DELAY_SECONDS), reason=reason)


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> int | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date), or None when absent/garbled."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0, int((when - (now or datetime.now(timezone.utc))).total_seconds()))
