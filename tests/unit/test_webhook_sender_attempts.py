"""One attempt of the webhook sender, through its own record handler: a name that does not resolve
right now is a failed attempt retried on the schedule, while a refused target is dead-lettered at
once (decided on ``Reply.refused``, never on the wording); and a receiver that drips its answer a
byte at a time costs the attempt's deadline and no more. The queues are fakes; the receiver is a
real server on 127.0.0.1."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from parity.core import outbound
from parity.core.queues import RetryLater
from parity.core.settings import get_settings
from parity.crm import flags
from parity.outbox import sender as delivery
from parity_dev.lambdas import load_handler

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
SECRET = "whsec_" + "cGFyaXR5LXVuaXQtdGVzdHMtc2VjcmV0LWtleSEhIQ=="
SCHEDULE = "7,30,120"
BODY = '{"eventType":"qontak.crm.deal.create","event_id":"evt_1","company_id":"c1","occurred_at":"2026-01-01T00:00:00.000Z","data":{"id":"d1"}}'


class Queues:
    def __init__(self) -> None:
        self.postponed: list[int] = []
        self.dead_letters: list[str] = []

    def postpone(self, url: str, handle: str, seconds: int) -> None:
        self.postponed.append(seconds)

    def dead_letter(self, url: str, body: str, *, reason: str, attempts: int, source: str, attributes=None) -> None:
        self.dead_letters.append(reason)


class Secrets:
    def current(self) -> list[str]:
        return [SECRET]


@pytest.fixture
def sender(monkeypatch) -> Iterator[Any]:
    """The sender's app module, its queues and secrets faked, aimed at ``sender.aim(url, allow_private)``."""
    module = sys.modules[load_handler(FUNCTIONS / "webhook_sender", "app.handler").__module__]
    queues = Queues()
    monkeypatch.setattr(module, "queues", lambda: queues)
    monkeypatch.setattr(module, "signing_secrets", lambda: Secrets())

    def aim(url: str, *, allow_private: bool) -> None:
        monkeypatch.setenv("OMNICHANNEL_WEBHOOK_URL", url)
        monkeypatch.setenv("ALLOW_PRIVATE_TARGETS", "true" if allow_private else "false")
        get_settings.cache_clear()

    for name, value in {"WEBHOOK_QUEUE_URL": "https://sqs.example/q", "WEBHOOK_DLQ_URL": "https://sqs.example/dlq", "WEBHOOK_RETRY_SCHEDULE": SCHEDULE}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    flags.forget()
    module.aim, module.fake_queues = aim, queues
    yield module
    del module.aim, module.fake_queues
    get_settings.cache_clear()
    flags.forget()


def deliver(module: Any) -> str:
    """Run one attempt (the first); the outcome: "delivered", "postponed" or "dead-lettered"."""
    record = SQSRecord({"messageId": "m-1", "receiptHandle": "rh-1", "body": BODY, "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}})
    try:
        module.record_handler(record)
    except RetryLater:
        return "postponed"
    return "dead-lettered" if module.fake_queues.dead_letters else "delivered"


@pytest.fixture
def resolving(monkeypatch):
    """``resolving(resolver)``: the sender's name lookups go to ``resolver`` (getaddrinfo's shape)."""
    original = outbound.resolve

    def use(resolver) -> None:
        monkeypatch.setattr(outbound, "resolve", lambda url, **kwargs: original(url, **{**kwargs, "resolver": resolver}))

    return use


def resolver_raising(error: OSError):
    def resolve(host, port, type=None):
        raise error

    return resolve


# ---- a name that does not resolve now vs a refused target -------------------------------------------
@pytest.mark.parametrize(
    "error",
    [
        socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"),
        socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
        OSError("the resolver is down"),
    ],
    ids=["EAI_AGAIN", "EAI_NONAME", "OSError"],
)
def test_a_name_that_does_not_resolve_now_is_postponed_on_the_schedule_not_dead_lettered(sender, resolving, error):
    # GIVEN a deployed sender (private targets refused) whose resolver fails for the webhook's host
    sender.aim("https://hooks.example.com/webhooks/qontak-crm", allow_private=False)
    resolving(resolver_raising(error))
    # WHEN the first attempt is made
    outcome = deliver(sender)
    # THEN it is a failed attempt, hidden for the schedule's first delay, not parked in the DLQ
    assert outcome == "postponed"
    assert sender.fake_queues.postponed == [7] and sender.fake_queues.dead_letters == []


def test_a_name_resolving_to_nothing_is_postponed_too(sender, resolving):
    sender.aim("https://hooks.example.com/webhooks/qontak-crm", allow_private=False)
    resolving(lambda host, port, type=None: [])
    assert deliver(sender) == "postponed" and sender.fake_queues.dead_letters == []


@pytest.mark.parametrize("address", ["169.254.169.254", "10.0.0.7", "64:ff9b::a9fe:a9fe"])
def test_a_name_resolving_to_a_forbidden_address_is_dead_lettered_at_once(sender, resolving, address):
    # GIVEN a webhook host that resolves to a non-public address
    sender.aim("https://hooks.example.com/webhooks/qontak-crm", allow_private=False)
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    resolving(lambda host, port, type=None: [(family, socket.SOCK_STREAM, 6, "", (address, port))])
    # WHEN the first attempt is made THEN it is refused for good: dead-lettered with why, no retry
    assert deliver(sender) == "dead-lettered"
    assert sender.fake_queues.postponed == []
    assert sender.fake_queues.dead_letters[0].startswith("target refused") and "non-public" in sender.fake_queues.dead_letters[0]


def test_giving_up_on_a_refused_target_is_decided_by_the_reply_not_its_wording():
    now = datetime.now(timezone.utc)

    def attempt_with(reply: delivery.Reply) -> delivery.Outcome:
        return delivery.attempt(BODY, 1, secrets=[SECRET], post=lambda body, headers: reply, schedule=(7, 30), now=now)

    # GIVEN a reply marked refused, whatever its text / WHEN the attempt is judged THEN it gives up now
    refused = attempt_with(delivery.Reply(status=None, problem="example.com resolves to a non-public address", refused=True))
    assert refused.give_up and not refused.delivered and refused.reason.startswith("target refused")
    # AND a failure that merely reads like one is an ordinary failure, retried on the schedule
    lookalike = attempt_with(delivery.Reply(status=None, problem="target refused: cannot resolve example.com"))
    assert not lookalike.give_up and lookalike.delay == 7


# ---- a receiver dripping its answer ----------------------------------------------------------------
@pytest.fixture
def dripping_receiver() -> Iterator[tuple[str, list[float]]]:
    """A receiver that reads the request, then answers one byte every 0.1 s for up to 8 s: from its
    status line (path /headers) or after complete headers announcing a 1,000-byte body (path /body).
    Yields its URL and the moments it found its connection cut."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    stop = threading.Event()
    cut: list[float] = []

    def serve(connection: socket.socket) -> None:
        with connection:
            request = b""
            while b"\r\n\r\n" not in request:
                request += connection.recv(65536)
            head, _, body = request.partition(b"\r\n\r\n")
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
            while len(body) < length:
                body += connection.recv(65536)
            answer = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b" " * 1000
            if head.split(b" ")[1] == b"/body":
                headers_end = answer.index(b"\r\n\r\n") + 4
                connection.sendall(answer[:headers_end])
                answer = answer[headers_end:]
            try:
                for byte in answer[:80]:
                    connection.sendall(bytes([byte]))
                    if stop.wait(0.1):
                        return
            except OSError:
                cut.append(time.monotonic())

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", cut
    stop.set()
    server.close()


@pytest.mark.parametrize("part", ["headers", "body"])
def test_a_receiver_dripping_its_answer_costs_the_deadline_and_is_retried(sender, monkeypatch, dripping_receiver, part):
    # GIVEN a receiver that answers a byte every 0.1 s (each byte well within the 5 s read timeout),
    # and the sender's attempt deadline set to 1 s for the test (10 s deployed)
    base, cut = dripping_receiver
    sender.aim(f"{base}/{part}", allow_private=True)
    monkeypatch.setattr(sender, "DEADLINE_SECONDS", 1.0, raising=False)
    # WHEN one attempt is made
    started = time.monotonic()
    outcome = deliver(sender)
    elapsed = time.monotonic() - started
    # THEN it ends at the deadline, not when the receiver is done (8 s), as a timed-out attempt
    # retried on the schedule
    assert 0.9 <= elapsed < 1.6, elapsed
    assert outcome == "postponed" and sender.fake_queues.postponed == [7]
    # AND the abandoned read does not go on: the receiver finds its connection cut right after
    for _ in range(20):
        if cut:
            break
        time.sleep(0.05)
    assert cut and cut[0] - started < 1.8, (cut, started)


def test_the_deployed_deadline_is_ten_seconds_with_a_two_second_connect(sender):
    assert (sender.DEADLINE_SECONDS, sender.CONNECT_SECONDS) == (10.0, 2.0)
