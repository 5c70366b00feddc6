"""The CRM table: one DynamoDB table holding companies, credentials, contacts, records and
idempotency entries (single-table design; the key layout is below and nowhere else).

    pk                    sk                          what
    COMPANY#<cid>         #COMPANY                    company settings (parity flag, who changed it when)
    APIKEY#<sha256>       #APIKEY                     an API key → company and role (``revoked`` once revoked)
    COMPANY#<cid>         APIKEY#<sha256>             the company's copy of it (to list and revoke its keys)
    TOKEN#<sha256>        #TOKEN                      a bearer token → company, role, sso_id and the key it came from (TTL)
    COMPANY#<cid>         DEAL#<id> | TICKET#<id>     a record (entity = "record"; the stream's payload)
    COMPANY#<cid>         CONTACT#<id>                a contact
    COMPANY#<cid>         CONTACT_PHONE#<digits>#<id> phone lookup (a copy of the contact)
    COMPANY#<cid>         CONTACT_EMAIL#<email>#<id>  email lookup (a copy of the contact; the whole email)
    COMPANY#<cid>         IDEMPOTENCY#<sha256>        a remembered create response (TTL 24 h)

The timeline notes share the table (``parity.timeline.store``: ``NOTE#…`` under the company).

Every key starts with the company: a record of another company cannot be addressed at all. The
parts of a key are escaped (``key``): no id, email or room can hold the "#" that separates them.

A record in a chat room also carries ``room_key`` = ``<cid>#<room>``: the sparse index
``RoomRecords`` (room_key, sk; keys only) finds a room's records for ``parity ops reconcile``.
It carries the ``correlation_id`` of the request that wrote it, so the stream consumer can log and
forward it. Neither is part of the record as the API shows it.
``ClientError`` never leaves this module: it becomes a domain error or a typed outcome.

Over 400 lines on purpose: the key layout above is the single place the CRM table's keys are built; the approvals' variants of create and replace (a held create, an approval's flip in the same transaction) belong with the writes they extend.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from parity.core.idempotency import Entry, entry_of, entry_sk
from parity.core.idempotency import put_request as idempotency_put
from parity.core.dynamodb import TableAdapter, dump_item, key, keyed, load_item
from parity.core.settings import get_settings
from parity.core.warm import warm

_KEY_ATTRS = ("pk", "sk", "entity", "ttl", "room_key", "correlation_id")
ROOM_INDEX = "RoomRecords"


company_pk = keyed("COMPANY")  # (company_id)


def record_sk(record_type: str, record_id: str) -> str:
    return key(record_type.upper(), record_id)


def room_key(company_id: str, room_id: str) -> str:
    """The ``RoomRecords`` index key of a company's chat room."""
    return key(company_id, room_id)


def key_id(key_hash: str) -> str:
    """The short, shareable name of an API key (a prefix of its hash; the key itself is never stored)."""
    return key_hash[:12]


api_key_pk = keyed("APIKEY")  # (key_hash)
token_pk = keyed("TOKEN")  # (token_hash)
contact_sk = keyed("CONTACT")  # (contact_id)


def phone_lookup_sk(digits: str, contact_id: str = "") -> str:
    """A contact's phone lookup key; without ``contact_id``, the prefix of every contact with
    exactly these digits."""
    return key("CONTACT_PHONE", digits, contact_id)


def email_lookup_sk(email: str, contact_id: str = "") -> str:
    """A contact's email lookup key (the email as given, lower-cased by the caller); without
    ``contact_id``, the prefix of every contact with exactly this email."""
    return key("CONTACT_EMAIL", email, contact_id)


class CreateRejected(Exception):
    """A create transaction was refused; the fields say why (any may be set)."""

    def __init__(self, *, missing_contacts: Sequence[str] = (), replay: Entry | None = None, in_progress: bool = False) -> None:
        super().__init__("create rejected")
        self.missing_contacts = list(missing_contacts)
        self.replay = replay
        self.in_progress = in_progress


class VersionMismatch(Exception):
    """The record changed (or vanished) since it was read."""


class GuardFailed(Exception):
    """A write's ``also`` item (another capability's condition, e.g. "the approval is still
    pending") failed its condition: nothing of the write happened."""


class Token(NamedTuple):
    company_id: str
    expires_at: int  # epoch seconds
    key_hash: str | None  # the API key it was exchanged for (None for tokens older than that field)
    role: str | None = None  # the key's role when the token was issued (None: a producer, ``roles.parse_role``)
    sso_id: str | None = None  # who the token was issued for (who acted)


class CrmStore(TableAdapter):
    """Adapter over the CRM table. Every method is one DynamoDB request."""

    label = "the CRM table"

    # ---- companies and credentials -------------------------------------------------------
    def put_company(self, company_id: str, *, parity_enabled: bool) -> None:
        item = {"pk": company_pk(company_id), "sk": "#COMPANY", "entity": "company", "company_id": company_id, "parity_enabled": parity_enabled}
        self._call("put_item", TableName=self.table_name, Item=dump_item(item))

    def ensure_company(self, company_id: str) -> bool:
        """Create the company (without a flag of its own) unless it exists; True when created."""
        item = {"pk": company_pk(company_id), "sk": "#COMPANY", "entity": "company", "company_id": company_id}
        try:
            self._call("put_item", TableName=self.table_name, Item=dump_item(item), ConditionExpression="attribute_not_exists(pk)", _raise_conditional=True)
        except ClientError:
            return False
        return True

    def company(self, company_id: str) -> dict[str, Any] | None:
        """The company's settings item (flag, who changed it and when), or None."""
        item = self._get(company_pk(company_id), "#COMPANY")
        return _strip(item) if item else None

    def set_company_parity(self, company_id: str, enabled: bool | None, *, changed_by: str, now: int) -> None:
        """Set (or, with None, clear) the company's own parity flag, recording who and when."""
        names = {"#e": "entity", "#c": "company_id", "#at": "parity_changed_at", "#by": "parity_changed_by", "#f": "parity_enabled"}
        values: dict[str, Any] = {":e": "company", ":c": company_id, ":at": now, ":by": changed_by}
        update = "SET #e = :e, #c = :c, #at = :at, #by = :by"
        if enabled is None:
            update += " REMOVE #f"
        else:
            update += ", #f = :f"
            values[":f"] = enabled
        self._call(
            "update_item",
            TableName=self.table_name,
            Key=dump_item({"pk": company_pk(company_id), "sk": "#COMPANY"}),
            UpdateExpression=update,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=dump_item(values),
        )

    def put_api_key(self, key_hash: str, company_id: str, *, role: str = "producer") -> None:
        """Register a key (by its hash) with its role for a company, and the company's copy of it, in one write."""
        now = int(time.time())
        item = {"pk": api_key_pk(key_hash), "sk": "#APIKEY", "entity": "api_key", "company_id": company_id, "role": role, "created_at": now}
        ref = {"pk": company_pk(company_id), "sk": api_key_pk(key_hash), "entity": "api_key_ref", "company_id": company_id, "key_id": key_id(key_hash), "role": role, "created_at": now}
        self._call(
            "transact_write_items",
            TransactItems=[{"Put": {"TableName": self.table_name, "Item": dump_item(item)}}, {"Put": {"TableName": self.table_name, "Item": dump_item(ref)}}],
        )

    def api_keys(self, company_id: str) -> list[dict[str, Any]]:
        """The company's keys as its copies describe them (``key_id``, ``created_at``, ``revoked``…) plus
        ``key_hash``; keys registered before copies existed are not listed."""
        items = self._pages(
            TableName=self.table_name,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues=dump_item({":pk": company_pk(company_id), ":prefix": api_key_pk("")}),
        )
        return [{**_strip(item), "key_hash": str(item["sk"]).removeprefix("APIKEY#")} for item in items]

    def revoke_api_key(self, company_id: str, key_hash: str, *, now: int) -> bool:
        """Mark the company's key revoked (the key item and the company's copy, in one write);
        False when the key is not this company's."""
        values = dump_item({":t": True, ":now": now, ":c": company_id})
        update = "SET revoked = :t, revoked_at = :now"
        try:
            self._call(
                "transact_write_items",
                TransactItems=[
                    {"Update": {"TableName": self.table_name, "Key": dump_item({"pk": api_key_pk(key_hash), "sk": "#APIKEY"}), "UpdateExpression": update, "ConditionExpression": "company_id = :c", "ExpressionAttributeValues": values}},
                    {"Update": {"TableName": self.table_name, "Key": dump_item({"pk": company_pk(company_id), "sk": api_key_pk(key_hash)}), "UpdateExpression": update, "ConditionExpression": "company_id = :c", "ExpressionAttributeValues": values}},
                ],
                _raise_cancel=True,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                return False
            raise
        return True

    def company_parity(self, company_id: str) -> bool | None:
        """The company's parity flag, or None when the company has not set one."""
        item = self._get(company_pk(company_id), "#COMPANY")
        if item is None or "parity_enabled" not in item:
            return None
        return bool(item["parity_enabled"])

    def company_for_api_key(self, key_hash: str) -> str | None:
        found = self.api_key_owner(key_hash)
        return found[0] if found else None

    def api_key_owner(self, key_hash: str) -> tuple[str, str | None] | None:
        """``(company_id, role)`` of a live key (role None for a key issued before roles), or None."""
        item = self._get(api_key_pk(key_hash), "#APIKEY")
        if item is None or item.get("revoked"):
            return None
        return item["company_id"], item.get("role")

    def put_token(self, token_hash: str, company_id: str, *, sso_id: str, expires_at: int, key_hash: str | None = None, role: str | None = None) -> None:
        item = {"pk": token_pk(token_hash), "sk": "#TOKEN", "entity": "token", "company_id": company_id, "sso_id": sso_id, "ttl": expires_at}
        if key_hash:
            item["key_hash"] = key_hash
        if role:
            item["role"] = role
        self._call("put_item", TableName=self.table_name, Item=dump_item(item))

    def token(self, token_hash: str) -> Token | None:
        """The token's company, expiry, the API key it was issued from, its role and sso_id, or
        None. Expiry is the caller's to check: DynamoDB's TTL deletes lazily."""
        item = self._get(token_pk(token_hash), "#TOKEN")
        if item is None:
            return None
        return Token(item["company_id"], int(item["ttl"]), item.get("key_hash"), item.get("role"), item.get("sso_id"))

    # ---- records -------------------------------------------------------------------------
    def create_record(
        self,
        record: Mapping[str, Any],
        *,
        contact_ids: Sequence[str],
        idempotency: Entry | None,
        now: int,
        correlation_id: str | None = None,
        also: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        """Write a record, check its contacts exist and remember its response, all or nothing.

        One request: a plain conditional PutItem when there is nothing else to check, else one
        TransactWriteItems. ``also``: transaction items of another table that must succeed with it
        (an approval flipping to approved: the record is written iff it does). Raises
        ``CreateRejected`` with what stood in the way, ``GuardFailed`` when an ``also`` item's
        condition did.
        """
        put = {
            "TableName": self.table_name,
            "Item": dump_item(_record_item(record, correlation_id)),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        if not contact_ids and idempotency is None and not also:
            self._call("put_item", **put)
            return
        self._transact(put, contact_ids=contact_ids, idempotency=idempotency, now=now, company=record["company_id"], also=also)

    def hold(self, put: Mapping[str, Any], *, idempotency: Entry | None, now: int, company_id: str) -> None:
        """Write what holds a create instead of its record (another table's conditional Put: the
        approval), with the create's idempotency entry, in one request; ``CreateRejected`` as
        ``create_record`` raises it (a replay, a request in progress)."""
        if idempotency is None:
            self._call("put_item", **put)
            return
        self._transact(put, contact_ids=(), idempotency=idempotency, now=now, company=company_id, also=())

    def _transact(self, put: Mapping[str, Any], *, contact_ids: Sequence[str], idempotency: Entry | None, now: int, company: str, also: Sequence[Mapping[str, Any]]) -> None:
        items: list[dict[str, Any]] = [{"Put": put}]
        if idempotency is not None:
            items.append({"Put": idempotency_put(self.table_name, company_pk(company), idempotency, now=now)})
        for contact in contact_ids:
            items.append(
                {
                    "ConditionCheck": {
                        "TableName": self.table_name,
                        "Key": dump_item({"pk": company_pk(company), "sk": contact_sk(contact)}),
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                }
            )
        items += [dict(item) for item in also]
        try:
            self._call("transact_write_items", TransactItems=items, _raise_cancel=True)
        except ClientError as exc:
            raise _rejection(exc, has_idempotency=idempotency is not None, contact_ids=contact_ids, also=len(also)) from exc

    def remembered(self, company_id: str, key_hash: str, *, now: int) -> Entry | None:
        """A live idempotency entry (used when a transaction could not return it)."""
        item = self._get(company_pk(company_id), entry_sk(key_hash))
        if item is None or int(item["ttl"]) <= now:
            return None
        return entry_of(item)

    def get_record(self, company_id: str, record_type: str, record_id: str) -> dict[str, Any] | None:
        item = self._get(company_pk(company_id), record_sk(record_type, record_id))
        return _record_from_item(item) if item and item.get("entity") == "record" else None

    def replace_record(
        self, record: Mapping[str, Any], *, expected_version: int, new_contact_ids: Sequence[str], correlation_id: str | None = None,
        also: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        """Write the next version of a record if it is still at ``expected_version``.

        Raises ``VersionMismatch`` when it moved on or was deleted, ``CreateRejected`` with
        ``missing_contacts`` when a newly linked contact does not exist, and ``GuardFailed`` when an
        ``also`` item (``create_record``) failed its condition.
        """
        company = record["company_id"]
        put = {
            "TableName": self.table_name,
            "Item": dump_item(_record_item(record, correlation_id)),
            "ConditionExpression": "#v = :expected",
            "ExpressionAttributeNames": {"#v": "version"},
            "ExpressionAttributeValues": dump_item({":expected": expected_version}),
        }
        if not new_contact_ids and not also:
            try:
                self._call("put_item", **put, _raise_conditional=True)
            except ClientError as exc:
                raise VersionMismatch() from exc
            return
        items = [{"Put": put}] + [
            {"ConditionCheck": {"TableName": self.table_name, "Key": dump_item({"pk": company_pk(company), "sk": contact_sk(c)}), "ConditionExpression": "attribute_exists(pk)"}}
            for c in new_contact_ids
        ] + [dict(item) for item in also]
        try:
            self._call("transact_write_items", TransactItems=items, _raise_cancel=True)
        except ClientError as exc:
            reasons = exc.response.get("CancellationReasons") or []
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                raise VersionMismatch() from exc
            rejected = _rejection(exc, has_idempotency=False, contact_ids=new_contact_ids, also=len(also))
            raise rejected from exc

    def delete_record(self, company_id: str, record_type: str, record_id: str) -> bool:
        """Delete a record; False when there was none."""
        try:
            self._call(
                "delete_item",
                TableName=self.table_name,
                Key=dump_item({"pk": company_pk(company_id), "sk": record_sk(record_type, record_id)}),
                ConditionExpression="attribute_exists(pk) AND entity = :record",
                ExpressionAttributeValues=dump_item({":record": "record"}),
                _raise_conditional=True,
            )
        except ClientError:
            return False
        return True

    def room_records(self, company_id: str, room_id: str) -> list[dict[str, Any]]:
        """The company's records in a chat room, each as it is now (one Query on ``RoomRecords``,
        then a consistent read per record: the index lags the table)."""
        keys = list(self._pages(
            TableName=self.table_name,
            IndexName=ROOM_INDEX,
            KeyConditionExpression="room_key = :rk",
            ExpressionAttributeValues=dump_item({":rk": room_key(company_id, room_id)}),
        ))
        found = []
        for found_key in keys:
            item = self._get(str(found_key["pk"]), str(found_key["sk"]))
            if item and item.get("entity") == "record" and item.get("company_id") == company_id and item.get("channel_integration_room_id") == room_id:
                found.append(_record_from_item(item))
        return found

    # ---- contacts ------------------------------------------------------------------------
    def create_contact(self, contact: Mapping[str, Any], *, lookup_sks: Sequence[str]) -> None:
        """The contact and its lookup copies, in one transaction."""
        pk = company_pk(contact["company_id"])
        body = {k: v for k, v in contact.items() if v is not None}
        items = [{"Put": {"TableName": self.table_name, "Item": dump_item({"pk": pk, "sk": contact_sk(contact["id"]), "entity": "contact", **body}), "ConditionExpression": "attribute_not_exists(pk)"}}]
        items += [{"Put": {"TableName": self.table_name, "Item": dump_item({"pk": pk, "sk": sk, "entity": "contact_lookup", **body})}} for sk in lookup_sks]
        self._call("transact_write_items", TransactItems=items)

    def find_contacts(self, company_id: str, lookup_prefix: str, *, limit: int = 50) -> list[dict[str, Any]]:
        """Contacts whose lookup key starts with ``lookup_prefix`` (one Query)."""
        resp = self._call(
            "query",
            TableName=self.table_name,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues=dump_item({":pk": company_pk(company_id), ":prefix": lookup_prefix}),
            Limit=limit,
        )
        return [_strip(load_item(item)) for item in resp.get("Items", [])]


def _rejection(exc: ClientError, *, has_idempotency: bool, contact_ids: Sequence[str], also: int = 0) -> Exception:
    """Read a cancelled transaction's reasons (they are index-aligned with the items: the record,
    the idempotency entry, the contacts, then the ``also`` items)."""
    if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return exc
    reasons = exc.response.get("CancellationReasons") or []
    if also and any(r.get("Code") == "ConditionalCheckFailed" for r in reasons[len(reasons) - also:]):
        return GuardFailed()
    offset = 2 if has_idempotency else 1
    if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
        # The record id already exists: ids are random, so this is a retry of our own write.
        return CreateRejected(in_progress=True)
    if has_idempotency and len(reasons) > 1:
        reason = reasons[1]
        if reason.get("Code") == "ConditionalCheckFailed":
            item = reason.get("Item")
            return CreateRejected(replay=entry_of(load_item(item)) if item else None)
        if reason.get("Code") == "TransactionConflict":
            return CreateRejected(in_progress=True)
    missing = [
        contact_ids[i - offset]
        for i, reason in enumerate(reasons)
        if i >= offset and reason.get("Code") == "ConditionalCheckFailed"
    ]
    if missing:
        return CreateRejected(missing_contacts=missing)
    if any(r.get("Code") == "TransactionConflict" for r in reasons):
        return CreateRejected(in_progress=True)
    return exc


def _record_item(record: Mapping[str, Any], correlation_id: str | None = None) -> dict[str, Any]:
    body = {k: v for k, v in record.items() if v is not None}
    item = {"pk": company_pk(record["company_id"]), "sk": record_sk(record["type"], record["id"]), "entity": "record", **body}
    room = record.get("channel_integration_room_id")
    if room:
        item["room_key"] = room_key(record["company_id"], room)
    if correlation_id:
        item["correlation_id"] = correlation_id
    return item


def _record_from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return _strip(item)


def _strip(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in _KEY_ATTRS}


@warm
def crm_store() -> CrmStore:
    """The CRM table adapter, built once per container (its client keeps connections warm)."""
    return CrmStore(get_settings().require("crm_table_name"))
