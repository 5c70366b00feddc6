"""The conversation table: channels, conversations, their messages and idempotency entries (single-table design; the key layout is here and nowhere else).

    pk                              sk                          what
    CHANNEL#<ch>                    #CHANNEL                    a channel, found by id alone (its webhook has no token)
    COMPANY#<cid>                   CHANNEL#<ch>                the company's copy (to list its channels)
    COMPANY#<cid>                   CONV#<room>                 a conversation (entity = "conversation")
    COMPANY#<cid>                   THREAD#<ch>#<thread>        where a provider thread's conversation is
    ROOMREF#<room>                  #ROOM                       which company a room is (the chat-history API's internal token)
    ROOM#<cid>#<room>               MSG#<created_at>#<msg>      a message (entity = "message"), oldest first
    OUTBOUND#<ch>#<provider id>     #MSG                        an accepted reply's key, for the provider's statuses
    COMPANY#<cid>                   IDEMPOTENCY#<sha256>        a remembered reply (TTL 24 h)

Every key but the channel's, a room reference and an accepted reply's starts with the company;
those three are reached only with an id already proved (a signed webhook, a room of the caller's,
the provider's answer). Key parts are escaped (``parity.core.dynamodb.key``).

Indexes: ``ByActivity`` (``activity_pk`` = company, ``activity_sk`` = last activity + room) lists a
company's conversations newest activity first; ``Snoozed`` (``snooze_pk`` = "SNOOZED",
``snoozed_until``) finds the snoozes that ran out. The table's stream is the conversations' outbox:
new conversations and messages, changes of state and of delivery status become events and
deliveries (``parity.conversations.outbox``).

An inbound message's key is made of the provider's time and id, so a redelivery writes nothing:
one conditional PutItem is the whole dedupe.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from parity.conversations.model import Conversation
from parity.core.clock import iso_ms, parse_time
from parity.core.dynamodb import Page, TableAdapter, dump_item, key, keyed, load_item
from parity.core.errors import IdempotencyInProgress
from parity.core.idempotency import Entry, entry_of, entry_sk
from parity.core.idempotency import put_request as idempotency_put
from parity.core.settings import get_settings
from parity.core.warm import warm
from parity.crm.store import company_pk

ACTIVITY_INDEX = "ByActivity"
SNOOZED_INDEX = "Snoozed"
_KEY_ATTRS = ("pk", "sk", "entity", "ttl", "activity_pk", "activity_sk", "snooze_pk")
#: Outbound delivery statuses, in the only order they may move (``failed`` ends queued or sent).
STATUS_ORDER = {"queued": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 4}


channel_pk = keyed("CHANNEL")  # (channel_id)
conversation_sk = keyed("CONV")  # (room_id)
thread_sk = keyed("THREAD")  # (channel_id, thread)
room_pk = keyed("ROOM")  # (company_id, room_id)
message_sk = keyed("MSG")  # (created_at, message_id)


def inbound_message_id(channel_id: str, provider_id: str) -> str:
    """Stable per provider message: a redelivery names the same message."""
    return "msg_" + hashlib.sha256(f"{channel_id}\n{provider_id}".encode()).hexdigest()[:24]


class Stored(NamedTuple):
    written: bool
    item: dict[str, Any]


class ConversationTable(TableAdapter):
    """Adapter over the conversation table."""

    label = "the conversation table"

    # ---- channels ----------------------------------------------------------------------------
    def put_channel(self, channel: Mapping[str, Any]) -> None:
        """The channel and the company's copy of it, in one write."""
        body = {k: v for k, v in channel.items() if v is not None}
        items = [
            {"pk": channel_pk(channel["id"]), "sk": "#CHANNEL", "entity": "channel", **body},
            {"pk": company_pk(channel["company_id"]), "sk": key("CHANNEL", channel["id"]), "entity": "channel_ref", **body},
        ]
        self._call("transact_write_items", TransactItems=[{"Put": {"TableName": self.table_name, "Item": dump_item(i), "ConditionExpression": "attribute_not_exists(pk)"}} for i in items])

    def channel(self, channel_id: str) -> dict[str, Any] | None:
        """A channel by id (the webhook's lookup), or None when there is none."""
        item = self._get(channel_pk(channel_id), "#CHANNEL")
        return _strip(item) if item else None

    def company_channel(self, company_id: str, channel_id: str) -> dict[str, Any] | None:
        item = self._get(company_pk(company_id), key("CHANNEL", channel_id))
        return _strip(item) if item else None

    def channels(self, company_id: str) -> list[dict[str, Any]]:
        items = self._pages(
            TableName=self.table_name,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues=dump_item({":pk": company_pk(company_id), ":prefix": key("CHANNEL", "")}),
        )
        return [_strip(i) for i in items]

    def delete_channel(self, company_id: str, channel_id: str) -> bool:
        """Delete the channel (both items); False when the company has no such channel."""
        try:
            self._call(
                "transact_write_items",
                TransactItems=[
                    {"Delete": {"TableName": self.table_name, "Key": dump_item({"pk": company_pk(company_id), "sk": key("CHANNEL", channel_id)}), "ConditionExpression": "attribute_exists(pk)"}},
                    {"Delete": {"TableName": self.table_name, "Key": dump_item({"pk": channel_pk(channel_id), "sk": "#CHANNEL"})}},
                ],
                _raise_cancel=True,
            )
        except ClientError:
            return False
        return True

    # ---- conversations ------------------------------------------------------------------------
    def conversation_for_thread(self, company_id: str, channel_id: str, thread: str) -> Conversation | None:
        ref = self._get(company_pk(company_id), thread_sk(channel_id, thread))
        return self.conversation(company_id, str(ref["room_id"])) if ref else None

    def create_conversation(self, conversation: Conversation, *, summary: Mapping[str, Any]) -> bool:
        """Write a new conversation with its thread and room references, in one transaction;
        False when its thread got a conversation meanwhile (a racing message: use that one)."""
        item = _conversation_item(conversation, summary)
        refs = [
            {"pk": company_pk(conversation.company_id), "sk": thread_sk(conversation.channel_id, conversation.thread), "entity": "thread", "room_id": conversation.id},
            {"pk": key("ROOMREF", conversation.id), "sk": "#ROOM", "entity": "room_ref", "company_id": conversation.company_id},
        ]
        try:
            self._call(
                "transact_write_items",
                TransactItems=[{"Put": {"TableName": self.table_name, "Item": dump_item(i), "ConditionExpression": "attribute_not_exists(pk)"}} for i in (item, *refs)],
                _raise_cancel=True,
            )
        except ClientError:
            return False
        return True

    def conversation(self, company_id: str, room_id: str) -> Conversation | None:
        item = self._get(company_pk(company_id), conversation_sk(room_id))
        return _conversation(item) if item and item.get("entity") == "conversation" else None

    def conversation_item(self, company_id: str, room_id: str) -> dict[str, Any] | None:
        """The conversation with its channel and contact summary (the list's and the read's shape)."""
        item = self._get(company_pk(company_id), conversation_sk(room_id))
        return item if item and item.get("entity") == "conversation" else None

    def room_company(self, room_id: str) -> str | None:
        item = self._get(key("ROOMREF", room_id), "#ROOM")
        return str(item["company_id"]) if item else None

    def replace_conversation(self, conversation: Conversation, *, expected_version: int) -> bool:
        """Write the conversation's next state if it is still at ``expected_version``; False when
        it moved on (re-read and decide again)."""
        updates = _conversation_fields(conversation)
        names = {f"#f{i}": name for i, name in enumerate(updates)}
        values = {f":v{i}": value for i, value in enumerate(updates.values())}
        removes = [name for name, value in updates.items() if value is None]
        sets = [f"#f{i} = :v{i}" for i, (name, value) in enumerate(updates.items()) if value is not None]
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(f"#f{list(updates).index(r)}" for r in removes) if removes else "")
        try:
            self._call(
                "update_item",
                TableName=self.table_name,
                Key=dump_item({"pk": company_pk(conversation.company_id), "sk": conversation_sk(conversation.id)}),
                UpdateExpression=expression,
                ConditionExpression="#version = :expected",
                ExpressionAttributeNames={**names, "#version": "version"},
                ExpressionAttributeValues=dump_item({**{k: v for k, v in values.items() if v is not None}, ":expected": expected_version}),
                _raise_conditional=True,
            )
        except ClientError:
            return False
        return True

    def conversations(self, company_id: str, *, limit: int, cursor: str | None, state: str | None = None, channel_id: str | None = None) -> Page:
        """A page of the company's conversations, newest activity first."""
        filters, values = [], {":pk": company_id}
        if channel_id:
            filters.append("channel_id = :channel")
            values[":channel"] = channel_id
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": ACTIVITY_INDEX,
            "KeyConditionExpression": "activity_pk = :pk",
            "ScanIndexForward": False,
        }
        if state:
            # A snooze that ran out reads as open: filter on what is stored, then on the effective state.
            filters.append("#state IN (:state, :snoozed)" if state == "open" else "#state = :state")
            values[":state"] = state
            if state == "open":
                values[":snoozed"] = "snoozed"
            request["ExpressionAttributeNames"] = {"#state": "state"}
        if filters:
            request["FilterExpression"] = " AND ".join(filters)
        request["ExpressionAttributeValues"] = dump_item(values)
        return self._page(partition=("activity_pk", company_id), limit=limit, cursor=cursor, **request)

    def snoozes_due(self, now: datetime, *, limit: int = 100) -> list[dict[str, Any]]:
        """Snoozed conversations whose time has come (any company), oldest first."""
        resp = self._call(
            "query",
            TableName=self.table_name,
            IndexName=SNOOZED_INDEX,
            KeyConditionExpression="snooze_pk = :pk AND snoozed_until <= :now",
            ExpressionAttributeValues=dump_item({":pk": "SNOOZED", ":now": iso_ms(now)}),
            Limit=limit,
        )
        return [{"company_id": i["company_id"]["S"], "room_id": i["room_id"]["S"]} for i in resp.get("Items", [])]

    # ---- messages -----------------------------------------------------------------------------
    def put_message(self, company_id: str, message: Mapping[str, Any]) -> bool:
        """Write a message unless it is there already (a redelivered inbound message): True when
        written. One conditional PutItem."""
        item = {"pk": room_pk(company_id, message["room_id"]), "sk": message_sk(message["created_at"], message["id"]), "entity": "message", "company_id": company_id, **{k: v for k, v in message.items() if v is not None}}
        try:
            self._call("put_item", TableName=self.table_name, Item=dump_item(item), ConditionExpression="attribute_not_exists(pk)", _raise_conditional=True)
        except ClientError:
            return False
        return True

    def put_reply(self, company_id: str, message: Mapping[str, Any], *, idempotency: Entry | None, now: int) -> Entry | None:
        """Write a queued reply, with the request's idempotency entry in the same transaction when
        it has one. None when written; the remembered entry when the key was used before."""
        if idempotency is None:
            self.put_message(company_id, message)
            return None
        item = {"pk": room_pk(company_id, message["room_id"]), "sk": message_sk(message["created_at"], message["id"]), "entity": "message", "company_id": company_id, **{k: v for k, v in message.items() if v is not None}}
        try:
            self._call(
                "transact_write_items",
                TransactItems=[
                    {"Put": {"TableName": self.table_name, "Item": dump_item(item), "ConditionExpression": "attribute_not_exists(pk)"}},
                    {"Put": idempotency_put(self.table_name, company_pk(company_id), idempotency, now=now)},
                ],
                _raise_cancel=True,
            )
        except ClientError as exc:
            reasons = exc.response.get("CancellationReasons") or []
            stored = reasons[1].get("Item") if len(reasons) > 1 else None
            if stored:
                return entry_of(load_item(stored))
            remembered = self._get(company_pk(company_id), entry_sk(idempotency.key_hash))
            if remembered:
                return entry_of(remembered)
            raise IdempotencyInProgress("a request with this Idempotency-Key is still being processed; retry shortly", headers={"Retry-After": "1"}) from exc
        return None

    def message(self, company_id: str, room_id: str, created_at: str, message_id: str) -> dict[str, Any] | None:
        item = self._get(room_pk(company_id, room_id), message_sk(created_at, message_id))
        return _strip(item) if item else None

    def messages(self, company_id: str, room_id: str, *, limit: int, cursor: str | None, newest_first: bool = False) -> Page:
        """A page of a room's messages, oldest first (or newest first)."""
        pk = room_pk(company_id, room_id)
        page = self._page(
            partition=("pk", pk),
            limit=limit,
            cursor=cursor,
            TableName=self.table_name,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues=dump_item({":pk": pk, ":prefix": key("MSG", "")}),
            ScanIndexForward=not newest_first,
        )
        return Page([_strip(i) for i in page.items], page.next_cursor)

    def set_status(self, company_id: str, room_id: str, created_at: str, message_id: str, status: str, *, provider_id: str | None = None, error: str | None = None, attempts: int | None = None) -> bool:
        """Move an outbound message's status forward (``STATUS_ORDER``); a status it has passed
        changes nothing (False). ``sent`` records the provider's id and the outbound reference."""
        names = {"#s": "status", "#rank": "status_rank"}
        values: dict[str, Any] = {":s": status, ":rank": STATUS_ORDER[status]}
        sets = ["#s = :s", "#rank = :rank"]
        for attribute, value in (("provider_id", provider_id), ("last_error", error), ("attempts", attempts)):
            if value is not None:
                names[f"#{attribute}"] = attribute
                values[f":{attribute}"] = value
                sets.append(f"#{attribute} = :{attribute}")
        condition = "attribute_exists(pk) AND (attribute_not_exists(#rank) OR #rank < :rank)"
        if status == "failed":  # a message the provider delivered or read is not failed by a late status
            condition = "attribute_exists(pk) AND (attribute_not_exists(#rank) OR #rank < :delivered)"
            values[":delivered"] = STATUS_ORDER["delivered"]
        try:
            self._call(
                "update_item",
                TableName=self.table_name,
                Key=dump_item({"pk": room_pk(company_id, room_id), "sk": message_sk(created_at, message_id)}),
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=dump_item(values),
                _raise_conditional=True,
            )
        except ClientError:
            return False
        return True

    def note_attempt(self, company_id: str, room_id: str, created_at: str, message_id: str, *, attempts: int, error: str) -> bool:
        """Note a failed attempt at a reply still ``queued`` (never counting one attempt twice)."""
        try:
            self._call(
                "update_item",
                TableName=self.table_name,
                Key=dump_item({"pk": room_pk(company_id, room_id), "sk": message_sk(created_at, message_id)}),
                UpdateExpression="SET attempts = :a, last_error = :e",
                ConditionExpression="#s = :queued AND (attribute_not_exists(attempts) OR attempts < :a)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=dump_item({":a": attempts, ":e": error or "error", ":queued": "queued"}),
                _raise_conditional=True,
            )
        except ClientError:
            return False
        return True

    def remember_outbound(self, channel_id: str, provider_id: str, *, company_id: str, room_id: str, created_at: str, message_id: str) -> None:
        item = {"pk": key("OUTBOUND", channel_id, provider_id), "sk": "#MSG", "company_id": company_id, "room_id": room_id, "created_at": created_at, "message_id": message_id}
        self._call("put_item", TableName=self.table_name, Item=dump_item(item))

    def outbound(self, channel_id: str, provider_id: str) -> dict[str, Any] | None:
        item = self._get(key("OUTBOUND", channel_id, provider_id), "#MSG")
        return _strip(item) if item else None


def _conversation_fields(conversation: Conversation) -> dict[str, Any]:
    """The conversation's changing attributes as stored (times as contract strings)."""
    fields = {
        "state": conversation.state,
        "state_changed_at": iso_ms(conversation.state_changed_at),
        "snoozed_until": iso_ms(conversation.snoozed_until) if conversation.snoozed_until else None,
        "snooze_pk": "SNOOZED" if conversation.state == "snoozed" and conversation.snoozed_until else None,
        "last_message_at": iso_ms(conversation.last_message_at) if conversation.last_message_at else None,
        "last_inbound_at": iso_ms(conversation.last_inbound_at) if conversation.last_inbound_at else None,
        "activity_sk": f"{iso_ms(conversation.last_message_at or conversation.created_at)}#{conversation.id}",
        "version": conversation.version,
    }
    return fields


def _conversation_item(conversation: Conversation, summary: Mapping[str, Any]) -> dict[str, Any]:
    item = {
        "pk": company_pk(conversation.company_id),
        "sk": conversation_sk(conversation.id),
        "entity": "conversation",
        "room_id": conversation.id,
        "company_id": conversation.company_id,
        "channel_id": conversation.channel_id,
        "channel_type": conversation.channel_type,
        "contact_id": conversation.contact_id,
        "thread": conversation.thread,
        "created_at": iso_ms(conversation.created_at),
        "activity_pk": conversation.company_id,
        "summary": dict(summary),
        **_conversation_fields(conversation),
    }
    return {k: v for k, v in item.items() if v is not None}


def _conversation(item: Mapping[str, Any]) -> Conversation:
    return Conversation(
        id=str(item["room_id"]),
        company_id=str(item["company_id"]),
        channel_id=str(item["channel_id"]),
        channel_type=str(item["channel_type"]),
        contact_id=str(item["contact_id"]),
        thread=str(item.get("thread", "")),
        state=item["state"],
        created_at=parse_time(item["created_at"]),
        state_changed_at=parse_time(item["state_changed_at"]),
        snoozed_until=parse_time(item["snoozed_until"]) if item.get("snoozed_until") else None,
        last_message_at=parse_time(item["last_message_at"]) if item.get("last_message_at") else None,
        last_inbound_at=parse_time(item["last_inbound_at"]) if item.get("last_inbound_at") else None,
        version=int(item.get("version", 1)),
    )


def _strip(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in _KEY_ATTRS}


@warm
def conversation_table() -> ConversationTable:
    """The conversation table adapter, built once per container."""
    return ConversationTable(get_settings().require("conversation_table_name"))
