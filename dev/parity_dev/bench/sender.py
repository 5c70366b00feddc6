"""Figure 7: the webhook sender (real handler, warm) against a local receiver that answers every
POST after a fixed delay; wall time per message vs that delay, and the TCP connections the
receiver accepted (one warm container should open one)."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

from parity_dev.bench.awsstub import AwsStub
from parity_dev.bench.handlers import (
    Context,
    _sqs_event,
    captured_bytes,
    environment,
    load,
    reset_runtime,
)
from parity_dev.bench.loopback import Server, json_server


def webhook_sender(root: Path, *, delay: float = 0.05, messages: int = 40) -> dict[str, Any]:
    def slow(_method: str, _path: str) -> dict[str, str]:
        time.sleep(delay)
        return {"status": "applied"}

    with json_server(slow) as server:
        return _deliver(root, server, delay=delay, messages=messages)


def _deliver(root: Path, server: Server, *, delay: float, messages: int) -> dict[str, Any]:
    environment()
    os.environ["OMNICHANNEL_WEBHOOK_URL"] = f"{server.url}/webhooks/qontak-crm"
    os.environ["ALLOW_PRIVATE_TARGETS"] = "true"
    with AwsStub():
        reset_runtime()
        sender = load(root, "webhook_sender")

        def body() -> str:
            return json.dumps({"event_id": uuid.uuid4().hex, "eventType": "qontak.crm.deal.create", "company_id": "bench-co", "occurred_at": "2026-01-01T00:00:00.000Z",
                               "data": {"id": uuid.uuid4().hex, "type": "deal", "channel_integration_room_id": "room-1"}})

        ctx = Context()
        with captured_bytes() as logged:  # its log and metric lines: the log volume of figure 5
            start = time.perf_counter()
            for _ in range(messages):
                result = sender.handler(_sqs_event([body()]), ctx)
                if result.get("batchItemFailures"):
                    raise RuntimeError(f"the sender failed a delivery: {result}")
            per_message = (time.perf_counter() - start) / messages
    return {
        "delay_ms": delay * 1000, "per_message_ms": per_message * 1000, "ratio": per_message / delay,
        "connections": server.accepted, "messages": messages, "log_bytes": logged[0] / messages,
    }
