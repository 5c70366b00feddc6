"""Fake provider send APIs, served on the local stack's loopback server (dev only, never deployed).

    POST /_fake/whatsapp/v21.0/{phone_number_id}/messages   Meta Cloud API: {"messages": [{"id": "wamid…"}]}
    POST /_fake/slack/api/chat.postMessage                  Slack: {"ok": true, "ts": "…"}
    POST /_fake/intercom/conversations/{id}/reply           Intercom: the conversation with the new part
    GET  /_local/providers/sent                             what each was sent, oldest first
    POST /_local/providers/faults                           {"provider", "status", "times"?, "retry_after"?, "hang"?}:
                                                            the next ``times`` sends answer ``status`` (or hang)
    DELETE /_local/providers/faults                         no more faults

Each records what it was sent (the body, the bearer token's last 4 characters, the answer) so a
test, the demo or a developer sees exactly what a provider would have received. The local stack
points ``WHATSAPP_API_BASE_URL`` … at ``{base}/_fake/{provider}`` unless the developer set them.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

Reply = tuple[int, dict[str, str], bytes]
PROVIDERS = ("whatsapp", "slack", "intercom")


class FakeProviders:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sent: list[dict[str, Any]] = []
        self._faults: dict[str, list[dict[str, Any]]] = {p: [] for p in PROVIDERS}

    # ---- what tests and the demo use in-process ----------------------------------------------
    def sent(self, provider: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(s) for s in self._sent if provider in (None, s["provider"])]

    def fail(self, provider: str, status: int, *, times: int = 1, retry_after: int | None = None, hang: float = 0.0) -> None:
        with self._lock:
            self._faults[provider].extend({"status": status, "retry_after": retry_after, "hang": hang} for _ in range(times))

    def clear_faults(self) -> None:
        with self._lock:
            for queue in self._faults.values():
                queue.clear()

    # ---- the HTTP mount -------------------------------------------------------------------------
    def handle(self, method: str, raw_path: str, raw_query: str, headers: Iterable[tuple[str, str]] | Mapping[str, str], body: bytes) -> Reply | None:
        if raw_path == "/_local/providers/sent":
            return _json(200, {"data": self.sent()}) if method == "GET" else _json(405, {"message": "Method Not Allowed"})
        if raw_path == "/_local/providers/faults":
            return self._faults_route(method, body)
        if not raw_path.startswith("/_fake/"):
            return None
        provider, _, rest = raw_path.removeprefix("/_fake/").partition("/")
        if provider not in PROVIDERS or method != "POST":
            return _json(404, {"error": {"message": "no such fake API"}})
        header_map = {k.lower(): v for k, v in (headers.items() if isinstance(headers, Mapping) else headers)}
        token = header_map.get("authorization", "").removeprefix("Bearer ")
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            payload = None
        with self._lock:
            fault = self._faults[provider].pop(0) if self._faults[provider] else None
        if fault and fault["hang"]:
            time.sleep(fault["hang"])
        if fault:
            answer = _refusal(provider, fault["status"])
            extra = {"retry-after": str(fault["retry_after"])} if fault["retry_after"] is not None else {}
            self._record(provider, rest, payload, token, fault["status"], answer)
            return _json(fault["status"], answer, **extra)
        if not token:
            return _json(401, _refusal(provider, 401))
        status, answer = _accept(provider, rest, payload)
        self._record(provider, rest, payload, token, status, answer)
        return _json(status, answer)

    def _faults_route(self, method: str, body: bytes) -> Reply:
        if method == "DELETE":
            self.clear_faults()
            return _json(200, {"faults": {}})
        if method != "POST":
            return _json(405, {"message": "Method Not Allowed"})
        try:
            wanted = json.loads(body or b"{}")
            self.fail(str(wanted["provider"]), int(wanted["status"]), times=int(wanted.get("times", 1)), retry_after=wanted.get("retry_after"), hang=float(wanted.get("hang", 0)))
        except (ValueError, KeyError, TypeError) as exc:
            return _json(422, {"error": {"message": f"expected provider, status, times?, retry_after?, hang? ({exc})"}})
        with self._lock:
            queued = {p: len(q) for p, q in self._faults.items()}
        return _json(200, {"faults": queued})

    def _record(self, provider: str, path: str, payload: Any, token: str, status: int, answer: Any) -> None:
        with self._lock:
            self._sent.append({"provider": provider, "path": "/" + path, "body": payload, "token_tail": token[-4:], "status": status, "answer": answer, "at": time.time()})


def _accept(provider: str, path: str, payload: Any) -> tuple[int, dict[str, Any]]:
    if not isinstance(payload, dict):
        return 400, _refusal(provider, 400)
    if provider == "whatsapp":
        if payload.get("messaging_product") != "whatsapp" or not payload.get("to"):
            return 400, _refusal(provider, 400)
        return 200, {"messaging_product": "whatsapp", "contacts": [{"input": payload["to"], "wa_id": payload["to"]}], "messages": [{"id": f"wamid.FAKE{uuid.uuid4().hex.upper()}"}]}
    if provider == "slack":
        if not payload.get("channel"):
            return 200, {"ok": False, "error": "channel_not_found"}
        return 200, {"ok": True, "channel": payload["channel"], "ts": f"{time.time():.6f}", "message": {"text": payload.get("text")}}
    conversation = path.removeprefix("conversations/").removesuffix("/reply")
    part = {"type": "conversation_part", "id": str(uuid.uuid4().int)[:10], "part_type": "comment", "body": payload.get("body"), "author": {"type": "admin", "id": payload.get("admin_id")}}
    return 200, {"type": "conversation", "id": conversation, "conversation_parts": {"type": "conversation_part.list", "conversation_parts": [part], "total_count": 1}}


def _refusal(provider: str, status: int) -> dict[str, Any]:
    if provider == "slack":
        return {"ok": False, "error": "ratelimited" if status == 429 else "fake_failure"}
    if provider == "intercom":
        return {"type": "error.list", "errors": [{"code": "fake_failure", "message": f"answered {status}"}]}
    return {"error": {"message": f"fake failure {status}", "code": status}}


def _json(status: int, payload: Any, **headers: str) -> Reply:
    return status, {"content-type": "application/json", "cache-control": "no-store", **headers}, json.dumps(payload).encode()
