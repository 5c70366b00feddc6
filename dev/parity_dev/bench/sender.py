"""Figure 7: the webhook sender (real handler, warm) against a local receiver that answers every
POST after a fixed delay; wall time per message vs that delay, and the TCP connections the
receiver accepted (one warm container should open one)."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from parity_dev.bench.awsstub import AwsStub
from parity_dev.bench.handlers import Context, _sqs_event, captured_bytes, environment, load, reset_runtime


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    accepted = 0

    def get_request(self):  # one per accepted TCP connection
        conn = super().get_request()
        self.accepted += 1
        return conn


def webhook_sender(root: Path, *, delay: float = 0.05, messages: int = 40) -> dict[str, Any]:
    class Slow(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = 1 << 16  # headers and body in one segment (flushed after each request)

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("content-length") or 0))
            time.sleep(delay)
            body = b'{"status":"applied"}'
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = _Server(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        environment()
        os.environ["OMNICHANNEL_WEBHOOK_URL"] = f"http://127.0.0.1:{server.server_port}/webhooks/qontak-crm"
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
    finally:
        server.shutdown()
        server.server_close()
    return {
        "delay_ms": delay * 1000, "per_message_ms": per_message * 1000, "ratio": per_message / delay,
        "connections": server.accepted, "messages": messages, "log_bytes": logged[0] / messages,
    }
