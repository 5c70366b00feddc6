"""The edge of the local stack's embedded AWS: WSGI middleware in front of moto, which every AWS
request of the functions (and of the local stack itself) passes through.

It serves one request at a time (moto's backends are not thread-safe) and is where tests script
AWS's behaviour: ``AwsEdge.fail`` answers matching requests with an AWS error in the service's own
JSON shape, ``AwsEdge.after`` runs an action once a request was served, ``AwsEdge.recording`` lists
the requests with the function and worker that signed each.
"""

from __future__ import annotations

import io
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

#: ``X-Amz-Target`` prefixes of the JSON-protocol services the functions use, and the service each names.
_TARGET_SERVICES = {
    "DynamoDB_20120810": ("dynamodb", "application/x-amz-json-1.0", "com.amazonaws.dynamodb.v20120810"),
    "DynamoDBStreams_20120810": ("dynamodbstreams", "application/x-amz-json-1.0", "com.amazonaws.dynamodb.v20120810"),
    "AmazonSQS": ("sqs", "application/x-amz-json-1.0", "com.amazonaws.sqs"),
    "AmazonSSM": ("ssm", "application/x-amz-json-1.1", "com.amazonaws.ssm"),
    "AWSEvents": ("events", "application/x-amz-json-1.1", "com.amazonaws.events"),
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
    ``function`` (anyone when None), on DynamoDB ``table`` (any when None; a transaction matches when
    one of its items is on it). ``times`` counts matching HTTP requests, retries included: an SDK
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
    table: str | None = None
    hits: int = 0

    def matches(self, call: AwsCall) -> bool:
        return (
            call.service == self.service
            and (self.operations is None or call.operation in self.operations)
            and (self.function is None or call.function == self.function)
            and (self.table is None or self.table in _tables(call))
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
    * Tests script it: ``fail`` answers matching requests with an AWS error in the service's own
      JSON shape (so botocore raises the same ``ClientError`` as against AWS), ``after`` runs an
      action once a matching request was served; ``recording`` lists every request (service,
      operation, parameters, and which function's worker sent it).
    """

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.lock = threading.Lock()
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
        table: str | None = None,
    ) -> Fault:
        """Answer matching requests with AWS error ``error`` (a code such as ``ThrottlingException``);
        ``table`` narrows a DynamoDB fault to the requests on that table."""
        return self._add(Fault(
            self, service, frozenset(operations) if operations is not None else None, error=error,
            message=message if message is not None else f"{error} (scripted by the local stack)",
            status=status, fields=fields, function=function, times=times, table=table,
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
        calls = self.start_recording()
        try:
            yield calls
        finally:
            self.stop_recording(calls)

    def start_recording(self) -> AwsCalls:
        """A list every request served from now on is appended to, until ``stop_recording``."""
        calls = AwsCalls()
        with self._scripted:
            self._recordings.append(calls)
        return calls

    def stop_recording(self, calls: AwsCalls) -> None:
        with self._scripted:  # by identity: two recordings that saw the same calls are equal lists
            self._recordings[:] = [other for other in self._recordings if other is not calls]

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


def _tables(call: AwsCall) -> set[str]:
    """The DynamoDB tables a request is on (each item's, for a transaction or a batch)."""
    params = call.params
    found = {params["TableName"]} if isinstance(params.get("TableName"), str) else set()
    for item in params.get("TransactItems") or []:
        found.update(body.get("TableName") for body in item.values() if isinstance(body, dict) and isinstance(body.get("TableName"), str))
    for key in ("RequestItems",):
        found.update(name for name in params.get(key) or {} if isinstance(name, str))
    return found


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
