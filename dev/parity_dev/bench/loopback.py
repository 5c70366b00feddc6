"""A keep-alive HTTP/1.1 JSON server on 127.0.0.1 for the bench's stand-ins (the omnichannel
receiver of figure 7, the chat hub of figures 4-5)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    accepted = 0  # TCP connections accepted: a keep-alive client should open one

    def get_request(self):
        conn = super().get_request()
        self.accepted += 1
        return conn

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"


@contextmanager
def json_server(answer: Callable[[str, str], Any]) -> Iterator[Server]:
    """Serve every GET and POST with ``answer(method, path)`` as a 200 JSON body (a request body is
    read first); ``answer`` may sleep to play a slow peer."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = 1 << 16  # headers and body in one segment: no Nagle/delayed-ACK stall on loopback

        def _respond(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            body = json.dumps(answer(self.command, self.path)).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _respond  # noqa: N815

        def log_message(self, *args: Any) -> None:
            pass

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def mount_server(handle: Callable[[str, str, str, Any, bytes], Any]) -> Iterator[Server]:
    """Serve a local-stack style mount (``handle(method, path, query, headers, body)`` → (status,
    headers, body) or None for a 404) on 127.0.0.1: the fake providers' send APIs
    (``parity_dev.fake_providers.FakeProviders.handle``) outside the local stack's own server."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = 1 << 16

        def _respond(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            path, _, query = self.path.partition("?")
            answer = handle(self.command, path, query, dict(self.headers.items()), body)
            status, headers, payload = answer if answer is not None else (404, {"content-type": "application/json"}, b'{"message":"Not Found"}')
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_DELETE = _respond  # noqa: N815

        def log_message(self, *args: Any) -> None:
            pass

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
