"""Operator tools (dev side, never deployed): work on a deployed stack or on the local stack.

Dead letters: ``list_dead_letters`` shows what a DLQ holds and why; ``redrive`` sends it back
to the queue it came from, where it is processed afresh (same event ids, so nothing applies twice).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Attributes the sender adds when it gives up; the redriven message starts clean without them.
_FAILURE_ATTRIBUTES = ("failure_reason", "attempts", "source_queue")


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    body: str
    reason: str | None
    attempts: int | None


def list_dead_letters(sqs: Any, dlq_url: str, *, limit: int = 100) -> list[DeadLetter]:
    """Peek at up to ``limit`` dead letters (they become visible again after a few seconds)."""
    found: dict[str, DeadLetter] = {}
    while len(found) < limit:
        messages = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], AttributeNames=["All"], VisibilityTimeout=5).get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in found]
        if not fresh:
            break
        for message in fresh:
            attributes = message.get("MessageAttributes", {})
            attempts = attributes.get("attempts", {}).get("StringValue")
            found[message["MessageId"]] = DeadLetter(message["MessageId"], message["Body"], attributes.get("failure_reason", {}).get("StringValue"), int(attempts) if attempts else None)
    return list(found.values())[:limit]


def redrive(sqs: Any, dlq_url: str, target_url: str, *, limit: int | None = None) -> int:
    """Move dead letters back to ``target_url``; each is deleted from the DLQ only once re-sent."""
    moved = 0
    while limit is None or moved < limit:
        batch = 10 if limit is None else min(10, limit - moved)
        messages = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=batch, MessageAttributeNames=["All"], VisibilityTimeout=30).get("Messages", [])
        if not messages:
            return moved
        for message in messages:
            attributes = {k: v for k, v in message.get("MessageAttributes", {}).items() if k not in _FAILURE_ATTRIBUTES}
            sqs.send_message(QueueUrl=target_url, MessageBody=message["Body"], **({"MessageAttributes": attributes} if attributes else {}))
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return moved
