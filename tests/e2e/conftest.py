"""End-to-end fixtures: the local stack (``python -m parity_dev local``) as a subprocess, driven over HTTP.

One stack per test session (per xdist worker), seeded with companies ``a`` and ``b``. Its log goes
to a temp file that is shown when startup fails; stopping it checks the clean-shutdown contract
(exit 0 on SIGTERM, nothing on stdout but the ready line).
"""

from __future__ import annotations

import importlib.util
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
if importlib.util.find_spec("parity_dev") is None:  # running from a checkout without `pip install -e .`
    sys.path[:0] = [str(ROOT / "dev"), str(ROOT / "layers" / "shared"), str(ROOT / "client")]

from parity_dev.local_stack import OVERRIDABLE_VARIABLES  # noqa: E402

# "t": a company of its own for the trust tests (its approval policy holds AI creates; a and b stay unheld)
# "f": the fuzzer's own (what its valid requests make is nobody else's data)
COMPANIES = {"a": "key-a", "b": "key-b", "t": "key-t", "f": "key-f"}
READY_TIMEOUT_SECONDS = 60


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/e2e carries the ``e2e`` marker (``-m "not e2e"`` skips them)."""
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.e2e)


def _read_stdout(process: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.put(line)


def stack_environment(extra_env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a local-stack subprocess runs with: the working tree's code, none of the
    developer's own configuration, plus ``extra_env``."""
    # The developer's own configuration must not leak into the stack under test.
    env = {k: v for k, v in os.environ.items() if k not in OVERRIDABLE_VARIABLES}
    # Run the working tree, installed or not.
    paths = [str(ROOT / "dev"), str(ROOT / "layers" / "shared"), str(ROOT / "client"), env.get("PYTHONPATH")]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, paths))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra_env or {})
    return env


@contextmanager
def running_stack(
    log_dir: Path,
    *,
    extra_env: dict[str, str] | None = None,
    function_env: dict[str, str] | None = None,
    companies: dict[str, str] = COMPANIES,
) -> Iterator[str]:
    """Start ``parity local`` as a subprocess, yield its base URL, stop it and check it stopped cleanly.

    ``extra_env`` is the process's environment (the documented configuration variables reach the
    functions from there); ``function_env`` goes to every function's environment (``--env``)."""
    log_path = log_dir / "parity-local.log"
    env = stack_environment(extra_env)
    command = [sys.executable, "-m", "parity_dev", "local", "--port", "0", "--template", str(ROOT / "template.yaml")]
    for company_id, api_key in companies.items():
        command += ["--company", f"{company_id}:{api_key}"]
    for name, value in (function_env or {}).items():
        command += ["--env", f"{name}={value}"]

    with open(log_path, "w") as log_file:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log_file, text=True)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_read_stdout, args=(process, lines), daemon=True)
    reader.start()
    try:
        first = lines.get(timeout=READY_TIMEOUT_SECONDS)
    except queue.Empty:
        first = ""
    if not first.startswith("ready http://127.0.0.1:"):
        process.kill()
        process.wait()
        pytest.fail(f"local stack not ready in {READY_TIMEOUT_SECONDS} s (stdout {first!r}); log:\n{log_path.read_text()}")

    yield first.split()[1]

    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"local stack ignored SIGTERM; log:\n{log_path.read_text()}")
    reader.join(timeout=5)  # stdout is at EOF once the process is gone
    extra = []
    while not lines.empty():
        extra.append(lines.get())
    assert code == 0, f"local stack exited with {code}; log:\n{log_path.read_text()}"
    assert not extra, f"stdout must hold only the ready line, also got: {extra!r}"


@pytest.fixture(scope="session")
def local_stack_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the session's local stack writes its log (``parity-local.log``: its stderr)."""
    return tmp_path_factory.mktemp("local-stack")


@pytest.fixture(scope="session")
def local_stack(local_stack_dir: Path) -> Iterator[str]:
    """Base URL (``http://127.0.0.1:N``) of a running local stack with companies ``a`` and ``b``,
    warmed up (``warm_up``) so that whichever test runs first waits as long as the others."""
    with running_stack(local_stack_dir) as base_url:
        warm_up(base_url, COMPANIES["a"])
        yield base_url


def warm_up(base_url: str, api_key: str, *, timeout: float = 60.0) -> None:
    """A bot deal in a room of its own, waited for until its preview and note are there: a fresh
    stack's first record cold-starts every function on the way (the router, the sender, the
    receiver, the note writer and the chat-history route it asks), several seconds on a loaded
    2-core machine. The tests assert behaviour with short waits; cold latency is the bench's
    figure 6. The room is ``warm-up-…``, so no test's own data is touched."""
    room = f"warm-up-{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=base_url, timeout=30) as http:
        token = http.post("/api/v3.1/teams/company_token", headers={"X-Crm-Api-Key": api_key}, json={"sso_id": "e2e-warm-up"}).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        deal = http.post("/api/v3.1/deals", headers=auth, json={"name": "warm-up", "channel_integration_room_id": room, "creator_flag": "bot"}).json()["data"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            shown = http.get(f"/api/v3.1/rooms/{room}/preview", headers=auth).json().get("deal")
            noted = http.get(f"/api/v3.1/deals/{deal['id']}/timeline", headers=auth).json().get("data")
            if shown and noted:
                return
            time.sleep(0.2)
    pytest.fail(f"the local stack's pipeline did not show a bot deal within {timeout:g} s of its start")


@pytest.fixture(scope="session")
def companies() -> dict[str, str]:
    """The seeded companies: id → API key."""
    return dict(COMPANIES)


@pytest.fixture
def http(local_stack: str) -> Iterator[httpx.Client]:
    """An HTTP client on the local stack's base URL."""
    with httpx.Client(base_url=local_stack, timeout=10) as client:
        yield client
