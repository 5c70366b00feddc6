"""``parity ops`` (also ``parity-ops``): see, stop and heal the pipeline without a redeploy (RFC §4
rollout and rollback). The command line; each command is a function of its own module
(``flag``, ``dead_letters``, ``reconcile``, ``keys``, ``secret``) that tests and scripts call with a
``Target``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from parity.core.ids import check_company_id
from parity_ops.dead_letters import DLQS, dlq_list, dlq_redrive, dlq_show
from parity_ops.flag import flag_set, flag_show
from parity_ops.keys import key_issue, key_list, key_revoke
from parity_ops.reconcile import reconcile
from parity_ops.secret import DEFAULT_OVERLAP_SECONDS, secret_finish, secret_rotate, secret_show
from parity_ops.target import OpsError, Target, local_target, stack_target


def company_arg(value: str) -> str:
    """A command-line company id, checked as every entry checks it (``parity.core.ids.check_company_id``)."""
    try:
        return check_company_id(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _common() -> argparse.ArgumentParser:
    """The options every command takes: which stack, and --json."""
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_argument_group("which stack")
    where.add_argument("--stack", default=argparse.SUPPRESS, metavar="NAME", help="a deployed stack (default: $PARITY_STACK)")
    where.add_argument("--local", default=argparse.SUPPRESS, metavar="URL", help="a local stack, e.g. http://127.0.0.1:3000 (default: $PARITY_LOCAL)")
    where.add_argument("--region", default=argparse.SUPPRESS, help="AWS region of --stack (default: your AWS configuration)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON instead of a table")
    return common


_DESCRIPTION = "See, stop and heal the pipeline without a redeploy, on a deployed stack (--stack NAME) or a local one (--local URL)."
_EPILOG = "Each command takes --json for scripts. README \"Operating\" has the runbook."


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Register ``parity ops`` on the ``parity`` command's subparsers (``parity_dev.cli``)."""
    common = _common()
    ops = commands.add_parser("ops", parents=[common], help="operate the rollout: flags, dead letters, reconcile, keys, secret", description=_DESCRIPTION, epilog=_EPILOG)
    _add_commands(ops, common)
    return ops


def build_parser() -> argparse.ArgumentParser:
    """The ``parity-ops`` command: the same commands as ``parity ops``."""
    common = _common()
    parser = argparse.ArgumentParser(prog="parity-ops", parents=[common], description=_DESCRIPTION, epilog=_EPILOG)
    _add_commands(parser, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``parity-ops`` console script (and ``python -m parity_ops``)."""
    return run_ops(build_parser().parse_args(argv))


def _add_commands(ops: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    groups = ops.add_subparsers(dest="ops_command", required=True, metavar="COMMAND")

    flag = groups.add_parser("flag", parents=[common], help="the per-company parity flag: rollout and rollback")
    flag.add_argument("action", choices=["on", "off", "clear", "show"])
    flag.add_argument("company", type=company_arg)
    flag.set_defaults(op=_cmd_flag)

    dlq = groups.add_parser("dlq", parents=[common], help="dead-letter queues: list, show, redrive")
    dlq.add_argument("action", choices=["list", "show", "redrive"])
    dlq.add_argument("queue", choices=list(DLQS))
    dlq.add_argument("message_ids", nargs="*", metavar="MESSAGE_ID", help="show: the one message; redrive: only these (default: all)")
    dlq.add_argument("--limit", type=int, default=None, help="at most this many messages")
    dlq.set_defaults(op=_cmd_dlq)

    rec = groups.add_parser("reconcile", parents=[common], help="re-emit a room's bot/AI records so its preview heals")
    rec.add_argument("room")
    rec.add_argument("--company", required=True, type=company_arg)
    rec.add_argument("--notes", action="store_true", help="also write timeline notes that are missing")
    rec.set_defaults(op=_cmd_reconcile)

    key = groups.add_parser("key", parents=[common], help="company API keys: issue, list, revoke")
    key.add_argument("action", choices=["issue", "list", "revoke"])
    key.add_argument("company", type=company_arg)
    key.add_argument("--key-id", help="revoke: only this key (default: every active key of the company)")
    key.set_defaults(op=_cmd_key)

    secret = groups.add_parser("secret", parents=[common], help="the webhook signing secret: show, rotate, finish")
    secret.add_argument("action", choices=["show", "rotate", "finish"])
    secret.add_argument("--overlap", type=float, default=DEFAULT_OVERLAP_SECONDS, metavar="SECONDS", help=f"finish: how old the rotation must be (default {DEFAULT_OVERLAP_SECONDS})")
    secret.add_argument("--reveal", action="store_true", help="rotate: print the new secret (for a receiver run by another team)")
    secret.set_defaults(op=_cmd_secret)

    ops.set_defaults(run=run_ops)


def run_ops(args: argparse.Namespace, *, out: Any = None, err: Any = None) -> int:
    """Run one ``parity ops`` command; 0 when done, 1 when refused or failed (the reason on stderr)."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        target = _target(args)
        result, render = args.op(target, args)
    except OpsError as exc:
        print(f"parity ops: {exc}", file=err)
        return 1
    if getattr(args, "json", False):
        print(json.dumps(result, indent=2, default=str), file=out)
    else:
        print(render(result), file=out)
    return 0


def _target(args: argparse.Namespace) -> Target:
    local = getattr(args, "local", None) or (None if getattr(args, "stack", None) else os.environ.get("PARITY_LOCAL"))
    stack = getattr(args, "stack", None) or os.environ.get("PARITY_STACK")
    if local and getattr(args, "stack", None):
        raise OpsError("give either --stack or --local, not both")
    if local:
        return local_target(local)
    if stack:
        return stack_target(stack, region=getattr(args, "region", None))
    raise OpsError("which stack? give --stack NAME (a deployed stack) or --local URL (a `parity local`)")


def _cmd_flag(target: Target, args: argparse.Namespace) -> tuple[Any, Callable[[Any], str]]:
    if args.action == "show":
        result = flag_show(target, args.company)
    else:
        result = flag_set(target, args.company, {"on": True, "off": False, "clear": None}[args.action])

    def render(r: dict[str, Any]) -> str:
        own = "unset" if r["own"] is None else ("on" if r["own"] else "off")
        lines = [table([{"company": r["company_id"], "own flag": own, "stack default": "on" if r["default"] else "off", "effective": "ON" if r["effective"] else "OFF", "changed": f"{r['changed_at'] or '-'} by {r['changed_by'] or '-'}"}])]
        if args.action != "show":
            lines.append(f"takes effect within {r['effective_within_s']} s (the event router's flag cache); creates keep succeeding either way")
        return "\n".join(lines)

    return result, render


def _cmd_dlq(target: Target, args: argparse.Namespace) -> tuple[Any, Callable[[Any], str]]:
    if args.action == "list":
        result = dlq_list(target, args.queue, limit=args.limit or 100)
        return result, lambda r: (f"{table(r['messages'])}\n{r['count']} message(s)" if r["messages"] else f"the {r['queue']} dead-letter queue is empty")
    if args.action == "show":
        if len(args.message_ids) != 1:
            raise OpsError("dlq show takes one MESSAGE_ID")
        result = dlq_show(target, args.queue, args.message_ids[0])
        return result, lambda r: json.dumps(r, indent=2, default=str)
    result = dlq_redrive(target, args.queue, message_ids=args.message_ids or None, limit=args.limit)

    def render(r: dict[str, Any]) -> str:
        lines = [f"redrove {r['redriven']} message(s) from the {r['queue']} dead-letter queue"]
        if r.get("events"):
            lines.append(table(r["events"]))
        return "\n".join(lines)

    return result, render


def _cmd_reconcile(target: Target, args: argparse.Namespace) -> tuple[Any, Callable[[Any], str]]:
    result = reconcile(target, args.room, company_id=args.company, notes=args.notes)

    def render(r: dict[str, Any]) -> str:
        if not r["events"]:
            return f"room {r['room_id']} of {r['company_id']} has no bot/AI records and shows none: nothing to re-emit"
        return f"{table(r['events'])}\nqueued {len(r['events'])} event(s) for room {r['room_id']} (correlation id {r['correlation_id']})"

    return result, render


def _cmd_key(target: Target, args: argparse.Namespace) -> tuple[Any, Callable[[Any], str]]:
    if args.action == "issue":
        result = key_issue(target, args.company)
        created = " (new company: its parity flag follows the stack default)" if result["company_created"] else ""
        return result, lambda r: f"API key for {r['company_id']}{created}, shown this once:\n\n    {r['api_key']}\n\nkey id {r['key_id']} (to revoke it: parity ops key revoke {r['company_id']} --key-id {r['key_id']})"
    if args.action == "list":
        result = key_list(target, args.company)
        return result, lambda r: table(r["keys"]) if r["keys"] else f"{r['company_id']} has no keys on record"
    result = key_revoke(target, args.company, key_id=args.key_id)
    return result, lambda r: f"revoked {', '.join(r['revoked'])} of {r['company_id']}; tokens issued from them stop working within {r['tokens_stop_within_s']} s"


def _cmd_secret(target: Target, args: argparse.Namespace) -> tuple[Any, Callable[[Any], str]]:
    if args.action == "show":
        result = secret_show(target)
        return result, lambda r: table([{"source": r["source"], "signing with": " ".join(r["secrets"]), "rotating": "yes" if r["rotating"] else "no", "since": r["changed_at"] or "-"}])
    if args.action == "rotate":
        result = secret_rotate(target)
        if not args.reveal:
            result = {k: v for k, v in result.items() if k != "new_secret"}
        return result, lambda r: (
            f"rotation started: signing with {' and '.join(r['secrets'])} (new first)\n"
            + (f"new secret: {r['new_secret']}\n" if "new_secret" in r else "")
            + f"after {r['finish_after_s']} s, when every function has read it: {r['next']}"
        )
    result = secret_finish(target, overlap_seconds=args.overlap)
    return result, lambda r: f"rotation finished: signing with {r['secrets'][0]} only (dropped {', '.join(r['dropped'])})"


def table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows as an aligned text table, columns in first-seen order; None shows as "-"."""
    if not rows:
        return ""
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    cells = [[("-" if row.get(c) is None else str(row.get(c))) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    line = lambda values: "  ".join(v.ljust(w) for v, w in zip(values, widths)).rstrip()  # noqa: E731
    return "\n".join([line([c.upper().replace("_", " ") for c in columns]), line(["-" * w for w in widths]), *(line(r) for r in cells)])
