"""``parity ops key``: company API keys, issued once and kept only as their hash."""

from __future__ import annotations

from typing import Any

from parity.core.settings import MAX_CACHE_SECONDS
from parity.crm.credentials import hash_secret, new_api_key
from parity.crm.store import key_id as key_id_of
from parity_ops.target import OpsError, Target, iso, now


def key_issue(target: Target, company_id: str) -> dict[str, Any]:
    """A new API key for the company (created, flag unset, when it does not exist yet). The key is
    returned once and stored only as its hash."""
    crm = target.crm()
    created = crm.ensure_company(company_id)
    api_key = new_api_key()
    crm.put_api_key(hash_secret(api_key), company_id)
    return {"company_id": company_id, "key_id": key_id_of(hash_secret(api_key)), "api_key": api_key, "company_created": created}


def key_list(target: Target, company_id: str) -> dict[str, Any]:
    """The company's keys by id (never the keys themselves), with their state."""
    keys = target.crm().api_keys(company_id)
    return {
        "company_id": company_id,
        "keys": [
            {"key_id": k.get("key_id"), "created_at": iso(k.get("created_at")), "revoked": bool(k.get("revoked")), "revoked_at": iso(k.get("revoked_at"))}
            for k in sorted(keys, key=lambda k: int(k.get("created_at") or 0))
        ],
    }


def key_revoke(target: Target, company_id: str, *, key_id: str | None = None) -> dict[str, Any]:
    """Revoke one of the company's keys (by id), or all of them. A revoked key can no longer be
    exchanged for a token, and the tokens already issued from it stop working within the
    authorizer's token cache (``MAX_CACHE_SECONDS``)."""
    crm = target.crm()
    keys = [k for k in crm.api_keys(company_id) if not k.get("revoked")]
    if key_id is not None:
        keys = [k for k in keys if str(k.get("key_id")) == key_id or str(k["key_hash"]).startswith(key_id)]
        if not keys:
            raise OpsError(f"{company_id} has no active key {key_id} (see `parity ops key list {company_id}`)")
    if not keys:
        raise OpsError(f"{company_id} has no active keys")
    moment = now()
    revoked = [str(k.get("key_id")) for k in keys if crm.revoke_api_key(company_id, str(k["key_hash"]), now=moment)]
    return {"company_id": company_id, "revoked": revoked, "tokens_stop_within_s": MAX_CACHE_SECONDS}
