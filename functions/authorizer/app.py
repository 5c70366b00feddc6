"""HTTP API Lambda authorizer: company bearer token → company_id.

The contract (DESIGN "Auth") wants 401 for an unknown or expired token, but an HTTP API
authorizer that says ``isAuthorized: false`` makes API Gateway answer 403. So the authorizer
always lets the request through, with either ``company_id`` or ``auth_error`` in its context,
and the shared router (``parity.core.http.Request.company``) answers 401 before any route code runs.
A missing Authorization header never reaches us: API Gateway answers 401 itself.

Token lookups are cached in the warm container for at most ``MAX_CACHE_SECONDS`` (60 s) and never
past the token's expiry, so a busy producer costs no DynamoDB read per request. A token whose API
key was revoked stops working within those 60 s (``parity.crm.credentials.token_company``), as
``parity ops key revoke`` promises.
"""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

import hmac
import time
from typing import Any

from parity.core.settings import MAX_CACHE_SECONDS, settings
from parity.crm.credentials import bearer_token, hash_secret, token_company
from parity.crm.store import crm_store

_CACHE_SECONDS = float(MAX_CACHE_SECONDS)
_CACHE_MAX = 2048
_cache: dict[str, tuple[str, float]] = {}  # token hash → (company_id, valid until)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    token = bearer_token((event.get("headers") or {}).get("authorization"))
    if token is None:
        return _deny("invalid_request")
    internal = settings().hub_api_token
    if internal and hmac.compare_digest(token.encode(), internal.encode()):
        # The internal chat-history token (HUB_API_TOKEN): a Parity service, no company. Only the
        # routes that say so (``Router.route(internal=True)``) let it through.
        return {"isAuthorized": True, "context": {"internal": "true"}}
    company = _company(hash_secret(token), time.time())
    return {"isAuthorized": True, "context": {"company_id": company}} if company else _deny("invalid_token")


def _company(token_hash: str, now: float) -> str | None:
    cached = _cache.get(token_hash)
    if cached and cached[1] > now:
        return cached[0]
    found = token_company(crm_store(), token_hash, now=now)
    if found is None:
        _cache.pop(token_hash, None)
        return None
    company_id, expires_at = found
    if len(_cache) >= _CACHE_MAX:
        _cache.clear()
    _cache[token_hash] = (company_id, min(now + _CACHE_SECONDS, float(expires_at)))
    return company_id


def _deny(reason: str) -> dict[str, Any]:
    return {"isAuthorized": True, "context": {"auth_error": reason}}


# Last statement of the module (the others do this in parity.core.observability.instrumented).
parity.core.coldstart.resume()
