"""What the local stack adds beside the template's routes for developers, on the session's stack:
the template's schedules (the snooze waker reopening a snoozed conversation). Reached over HTTP, as
a developer or the console reaches them."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest


@pytest.fixture
def http(local_stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=local_stack.base_url, timeout=20) as client:
        yield client


# ---- schedules -------------------------------------------------------------------------------------------
def test_the_templates_schedules_are_read_from_the_translated_template(stack):
    (waker,) = [s for s in stack.schedules if s.function == "SnoozeWakerFunction"]
    assert (waker.kind, waker.expression, waker.enabled, waker.input) == ("events", "rate(1 minute)", True, None)
    assert waker.arn.startswith("arn:aws:events:us-east-1:123456789012:rule/parity-SnoozeWakerFunction")


def test_a_schedule_runs_now_when_asked_over_http(http):
    answer = http.post("/_local/schedules/SnoozeWakerFunction/run")
    assert answer.status_code == 200, answer.text
    (run,) = answer.json()["data"]
    assert run["manual"] and run["status"] == "ok" and "woken" in run["result"]
    missing = http.post("/_local/schedules/CreateDealFunction/run")
    assert missing.status_code == 404 and "SnoozeWakerFunction" in missing.json()["error"]["message"]
