"""A dev-only service (a local-stack style mount) served on a port of its own on 127.0.0.1: the fake
providers' send APIs or the stand-in chat hub outside the local stack's server, for the bench and the
functional tests. ``handle(method, path, query, header_pairs, body)`` answers ``(status, headers,
body)``, or None for a 404 (the same signature ``parity_dev.gateway_server`` mounts)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

NOT_FOUND = (404, {"content-type": "application/json"}, b'{"message":"Not Found"}')


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
def serve_mount(handle: Callable[[str, str, str, Any, bytes], Any]) -> Iterator[Server]:
    """Serve ``handle`` over HTTP/1.1 keep-alive on a free loopback port for the block."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = 1 << 16  # headers and body in one segment: no Nagle/delayed-ACK stall on loopback

        def _respond(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            path, _, query = self.path.partition("?")
            status, headers, payload = handle(self.command, path, query, list(self.headers.items()), body) or NOT_FOUND
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _respond  # noqa: N815

        def log_message(self, *args: Any) -> None:
            pass

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
