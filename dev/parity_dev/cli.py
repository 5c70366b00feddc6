"""The ``parity`` command (dev only). ``parity local`` runs the whole application on this machine.

stdout carries exactly one line, ``ready http://127.0.0.1:N``, so scripts can wait for it; function
output, tracebacks and request lines go to stderr or ``--log-file``.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Sequence

log = logging.getLogger("parity_dev.cli")


def _company(value: str) -> tuple[str, str]:
    from parity_ops.cli import company_arg

    company_id, sep, api_key = value.partition(":")
    if not (sep and company_id and api_key):
        raise argparse.ArgumentTypeError(f"expected ID:API_KEY, got {value!r}")
    return company_arg(company_id), api_key


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: one subcommand per tool (``local``, ``demo``, ``simulate``, ``ops``, ``bench``)."""
    from parity_dev.local_stack import DEFAULT_TEMPLATE, DEMO_COMPANY, parameter_arg

    parser = argparse.ArgumentParser(prog="parity", description="Parity developer tools (never deployed).")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    local = commands.add_parser("local", help="run the application locally on embedded AWS (moto)")
    local.add_argument("--port", type=int, default=3000, help="HTTP port on 127.0.0.1 (0 = any free port; default 3000)")
    local.add_argument(
        "--company", type=_company, action="append", default=[], metavar="ID:API_KEY",
        help=f"seed a company with the parity flag on (repeatable; default {':'.join(DEMO_COMPANY)})",
    )
    local.add_argument("--log-file", type=Path, help="write logs here instead of stderr")
    local.add_argument(
        "--env", type=parameter_arg, action="append", default=[], metavar="NAME=VALUE",
        help="a variable for every function's environment (repeatable), e.g. PARITY_FLAG_CACHE_SECONDS=2; "
        "one the template feeds from a parameter goes in as that parameter",
    )
    local.add_argument("--template", type=Path, default=Path(DEFAULT_TEMPLATE), help="SAM template (default ./template.yaml)")
    local.add_argument(
        "--parameter", type=parameter_arg, action="append", default=[], metavar="NAME=VALUE",
        help="template parameter override (repeatable); wins over values derived from the environment",
    )
    local.set_defaults(run=run_local)
    from parity_dev.demo import add_parser as add_demo_parser

    add_demo_parser(commands)  # ``parity demo``: the RFC scenario on a fresh local stack (parity_dev.demo)
    from parity_dev.simulate import add_parser as add_simulate_parser

    add_simulate_parser(commands)  # ``parity simulate``: a customer writes, as a provider's signed webhook (parity_dev.simulate)
    from parity_ops.cli import add_parser as add_ops_parser

    add_ops_parser(commands)  # ``parity ops``: flags, dead letters, reconcile, keys, secret (parity_ops, also `parity-ops`)
    from parity_dev.bench import add_parser as add_bench_parser

    add_bench_parser(commands)  # ``parity bench``: the performance budgets (parity_dev.bench, docs/performance.md)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``parity`` console script."""
    args = build_parser().parse_args(argv)
    return args.run(args)


def run_local(args: argparse.Namespace) -> int:
    """``parity local``: the local stack (``parity_dev.local_stack``), served until SIGINT/SIGTERM."""
    from parity_dev.local_stack import (
        DEMO_COMPANY,
        LocalStack,
        overrides_from,
        redirect_output,
    )

    ready_stream, _ = redirect_output(args.log_file)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    # The functions never see this process's environment: only the documented variables set in it,
    # and those given with --env, configure them.
    variables = {**overrides_from(os.environ), **dict(args.env)}
    stack = LocalStack(args.template, port=args.port, parameters=dict(args.parameter), variables=variables)
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
    # The seeded channels and their (fixed, development) secrets: stderr, never stdout.
    for line in channel_lines(stack):
        print(line, file=sys.stderr, flush=True)
    print(f"ready {stack.base_url}", file=ready_stream, flush=True)
    wait_for_signal(stop)
    log.info("shutting down")
    stack.stop()
    return 0


def wait_for_signal(stop: threading.Event) -> None:
    """Block until a signal handler sets ``stop``. It wakes every half second: a process-directed
    signal may land on another of the stack's threads, and Python runs the handler only once the
    main thread runs again, which a wait without a timeout would never let it do."""
    while not stop.wait(0.5):
        pass


def channel_lines(stack: object) -> list[str]:
    """What ``parity local`` says about the seeded channels: each one's id and secrets, and how a
    customer writes on it."""
    channels = getattr(getattr(stack, "channels", None), "seeded", None) or []
    if not channels:
        return []
    lines = [f"parity local: seeded channels of company {channels[0]['company_id']!r} (GET /_local/channels lists them):"]
    for channel in channels:
        secrets = ", ".join(f"{name} {channel[name]!r}" for name in ("secret", "api_token", "verify_token") if channel.get(name))
        lines.append(f"  {channel['type']:<8} {channel['id']}  {secrets}")
    wa = next((c for c in channels if c["type"] == "whatsapp"), None)
    if wa is not None:
        from parity_dev.simulate import DEFAULT_URL

        base_url = getattr(stack, "base_url", DEFAULT_URL)
        url = f" --url {base_url}" if base_url != DEFAULT_URL else ""
        lines.append(f"  a customer writes: parity simulate whatsapp --channel {wa['id']} --from 6281234567890 --name Budi --text Halo{url}")
    return lines
