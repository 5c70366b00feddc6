"""The whole pipeline on moto, wired as the local stack wires it: the gateway served on loopback is
both the API and the omnichannel receiver the sender posts to, and the demo hub answers the note
writer's history requests. Caches are off (0 s), so an operator's change shows at the next drain.

Import the fixtures into a test module: ``from .wiring import wired, ops  # noqa: F401``.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from parity_dev.demo_hub import DemoHub
from parity_dev.gateway import Gateway, make_server
from parity_dev.lambdas import applied_environment
from parity_dev.pollers import Pollers


def forget_caches() -> None:
    """What a warm container remembers between invocations: settings, clients, flags, secrets."""
    from parity.core import warm
    from parity.crm import flags

    warm.forget()
    flags.forget()


@dataclass
class Wired:
    gateway: Gateway
    pollers: Pollers
    stack: Any
    aws: Any
    environment: dict[str, str]
    url: str

    def login(self, api_key: str) -> dict[str, str]:
        response = self.gateway.invoke("POST", "/api/v3.1/teams/company_token", headers={"X-Crm-Api-Key": api_key}, json={"sso_id": "functional"})
        assert response.status == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def create(self, auth: dict[str, str], *, room: str | None = None, kind: str = "deals", headers: dict[str, str] | None = None, **fields: Any) -> dict[str, Any]:
        body = {"name": "Budi - 2 units", "channel_integration_room_id": room or new_room(), "creator_flag": "bot", **fields}
        response = self.gateway.invoke("POST", f"/api/v3.1/{kind}", headers={**auth, **(headers or {})}, json=body)
        assert response.status == 201, response.text
        return response.json()["data"]

    def drain(self, *, timeout: float = 15) -> None:
        self.pollers.drain(timeout=timeout)

    def preview(self, auth: dict[str, str], room: str) -> dict[str, Any]:
        response = self.gateway.invoke("GET", f"/api/v3.1/rooms/{room}/preview", headers=auth)
        assert response.status == 200, response.text
        return response.json()

    def notes(self, auth: dict[str, str], record: dict[str, Any]) -> list[dict[str, Any]]:
        response = self.gateway.invoke("GET", f"/api/v3.1/{record['type']}s/{record['id']}/timeline", headers=auth)
        assert response.status == 200, response.text
        return response.json()["data"]

    def only_queues(self) -> None:
        """Stop reading the stream: what the router would have done is left undone (a lost event)."""
        self.pollers.pollers = [p for p in self.pollers.pollers if p.mapping.source_kind == "sqs"]

    @contextmanager
    def setting(self, **variables: str) -> Iterator[None]:
        """Change function settings for a block (the warm caches are dropped on entry and exit)."""
        try:
            with applied_environment(variables):
                forget_caches()
                yield
        finally:
            forget_caches()


def new_room() -> str:
    return f"room-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def wired(gateway: Gateway, pollers: Pollers, stack: Any, aws: Any, stack_environment: dict[str, str]) -> Iterator[Wired]:
    server = make_server(gateway, "127.0.0.1", 0)
    server.mounts.append(DemoHub(stack_environment["HUB_API_TOKEN"]).handle)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    variables = {
        "OMNICHANNEL_WEBHOOK_URL": f"{url}/webhooks/qontak-crm",
        "HUB_API_BASE_URL": url,
        "ALLOW_PRIVATE_TARGETS": "true",
        "WEBHOOK_RETRY_SCHEDULE": "0,0",  # three quick attempts, then the dead-letter queue
        "PARITY_FLAG_CACHE_SECONDS": "0",
        "WEBHOOK_SECRET_CACHE_SECONDS": "0",
    }
    try:
        with applied_environment(variables):
            forget_caches()
            yield Wired(gateway, pollers, stack, aws, {**stack_environment, **variables}, url)
    finally:
        forget_caches()
        server.shutdown()
        server.server_close()


@pytest.fixture
def ops(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, Any, str]]:
    """Run ``parity ops --stack parity --json ...`` in-process: (exit code, parsed JSON or text, stderr)."""
    from parity_dev.cli import main

    def run(*argv: str) -> tuple[int, Any, str]:
        capsys.readouterr()
        code = main(["ops", "--stack", "parity", "--json", *argv])
        captured = capsys.readouterr()
        try:
            out: Any = json.loads(captured.out) if captured.out.strip() else None
        except ValueError:
            out = captured.out
        return code, out, captured.err

    return run
