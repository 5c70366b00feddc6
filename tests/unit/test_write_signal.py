"""The local stack's write signal: an idle poller wakes on the next write to its service, never
misses a write made while it was polling, and ignores reads and the other service."""

from __future__ import annotations

import threading
import time

from hypothesis import given
from hypothesis import strategies as st
from parity_dev.aws import WriteSignal

WRITES = ["DynamoDB_20120810.PutItem", "DynamoDB_20120810.TransactWriteItems", "DynamoDB_20120810.UpdateItem",
          "DynamoDB_20120810.DeleteItem", "DynamoDB_20120810.BatchWriteItem", "AmazonSQS.SendMessage", "AmazonSQS.SendMessageBatch"]
READS = ["DynamoDB_20120810.Query", "DynamoDB_20120810.GetItem", "DynamoDBStreams_20120810.GetRecords",
         "AmazonSQS.ReceiveMessage", "AmazonSQS.DeleteMessageBatch", "AmazonSQS.GetQueueAttributes", ""]


def _service(target: str) -> str | None:
    if target in WRITES:
        return "sqs" if target.startswith("AmazonSQS.") else "dynamodb"
    return None


@given(before=st.lists(st.sampled_from(WRITES + READS), max_size=6), during=st.lists(st.sampled_from(WRITES + READS), max_size=6))
def test_a_poller_wakes_exactly_when_its_service_was_written_after_it_looked(before, during):
    # GIVEN requests served before a poller reads the write count, and others during its poll
    signal = WriteSignal()
    for target in before:
        signal.observe({"HTTP_X_AMZ_TARGET": target})
    seen = {service: signal.seen(service) for service in ("dynamodb", "sqs")}
    for target in during:
        signal.observe({"HTTP_X_AMZ_TARGET": target})
    # WHEN it waits (without blocking: timeout 0)
    # THEN it wakes for a service iff a write to that service came after it looked
    for service in ("dynamodb", "sqs"):
        expected = any(_service(t) == service for t in during)
        assert signal.wait(service, seen[service], timeout=0) is expected


def test_a_waiting_poller_is_woken_by_a_write_from_another_thread():
    # GIVEN a poller waiting up to 5 s for SQS
    signal = WriteSignal()
    seen = signal.seen("sqs")
    woke: list[tuple[bool, float]] = []

    def poller() -> None:
        start = time.monotonic()
        woke.append((signal.wait("sqs", seen, timeout=5), time.monotonic() - start))

    thread = threading.Thread(target=poller)
    thread.start()
    time.sleep(0.05)
    # WHEN a DynamoDB write (not its service), then an SQS send is served
    signal.observe({"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.PutItem"})
    signal.observe({"HTTP_X_AMZ_TARGET": "AmazonSQS.SendMessageBatch"})
    thread.join(timeout=5)
    # THEN it woke for the send, long before its timeout
    assert woke and woke[0][0] is True and woke[0][1] < 4


def test_without_a_write_the_wait_ends_at_the_interval():
    signal = WriteSignal()
    assert signal.wait("dynamodb", signal.seen("dynamodb"), timeout=0.01) is False
