"""One blocking attempt within a total deadline, cut off when the deadline comes.

``within(deadline, attempt)`` runs ``attempt`` in a worker thread and stops waiting at the deadline:
it raises ``Expired`` and shuts down the socket the attempt has open (its connection, then its
answer), so an abandoned worker ends at once instead of reading on. The connections of
``parity.core.outbound.new_client`` clients (``TrackedHTTPPool``/``TrackedHTTPSPool``) tell the
attempt running in their thread which socket is theirs. The lock and thread-local here serve these
worker threads — a real Lambda's, not an emulator's.
"""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import urllib3  # already imported by botocore: free at cold start
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

T = TypeVar("T")


class Expired(Exception):
    """``within``: the deadline came before the attempt finished; what it had open was cut off."""



def abort(response: urllib3.HTTPResponse) -> None:
    """Cut an open response off from another thread: a read blocked on its socket returns at once
    (the socket is shut down, not closed: closing a socket another thread is reading is unsafe).
    urllib3 2.3+ does it itself (``HTTPResponse.shutdown``). Older versions keep no handle on the
    socket once http.client hands it to the response (an answer that closes its connection), so
    the socket is found where 1.26 leaves it: the connection's, else the one under the response's
    file (``_fp.fp.raw._sock``: urllib3 1.26 and http.client internals, looked up defensively)."""
    try:
        response.shutdown()
        return
    except (AttributeError, NotImplementedError, ValueError, RuntimeError, OSError):
        pass  # no such method, or nothing left to shut down
    sock = getattr(getattr(response, "connection", None), "sock", None)
    if sock is None:
        raw = getattr(getattr(getattr(response, "_fp", None), "fp", None), "raw", None)
        sock = getattr(raw, "_sock", None)
    _shutdown(sock)


def _shutdown(sock: Any) -> None:
    if isinstance(sock, socket.socket):
        try:
            socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain socket's, under TLS too
        except OSError:
            pass


# ---- one attempt within a deadline ------------------------------------------------------------
class _Call:
    """What one running attempt has open (its connection, then its answer), so that the thread
    waiting for it can cut it off at the deadline. Registered by the connections and ``stream``
    themselves; let go before the connection returns to the pool, so a late cut never touches a
    connection that serves another call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connection: HTTPConnection | None = None
        self._response: urllib3.HTTPResponse | None = None
        self._cut = False

    def use(self, connection: HTTPConnection) -> None:
        with self._lock:
            self._connection = connection
            if self._cut:  # the caller gave up before the attempt got this far
                _shutdown(getattr(connection, "sock", None))

    def hold(self, response: urllib3.HTTPResponse) -> None:
        with self._lock:
            self._response = response
            if self._cut:
                abort(response)

    def let_go(self) -> None:
        with self._lock:
            self._connection = None
            self._response = None

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            if self._connection is not None:
                _shutdown(getattr(self._connection, "sock", None))
            if self._response is not None:
                abort(self._response)


_running = threading.local()


def running_call() -> _Call | None:
    return getattr(_running, "call", None)


class _Tracked:
    """Mixed into urllib3's connections: each tells the attempt running in its thread (if any)
    that it is the connection in use, when it connects and when it sends a request (a kept-alive
    connection is already connected)."""

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        call = running_call()
        if call is not None:
            call.use(self)  # type: ignore[arg-type]

    def request(self, *args: Any, **kwargs: Any) -> Any:
        call = running_call()
        if call is not None:
            call.use(self)  # type: ignore[arg-type]
        return super().request(*args, **kwargs)  # type: ignore[misc]


class _TrackedHTTPConnection(_Tracked, HTTPConnection):
    pass


class _TrackedHTTPSConnection(_Tracked, HTTPSConnection):
    pass


class TrackedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _TrackedHTTPConnection


class TrackedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _TrackedHTTPSConnection


def within(deadline: float, attempt: Callable[[], T], *, name: str = "outbound") -> T:
    """Run ``attempt()`` in a worker thread and wait for it until ``deadline`` (``time.monotonic()``):
    its result, or what it raised, raised here. At the deadline, raise ``Expired`` and cut off the
    connection and answer it has open through ``stream``/``send`` on a ``new_client`` client (its
    socket is shut down), so the abandoned worker ends at once instead of reading on. Whatever the
    attempt does before it has a connection (name resolution) ends on its own timeouts: give every
    operation inside at most the time left."""
    box: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()
    call = _Call()

    def work() -> None:
        _running.call = call
        try:
            box.put((True, attempt()))
        except BaseException as exc:  # handed to the waiting thread, raised there
            box.put((False, exc))
        finally:
            _running.call = None

    threading.Thread(target=work, name=name, daemon=True).start()
    try:
        finished, outcome = box.get(timeout=max(0.0, deadline - time.monotonic()))
    except queue.Empty:
        call.cut()
        raise Expired("no complete answer before the deadline") from None
    if finished:
        return outcome
    raise outcome
