"""Cached factories for what a warm container reuses: settings, stores, queues, the hub client,
the signing secrets."""

from __future__ import annotations

from functools import lru_cache

from typing import TYPE_CHECKING

from parity.adapters.dynamodb import CrmStore
from parity.settings import Settings, get_settings

if TYPE_CHECKING:  # pragma: no cover
    from parity.adapters.hub import HubClient
    from parity.adapters.previews import PreviewStore
    from parity.adapters.queues import Queues
    from parity.adapters.secrets import SigningSecrets


def settings() -> Settings:
    return get_settings()


@lru_cache(maxsize=1)
def crm_store() -> CrmStore:
    """The CRM table adapter, built once per container (its client keeps connections warm)."""
    return CrmStore(get_settings().require("crm_table_name"))


@lru_cache(maxsize=1)
def preview_store() -> PreviewStore:
    """The preview table adapter (omnichannel side)."""
    from parity.adapters.previews import PreviewStore

    return PreviewStore(get_settings().require("preview_table_name"))


@lru_cache(maxsize=1)
def queues() -> Queues:
    """The SQS adapter, built once per container."""
    from parity.adapters.queues import Queues

    return Queues()


@lru_cache(maxsize=1)
def hub() -> HubClient:
    """The chat-history client (keeps its connections warm between messages)."""
    from parity.adapters.hub import HubClient

    config = get_settings()
    return HubClient(config.hub_api_base_url, config.hub_api_token, allow_private=config.allow_private_targets)


@lru_cache(maxsize=1)
def signing_secrets() -> SigningSecrets:
    """The webhook signing secret(s): the operator-rotated SSM parameter, else the deploy-time value."""
    from parity.adapters.secrets import SigningSecrets

    config = get_settings()
    return SigningSecrets(config.webhook_signing_secret_parameter, config.webhook_signing_secret, ttl_seconds=config.webhook_secret_cache_seconds)
