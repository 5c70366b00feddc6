"""The local stack's HTTP server in front of the emulated HTTP API (``parity_dev.gateway``): HTTP/1.1
with chunked bodies and the 10 MB limit, unknown methods routed like the rest (API Gateway's 404,
not the stdlib's 501), and dev-only services mounted beside the API (the fake providers, the
seeded channels, the stack's own info)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from parity_dev.gateway import Gateway, Response, _error

log = logging.getLogger("parity_dev.gateway")


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "parity-local"
    server: _GatewayServer

    def _serve(self) -> None:
        raw_path, _, raw_query = self.path.partition("?")
        body, too_large = self._read_body()
        mounted = None if too_large else self._mounted(raw_path, raw_query, body)
        if too_large:
            response = _error(413, "Request Entity Too Large")
            self.close_connection = True
        elif mounted is not None:
            response = mounted
        else:
            try:
                response = self.server.gateway.handle(
                    self.command,
                    raw_path,
                    raw_query,
                    list(self.headers.items()),
                    body,
                    source_ip=self.client_address[0],
                    protocol=self.request_version,
                )
            except Exception:  # a bug of the emulation itself: still answer, as API Gateway would
                log.exception("gateway failure on %s %s", self.command, self.path)
                response = _error(500, "Internal Server Error")
        self.send_response(response.status)
        for name, value in response.headers.items():
            if name not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        for cookie in response.cookies:
            self.send_header("set-cookie", cookie)
        self.send_header("content-length", str(len(response.body)))
        if self.close_connection:
            self.send_header("connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _mounted(self, raw_path: str, raw_query: str, body: bytes) -> Response | None:
        """A dev-only service mounted beside the API (the fake providers, the seeded channels, the stack's own info)."""
        for mount in self.server.mounts:
            answer = mount(self.command, raw_path, raw_query, list(self.headers.items()), body)
            if answer is not None:
                status, headers, payload = answer
                return Response(status, {k.lower(): v for k, v in headers.items()}, payload if isinstance(payload, bytes) else payload.encode())
        return None

    def _read_body(self) -> tuple[bytes, bool]:
        limit = self.server.gateway.max_body_bytes
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            chunks, size = [], 0
            while True:
                length = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if length == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks), False
                size += length
                if size > limit:
                    return b"", True
                chunks.append(self.rfile.read(length))
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        if length > limit:
            return b"", True
        return self.rfile.read(length) if length else b"", False

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def __getattr__(self, name: str) -> Any:
        # Any other method (TRACE, PROPFIND, …) is routed like the rest: API Gateway answers an
        # unknown method with 404, where the stdlib would answer 501 (a 5xx the API never gives).
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        # The gateway already logs one line per request; keep only the server's own errors.
        if args and str(args[0]).startswith(("code ", "Request timed out")):
            log.warning("%s - %s", self.client_address[0], format % args)


#: A service mounted beside the API: ``(method, raw_path, raw_query, header_pairs, body)`` →
#: ``(status, headers, body)``, or None when the path is not its own.
Mount = Callable[[str, str, str, list[tuple[str, str]], bytes], "tuple[int, Mapping[str, str], bytes | str] | None"]


class _GatewayServer(ThreadingHTTPServer):
    daemon_threads = True
    gateway: Gateway
    mounts: list[Mount]


def make_server(gateway: Gateway | None, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """An HTTP server for ``gateway`` bound to ``host:port`` (0 = a free port); call ``serve_forever()``.

    ``gateway`` may be set later (``server.gateway = ...``) but before serving: binding first tells
    the caller its port, which the deployed configuration may need (e.g. a webhook URL).
    """
    server = _GatewayServer((host, port), _RequestHandler)
    server.gateway = gateway  # type: ignore[assignment]
    server.mounts = []
    return server
