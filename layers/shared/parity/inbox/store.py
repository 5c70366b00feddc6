"""The preview table (omnichannel side): every bot/AI record a room has seen, and the webhook-ids
the receiver has seen.

    pk                          sk                      what
    ROOM#<company>#<room>       DEAL#<id> | TICKET#<id> a record as the room knows it: ``state`` live,
                                                        left or deleted, ``version``, the record's
                                                        data, and the webhook-id that wrote it
    WEBHOOK#<webhook-id>        #WEBHOOK                a delivery seen: the SHA-256 of its body (TTL)

The room key starts with the company: another company's room reads as empty. Key parts are escaped
(``parity.core.dynamodb.key``).

A delivery is two conditional PutItems (2 write units). The first claims its ``webhook-id``: the
first body seen under an id is the only one ever applied, so a validly signed message that reuses
a seen id with another body has no effect (issue 12). The same body again (a sender retry, a DLQ
redrive, re-signed each time) goes on to the second write, which applies the entry only if it
moves the record forward (``parity.inbox.sidebar.decide``, enforced by DynamoDB so racing receivers
cannot corrupt it): a crash between the two writes is healed by the redelivery, and a redelivery
after both changes nothing. Whether a refused entry write was this very webhook again
("duplicate") or an older event ("stale") is read from the entry the condition returns.

Tombstones (``left`` and ``deleted`` entries) and claims live 30 days: longer than the sender's
retries (~32 h) plus the dead-letter queue's retention (14 days), so no redelivery outlives them.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from typing import Any, Literal

from botocore.exceptions import ClientError

from parity.core.dynamodb import TableAdapter, dump_item, key, keyed
from parity.core.settings import get_settings
from parity.core.warm import warm
from parity.inbox.sidebar import Entry
from parity.crm.records import plain

Applied = Literal["applied", "duplicate", "stale"]
TOMBSTONE_SECONDS = 30 * 24 * 3600


def _condition(entry: Entry) -> tuple[str, dict[str, Any]]:
    """The condition an entry is written under (``parity.inbox.sidebar.decide``) and its values: a live
    entry must be newer than what the room has; a leave newer, or of the same version as a live
    entry (the version that moved out); a delete ends anything but a delete."""
    values: dict[str, Any] = {":deleted": "deleted"}
    if entry.state == "deleted":
        return "attribute_not_exists(pk) OR #s <> :deleted", values
    values[":version"] = entry.version
    if entry.state == "live":
        return "attribute_not_exists(pk) OR (#s <> :deleted AND version < :version)", values
    values[":live"] = "live"
    return "attribute_not_exists(pk) OR (#s <> :deleted AND (version < :version OR (version = :version AND #s = :live)))", values


room_pk = keyed("ROOM")  # (company_id, room_id)


def entry_sk(record_type: str, record_id: str) -> str:
    return key(record_type.upper(), record_id)


webhook_pk = keyed("WEBHOOK")  # (webhook_id)


class PreviewStore(TableAdapter):
    """Adapter over the preview table (omnichannel side)."""

    label = "the preview table"

    def apply(self, company_id: str, entry: Entry, *, webhook_id: str, body: bytes | str | None = None, now: int | None = None) -> Applied:
        """Apply one delivery: claim its webhook-id for ``body`` (when given), then write the entry
        if it moves the record forward. "duplicate" when the id was seen with another body, or the
        entry refusing the write was written by this same webhook; "stale" when it is the past."""
        now = int(time.time()) if now is None else now
        if body is not None and not self._claim(webhook_id, body, now=now):
            return "duplicate"
        room = str(entry.data.get("channel_integration_room_id"))
        item: dict[str, Any] = {
            "pk": room_pk(company_id, room),
            "sk": entry_sk(entry.record_type, entry.record_id),
            "record_type": entry.record_type,
            "record_id": entry.record_id,
            "created_at": entry.created_at,
            "version": entry.version,
            "state": entry.state,
            "data": dict(entry.data),
            "webhook_id": webhook_id,
        }
        if not entry.live:
            item["ttl"] = now + TOMBSTONE_SECONDS
        condition, values = _condition(entry)
        try:
            self._call(
                "put_item",
                TableName=self.table_name,
                Item=dump_item(item),
                ConditionExpression=condition,
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues=dump_item(values),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                _raise_conditional=True,
            )
        except ClientError as exc:
            stored = exc.response.get("Item") or {}
            return "duplicate" if stored.get("webhook_id", {}).get("S") == webhook_id else "stale"
        return "applied"

    def _claim(self, webhook_id: str, body: bytes | str, *, now: int) -> bool:
        """Record that ``webhook_id`` carried ``body``; False when it was seen with another body."""
        digest = hashlib.sha256(body.encode("utf-8") if isinstance(body, str) else body).hexdigest()
        item = {"pk": webhook_pk(webhook_id), "sk": "#WEBHOOK", "body_sha256": digest, "ttl": now + TOMBSTONE_SECONDS}
        try:
            self._call(
                "put_item",
                TableName=self.table_name,
                Item=dump_item(item),
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                _raise_conditional=True,
            )
        except ClientError as exc:
            stored = exc.response.get("Item") or {}
            return stored.get("body_sha256", {}).get("S") == digest
        return True

    def entries(self, company_id: str, room_id: str) -> list[Entry]:
        """Every entry of a room (one Query, paginated if a room ever grows past 1 MB)."""
        items = self._pages(
            TableName=self.table_name,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=dump_item({":pk": room_pk(company_id, room_id)}),
        )
        return [_entry(item) for item in items]


def _entry(item: Mapping[str, Any]) -> Entry:
    return Entry(
        record_type=item["record_type"],
        record_id=item["record_id"],
        created_at=item["created_at"],
        version=int(item["version"]),
        state=item["state"],
        data=plain(item["data"]),
    )


@warm
def preview_store() -> PreviewStore:
    """The preview table adapter, built once per container."""
    return PreviewStore(get_settings().require("preview_table_name"))
