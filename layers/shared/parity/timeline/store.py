"""Timeline notes in the CRM table, beside the records they belong to.

    pk                    sk                                          what
    COMPANY#<cid>         NOTE#<TYPE>#<id>#chat_history#<room>        a record's timeline note for one
                                                                      room (entity = "note"; TTL 365 days)

The key starts with the company, as the record's does (``parity.crm.store.company_pk``): another
company's notes cannot be addressed. Key parts are escaped (``parity.core.dynamodb.key``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from parity.core.dynamodb import TableAdapter, dump_item, key
from parity.core.settings import get_settings
from parity.core.warm import warm
from parity.crm.store import company_pk

_KEY_ATTRS = ("pk", "sk", "entity", "ttl")


def notes_prefix(record_type: str, record_id: str) -> str:
    """The sort-key prefix of a record's timeline notes."""
    return key("NOTE", record_type.upper(), record_id, "")


def note_sk(record_type: str, record_id: str, kind: str, room_id: str) -> str:
    return key("NOTE", record_type.upper(), record_id, kind, room_id)


class NoteTable(TableAdapter):
    """Timeline notes (``parity.timeline.writer.NoteStore``) in the CRM table."""

    label = "the CRM table"

    def put_note(self, company_id: str, note: Mapping[str, Any]) -> bool:
        """Write a note unless its (record, kind, room) already has one: True when written,
        False for a duplicate (a redelivered message). One conditional PutItem; the note's own
        ``ttl`` makes DynamoDB expire it."""
        item = {
            "pk": company_pk(company_id),
            "sk": note_sk(note["record_type"], note["record_id"], note["type"], note["room_id"]),
            "entity": "note",
            **note,
        }
        try:
            self._call("put_item", TableName=self.table_name, Item=dump_item(item), ConditionExpression="attribute_not_exists(pk)", _raise_conditional=True)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def notes(self, company_id: str, record_type: str, record_id: str) -> list[dict[str, Any]]:
        """Every timeline note of a record (a record has a note per room)."""
        items = self._pages(
            TableName=self.table_name,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues=dump_item({":pk": company_pk(company_id), ":prefix": notes_prefix(record_type, record_id)}),
        )
        return [{k: v for k, v in item.items() if k not in _KEY_ATTRS} for item in items]


@warm
def note_table() -> NoteTable:
    """The notes' adapter over the CRM table, built once per container."""
    return NoteTable(get_settings().require("crm_table_name"))
