"""How a queued send attempt ends (``parity.core.queues.settle``): done is one line and nothing
else; a failure is retried later (the message hidden until then) or dead-lettered with why."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from parity.core.queues import RetryLater, settle


@dataclass
class Done:
    result: str
    reason: str = ""
    delay: int = 0


class FakeQueue:
    def __init__(self) -> None:
        self.postponed: list[tuple[str, str, int]] = []
        self.dead: list[dict] = []

    def postpone(self, queue_url: str, receipt_handle: str, delay: int) -> None:
        self.postponed.append((queue_url, receipt_handle, delay))

    def dead_letter(self, dlq_url: str, body: str, **why: object) -> None:
        self.dead.append({"dlq": dlq_url, "body": body, **why})


RECORD = SimpleNamespace(body='{"id": "m1"}', receipt_handle="rh-1")


def _settle(queue: FakeQueue, done: Done) -> None:
    settle(queue, RECORD, done, attempt=3, what="reply", log={"message_id": "m1"}, queue_url="q", dlq_url="dlq", source="delivery")


@pytest.mark.parametrize("result", ["sent", "skipped"])
def test_a_finished_attempt_touches_no_queue(result):
    queue = FakeQueue()
    _settle(queue, Done(result))
    assert queue.postponed == [] and queue.dead == []


def test_a_failed_attempt_to_retry_is_hidden_until_its_next_attempt_and_the_record_fails():
    queue = FakeQueue()
    with pytest.raises(RetryLater):
        _settle(queue, Done("retry", reason="provider answered 429", delay=60))
    assert queue.postponed == [("q", "rh-1", 60)] and queue.dead == []


def test_a_given_up_attempt_is_dead_lettered_with_why_and_not_retried():
    queue = FakeQueue()
    _settle(queue, Done("failed", reason="provider answered 400"))
    assert queue.postponed == []
    assert queue.dead == [{"dlq": "dlq", "body": RECORD.body, "reason": "provider answered 400", "attempts": 3, "source": "delivery", "attributes": None}]
