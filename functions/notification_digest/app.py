"""Every hour, on the hour (an EventBridge schedule): each company whose notification settings say
``digest`` gets one Slack message listing the approvals requested and the anomalies opened in the
hour that just ended (none when nothing happened), queued on ``NotifyQueue`` for the notifier."""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

from datetime import datetime, timezone
from typing import Any

from parity.approvals import service
from parity.approvals.slack import console_url
from parity.approvals.store import trust_store
from parity.core.observability import bind, instrumented, logger
from parity.core.queues import queues
from parity.core.settings import settings


@instrumented
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    bind(correlation_id=f"digest-{getattr(context, 'aws_request_id', '') or 'run'}")
    config = settings()
    queued = service.digests(
        trust_store(), now=datetime.now(timezone.utc), notify=lambda message: queues().send(config.require("notify_queue_url"), message),
        approval_url_template=config.approval_url_template, console_url=console_url(config.approval_url_template),
    )
    logger.info("digests queued", extra={"queued": queued})
    return {"queued": queued}
