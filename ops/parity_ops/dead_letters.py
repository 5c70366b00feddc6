"""``parity ops dlq``: what the dead-letter queues hold, and sending it back.

``list_dead_letters`` peeks (and leaves them visible); ``redrive`` sends webhook and timeline
messages back to the queue they came from, where they are processed afresh under their own event
ids (the receiver and the note writer dedupe them). The stream consumers' dead letters (``router``,
``conversation-outbox``, ``trust-router``) are not events but descriptions of stream batches Lambda
gave up on: redriving one re-reads those stream records (the stream keeps 24 h) and hands them to
the same library code the consumer runs (``STREAM_REPLAYS``), so they make the same derived ids
(the events' ids, the activity lines' ids) and what was done before is a duplicate; past 24 h it is
left in place (the router's rooms are healed by ``reconcile`` instead).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from parity.core.queues import ATTEMPTS, BATCH_LIMIT, FAILURE_ATTRIBUTES, REASON
from parity.outbox import events
from parity_ops.target import OpsError, Target, iso

#: How long one sweep of ``list`` hides the messages it peeks at (they are made visible again after).
PEEK_SECONDS = 5
#: How long a redrive holds a message while it re-sends it.
REDRIVE_SECONDS = 30

DLQS = {
    # name: (its DLQ output, the queue a redrive sends it back to)
    "webhook": ("WebhookDLQUrl", "WebhookQueueUrl"),
    "timeline": ("TimelineDLQUrl", "TimelineQueueUrl"),
    "router": ("RouterDLQUrl", None),
    # Trust in AI actions (contracts/approvals.md).
    "activity": ("ActivityDLQUrl", "ActivityQueueUrl"),
    "notify": ("NotifyDLQUrl", "NotifyQueueUrl"),
    "decision": ("DecisionDLQUrl", "DecisionQueueUrl"),
    "proposal": ("ProposalDLQUrl", "ProposalQueueUrl"),
    # Conversations (contracts/conversations.md) and the feedback loop (contracts/feedback.md).
    "ingest": ("IngestDLQUrl", "IngestQueueUrl"),
    "delivery": ("DeliveryDLQUrl", "DeliveryQueueUrl"),
    "feedback": ("FeedbackDLQUrl", "FeedbackQueueUrl"),
    "reply-request": ("ReplyRequestDLQUrl", "ReplyRequestQueueUrl"),
    # The other stream consumers: conversations' outbox and the trust table's router.
    "conversation-outbox": ("ConversationOutboxDLQUrl", None),
    "trust-router": ("TrustRouterDLQUrl", None),
}


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    body: str
    reason: str | None
    attempts: int | None
    sent_at: str | None = None
    receive_count: int | None = None
    attributes: dict[str, str] = field(default_factory=dict)


def _dead_letter(message: Mapping[str, Any]) -> DeadLetter:
    attributes = {k: v.get("StringValue", "") for k, v in message.get("MessageAttributes", {}).items()}
    system = message.get("Attributes", {})
    attempts = attributes.get(ATTEMPTS)
    sent = system.get("SentTimestamp")
    return DeadLetter(
        message["MessageId"],
        message["Body"],
        attributes.get(REASON),
        int(attempts) if attempts else None,
        iso(int(sent) / 1000) if sent else None,
        int(system["ApproximateReceiveCount"]) if system.get("ApproximateReceiveCount") else None,
        attributes,
    )


def _receive(sqs: Any, queue_url: str, *, hide_for: int) -> list[dict[str, Any]]:
    """Up to ten messages with all their attributes, hidden from other readers for ``hide_for`` s."""
    return sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=BATCH_LIMIT, MessageAttributeNames=["All"], AttributeNames=["All"], VisibilityTimeout=hide_for,
    ).get("Messages", [])


def _release(sqs: Any, queue_url: str, handles: Sequence[str]) -> None:
    """Make received messages visible again at once."""
    for start in range(0, len(handles), BATCH_LIMIT):
        entries = [{"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0} for i, h in enumerate(handles[start : start + BATCH_LIMIT])]
        sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)


def list_dead_letters(sqs: Any, dlq_url: str, *, limit: int = 100) -> list[DeadLetter]:
    """Peek at up to ``limit`` dead letters, leaving them in the queue.

    Each receive hides what it returned for ``PEEK_SECONDS``, so one sweep sees every message once;
    at the end they are made visible again, so a ``redrive`` right after finds them.
    """
    found: dict[str, DeadLetter] = {}
    handles: list[str] = []
    try:
        while len(found) < limit:
            messages = _receive(sqs, dlq_url, hide_for=PEEK_SECONDS)
            handles += [m["ReceiptHandle"] for m in messages]
            fresh = [m for m in messages if m["MessageId"] not in found]
            if not fresh:
                break
            for message in fresh:
                found[message["MessageId"]] = _dead_letter(message)
    finally:
        _release(sqs, dlq_url, handles)
    return list(found.values())[:limit]


def redrive(
    sqs: Any,
    dlq_url: str,
    target_url: str,
    *,
    limit: int | None = None,
    message_ids: Iterable[str] | None = None,
    send: Callable[[Mapping[str, Any]], None] | None = None,
) -> int:
    """Move dead letters back to ``target_url``; each is deleted from the DLQ only once re-sent,
    without the attributes ``dead_letter`` added (``parity.core.queues.FAILURE_ATTRIBUTES``).

    With ``message_ids`` only those move; the others are made visible again at once. ``send``
    replaces the plain re-send (the router's descriptors are redriven by re-reading the stream);
    it raises ``OpsError`` to leave a message where it is. Stops when every message has been seen
    once, so messages that fail again during the redrive are not picked up twice.
    """
    wanted = set(message_ids) if message_ids is not None else None
    seen: set[str] = set()
    moved = 0
    while limit is None or moved < limit:
        messages = _receive(sqs, dlq_url, hide_for=REDRIVE_SECONDS)
        fresh = [m for m in messages if m["MessageId"] not in seen]
        seen |= {m["MessageId"] for m in fresh}
        chosen = [m for m in fresh if wanted is None or m["MessageId"] in wanted][: None if limit is None else limit - moved]
        taken = {m["MessageId"] for m in chosen}
        _release(sqs, dlq_url, [m["ReceiptHandle"] for m in messages if m["MessageId"] not in taken])
        if not fresh:
            return moved
        for message in chosen:
            try:
                if send is not None:
                    send(message)
                else:
                    attributes = {k: v for k, v in message.get("MessageAttributes", {}).items() if k not in FAILURE_ATTRIBUTES}
                    sqs.send_message(QueueUrl=target_url, MessageBody=message["Body"], **({"MessageAttributes": attributes} if attributes else {}))
            except OpsError:
                _release(sqs, dlq_url, [m["ReceiptHandle"] for m in chosen[chosen.index(message):]])
                raise
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
        if wanted is not None and wanted <= seen:
            return moved
    return moved


def _summary(which: str, letter: DeadLetter) -> dict[str, Any]:
    """What a dead letter is about, without its record's fields (those are for ``dlq show``)."""
    row: dict[str, Any] = {"message_id": letter.message_id, "sent_at": letter.sent_at, "receives": letter.receive_count}
    try:
        body = json.loads(letter.body)
    except ValueError:
        return {**row, "about": "(not JSON)", "reason": letter.reason}
    if which in STREAM_REPLAYS:
        info = body.get("DDBStreamBatchInfo", {}) if isinstance(body, dict) else {}
        condition = (body.get("requestContext") or {}).get("condition") if isinstance(body, dict) else None
        about = f"stream batch of {info.get('batchSize')} from {info.get('startSequenceNumber')} to {info.get('endSequenceNumber')}"
        return {**row, "about": about, "reason": condition or letter.reason}
    from parity.core.observability import CORRELATION_ATTRIBUTE  # here: it sets up the service's logger

    ids = events.about(body)
    about = f"{body.get('eventType')} {ids['record_id']} company {ids['company_id']} room {ids['room_id']}" if ids["record_id"] else "(not an event)"
    return {**row, "about": about, "reason": letter.reason, "attempts": letter.attempts, "correlation_id": letter.attributes.get(CORRELATION_ATTRIBUTE)}


def _dlq_urls(target: Target, which: str) -> tuple[str, str | None]:
    if which not in DLQS:
        raise OpsError(f"no dead-letter queue {which!r}; choose one of {', '.join(DLQS)}")
    dlq_output, queue_output = DLQS[which]
    return target.output(dlq_output), target.output(queue_output) if queue_output else None


def dlq_list(target: Target, which: str, *, limit: int = 100) -> dict[str, Any]:
    """What a dead-letter queue holds, one line per message (left in the queue)."""
    dlq_url, _ = _dlq_urls(target, which)
    letters = list_dead_letters(target.client("sqs"), dlq_url, limit=limit)
    return {"queue": which, "count": len(letters), "messages": [_summary(which, letter) for letter in letters]}


def dlq_show(target: Target, which: str, message_id: str) -> dict[str, Any]:
    """One dead letter in full: its body (parsed when JSON) and attributes."""
    dlq_url, _ = _dlq_urls(target, which)
    for letter in list_dead_letters(target.client("sqs"), dlq_url, limit=1000):
        if letter.message_id == message_id:
            try:
                body: Any = json.loads(letter.body)
            except ValueError:
                body = letter.body
            return {"queue": which, **_summary(which, letter), "attributes": letter.attributes, "body": body}
    raise OpsError(f"no message {message_id} in the {which} dead-letter queue")


def dlq_redrive(target: Target, which: str, *, message_ids: Sequence[str] | None = None, limit: int | None = None) -> dict[str, Any]:
    """Send dead letters back to be processed again (all, or the ones named)."""
    dlq_url, queue_url = _dlq_urls(target, which)
    sqs = target.client("sqs")
    if queue_url is not None:
        moved = redrive(sqs, dlq_url, queue_url, limit=limit, message_ids=message_ids or None)
        return {"queue": which, "redriven": moved, "to": queue_url}
    routed: list[dict[str, Any]] = []
    replay = STREAM_REPLAYS[which]
    moved = redrive(sqs, dlq_url, "", limit=limit, message_ids=message_ids or None, send=lambda message: routed.extend(replay(target, _stream_records(target, message["Body"], which))))
    return {"queue": which, "redriven": moved, "events": routed}


def replay_stream_batch(target: Target, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Route the stream records a router dead letter describes, through the router itself.

    The events get the ids the router derives from the stream records, so whatever was delivered
    before is a duplicate for the receiver, and the preview only moves forward by version.
    """
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

    from parity.core.queues import Queues
    from parity.crm import flags
    from parity.outbox import router

    crm = target.crm()
    routing = router.Router(
        Queues(client=target.client("sqs")),
        webhook_queue_url=target.output("WebhookQueueUrl"),
        timeline_queue_url=target.output("TimelineQueueUrl"),
        parity_enabled=lambda company_id: flags.effective(crm.company_parity(company_id), default=target.parity_default()),
        url_template=target.url_template(),
    )
    events: list[dict[str, Any]] = []
    for record in records:
        change = router.change_of(DynamoDBRecord(dict(record)))
        events += [
            {"event_id": e["event_id"], "event_type": e["eventType"], "record_id": e["data"]["id"], "correlation_id": change.correlation_id}
            for e in routing.route(change).events
        ]
    return events


def replay_conversation_batch(target: Target, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Publish what the conversations' stream records decide, as their consumer does
    (``parity.conversations.outbox.publish``): the same events, under the same ids."""
    from datetime import datetime, timezone

    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

    from parity.conversations import outbox
    from parity.core.bus import EventBus
    from parity.core.clock import iso_ms
    from parity.core.dynamodb import images
    from parity.core.queues import Queues

    bus, queue = EventBus(client=target.client("events")), Queues(client=target.client("sqs"))
    published: list[dict[str, Any]] = []
    for raw in records:
        record = DynamoDBRecord(dict(raw))
        decided = outbox.publish(record.event_id or "", *images(record), bus=bus, queue=queue, bus_name=target.output("EventBusName"), delivery_queue_url=target.output("DeliveryQueueUrl"),
                                 now_iso=iso_ms(datetime.now(timezone.utc)))
        published += [{"event_id": e["event_id"], "event_type": e["event"], "record_id": e.get("message_id") or e.get("room_id") or e.get("contact_id")}
                      for e in decided.events]
        published += [{"event_id": None, "event_type": "reply queued", "record_id": d["message_id"]} for d in decided.deliveries]
    return published


def replay_trust_batch(target: Target, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Route the trust table's stream records as their consumer does (``parity.approvals.service
    .route_trust_change``): activity lines (written once: their ids come from the approval), the
    approvers' notifications, the decisions on the bus."""
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

    from parity.approvals import service
    from parity.approvals.store import TrustStore
    from parity.core.bus import EventBus
    from parity.core.dynamodb import images
    from parity.core.queues import Queues

    store = TrustStore(target.output("TrustTableName"), client=target.client("dynamodb"))
    bus, queue = EventBus(client=target.client("events")), Queues(client=target.client("sqs"))
    routed: list[dict[str, Any]] = []
    for raw in records:
        old, new = images(DynamoDBRecord(dict(raw)))
        done = service.route_trust_change(store, old, new, bus=bus, queue=queue, bus_name=target.output("EventBusName"),
                                          notify_queue_url=target.output("NotifyQueueUrl"))
        image = new or old or {}
        routed.append({"event_id": None, "event_type": f"{image.get('entity')} {image.get('status') or ''}".strip(), "record_id": image.get("id"), **done})
    return routed


#: The stream consumers' dead-letter queues, and how a described batch is replayed.
STREAM_REPLAYS: dict[str, Callable[[Target, Sequence[Mapping[str, Any]]], list[dict[str, Any]]]] = {
    "router": replay_stream_batch,
    "conversation-outbox": replay_conversation_batch,
    "trust-router": replay_trust_batch,
}


def _stream_records(target: Target, body: str, which: str = "router") -> list[dict[str, Any]]:
    """The stream records a stream consumer's dead letter describes (Lambda's ``DDBStreamBatchInfo``), read again."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        info = json.loads(body)["DDBStreamBatchInfo"]
        shard, start, end, stream = info["shardId"], int(info["startSequenceNumber"]), int(info["endSequenceNumber"]), info["streamArn"]
    except (ValueError, KeyError, TypeError) as exc:
        raise OpsError(f"not a stream-batch failure description; inspect it with `dlq show {which}`") from exc
    streams = target.client("dynamodbstreams")
    try:
        iterator = streams.get_shard_iterator(StreamArn=stream, ShardId=shard, ShardIteratorType="AT_SEQUENCE_NUMBER", SequenceNumber=str(start))["ShardIterator"]
    except (ClientError, BotoCoreError) as exc:
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else type(exc).__name__
        raise OpsError(
            f"the stream no longer holds records {start}..{end} ({code}; it keeps 24 h): left in the queue"
            + ("; heal the affected rooms with `parity ops reconcile`" if which == "router" else "")
        ) from exc
    records: list[dict[str, Any]] = []
    while iterator:
        page = streams.get_records(ShardIterator=iterator, Limit=100)
        batch = page.get("Records", [])
        records += [r for r in batch if start <= int(r["dynamodb"]["SequenceNumber"]) <= end]
        if not batch or int(batch[-1]["dynamodb"]["SequenceNumber"]) >= end:
            break
        iterator = page.get("NextShardIterator")
    return records
