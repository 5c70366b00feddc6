"""parity.core.coldstart: a function's module is imported with the cyclic GC paused, and the handler's
wrapping (the module's last statement) freezes what the import built and resumes collection."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py"))

# Runs in a fresh interpreter: module bodies run once per process, as on Lambda.
_CHILD = r"""
import compileall, gc, json, sys
sys.path[:0] = sys.argv[1:]
for folder in sys.argv[1:]:  # the build ships bytecode: compiling a source is not part of a cold start
    compileall.compile_dir(folder, quiet=1)
gc.collect()
seen = {}

class Watch:  # counts the collections that run while the function module is imported
    def __call__(self, phase, info):
        if phase == "start":
            seen[current] = seen.get(current, 0) + 1

current = "import"
gc.callbacks.append(Watch())
import app
current = "after"
frozen = gc.get_freeze_count()
gc.collect()
print(json.dumps({"enabled": gc.isenabled(), "frozen": frozen, "collections_during_import": seen.get("import", 0)}))
"""


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_import_runs_without_collections_and_ends_frozen_with_gc_on(function):
    # GIVEN a fresh interpreter, as a Lambda container
    # WHEN the function's module is imported
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(ROOT / "functions" / function), str(ROOT / "layers" / "shared")],
        capture_output=True, text=True, timeout=60, check=True,
        env={"AWS_DEFAULT_REGION": "us-east-1", "PATH": "/usr/bin:/bin", "POWERTOOLS_TRACE_DISABLED": "true"},
    )
    state = json.loads(out.stdout.strip().splitlines()[-1])
    # THEN no cyclic collection interrupted the import
    assert state["collections_during_import"] == 0
    # AND what it built is frozen out of later collections, and collection is on for the invocations
    assert state["frozen"] > 10_000 and state["enabled"] is True
