"""Every row of docs/reliability.md points at a test that exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _test_ids(doc: str) -> list[tuple[str, str]]:
    rows = [line for line in doc.splitlines() if line.startswith("| ") and not line.startswith("| Fault") and not line.startswith("|---")]
    found = []
    for row in rows:
        ids = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", row)
        assert ids, f"a row without a test: {row}"
        found += ids
    return found


def test_every_row_names_a_test_that_exists():
    # GIVEN the reliability table
    ids = _test_ids((ROOT / "docs" / "reliability.md").read_text())
    assert len(ids) >= 20
    # WHEN each referenced file is parsed
    for path, name in ids:
        tree = ast.parse((ROOT / path).read_text())
        defined = {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
        # THEN the named test function is defined there
        assert name in defined, f"{path}::{name} does not exist"
