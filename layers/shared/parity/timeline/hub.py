"""The omnichannel hub's message API: a chat room's history, for the timeline note.

    GET {HUB_API_BASE_URL}/api/open/v1/messages/rooms/{room_id}?offset=1&limit=100
    Authorization: Bearer {HUB_API_TOKEN}

A slow or broken hub must never hold a note back (RFC ERR-2), so the call is bounded on every side
and never raises for hub trouble: ``HubClient.chat_history`` returns the messages, or ``None`` and
the reason.

* Time: one total budget (``BUDGET_SECONDS``, 3 s) for everything, name resolution, connect,
  request, headers, body and the retry included. Each attempt runs through ``outbound.within``:
  in a worker thread that the caller stops waiting for at the deadline, so nothing (a DNS stall,
  a server dripping its headers or body a byte at a time) stretches it; inside, every socket
  operation times out at the budget left and the body read stops at the deadline. When the caller
  stops waiting, the attempt's connection is shut down, so an abandoned worker ends at once
  instead of reading on (a name resolution still under way ends on its own timeouts).
* Size: the body is streamed raw (urllib3 does not decode it) and dropped past
  ``MAX_BODY_BYTES`` (1 MiB), before and after decompression (``identity`` is asked for;
  gzip/deflate are decoded here with the same cap).
* Address: through ``parity.core.outbound`` (urllib3): private, loopback and link-local
  targets are refused without connecting unless ``allow_private`` (the local stack only);
  redirects are not followed (a 3xx is a failure).
* Retry: at most one, only after a failure that says "try again" (the name not resolving now,
  connection failure, 429, 5xx) and only when at least ``MIN_RETRY_SECONDS`` of the budget remain.
  A refused target (``outbound.BlockedTarget``) is not retried.
* Shape: a 2xx body that is not JSON or not the documented shape is a failure too
  (``parity.timeline.excerpt.parse_history``).
"""

from __future__ import annotations

import json
import socket
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import urllib3  # already imported by botocore: free at cold start

from parity.core.settings import get_settings
from parity.core.warm import warm
from parity.timeline import excerpt
from parity.core import outbound
from parity.timeline.excerpt import ChatHistory

HISTORY_PATH = "/api/open/v1/messages/rooms/"
HISTORY_QUERY = "offset=1&limit=100"
CHUNK_BYTES = 64 * 1024
BUDGET_SECONDS = 3.0
MAX_BODY_BYTES = 1024 * 1024
MIN_RETRY_SECONDS = 0.5
RETRY_PAUSE_SECONDS = 0.1
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class _Attempt:
    messages: list[excerpt.ChatMessage] | None
    problem: str = ""
    retryable: bool = False


def history_url(base_url: str, room_id: str) -> str:
    """The history address of a room; the id is quoted whole, so it stays one path segment."""
    return f"{base_url.rstrip('/')}{HISTORY_PATH}{quote(room_id, safe='')}?{HISTORY_QUERY}"


class HubClient:
    """Fetches a room's chat history within a total time budget and a byte cap."""

    def __init__(
        self,
        base_url: str | None,
        token: str | None,
        *,
        allow_private: bool = False,
        budget_seconds: float = BUDGET_SECONDS,
        max_bytes: int = MAX_BODY_BYTES,
        client: urllib3.PoolManager | None = None,
        resolver: Callable[..., Any] = socket.getaddrinfo,
    ) -> None:
        self.base_url = base_url
        self._token = token
        self.allow_private = allow_private
        self.budget_seconds = budget_seconds
        self.max_bytes = max_bytes
        self._client = client
        self._resolver = resolver
        # The client is first asked for inside an attempt's worker thread (``outbound.within``), and a
        # caller that gave up may leave one running beside the next: one client, built once.
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # the token stays out of logs and tracebacks
        return f"HubClient(base_url={self.base_url!r}, allow_private={self.allow_private})"

    @property
    def client(self) -> urllib3.PoolManager:
        with self._lock:
            if self._client is None:
                self._client = outbound.new_client(connect=self.budget_seconds, read=self.budget_seconds)
            return self._client

    def chat_history(self, room_id: str) -> ChatHistory:
        """The room's messages, or why not. Returns within the budget; never raises for the hub."""
        if not self.base_url:
            return ChatHistory(None, "HUB_API_BASE_URL is not set")
        if not self._token:
            return ChatHistory(None, "HUB_API_TOKEN is not set")
        if room_id in ("", ".", ".."):
            return ChatHistory(None, "the room id cannot be addressed")
        url = history_url(self.base_url, room_id)
        deadline = time.monotonic() + self.budget_seconds
        attempts = 0
        while True:
            attempts += 1
            result = self._attempt_within(url, room_id, deadline)
            if result.messages is not None:
                return ChatHistory(tuple(result.messages), attempts=attempts)
            left = deadline - time.monotonic() - RETRY_PAUSE_SECONDS
            if not result.retryable or attempts >= 2 or left < MIN_RETRY_SECONDS:
                return ChatHistory(None, result.problem, attempts)
            time.sleep(RETRY_PAUSE_SECONDS)

    # ---- one attempt -----------------------------------------------------------------------
    def _attempt_within(self, url: str, room_id: str, deadline: float) -> _Attempt:
        """One attempt, given up at the deadline (``outbound.within`` cuts its connection off)."""
        try:
            return outbound.within(deadline, lambda: self._attempt(url, room_id, deadline), name="hub-history")
        except outbound.Expired:
            return _Attempt(None, f"no complete answer within {self.budget_seconds:g} s")
        except Exception as exc:  # a bug or an odd library error: still an outcome, never a raise
            return _Attempt(None, f"unexpected error ({type(exc).__name__})")

    def _attempt(self, url: str, room_id: str, deadline: float) -> _Attempt:
        try:
            target = outbound.resolve(url, allow_private=self.allow_private, resolver=self._resolver)
        except outbound.BlockedTarget as exc:
            return _Attempt(None, f"target refused: {exc}")
        except outbound.Unresolvable as exc:  # EAI_AGAIN and the like: may well work a moment later
            return _Attempt(None, str(exc), retryable=True)
        left = deadline - time.monotonic()
        if left <= 0:
            return _Attempt(None, "timed out")
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json", "Accept-Encoding": "identity"}
        try:
            timeout = urllib3.Timeout(connect=left, read=left)
            with outbound.stream(self.client, "GET", target, headers=headers, timeout=timeout) as response:
                status = response.status
                if 300 <= status < 400:
                    return _Attempt(None, f"answered {status} (redirects are not followed)")
                if not 200 <= status < 300:
                    return _Attempt(None, f"answered {status}", retryable=status in _RETRY_STATUSES)
                body, problem = self._read(response, deadline)
        except urllib3.exceptions.HTTPError as exc:
            if outbound.timed_out(exc):
                return _Attempt(None, "timed out")
            # refused, reset, broken protocol: worth one more try
            return _Attempt(None, f"connection failed ({type(exc).__name__})", retryable=True)
        if body is None:
            return _Attempt(None, problem)
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            return _Attempt(None, "the body is not JSON")
        messages = excerpt.parse_history(payload, room_id)
        if messages is None:
            return _Attempt(None, "the body is not the documented shape")
        return _Attempt(messages)

    def _read(self, response: urllib3.HTTPResponse, deadline: float) -> tuple[bytes | None, str]:
        """The body, within the byte cap and the deadline; or None and why."""
        too_big = f"the body is over {self.max_bytes} bytes"
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            return None, too_big
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding in ("", "identity"):
            decoder = None
        elif encoding in ("gzip", "x-gzip", "deflate"):
            decoder = zlib.decompressobj(wbits=47)  # zlib or gzip header, detected
        else:
            return None, f"unsupported content-encoding {encoding!r}"
        body = bytearray()
        received = 0
        try:
            for chunk in response.stream(CHUNK_BYTES, decode_content=False):  # raw bytes, decoded below
                received += len(chunk)
                if decoder is not None:
                    chunk = decoder.decompress(chunk, self.max_bytes + 1 - len(body))
                    if decoder.unconsumed_tail:
                        return None, too_big
                body += chunk
                if received > self.max_bytes or len(body) > self.max_bytes:
                    return None, too_big
                if time.monotonic() > deadline:
                    return None, "timed out"
            if decoder is not None:
                body += decoder.flush()
        except zlib.error:
            return None, "the body does not decompress"
        if len(body) > self.max_bytes:
            return None, too_big
        return bytes(body), ""


@warm
def hub() -> HubClient:
    """The chat-history client (keeps its connections warm between messages)."""
    config = get_settings()
    return HubClient(config.hub_api_base_url, config.hub_api_token, allow_private=config.allow_private_targets)
