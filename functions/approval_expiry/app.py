"""Every minute (an EventBridge schedule): a pending approval whose ``expires_at`` has come becomes
``expired`` (never approved), well within the contract's 5 minutes. Each is one conditional write, so
a decision made at the same moment wins or loses cleanly; a missed run is made up by the next."""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

from datetime import datetime, timezone
from typing import Any

from parity.approvals import service
from parity.approvals.store import trust_store
from parity.core.observability import bind, instrumented, logger


@instrumented
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    run = f"expiry-{getattr(context, 'aws_request_id', '') or 'run'}"
    bind(correlation_id=run)
    expired = service.expire_due(trust_store(), now=datetime.now(timezone.utc), correlation_id=run)
    if expired:
        logger.info("approvals expired", extra={"expired": expired})
    return {"expired": expired}
