"""Every minute (an EventBridge schedule): reopen the snoozed conversations whose time has come, so
their ``conversation.state_changed`` event goes out (reads show them open already)."""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

from datetime import datetime, timezone
from typing import Any

from parity.conversations import service
from parity.conversations.store import conversation_table
from parity.core.observability import instrumented, logger


@instrumented
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    table = conversation_table()
    due = table.snoozes_due(datetime.now(timezone.utc))
    woken = service.wake_snoozes(table, due)
    if due:
        logger.info("snoozes woken", extra={"due": len(due), "woken": woken})
    return {"woken": woken}
