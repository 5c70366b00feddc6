"""Credentials: API keys and bearer tokens are random, and stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any, NamedTuple, Protocol


TOKEN_PREFIX = "pty_"
API_KEY_PREFIX = "pk_"


def hash_secret(secret: str) -> str:
    """The hex SHA-256 of a secret. Keys and tokens carry ≥ 256 bits of entropy, so an unsalted
    hash cannot be brute-forced; it lets us look a secret up without ever storing it."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh bearer token (256 random bits)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_api_key() -> str:
    """A fresh company API key (256 random bits)."""
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None when absent or malformed."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token


class TokenStore(Protocol):
    """What checking a token needs of the CRM table (``parity.crm.store.CrmStore``)."""

    def token(self, token_hash: str) -> Any: ...

    def company_for_api_key(self, key_hash: str) -> str | None: ...


class TokenOwner(NamedTuple):
    """Who a live token speaks for: the company, until when, the key's role (None: a producer,
    ``parity.approvals.roles.parse_role``) and the sso_id it was issued for."""

    company_id: str
    expires_at: int
    role: str | None = None
    sso_id: str | None = None


def token_company(store: TokenStore, token_hash: str, *, now: float) -> TokenOwner | None:
    """Who a live token speaks for, or None when it is unknown, expired, or was issued from an API
    key that has since been revoked (``parity ops key revoke``): revoking a leaked key also cuts off
    the tokens obtained with it."""
    found = store.token(token_hash)
    if found is None:
        return None
    if found.expires_at <= now:
        return None
    if found.key_hash and store.company_for_api_key(found.key_hash) != found.company_id:
        return None
    return TokenOwner(found.company_id, found.expires_at, found.role, found.sso_id)
