"""The trust capability's own piece of the local stack (dev only, never deployed).

    POST /_local/anomalies/run    runs the anomaly detector now, as its EventBridge schedule would
                                  (through the runtime: the function's own worker and environment);
                                  answers what the run did: {"companies", "opened", "resolved"}

Only this: schedules in general (``POST /_local/schedules/{FunctionLogicalId}/run``) are the local
stack's, not this module's.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from parity_dev.lambdas import LambdaRuntime

DETECTOR = "AnomalyDetectorFunction"
Reply = tuple[int, dict[str, str], bytes]


def scheduled_event(rule: str = "local") -> dict[str, Any]:
    """An EventBridge scheduled event, as a schedule's rule delivers it."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events", "account": "123456789012",
            "time": now, "region": "us-east-1", "resources": [f"arn:aws:events:us-east-1:123456789012:rule/{rule}"], "detail": {}}


def mount(runtime: LambdaRuntime) -> Any:
    def handle(method: str, raw_path: str, raw_query: str, headers: Any, body: bytes) -> Reply | None:
        if raw_path != "/_local/anomalies/run":
            return None
        if method != "POST":
            return _json(405, {"message": "Method Not Allowed"})
        from parity_dev.lambdas import FunctionError

        try:
            done = runtime.invoke(DETECTOR, scheduled_event("anomaly-detector"))
        except FunctionError as exc:
            return _json(502, {"error": {"code": "detector_failed", "message": str(exc)[:500], "details": []}})
        return _json(200, {"data": done})

    return handle


def _json(status: int, payload: Any) -> Reply:
    return status, {"content-type": "application/json", "cache-control": "no-store"}, json.dumps(payload).encode()
