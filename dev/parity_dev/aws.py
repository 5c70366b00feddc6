"""Embedded AWS for the local stack: fake credentials, a client factory and a moto server, behind the
edge where tests script AWS errors and record requests (``parity_dev.aws_edge``).

Everything here talks to moto, never to a real account: the credentials are fake on purpose so
a stray call cannot reach AWS.
"""

from __future__ import annotations

import logging
import os
import threading
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
    # In-process moto is not thread-safe either (the server is serialized by _SerializedApp): a
    # cancelled transaction's restore would wipe a write another thread made meanwhile, and two racing
    # conditional writes could both pass. One lock makes each write atomic, as DynamoDB does.
    lock = threading.RLock()
    for name in ("transact_write_items", "put_item", "update_item", "delete_item", "batch_write_item", "get_item", "transact_get_items"):
        method = getattr(DynamoDBBackend, name, None)
        if method is not None:
            setattr(DynamoDBBackend, name, _locked(method, lock))


def _locked(method: Callable[..., Any], lock: Any) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return method(*args, **kwargs)

    call._parity_atomic = getattr(method, "_parity_atomic", False)  # type: ignore[attr-defined]
    return call


class WriteSignal:
    """Tells the local pollers that something was written to a DynamoDB table or an SQS queue.

    Lambda's pollers long-poll: a message or stream record reaches the function within tens of
    milliseconds. Sleep-polling every 100 ms added 50–100 ms per hop on average (two hops before a
    room's preview shows) and polling faster starved the 2-core machine; a poller now waits for
    the next write of its service, or its interval at most.
    """

    #: Per service, the ``X-Amz-Target`` prefix and the operations that can give a poller work.
    WRITES = {
        "dynamodb": ("DynamoDB_20120810.", {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}),
        "sqs": ("AmazonSQS.", {"SendMessage", "SendMessageBatch"}),
    }

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._generation = {service: 0 for service in self.WRITES}

    def seen(self, service: str) -> int:
        """The write count of ``service`` now; pass it to ``wait`` after polling."""
        with self._changed:
            return self._generation[service]

    def wait(self, service: str, seen: int, timeout: float) -> bool:
        """Until ``service`` was written to after ``seen`` was read (True), or ``timeout`` seconds (False)."""
        with self._changed:
            return self._changed.wait_for(lambda: self._generation[service] != seen, timeout)

    def observe(self, environ: dict[str, Any]) -> None:
        """Count the request in ``environ`` if it is a write (JSON protocol: ``X-Amz-Target``)."""
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        for service, (prefix, writes) in self.WRITES.items():
            if target.startswith(prefix) and target[len(prefix):] in writes:
                with self._changed:
                    self._generation[service] += 1
                    self._changed.notify_all()
                return


class MotoServer:
    """moto in server mode on ``127.0.0.1:<port>`` (0 = a free port), in a daemon thread of this process."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None
        #: Writes served, for pollers that wait for work instead of sleeping (``Pollers(writes=…)``).
        self.writes = WriteSignal()
        #: What the functions' SDKs talk to: faults and recordings are scripted here.
        self.edge: AwsEdge | None = None

    @property
    def endpoint_url(self) -> str:
        """The URL to give boto3 as ``endpoint_url`` / ``AWS_ENDPOINT_URL``."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> MotoServer:
        """Bind and start serving; returns self once the socket accepts connections."""
        # Imported here: moto's server pulls in flask, which the in-process mock never needs.
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        from parity_dev.aws_edge import AwsEdge

        # werkzeug logs every request at INFO; AWS calls are not what a developer wants to read.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        atomic_moto_transactions()
        self.edge = AwsEdge(DomainDispatcherApplication(create_backend_app), self.writes)
        self._server = make_server(
            self.host, self.port, self.edge, threaded=True, request_handler=MotoRequestHandler
        )
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
