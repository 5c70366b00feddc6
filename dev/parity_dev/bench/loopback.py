"""A keep-alive HTTP/1.1 JSON server on 127.0.0.1 for the bench's stand-ins (the omnichannel
receiver of figure 7, the chat hub of figures 4-5). A mount (the fake providers) is served by
``parity_dev.loopback.serve_mount``."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any

from parity_dev.loopback import Server


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
