"""Functional-test fixtures: the local stack (``parity_dev.local_stack``), started in this process,
its functions running in worker processes of their own as on Lambda, its AWS (moto) in one more
(``parity_dev.aws_process``; ``aws_here`` is a moto server in this process, to look at moto's objects).

Why one stack per test session (per xdist worker), not per test:

* Starting it costs a deploy (~1-3 s) and, for each function, a cold start (~0.3 s) the first time
  it is invoked; a few hundred tests would spend minutes on that.
* Warm workers keep what a warm Lambda container keeps (settings, clients, the authorizer's token
  cache): a fresh stack per test would test cold paths only.

So the session shares one AWS account, like tests against a shared dev stage. Isolation comes from
data: every test provisions its own companies (``company`` gives unique ids) and every record lives
under its company. Tests must assert on their own data, never on global counts ("the table holds N
items", "the queue is empty"). The stack runs no pollers of its own: a test drives the event sources
with the ``pollers`` fixture, which starts reading streams where they end when the test begins, so a
test sees its own records.

A test reaches the functions only as AWS and API Gateway would: through the gateway (HTTP API
events, ``gateway.invoke``), the event sources (``pollers.drain()``), the tables and queues
(``aws``), their configuration (``runtime.update_environment``: new workers with the new
environment), their logs (``runtime.captured_logs()``) and the AWS they call (``edge``: scripted
errors and recorded requests, see ``parity_dev.aws_edge.AwsEdge``, scripted from here through
``parity_dev.aws_process.RemoteEdge``). Nothing in this process can patch a function's code.

The session's configuration is fixed below, never read from the developer's environment: the webhook
goes to the stack's own receiver; the chat history of a room Parity does not host (``room-123`` …) is
fetched from a stand-in external hub on a port of its own (``parity_dev.demo_hub``, seeded from
``demo_rooms.json``), while Parity's own rooms are read from the conversation table; retries are
quick (three attempts, then the dead-letter queue) and the flag and secret caches are off, so an
operator's change shows at the next drain.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"

if importlib.util.find_spec("parity_dev") is None:  # running from a checkout without `pip install -e .`
    sys.path[:0] = [str(ROOT / "dev"), str(ROOT / "layers" / "shared")]

from parity_dev.aws import Clients  # noqa: E402
from parity_dev.aws_edge import AwsEdge  # noqa: E402
from parity_dev.demo_hub import DemoHub, serving  # noqa: E402
from parity_dev.gateway import Gateway  # noqa: E402
from parity_dev.lambdas import ALL, LambdaRuntime  # noqa: E402
from parity_dev.local_stack import LocalStack  # noqa: E402
from parity_dev.pollers import Pollers  # noqa: E402
from parity_dev.stack import DeployedStack  # noqa: E402

TEST_SIGNING_SECRET = "whsec_" + "cGFyaXR5LWZ1bmN0aW9uYWwtdGVzdHMtc2VjcmV0IQ=="
TEST_HUB_TOKEN = "functional-test-hub-token"
#: The session's configuration, by environment variable name (see the module docstring).
TEST_VARIABLES = {
    "WEBHOOK_SIGNING_SECRET": TEST_SIGNING_SECRET,
    "HUB_API_TOKEN": TEST_HUB_TOKEN,
    "WEBHOOK_RETRY_SCHEDULE": "0,0",  # three quick attempts, then the dead-letter queue
    "PARITY_FLAG_CACHE_SECONDS": "0",
    "WEBHOOK_SECRET_CACHE_SECONDS": "0",
    "APPROVAL_POLICY_CACHE_SECONDS": "0",
    "SLACK_RETRY_SCHEDULE": "0,0",  # three quick attempts, then the dead-letter queue
}
DYNAMODB_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}


@pytest.fixture(scope="session")
def external_hub() -> Iterator[DemoHub]:
    """The stand-in external hub the session's stack fetches other rooms' chat history from."""
    hub = DemoHub(TEST_HUB_TOKEN)
    with serving(hub) as url:
        hub.url = url  # type: ignore[attr-defined]
        yield hub


@pytest.fixture(scope="session")
def local_stack(external_hub: DemoHub) -> Iterator[LocalStack]:
    """The session's local stack: template.yaml deployed into a moto server, HTTP served on loopback."""
    variables = {**TEST_VARIABLES, "HUB_API_BASE_URL": external_hub.url}  # type: ignore[attr-defined]
    with LocalStack(TEMPLATE, port=0, variables=variables, poll=False).start() as started:
        yield started


def _part(name: str, attribute: str, doc: str) -> Any:
    """The session fixture ``name``: one part of the started local stack (``local_stack.<attribute>``)."""

    def part(local_stack: LocalStack) -> Any:
        value = getattr(local_stack, attribute)
        assert value is not None, f"the local stack has no {attribute}: it did not start"
        return value

    part.__doc__ = doc
    return pytest.fixture(scope="session", name=name)(part)


@pytest.fixture(scope="module")
def aws_here() -> Iterator[Clients]:
    """Clients of a moto server in this process (the stack's runs in a process of its own), for tests
    that look at moto's own objects."""
    from parity_dev.aws import MotoServer

    server = MotoServer().start()
    try:
        yield Clients(endpoint_url=server.endpoint_url)
    finally:
        server.stop()


stack = _part("stack", "deployed", "What the template made (``DeployedStack``): functions, tables, queues, routes, event sources, outputs.")
aws = _part("aws", "clients", 'boto3 clients on the stack\'s AWS (fake credentials, region us-east-1): ``aws.client("dynamodb")``.')
runtime = _part("runtime", "runtime", "Runs the stack's functions in worker processes (``LambdaRuntime``; they stay warm for the session).")
gateway = _part("gateway", "gateway", 'The emulated HTTP API (``Gateway``): ``gateway.invoke("POST", "/api/v3.1/deals", headers=..., json=...)``.')


@pytest.fixture
def edge(local_stack: LocalStack) -> Iterator[AwsEdge]:
    """The AWS the functions call: ``edge.fail(...)``, ``edge.recording()``; faults end with the test."""
    yield local_stack.edge
    local_stack.edge.clear()


@pytest.fixture
def pollers(stack: DeployedStack, runtime: LambdaRuntime, aws: Clients) -> Iterator[Pollers]:
    """Pollers for the stack's event source mappings, not started: call ``pollers.drain()``.

    Streams are read from where they end when the test begins, whatever the mapping's
    StartingPosition, so a test sees only its own records on the shared stack.
    """
    created = Pollers(stack, runtime, aws, stream_starting_position="LATEST")
    yield created
    created.stop()


@dataclass(frozen=True)
class Company:
    """A provisioned company: its id, its (plain-text) admin API key, and a key of each role
    (``keys["producer"]``, ``keys["approver"]``, ``keys["admin"]`` = ``api_key``)."""

    id: str
    api_key: str
    keys: dict[str, str]


@pytest.fixture
def company(local_stack: LocalStack) -> Callable[..., Company]:
    """Factory: ``company()`` provisions a fresh company (parity flag on) with an admin key (as
    ``parity local --company`` seeds one) and a producer and an approver key."""
    from parity.crm.credentials import hash_secret
    from parity.crm.store import CrmStore

    def make(*, parity_enabled: bool = True, company_id: str | None = None, api_key: str | None = None) -> Company:
        cid = company_id or f"co-{uuid.uuid4().hex[:12]}"
        keys = {"admin": api_key or f"key-{uuid.uuid4().hex}", "producer": f"key-p-{uuid.uuid4().hex}", "approver": f"key-a-{uuid.uuid4().hex}"}
        local_stack.seed([(cid, keys["admin"])], parity_enabled=parity_enabled)
        assert local_stack.deployed is not None and local_stack.clients is not None
        crm = CrmStore(local_stack.deployed.outputs["CrmTableName"], client=local_stack.clients.client("dynamodb"))
        for role in ("producer", "approver"):
            crm.put_api_key(hash_secret(keys[role]), cid, role=role)
        return Company(cid, keys["admin"], keys)

    return make


def new_room() -> str:
    return f"room-{uuid.uuid4().hex[:10]}"


@dataclass
class Wired:
    """The whole pipeline of the session's stack, for one test: the API, the event sources (drained
    by the test), the stack's own receiver, and its functions' configuration."""

    local: LocalStack
    pollers: Pollers

    @property
    def gateway(self) -> Gateway:
        assert self.local.gateway is not None
        return self.local.gateway

    @property
    def stack(self) -> DeployedStack:
        assert self.local.deployed is not None
        return self.local.deployed

    @property
    def aws(self) -> Clients:
        assert self.local.clients is not None
        return self.local.clients

    @property
    def runtime(self) -> LambdaRuntime:
        assert self.local.runtime is not None
        return self.local.runtime

    def login(self, api_key: str, *, sso_id: str = "functional") -> dict[str, str]:
        response = self.gateway.invoke("POST", "/api/v3.1/teams/company_token", headers={"X-Crm-Api-Key": api_key}, json={"sso_id": sso_id})
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
        """Change the variables of the functions that have them, for a block: as on Lambda, a
        configuration change means new workers, on entry and again when it is put back."""
        targets = self.runtime.functions_with(*variables) or ALL
        before = {f: self.runtime.environment(f) for f in self.runtime.targets(targets)}
        self.runtime.update_environment(targets, variables)
        try:
            yield
        finally:
            for function, environment in before.items():
                self.runtime.update_environment(function, {name: environment.get(name) for name in variables})


@pytest.fixture
def wired(local_stack: LocalStack, pollers: Pollers) -> Wired:
    """The session's stack with this test's pollers (``wired.drain()``)."""
    return Wired(local_stack, pollers)


@pytest.fixture
def ops(local_stack: LocalStack, capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, Any, str]]:
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
