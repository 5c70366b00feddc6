"""The approval policy on the CRM's create and PATCH paths (``parity.crm.service.HoldGate``).

A bot/AI create or PATCH reads the company's policy through ``PolicyCache`` (one GetItem per company
per ≤ 60 s per warm container, like the parity flag), so a write that is not held stays at the CRM's
one request. A held create is one request too: the approval's conditional Put, in the same
TransactWriteItems as the create's idempotency entry when there is one (the CRM store runs it), so a
replay answers the same 202. A held PATCH is one PutItem of the approval. Nothing is written to the
CRM's records: no stream record, hence no event, no preview, no note.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from parity.approvals import approval as ap
from parity.approvals import policy
from parity.approvals.store import TrustStore, trust_store
from parity.core.clock import new_id
from parity.core.settings import settings
from parity.core.warm import warm


class Gate:
    def __init__(self, store: TrustStore, cache: policy.PolicyCache, *, monotonic: Callable[[], float] = time.monotonic, make_id: Callable[[datetime], str] = new_id) -> None:
        self.store = store
        self.cache = cache
        self.monotonic = monotonic
        self.make_id = make_id

    def holds(self, company_id: str, creator_flag: str, confidence: Decimal | None) -> Mapping[str, Any] | None:
        rules = self.cache.get(company_id, now=self.monotonic())
        return rules if policy.held(rules, creator_flag, confidence) else None

    def held_create(self, company_id: str, record_type: str, sent: Mapping[str, Any], rules: Mapping[str, Any], *, now: datetime, correlation_id: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
        trust = {"confidence": sent.get("confidence"), "agent_id": sent.get("agent_id")}
        held = ap.held_create(company_id, record_type, sent, trust=trust, approval_id=ap.approval_id(self.make_id(now)),
                              expires_in=int(rules["expires_in"]), now=now, correlation_id=correlation_id)
        return self.store.put_approval_request(held), {"data": {"approval": ap.public(held)}}

    def hold_update(self, record: Mapping[str, Any], sent: Mapping[str, Any], rules: Mapping[str, Any], *, now: datetime, correlation_id: str | None) -> dict[str, Any]:
        trust = {"confidence": sent.get("confidence"), "agent_id": sent.get("agent_id")}
        held = ap.held_update(record, sent, trust=trust, approval_id=ap.approval_id(self.make_id(now)),
                              expires_in=int(rules["expires_in"]), now=now, correlation_id=correlation_id)
        self.store.put_approval(held)
        return {"data": {"approval": ap.public(held)}}


@warm
def policy_cache() -> policy.PolicyCache:
    """The warm container's memory of each company's policy (``APPROVAL_POLICY_CACHE_SECONDS``, ≤ 60 s)."""
    return policy.PolicyCache(lambda company_id: trust_store().policy_item(company_id), ttl=settings().approval_policy_cache_seconds)


@warm
def gate() -> Gate:
    return Gate(trust_store(), policy_cache())
