"""Functional-test fixtures: template.yaml deployed into in-process moto, driven through the emulated gateway.

Why one moto and one deployed stack per test session (per xdist worker), not per test:

* Deploying costs ~0.2 s warm (~3 s cold); a few hundred tests would spend minutes deploying.
* More importantly, it would be wrong: moto gives every deploy new random physical names
  (``parity-CrmTable-XXXX``), while the runtime library, like a warm Lambda container, caches its
  settings and table adapters per process (``functools.lru_cache``). Functions warmed by one test
  would keep talking to the previous test's table.

So the session shares one AWS account, like tests against a shared dev stage. Isolation comes from
data: every test provisions its own companies (``company`` gives unique ids) and every record lives
under its company. Tests must assert on their own data, never on global counts ("the table holds
N items", "the queue is empty"); for event sources, the ``pollers`` fixture starts reading streams
where they end when the test begins, so a test sees its own records.
"""

from __future__ import annotations

import importlib.util
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"

if importlib.util.find_spec("parity_dev") is None:  # running from a checkout without `pip install -e .`
    sys.path[:0] = [str(ROOT / "dev"), str(ROOT / "layers" / "shared")]

from parity_dev.aws import Clients, apply_environment, atomic_moto_transactions, default_clients, fake_aws_environment  # noqa: E402
from parity_dev.gateway import Gateway  # noqa: E402
from parity_dev.lambdas import LambdaRuntime, applied_environment, merged_environment  # noqa: E402
from parity_dev.pollers import Pollers  # noqa: E402
from parity_dev.stack import DeployedStack, deploy_cached, load_template, parameters_for  # noqa: E402

# Deterministic test configuration, by environment variable name (mapped onto template parameters).
# Never read from the developer's environment: functional tests must not depend on it.
TEST_SIGNING_SECRET = "whsec_" + "cGFyaXR5LWZ1bmN0aW9uYWwtdGVzdHMtc2VjcmV0IQ=="
TEST_ALARM_TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:parity-functional-alarms"


@pytest.fixture(scope="package")
def stack_overrides() -> dict[str, str]:
    """Configuration variables the functional stack is deployed and run with; override in a nested conftest."""
    return {"WEBHOOK_SIGNING_SECRET": TEST_SIGNING_SECRET, "HUB_API_TOKEN": "functional-test-hub-token"}


@pytest.fixture(scope="package")
def _aws_session() -> Iterator[Clients]:
    from moto import mock_aws

    previous = apply_environment(fake_aws_environment())
    atomic_moto_transactions()  # as on the local stack: a cancelled transaction leaves no stream record
    with mock_aws():
        yield default_clients()
    apply_environment(previous)


@pytest.fixture
def aws(_aws_session: Clients) -> Clients:
    """In-process moto with fake credentials and region us-east-1; ``aws.client("dynamodb")`` etc.

    Function-scoped by name, but the account is the session's (see the module docstring).
    """
    return _aws_session


@pytest.fixture(scope="package")
def stack(_aws_session: Clients, stack_overrides: dict[str, str]) -> DeployedStack:
    """template.yaml deployed once per session into the in-process moto."""
    parameters = {**parameters_for(load_template(TEMPLATE), stack_overrides), "AlarmTopicArn": TEST_ALARM_TOPIC_ARN}
    return deploy_cached(TEMPLATE, parameters=parameters, clients=_aws_session)


@pytest.fixture(scope="package")
def stack_environment(stack: DeployedStack, stack_overrides: dict[str, str]) -> dict[str, str]:
    """The union of the functions' resolved environments (what ``gateway`` puts in ``os.environ``)."""
    return merged_environment(stack.functions.values(), stack_overrides)


@pytest.fixture(scope="package")
def runtime(stack: DeployedStack) -> LambdaRuntime:
    """Runs the stack's functions in-process (modules stay warm for the session)."""
    return LambdaRuntime(stack)


@pytest.fixture(scope="package")
def _gateway(stack: DeployedStack, runtime: LambdaRuntime) -> Gateway:
    return Gateway(stack, runtime)


@pytest.fixture
def gateway(_gateway: Gateway, stack_environment: dict[str, str]) -> Iterator[Gateway]:
    """The emulated HTTP API: ``gateway.invoke("POST", "/api/v3.1/deals", headers=..., json=...)``.

    The functions' environment is in ``os.environ`` during the test and restored afterwards.
    """
    with applied_environment(stack_environment):
        yield _gateway


@pytest.fixture
def pollers(stack: DeployedStack, runtime: LambdaRuntime, aws: Clients, stack_environment: dict[str, str]) -> Iterator[Pollers]:
    """Pollers for the stack's event source mappings, not started: call ``pollers.drain()``.

    Streams are read from where they end when the test begins, whatever the mapping's
    StartingPosition, so a test sees only its own records on the shared stack.
    """
    with applied_environment(stack_environment):
        created = Pollers(stack, runtime, aws, stream_starting_position="LATEST")
        yield created
        created.stop()


@dataclass(frozen=True)
class Company:
    """A provisioned company: its id and its (plain-text) API key."""

    id: str
    api_key: str


@pytest.fixture
def company(stack: DeployedStack, stack_environment: dict[str, str]) -> Callable[..., Company]:
    """Factory: ``company()`` provisions a fresh company (parity flag on) and returns its id and API key."""
    from parity.crm.provisioning import provision_company

    table_name = stack_environment["CRM_TABLE_NAME"]

    def make(*, parity_enabled: bool = True, company_id: str | None = None, api_key: str | None = None) -> Company:
        made = Company(company_id or f"co-{uuid.uuid4().hex[:12]}", api_key or f"key-{uuid.uuid4().hex}")
        with applied_environment(stack_environment):
            provision_company(table_name, made.id, made.api_key, parity_enabled=parity_enabled)
        return made

    return make

