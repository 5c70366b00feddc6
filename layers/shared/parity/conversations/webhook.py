"""The channel webhooks' use case: verify the provider's signature over the raw body, answer the
providers' handshakes, and queue the delivery — a fast 200 once it is durable.

No bearer token: the provider's signature is the authentication. An unknown or deleted channel
(or a channel of another type) is a 404; a missing or wrong signature a 401 and nothing queued.
A validly signed body is queued whatever it holds — a redelivery, an ignored event, even one that
cannot be parsed (the ingest worker parks that one in its dead-letter queue) — so the provider
stops retrying; the provider's ids make the store write each message once. The path costs one
DynamoDB read (the channel), a cached SSM read (its secret) and one queue send.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from parity.conversations import ingest, signatures
from parity.conversations.channels import valid_channel_id
from parity.core import jsonio
from parity.core.errors import Forbidden, NotFound, ServiceUnavailable, Unauthorized
from parity.core.queues import QueueError


class Channels(Protocol):
    def channel(self, channel_id: str) -> dict[str, Any] | None: ...


class Secrets(Protocol):
    def get(self, channel_id: str, name: str) -> str | None: ...


@dataclass(frozen=True)
class Answer:
    """What the webhook answers: a JSON body, or plain text (WhatsApp's challenge)."""

    status: int
    json: Mapping[str, Any] | None = None
    text: str | None = None
    queued: bool = False
    channel: Mapping[str, Any] | None = None


def find_channel(channels: Channels, channel_type: str, channel_id: str) -> dict[str, Any]:
    found = channels.channel(channel_id) if valid_channel_id(channel_id) else None
    if found is None or found.get("type") != channel_type:
        raise NotFound(f"no {channel_type} channel {channel_id[:64]}")
    return found


def handshake(channels: Channels, secrets: Secrets, channel_type: str, channel_id: str, query: Mapping[str, str]) -> Answer:
    """``GET /channels/whatsapp/{id}``: Meta's subscription check; 403 unless the token matches."""
    channel = find_channel(channels, channel_type, channel_id)
    if channel_type != "whatsapp":
        raise NotFound("only a WhatsApp channel has a verification handshake")
    challenge = signatures.whatsapp_challenge(query, secrets.get(channel["id"], "verify_token"))
    if challenge is None:
        raise Forbidden("the verify token does not match")
    return Answer(200, text=challenge, channel=channel)


def receive(
    channels: Channels,
    secrets: Secrets,
    channel_type: str,
    channel_id: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    enqueue: Callable[[dict[str, Any]], None],
    now: datetime,
    clock: Callable[[], float] | None = None,
) -> Answer:
    """``POST /channels/{type}/{id}``: rules in the module docstring."""
    channel = find_channel(channels, channel_type, channel_id)
    verify = signatures.VERIFIERS[channel_type]
    try:
        verify(body, headers, secrets.get(channel["id"], "secret"), **({"now": clock} if clock and channel_type == "slack" else {}))
    except signatures.BadSignature as exc:
        raise Unauthorized(f"webhook signature rejected: {exc}") from exc
    if channel_type == "slack":
        challenge = _slack_challenge(body)
        if challenge is not None:
            return Answer(200, json={"challenge": challenge}, channel=channel)
    try:
        enqueue(ingest.envelope(channel, body, received_at=now))
    except QueueError as exc:  # not durable: the provider must retry
        raise ServiceUnavailable("the delivery could not be queued; retry") from exc
    return Answer(200, json={"status": "accepted"}, queued=True, channel=channel)


def _slack_challenge(body: bytes) -> str | None:
    try:
        payload = jsonio.loads(body)
    except (ValueError, RecursionError):
        return None
    if isinstance(payload, dict) and payload.get("type") == "url_verification" and isinstance(payload.get("challenge"), str):
        return payload["challenge"]
    return None
