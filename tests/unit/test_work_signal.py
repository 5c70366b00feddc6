"""The local stack's work signal (``parity_dev.aws.WorkSignal``): an idle poller wakes when its own
queue or stream has work, now or when the work falls due, never misses work that came while it was
polling, and sleeps through work on any other source."""

from __future__ import annotations

import threading
import time

from hypothesis import given
from hypothesis import strategies as st
from parity_dev.aws import WorkSignal

SOURCES = ["sqs:ingest", "sqs:webhook", "dynamodb:crm", "dynamodb:conversations"]


@given(before=st.lists(st.sampled_from(SOURCES), max_size=6), during=st.lists(st.sampled_from(SOURCES), max_size=6))
def test_a_poller_wakes_exactly_when_its_source_had_work_after_it_looked(before, during):
    # GIVEN work on some sources before each poller reads its count, and more during its poll
    signal = WorkSignal()
    for source in before:
        signal.added(source)
    seen = {source: signal.seen(source) for source in SOURCES}
    for source in during:
        signal.added(source)
    # WHEN each waits (without blocking: timeout 0)
    # THEN it wakes iff its own source had work after it looked
    for source in SOURCES:
        assert signal.wait(source, seen[source], timeout=0) is (source in during)


def test_work_due_later_wakes_the_poller_then_and_not_before():
    # GIVEN a message that becomes visible in 0.2 s (a delay, a visibility timeout)
    signal = WorkSignal()
    seen = signal.seen("sqs:ingest")
    signal.added("sqs:ingest", after=0.2)
    # WHEN the poller looks now, THEN there is nothing yet
    assert signal.wait("sqs:ingest", seen, timeout=0) is False
    # WHEN it waits up to 5 s, THEN it wakes once the work falls due, long before its timeout
    start = time.monotonic()
    assert signal.wait("sqs:ingest", seen, timeout=5) is True
    assert 0.15 <= time.monotonic() - start < 4
    # AND work that fell due is counted once: a second wait from the new count sleeps
    assert signal.wait("sqs:ingest", signal.seen("sqs:ingest"), timeout=0.05) is False


def test_a_waiting_poller_is_woken_by_its_own_source_only():
    # GIVEN a poller waiting up to 5 s on its queue
    signal = WorkSignal()
    seen = signal.seen("sqs:ingest")
    woke: list[tuple[bool, float]] = []

    def poller() -> None:
        start = time.monotonic()
        woke.append((signal.wait("sqs:ingest", seen, timeout=5), time.monotonic() - start))

    thread = threading.Thread(target=poller)
    thread.start()
    # WHEN another queue and a table get work, THEN it still waits
    signal.added("sqs:webhook")
    signal.added("dynamodb:crm")
    time.sleep(0.1)
    assert thread.is_alive()
    # WHEN its own queue gets a message, THEN it wakes, long before its timeout
    signal.added("sqs:ingest")
    thread.join(timeout=5)
    assert woke and woke[0][0] is True and woke[0][1] < 4


def test_without_work_the_wait_ends_at_its_timeout():
    signal = WorkSignal()
    signal.added("sqs:webhook", after=30)  # due long after the timeout
    start = time.monotonic()
    assert signal.wait("sqs:webhook", signal.seen("sqs:webhook"), timeout=0.05) is False
    assert time.monotonic() - start < 5
