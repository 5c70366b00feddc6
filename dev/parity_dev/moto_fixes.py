"""What the local stack changes in moto, each for a reason written beside it: transactions that
cancel leave no trace (as in DynamoDB), moto's model objects are freed, what moto looks up on every
request and never changes is remembered, a queue's counts are taken when read, and moto says when a
queue or a stream has work (``parity_dev.aws.WorkSignal``). ``apply`` does it all, once per process;
``app`` is moto's server application.
"""

from __future__ import annotations

import copy
import functools
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any


def apply(work: Any) -> None:
    """Every fix below, in this process (idempotent); moto tells ``work`` when a source has work."""
    atomic_moto_transactions()
    _queue_counts_when_read()
    signal_work(work)


def atomic_moto_transactions() -> None:
    """Make moto's cancelled ``TransactWriteItems`` leave no trace, and cost what it writes (idempotent).

    moto applies a transaction's writes one by one and, when one fails its condition, puts back a
    deep copy of each table taken beforehand. The writes applied before the failure have already
    reached the *old* table's stream shard, and every open shard iterator (our stream pollers')
    keeps reading that old shard: the cancelled writes come out as stream records (a phantom
    record reaches the room preview) and every later write goes to the copy's shard, which no
    iterator reads (the outbox goes silent). In DynamoDB a cancelled transaction writes nothing
    and emits nothing. Any cancelled create shows this: an idempotent replay, or a create with an
    unknown contact. And the copy is of the whole table, every item and every stream record it
    ever had: as a session's tables grew, each transaction cost more (most of the local AWS's time
    in the functional tests went to copying tables).

    So moto's copy of a table is the table itself, and the transaction keeps its own undo: each item
    it names, as it was (a copy of that item only). A cancelled transaction puts those items back
    and cuts the stream records it added; the table objects, and their shards, stay the same.
    """
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    original = DynamoDBBackend.transact_write_items
    if getattr(original, "_parity_atomic", False):
        return

    def before(tables: dict[str, Any], transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any, Any]]:
        """(table, hash key, range key, the item as it is) for each item the transaction names."""
        undo = []
        for item in transact_items:
            ((kind, op),) = item.items()
            table = tables[op["TableName"]]
            key = op["Item"] if kind == "Put" else op["Key"]
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            undo.append((table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))))
        return undo

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        names = {op.get("TableName") for item in transact_items for op in item.values() if isinstance(op, dict)}
        tables = {name: self.tables[name] for name in names if name in self.tables}
        marks = {name: len(t.stream_shard.items) for name, t in tables.items() if t.stream_shard is not None}
        try:
            undo = before(tables, transact_items)
        except Exception:  # noqa: BLE001 - a malformed transaction: moto's own copy and its own error
            return original(self, transact_items)
        Table.__deepcopy__ = lambda table, memo: table  # type: ignore[attr-defined]  # under the lock below
        try:
            return original(self, transact_items)
        except Exception:
            for table, hash_key, range_key, item in reversed(undo):
                items = table.items if range_key is None else table.items[hash_key]
                key = hash_key if range_key is None else range_key
                if item is None:
                    items.pop(key, None)
                else:
                    items[key] = item
            for name, table in tables.items():
                self.tables[name] = table
                if name in marks:
                    del table.stream_shard.items[marks[name]:]
            raise
        finally:
            del Table.__deepcopy__

    transact_write_items._parity_atomic = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    _untracked_dynamodb_models()
    # In-process moto is not thread-safe either (the server is serialized by _SerializedApp): a
    # cancelled transaction's restore would wipe a write another thread made meanwhile, and two racing
    # conditional writes could both pass. One lock makes each write atomic, as DynamoDB does.
    lock = threading.RLock()
    for name in ("transact_write_items", "put_item", "update_item", "delete_item", "batch_write_item", "get_item", "transact_get_items"):
        method = getattr(DynamoDBBackend, name, None)
        if method is not None:
            setattr(DynamoDBBackend, name, _locked(method, lock))


def _untracked_dynamodb_models() -> None:
    """Stop moto keeping every DynamoDB model object it ever built alive (idempotent).

    moto's ``BaseModel.__new__`` appends each instance to its class's ``instances_tracked`` (for
    its dashboard), and DynamoDB deep-copies freely: every TransactWriteItems copies each table it
    touches (items, indexes and the stream shard's whole history) as its undo, every Query copies
    the items it returns. Tracked, none of those copies was ever freed: the test session and a
    long ``parity local`` grew by a copy of each table per transaction (about 90 MiB over the
    approvals tests alone). Nothing of ours reads the dashboard; S3, which does read its list, is
    left as it is.
    """
    from moto.core.common_models import BaseModel

    tracked_new = BaseModel.__dict__["__new__"]
    track = tracked_new.__func__ if isinstance(tracked_new, staticmethod) else tracked_new
    if getattr(track, "_parity_untracked", False):
        return

    def __new__(cls: type, *args: Any, **kwargs: Any) -> Any:
        if cls.__module__.startswith("moto.dynamodb."):
            return object.__new__(cls)
        return track(cls, *args, **kwargs)

    __new__._parity_untracked = True  # type: ignore[attr-defined]
    BaseModel.__new__ = staticmethod(__new__)  # type: ignore[method-assign,assignment]


def _queue_counts_when_read() -> None:
    """Make moto count an SQS queue's messages only when a count is read (idempotent).

    moto builds all of a queue's attributes whenever one is read, three counts over every message
    of the queue included: on each SendMessage (for ``ContentBasedDeduplication``) and three times
    per message received (for ``MessageRetentionPeriod``). With n messages waiting, a send cost
    O(n) and a receive O(n²): a third of the local AWS's time in a webhook burst, growing with the
    backlog. The attributes are still moto's own, built by its code; the counts are taken when read.
    """
    from collections.abc import Iterator, Mapping

    from moto.sqs.models import Queue

    build = Queue.attributes.fget
    if getattr(build, "_parity_counted_when_read", False):
        return
    counts = {
        "ApproximateNumberOfMessages": "approximate_number_of_messages",
        "ApproximateNumberOfMessagesDelayed": "approximate_number_of_messages_delayed",
        "ApproximateNumberOfMessagesNotVisible": "approximate_number_of_messages_not_visible",
    }

    class Uncounted:
        """The queue as moto's ``attributes`` sees it, without counting its messages."""

        def __init__(self, queue: Any) -> None:
            self.queue = queue

        def __getattr__(self, name: str) -> Any:
            return None if name in counts.values() else getattr(self.queue, name)

    class Attributes(Mapping[str, Any]):
        def __init__(self, queue: Any) -> None:
            self.queue = queue
            self.values = build(Uncounted(queue))

        def __getitem__(self, key: str) -> Any:
            if key in counts and key in self.values:
                return getattr(self.queue, counts[key])
            return self.values[key]

        def __contains__(self, key: object) -> bool:
            return key in self.values

        def __iter__(self) -> Iterator[str]:
            return iter(self.values)

        def __len__(self) -> int:
            return len(self.values)

    def attributes(self: Any) -> Attributes:
        return Attributes(self)

    attributes._parity_counted_when_read = True  # type: ignore[attr-defined]
    attributes.__wrapped__ = build  # type: ignore[attr-defined]
    Queue.attributes = property(attributes)  # type: ignore[assignment,method-assign]


def _locked(method: Callable[..., Any], lock: Any) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return method(*args, **kwargs)

    call._parity_atomic = getattr(method, "_parity_atomic", False)  # type: ignore[attr-defined]
    return call


#: The signals of this process's moto servers; moto's backends are per process, so each hears of all work.
_signals: weakref.WeakSet[Any] = weakref.WeakSet()
#: moto compares times in whole milliseconds and a message is visible only strictly after its time.
_MOTO_CLOCK_SECONDS = 0.002


def signal_work(signal: Any) -> None:
    """Have moto tell ``signal`` when a queue or a stream has work (``signal.added(source, after=)``, as
    ``WorkSignal``; idempotent per signal).

    moto calls these inside the request that makes the work, while the edge's lock is held, so a
    poller woken now polls once that request has been served, and sees it.
    """
    from moto.dynamodb.models.table import StreamShard
    from moto.sqs.models import Queue, SQSBackend

    _signals.add(signal)
    if getattr(Queue.add_message, "_parity_signals", False):
        return
    add_message, add_record = Queue.add_message, StreamShard.add
    receive, change_visibility = SQSBackend.receive_message, SQSBackend.change_message_visibility

    def tell(source: str, at_ms: float = 0.0) -> None:
        """``source`` has work now, or at ``at_ms`` (moto's clock: epoch milliseconds)."""
        after = at_ms / 1000 - time.time() + _MOTO_CLOCK_SECONDS if at_ms else 0.0
        for each in list(_signals):
            each.added(source, after=after)

    def queue_add_message(self: Any, message: Any) -> None:
        add_message(self, message)
        tell(f"sqs:{self.name}", message.delayed_until)

    def receive_message(self: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        received = receive(self, queue_name, *args, **kwargs)
        if received:
            tell(f"sqs:{queue_name}", min(m.visible_at for m in received))
        return received

    def change_message_visibility(self: Any, queue_name: str, receipt_handle: str, visibility_timeout: int) -> None:
        change_visibility(self, queue_name, receipt_handle, visibility_timeout)
        tell(f"sqs:{queue_name}", time.time() * 1000 + int(visibility_timeout) * 1000)

    def shard_add(self: Any, old: Any, new: Any) -> None:
        add_record(self, old, new)
        tell(f"dynamodb:{self.table.name}")

    for patched in (queue_add_message, receive_message, change_message_visibility, shard_add):
        patched._parity_signals = True  # type: ignore[attr-defined]
    Queue.add_message = queue_add_message  # type: ignore[method-assign]
    SQSBackend.receive_message = receive_message  # type: ignore[method-assign]
    SQSBackend.change_message_visibility = change_message_visibility  # type: ignore[method-assign]
    StreamShard.add = shard_add  # type: ignore[method-assign]


def app() -> Any:
    """moto's server application, with what it looks up per request and never changes remembered.

    moto finds the backend for a request's host by listing its own package directory (some 150
    ``isdir`` calls) on every request, under its dispatcher's lock: about a fifth of the local AWS's
    time during a webhook burst. And it lists the response class's methods (``inspect.getmembers``)
    to check the action exists: 5 % more. Neither answer changes while the server runs.
    """
    from moto.core import responses
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        create_backend_app,
    )

    if not hasattr(responses.method_names_from_class, "cache_info"):
        method_names = responses.method_names_from_class
        responses.method_names_from_class = functools.cache(lambda cls: frozenset(method_names(cls)))  # type: ignore[assignment]

    class Dispatcher(DomainDispatcherApplication):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(create_backend_app)
            self.backend_of_host: dict[str | None, Any] = {}

        def get_backend_for_host(self, host: str | None) -> Any:
            if host not in self.backend_of_host:
                self.backend_of_host[host] = super().get_backend_for_host(host)
            return self.backend_of_host[host]

    return Dispatcher()
