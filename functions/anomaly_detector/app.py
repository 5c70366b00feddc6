"""Every 5 minutes (an EventBridge schedule), and on the local stack on ``POST /_local/anomalies/run``:
the three anomaly rules over each company's recent bot/AI activity (its counters, pending approvals and
open anomalies); one open anomaly per company and type, resolved on the first run where its rule no
longer trips (``parity.approvals.anomalies``)."""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

from datetime import datetime, timezone
from typing import Any

from parity.approvals import service
from parity.approvals.store import trust_store
from parity.core.observability import bind, instrumented, logger


@instrumented
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    bind(correlation_id=f"detector-{getattr(context, 'aws_request_id', '') or 'run'}")
    done = service.detect(trust_store(), now=datetime.now(timezone.utc))
    logger.info("anomaly detector ran", extra=done)
    return done
