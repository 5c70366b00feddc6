"""Event source mappings, emulated: what Lambda's pollers do for SQS queues and DynamoDB streams.
(A little over 400 lines: Lambda's two pollers and the one loop that runs them.)

One background thread per mapping of the deployed template invokes the function through the
runtime (``LambdaRuntime.invoke``: a worker process of that function) with the event Lambda would
send. It polls again at once after work, and after an empty poll waits until the local AWS says
its queue or stream has work (``parity_dev.aws.WorkSignal``: a message sent, or visible again, a
stream record), its own retry falls due, or a second at most: a hop costs milliseconds, as with
Lambda's long-polling pollers, and an idle source costs nothing. Delivery semantics follow Lambda:

* SQS: a batch is received with the queue's visibility timeout; success deletes it; with
  ``ReportBatchItemFailures`` only the messages not listed in ``batchItemFailures`` are deleted; an
  error deletes nothing, so the messages come back after the visibility timeout and the queue's
  RedrivePolicy moves them to the dead-letter queue after ``maxReceiveCount`` receives (moto
  implements the redrive on receive, as SQS does). Messages that match no filter are deleted.
* DynamoDB streams: per shard, in order; a failed batch is retried (with backoff) from its first
  record, or from the lowest ``batchItemFailures`` sequence number, until ``MaximumRetryAttempts``
  (default: forever); exhausted batches are skipped and described on the OnFailure SQS destination.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from parity_dev.lambdas import FunctionError

if TYPE_CHECKING:  # pragma: no cover
    from parity_dev.aws import Clients, WorkSignal
    from parity_dev.declared import EventSourceMapping
    from parity_dev.lambdas import LambdaRuntime
    from parity_dev.stack import DeployedStack

log = logging.getLogger("parity_dev.pollers")

POLL_INTERVAL_SECONDS = 0.1
#: The longest an idle poller waits without being told of work: a safety net for work moto does not report.
IDLE_WAIT_SECONDS = 1.0
_MAX_BACKOFF_SECONDS = 5.0


def _filter(mapping: EventSourceMapping) -> Any:
    """A predicate for the mapping's FilterCriteria (EventBridge pattern syntax), via moto's matcher."""
    if not mapping.filter_patterns:
        return lambda record: True
    from moto.events.models import EventPattern, EventPatternParser

    patterns = [EventPattern(raw, EventPatternParser(raw).parse()) for raw in mapping.filter_patterns]
    return lambda record: any(p.matches_event(record) for p in patterns)


def _failed_identifiers(mapping: EventSourceMapping, result: Any, batch_ids: list[str]) -> set[str] | None:
    """Identifiers a ReportBatchItemFailures response names; ``None`` means "the whole batch failed".

    Lambda treats a malformed response (an item without a known itemIdentifier) as a failure of
    every record; a response without ``batchItemFailures`` is a full success.
    """
    if not mapping.reports_batch_item_failures or not isinstance(result, dict):
        return set()
    failures = result.get("batchItemFailures") or []
    if not isinstance(failures, list):
        return None
    ids = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in batch_ids:
            return None
        ids.add(identifier)
    return ids


class SqsPoller:
    """Lambda's SQS poller for one mapping."""

    def __init__(self, mapping: EventSourceMapping, runtime: LambdaRuntime, clients: Clients) -> None:
        self.mapping = mapping
        self.runtime = runtime
        self.sqs = clients.client("sqs")
        self.region = clients.region
        _, _, _, _, account, name = mapping.source_arn.split(":", 5)
        #: Where it waits for work (``WorkSignal``): its queue.
        self.source = f"sqs:{name}"
        self.queue_url = self.sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["VisibilityTimeout"])
        self.visibility_timeout = int(attributes["Attributes"]["VisibilityTimeout"])
        self.matches = _filter(mapping)

    def _receive(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + self.mapping.maximum_batching_window_seconds
        while len(messages) < self.mapping.batch_size:
            received = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, self.mapping.batch_size - len(messages)),
                VisibilityTimeout=self.visibility_timeout,
                WaitTimeSeconds=0,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            messages += received
            if not received and (not messages or time.monotonic() >= deadline):
                break
            if not received:
                time.sleep(POLL_INTERVAL_SECONDS)
        return messages

    def record(self, message: dict[str, Any]) -> dict[str, Any]:
        """The Lambda event record for one received message."""
        record = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message.get("Body", ""),
            "attributes": dict(message.get("Attributes", {})),
            "messageAttributes": {name: _message_attribute(a) for name, a in message.get("MessageAttributes", {}).items()},
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.mapping.source_arn,
            "awsRegion": self.region,
        }
        if "MD5OfMessageAttributes" in message:
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        return record

    def _matches(self, record: dict[str, Any]) -> bool:
        try:  # filters see a JSON body as an object, any other body as a string
            return bool(self.matches({**record, "body": json.loads(record["body"])}))
        except ValueError:
            return bool(self.matches(record))

    def poll_once(self) -> int:
        """Receive one batch and hand it to the function; returns how many messages were received."""
        messages = self._receive()
        if not messages:
            return 0
        records = [self.record(m) for m in messages]
        kept = [r for r in records if self._matches(r)]
        self._delete([r for r in records if r not in kept])
        if not kept:
            return len(messages)
        try:
            result = self.runtime.invoke(self.mapping.function, {"Records": kept})
        except FunctionError:
            log.warning("%s: batch of %d failed; left for redelivery", self.mapping.logical_id, len(kept))
            return len(messages)
        failed = _failed_identifiers(self.mapping, result, [r["messageId"] for r in kept])
        if failed is None:
            log.warning("%s: malformed batchItemFailures %r; whole batch left for redelivery", self.mapping.logical_id, result)
            return len(messages)
        self._delete([r for r in kept if r["messageId"] not in failed])
        return len(messages)

    def pending(self) -> bool:
        """Whether messages are in flight or delayed (they will come back or arrive later)."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"],
        )["Attributes"]
        return any(int(v) for v in attributes.values())

    def _delete(self, records: list[dict[str, Any]]) -> None:
        for start in range(0, len(records), 10):
            chunk = records[start : start + 10]
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)],
            )


def _message_attribute(attribute: dict[str, Any]) -> dict[str, Any]:
    """boto3's MessageAttributeValue in the lower-camel-case shape of Lambda's SQS event."""
    converted: dict[str, Any] = {
        "stringListValues": attribute.get("StringListValues", []),
        "binaryListValues": [base64.b64encode(b).decode() for b in attribute.get("BinaryListValues", [])],
        "dataType": attribute.get("DataType", "String"),
    }
    if "StringValue" in attribute:
        converted["stringValue"] = attribute["StringValue"]
    if "BinaryValue" in attribute:
        converted["binaryValue"] = base64.b64encode(attribute["BinaryValue"]).decode()
    return converted


@dataclass
class _Shard:
    shard_id: str
    iterator: str | None
    attempts: int = 0
    not_before: float = 0.0


class DynamoDbStreamPoller:
    """Lambda's DynamoDB Streams poller for one mapping: shards in order, failed batches retried."""

    def __init__(
        self, mapping: EventSourceMapping, runtime: LambdaRuntime, clients: Clients, *, starting_position: str | None = None
    ) -> None:
        self.mapping = mapping
        self.runtime = runtime
        self.starting_position = starting_position or mapping.starting_position or "LATEST"
        #: Where it waits for work (``WorkSignal``): its table's stream (``arn:…:table/<name>/stream/<label>``).
        self.source = f"dynamodb:{mapping.source_arn.split(':table/', 1)[1].split('/', 1)[0]}"
        self.streams = clients.client("dynamodbstreams")
        self.sqs = clients.client("sqs")
        self.matches = _filter(mapping)
        self.shards: dict[str, _Shard] = {}
        self._discover()  # now: with LATEST, records written after the poller exists must be seen

    def _discover(self) -> None:
        description = self.streams.describe_stream(StreamArn=self.mapping.source_arn)["StreamDescription"]
        # The starting position applies to the shards open when the mapping starts; shards that
        # appear later are read from their beginning.
        position = self.starting_position if not self.shards else "TRIM_HORIZON"
        for shard in description.get("Shards", []):
            if shard["ShardId"] not in self.shards:
                self.shards[shard["ShardId"]] = _Shard(shard["ShardId"], self._iterator(shard["ShardId"], position))

    def _iterator(self, shard_id: str, kind: str, sequence_number: str | None = None) -> str:
        extra = {"SequenceNumber": sequence_number} if sequence_number else {}
        return self.streams.get_shard_iterator(
            StreamArn=self.mapping.source_arn, ShardId=shard_id, ShardIteratorType=kind, **extra
        )["ShardIterator"]

    def record(self, raw: dict[str, Any]) -> dict[str, Any]:
        """The Lambda event record for one stream record (botocore's parsed types undone)."""
        record = _as_event_json(raw)
        record["eventSourceARN"] = self.mapping.source_arn
        return record

    def poll_once(self) -> int:
        """One get_records per ready shard, each batch handed to the function; returns records read."""
        if not self.shards:
            self._discover()
        handled = 0
        for shard in list(self.shards.values()):
            if shard.iterator is None or time.monotonic() < shard.not_before:
                continue
            page = self.streams.get_records(ShardIterator=shard.iterator, Limit=self.mapping.batch_size)
            raw_records = page.get("Records", [])
            if not raw_records:
                shard.iterator = page.get("NextShardIterator")
                continue
            handled += len(raw_records)
            self._deliver(shard, [self.record(r) for r in raw_records], page.get("NextShardIterator"))
        return handled

    def pending(self) -> bool:
        """Whether a failed batch waits for its retry."""
        return any(shard.not_before > time.monotonic() for shard in self.shards.values())

    def retry_in(self) -> float | None:
        """Seconds until the next failed batch is due for its retry, None when none waits."""
        now = time.monotonic()
        waiting = [shard.not_before - now for shard in self.shards.values() if shard.not_before > now]
        return min(waiting) if waiting else None

    def _deliver(self, shard: _Shard, records: list[dict[str, Any]], next_iterator: str | None) -> None:
        kept = [r for r in records if self.matches(r)]
        failed_from: str | None = None
        if kept:
            try:
                result = self.runtime.invoke(self.mapping.function, {"Records": kept})
                sequence_numbers = [r["dynamodb"]["SequenceNumber"] for r in kept]
                failed = _failed_identifiers(self.mapping, result, sequence_numbers)
                if failed is None:
                    failed_from = sequence_numbers[0]
                elif failed:
                    failed_from = min(failed, key=int)
            except FunctionError:
                failed_from = kept[0]["dynamodb"]["SequenceNumber"]
        if failed_from is None:
            shard.iterator, shard.attempts, shard.not_before = next_iterator, 0, 0.0
            return
        shard.attempts += 1
        retries = self.mapping.maximum_retry_attempts
        if 0 <= retries < shard.attempts:
            log.error("%s: batch from %s failed %d times; skipped", self.mapping.logical_id, failed_from, shard.attempts)
            self._send_on_failure(shard, kept)
            shard.iterator, shard.attempts, shard.not_before = next_iterator, 0, 0.0
            return
        # Lambda retries with exponential backoff; so do we, so a poison record does not spin the CPU.
        delay = min(_MAX_BACKOFF_SECONDS, POLL_INTERVAL_SECONDS * 2**shard.attempts)
        log.warning("%s: batch failed (attempt %d); retrying from %s in %.1fs", self.mapping.logical_id, shard.attempts, failed_from, delay)
        shard.iterator = self._iterator(shard.shard_id, "AT_SEQUENCE_NUMBER", failed_from)
        shard.not_before = time.monotonic() + delay

    def _send_on_failure(self, shard: _Shard, records: list[dict[str, Any]]) -> None:
        """Describe a skipped batch on the OnFailure SQS destination, as Lambda's invocation record does."""
        arn = self.mapping.on_failure_arn
        if not arn or not arn.startswith("arn:aws:sqs:") or not records:
            return
        _, _, _, _, account, name = arn.split(":", 5)
        url = self.sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        body = {
            "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": shard.attempts},
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": now,
            "DDBStreamBatchInfo": {
                "shardId": shard.shard_id,
                "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
                "batchSize": len(records),
                "streamArn": self.mapping.source_arn,
            },
        }
        self.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))


def _as_event_json(value: Any) -> Any:
    """Undo botocore's parsing: bytes back to base64 text, timestamps back to epoch seconds."""
    if isinstance(value, dict):
        return {k: _as_event_json(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [_as_event_json(v) for v in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return int(value.timestamp())
    return value


class Pollers:
    """The pollers of every enabled event source mapping of a stack, each in its own daemon thread."""

    def __init__(
        self,
        stack: DeployedStack,
        runtime: LambdaRuntime,
        clients: Clients,
        *,
        interval: float = POLL_INTERVAL_SECONDS,
        stream_starting_position: str | None = None,
        work: WorkSignal | None = None,
    ) -> None:
        """``stream_starting_position`` ("LATEST" / "TRIM_HORIZON") overrides the mappings' own, e.g.
        so a test on a shared stack reads only the stream records written after it began.
        ``work``: the moto server's work signal; without it an idle poller polls every ``interval``."""
        self.interval = interval
        self.work = work
        self.pollers: list[SqsPoller | DynamoDbStreamPoller] = []
        for mapping in stack.event_source_mappings:
            if not mapping.enabled:
                continue
            if mapping.source_kind == "sqs":
                self.pollers.append(SqsPoller(mapping, runtime, clients))
            else:
                self.pollers.append(DynamoDbStreamPoller(mapping, runtime, clients, starting_position=stream_starting_position))
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> Pollers:
        """Start polling in the background."""
        for poller in self.pollers:
            thread = threading.Thread(target=self._run, args=(poller,), name=f"poller-{poller.mapping.logical_id}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _run(self, poller: SqsPoller | DynamoDbStreamPoller) -> None:
        while not self._stop.is_set():
            # Read before polling: work arriving during the poll then ends the wait at once.
            seen = self.work.seen(poller.source) if self.work is not None else 0
            try:
                busy = poller.poll_once()
            except Exception:  # the poller itself must survive anything (e.g. moto restarting)
                log.exception("%s: poll failed", poller.mapping.logical_id)
                busy = 0
            if busy or self._stop.is_set():
                continue
            if self.work is None:
                self._stop.wait(self.interval)
                continue
            retry = poller.retry_in() if isinstance(poller, DynamoDbStreamPoller) else None
            self.work.wait(poller.source, seen, IDLE_WAIT_SECONDS if retry is None else min(retry, IDLE_WAIT_SECONDS))

    def drain(self, *, timeout: float = 10.0) -> None:
        """Poll in the calling thread until every source is empty and nothing waits for a retry.

        For tests; don't mix with ``start``. Waits out visibility timeouts and retry backoff, so a
        failing message ends in its dead-letter queue before this returns.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # "Pending" is read before polling: a message whose visibility timeout expires between a
            # poll and the check would otherwise be neither polled nor pending.
            pending = any(p.pending() for p in self.pollers)
            if sum(p.poll_once() for p in self.pollers):
                continue
            if not pending:
                return
            time.sleep(self.interval)
        raise TimeoutError(f"event sources still busy after {timeout} s")

    def halt(self) -> None:
        """Poll no more: each thread ends after the batch it is handling (``stop`` waits for that)."""
        self._stop.set()
        if self.work is not None:  # wake the idle ones
            for poller in self.pollers:
                self.work.added(poller.source)

    def stop(self) -> None:
        """Stop polling and wait for the threads (a batch being processed is finished first)."""
        self.halt()
        for thread in self._threads:
            thread.join(timeout=30)
