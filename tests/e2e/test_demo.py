"""``parity demo`` as a new user runs it (``make run``): every step of the RFC scenario (then the trust
scenario and the feedback loop) passes, the
stack keeps serving the console with ``--keep-running``; and a broken stack makes it fail loudly."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from .conftest import ROOT, stack_environment

DEMO_TIMEOUT_SECONDS = 120
STEPS = 23  # the RFC's 12, the trust scenario's 5 (parity_dev.demo_trust), the feedback loop's 6 (parity_dev.demo_feedback)


def start_demo(tmp_path: Path, *args: str, extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], queue.Queue[str | None]]:
    command = [sys.executable, "-m", "parity_dev", "demo", "--port", "0", "--template", str(ROOT / "template.yaml"), "--log-file", str(tmp_path / "demo.log"), *args]
    process = subprocess.Popen(command, cwd=ROOT, env=stack_environment(extra_env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, encoding="utf-8")
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return process, lines


def read_until(lines: queue.Queue[str | None], done: str, seen: list[str]) -> None:
    """Collect stdout lines into ``seen`` until one starts with ``done`` or stdout ends."""
    deadline = time.monotonic() + DEMO_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            return
        seen.append(line)
        if line.startswith(done):
            return
    raise AssertionError("the demo did not get there in time:\n" + "\n".join(seen))


def test_the_demo_plays_every_step_then_keeps_serving_the_console(tmp_path):
    # GIVEN a fresh machine's `make run`: the demo on a fresh local stack, kept running
    process, lines = start_demo(tmp_path, "--keep-running")
    seen: list[str] = []
    try:
        # WHEN it has played the scenario
        read_until(lines, "ready http://127.0.0.1:", seen)
        output = "\n".join(seen)
        # THEN every step is numbered and passed, with what it did and saw, and the run says so
        for number in range(1, STEPS + 1):
            assert f"{number:2d}. " in output, output
        assert output.count("✓") == STEPS and "✗" not in output, output
        assert f"All {STEPS} steps passed" in output
        # ... the note's excerpt is what the customer wrote on WhatsApp, masked
        note_step = output.split(" 6. ", 1)[1].split(" 7. ", 1)[0]
        assert "Tolong kirim penawarannya ke b***@example.com" in note_step and "budi.santoso@example.com" not in note_step, note_step
        # ... and the agent's reply reached WhatsApp's (fake) send API
        reply_step = output.split(" 8. ", 1)[1].split(" 9. ", 1)[0]
        assert "WhatsApp (fake Cloud API) got POST /v21.0/" in reply_step and "'sent'" in reply_step, reply_step
        # ... and the AI's 0.65 ticket was held under the 0.8 policy, out of the sidebar until approved
        held_step = output.split("14. ", 1)[1].split("15. ", 1)[0]
        assert "202 approval apr_" in held_step and "status 'pending'" in held_step and "still shows step 7's ticket" in held_step, held_step
        approved_step = output.split("15. ", 1)[1].split("17. ", 1)[0]
        assert "status 'approved'" in approved_step and "approved_by 'sari@demo'" in approved_step, approved_step
        assert "ticket \"Budi - refund for the late delivery\" (AI, urgent)" in approved_step and "label 'AI'" in approved_step, approved_step
        # ... and the activity log tells the story in order: held, then approved and created
        story = output.split("17. ", 1)[1].split("18. ", 1)[0]
        assert story.index("held/pending") < story.index("approved/success") and "create/success" in story, story
        # ... and the feedback loop closed: two reports, one ticket; each reporter told on their own channel
        ticket_step = output.split("20. ", 1)[1].split("21. ", 1)[0]
        assert "2 reports from ['slack', 'whatsapp']" in ticket_step and "suggested bug" in ticket_step, ticket_step
        told = output.split("23. ", 1)[1]
        assert "a template message (issue_resolved), the report being 26 h old" in told, told
        assert "thread 1795964400.000100" in told and "[('slack', 'sent', 1), ('whatsapp', 'sent', 1)]" in told, told
        # ... and the stack keeps serving the console it points at
        base_url = seen[-1].split()[1]
        assert any(line.startswith("Console") and f"{base_url}/_console" in line for line in seen)
        page = httpx.get(f"{base_url}/_console", timeout=5)
        assert page.status_code == 200 and "Parity dev console" in page.text
        room = next(line for line in seen if line.startswith("Console")).split("#/rooms/")[1].split()[0]
        assert room.startswith("room_")
        sent = httpx.get(f"{base_url}/_local/providers/sent", timeout=5).json()["data"]
        assert sorted(s["provider"] for s in sent) == ["slack", "whatsapp", "whatsapp"]  # step 8's reply, then the two reporters told
        assert process.poll() is None
    finally:
        # WHEN it is stopped THEN it exits 0: the scenario passed
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=20)
        except subprocess.TimeoutExpired:  # fail, but never leave a stack running behind the test
            process.kill()
            process.wait()
            code = None
    assert code == 0, (tmp_path / "demo.log").read_text()[-3000:]


def test_a_miss_fails_the_demo_at_that_step_with_a_nonzero_exit(tmp_path):
    # GIVEN a stack whose webhooks go nowhere, so no room preview can ever show (5 s a step: the steps
    # before it wait on cold functions, the customer's message ingested first, on a shared machine)
    process, lines = start_demo(tmp_path, "--timeout", "5", extra_env={"OMNICHANNEL_WEBHOOK_URL": "http://127.0.0.1:9/nowhere"})
    seen: list[str] = []
    # WHEN the demo runs
    try:
        read_until(lines, "Step ", seen)
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:  # never leave a stack running behind the test
            process.kill()
            process.wait()
    output = "\n".join(seen)
    # THEN the steps before pass, the preview step fails naming what it waited for, and the exit is 1
    assert code == 1, output
    assert output.count("✓") == 4 and "✗ expected deal" in output and "within 5 s" in output, output
    assert f"Step 5 of {STEPS} failed" in output
