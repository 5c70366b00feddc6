"""Small helpers for driving the local stack over HTTP."""

from __future__ import annotations

import time
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
