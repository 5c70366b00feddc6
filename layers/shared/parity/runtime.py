"""Cached factories for what a warm container reuses: settings and the CRM store."""

from __future__ import annotations

from functools import lru_cache

from parity.adapters.dynamodb import CrmStore
from parity.settings import Settings, get_settings


def settings() -> Settings:
    return get_settings()


@lru_cache(maxsize=1)
def crm_store() -> CrmStore:
    """The CRM table adapter, built once per container (its client keeps connections warm)."""
    return CrmStore(get_settings().crm_table_name)
