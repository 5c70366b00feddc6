"""A stand-in for an external omnichannel hub's message API: a test double, not part of the local stack.

The timeline note reads the rooms Parity hosts from its own conversation table, and still fetches
any other room from ``HUB_API_BASE_URL`` (``parity.timeline.hub.HubClient``). The local stack points
that at itself (Parity's own chat-history route); tests of the external-hub path point it at this
instead, served on a loopback port of its own (``serving``):

    GET  /api/open/v1/messages/rooms/{room_id}?offset=1&limit=100   the hub's route and answer shape
    POST /_local/rooms/{room_id}/messages                            add a message to a room
    GET|POST /_local/hub/outage   {"down": true|false}               take the history API down (503)

All need ``Authorization: Bearer <token>`` with the token the hub was built with, as the real hub
does. Rooms are seeded from ``demo_rooms.json`` (each message ``minutes_ago`` before the hub
starts); unknown rooms are a 404, as on the hub, until a message is posted to them. A history page
lists the newest messages first: page ``offset`` (from 1) of ``limit`` (1..100) messages. While an
outage is on, the history route answers 503 (the chat-history-down case of the RFC, ERR-2).

Pure and thread-safe: ``DemoHub.handle`` takes the request's parts and returns
``(status, headers, body)``, or None for a path that is not its own, so any HTTP server can serve it.
"""

from __future__ import annotations

import hmac
import itertools
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

from parity_dev.loopback import serve_mount

DEFAULT_ROOMS_FILE = Path(__file__).with_name("demo_rooms.json")
HISTORY_PREFIX = "/api/open/v1/messages/rooms/"
LOCAL_PREFIX = "/_local/rooms/"
OUTAGE_PATH = "/_local/hub/outage"
MAX_LIMIT = 100
MAX_TEXT = 4096
MAX_NAME = 100
MAX_SENDER_TYPE = 32
MAX_BODY_BYTES = 64 * 1024

Reply = tuple[int, dict[str, str], bytes]


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class DemoHub:
    """Chat rooms in memory, answering the hub's message API."""

    def __init__(
        self,
        token: str,
        *,
        rooms_file: Path | str | None = DEFAULT_ROOMS_FILE,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        if not token:
            raise ValueError("the demo hub needs the bearer token its callers will present")
        self._token = token
        self._now = now
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._rooms: dict[str, list[dict[str, Any]]] = {}
        self._down = False
        if rooms_file is not None:
            self.load(Path(rooms_file))

    def __repr__(self) -> str:
        return f"DemoHub(rooms={len(self._rooms)})"

    def load(self, rooms_file: Path) -> None:
        """Seed rooms from a JSON file ``{"rooms": {room_id: [{sender_type, sender_name, text, minutes_ago}]}}``."""
        seeds = json.loads(rooms_file.read_text(encoding="utf-8"))
        started = self._now()
        for room_id, messages in seeds.get("rooms", {}).items():
            ordered = sorted(messages, key=lambda m: -float(m.get("minutes_ago", 0)))
            for seed in ordered:
                moment = started - timedelta(minutes=float(seed.get("minutes_ago", 0)))
                self.add_message(room_id, seed["sender_type"], seed.get("sender_name"), seed["text"], at=moment)
            with self._lock:
                self._rooms.setdefault(room_id, [])

    def add_message(self, room_id: str, sender_type: str, sender_name: str | None, text: str, *, at: datetime | None = None) -> dict[str, Any]:
        """Append a message to a room (created if new); returns it in the hub's shape."""
        with self._lock:
            message = {
                "id": f"msg-{next(self._ids):06d}",
                "room_id": room_id,
                "sender_type": sender_type,
                "sender_name": sender_name,
                "text": text,
                "created_at": _iso(at or self._now()),
            }
            self._rooms.setdefault(room_id, []).append(message)
            return dict(message)

    def rooms(self) -> list[str]:
        """The ids of the rooms the hub knows, sorted."""
        with self._lock:
            return sorted(self._rooms)

    @property
    def down(self) -> bool:
        """True while the history API answers 503."""
        return self._down

    def set_down(self, down: bool) -> None:
        """Start (True) or end (False) an outage of the history API."""
        self._down = bool(down)

    def messages(self, room_id: str) -> list[dict[str, Any]] | None:
        """A room's messages, oldest first; None for a room the hub does not know."""
        with self._lock:
            found = self._rooms.get(room_id)
            return [dict(m) for m in found] if found is not None else None

    # ---- HTTP --------------------------------------------------------------------------------
    def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | str | None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]],
        body: bytes | str | None,
    ) -> Reply | None:
        """Answer a request on one of the hub's paths; None when the path is not the hub's.

        ``path`` as sent (percent-encoded; a query string after "?" is ignored), ``query`` as a
        raw query string or a mapping, ``headers`` as a mapping or (name, value) pairs in any case.
        """
        path = path.split("?", 1)[0]
        method = method.upper()
        if path.startswith(HISTORY_PREFIX):
            room = path[len(HISTORY_PREFIX) :]
            if not room or "/" in room:
                return _error(404, "not_found", "no such route")
            if method != "GET":
                return _error(405, "method_not_allowed", "use GET", allow="GET")
            return self._authorized(headers) or self._history(unquote(room), _query(query))
        if path.startswith(LOCAL_PREFIX) and path.endswith("/messages"):
            room = path[len(LOCAL_PREFIX) : -len("/messages")]
            if not room or "/" in room:
                return _error(404, "not_found", "no such route")
            if method != "POST":
                return _error(405, "method_not_allowed", "use POST", allow="POST")
            return self._authorized(headers) or self._post_message(unquote(room), body)
        if path == OUTAGE_PATH:
            if method not in ("GET", "POST"):
                return _error(405, "method_not_allowed", "use GET or POST", allow="GET, POST")
            return self._authorized(headers) or self._outage(method, body)
        return None

    def _authorized(self, headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> Reply | None:
        """None when the bearer token is the configured one; else the 401 to send."""
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        lowered = {str(k).lower(): str(v) for k, v in pairs}
        scheme, _, presented = (lowered.get("authorization") or "").strip().partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), self._token.encode()):
            return None
        return _error(401, "unauthorized", "a valid bearer token is required", www_authenticate="Bearer")

    def _outage(self, method: str, body: bytes | str | None) -> Reply:
        if method == "POST":
            try:
                payload = json.loads(body or b"")
            except (ValueError, RecursionError):
                return _error(400, "invalid_json", "the body is not valid JSON")
            if not isinstance(payload, dict) or not isinstance(payload.get("down"), bool):
                return _error(422, "validation_error", "send {\"down\": true} or {\"down\": false}", details=[{"field": "down", "message": "a boolean", "type": "bool_type"}])
            self.set_down(payload["down"])
        return _json(200, {"down": self.down})

    def _history(self, room_id: str, query: dict[str, str]) -> Reply:
        if self.down:
            return _error(503, "unavailable", "the chat history is down (dev outage switch)", retry_after="1")
        offset, limit = _int(query.get("offset"), 1), _int(query.get("limit"), MAX_LIMIT)
        if offset is None or offset < 1 or limit is None or not 1 <= limit <= MAX_LIMIT:
            return _error(422, "validation_error", f"offset must be >= 1 and limit 1..{MAX_LIMIT}")
        found = self.messages(room_id)
        if found is None:
            return _error(404, "not_found", f"room {room_id} not found")
        newest_first = found[::-1]
        page = newest_first[(offset - 1) * limit : offset * limit]
        return _json(200, {"data": page})

    def _post_message(self, room_id: str, body: bytes | str | None) -> Reply:
        raw = body.encode("utf-8") if isinstance(body, str) else (body or b"")
        if len(raw) > MAX_BODY_BYTES:
            return _error(413, "payload_too_large", f"the body is over {MAX_BODY_BYTES} bytes")
        try:
            payload = json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError):
            return _error(400, "invalid_json", "the body is not valid JSON")
        if not isinstance(payload, dict):
            return _error(422, "validation_error", "the body must be a JSON object")
        problems = []
        sender_type, sender_name, text = payload.get("sender_type"), payload.get("sender_name"), payload.get("text")
        if not isinstance(sender_type, str) or not 1 <= len(sender_type.strip()) <= MAX_SENDER_TYPE:
            problems.append({"field": "sender_type", "message": f"a string of 1 to {MAX_SENDER_TYPE} characters (customer, agent, bot…)", "type": "value_error"})
        if sender_name is not None and (not isinstance(sender_name, str) or len(sender_name) > MAX_NAME):
            problems.append({"field": "sender_name", "message": f"a string of at most {MAX_NAME} characters, or null", "type": "value_error"})
        if not isinstance(text, str) or not 1 <= len(text.strip()) <= MAX_TEXT:
            problems.append({"field": "text", "message": f"a string of 1 to {MAX_TEXT} characters", "type": "value_error"})
        if problems:
            return _error(422, "validation_error", "the message has invalid fields", details=problems)
        return _json(201, {"data": self.add_message(room_id, sender_type.strip(), sender_name, text)})


@contextmanager
def serving(hub: DemoHub) -> Iterator[str]:
    """Serve ``hub`` on a free loopback port for the block; yields its base URL (what
    ``HUB_API_BASE_URL`` is set to)."""
    with serve_mount(lambda *request: hub.handle(*request) or _error(404, "not_found", "no such route")) as server:
        yield server.url


def _query(query: Mapping[str, str] | str | None) -> dict[str, str]:
    if query is None:
        return {}
    if isinstance(query, str):
        return dict(parse_qsl(query.lstrip("?")))
    return {str(k): str(v) for k, v in query.items()}


def _int(value: str | None, default: int) -> int | None:
    if value is None or value == "":
        return default
    return int(value) if value.isdigit() and len(value) <= 9 else None


def _json(status: int, payload: Any, **extra: str) -> Reply:
    headers = {"content-type": "application/json", **{k.replace("_", "-"): v for k, v in extra.items()}}
    return status, headers, json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _error(status: int, code: str, message: str, *, details: list[dict[str, str]] | None = None, **extra: str) -> Reply:
    return _json(status, {"error": {"code": code, "message": message, "details": details or []}}, **extra)
