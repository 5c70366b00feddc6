"""EventBridge: putting events on the stack's bus (bounded client, every entry checked)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from parity.core.warm import warm

#: PutEvents takes at most ten entries a request.
BATCH_LIMIT = 10


def entry(source: str, event: Mapping[str, Any], bus_name: str) -> dict[str, Any]:
    """The ``PutEvents`` entry of one event (``{"event": name, "event_id", …}``): its name is the
    detail-type, the whole event the detail."""
    from parity.core import jsonio

    return {"Source": source, "DetailType": event["event"], "Detail": jsonio.dumps(dict(event)), "EventBusName": bus_name}


def detail_of(message: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """An EventBridge event as a rule delivers it to a queue: its detail-type and detail."""
    detail = message.get("detail")
    return str(message.get("detail-type") or ""), dict(detail) if isinstance(detail, Mapping) else {}


class BusError(Exception):
    """EventBridge refused an entry or did not answer after the bounded retries."""


def new_client() -> Any:
    """An EventBridge client: 1 s connect, 3 s read, 3 attempts (``parity.core.aws``)."""
    from parity.core.aws import client

    return client("events", read_timeout=3, attempts=3)


class EventBus:
    def __init__(self, *, client: Any = None) -> None:
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = new_client()
        return self._client

    def put(self, entries: Sequence[Mapping[str, Any]]) -> None:
        """Put entries, ten to a request; any refused entry raises (the caller's item is retried,
        and subscribers dedupe on the event's id)."""
        for start in range(0, len(entries), BATCH_LIMIT):
            try:
                resp = self.client.put_events(Entries=list(entries[start : start + BATCH_LIMIT]))
            except (ClientError, BotoCoreError) as exc:
                raise BusError("could not put events on the bus") from exc
            if resp.get("FailedEntryCount"):
                raise BusError(f"{resp['FailedEntryCount']} event(s) refused by the bus")


@warm
def event_bus() -> EventBus:
    return EventBus()
