"""Credentials: API keys and bearer tokens are random, and stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets

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
