"""The preview table (omnichannel side): every bot/AI record a room has seen.

    pk                          sk                      what
    ROOM#<company>#<room>       DEAL#<id> | TICKET#<id> a record as the room knows it (tombstone when
                                                        deleted), with the webhook-id that wrote it

The room key starts with the company: another company's room reads as empty.

A delivery is one conditional PutItem (1 write unit). It used to be a two-item transaction with a
``WEBHOOK#<id>`` marker per delivery (4 write units, a fifth of the cost of a bot create,
docs/performance.md); the marker guarded nothing the entry's own condition does not. A redelivery
(a sender retry or a DLQ redrive, re-signed each time) carries the version it had, so it cannot
move the entry forward, and a deleted record's tombstone refuses it for 30 days (the marker was
kept 7); a captured request replayed by someone else dies at the signature's 5-minute tolerance.
Whether a refused write was this very webhook again ("duplicate") or an older event ("stale")
is read from the entry the condition returns.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Literal

from botocore.exceptions import ClientError

from parity.adapters.dynamodb import RETRYABLE, TableAdapter, dump_item, load_item
from parity.errors import ServiceUnavailable
from parity.preview import Entry
from parity.records import plain


Applied = Literal["applied", "duplicate", "stale"]
TOMBSTONE_SECONDS = 30 * 24 * 3600
_BUSY = RETRYABLE


def room_pk(company_id: str, room_id: str) -> str:
    return f"ROOM#{company_id}#{room_id}"


class PreviewStore(TableAdapter):
    """Adapter over the preview table (omnichannel side)."""

    def apply(self, company_id: str, entry: Entry, *, webhook_id: str, now: int | None = None) -> Applied:
        """Apply one delivery in one conditional write: the entry is written only if it moves the
        record forward (``parity.preview.decide``, enforced by DynamoDB so racing receivers cannot
        corrupt it); "duplicate" when the entry refusing it was written by this same webhook."""
        now = int(time.time()) if now is None else now
        room = str(entry.data.get("channel_integration_room_id"))
        item: dict[str, Any] = {
            "pk": room_pk(company_id, room),
            "sk": f"{entry.record_type.upper()}#{entry.record_id}",
            "record_type": entry.record_type,
            "record_id": entry.record_id,
            "created_at": entry.created_at,
            "version": entry.version,
            "deleted": entry.deleted,
            "data": dict(entry.data),
            "webhook_id": webhook_id,
        }
        if entry.deleted:
            item["ttl"] = now + TOMBSTONE_SECONDS
            condition = "attribute_not_exists(pk) OR deleted = :false"
            values = {":false": False}
        else:
            condition = "attribute_not_exists(pk) OR (deleted = :false AND version < :version)"
            values = {":false": False, ":version": entry.version}
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=dump_item(item),
                ConditionExpression=condition,
                ExpressionAttributeValues=dump_item(values),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "ConditionalCheckFailedException":
                stored = exc.response.get("Item") or {}
                return "duplicate" if stored.get("webhook_id", {}).get("S") == webhook_id else "stale"
            if code in _BUSY:
                raise ServiceUnavailable("the preview table is busy; retry shortly") from exc
            raise
        return "applied"

    def entries(self, company_id: str, room_id: str) -> list[Entry]:
        """Every entry of a room (one Query, paginated if a room ever grows past 1 MB)."""
        entries: list[Entry] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": dump_item({":pk": room_pk(company_id, room_id)}),
        }
        while True:
            try:
                resp = self.client.query(**kwargs)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in _BUSY:
                    raise ServiceUnavailable("the preview table is busy; retry shortly") from exc
                raise
            entries.extend(_entry(load_item(item)) for item in resp.get("Items", []))
            if "LastEvaluatedKey" not in resp:
                return entries
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


def _entry(item: Mapping[str, Any]) -> Entry:
    return Entry(
        record_type=item["record_type"],
        record_id=item["record_id"],
        created_at=item["created_at"],
        version=int(item["version"]),
        deleted=bool(item["deleted"]),
        data=plain(item["data"]),
    )
