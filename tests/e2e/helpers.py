"""Small helpers for driving the local stack over HTTP."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx


def eventually(check: Callable[[], Any], *, timeout: float, interval: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy; the last value, or AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"not reached within {timeout} s; last value {last!r}")


def login(http: httpx.Client, api_key: str) -> dict[str, str]:
    """The producer's token exchange: Authorization headers for the key's company."""
    response = http.post("/api/v3.1/teams/company_token", headers={"X-Crm-Api-Key": api_key}, json={"sso_id": "e2e"})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def preview(http: httpx.Client, auth: dict[str, str], room: str) -> dict[str, Any]:
    response = http.get(f"/api/v3.1/rooms/{room}/preview", headers=auth)
    assert response.status_code == 200, response.text
    return response.json()


def seeded_channel(http: httpx.Client, kind: str, company: str = "a") -> dict[str, Any]:
    """The local stack's seeded channel of that type (with its secrets): ``parity local`` seeds its first company's."""
    channels = http.get("/_local/channels").json()["data"]
    return next(c for c in channels if c["type"] == kind and c["company_id"] == company)


def new_wa_id() -> str:
    """A WhatsApp customer no other test writes as (Indonesian mobile digits)."""
    return f"62812{uuid.uuid4().int % 10**8:08d}"


def customer_writes(http: httpx.Client, channel: dict[str, Any], sender: str, text: str, **extra: str) -> dict[str, Any]:
    """``POST /_local/simulate``: the provider's signed webhook for one customer message."""
    answer = http.post("/_local/simulate", json={"provider": channel["type"], "channel_id": channel["id"], "from": sender, "text": text, **extra})
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def conversation_with(http: httpx.Client, auth: dict[str, str], phone: str, *, timeout: float = 5.0) -> dict[str, Any]:
    """The caller's conversation whose contact has ``phone`` (E.164), once the ingest worker made it."""
    def find() -> dict[str, Any] | None:
        found = http.get("/api/v3.1/conversations", headers=auth, params={"limit": 100}).json()["data"]
        return next((c for c in found if c["contact"]["phone"] == phone), None)

    return eventually(find, timeout=timeout)
