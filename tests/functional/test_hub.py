"""The chat-history fetcher against a real HTTP server on 127.0.0.1 (no network beyond loopback):
the time budget, the byte cap, the address guard, the single retry, and the hub's answer shape."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from parity.core import outbound
from parity.timeline.hub import BUDGET_SECONDS, HubClient, history_url

TOKEN = "hub-test-token"
ROOM = "room-123"
GOOD = {"data": [{"id": "m1", "room_id": ROOM, "sender_type": "customer", "sender_name": "Budi", "text": "HP 0812-3456-7890", "created_at": "2026-11-23T03:00:00.000Z"}]}


@dataclass
class Hub:
    """A scripted hub: ``script(handler, call_number)`` answers each request."""

    url: str
    stop: threading.Event
    script: Callable[[BaseHTTPRequestHandler, int], None] = lambda h, n: send(h, 200, GOOD)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)


def send(handler: BaseHTTPRequestHandler, status: int, payload=None, *, body: bytes | None = None, headers: dict[str, str] | None = None) -> None:
    data = body if body is not None else json.dumps(payload).encode()
    handler.send_response(status)
    for name, value in {"Content-Type": "application/json", "Content-Length": str(len(data)), **(headers or {})}.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data)


def wait(hub: Hub, seconds: float) -> None:
    """Sleep like a hung hub, but end with the test."""
    hub.stop.wait(seconds)


@pytest.fixture
def hub() -> Iterator[Hub]:
    state: dict[str, Hub] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            current = state["hub"]
            current.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            try:
                current.script(self, len(current.requests))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up, as it should

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state["hub"] = Hub(url=f"http://127.0.0.1:{server.server_port}", stop=threading.Event())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state["hub"]
    state["hub"].stop.set()
    server.shutdown()
    server.server_close()


def client(hub: Hub, **kwargs) -> HubClient:
    return HubClient(hub.url, TOKEN, allow_private=True, **kwargs)


def timed(fetch: Callable[[], object]) -> tuple[object, float]:
    started = time.monotonic()
    result = fetch()
    return result, time.monotonic() - started


# ---- happy path ----------------------------------------------------------------------------------
def test_history_is_fetched_with_the_bearer_token(hub):
    # GIVEN a hub holding the room's messages / WHEN the history is fetched
    history = client(hub).chat_history(ROOM)
    # THEN the messages come back, asked for on the documented route with the bearer token
    assert history.available and [m.id for m in history.messages] == ["m1"] and history.attempts == 1
    path, headers = hub.requests[0]
    assert path == "/api/open/v1/messages/rooms/room-123?offset=1&limit=100"
    assert headers["authorization"] == f"Bearer {TOKEN}" and headers["accept-encoding"] == "identity"


def test_the_room_id_stays_one_path_segment(hub):
    room = "room 1/../x?y"
    hub.script = lambda h, n: send(h, 200, {"data": []})
    assert client(hub).chat_history(room).available
    assert hub.requests[0][0] == "/api/open/v1/messages/rooms/room%201%2F..%2Fx%3Fy?offset=1&limit=100"
    assert history_url("https://hub.example.com/", "a") == "https://hub.example.com/api/open/v1/messages/rooms/a?offset=1&limit=100"


def test_a_gzip_answer_is_decoded(hub):
    body = gzip.compress(json.dumps(GOOD).encode())
    hub.script = lambda h, n: send(h, 200, body=body, headers={"Content-Encoding": "gzip"})
    assert client(hub).chat_history(ROOM).available


# ---- time budget -----------------------------------------------------------------------------------
def test_a_hung_hub_costs_the_budget_and_no_more(hub):
    # GIVEN a hub that answers only after 20 s
    hub.script = lambda h, n: (wait(hub, 20), send(h, 200, GOOD))
    # WHEN the history is fetched with the default budget
    history, elapsed = timed(lambda: client(hub).chat_history(ROOM))
    # THEN it gives up with no history, within the 3 s budget (plus scheduling slack), not after 20 s
    assert not history.available and history.attempts == 1
    assert BUDGET_SECONDS - 0.2 <= elapsed < BUDGET_SECONDS + 1.5, elapsed


def _headers_at_once(h) -> None:
    h.send_response(200)
    h.send_header("Content-Length", "1000")
    h.end_headers()


@pytest.mark.parametrize("opening, dripped", [
    pytest.param(_headers_at_once, b" " * 1000, id="the body"),
    pytest.param(None, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Padding: " + b"x" * 100, id="the status line and headers"),
])
def test_an_answer_dripped_a_byte_at_a_time_cannot_stretch_the_budget(hub, opening, dripped):
    # GIVEN a hub that sends `opening` at once (if any), then `dripped` one byte every 0.2 s
    cut_off: list[float] = []

    def drip(h, n):
        if opening is not None:
            opening(h)
        h.wfile.flush()
        try:
            for byte in dripped:
                h.wfile.write(bytes([byte]))
                h.wfile.flush()
                if hub.stop.wait(0.2):
                    return
        except OSError:
            cut_off.append(time.monotonic())
        h.close_connection = True

    hub.script = drip
    started = time.monotonic()
    history, elapsed = timed(lambda: client(hub, budget_seconds=1.0).chat_history(ROOM))
    # THEN the fetch gives up at the budget, not when the hub is done (about 30 s)
    assert not history.available and elapsed < 2.5, elapsed
    # AND the abandoned read does not go on: the hub finds the connection cut soon after the deadline
    for _ in range(30):
        if cut_off:
            break
        time.sleep(0.1)
    assert cut_off and cut_off[0] - started < 2.5, cut_off


# ---- failing answers -------------------------------------------------------------------------------
def test_a_5xx_is_retried_once_then_given_up(hub):
    hub.script = lambda h, n: send(h, 500, {"error": "boom"})
    history = client(hub).chat_history(ROOM)
    assert not history.available and history.attempts == 2 and len(hub.requests) == 2
    assert "500" in history.problem


def test_a_transient_5xx_is_recovered_by_the_retry(hub):
    hub.script = lambda h, n: send(h, 503, {}) if n == 1 else send(h, 200, GOOD)
    history = client(hub).chat_history(ROOM)
    assert history.available and history.attempts == 2


def test_no_retry_when_the_budget_left_is_too_short(hub):
    # GIVEN a first answer (a 503) that uses up most of a 1 s budget
    hub.script = lambda h, n: (wait(hub, 0.7), send(h, 503, {}))
    history = client(hub, budget_seconds=1.0).chat_history(ROOM)
    # THEN there is no second attempt
    assert not history.available and len(hub.requests) == 1


@pytest.mark.parametrize("status", [400, 401, 404])
def test_a_4xx_is_not_retried(hub, status):
    hub.script = lambda h, n: send(h, status, {"error": "no"})
    history = client(hub).chat_history(ROOM)
    assert not history.available and history.attempts == 1 and str(status) in history.problem


def test_a_redirect_is_not_followed(hub):
    # GIVEN a hub redirecting to another path of itself
    hub.script = lambda h, n: send(h, 302, {}, headers={"Location": f"{hub.url}/elsewhere"})
    history = client(hub).chat_history(ROOM)
    # THEN only the first request was made, and the answer counts as no history
    assert not history.available and "redirect" in history.problem
    assert [p for p, _ in hub.requests] == ["/api/open/v1/messages/rooms/room-123?offset=1&limit=100"]


@pytest.mark.parametrize(
    "body",
    [b"<html>oops</html>", b"", b'{"data": [', b"[" * 100_000 + b"]" * 100_000],
)
def test_a_body_that_is_not_json_is_no_history(hub, body):
    hub.script = lambda h, n: send(h, 200, body=body)
    history = client(hub).chat_history(ROOM)
    assert not history.available and history.problem == "the body is not JSON"


@pytest.mark.parametrize("payload", [{"messages": []}, {"data": [{"id": "m1"}]}, {"data": [{**GOOD["data"][0], "room_id": "room-999"}]}])
def test_a_json_body_of_the_wrong_shape_is_no_history(hub, payload):
    hub.script = lambda h, n: send(h, 200, payload)
    history = client(hub).chat_history(ROOM)
    assert not history.available and "shape" in history.problem


# ---- byte cap --------------------------------------------------------------------------------------
def test_a_declared_huge_body_is_refused(hub):
    big = json.dumps({"data": [], "pad": "x" * (2 * 1024 * 1024)}).encode()
    hub.script = lambda h, n: send(h, 200, body=big)
    history = client(hub).chat_history(ROOM)
    assert not history.available and "over" in history.problem


def test_an_undeclared_huge_body_is_cut_off_while_streaming(hub):
    # GIVEN a body sent without a length, bigger than the cap
    def endless(h, n):
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Connection", "close")
        h.end_headers()
        chunk = b"x" * 65536
        for _ in range(64):  # 4 MiB
            h.wfile.write(chunk)

    hub.script = endless
    history = client(hub, max_bytes=256 * 1024).chat_history(ROOM)
    assert not history.available and "over" in history.problem


def test_a_compression_bomb_is_cut_off_at_the_cap(hub):
    bomb = gzip.compress(b" " * (20 * 1024 * 1024))  # about 20 KiB on the wire
    hub.script = lambda h, n: send(h, 200, body=bomb, headers={"Content-Encoding": "gzip"})
    history = client(hub).chat_history(ROOM)
    assert not history.available and "over" in history.problem


# ---- address guard and configuration ---------------------------------------------------------------
def test_a_private_address_is_refused_without_connecting(hub):
    # GIVEN private targets are not allowed (deployed default) / WHEN the hub URL is loopback
    history = HubClient(hub.url, TOKEN, allow_private=False).chat_history(ROOM)
    # THEN no request reaches it, and the note will go without preview
    assert not history.available and history.problem.startswith("target refused")
    assert hub.requests == []


def test_a_name_that_does_not_resolve_at_first_is_retried_within_the_budget(hub, monkeypatch):
    # GIVEN a deployed client (private targets refused) whose hub name fails to resolve once
    # (EAI_AGAIN, a DNS hiccup), then resolves; loopback stands in for the hub's public address
    monkeypatch.setattr(outbound, "is_public", lambda address: True)
    lookups: list[str] = []

    def flaky(host, port, type=None):
        lookups.append(host)
        if len(lookups) == 1:
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    base = f"http://hub.example.com:{urlsplit(hub.url).port}"
    # WHEN the history is fetched
    history = HubClient(base, TOKEN, allow_private=False, resolver=flaky).chat_history(ROOM)
    # THEN the failed lookup was a retryable failure: the second attempt got the history
    assert history.available and history.attempts == 2
    assert lookups == ["hub.example.com", "hub.example.com"] and len(hub.requests) == 1


@pytest.mark.parametrize(("base", "token", "problem"), [(None, TOKEN, "HUB_API_BASE_URL"), ("http://127.0.0.1:9", None, "HUB_API_TOKEN")])
def test_missing_configuration_is_no_history_not_an_error(base, token, problem):
    history = HubClient(base, token, allow_private=True).chat_history(ROOM)
    assert not history.available and problem in history.problem and history.attempts == 0


def test_a_refused_connection_is_no_history_after_one_retry():
    # Port 9 (discard) on loopback: nothing listens in a test environment.
    history = HubClient("http://127.0.0.1:9", TOKEN, allow_private=True).chat_history(ROOM)
    assert not history.available and "connection failed" in history.problem and history.attempts == 2


def test_the_token_stays_out_of_repr():
    assert TOKEN not in repr(HubClient("https://hub.example.com", TOKEN))
