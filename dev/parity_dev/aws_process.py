"""The local stack's embedded AWS in a process of its own: moto behind the edge (``parity_dev.aws``'s
``MotoServer``), scripted and heard from the local stack's process as if it were there.
(A little over 400 lines: both ends of one protocol, read side by side.)

Why a process: moto serves every AWS request of every function, and in the local stack's own
interpreter it shared one GIL with the HTTP gateway, the runtime's hand-offs to the workers and the
pollers. During a burst of channel webhooks that interpreter was the bottleneck (busy all the time,
mostly in moto), and every hand-off waited for it: the workers sat idle half of each invocation.

``AwsProcess`` (here, in the local stack) starts ``python -m parity_dev.aws_process`` and offers what
``MotoServer`` offers: ``endpoint_url``, ``work`` (a ``WorkSignal`` the pollers wait on) and ``edge``
(``RemoteEdge``: ``fail``, ``fail_conditions``, ``after``, ``recording``, ``clear``, ``identifiers``,
as ``AwsEdge``'s). Between the two:

* HTTP: the AWS endpoint, and ``POST /_parity/edge`` for the edge's scripting, answered in JSON;
* two pipes of JSON lines: the AWS process says when a queue or stream has work (``{"work", "after"}``)
  and asks the local stack what only it knows (``{"ask": n, "identify": <access key>}``: which
  function's worker signed; ``{"ask": n, "action": <id>, "call": {...}}``: run an ``after`` action,
  whose request waits for it); the local stack answers (``{"answer": n, "value"|"error"}``). The AWS
  process ends when its pipe from the local stack closes: when the stack stops, or dies.
"""

from __future__ import annotations

import dataclasses
import http.client
import itertools
import json
import logging
import os
import select
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from parity_dev.aws import MotoServer, WorkSignal
from parity_dev.aws_edge import AwsCall, AwsCalls, AwsEdge

log = logging.getLogger("parity_dev.aws_process")

CONTROL_PATH = "/_parity/edge"
#: The AWS process imports moto's server (flask, werkzeug, every backend's URL table) before it serves.
START_TIMEOUT_SECONDS = 60.0
#: How long a request of the AWS process waits for the local stack's answer (an ``after`` action runs in it).
ASK_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 5.0


def _line(message: dict[str, Any]) -> bytes:
    return (json.dumps(message) + "\n").encode()


def _write(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]


# ---- in the local stack's process ----

class AwsProcess:
    """The embedded AWS in a process of its own (module docstring), from the local stack's side."""

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        #: When each queue and stream has work, for pollers that wait for it (``Pollers(work=…)``).
        self.work = WorkSignal()
        self.edge: RemoteEdge | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._to_child = -1
        self._writing = threading.Lock()
        self._reader: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        """The URL to give boto3 as ``endpoint_url`` / ``AWS_ENDPOINT_URL``."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> AwsProcess:
        """Start the AWS process; returns once it serves."""
        to_child_read, self._to_child = os.pipe()
        from_child, from_child_write = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(to_child_read), str(from_child_write)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,  # stderr: the local stack's
                pass_fds=(to_child_read, from_child_write),
                start_new_session=True,  # a Ctrl-C is the local stack's to handle; it ends this process
            )
        finally:
            os.close(to_child_read)
            os.close(from_child_write)
        stream = os.fdopen(from_child, "rb")
        ready, _, _ = select.select([stream], [], [], START_TIMEOUT_SECONDS)
        first = json.loads(stream.readline() or "{}") if ready else {}
        if "ready" not in first:
            stream.close()
            self.stop()
            raise RuntimeError(f"the local AWS process did not start within {START_TIMEOUT_SECONDS:.0f} s")
        self.port = int(first["ready"])
        self.edge = RemoteEdge(self.host, self.port)
        self._reader = threading.Thread(target=self._read, args=(stream,), name="aws-process", daemon=True)
        self._reader.start()
        return self

    def _read(self, stream: Any) -> None:
        with stream:
            for raw in stream:
                message = json.loads(raw)
                if "work" in message:
                    self.work.added(message["work"], after=float(message.get("after") or 0.0))
                elif "identify" in message:  # quick: answered here
                    self._answer(message)
                else:  # an action may call AWS, whose requests may ask again: not on this thread
                    threading.Thread(target=self._answer, args=(message,), name="aws-action", daemon=True).start()

    def _answer(self, message: dict[str, Any]) -> None:
        assert self.edge is not None
        try:
            reply = {"answer": message["ask"], "value": self.edge.answer(message)}
        except Exception as error:  # the request that asked fails, as it did when the action raised in-process
            log.exception("answering the local AWS process failed")
            reply = {"answer": message["ask"], "error": f"{type(error).__name__}: {error}"}
        with self._writing:
            if self._to_child >= 0:
                _write(self._to_child, _line(reply))

    def stop(self) -> None:
        """End the AWS process (closing its pipe ends it) and wait for it."""
        with self._writing:
            fd, self._to_child = self._to_child, -1
        if fd >= 0:
            os.close(fd)
        if self.process is not None:
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._reader is not None:
            self._reader.join(timeout=STOP_TIMEOUT_SECONDS)


class RemoteEdge:
    """The edge in the AWS process, scripted from here: ``AwsEdge``'s calls, over ``CONTROL_PATH``.

    ``identifiers`` and ``after`` actions stay in this process; the AWS process asks for them.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        #: Who signed a request, by access key id: each returns an object with ``function`` and ``worker``, or None.
        self.identifiers: list[Callable[[str], Any]] = []
        self._actions: dict[int, Callable[[AwsCall], None]] = {}
        self._ids = itertools.count(1)

    def command(self, op: str, **arguments: Any) -> Any:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            connection.request("POST", CONTROL_PATH, body=json.dumps({"op": op, **arguments}), headers={"Content-Type": "application/json"})
            answer = json.loads(connection.getresponse().read())
        finally:
            connection.close()
        if "error" in answer:
            raise RuntimeError(f"the local AWS refused {op}: {answer['error']}")
        return answer["value"]

    # ---- scripting (as AwsEdge) ----
    def fail(
        self, service: str, operations: Iterable[str] | None, error: str, *, message: str | None = None, status: int = 400,
        function: str | None = None, times: int | None = None, table: str | None = None,
    ) -> RemoteFault:
        """``AwsEdge.fail``, in the AWS process."""
        return self._fault("fail", service=service, operations=_listed(operations), error=error, message=message,
                           status=status, function=function, times=times, table=table)

    def fail_conditions(self, operations: Iterable[str], *, function: str | None = None, times: int | None = None) -> RemoteFault:
        """``AwsEdge.fail_conditions``, in the AWS process."""
        return self._fault("fail_conditions", operations=_listed(operations), function=function, times=times)

    def after(
        self, service: str, operations: Iterable[str] | None, action: Callable[[AwsCall], None], *, function: str | None = None, times: int | None = 1
    ) -> RemoteFault:
        """``AwsEdge.after``: ``action`` runs here while the request waits in the AWS process."""
        fault = RemoteFault(self, next(self._ids))
        self._actions[fault.id] = action  # before the AWS process can match a request with it
        self.command("after", id=fault.id, service=service, operations=_listed(operations), function=function, times=times)
        return fault

    def _fault(self, op: str, **arguments: Any) -> RemoteFault:
        fault = RemoteFault(self, next(self._ids))
        self.command(op, id=fault.id, **arguments)
        return fault

    def remove(self, fault: RemoteFault) -> None:
        fault.remove()

    def clear(self) -> None:
        """Remove every scripted fault."""
        self.command("clear")
        self._actions.clear()

    @contextmanager
    def recording(self) -> Iterator[AwsCalls]:
        """Every request served during the block, in order (read from the AWS process when read)."""
        calls = RemoteCalls(self, next(self._ids))
        self.command("record", id=calls.id)
        try:
            yield calls
        finally:
            calls.end()

    # ---- what the AWS process asks ----
    def answer(self, message: dict[str, Any]) -> Any:
        if "identify" in message:
            for identify in list(self.identifiers):
                caller = identify(message["identify"])
                if caller is not None:
                    return [caller.function, caller.worker]
            return None
        action = self._actions.get(message["action"])
        if action is not None:
            action(AwsCall(**message["call"]))
        return None


class RemoteFault:
    """A scripted fault in the AWS process (``aws_edge.Fault``'s ``remove``, ``hits`` and ``with``)."""

    def __init__(self, edge: RemoteEdge, id: int) -> None:
        self.edge, self.id = edge, id
        self._final_hits: int | None = None

    @property
    def hits(self) -> int:
        return self._final_hits if self._final_hits is not None else int(self.edge.command("hits", id=self.id))

    def remove(self) -> None:
        """Stop answering (idempotent)."""
        if self._final_hits is None:
            self._final_hits = int(self.edge.command("remove", id=self.id))
            self.edge._actions.pop(self.id, None)

    def __enter__(self) -> RemoteFault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


class RemoteCalls(AwsCalls):
    """A recording in the AWS process: brought here each time it is read, and once more when it ends."""

    def __init__(self, edge: RemoteEdge, id: int) -> None:
        super().__init__()
        self.edge, self.id = edge, id
        self._open = True

    def _bring(self, op: str = "recorded") -> None:
        if self._open:
            self.extend(AwsCall(**call) for call in self.edge.command(op, id=self.id, since=list.__len__(self)))

    def end(self) -> None:
        self._bring("stop_recording")
        self._open = False

    def __iter__(self) -> Iterator[AwsCall]:
        self._bring()
        return super().__iter__()

    def __len__(self) -> int:
        self._bring()
        return super().__len__()

    def __getitem__(self, index: Any) -> Any:
        self._bring()
        return super().__getitem__(index)


def _listed(operations: Iterable[str] | None) -> list[str] | None:
    return sorted(operations) if operations is not None else None


# ---- in the AWS process ----

class _Caller(NamedTuple):
    function: str
    worker: int


class _LocalStack:
    """The local stack's process, from the AWS process: told of work, asked what only it knows."""

    def __init__(self, from_stack: int, to_stack: int) -> None:
        self._to_stack = to_stack
        self._writing = threading.Lock()
        self._waiting: dict[int, dict[str, Any]] = {}
        self._numbers = itertools.count(1)
        self._callers: dict[str, _Caller | None] = {}
        threading.Thread(target=self._read, args=(from_stack,), name="local-stack", daemon=True).start()

    def _send(self, message: dict[str, Any]) -> None:
        with self._writing:
            _write(self._to_stack, _line(message))

    def ask(self, **question: Any) -> Any:
        number = next(self._numbers)
        box: dict[str, Any] = {"answered": threading.Event()}
        self._waiting[number] = box
        self._send({"ask": number, **question})
        if not box["answered"].wait(ASK_TIMEOUT_SECONDS):
            self._waiting.pop(number, None)
            raise TimeoutError(f"the local stack did not answer {sorted(question)} within {ASK_TIMEOUT_SECONDS:.0f} s")
        if "error" in box:
            raise RuntimeError(box["error"])
        return box.get("value")

    def _read(self, fd: int) -> None:
        with os.fdopen(fd, "rb") as stream:
            for raw in stream:
                answer = json.loads(raw)
                box = self._waiting.pop(answer["answer"], None)
                if box is not None:
                    box.update(answer)
                    box["answered"].set()
        os._exit(0)  # the local stack stopped (or is gone): so is its AWS

    # ``signal_work``'s listener: a queue or stream has work
    def added(self, source: str, *, after: float = 0.0) -> None:
        self._send({"work": source, "after": after})

    # ``AwsEdge.identifiers``: keys are given to a worker before it starts, so an answer holds
    def identify(self, access_key: str) -> _Caller | None:
        if access_key not in self._callers:
            found = self.ask(identify=access_key)
            self._callers[access_key] = _Caller(*found) if found else None
        return self._callers[access_key]


class _Control:
    """The edge's scripting, as JSON requests on ``CONTROL_PATH`` from the local stack."""

    def __init__(self, stack: _LocalStack) -> None:
        self.stack = stack
        self.faults: dict[int, Any] = {}
        self.recordings: dict[int, AwsCalls] = {}

    def mount(self, edge: AwsEdge) -> Callable[..., Iterable[bytes]]:
        self.edge = edge
        edge.identifiers.append(self.stack.identify)

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            if environ.get("PATH_INFO") != CONTROL_PATH:
                return edge(environ, start_response)
            request = json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
            try:
                answer = {"value": self.handle(request.pop("op"), **request)}
            except Exception as error:  # noqa: BLE001 - the local stack raises it, with its name
                answer = {"error": f"{type(error).__name__}: {error}"}
            body = json.dumps(answer).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]

        return app

    def handle(self, op: str, id: int | None = None, since: int = 0, **arguments: Any) -> Any:
        edge = self.edge
        if op in ("fail", "fail_conditions", "after"):
            if op == "after":
                number = id
                arguments["action"] = lambda call: self.stack.ask(action=number, call=dataclasses.asdict(call))
            fault = getattr(edge, op)(**arguments)
            self.faults[id] = fault  # type: ignore[index]
            return None
        if op in ("remove", "hits"):
            fault = self.faults.pop(id, None) if op == "remove" else self.faults.get(id)  # type: ignore[arg-type]
            if fault is None:
                return 0
            if op == "remove":
                fault.remove()
            return fault.hits
        if op == "clear":
            edge.clear()
            self.faults.clear()
            return None
        if op == "record":
            self.recordings[id] = edge.start_recording()  # type: ignore[index]
            return None
        calls = self.recordings[id] if op == "recorded" else self.recordings.pop(id)  # type: ignore[index]
        if op == "stop_recording":
            edge.stop_recording(calls)
        return [dataclasses.asdict(call) for call in list(calls)[since:]]


def main(argv: list[str]) -> None:
    """The AWS process: serve moto behind the edge until the local stack closes our pipe."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # moto warns of each template resource its CloudFormation does not make (the HTTP API, read by
    # ``declared.py``; the alarms): some 90 lines a deploy, none of them news.
    logging.getLogger("moto").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="Tried to parse", category=UserWarning)  # and again, as warnings
    stack = _LocalStack(int(argv[0]), int(argv[1]))
    control = _Control(stack)
    server = MotoServer(work=stack, mount=control.mount).start()
    stack._send({"ready": server.port})
    threading.Event().wait()  # serving in the server's thread; the pipe's end ends the process


if __name__ == "__main__":  # pragma: no cover - the AWS process
    main(sys.argv[1:])
