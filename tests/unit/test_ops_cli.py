"""The operator tool's command line, without a stack: ``parity-ops`` and ``parity ops`` are one
parser, company ids are checked as every entry checks them, a missing stack is refused with what
to give, and building the parser (which ``parity local`` does on every start) sets up no logger."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from parity_ops import cli


def test_parity_ops_and_parity_ops_subcommand_take_the_same_commands():
    from parity_dev.cli import build_parser

    standalone = cli.build_parser().parse_args(["flag", "off", "acme", "--stack", "prod", "--json"])
    nested = build_parser().parse_args(["ops", "flag", "off", "acme", "--stack", "prod", "--json"])
    for args in (standalone, nested):
        assert (args.op, args.action, args.company, args.stack, args.json) == (cli._cmd_flag, "off", "acme", "prod", True)


@pytest.mark.parametrize("company", ["", "a#b", "x" * 65, "_lead"])
def test_a_company_id_no_entry_accepts_is_refused_before_any_call(company, capsys):
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["flag", "show", company, "--stack", "prod"])
    assert "invalid company id" in capsys.readouterr().err


def test_without_a_stack_the_command_says_what_to_give(monkeypatch):
    monkeypatch.delenv("PARITY_STACK", raising=False)
    monkeypatch.delenv("PARITY_LOCAL", raising=False)
    err = io.StringIO()
    assert cli.run_ops(cli.build_parser().parse_args(["secret", "show"]), out=io.StringIO(), err=err) == 1
    assert "--stack NAME" in err.getvalue() and "--local URL" in err.getvalue()


def test_tables_align_columns_in_first_seen_order():
    assert cli.table([{"key_id": "k1", "revoked": False}, {"key_id": "k22", "revoked_at": None}]).splitlines() == [
        "KEY ID  REVOKED  REVOKED AT",
        "------  -------  ----------",
        "k1      False    -",
        "k22     -        -",
    ]


def test_building_the_parser_sets_up_no_logger():
    # The `parity` command builds it on every start, before `parity local` configures logging.
    code = "import sys, parity_ops.cli; sys.exit('parity.core.observability' in sys.modules or 'aws_lambda_powertools' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
