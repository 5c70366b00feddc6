"""Faults on the local stack: a receiver that fails for a while or for good (issue 3), and a chat
history that fails or hangs (issue 4, ERR-2). The stack under test sends its webhooks and history
requests to a controllable stand-in ("the world") on loopback, which forwards healthy webhooks to
the stack's own receiver."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import httpx
import pytest
from parity_ops.dead_letters import list_dead_letters, redrive

from .conftest import running_stack
from .helpers import eventually, login, preview

HUB_TOKEN = "world-hub-token"


class World:
    """Modes: ``hook`` is "forward" or "fail"; ``hub`` is "ok", "fail" or "hang"."""

    def __init__(self) -> None:
        self.hook = "forward"
        self.hub = "ok"
        self.stack_url = ""
        self.deliveries: list[tuple[str, str, int]] = []  # (webhook-id, webhook-timestamp, status answered)
        self.lock = threading.Lock()

    def attempts_for(self, event_id: str) -> list[tuple[str, str, int]]:
        with self.lock:
            return [d for d in self.deliveries if d[0] == event_id]


def _handler(world: World):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # the omnichannel webhook
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            if world.hook == "forward":
                forwarded = httpx.post(f"{world.stack_url}/webhooks/qontak-crm", content=body, headers={k: v for k, v in self.headers.items() if k.lower().startswith(("webhook-", "content-type"))}, timeout=5)
                status = forwarded.status_code
            else:
                status = 500
            with world.lock:
                world.deliveries.append((self.headers.get("webhook-id", ""), self.headers.get("webhook-timestamp", ""), status))
            self._answer(status, b"{}")

        def do_GET(self) -> None:  # the hub's chat history
            if world.hub == "hang":
                time.sleep(8)
            if world.hub == "fail" or world.hub == "hang":
                self._answer(500, b'{"error": "down"}')
                return
            room = self.path.split("/rooms/")[1].split("?")[0]
            self._answer(200, ('{"data": [{"id": "m1", "room_id": "%s", "sender_type": "customer", "sender_name": "Sari", "text": "Call me at +62 811 2233 4455", "created_at": "2026-11-23T01:00:00.000Z"}]}' % room).encode())

        def _answer(self, status: int, body: bytes) -> None:
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the caller gave up waiting (the hang case)

        def log_message(self, *args) -> None:
            pass

    return Handler


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    state = World()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_port}"  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state
    server.shutdown()


@pytest.fixture(scope="module")
def world_stack(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {
        "OMNICHANNEL_WEBHOOK_URL": f"{world.url}/hook",  # type: ignore[attr-defined]
        "HUB_API_BASE_URL": world.url,  # type: ignore[attr-defined]
        "HUB_API_TOKEN": HUB_TOKEN,
        "WEBHOOK_RETRY_SCHEDULE": "1,1,1",  # 4 attempts in ~3 s, then the dead-letter queue
    }
    with running_stack(tmp_path_factory.mktemp("world-stack"), extra_env=env) as base_url:
        world.stack_url = base_url
        yield base_url


@pytest.fixture
def api(world_stack: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world_stack, timeout=10) as client:
        yield client


@pytest.fixture
def sqs_of(api: httpx.Client):
    """The stack's embedded SQS and its queue URLs, as an operator's tool finds them."""
    info = api.get("/_local/stack").json()
    client = boto3.client("sqs", endpoint_url=info["aws_endpoint_url"], region_name=info["region"], aws_access_key_id="testing", aws_secret_access_key="testing")
    return client, info["outputs"]


def create_bot_deal(api: httpx.Client, auth: dict[str, str]) -> tuple[dict, str]:
    room = f"room-{uuid.uuid4().hex[:8]}"
    deal = api.post("/api/v3.1/deals", headers=auth, json={"name": "Deal", "channel_integration_room_id": room, "creator_flag": "bot"}).json()["data"]
    return deal, room


def test_receiver_failing_for_a_while_gets_the_event_once_it_recovers_with_the_same_id(api, world, companies):
    # GIVEN the receiver fails
    world.hook = "fail"
    auth = login(api, companies["a"])
    deal, room = create_bot_deal(api, auth)
    failed = eventually(lambda: [d for d in world.deliveries if d[2] == 500 and d[0]], timeout=3)
    event_id = failed[-1][0]
    # WHEN it recovers after two failed attempts
    eventually(lambda: len(world.attempts_for(event_id)) >= 2, timeout=4)
    world.hook = "forward"
    # THEN the event is delivered, under the same webhook-id, each attempt freshly timestamped
    # (the world records an attempt once the stack's receiver has answered, so wait for that record)
    eventually(lambda: any(a[2] == 200 for a in world.attempts_for(event_id)), timeout=6)
    attempts = world.attempts_for(event_id)
    assert attempts[-1][2] == 200 and all(a[2] == 500 for a in attempts[:-1])
    assert len({a[1] for a in attempts}) >= 2
    assert preview(api, auth, room)["deal"]["id"] == deal["id"]


def test_never_delivered_lands_in_the_dlq_with_its_reason_and_redrive_delivers(api, world, companies, sqs_of):
    sqs, outputs = sqs_of
    world.hook = "fail"
    auth = login(api, companies["a"])
    deal, room = create_bot_deal(api, auth)
    # WHEN every attempt fails THEN after the schedule the event is in the webhook DLQ, with why
    letters = eventually(lambda: [d for d in list_dead_letters(sqs, outputs["WebhookDLQUrl"]) if deal["id"] in d.body], timeout=10, interval=0.3)
    assert "answered 500" in letters[0].reason and letters[0].attempts == 4
    assert preview(api, auth, room)["deal"] is None
    # WHEN the receiver is back and an operator redrives THEN it is delivered
    world.hook = "forward"
    time.sleep(5.5)  # the peeked dead letters become visible again
    assert redrive(sqs, outputs["WebhookDLQUrl"], outputs["WebhookQueueUrl"]) >= 1
    eventually(lambda: preview(api, auth, room)["deal"], timeout=5)


@pytest.mark.parametrize("mode", ["fail", "hang"])
def test_chat_history_down_still_gives_the_note_without_preview(api, world, companies, mode):
    world.hook, world.hub = "forward", mode
    try:
        auth = login(api, companies["a"])
        started = time.monotonic()
        deal, _ = create_bot_deal(api, auth)
        notes = eventually(lambda: api.get(f"/api/v3.1/deals/{deal['id']}/timeline", headers=auth).json()["data"], timeout=5, interval=0.1)
        assert time.monotonic() - started < 5
        assert (notes[0]["preview"], notes[0]["preview_status"]) == (None, "unavailable")
        assert notes[0]["deeplink"]
    finally:
        world.hub = "ok"


def test_history_from_a_real_hub_is_masked(api, world, companies):
    world.hook, world.hub = "forward", "ok"
    auth = login(api, companies["a"])
    deal, _ = create_bot_deal(api, auth)
    notes = eventually(lambda: api.get(f"/api/v3.1/deals/{deal['id']}/timeline", headers=auth).json()["data"], timeout=3)
    assert notes[0]["preview_status"] == "ok"
    assert "2233 4455" not in notes[0]["preview"][0]["text"]
