"""Embedded AWS for the local stack: fake credentials, a client factory and a moto server, behind the
edge where tests script AWS errors and record requests (``parity_dev.aws_edge``).

Everything here talks to moto, never to a real account: the credentials are fake on purpose so
a stray call cannot reach AWS.
"""

from __future__ import annotations

import collections
import functools
import heapq
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:  # pragma: no cover
    from parity_dev.aws_edge import AwsEdge

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    # botocore >= 1.37 sends DynamoDB Streams calls to "<account>.streams-ddb.<region>.amazonaws.com",
    # a host moto 5.2's in-process mock does not recognise ("404 Not yet implemented").
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}

# Variables that would send a boto3 client somewhere other than our moto (or sign as someone else).
_CONFLICTING_VARIABLES = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_DEFAULT_PROFILE")


def fake_aws_environment(endpoint_url: str | None = None) -> dict[str, str | None]:
    """Return the environment changes that point every boto3 client at moto with fake credentials.

    A value of ``None`` means "unset this variable". With ``endpoint_url`` (a moto server) every
    service goes there through ``AWS_ENDPOINT_URL``; per-service ``AWS_ENDPOINT_URL_*`` overrides
    are removed so none of them escapes to a real endpoint.
    """
    changes: dict[str, str | None] = dict(FAKE_CREDENTIALS)
    changes.update(dict.fromkeys(_CONFLICTING_VARIABLES))
    changes.update({k: None for k in os.environ if k.startswith("AWS_ENDPOINT_URL_")})
    changes["AWS_ENDPOINT_URL"] = endpoint_url
    return changes


def apply_environment(changes: dict[str, str | None]) -> dict[str, str | None]:
    """Apply ``changes`` to ``os.environ`` (``None`` unsets) and return what is needed to undo them."""
    previous = {k: os.environ.get(k) for k in changes}
    for key, value in changes.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    return previous


class Clients:
    """A cache of boto3 clients on one session, optionally against one endpoint (a moto server).

    boto3 clients are thread-safe but sessions are not, so the pollers and the gateway share the
    clients made here rather than making their own from threads.
    """

    def __init__(
        self,
        session: boto3.Session | None = None,
        *,
        endpoint_url: str | None = None,
        region: str = REGION,
    ) -> None:
        self.session = session or boto3.Session(region_name=region)
        self.endpoint_url = endpoint_url
        self.region = region
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str) -> Any:
        """Return the (cached) client for ``service``."""
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self.session.client(
                    service,
                    region_name=self.region,
                    endpoint_url=self.endpoint_url,
                    config=Config(account_id_endpoint_mode="disabled", retries={"max_attempts": 2}),
                )
            return self._clients[service]


_default_clients: Clients | None = None


def default_clients() -> Clients:
    """One ``Clients`` per process on the default credential chain (inside ``mock_aws``: the mock).

    Making a session and its clients costs ~0.3 s of botocore model loading; reuse it.
    """
    global _default_clients
    if _default_clients is None:
        _default_clients = Clients()
    return _default_clients


def atomic_moto_transactions() -> None:
    """Make moto's cancelled ``TransactWriteItems`` leave no trace in DynamoDB Streams (idempotent).

    moto applies a transaction's writes one by one and, when one fails its condition, puts back a
    deep copy of each table taken beforehand. The writes applied before the failure have already
    reached the *old* table's stream shard, and every open shard iterator (our stream pollers')
    keeps reading that old shard: the cancelled writes come out as stream records (a phantom
    record reaches the room preview) and every later write goes to the copy's shard, which no
    iterator reads (the outbox goes silent). In DynamoDB a cancelled transaction writes nothing
    and emits nothing. So keep the table objects, and their shards, and restore their contents.
    Any cancelled create shows this: an idempotent replay, or a create with an unknown contact.
    """
    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.transact_write_items
    if getattr(original, "_parity_atomic", False):
        return

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        names = {op.get("TableName") for item in transact_items for op in item.values() if isinstance(op, dict)}
        tables = {name: self.tables[name] for name in names if name in self.tables}
        marks = {name: len(t.stream_shard.items) for name, t in tables.items() if t.stream_shard is not None}
        try:
            return original(self, transact_items)
        except Exception:
            for name, table in tables.items():
                restored = self.tables.get(name)
                if restored is None or restored is table:
                    continue
                shard = table.stream_shard
                table.__dict__.update({k: v for k, v in restored.__dict__.items() if k != "stream_shard"})
                if shard is not None and name in marks:
                    del shard.items[marks[name]:]
                self.tables[name] = table
            raise

    transact_write_items._parity_atomic = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    _untracked_dynamodb_models()
    # In-process moto is not thread-safe either (the server is serialized by _SerializedApp): a
    # cancelled transaction's restore would wipe a write another thread made meanwhile, and two racing
    # conditional writes could both pass. One lock makes each write atomic, as DynamoDB does.
    lock = threading.RLock()
    for name in ("transact_write_items", "put_item", "update_item", "delete_item", "batch_write_item", "get_item", "transact_get_items"):
        method = getattr(DynamoDBBackend, name, None)
        if method is not None:
            setattr(DynamoDBBackend, name, _locked(method, lock))


def _untracked_dynamodb_models() -> None:
    """Stop moto keeping every DynamoDB model object it ever built alive (idempotent).

    moto's ``BaseModel.__new__`` appends each instance to its class's ``instances_tracked`` (for
    its dashboard), and DynamoDB deep-copies freely: every TransactWriteItems copies each table it
    touches (items, indexes and the stream shard's whole history) as its undo, every Query copies
    the items it returns. Tracked, none of those copies was ever freed: the test session and a
    long ``parity local`` grew by a copy of each table per transaction (about 90 MiB over the
    approvals tests alone). Nothing of ours reads the dashboard; S3, which does read its list, is
    left as it is.
    """
    from moto.core.common_models import BaseModel

    tracked_new = BaseModel.__dict__["__new__"]
    track = tracked_new.__func__ if isinstance(tracked_new, staticmethod) else tracked_new
    if getattr(track, "_parity_untracked", False):
        return

    def __new__(cls: type, *args: Any, **kwargs: Any) -> Any:
        if cls.__module__.startswith("moto.dynamodb."):
            return object.__new__(cls)
        return track(cls, *args, **kwargs)

    __new__._parity_untracked = True  # type: ignore[attr-defined]
    BaseModel.__new__ = staticmethod(__new__)  # type: ignore[method-assign,assignment]


def _queue_counts_when_read() -> None:
    """Make moto count an SQS queue's messages only when a count is read (idempotent).

    moto builds all of a queue's attributes whenever one is read, three counts over every message
    of the queue included: on each SendMessage (for ``ContentBasedDeduplication``) and three times
    per message received (for ``MessageRetentionPeriod``). With n messages waiting, a send cost
    O(n) and a receive O(n²): a third of the local AWS's time in a webhook burst, growing with the
    backlog. The attributes are still moto's own, built by its code; the counts are taken when read.
    """
    from collections.abc import Iterator, Mapping

    from moto.sqs.models import Queue

    build = Queue.attributes.fget
    if getattr(build, "_parity_counted_when_read", False):
        return
    counts = {
        "ApproximateNumberOfMessages": "approximate_number_of_messages",
        "ApproximateNumberOfMessagesDelayed": "approximate_number_of_messages_delayed",
        "ApproximateNumberOfMessagesNotVisible": "approximate_number_of_messages_not_visible",
    }

    class Uncounted:
        """The queue as moto's ``attributes`` sees it, without counting its messages."""

        def __init__(self, queue: Any) -> None:
            self.queue = queue

        def __getattr__(self, name: str) -> Any:
            return None if name in counts.values() else getattr(self.queue, name)

    class Attributes(Mapping[str, Any]):
        def __init__(self, queue: Any) -> None:
            self.queue = queue
            self.values = build(Uncounted(queue))

        def __getitem__(self, key: str) -> Any:
            if key in counts and key in self.values:
                return getattr(self.queue, counts[key])
            return self.values[key]

        def __contains__(self, key: object) -> bool:
            return key in self.values

        def __iter__(self) -> Iterator[str]:
            return iter(self.values)

        def __len__(self) -> int:
            return len(self.values)

    def attributes(self: Any) -> Attributes:
        return Attributes(self)

    attributes._parity_counted_when_read = True  # type: ignore[attr-defined]
    attributes.__wrapped__ = build  # type: ignore[attr-defined]
    Queue.attributes = property(attributes)  # type: ignore[assignment,method-assign]


def _locked(method: Callable[..., Any], lock: Any) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return method(*args, **kwargs)

    call._parity_atomic = getattr(method, "_parity_atomic", False)  # type: ignore[attr-defined]
    return call


class WorkSignal:
    """Tells a local poller when its own queue or stream has work: at once, or when work falls due.

    Lambda's pollers long-poll: a message or stream record reaches the function within tens of
    milliseconds, and an idle queue costs nothing. Here a poller waits on its source
    (``sqs:<queue name>``, ``dynamodb:<table name>``) and moto says when that source has work
    (``signal_work``): a message added to a queue (SendMessage, an EventBridge rule's target, a
    redrive) at once, or when its delay ends; a received or hidden message when its visibility
    timeout ends; a record added to a table's stream (a write that changed nothing adds none).
    Per source, not per service, and not on a clock: with one signal per service and a 100 ms
    poll when idle, each message sent woke all fourteen queue pollers (thirteen to an empty queue)
    and the idle pollers alone sent some 180 requests a second; together most of the local AWS's
    work during a webhook burst.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: One condition per source, so work on one wakes its own poller only (18 threads waited on one).
        self._changed: dict[str, threading.Condition] = {}
        self._generation: collections.Counter[str] = collections.Counter()
        self._due: dict[str, list[float]] = collections.defaultdict(list)  # per source, a heap of monotonic times

    def seen(self, source: str) -> int:
        """The work count of ``source`` now; pass it to ``wait`` after polling."""
        with self._lock:
            self._fall_due(source)
            return self._generation[source]

    def wait(self, source: str, seen: int, timeout: float) -> bool:
        """Until ``source`` had work after ``seen`` was read (True), or ``timeout`` seconds passed (False)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                self._fall_due(source)
                if self._generation[source] != seen:
                    return True
                now = time.monotonic()
                if now >= deadline:
                    return False
                due = self._due.get(source)
                self._condition(source).wait(min(deadline, due[0] if due else deadline) - now)

    def added(self, source: str, *, after: float = 0.0) -> None:
        """``source`` has work now, or in ``after`` seconds."""
        with self._lock:
            if after > 0:
                heapq.heappush(self._due[source], time.monotonic() + after)
            else:
                self._generation[source] += 1
            self._condition(source).notify_all()

    def _condition(self, source: str) -> threading.Condition:
        if source not in self._changed:
            self._changed[source] = threading.Condition(self._lock)
        return self._changed[source]

    def _fall_due(self, source: str) -> None:
        due, now = self._due.get(source), time.monotonic()
        while due and due[0] <= now:
            heapq.heappop(due)
            self._generation[source] += 1


#: The signals of this process's moto servers; moto's backends are per process, so each hears of all work.
_signals: weakref.WeakSet[Any] = weakref.WeakSet()
#: moto compares times in whole milliseconds and a message is visible only strictly after its time.
_MOTO_CLOCK_SECONDS = 0.002


def signal_work(signal: Any) -> None:
    """Have moto tell ``signal`` when a queue or a stream has work (``signal.added(source, after=)``, as
    ``WorkSignal``; idempotent per signal).

    moto calls these inside the request that makes the work, while the edge's lock is held, so a
    poller woken now polls once that request has been served, and sees it.
    """
    from moto.dynamodb.models.table import StreamShard
    from moto.sqs.models import Queue, SQSBackend

    _signals.add(signal)
    if getattr(Queue.add_message, "_parity_signals", False):
        return
    add_message, add_record = Queue.add_message, StreamShard.add
    receive, change_visibility = SQSBackend.receive_message, SQSBackend.change_message_visibility

    def tell(source: str, at_ms: float = 0.0) -> None:
        """``source`` has work now, or at ``at_ms`` (moto's clock: epoch milliseconds)."""
        after = at_ms / 1000 - time.time() + _MOTO_CLOCK_SECONDS if at_ms else 0.0
        for each in list(_signals):
            each.added(source, after=after)

    def queue_add_message(self: Any, message: Any) -> None:
        add_message(self, message)
        tell(f"sqs:{self.name}", message.delayed_until)

    def receive_message(self: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        received = receive(self, queue_name, *args, **kwargs)
        if received:
            tell(f"sqs:{queue_name}", min(m.visible_at for m in received))
        return received

    def change_message_visibility(self: Any, queue_name: str, receipt_handle: str, visibility_timeout: int) -> None:
        change_visibility(self, queue_name, receipt_handle, visibility_timeout)
        tell(f"sqs:{queue_name}", time.time() * 1000 + int(visibility_timeout) * 1000)

    def shard_add(self: Any, old: Any, new: Any) -> None:
        add_record(self, old, new)
        tell(f"dynamodb:{self.table.name}")

    for patched in (queue_add_message, receive_message, change_message_visibility, shard_add):
        patched._parity_signals = True  # type: ignore[attr-defined]
    Queue.add_message = queue_add_message  # type: ignore[method-assign]
    SQSBackend.receive_message = receive_message  # type: ignore[method-assign]
    SQSBackend.change_message_visibility = change_message_visibility  # type: ignore[method-assign]
    StreamShard.add = shard_add  # type: ignore[method-assign]


def _moto_app() -> Any:
    """moto's server application, with what it looks up per request and never changes remembered.

    moto finds the backend for a request's host by listing its own package directory (some 150
    ``isdir`` calls) on every request, under its dispatcher's lock: about a fifth of the local AWS's
    time during a webhook burst. And it lists the response class's methods (``inspect.getmembers``)
    to check the action exists: 5 % more. Neither answer changes while the server runs.
    """
    from moto.core import responses
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    if not hasattr(responses.method_names_from_class, "cache_info"):
        method_names = responses.method_names_from_class
        responses.method_names_from_class = functools.cache(lambda cls: frozenset(method_names(cls)))  # type: ignore[assignment]

    class Dispatcher(DomainDispatcherApplication):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(create_backend_app)
            self.backend_of_host: dict[str | None, Any] = {}

        def get_backend_for_host(self, host: str | None) -> Any:
            if host not in self.backend_of_host:
                self.backend_of_host[host] = super().get_backend_for_host(host)
            return self.backend_of_host[host]

    return Dispatcher()


class MotoServer:
    """moto in server mode on ``127.0.0.1:<port>`` (0 = a free port), in a daemon thread of this process.

    The local stack runs it in a process of its own (``parity_dev.aws_process``); tests of moto's
    own behaviour here run one in theirs, to look at its objects."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        work: Any = None,
        mount: Callable[[Any], Any] | None = None,
    ) -> None:
        """``work``: what is told when a queue or stream has work (``added(source, after=)``), by
        default a ``WorkSignal`` of this process; ``mount(edge)`` returns the WSGI application to
        serve in front of the edge (``parity_dev.aws_process``: its control requests)."""
        self.host = host
        self.port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._mount = mount
        #: When each queue and stream has work, for pollers that wait for it instead of polling (``Pollers(work=…)``).
        self.work = work if work is not None else WorkSignal()
        #: What the functions' SDKs talk to: faults and recordings are scripted here.
        self.edge: AwsEdge | None = None

    @property
    def endpoint_url(self) -> str:
        """The URL to give boto3 as ``endpoint_url`` / ``AWS_ENDPOINT_URL``."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> MotoServer:
        """Bind and start serving; returns self once the socket accepts connections."""
        # Imported here: moto's server pulls in flask, which the in-process mock never needs.
        from moto.moto_server.werkzeug_app import MotoRequestHandler
        from werkzeug.serving import make_server

        from parity_dev.aws_edge import AwsEdge

        # werkzeug logs every request at INFO; AWS calls are not what a developer wants to read.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        atomic_moto_transactions()
        _queue_counts_when_read()
        signal_work(self.work)
        self.edge = AwsEdge(_moto_app())
        app = self._mount(self.edge) if self._mount is not None else self.edge
        self._server = make_server(self.host, self.port, app, threaded=True, request_handler=MotoRequestHandler)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and wait for the server thread."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
