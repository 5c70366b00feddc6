"""Channels: a company's WhatsApp number, Slack workspace or Intercom app (admin API).

A channel's ``secret`` (the provider's signing secret), ``api_token`` (what Parity sends with) and
``verify_token`` (WhatsApp's handshake) are write-only: they go to SSM Parameter Store as
SecureStrings (``ChannelSecrets``) and never into an answer, a log line, an event or the table.
Its webhook is ``{base}/channels/{type}/{id}``; a deleted channel's webhook answers 404.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from parity.core.clock import Clock, iso_ms
from parity.core.errors import NotFound, ValidationFailed
from parity.core.ids import valid_id

CHANNEL_TYPES = ("whatsapp", "slack", "intercom")
PURPOSES = ("conversations", "feedback")
SECRET_NAMES = ("secret", "api_token", "verify_token")
#: What a channel shows (never its secrets).
PUBLIC_FIELDS = ("id", "type", "name", "purpose", "account_id", "default_region", "admin_id", "created_at")


class ChannelSecrets(Protocol):
    """Where a channel's secrets live (``parity.conversations.secrets.SsmChannelSecrets``)."""

    def put(self, channel_id: str, values: Mapping[str, str]) -> None: ...

    def get(self, channel_id: str, name: str) -> str | None: ...

    def delete(self, channel_id: str) -> None: ...


class ChannelStore(Protocol):
    def put_channel(self, channel: Mapping[str, Any]) -> None: ...

    def company_channel(self, company_id: str, channel_id: str) -> dict[str, Any] | None: ...

    def channels(self, company_id: str) -> list[dict[str, Any]]: ...

    def delete_channel(self, company_id: str, channel_id: str) -> bool: ...


def valid_channel_id(value: str) -> bool:
    """Whether ``value`` could be one of our channel ids (``ch_`` + an id): anything else is a 404
    before any store call."""
    return value.startswith("ch_") and valid_id(value)


def webhook_url(base_url: str, channel: Mapping[str, Any]) -> str:
    return f"{base_url.rstrip('/')}/channels/{channel['type']}/{channel['id']}"


def public(channel: Mapping[str, Any], *, base_url: str) -> dict[str, Any]:
    return {**{k: channel.get(k) for k in PUBLIC_FIELDS}, "webhook_url": webhook_url(base_url, channel)}


def create_channel(store: ChannelStore, secrets: ChannelSecrets, company_id: str, body: Mapping[str, Any], *, base_url: str, clock: Clock = Clock()) -> dict[str, Any]:
    """``POST /api/v3.1/channels``: validate, keep the secrets in SSM, then the channel."""
    from parity.conversations.models import ChannelCreate
    from parity.crm.service import validate

    payload = validate(ChannelCreate, body)
    problems = []
    if payload.type == "whatsapp" and not payload.verify_token:
        problems.append({"field": "verify_token", "message": "required for a WhatsApp channel (the subscription handshake)", "type": "missing"})
    if payload.type != "whatsapp" and payload.verify_token is not None:
        problems.append({"field": "verify_token", "message": "only a WhatsApp channel has one", "type": "value_error"})
    if payload.type == "intercom" and not payload.admin_id:
        problems.append({"field": "admin_id", "message": "required for an Intercom channel (the admin replies are sent as)", "type": "missing"})
    if payload.type != "intercom" and payload.admin_id is not None:
        problems.append({"field": "admin_id", "message": "only an Intercom channel has one", "type": "value_error"})
    if problems:
        raise ValidationFailed("the request has invalid fields", details=problems)
    now = clock.now()
    channel = {
        "id": f"ch_{clock.make_id(now)}",
        "company_id": company_id,
        "type": payload.type,
        "name": payload.name,
        "purpose": payload.purpose,
        "account_id": payload.account_id,
        "default_region": payload.default_region,
        "admin_id": payload.admin_id,
        "created_at": iso_ms(now),
    }
    # Secrets first: a channel never exists without them (a crash leaves orphan parameters only).
    secrets.put(channel["id"], {k: v for k, v in (("secret", payload.secret), ("api_token", payload.api_token), ("verify_token", payload.verify_token)) if v})
    store.put_channel(channel)
    return {"data": public(channel, base_url=base_url)}


def list_channels(store: ChannelStore, company_id: str, *, base_url: str) -> dict[str, Any]:
    found = sorted(store.channels(company_id), key=lambda c: (c.get("created_at", ""), c["id"]))
    return {"data": [public(c, base_url=base_url) for c in found]}


def get_channel(store: ChannelStore, company_id: str, channel_id: str, *, base_url: str) -> dict[str, Any]:
    found = store.company_channel(company_id, channel_id) if valid_channel_id(channel_id) else None
    if found is None:
        raise NotFound(f"channel {channel_id} not found")
    return {"data": public(found, base_url=base_url)}


def delete_channel(store: ChannelStore, secrets: ChannelSecrets, company_id: str, channel_id: str) -> None:
    """``DELETE /api/v3.1/channels/{id}``: the channel goes first (its webhook answers 404 at
    once), then its secrets."""
    if not valid_channel_id(channel_id) or not store.delete_channel(company_id, channel_id):
        raise NotFound(f"channel {channel_id} not found")
    secrets.delete(channel_id)
