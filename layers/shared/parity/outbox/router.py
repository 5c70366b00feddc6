"""The outbox consumer's use case: a record's change on the stream → events on the queues.

The event router's handler reads a stream record into a ``Change`` (``change_of``) and gives it to
``Router.route``, which decides the events, publishes them through the ``EventQueues`` port and
says what it did (``Routed``); the handler logs and counts. ``publish`` is the fan-out (which queue
an event goes to), used by the router and by ``parity ops`` (a replayed stream batch goes through
``Router``; a reconciled room through ``publish``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol

from parity.core.clock import iso_ms, utc_now
from parity.core.dynamodb import images
from parity.core.observability import CORRELATION_ATTRIBUTE, created_metric
from parity.outbox import events

if TYPE_CHECKING:  # pragma: no cover
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord


class EventQueues(Protocol):
    """Where events are queued (``parity.core.queues.Queues``)."""

    def publish(self, queue_url: str, messages: Sequence[Mapping[str, Any]], *, attributes: Mapping[str, str] | None = None) -> None: ...


def publish(
    queues: EventQueues,
    event_bodies: Sequence[Mapping[str, Any]],
    *,
    webhook_queue_url: str,
    timeline_queue_url: str | None,
    attributes: Mapping[str, str] | None = None,
) -> None:
    """The fan-out: every event to the webhook queue; creates also to the timeline-note queue
    (RFC CDTC-S04), unless there is none (``None``: no note wanted). ``attributes`` (the
    correlation id) travel on every message."""
    queues.publish(webhook_queue_url, event_bodies, attributes=attributes)
    creates = [e for e in event_bodies if _action(e) == "create"]
    if creates and timeline_queue_url:
        queues.publish(timeline_queue_url, creates, attributes=attributes)


def _action(event: Mapping[str, Any]) -> str | None:
    parsed = events.parse_type(str(event.get("eventType", "")))
    return parsed[1] if parsed else None


@dataclass(frozen=True)
class Change:
    """One change of an item of the CRM table, as the outbox stream carries it: the item's images
    before and after (None when there is none: a create, a delete)."""

    stream_event_id: str
    old: Mapping[str, Any] | None
    new: Mapping[str, Any] | None
    #: When the change happened, as the stream says (``ApproximateCreationDateTime``): dates a delete.
    at: str = ""

    @property
    def image(self) -> Mapping[str, Any]:
        return self.new or self.old or {}

    @property
    def correlation_id(self) -> str:
        """The request's that wrote the item (stored on it), else one derived from the stream record."""
        return str(self.image.get("correlation_id") or f"stream-{self.stream_event_id}")

    def about(self) -> dict[str, Any]:
        """The ids a log line about this change names."""
        image = self.image
        return {"company_id": image.get("company_id"), "record_id": image.get("id"), "room_id": image.get("channel_integration_room_id")}


def change_of(record: DynamoDBRecord) -> Change:
    """A stream record (the Lambda event's, or one read back from the stream by ``parity ops``)
    as a ``Change``; powertools deserializes its images."""
    stream = record.dynamodb
    old, new = images(record)
    return Change(record.event_id or "", old, new, _when(stream.get("ApproximateCreationDateTime") if stream else None))


def _when(value: Any) -> str:
    """The stream record's time as iso_ms: epoch seconds in a Lambda event, a datetime when boto3
    read the record back from the stream (``parity ops``); "" when it has none."""
    if isinstance(value, datetime):
        return iso_ms(value)
    try:
        return iso_ms(datetime.fromtimestamp(float(value), timezone.utc)) if value is not None else ""
    except (TypeError, ValueError, OverflowError):
        return ""


@dataclass(frozen=True)
class Routed:
    """What the router did with a change: the events it queued (in order) and the RFC metric the
    change makes (``bot_deal_created`` …: a new bot/AI record of a company whose flag is on)."""

    events: list[dict[str, Any]]
    created: str | None = None


NOTHING = Routed([])


@dataclass(frozen=True)
class Router:
    """A change of a bot/AI record of a company whose parity flag is on → its events, queued.

    Anything that is not a record (companies, tokens, contacts, idempotency entries share the
    table) makes no event; neither does a company whose flag is off.
    """

    queues: EventQueues
    webhook_queue_url: str
    timeline_queue_url: str | None
    parity_enabled: Callable[[str], bool]
    url_template: str
    now: Callable[[], datetime] = utc_now

    def route(self, change: Change) -> Routed:
        """Decide the change's events, queue them under its correlation id, and say what was done.
        A queue that refuses raises (``QueueError``): the stream record is retried, and its events
        keep their ids, so the receiver dedupes whatever was already sent."""
        old = _record(change.old)
        new = _record(change.new)
        decided = events.decide(old, new)
        # A stream INSERT (no old image) of a record: counted whether or not it has a room.
        created = created_metric(new.get("creator_flag"), new.get("type")) if new is not None and change.old is None else None
        if not decided and not created:
            return NOTHING
        if not self.parity_enabled(str((new or old or {}).get("company_id"))):
            return NOTHING
        now_iso = iso_ms(self.now())
        built = [
            events.build(
                action,
                record,
                event_id=events.event_id(change.stream_event_id, action),
                occurred_at=record["updated_at"] if action in ("create", "update") else now_iso,
                url_template=self.url_template,
            )
            for action, record in decided
        ]
        if built:
            publish(
                self.queues, built, webhook_queue_url=self.webhook_queue_url, timeline_queue_url=self.timeline_queue_url,
                attributes={CORRELATION_ATTRIBUTE: change.correlation_id},
            )
        return Routed(built, created)


def _record(image: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    return image if image and image.get("entity") == "record" else None
