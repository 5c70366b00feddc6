"""Embedded AWS for the local stack: fake credentials, a client factory, a moto server, and the edge
in front of it (``AwsEdge``) where tests script AWS errors and record requests.

Everything here talks to moto, never to a real account: the credentials are fake on purpose so
a stray call cannot reach AWS.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import boto3
from botocore.config import Config

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


#: ``X-Amz-Target`` prefixes of the JSON-protocol services the functions use, and the service each names.
_TARGET_SERVICES = {
    "DynamoDB_20120810": ("dynamodb", "application/x-amz-json-1.0", "com.amazonaws.dynamodb.v20120810"),
    "DynamoDBStreams_20120810": ("dynamodbstreams", "application/x-amz-json-1.0", "com.amazonaws.dynamodb.v20120810"),
    "AmazonSQS": ("sqs", "application/x-amz-json-1.0", "com.amazonaws.sqs"),
    "AmazonSSM": ("ssm", "application/x-amz-json-1.1", "com.amazonaws.ssm"),
}
_ACCESS_KEY = re.compile(r"Credential=([^/,\s]+)/")


@dataclass(frozen=True)
class AwsCall:
    """One request that reached the local AWS endpoint.

    ``operation`` is the API's name (``PutItem``) for JSON-protocol services, else ``"METHOD /path"``;
    ``params`` the JSON request (read only while something records or a fault needs it). ``function``
    and ``worker`` name the Lambda worker whose credentials signed it (``LambdaRuntime.identify``),
    None for anyone else (the local stack itself, a test, ``parity ops``). ``error`` is the error
    code a scripted fault answered instead of AWS.
    """

    service: str
    operation: str
    params: dict[str, Any]
    access_key: str
    function: str | None = None
    worker: int | None = None
    error: str | None = None


class AwsCalls(list):  # type: ignore[type-arg]
    """What a recording saw, in order (a list of ``AwsCall``), with the filters tests need."""

    def of(self, service: str | None = None, *, function: str | None = None, operations: Iterable[str] | None = None) -> list[AwsCall]:
        """The calls of ``service`` (all when None), by ``function`` (any Lambda function when "*"), of ``operations``."""
        wanted = set(operations) if operations is not None else None
        return [
            call for call in list(self)
            if (service is None or call.service == service)
            and (function is None or call.function == function or (function == "*" and call.function is not None))
            and (wanted is None or call.operation in wanted)
        ]

    def operations(self, service: str | None = None, *, function: str | None = None) -> list[str]:
        """Just the operation names, in order."""
        return [call.operation for call in self.of(service, function=function)]


@dataclass(eq=False)
class Fault:
    """A scripted answer of the local AWS to the requests it matches: an AWS error (``error``) instead of
    the service, or, with no ``error``, an ``action`` run once the request was served (its effect
    applied, its answer not yet sent back), e.g. killing the worker that sent it.

    Matches requests of ``service`` whose operation is in ``operations`` (all when None), sent by
    ``function`` (anyone when None). ``times`` counts matching HTTP requests, retries included: an SDK
    retries a throttled call (botocore's standard mode: 3 attempts), so a fault meant to fail a whole
    call keeps ``times=None`` (every matching request until removed). Use as a context manager to
    remove it at the end of a block.
    """

    edge: AwsEdge
    service: str
    operations: frozenset[str] | None
    error: str | None = None
    message: str = ""
    status: int = 400
    fields: Callable[[AwsCall], dict[str, Any]] | None = None
    action: Callable[[AwsCall], None] | None = None
    function: str | None = None
    times: int | None = None
    hits: int = 0

    def matches(self, call: AwsCall) -> bool:
        return (
            call.service == self.service
            and (self.operations is None or call.operation in self.operations)
            and (self.function is None or call.function == self.function)
        )

    def remove(self) -> None:
        """Stop answering (idempotent)."""
        self.edge.remove(self)

    def __enter__(self) -> Fault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


class AwsEdge:
    """WSGI middleware in front of moto: what the functions' SDKs really talk to.

    * One AWS request at a time: moto's backends are not thread-safe (two conditional writes
      handled by two server threads could both pass their condition); one lock makes each request
      atomic, as AWS makes each single-item or transactional write atomic.
    * Writes to DynamoDB and SQS are signalled to the pollers (``WriteSignal``).
    * Tests script it: ``fail`` answers matching requests with an AWS error in the service's own
      JSON shape (so botocore raises the same ``ClientError`` as against AWS), ``after`` runs an
      action once a matching request was served; ``recording`` lists every request (service,
      operation, parameters, and which function's worker sent it).
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], writes: WriteSignal | None = None) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.writes = writes
        #: Who signed a request, by access key id: each returns (function, worker) or None.
        self.identifiers: list[Callable[[str], Any]] = []
        self._faults: list[Fault] = []
        self._recordings: list[AwsCalls] = []
        self._scripted = threading.Lock()

    # ---- scripting ----
    def fail(
        self,
        service: str,
        operations: Iterable[str] | None,
        error: str,
        *,
        message: str | None = None,
        status: int = 400,
        fields: Callable[[AwsCall], dict[str, Any]] | None = None,
        function: str | None = None,
        times: int | None = None,
    ) -> Fault:
        """Answer matching requests with AWS error ``error`` (a code such as ``ThrottlingException``)."""
        return self._add(Fault(
            self, service, frozenset(operations) if operations is not None else None, error=error,
            message=message if message is not None else f"{error} (scripted by the local stack)",
            status=status, fields=fields, function=function, times=times,
        ))

    def fail_conditions(self, operations: Iterable[str], *, function: str | None = None, times: int | None = None) -> Fault:
        """DynamoDB's answer when a write's condition fails: ``ConditionalCheckFailedException``, or for
        ``TransactWriteItems`` a ``TransactionCanceledException`` naming each item's failed condition."""
        return self._add(Fault(
            self, "dynamodb", frozenset(operations), error="ConditionalCheckFailedException",
            message="The conditional request failed", fields=_cancellation, function=function, times=times,
        ))

    def after(
        self, service: str, operations: Iterable[str] | None, action: Callable[[AwsCall], None], *, function: str | None = None, times: int | None = 1
    ) -> Fault:
        """Run ``action(call)`` once a matching request was served, before its answer goes back."""
        return self._add(Fault(
            self, service, frozenset(operations) if operations is not None else None, action=action, function=function, times=times,
        ))

    def _add(self, fault: Fault) -> Fault:
        with self._scripted:
            self._faults.append(fault)
        return fault

    def remove(self, fault: Fault) -> None:
        with self._scripted:
            if fault in self._faults:
                self._faults.remove(fault)

    def clear(self) -> None:
        """Remove every scripted fault."""
        with self._scripted:
            self._faults.clear()

    @contextmanager
    def recording(self) -> Iterator[AwsCalls]:
        """Every request served during the block, in order."""
        calls = AwsCalls()
        with self._scripted:
            self._recordings.append(calls)
        try:
            yield calls
        finally:
            with self._scripted:
                self._recordings.remove(calls)

    # ---- serving ----
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        call, fault = None, None
        if self._faults or self._recordings:
            call = self._call(environ)
            fault = self._take(call)
        if fault is not None and fault.error is not None:
            call = replace(call, error=fault.error)  # type: ignore[arg-type]
            self._record(call)
            return self._error(fault, call, start_response)
        with self.lock:
            # Drain the response inside the lock: a lazy iterable would run after we release it.
            body = [b"".join(self.app(environ, start_response))]
        if call is not None:
            self._record(call)
        if fault is not None and fault.action is not None:
            fault.action(call)  # type: ignore[arg-type]
        if self.writes is not None:
            self.writes.observe(environ)  # after the write is visible to the next request
        return body

    def _call(self, environ: dict[str, Any]) -> AwsCall:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        prefix, _, operation = target.partition(".")
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        found = _ACCESS_KEY.search(authorization)
        access_key = found.group(1) if found else ""
        params: dict[str, Any] = {}
        if prefix in _TARGET_SERVICES:
            service = _TARGET_SERVICES[prefix][0]
            params = _json_body(environ)
        else:  # a REST or query protocol: name the service by the signature's scope
            scope = authorization.split("Credential=", 1)[-1].split(",", 1)[0].split("/")
            service = scope[3] if len(scope) > 3 else "unknown"
            operation = f"{environ.get('REQUEST_METHOD', '')} {environ.get('PATH_INFO', '')}"
        function = worker = None
        for identify in self.identifiers:
            caller = identify(access_key)
            if caller is not None:
                function, worker = caller.function, caller.worker
                break
        return AwsCall(service, operation, params, access_key, function, worker)

    def _take(self, call: AwsCall) -> Fault | None:
        with self._scripted:
            for fault in self._faults:
                if fault.matches(call):
                    fault.hits += 1
                    if fault.times is not None and fault.hits >= fault.times:
                        self._faults.remove(fault)
                    return fault
        return None

    def _record(self, call: AwsCall) -> None:
        with self._scripted:
            for calls in self._recordings:
                calls.append(call)

    def _error(self, fault: Fault, call: AwsCall, start_response: Callable[..., Any]) -> list[bytes]:
        prefix = next((p for p, (service, _, _) in _TARGET_SERVICES.items() if service == call.service), None)
        content_type, namespace = (_TARGET_SERVICES[prefix][1:] if prefix else ("application/x-amz-json-1.0", "com.amazonaws"))
        code = fault.error or "InternalFailure"
        if fault.fields is _cancellation and call.operation == "TransactWriteItems":
            code = "TransactionCanceledException"
        payload: dict[str, Any] = {"__type": f"{namespace}#{code}", "message": fault.message}
        if fault.fields is not None:
            payload.update(fault.fields(call))
        if code == "TransactionCanceledException":
            payload["message"] = "Transaction cancelled, please refer cancellation reasons for specific reasons [ConditionalCheckFailed]"
        body = json.dumps(payload).encode()
        start_response(f"{fault.status} Scripted", [
            ("Content-Type", content_type), ("Content-Length", str(len(body))), ("x-amzn-RequestId", str(uuid.uuid4())),
        ])
        return [body]


def _cancellation(call: AwsCall) -> dict[str, Any]:
    """DynamoDB's cancellation reasons: each item of the transaction failed its condition."""
    if call.operation != "TransactWriteItems":
        return {}
    items = call.params.get("TransactItems") or [{}]
    return {"CancellationReasons": [{"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"} for _ in items]}


def _json_body(environ: dict[str, Any]) -> dict[str, Any]:
    """The request's JSON body; the input stream is replaced so the app reads the same bytes."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(raw)
    try:
        parsed = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


class MotoServer:
    """moto in server mode on ``127.0.0.1:<port>`` (0 = a free port), in a daemon thread of this process."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None
        #: Writes served, for pollers that wait for work instead of sleeping (``Pollers(writes=…)``).
        self.writes = WriteSignal()
        #: What the functions' SDKs talk to: faults and recordings are scripted here (``AwsEdge``).
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
