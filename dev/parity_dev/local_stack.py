"""The local stack, assembled in one place: ``parity local``, ``parity demo``, the bench and the
functional and end-to-end tests all run this.

``LocalStack.start()`` binds the HTTP port (its URL is part of the configuration), starts embedded
AWS (a moto server behind ``parity_dev.aws_edge.AwsEdge``, in a process of its own:
``parity_dev.aws_process``), deploys template.yaml into it, makes the
runtime that runs each function in worker processes of its own (``parity_dev.lambdas``), the HTTP API
gateway and what is mounted beside it (the providers' fake send APIs, the seeded channels and the
simulated customer, the schedules, ``/_local/stack``, ``/openapi.json``, the dev console), the
pollers of the event source mappings and the scheduler of the template's schedules, and seeds the
companies (and, for the first one, a channel of each type).

Configuration is by environment variable name (DESIGN.md "Configuration"): the local defaults below,
under the developer's own values of ``OVERRIDABLE_VARIABLES`` (or the ``variables`` a test gives). A
variable the template feeds from a parameter (``VAR: !Ref Param``) goes in as that parameter, so the
deployed functions resolve it as on AWS and ``--parameter`` still wins; any other variable is added to
every function's environment. Nothing of this process's environment reaches a function otherwise.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # pragma: no cover
    from parity_dev.aws import Clients
    from parity_dev.aws_process import AwsProcess, RemoteEdge
    from parity_dev.fake_providers import FakeProviders
    from parity_dev.gateway import Gateway
    from parity_dev.lambdas import LambdaRuntime
    from parity_dev.local_channels import LocalChannels
    from parity_dev.pollers import Pollers
    from parity_dev.schedules import Scheduler
    from parity_dev.stack import DeployedStack

log = logging.getLogger("parity_dev.local_stack")

DEFAULT_TEMPLATE = "template.yaml"
DEMO_COMPANY = ("demo", "demo-key")

# A fixed development secret (Standard Webhooks "whsec_<base64>" form): the local sender and the local
# receiver share it, and a developer replaying a logged webhook can verify its signature by hand.
LOCAL_SIGNING_SECRET = "whsec_" + base64.b64encode(b"parity-local-stack-signing-key!!").decode()
LOCAL_HUB_API_TOKEN = "parity-local-hub-token"
LOCAL_RETRY_SCHEDULE = "1,2,4,8,15,30"
# Alarms need a topic; moto does not evaluate them locally, so a placeholder name will do.
LOCAL_ALARM_TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:parity-local-alarms"

# Configuration the developer may set in their own environment to override the local defaults
# (documented in DESIGN.md "Configuration").
OVERRIDABLE_VARIABLES = (
    "OMNICHANNEL_WEBHOOK_URL",
    "WEBHOOK_SIGNING_SECRET",
    "HUB_API_BASE_URL",
    "HUB_API_TOKEN",
    "WHATSAPP_API_BASE_URL",
    "SLACK_API_BASE_URL",
    "INTERCOM_API_BASE_URL",
    "ROOM_DEEPLINK_TEMPLATE",
    "CRM_RECORD_URL_TEMPLATE",
    "WEBHOOK_RETRY_SCHEDULE",
    "PARITY_DEFAULT_ENABLED",
    "APPROVAL_URL_TEMPLATE",
)


def local_defaults(base_url: str) -> dict[str, str]:
    """Configuration the local stack uses unless the developer's environment sets it (DESIGN.md "Local stack").

    The CRM's webhooks go to the local stack's own omnichannel receiver, the chat history of a room
    Parity does not host to the stack's own chat-history API (the ChatHistoryFunction route, with the
    internal ``HUB_API_TOKEN``: Parity is the hub now), and replies to the providers' fake send APIs
    mounted on the same port (``parity_dev.fake_providers``). All of them are on loopback, so
    outbound calls to private targets are allowed here (and only here).
    """
    return {
        "OMNICHANNEL_WEBHOOK_URL": f"{base_url}/webhooks/qontak-crm",
        "WEBHOOK_SIGNING_SECRET": LOCAL_SIGNING_SECRET,
        "HUB_API_TOKEN": LOCAL_HUB_API_TOKEN,
        "HUB_API_BASE_URL": base_url,
        **{f"{provider.upper()}_API_BASE_URL": f"{base_url}/_fake/{provider}" for provider in ("whatsapp", "slack", "intercom")},
        "ALLOW_PRIVATE_TARGETS": "true",
        # Retries a developer can watch: about a minute from first failure to the dead-letter queue.
        "WEBHOOK_RETRY_SCHEDULE": LOCAL_RETRY_SCHEDULE,
        # The Slack messages' links open the approval in the dev console.
        "APPROVAL_URL_TEMPLATE": f"{base_url}/_console#/approvals/{{id}}",
    }


def overrides_from(environ: Mapping[str, str], names: Iterable[str] = OVERRIDABLE_VARIABLES) -> dict[str, str]:
    """The documented configuration variables that are set in ``environ``."""
    return {name: environ[name] for name in names if environ.get(name)}


def parameter_arg(value: str) -> tuple[str, str]:
    """``--parameter NAME=VALUE`` of ``parity local`` and ``parity demo``."""
    name, sep, parameter_value = value.partition("=")
    if not (sep and name):
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {value!r}")
    return name, parameter_value


def redirect_output(log_file: Path | None) -> tuple[TextIO, TextIO]:
    """Send everything written to stdout to the log; return (real stdout, log stream).

    The functions' own output reaches the log through the runtime (``parity_dev.lambdas``), and so
    does everything this process logs. File descriptor 1 itself is redirected, so even output that
    bypasses ``sys.stdout`` cannot reach the real stdout, which keeps only what the command prints
    on purpose (the ready line, the demo's steps).
    """
    ready_stream = os.fdopen(os.dup(1), "w", buffering=1)
    log_stream: TextIO = open(log_file, "a", buffering=1, encoding="utf-8") if log_file else sys.stderr  # noqa: SIM115
    sys.stdout.flush()
    os.dup2(log_stream.fileno(), 1)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    log_format = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(stream=log_stream, level=logging.INFO, format=log_format, force=True)
    logging.getLogger("botocore").setLevel(logging.WARNING)  # "Found credentials…" on every client
    # powertools' Logger(service="parity"), once anything here imports parity.core.observability, puts a
    # filter on every root handler that drops records of any logger whose name *contains* "parity"
    # (its de-duplication), which would silence ours too. Ours get a handler powertools never sees.
    own = logging.StreamHandler(log_stream)
    own.setFormatter(logging.Formatter(log_format))
    dev_logger = logging.getLogger("parity_dev")
    dev_logger.addHandler(own)
    dev_logger.propagate = False
    return ready_stream, log_stream


class LocalStack:
    """The running local stack (module docstring). After ``start()``: ``base_url``, ``moto`` and its
    ``edge``, ``clients`` (boto3 clients on the embedded AWS), ``deployed`` (what the template made),
    ``runtime``, ``gateway``, ``pollers`` (None with ``poll=False``), ``scheduler`` (the template's
    schedules, ``parity_dev.schedules``), ``providers`` (the fake provider send APIs and what they
    were sent, ``parity_dev.fake_providers``), ``channels`` (the seeded channels and the simulated
    customer, ``parity_dev.local_channels``) and ``variables`` (the configuration it was deployed with).

    ``poll=False`` starts no pollers: the functional tests drive the event sources themselves
    (``Pollers.drain``). ``schedules`` runs the schedules on the clock (default: as ``poll``); either
    way ``POST /_local/schedules/{Function}/run`` runs one now. ``max_workers`` caps the worker
    processes per function.
    """

    def __init__(
        self,
        template: str | Path = DEFAULT_TEMPLATE,
        *,
        port: int = 3000,
        parameters: Mapping[str, str] | None = None,
        variables: Mapping[str, str] | None = None,
        poll: bool = True,
        schedules: bool | None = None,
        max_workers: int | None = None,
    ) -> None:
        self.template = Path(template)
        self.port = port
        self.parameters = dict(parameters or {})
        self._variables = dict(variables) if variables is not None else None
        self.poll = poll
        self.run_schedules = poll if schedules is None else schedules
        self.max_workers = max_workers
        self.base_url = ""
        self.variables: dict[str, str] = {}
        self.moto: AwsProcess | None = None
        self.clients: Clients | None = None
        self.deployed: DeployedStack | None = None
        self.runtime: LambdaRuntime | None = None
        self.gateway: Gateway | None = None
        self.pollers: Pollers | None = None
        self.scheduler: Scheduler | None = None
        self.providers: FakeProviders | None = None
        self.channels: LocalChannels | None = None
        self._httpd: Any = None
        self._serving: threading.Thread | None = None
        self._previous_environment: dict[str, str | None] | None = None

    @property
    def edge(self) -> RemoteEdge:
        """The embedded AWS's edge, where tests script faults and record requests."""
        assert self.moto is not None and self.moto.edge is not None, "the local stack is not started"
        return self.moto.edge

    def __enter__(self) -> LocalStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, companies: Sequence[tuple[str, str]] = ()) -> LocalStack:
        """Bring everything up and seed ``companies`` (id, API key); returns once HTTP requests are served."""
        from parity_dev.aws import Clients, apply_environment, fake_aws_environment
        from parity_dev.aws_process import AwsProcess
        from parity_dev.gateway import Gateway
        from parity_dev.gateway_server import make_server
        from parity_dev.lambdas import ALL, LambdaRuntime
        from parity_dev.stack import (
            deploy,
            load_template,
            parameter_variables,
            parameters_for,
        )

        # Bind first: the base URL is part of the configuration the template is deployed with.
        self._httpd = make_server(None, "127.0.0.1", self.port)
        self.base_url = f"http://127.0.0.1:{self._httpd.server_port}"
        self.moto = AwsProcess().start()
        # This process's own AWS calls (seeding, the console, a test's clients) go to the embedded AWS
        # with fake credentials; the functions get theirs from the runtime, never from here.
        self._previous_environment = apply_environment(fake_aws_environment(self.moto.endpoint_url))
        self.clients = Clients(endpoint_url=self.moto.endpoint_url)

        given = self._variables if self._variables is not None else overrides_from(os.environ)
        self.variables = {**local_defaults(self.base_url), **given}
        template = load_template(self.template)
        fed = {name for names in parameter_variables(template).values() for name in names}
        parameters = {"AlarmTopicArn": LOCAL_ALARM_TOPIC_ARN, **parameters_for(template, self.variables), **self.parameters}
        self.deployed = deploy(self.template, parameters=parameters, clients=self.clients)
        log.info("deployed %s: %d functions, %d routes, %d event sources", self.deployed.stack_name,
                 len(self.deployed.functions), len(self.deployed.routes), len(self.deployed.event_source_mappings))

        extra = {"max_workers": self.max_workers} if self.max_workers else {}
        self.runtime = LambdaRuntime(self.deployed, endpoint_url=self.moto.endpoint_url, clients=self.clients, **extra)
        self.edge.identifiers.append(self.runtime.identify)
        unfed = {k: v for k, v in self.variables.items() if k not in fed}
        if unfed:  # before the first invocation: no worker has started yet
            self.runtime.update_environment(ALL, unfed)
        self.gateway = Gateway(self.deployed, self.runtime)
        self._httpd.gateway = self.gateway
        from parity_dev.schedules import Scheduler

        self.scheduler = Scheduler(self.deployed.schedules, self.runtime)
        self._mount(companies)

        if self.poll:
            from parity_dev.pollers import Pollers

            # Before seeding: mappings exist from deploy on, so seeding writes are stream records too.
            self.pollers = Pollers(self.deployed, self.runtime, self.clients, work=self.moto.work).start()
        if companies:
            self.seed(companies)
            self.seed_channels(companies[0][0])
        self._serving = threading.Thread(target=self._httpd.serve_forever, name="gateway", daemon=True)
        self._serving.start()
        if self.run_schedules:
            self.scheduler.start()
        return self

    def _mount(self, companies: Sequence[tuple[str, str]]) -> None:
        """What is served beside the template's routes. Nothing mounted may shadow a route of the
        template: the chat history, for one, is the ChatHistoryFunction's route, as on AWS."""
        from parity_dev.console import Console
        from parity_dev.fake_providers import FakeProviders
        from parity_dev.local_channels import LocalChannels
        from parity_dev.openapi import (
            mount as openapi_mount,  # GET /openapi.json, generated from the code
        )

        assert self.deployed is not None and self.moto is not None and self.clients is not None and self.scheduler is not None
        # POST /_fake/{provider}/…, GET /_local/providers/sent: where the replies go unless *_API_BASE_URL is set.
        self.providers = FakeProviders()
        self._httpd.mounts.append(self.providers.handle)
        # GET /_local/channels, POST /_local/simulate: the seeded channels and a customer who writes.
        self.channels = LocalChannels(
            base_url=self.base_url, conversation_table=self.deployed.outputs["ConversationTableName"],
            crm_table=self.deployed.outputs["CrmTableName"], clients=self.clients,
            secrets_prefix=self.deployed.functions["ChannelsFunction"].environment["CHANNEL_SECRETS_PREFIX"],
        )
        self._httpd.mounts.append(self.channels.handle)
        self._httpd.mounts.append(self.scheduler.handle)  # GET /_local/schedules, POST /_local/schedules/{Function}/run
        self._httpd.mounts.append(_stack_info(self.deployed, self.moto.endpoint_url))
        self._httpd.mounts.append(openapi_mount(self.template))
        # The dev console (GET /_console, parity_dev.console), signing in with the first seeded key.
        console = Console(
            api_key=companies[0][1] if companies else None,
            crm_table=self.deployed.outputs["CrmTableName"], preview_table=self.deployed.outputs["PreviewTableName"],
            dynamodb=self.clients.client("dynamodb"),
        )
        self._httpd.mounts.append(console.handle)
        from parity_dev import trust_local  # POST /_local/anomalies/run: the detector, now

        assert self.runtime is not None
        self._httpd.mounts.append(trust_local.mount(self.runtime))

    @property
    def hub_token(self) -> str:
        """The internal token of the chat-history API (``HUB_API_TOKEN``, which the authorizer recognises)."""
        return self.variables.get("HUB_API_TOKEN", LOCAL_HUB_API_TOKEN)

    def seed(self, companies: Iterable[tuple[str, str]], *, parity_enabled: bool = True) -> None:
        """Provision each (company id, API key), parity flag on unless told otherwise."""
        from parity.crm.provisioning import provision_company

        assert self.deployed is not None and self.clients is not None, "the local stack is not started"
        table = self.deployed.outputs["CrmTableName"]
        for company_id, api_key in companies:
            provision_company(table, company_id, api_key, parity_enabled=parity_enabled, client=self.clients.client("dynamodb"))
            log.info("seeded company %s", company_id)

    def seed_channels(self, company_id: str) -> list[dict[str, Any]]:
        """One channel of each type for ``company_id``, with the fixed development secrets
        (``parity_dev.local_channels``); each returned with its secrets."""
        assert self.channels is not None, "the local stack is not started"
        return self.channels.seed(company_id)

    def stop(self) -> None:
        """Stop: no new HTTP requests, pollers told to stop, workers ended, pollers joined, moto stopped."""
        from parity_dev.aws import apply_environment

        steps = []
        if self._httpd is not None:
            if self._serving is not None:
                steps.append(self._httpd.shutdown)
            steps.append(self._httpd.server_close)
        if self.scheduler is not None:
            steps.append(self.scheduler.stop)  # no new scheduled run …
        if self.pollers is not None:
            steps.append(self.pollers.halt)  # … nor invocation from a poller …
        if self.runtime is not None:
            steps.append(self.runtime.stop)  # … and those in progress end now
        if self.pollers is not None:
            steps.append(self.pollers.stop)
        if self.moto is not None:
            steps.append(self.moto.stop)
        if self._previous_environment is not None:
            previous = self._previous_environment
            steps.append(lambda: apply_environment(previous))
        for step in steps:
            try:
                step()
            except Exception:
                log.exception("stopping the local stack failed")
        self._httpd = self._serving = self._previous_environment = None
        self.pollers = self.runtime = self.scheduler = None
        self.moto = None


def _stack_info(stack: DeployedStack, endpoint_url: str) -> Any:
    """``GET /_local/stack``: where the local stack's embedded AWS is and what the template made
    there (outputs), so tools in other processes (``parity ops``, tests) can reach it."""
    info = json.dumps({"aws_endpoint_url": endpoint_url, "region": "us-east-1", "stack_name": stack.stack_name, "outputs": stack.outputs}).encode()

    def mount(method: str, raw_path: str, raw_query: str, headers: Any, body: bytes) -> Any:
        if raw_path != "/_local/stack":
            return None
        return (200, {"content-type": "application/json"}, info) if method == "GET" else (405, {"content-type": "application/json"}, b'{"message":"Method Not Allowed"}')

    return mount
