"""SQS: publishing events, postponing a retry, and dead-lettering with a reason."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from parity.core import jsonio
from parity.core.warm import warm

if TYPE_CHECKING:  # pragma: no cover
    from mypy_boto3_sqs import SQSClient


#: Messages SQS takes in one ``SendMessageBatch`` (or returns from one receive).
BATCH_LIMIT = 10
#: What ``dead_letter`` adds to a message: why, after how many attempts, from which queue. A redrive
#: (``parity ops dlq redrive``) takes them off again, so the message starts clean.
REASON, ATTEMPTS, SOURCE = "failure_reason", "attempts", "source_queue"
FAILURE_ATTRIBUTES = (REASON, ATTEMPTS, SOURCE)


class QueueError(Exception):
    """SQS refused or did not answer after botocore's bounded retries."""


def new_client() -> SQSClient:
    """An SQS client: 1 s connect, 3 s read, 3 attempts (``parity.core.aws``)."""
    from parity.core.aws import client

    return client("sqs", read_timeout=3, attempts=3)


class Queues:
    def __init__(self, *, client: SQSClient | None = None) -> None:
        self._client = client

    @property
    def client(self) -> SQSClient:
        if self._client is None:
            self._client = new_client()
        return self._client

    def publish(self, queue_url: str, messages: Sequence[Mapping[str, Any]], *, attributes: Mapping[str, str] | None = None) -> None:
        """Send JSON messages, ten to a request (SQS's batch limit); any refused entry raises, so
        the caller's batch item fails and is retried (the receiver dedupes on the event id).
        ``attributes`` (e.g. the correlation id) travel on every message beside its own event id
        and type."""
        for start in range(0, len(messages), BATCH_LIMIT):
            self._send_batch(queue_url, messages[start : start + BATCH_LIMIT], attributes)

    def _send_batch(self, queue_url: str, messages: Sequence[Mapping[str, Any]], attributes: Mapping[str, str] | None) -> None:
        extra = {name: {"DataType": "String", "StringValue": value} for name, value in (attributes or {}).items() if value}
        entries = [
            {
                "Id": str(i),
                "MessageBody": jsonio.dumps(message),
                "MessageAttributes": {
                    "event_id": {"DataType": "String", "StringValue": str(message.get("event_id", ""))},
                    "event_type": {"DataType": "String", "StringValue": str(message.get("eventType", ""))},
                    **extra,
                },
            }
            for i, message in enumerate(messages)
        ]
        try:
            resp = self.client.send_message_batch(QueueUrl=queue_url, Entries=entries)
        except (ClientError, BotoCoreError) as exc:
            raise QueueError(f"could not publish to {queue_url}") from exc
        if resp.get("Failed"):
            raise QueueError(f"{len(resp['Failed'])} message(s) refused by {queue_url}")

    def send(self, queue_url: str, message: Mapping[str, Any], *, attributes: Mapping[str, str] | None = None) -> None:
        """Send one JSON message (one request); raises ``QueueError`` when SQS refuses it."""
        try:
            self.client.send_message(
                QueueUrl=queue_url,
                MessageBody=jsonio.dumps(message),
                MessageAttributes={name: {"DataType": "String", "StringValue": value} for name, value in (attributes or {}).items() if value},
            )
        except (ClientError, BotoCoreError) as exc:
            raise QueueError(f"could not send to {queue_url}") from exc

    def postpone(self, queue_url: str, receipt_handle: str, seconds: int) -> None:
        """Hide a message for ``seconds`` before its next attempt (the retry schedule)."""
        try:
            self.client.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=int(seconds))
        except (ClientError, BotoCoreError) as exc:
            # The queue's own visibility timeout still delays the retry: log-worthy, not fatal.
            raise QueueError("could not postpone the message") from exc

    def dead_letter(self, dlq_url: str, body: str, *, reason: str, attempts: int, source: str, attributes: Mapping[str, str] | None = None) -> None:
        """Park a message we gave up on, with why, for an operator to inspect and redrive;
        ``attributes`` it carried (the correlation id) stay with it, so a redrive keeps them."""
        try:
            self.client.send_message(
                QueueUrl=dlq_url,
                MessageBody=body,
                MessageAttributes={
                    REASON: {"DataType": "String", "StringValue": reason[:1000]},
                    ATTEMPTS: {"DataType": "Number", "StringValue": str(attempts)},
                    SOURCE: {"DataType": "String", "StringValue": source},
                    **{name: {"DataType": "String", "StringValue": value} for name, value in (attributes or {}).items() if value},
                },
            )
        except (ClientError, BotoCoreError) as exc:
            raise QueueError("could not dead-letter the message") from exc


@warm
def queues() -> Queues:
    """The SQS adapter, built once per container."""
    return Queues()


class RetryLater(Exception):
    """A record whose attempt failed and was postponed: the batch reports it failed, and its
    visibility already says when it comes back."""


def retry_or_give_up(
    queue: Any, record: Any, *, give_up: bool, reason: str, delay: int, attempts: int, queue_url: str, dlq_url: str, source: str,
    what: str, log: Mapping[str, Any], attributes: Mapping[str, str] | None = None,
) -> None:
    """The end of a send attempt that failed, for the senders behind a queue (webhooks, replies,
    Slack): given up → the message is dead-lettered with why (returns: the record is done); else it
    is hidden until its next attempt and ``RetryLater`` marks the record failed. ``queue`` is a
    ``Queues`` (or a test's fake), ``record`` the SQS record, ``what`` names the send in the log."""
    from parity.core.observability import logger

    if give_up:
        queue.dead_letter(dlq_url, record.body, reason=reason, attempts=attempts, source=source, attributes=attributes)
        logger.error(f"{what} dead-lettered", extra={**log, "reason": reason})
        return
    queue.postpone(queue_url, record.receipt_handle, delay)
    logger.warning(f"{what} attempt failed", extra={**log, "reason": reason, "retry_in_s": delay})
    raise RetryLater(reason)


class Attempted(Protocol):
    """A send attempt's outcome: ``result`` sent, skipped, retry or failed; why; when to try again."""

    result: str
    reason: str
    delay: int


def settle(
    queue: Any, record: Any, done: Attempted, *, attempt: int, what: str, log: Mapping[str, Any], queue_url: str, dlq_url: str, source: str,
) -> None:
    """The end of one send attempt of a queued message: sent or skipped is one log line (``what``,
    with ``log``); a failure goes on to ``retry_or_give_up`` (given up when ``failed``)."""
    from parity.core.observability import logger

    if done.result in ("sent", "skipped"):
        logger.info(what, extra={**log, "result": done.result, "reason": done.reason or None})
        return
    retry_or_give_up(queue, record, give_up=done.result == "failed", reason=done.reason, delay=done.delay, attempts=attempt,
                     queue_url=queue_url, dlq_url=dlq_url, source=source, what=what, log={**log, "result": done.result})
