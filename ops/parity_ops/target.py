"""Which stack a command operates: a deployed one, found by name through its CloudFormation outputs,
or a local one (``parity local``), found through its ``GET /_local/stack``; and the AWS clients
that reach it."""

from __future__ import annotations

import getpass
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from parity.crm.store import CrmStore

#: The credentials of a local stack's embedded AWS (moto accepts any).
LOCAL_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


class OpsError(Exception):
    """A command that cannot or must not run; the message says why and what to do instead."""


class Clients:
    """boto3 clients on one session, each made once (making one loads its service model)."""

    def __init__(self, session: Any = None, *, region: str | None = None, endpoint_url: str | None = None) -> None:
        import boto3

        self.session = session or boto3.Session(region_name=region)
        self.region = region or self.session.region_name
        self.endpoint_url = endpoint_url
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            from botocore.config import Config

            # Streams on the account endpoint are a host a local stack's moto does not serve.
            config = Config(account_id_endpoint_mode="disabled", retries={"max_attempts": 2})
            self._clients[service] = self.session.client(service, region_name=self.region, endpoint_url=self.endpoint_url, config=config)
        return self._clients[service]


@dataclass
class Target:
    """A deployed or local stack: its outputs and AWS clients that reach it."""

    name: str
    outputs: dict[str, str]
    clients: Clients

    def output(self, key: str) -> str:
        value = self.outputs.get(key)
        if not value:
            raise OpsError(f"stack {self.name} has no output {key}; deploy the current template.yaml")
        return value

    def client(self, service: str) -> Any:
        return self.clients.client(service)

    def crm(self) -> CrmStore:
        from parity.crm.store import CrmStore

        return CrmStore(self.output("CrmTableName"), client=self.client("dynamodb"))

    def parity_default(self) -> bool:
        """The flag of a company without its own (the stack's ``ParityDefaultEnabled``)."""
        return self.outputs.get("ParityDefaultEnabled", "false").lower() == "true"

    def url_template(self) -> str:
        """Record URLs in events, as the stack's functions make them."""
        from parity.core.settings import DEFAULT_CRM_RECORD_URL_TEMPLATE

        return self.outputs.get("CrmRecordUrlTemplate") or DEFAULT_CRM_RECORD_URL_TEMPLATE

    def operator(self) -> str:
        """Who is running the command, for the audit fields of a flag change."""
        try:
            return str(self.client("sts").get_caller_identity()["Arn"])
        except Exception:  # no STS (or no network): the local account name is still better than nothing
            return getpass.getuser()


#: One ``Clients`` per region for deployed stacks: a process (a test session, a script) running many
#: commands loads each service model once.
_deployed: dict[str | None, Clients] = {}


def stack_target(stack_name: str, *, region: str | None = None) -> Target:
    """A deployed stack, by name, through its CloudFormation outputs (the default credential chain)."""
    from botocore.exceptions import BotoCoreError, ClientError

    clients = _deployed.get(region) or _deployed.setdefault(region, Clients(region=region))
    try:
        described = clients.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    except (ClientError, BotoCoreError) as exc:
        raise OpsError(f"cannot read stack {stack_name}: {exc}") from exc
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in described.get("Outputs", [])}
    return Target(stack_name, outputs, clients)


def local_target(base_url: str) -> Target:
    """The local stack at ``base_url`` (``parity local``): its embedded AWS, with its fake credentials."""
    import boto3
    import httpx

    try:
        info = httpx.get(f"{base_url.rstrip('/')}/_local/stack", timeout=5).raise_for_status().json()
    except (httpx.HTTPError, ValueError) as exc:
        raise OpsError(f"no local stack answers at {base_url} ({exc}); start one with `parity local`") from exc
    session = boto3.Session(**LOCAL_CREDENTIALS, region_name=info["region"])
    return Target(base_url, dict(info["outputs"]), Clients(session, region=info["region"], endpoint_url=info["aws_endpoint_url"]))


def now() -> int:
    """The time an operator's change is recorded with, in epoch seconds."""
    return int(time.time())


def iso(epoch: float | int | None) -> str | None:
    """Epoch seconds as shown to an operator (UTC, to the second)."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(float(epoch), timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
