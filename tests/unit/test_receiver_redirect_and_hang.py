"""The receiver redirecting or hanging, against a real loopback server: the redirect is not followed
(its target never sees a request) and a hang costs the read timeout; both are retried on the schedule."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from parity.core import outbound
from parity.outbox import sender
from urllib3.exceptions import HTTPError

from .fakes import send

SECRET = "whsec_" + "cGFyaXR5LXVuaXQtdGVzdHMtc2VjcmV0LWtleSEhIQ=="
SCHEDULE = [10, 30, 120]
BODY = '{"eventType":"qontak.crm.deal.create","event_id":"evt_1","company_id":"c","occurred_at":"2026-01-01T00:00:00.000Z","data":{"id":"d1"}}'


@pytest.fixture
def world():
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            hits.append(self.path)
            self.rfile.read(int(self.headers.get("content-length", 0)))
            if self.path == "/redirect":
                self.send_response(307)
                self.send_header("Location", "/elsewhere")
                self.send_header("content-length", "0")
                self.end_headers()
            elif self.path == "/hang":
                time.sleep(2)
            else:
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", hits
    server.shutdown()
    server.server_close()


def _post_to(url: str):
    client = outbound.new_client(connect=0.5, read=0.5)

    def post(body: str, headers: dict[str, str]) -> sender.Reply:
        target = outbound.resolve(url, allow_private=True)
        try:
            response = send(client, "POST", target, body=body.encode(), headers=headers)
        except HTTPError as exc:
            return sender.Reply(status=None, problem="timed out" if outbound.timed_out(exc) else type(exc).__name__)
        return sender.Reply(status=response.status, retry_after=response.headers.get("retry-after"))

    return post


def test_a_redirect_is_not_followed_and_is_retried_on_the_schedule(world):
    # GIVEN a receiver that answers 307 to another path it also serves
    base, hits = world
    # WHEN an event is delivered there
    outcome = sender.attempt(BODY, 1, secrets=[SECRET], post=_post_to(f"{base}/redirect"), schedule=SCHEDULE, now=datetime.now(timezone.utc))
    # THEN the redirect's target never got a request, and the attempt is a failure retried on the schedule
    assert hits == ["/redirect"]
    assert not outcome.delivered and not outcome.give_up and outcome.delay == SCHEDULE[0]
    assert "redirects are not followed" in outcome.reason


def test_a_hanging_receiver_costs_the_read_timeout_and_is_retried(world):
    # GIVEN a receiver that never answers
    base, hits = world
    started = time.monotonic()
    # WHEN an event is delivered there
    outcome = sender.attempt(BODY, 2, secrets=[SECRET], post=_post_to(f"{base}/hang"), schedule=SCHEDULE, now=datetime.now(timezone.utc))
    # THEN the attempt ends at the read timeout, not when the receiver gives up, and is retried next on the schedule
    assert time.monotonic() - started < 1.5
    assert hits == ["/hang"] and outcome.reason == "timed out"
    assert not outcome.delivered and not outcome.give_up and outcome.delay == SCHEDULE[1]
