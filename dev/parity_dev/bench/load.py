"""Figure 8: the local stack under sustained load (``parity bench --load``; a short form in ``make bench``).
(Over 400 lines: one run's script — set-up, producers, faults on a schedule, the burst, the accounting —
reads top to bottom; the ledger that decides lost and doubled is pure, in ``ledger.py``.)

One run = a fresh local stack (its functions in worker processes, its pollers, moto behind the edge)
with the fake provider send APIs and a pass-through proxy in front of its omnichannel receiver, both
on loopback; two companies, each with a WhatsApp, a Slack and an Intercom channel made through the
API, and customers on each. Then:

1. **warm-up** (not timed): every customer writes a first message, which opens their conversation,
   and a few of each operation run, so each function has started its workers;
2. **steady load** for ``seconds``: producers on a fixed schedule (open loop: an operation is due at
   its time whether or not the last one was answered) — bot/AI creates of deals and tickets in those
   conversations' rooms, updates and deletes of them, customers writing on the three channels, agents
   replying; every request retried as a client would (same Idempotency-Key, same provider message)
   on a 429/5xx or a broken connection;
3. with ``faults``, inside the steady load: the omnichannel receiver answers 503 for 10 s, the chat
   history (the conversation table, read by the timeline note) fails every read for 10 s, and every
   provider answers 429 (Retry-After: 1) for 10 s;
4. without faults, a **burst**: 20 concurrent senders post channel webhooks back to back, the AWS
   requests of the webhook function counted at the edge;
5. **drain**: until every queue is empty, no stream record waits and nothing moved for 3 s; then the
   **accounting** (``parity_dev.bench.ledger``): the tables and the provider fakes against what the
   producers were answered; and the dead-letter queues.

Latencies: create and webhook answers at the producer; create → preview and message → chat history
from the producer's send to the moment the edge served the write that made it visible (the
receiver's PutItem of the room entry; the ingest's PutItem of the message): a read after that
instant sees it. Nearest-rank percentiles in ms.
"""

from __future__ import annotations

import itertools
import json
import random
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from parity_dev.bench import ledger

CHANNELS = ("whatsapp", "slack", "intercom")
SECRETS = {"whatsapp": "load-meta-app-secret", "slack": "load-slack-signing-secret", "intercom": "load-intercom-client-secret"}
ACCOUNTS = {"whatsapp": "106540352242922", "slack": "T0LOAD", "intercom": "loadapp"}
RETRYABLE = {429, 500, 502, 503, 504}
WEBHOOK_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
QUEUE_SENDS = {"SendMessage", "SendMessageBatch"}


@dataclass(frozen=True)
class Rates:
    """Operations per second of the steady load."""

    creates: float = 1.5
    updates: float = 0.5
    deletes: float = 0.25
    messages: float = 3.0
    replies: float = 0.5

    def total(self) -> float:
        return self.creates + self.updates + self.deletes + self.messages + self.replies


@dataclass
class Customer:
    company: str
    channel_type: str
    channel_id: str
    sender: str
    thread: str | None = None  # Slack: the first message's ts; Intercom: the conversation id
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Company:
    id: str
    api_key: str
    token: str = ""
    channels: dict[str, str] = field(default_factory=dict)
    rooms: list[str] = field(default_factory=list)


class _Clock:
    """Slack's message ts is its id: unique, increasing microseconds."""

    def __init__(self) -> None:
        self._last = 0.0
        self._lock = threading.Lock()

    def ts(self) -> float:
        with self._lock:
            self._last = max(self._last + 1e-6, time.time())
            return self._last


class Proxy:
    """In front of the omnichannel receiver: passes every request through, or answers 503 while ``failing``."""

    def __init__(self) -> None:
        from parity_dev.bench.loopback import Server

        self.target = ""
        self.failing = False
        self.refused = 0
        proxy = self
        import urllib3

        pool = urllib3.PoolManager(maxsize=16, retries=False, timeout=urllib3.Timeout(connect=2, read=15))

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 1 << 16

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if proxy.failing:
                    proxy.refused += 1
                    status, headers, payload = 503, {"content-type": "application/json"}, b'{"message":"Service Unavailable"}'
                else:
                    answer = pool.request("POST", proxy.target + self.path, body=body, headers={k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")})
                    status, headers, payload = answer.status, {"content-type": answer.headers.get("content-type", "application/json")}, answer.data
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return self.server.url

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Producers:
    """The clients of one run: HTTP with retries, the ledger of what was answered, latency samples."""

    def __init__(self, base_url: str, companies: list[Company], *, seed: int = 17) -> None:
        import urllib3

        self.base = base_url
        self.http = urllib3.PoolManager(maxsize=64, retries=False, timeout=urllib3.Timeout(connect=5, read=30))
        self.companies = companies
        self.customers: list[Customer] = []
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.clock = _Clock()
        self.creates: list[ledger.Create] = []
        self.messages: list[ledger.Message] = []
        self.replies: list[ledger.Reply] = []
        self.live: list[ledger.Create] = []  # answered, not deleted, not busy
        self.sent_at: dict[str, float] = {}  # record id / message id → when its producer sent it
        self.phase_of: dict[str, str] = {}  # record id / message id → the phase that sent it
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.phase = "warm-up"
        self.counts: dict[str, int] = defaultdict(int)
        self.failures: dict[str, int] = defaultdict(int)
        self.retries = 0
        self._n = itertools.count(1)

    # ---- HTTP ----
    def request(self, method: str, path: str, *, body: bytes | None = None, headers: dict[str, str] | None = None,
                ok: tuple[int, ...] = (200,), sign: Callable[[], tuple[bytes, dict[str, str]]] | None = None, attempts: int = 8) -> tuple[int, Any, float]:
        """Send, retrying a 429/5xx or a broken connection with backoff; (status, JSON, seconds to the final answer)."""
        start = time.monotonic()
        status, data = 0, None
        for attempt in range(attempts):
            if sign is not None:
                body, signed = sign()
                headers = {**(headers or {}), **signed}
            try:
                answer = self.http.request(method, self.base + path, body=body, headers=headers)
                status = answer.status
                try:
                    data = json.loads(answer.data) if answer.data else None
                except ValueError:
                    data = None
            except Exception:  # noqa: BLE001 - a broken connection is retried like a 5xx
                status, data = 599, None
            if status in ok or status not in RETRYABLE | {599}:
                break
            with self.lock:
                self.retries += 1
            time.sleep(min(4.0, 0.25 * 2 ** attempt))
        return status, data, time.monotonic() - start

    def _auth(self, company: Company, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"authorization": f"Bearer {company.token}", "content-type": "application/json", **(extra or {})}

    def _sample(self, kind: str, seconds: float) -> None:
        if self.phase != "warm-up":
            with self.lock:
                self.latency[f"{self.phase}:{kind}"].append(seconds * 1000)

    def _count(self, kind: str, ok: bool) -> None:
        with self.lock:
            self.counts[kind] += 1
            if not ok:
                self.failures[kind] += 1

    # ---- setup ----
    def login(self, company: Company) -> None:
        status, data, _ = self.request("POST", "/api/v3.1/teams/company_token", body=json.dumps({"sso_id": "load"}).encode(), headers={"x-crm-api-key": company.api_key, "content-type": "application/json"})
        if status != 200:
            raise RuntimeError(f"login of {company.id} answered {status}: {data}")
        company.token = data["access_token"]

    def make_channels(self, company: Company, customers_per_channel: int) -> None:
        for kind in CHANNELS:
            body = {"type": kind, "name": f"load {kind}", "secret": SECRETS[kind], "api_token": f"{kind}-load-token", "account_id": ACCOUNTS[kind]}
            body.update({"whatsapp": {"verify_token": "verify-load", "default_region": "ID"}, "slack": {}, "intercom": {"admin_id": "814860"}}[kind])
            status, data, _ = self.request("POST", "/api/v3.1/channels", body=json.dumps(body).encode(), headers=self._auth(company), ok=(201,))
            if status != 201:
                raise RuntimeError(f"channel {kind} of {company.id} answered {status}: {data}")
            company.channels[kind] = data["data"]["id"]
            for i in range(customers_per_channel):
                sender = {"whatsapp": f"62812{abs(hash((company.id, i))) % 10**7:07d}{i % 10}", "slack": f"U{company.id[-1].upper()}{i:05d}", "intercom": f"user-{company.id}-{i}"}[kind]
                self.customers.append(Customer(company.id, kind, company.channels[kind], sender))

    # ---- operations ----
    def build_message(self, customer: Customer | None = None) -> tuple[ledger.Message, Customer, dict[str, Any]]:
        """The next message of a customer (the provider's payload) and its ledger entry."""
        from parity.conversations import inbound
        from parity.conversations.store import inbound_message_id
        from parity_dev import simulate

        customer = customer or self.random.choice(self.customers)
        n = next(self._n)
        text = f"pesan {n} dari pelanggan"
        now = datetime.now(timezone.utc)
        if customer.channel_type == "whatsapp":
            payload = simulate.whatsapp(sender=customer.sender, text=text, name=f"Pelanggan {customer.sender[-4:]}", at=now, wamid=f"wamid.LOAD{uuid.uuid4().hex.upper()}")
            group = customer.sender
        elif customer.channel_type == "slack":
            ts = f"{self.clock.ts():.6f}"
            event = {"type": "message", "channel": "C0LOAD", "user": customer.sender, "text": text, "ts": ts, "channel_type": "channel"}
            if customer.thread:
                event["thread_ts"] = customer.thread
            payload = {"token": "load", "team_id": ACCOUNTS["slack"], "api_app_id": "A0LOAD", "type": "event_callback", "event_id": f"Ev{uuid.uuid4().hex[:12].upper()}", "event_time": int(float(ts)), "event": event}
            customer.thread = customer.thread or ts
            group = customer.thread
        else:
            payload = simulate.intercom(sender=customer.sender, text=text, at=now, email=f"{customer.sender}@example.com", conversation=customer.thread, app_id=ACCOUNTS["intercom"])
            customer.thread = customer.thread or payload["data"]["item"]["id"]
            group = customer.thread
        raw = json.dumps(payload).encode()
        (parsed,) = inbound.parse(customer.channel_type, payload, raw).messages
        entry = ledger.Message(customer.company, customer.channel_id, group, inbound_message_id(customer.channel_id, parsed.provider_id))
        with self.lock:
            self.messages.append(entry)
            self.phase_of.setdefault(entry.message_id, self.phase)
        return entry, customer, payload

    def message(self, customer: Customer | None = None) -> None:
        from parity_dev import simulate

        customer = customer or self.random.choice(self.customers)
        with customer.lock:  # a customer writes one message at a time, in order
            entry, customer, payload = self.build_message(customer)
            secret = SECRETS[customer.channel_type]
            sent = time.monotonic()
            with self.lock:
                self.sent_at.setdefault(entry.message_id, sent)
            status, _, seconds = self.request("POST", f"/channels/{customer.channel_type}/{customer.channel_id}", sign=lambda: simulate.signed(customer.channel_type, payload, secret))
        entry.answered = status == 200
        self._count("message", entry.answered)
        self._sample("webhook", seconds)

    def create(self, company: Company | None = None) -> None:
        company = company or self.random.choice(self.companies)
        n = next(self._n)
        kind = "deal" if n % 3 else "ticket"
        tag = f"L{n:06d}{uuid.uuid4().hex[:6]}"
        room = self.random.choice(company.rooms)
        body = {"name": f"{tag} new", "creator_flag": "bot" if n % 2 else "agentic_ai", "channel_integration_room_id": room, "source": "load"}
        body.update({"amount": 1000 + n, "stage": "Qualification"} if kind == "deal" else {"priority": "medium"})
        entry = ledger.Create(tag, company.id, kind, room)
        with self.lock:
            self.creates.append(entry)
        sent = time.monotonic()
        status, data, seconds = self.request("POST", f"/api/v3.1/{kind}s", body=json.dumps(body).encode(), headers=self._auth(company, {"idempotency-key": tag}), ok=(201,))
        entry.answered = status == 201
        if entry.answered:
            entry.record_id = data["data"]["id"]
            with self.lock:
                self.sent_at[entry.record_id] = sent
                self.phase_of[entry.record_id] = self.phase
                self.live.append(entry)
        self._count("create", entry.answered)
        self._sample("create", seconds)

    def _take_live(self) -> ledger.Create | None:
        with self.lock:
            if not self.live:
                return None
            return self.live.pop(self.random.randrange(len(self.live)))

    def update(self) -> None:
        entry = self._take_live()
        if entry is None:
            return
        company = next(c for c in self.companies if c.id == entry.company)
        n = next(self._n)
        body = {"name": f"{entry.tag} update {n}", **({"stage": f"Stage {n % 5}"} if entry.kind == "deal" else {"priority": ("low", "medium", "high")[n % 3]})}
        status, _, seconds = self.request("PATCH", f"/api/v3.1/{entry.kind}s/{entry.record_id}", body=json.dumps(body).encode(), headers=self._auth(company))
        self._count("update", status == 200)
        self._sample("update", seconds)
        with self.lock:
            self.live.append(entry)

    def delete(self) -> None:
        entry = self._take_live()
        if entry is None:
            return
        company = next(c for c in self.companies if c.id == entry.company)
        status, _, seconds = self.request("DELETE", f"/api/v3.1/{entry.kind}s/{entry.record_id}", headers=self._auth(company), ok=(204, 404))
        # 404 after a retry: the first attempt's delete went through.
        entry.deleted = status in (204, 404)
        self._count("delete", entry.deleted)
        self._sample("delete", seconds)
        if not entry.deleted:
            with self.lock:
                self.live.append(entry)

    def reply(self, company: Company | None = None) -> None:
        company = company or self.random.choice(self.companies)
        n = next(self._n)
        tag = f"R{n:06d}{uuid.uuid4().hex[:6]}"
        room = self.random.choice(company.rooms)
        entry = ledger.Reply(tag, company.id, room)
        with self.lock:
            self.replies.append(entry)
        body = {"text": f"reply {tag} terima kasih, kami proses", "sender_type": "agent", "sender_name": "Sari"}
        status, _, seconds = self.request("POST", f"/api/v3.1/conversations/{room}/messages", body=json.dumps(body).encode(), headers=self._auth(company, {"idempotency-key": tag}), ok=(202,))
        entry.answered = status == 202
        self._count("reply", entry.answered)
        self._sample("reply", seconds)


def _steady(producers: Producers, rates: Rates, seconds: float, *, workers: int = 24, events: list[tuple[float, Callable[[], None]]] | None = None) -> dict[str, Any]:
    """Run the operations on a fixed schedule for ``seconds``; ``events`` (offset, action) run on time too."""
    plan = [("create", rates.creates, producers.create), ("update", rates.updates, producers.update), ("delete", rates.deletes, producers.delete),
            ("message", rates.messages, producers.message), ("reply", rates.replies, producers.reply)]
    start = time.monotonic()
    due = {name: start + (1.0 / rate) * producers.random.random() for name, rate, _ in plan if rate > 0}
    pending = sorted(events or [], key=lambda e: e[0])
    lag: list[float] = []
    submitted = 0
    with ThreadPoolExecutor(workers, thread_name_prefix="producer") as pool:
        futures = []
        while True:
            now = time.monotonic()
            if now - start >= seconds:
                break
            while pending and now - start >= pending[0][0]:
                pending.pop(0)[1]()
            for name, rate, action in plan:
                if rate <= 0 or due[name] > now:
                    continue
                scheduled = due[name]
                due[name] += 1.0 / rate

                def run(action: Callable[[], None] = action, scheduled: float = scheduled) -> None:
                    lag.append(time.monotonic() - scheduled)
                    action()

                futures.append(pool.submit(run))
                submitted += 1
            time.sleep(0.005)
        for e in pending:  # a fault window's end is never skipped
            e[1]()
        for f in futures:
            f.result()
    elapsed = time.monotonic() - start
    return {"seconds": elapsed, "submitted": submitted, "rate": submitted / seconds, "start_lag_p99_ms": ledger.percentile(lag, 0.99) * 1000 if lag else None}


_BURST_CHILD = r"""
import json, sys, threading, time
import urllib3
spec = json.load(open(sys.argv[1]))
http = urllib3.PoolManager(maxsize=spec["senders"], retries=False, timeout=urllib3.Timeout(connect=5, read=30))
requests = spec["requests"]
results = [None] * len(requests)
lock = threading.Lock()
next_index = iter(range(len(requests)))
warm = threading.Barrier(spec["senders"])

def send(i):
    r = requests[i]
    start = time.monotonic()
    first = None
    for attempt in range(6):  # a provider retries what was not answered 200 (same body, same signature)
        try:
            status = http.request("POST", r["url"], body=r["body"].encode(), headers=r["headers"]).status
        except Exception:
            status = 599
        if first is None:
            first = time.monotonic()
        if status == 200 or status not in (429, 500, 502, 503, 504, 599):
            break
        time.sleep(0.25 * 2 ** attempt)
    results[i] = [status, start, first, attempt]

def sender():
    with lock:
        i = next(next_index)
    send(i)  # the warm-up wave: one each, all at once
    warm.wait()
    while True:
        with lock:
            i = next(next_index, None)
        if i is None:
            return
        send(i)

threads = [threading.Thread(target=sender) for _ in range(spec["senders"])]
for t in threads: t.start()
for t in threads: t.join()
json.dump(results, open(sys.argv[2], "w"))
"""


def _burst(producers: Producers, edge: Any, *, senders: int = 20, each: int = 15) -> dict[str, Any]:
    """20 concurrent senders posting channel webhooks back to back, from a process of their own (so
    the senders do not compete with the local stack for its interpreter); the webhook function's AWS
    requests counted at the edge (its DynamoDB writes, its queue sends). Every message is a new one
    of some customer, signed as its provider signs, and goes into the ledger like the others.

    A first wave, one message per sender at once, is not timed: it scales the webhook function out
    to its workers, whose cold starts are figure 1's (they took the first wave's answers past a
    second on this machine); the burst times the warm function under 20 concurrent senders."""
    import subprocess
    import sys
    import tempfile

    from parity_dev import simulate

    entries, requests = [], []
    phase = producers.phase
    for i in range(senders * (each + 1)):
        producers.phase = "warm-up" if i < senders else phase
        entry, customer, payload = producers.build_message()
        body, headers = simulate.signed(customer.channel_type, payload, SECRETS[customer.channel_type])
        entries.append(entry)
        requests.append({"url": f"{producers.base}/channels/{customer.channel_type}/{customer.channel_id}", "body": body.decode(), "headers": headers})
    with tempfile.TemporaryDirectory(prefix="parity-burst-") as tmp:
        spec, out = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        spec.write_text(json.dumps({"senders": senders, "requests": requests}))
        with edge.recording() as calls:
            subprocess.run([sys.executable, "-c", _BURST_CHILD, str(spec), str(out)], check=True, timeout=600)
        results = json.loads(out.read_text())
    answers = []
    retried = 0
    for i, (entry, (status, start, first, attempts)) in enumerate(zip(entries, results)):
        entry.answered = status == 200
        producers.sent_at.setdefault(entry.message_id, start)
        producers._count("message", entry.answered)
        if i < senders:  # the warm-up wave
            continue
        answers.append((first - start) * 1000)  # the first answer, as the provider waits for it
        retried += attempts > 0
    mine = calls.of(function="ChannelWebhookFunction")
    writes = [c for c in mine if c.service == "dynamodb" and c.operation in WEBHOOK_WRITES]
    sends = [c for c in mine if c.service == "sqs" and c.operation in QUEUE_SENDS]
    reads = [c for c in mine if c.service == "dynamodb" and c.operation not in WEBHOOK_WRITES]
    ssm = [c for c in mine if c.service == "ssm"]
    n, sent = len(answers), len(entries)  # timed; and with the warm-up wave, whose requests the edge counted too
    return {"senders": senders, "messages": n, "accepted": sum(1 for e in entries[senders:] if e.answered), "retried": retried, **{f"answer_{k}": v for k, v in ledger.summary(answers).items()},
            "dynamodb_writes": len(writes), "queue_sends": len(sends), "dynamodb_reads": len(reads), "ssm_reads": len(ssm),
            "writes_per_message": len(writes) / sent, "sends_per_message": len(sends) / sent}


class _Watch:
    """When the writes that make a create's preview and a message's history visible were served."""

    def __init__(self) -> None:
        self.preview: dict[str, float] = {}
        self.history: dict[str, float] = {}
        self.lock = threading.Lock()

    def on_receiver_put(self, call: Any) -> None:
        item = call.params.get("Item") or {}
        if not str((item.get("pk") or {}).get("S", "")).startswith("ROOM#"):
            return
        record_id = str((item.get("sk") or {}).get("S", "")).split("#", 1)[-1]
        now = time.monotonic()
        with self.lock:
            self.preview.setdefault(record_id, now)

    def on_ingest_put(self, call: Any) -> None:
        item = call.params.get("Item") or {}
        if (item.get("entity") or {}).get("S") != "message":
            return
        now = time.monotonic()
        with self.lock:
            self.history.setdefault(str(item["id"]["S"]), now)


def _queues(outputs: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    work = {k: v for k, v in outputs.items() if k.endswith("QueueUrl")}
    dead = {k: v for k, v in outputs.items() if k.endswith("DLQUrl")}
    return work, dead


def _depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"])["Attributes"]
    return sum(int(v) for v in attributes.values())


def _drain(stack: Any, watch: _Watch, producers: Producers, *, timeout: float) -> float:
    from parity_dev.pollers import DynamoDbStreamPoller

    """Until every work queue is empty, no stream record waits, every acknowledged create was
    applied to its room and every acknowledged message stored, and nothing changed for 3 s."""
    sqs = stack.clients.client("sqs")
    work, _ = _queues(stack.deployed.outputs)
    start = time.monotonic()
    quiet_since = None
    last = None
    while time.monotonic() - start < timeout:
        depth = sum(_depth(sqs, url) for url in work.values())
        streams = any(p.pending() for p in stack.pollers.pollers if isinstance(p, DynamoDbStreamPoller))
        with watch.lock:
            seen = (len(watch.preview), len(watch.history))
        state = (depth, streams, seen)
        if depth == 0 and not streams:
            if state != last:
                quiet_since = time.monotonic()
            elif quiet_since is not None and time.monotonic() - quiet_since >= 3.0:
                return time.monotonic() - start
        else:
            quiet_since = None
        last = state
        time.sleep(0.5)
    return time.monotonic() - start


def _scan(dynamodb: Any, table: str) -> Iterator[dict[str, Any]]:
    from boto3.dynamodb.types import TypeDeserializer

    plain = TypeDeserializer()
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        page = dynamodb.scan(**kwargs)
        for item in page.get("Items", []):
            yield {k: plain.deserialize(v) for k, v in item.items()}
        if not page.get("LastEvaluatedKey"):
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _provider_text(sent: dict[str, Any]) -> str:
    body = sent.get("body") or {}
    if sent["provider"] == "whatsapp":
        return str((body.get("text") or {}).get("body", ""))
    if sent["provider"] == "slack":
        return str(body.get("text", ""))
    import re

    return re.sub(r"<[^>]+>", "", str(body.get("body", "")))


def _account(stack: Any, producers: Producers, fake: Any) -> tuple[ledger.Verdict, dict[str, int]]:
    dynamodb = stack.clients.client("dynamodb")
    outputs = stack.deployed.outputs
    crm = list(_scan(dynamodb, outputs["CrmTableName"]))
    records = [i for i in crm if i.get("entity") == "record"]
    notes = [i for i in crm if i.get("entity") == "note"]
    conversation_items = list(_scan(dynamodb, outputs["ConversationTableName"]))
    stored = [i for i in conversation_items if i.get("entity") == "message" and i.get("direction") == "inbound"]
    previews: dict[tuple[str, str], dict[str, tuple[str, int] | None]] = {}
    by_company = {c.id: c for c in producers.companies}
    for company_id, room in {(c.company, c.room) for c in producers.creates}:
        status, data, _ = producers.request("GET", f"/api/v3.1/rooms/{room}/preview", headers=producers._auth(by_company[company_id]))
        if status == 200:
            previews[(company_id, room)] = {slot: ((data.get(slot) or {}).get("id"), int((data.get(slot) or {}).get("version", 0))) if data.get(slot) else None for slot in ("deal", "ticket")}
    for r in records:
        r["version"] = int(r.get("version", 0))
    sends = [{"text": _provider_text(s), "status": s["status"]} for s in fake.sent()]
    verdict = ledger.account(producers.creates, records, notes, previews, producers.messages, stored, producers.replies, sends)
    # What the chat-history fault did: notes written without their excerpt (ERR-2), still written.
    verdict.checked["notes_without_excerpt"] = sum(1 for n in notes if n.get("preview_status") == "unavailable")
    sqs = stack.clients.client("sqs")
    _, dead = _queues(outputs)
    dlq = {name.removesuffix("Url"): _depth(sqs, url) for name, url in dead.items()}
    return verdict, dlq


@contextmanager
def _silenced() -> Iterator[None]:
    from parity_dev.bench.handlers import silenced

    with silenced():
        yield


def run(root: Path, *, seconds: float = 60.0, rates: Rates = Rates(), faults: bool = False, burst: bool = True,
        customers_per_channel: int = 6, max_workers: int | None = None, log: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """One load run (module docstring); returns its report (JSON-able)."""
    from parity_dev.loopback import serve_mount
    from parity_dev.fake_providers import FakeProviders
    from parity_dev.local_stack import LocalStack

    companies = [Company("load-a", "load-a-key"), Company("load-b", "load-b-key")]
    report: dict[str, Any] = {"faults": faults, "seconds": seconds, "rates": rates.__dict__, "target_rate": rates.total()}
    with ExitStack() as exit_stack:
        fake = FakeProviders()
        providers = exit_stack.enter_context(serve_mount(fake.handle))
        proxy = Proxy()
        exit_stack.callback(proxy.close)
        base = f"{providers.url}/_fake"
        stack = LocalStack(root / "template.yaml", port=0, variables={
            "WHATSAPP_API_BASE_URL": f"{base}/whatsapp", "SLACK_API_BASE_URL": f"{base}/slack", "INTERCOM_API_BASE_URL": f"{base}/intercom",
            "OMNICHANNEL_WEBHOOK_URL": f"{proxy.url}/webhooks/qontak-crm"}, max_workers=max_workers)
        with _silenced():
            stack.start([(c.id, c.api_key) for c in companies])
        exit_stack.callback(lambda: _quietly(stack.stop))
        proxy.target = stack.base_url
        edge = stack.edge
        watch = _Watch()
        for hook in (edge.after("dynamodb", ["PutItem"], watch.on_receiver_put, function="WebhookReceiverFunction", times=None),
                     edge.after("dynamodb", ["PutItem"], watch.on_ingest_put, function="IngestFunction", times=None)):
            exit_stack.callback(hook.remove)
        producers = Producers(stack.base_url, companies)
        with _silenced():
            for c in companies:
                producers.login(c)
                producers.make_channels(c, customers_per_channel)
            # Warm-up: every customer opens a conversation; a few of every operation start the workers.
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(producers.message, producers.customers))
            _drain(stack, watch, producers, timeout=120)
            for c in companies:
                status, data, _ = producers.request("GET", "/api/v3.1/conversations?limit=100", headers=producers._auth(c))
                c.rooms = [conv["id"] for conv in (data or {}).get("data", [])]
                if not c.rooms:
                    raise RuntimeError(f"no conversation was opened for {c.id}: {status} {data}")
            with ThreadPoolExecutor(8) as pool:
                for action in [producers.create] * 8 + [producers.reply] * 4 + [producers.message] * 8:
                    pool.submit(action)
            for action in (producers.update, producers.update, producers.delete):
                action()
            _drain(stack, watch, producers, timeout=120)
            log(f"load: warm ({len(producers.customers)} customers, {sum(len(c.rooms) for c in companies)} rooms); steady {rates.total():g} operations/s for {seconds:g} s{' with faults' if faults else ''}")

            events: list[tuple[float, Callable[[], None]]] = []
            windows: dict[str, tuple[float, float]] = {}
            if faults:
                conv_table = stack.deployed.outputs["ConversationTableName"]
                holder: dict[str, Any] = {}
                at = [seconds * f for f in (1 / 6, 5 / 12, 2 / 3)] if seconds >= 45 else [seconds * f for f in (0.1, 0.3, 0.5)]

                def receiver(on: bool) -> None:
                    proxy.failing = on

                def history(on: bool) -> None:
                    if on:
                        holder["hits"] = holder.get("hits", 0)
                        holder["fault"] = edge.fail("dynamodb", ["GetItem", "Query"], "InternalServerError", status=500, function="TimelineNoteFunction",
                                                    table=conv_table)
                    elif "fault" in holder:
                        fault = holder.pop("fault")
                        fault.remove()
                        holder["hits"] += fault.hits

                def providers_429(on: bool) -> None:
                    if on:
                        for p in CHANNELS:
                            fake.fail(p, 429, times=1_000_000, retry_after=1)
                    else:
                        fake.clear_faults()

                for name, action, start in (("receiver 503", receiver, at[0]), ("chat history reads fail", history, at[1]), ("providers 429", providers_429, at[2])):
                    windows[name] = (round(start, 1), round(start + 10, 1))
                    events += [(start, lambda a=action: a(True)), (start + 10, lambda a=action: a(False))]
            report["fault_windows_s"] = windows

            producers.phase = "steady"
            report["steady"] = _steady(producers, rates, seconds, events=events)
            producers.phase = "warm-up"
            if faults:
                report["faults_seen"] = {"receiver_503": proxy.refused, "history_reads_failed": holder.get("hits", 0), "provider_429": sum(1 for s in fake.sent() if s["status"] == 429)}
            if burst:
                producers.phase = "burst"
                report["burst"] = _burst(producers, edge)
                producers.phase = "warm-up"
            report["drain_s"] = _drain(stack, watch, producers, timeout=300)
            verdict, dlq = _account(stack, producers, fake)

    def after(seen: dict[str, float], phase: str) -> list[float]:
        return [(t - producers.sent_at[k]) * 1000 for k, t in seen.items() if producers.phase_of.get(k) == phase]

    report["latency_ms"] = {k.removeprefix("steady:"): ledger.summary(v) for k, v in producers.latency.items() if k.startswith("steady:")}
    report["latency_ms"]["create_to_preview"] = ledger.summary(after(watch.preview, "steady"))
    report["latency_ms"]["message_to_history"] = ledger.summary(after(watch.history, "steady"))
    report["unseen"] = {"preview": sum(1 for c in producers.creates if c.record_id and c.record_id not in watch.preview and not c.deleted),
                        "history": sum(1 for m in producers.messages if m.answered and m.message_id not in watch.history)}
    if burst:
        report["burst"]["message_to_history"] = ledger.summary(after(watch.history, "burst"))
    report["operations"] = dict(producers.counts)
    report["failed_operations"] = dict(producers.failures)
    report["client_retries"] = producers.retries
    report["verdict"] = verdict.as_dict()
    report["dlq"] = dlq
    return report


def _quietly(step: Callable[[], None]) -> None:
    with _silenced():
        step()
