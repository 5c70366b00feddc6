"""Embedded AWS for the local stack: fake credentials, a client factory and a moto server, behind the
edge where tests script AWS errors and record requests (``parity_dev.aws_edge``).

Everything here talks to moto, never to a real account: the credentials are fake on purpose so
a stray call cannot reach AWS.
"""

from __future__ import annotations

import collections
import heapq
import logging
import os
import threading
import time
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


class WorkSignal:
    """Tells a local poller when its own queue or stream has work: at once, or when work falls due.

    Lambda's pollers long-poll: a message or stream record reaches the function within tens of
    milliseconds, and an idle queue costs nothing. Here a poller waits on its source
    (``sqs:<queue name>``, ``dynamodb:<table name>``) and moto says when that source has work
    (``moto_fixes.signal_work``): a message added to a queue (SendMessage, an EventBridge rule's
    target, a redrive) at once, or when its delay ends; a received or hidden message when its
    visibility timeout ends; a record added to a table's stream (a write that changed nothing adds
    none).
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
            self._fall_due(source)  # and so a source nobody polls keeps no past times
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

        from parity_dev import moto_fixes
        from parity_dev.aws_edge import AwsEdge

        # werkzeug logs every request at INFO; AWS calls are not what a developer wants to read.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        moto_fixes.apply(self.work)
        self.edge = AwsEdge(moto_fixes.app())
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
