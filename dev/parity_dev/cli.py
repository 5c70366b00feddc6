"""The ``parity`` command (dev only). ``parity local`` runs the whole application on this machine.

stdout carries exactly one line, ``ready http://127.0.0.1:N``, so scripts can wait for it; function
output, tracebacks and request lines go to stderr or ``--log-file``.
"""

from __future__ import annotations

import argparse
import base64
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable, Sequence

log = logging.getLogger("parity_dev.cli")

DEFAULT_TEMPLATE = "template.yaml"
DEMO_COMPANY = ("demo", "demo-key")


# A fixed development secret (Standard Webhooks "whsec_<base64>" form): the local sender and the local
# receiver share it, and a developer replaying a logged webhook can verify its signature by hand.
LOCAL_SIGNING_SECRET = "whsec_" + base64.b64encode(b"parity-local-stack-signing-key!!").decode()
LOCAL_HUB_API_TOKEN = "parity-local-hub-token"
LOCAL_RETRY_SCHEDULE = "1,2,4,8,15,30"
# Alarms need a topic; moto does not evaluate them locally, so a placeholder name will do.
LOCAL_ALARM_TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:parity-local-alarms"


def local_defaults(base_url: str) -> dict[str, str]:
    """Configuration the local stack uses unless the developer's environment sets it (DESIGN.md "Local stack").

    The CRM's webhooks go to the local stack's own omnichannel receiver, which is on loopback, so
    outbound calls to private targets are allowed here (and only here).
    """
    return {
        "OMNICHANNEL_WEBHOOK_URL": f"{base_url}/webhooks/qontak-crm",
        "WEBHOOK_SIGNING_SECRET": LOCAL_SIGNING_SECRET,
        "HUB_API_TOKEN": LOCAL_HUB_API_TOKEN,
        # The built-in demo chat history (``parity_dev.demo_hub``), mounted on the local server.
        "HUB_API_BASE_URL": base_url,
        "ALLOW_PRIVATE_TARGETS": "true",
        # Retries a developer can watch: about a minute from first failure to the dead-letter queue.
        "WEBHOOK_RETRY_SCHEDULE": LOCAL_RETRY_SCHEDULE,
    }


def _company(value: str) -> tuple[str, str]:
    from parity_ops.cli import company_arg

    company_id, sep, api_key = value.partition(":")
    if not (sep and company_id and api_key):
        raise argparse.ArgumentTypeError(f"expected ID:API_KEY, got {value!r}")
    return company_arg(company_id), api_key


def _parameter(value: str) -> tuple[str, str]:
    name, sep, parameter_value = value.partition("=")
    if not (sep and name):
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {value!r}")
    return name, parameter_value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: one subcommand per tool (``local`` now; ``demo`` and ``ops`` to come)."""
    parser = argparse.ArgumentParser(prog="parity", description="Parity developer tools (never deployed).")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    local = commands.add_parser("local", help="run the application locally on embedded AWS (moto)")
    local.add_argument("--port", type=int, default=3000, help="HTTP port on 127.0.0.1 (0 = any free port; default 3000)")
    local.add_argument(
        "--company", type=_company, action="append", default=[], metavar="ID:API_KEY",
        help=f"seed a company with the parity flag on (repeatable; default {':'.join(DEMO_COMPANY)})",
    )
    local.add_argument("--log-file", type=Path, help="write logs here instead of stderr")
    local.add_argument("--template", type=Path, default=Path(DEFAULT_TEMPLATE), help="SAM template (default ./template.yaml)")
    local.add_argument(
        "--parameter", type=_parameter, action="append", default=[], metavar="NAME=VALUE",
        help="template parameter override (repeatable); wins over values derived from the environment",
    )
    local.set_defaults(run=run_local)
    from parity_dev.demo import add_parser as add_demo_parser

    add_demo_parser(commands)  # ``parity demo``: the RFC scenario on a fresh local stack (parity_dev.demo)
    from parity_ops.cli import add_parser as add_ops_parser

    add_ops_parser(commands)  # ``parity ops``: flags, dead letters, reconcile, keys, secret (parity_ops, also `parity-ops`)
    from parity_dev.bench import add_parser as add_bench_parser

    add_bench_parser(commands)  # ``parity bench``: the performance budgets (parity_dev.bench, docs/performance.md)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``parity`` console script."""
    args = build_parser().parse_args(argv)
    return args.run(args)


def _redirect_output(log_file: Path | None) -> tuple[TextIO, TextIO]:
    """Send everything written to stdout to the log; return (real stdout, log stream).

    Functions print and log to stdout (powertools' Logger does), as on Lambda where stdout is the
    log. File descriptor 1 itself is redirected, so even output that bypasses ``sys.stdout`` cannot
    reach the real stdout, which keeps only the ready line.
    """
    ready_stream = os.fdopen(os.dup(1), "w", buffering=1)
    log_stream: TextIO = open(log_file, "a", buffering=1, encoding="utf-8") if log_file else sys.stderr  # noqa: SIM115
    sys.stdout.flush()
    os.dup2(log_stream.fileno(), 1)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    log_format = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(stream=log_stream, level=logging.INFO, format=log_format, force=True)
    logging.getLogger("botocore").setLevel(logging.WARNING)  # "Found credentials…" on every client
    # powertools' Logger(service="parity") puts a filter on every root handler that drops records of
    # any logger whose name *contains* "parity" (its de-duplication), which would silence ours too.
    # Our records therefore get a handler of their own that powertools never sees.
    own = logging.StreamHandler(log_stream)
    own.setFormatter(logging.Formatter(log_format))
    dev_logger = logging.getLogger("parity_dev")
    dev_logger.addHandler(own)
    dev_logger.propagate = False
    return ready_stream, log_stream


def run_local(args: argparse.Namespace) -> int:
    """``parity local``: moto server, deploy, pollers, HTTP gateway; serve until SIGINT/SIGTERM."""
    ready_stream, _ = _redirect_output(args.log_file)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stack = LocalStack(args.template, port=args.port, parameters=dict(args.parameter))
    try:
        stack.start(args.company or [DEMO_COMPANY])
    except Exception:
        log.exception("the local stack failed to start")
        stack.stop()
        print("parity local: failed to start; see the log", file=sys.stderr, flush=True)
        return 1
    if not args.company:
        print(
            f"parity local: seeded demo company {DEMO_COMPANY[0]!r} with API key {DEMO_COMPANY[1]!r} "
            "(use --company ID:API_KEY to choose)",
            file=sys.stderr, flush=True,
        )
    print(f"ready {stack.base_url}", file=ready_stream, flush=True)
    stop.wait()
    log.info("shutting down")
    stack.stop()
    return 0


class LocalStack:
    """The running local stack: moto server, deployed template, functions, pollers and HTTP gateway."""

    def __init__(self, template: Path, *, port: int = 3000, parameters: dict[str, str] | None = None) -> None:
        self.template = template
        self.port = port
        self.parameters = dict(parameters or {})
        self.base_url = ""
        self._stoppers: list[Callable[[], None]] = []

    def start(self, companies: Sequence[tuple[str, str]]) -> LocalStack:
        """Bring everything up and seed ``companies``; returns once the HTTP server accepts requests."""
        from parity_dev.aws import Clients, MotoServer, apply_environment, fake_aws_environment
        from parity_dev.gateway import Gateway, make_server
        from parity_dev.lambdas import LambdaRuntime, merged_environment, overrides_from
        from parity_dev.pollers import Pollers
        from parity_dev.stack import deploy, load_template, parameter_variables, parameters_for

        # Bind first: the base URL is part of the configuration the template is deployed with.
        httpd = make_server(None, "127.0.0.1", self.port)
        self._stoppers.append(httpd.server_close)
        self.base_url = f"http://127.0.0.1:{httpd.server_port}"
        moto = MotoServer().start()
        self._stoppers.append(moto.stop)
        # Fake credentials and the endpoint go into os.environ: the functions' own boto3 clients read them.
        apply_environment(fake_aws_environment(moto.endpoint_url))
        clients = Clients(endpoint_url=moto.endpoint_url)

        # Configuration by variable name: variables the template feeds from a parameter go in as that
        # parameter (so --parameter still wins and functions resolve them as on AWS); the rest override.
        variables = {**local_defaults(self.base_url), **overrides_from(os.environ)}
        template = load_template(self.template)
        fed = {name for names in parameter_variables(template).values() for name in names}
        parameters = {"AlarmTopicArn": LOCAL_ALARM_TOPIC_ARN, **parameters_for(template, variables), **self.parameters}
        stack = deploy(self.template, parameters=parameters, clients=clients)
        runtime = LambdaRuntime(stack)
        httpd.gateway = Gateway(stack, runtime)
        overrides = {k: v for k, v in variables.items() if k not in fed}
        os.environ.update(merged_environment(stack.functions.values(), overrides))
        log.info("deployed %s: %d functions, %d routes, %d event sources", stack.stack_name,
                 len(stack.functions), len(stack.routes), len(stack.event_source_mappings))

        hub = None
        if variables.get("HUB_API_BASE_URL") == self.base_url:
            from parity_dev.demo_hub import DemoHub

            hub = DemoHub(variables["HUB_API_TOKEN"])
            httpd.mounts.append(hub.handle)
        httpd.mounts.append(_stack_info(stack, moto.endpoint_url))
        from parity_dev.openapi import mount as openapi_mount  # GET /openapi.json, generated from the code

        httpd.mounts.append(openapi_mount(self.template))
        # The dev console (GET /_console, parity_dev.console), signing in with the first seeded key.
        from parity_dev.console import Console

        httpd.mounts.append(Console(api_key=companies[0][1] if companies else None, hub=hub).handle)

        # Pollers before seeding: mappings exist from deploy on, so seeding writes are stream records too.
        pollers = Pollers(stack, runtime, clients, writes=moto.writes).start()
        self._stoppers.append(pollers.stop)
        if companies:
            _seed(companies)
        threading.Thread(target=httpd.serve_forever, name="gateway", daemon=True).start()
        self._stoppers.append(httpd.shutdown)
        return self

    def stop(self) -> None:
        """Stop in reverse order: HTTP first (no new work), then pollers, then moto."""
        for stop in reversed(self._stoppers):
            try:
                stop()
            except Exception:
                log.exception("stopping the local stack failed")


def _stack_info(stack, endpoint_url: str):
    """``GET /_local/stack``: where the local stack's embedded AWS is and what the template made
    there (outputs), so tools in other processes (``parity ops``, tests) can reach it."""
    import json

    info = json.dumps({"aws_endpoint_url": endpoint_url, "region": "us-east-1", "stack_name": stack.stack_name, "outputs": stack.outputs}).encode()

    def mount(method, raw_path, raw_query, headers, body):
        if raw_path != "/_local/stack":
            return None
        return (200, {"content-type": "application/json"}, info) if method == "GET" else (405, {"content-type": "application/json"}, b'{"message":"Method Not Allowed"}')

    return mount


def _seed(companies: Sequence[tuple[str, str]]) -> None:
    from parity.crm.provisioning import provision_company

    table_name = os.environ.get("CRM_TABLE_NAME")
    if not table_name:
        raise RuntimeError("no function of the template has CRM_TABLE_NAME; cannot seed companies")
    for company_id, api_key in companies:
        provision_company(table_name, company_id, api_key, parity_enabled=True)
        log.info("seeded company %s", company_id)
