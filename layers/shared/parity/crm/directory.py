"""Contacts and their channel identities in the CRM table (``parity.crm.identity.ContactDirectory``).

    pk                    sk                                      what
    COMPANY#<cid>         CONTACT#<id>                            a contact (``parity.crm.store``)
    COMPANY#<cid>         CONTACT_PHONE#<digits>#<id>             phone lookup
    COMPANY#<cid>         CONTACT_EMAIL#<email>#<id>              email lookup
    COMPANY#<cid>         IDENTITY#<type>#<scope>#<value>         a channel identity → its contact (entity = "identity")
    COMPANY#<cid>         CONTACT_CHANNEL#<id>#<type>             the contact's one identity of that type

An identity is written only if no contact holds it, and a slot only if it is free or holds the same
identity, both in one transaction: racing writers cannot give one identity two contacts, nor one
contact two identities of a type. Identity items are on the CRM table's stream, which the
conversations' outbox turns into ``contact.identity_linked`` events.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from parity.core.clock import iso_ms, new_id, utc_now
from parity.core.dynamodb import TableAdapter, dump_item, key, keyed
from parity.core.settings import get_settings
from parity.core.warm import warm
from parity.crm.identity import Candidate, Identity
from parity.crm.store import company_pk, contact_sk, email_lookup_sk, phone_lookup_sk

_KEY_ATTRS = ("pk", "sk", "entity", "ttl")


def identity_sk(identity: Identity) -> str:
    return key("IDENTITY", identity.channel_type, identity.scope, identity.value)


slot_sk = keyed("CONTACT_CHANNEL")  # (contact_id, channel_type)


class ContactDirectoryTable(TableAdapter):
    """The CRM table's contacts, as identity resolution needs them."""

    label = "the CRM table"

    def contact(self, company_id: str, contact_id: str) -> dict[str, Any] | None:
        item = self._get(company_pk(company_id), contact_sk(contact_id))
        return {k: v for k, v in item.items() if k not in _KEY_ATTRS} if item and item.get("entity") == "contact" else None

    def contact_for_identity(self, company_id: str, identity: Identity) -> str | None:
        item = self._get(company_pk(company_id), identity_sk(identity))
        return str(item["contact_id"]) if item else None

    def candidates_by_email(self, company_id: str, email: str) -> list[Candidate]:
        return self._candidates(company_id, email_lookup_sk(email))

    def candidates_by_phone(self, company_id: str, digits: str) -> list[Candidate]:
        return self._candidates(company_id, phone_lookup_sk(digits))

    def _candidates(self, company_id: str, prefix: str) -> list[Candidate]:
        items = self._call(
            "query",
            TableName=self.table_name,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues=dump_item({":pk": company_pk(company_id), ":prefix": prefix}),
            Limit=20,
        ).get("Items", [])
        contact_ids = sorted({item["id"]["S"] for item in items if "id" in item})
        return [Candidate(contact_id, self._slots(company_id, contact_id)) for contact_id in contact_ids]

    def _slots(self, company_id: str, contact_id: str) -> dict[str, str]:
        items = self._pages(
            TableName=self.table_name,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues=dump_item({":pk": company_pk(company_id), ":prefix": key("CONTACT_CHANNEL", contact_id, "")}),
        )
        return {str(item["channel_type"]): str(item["value"]) for item in items}

    def _identity_writes(self, company_id: str, contact_id: str, identity: Identity, *, now: str) -> list[dict[str, Any]]:
        pk = company_pk(company_id)
        writes: list[dict[str, Any]] = [{
            "Put": {
                "TableName": self.table_name,
                "Item": dump_item({"pk": pk, "sk": identity_sk(identity), "entity": "identity", "company_id": company_id, "contact_id": contact_id,
                                   "channel_type": identity.channel_type, "scope": identity.scope, "value": identity.value, "alias": identity.alias, "linked_at": now}),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }]
        if identity.slot:
            writes.append({
                "Put": {
                    "TableName": self.table_name,
                    "Item": dump_item({"pk": pk, "sk": slot_sk(contact_id, identity.slot), "entity": "contact_channel", "channel_type": identity.slot, "value": identity.value}),
                    "ConditionExpression": "attribute_not_exists(pk) OR #v = :v",
                    "ExpressionAttributeNames": {"#v": "value"},
                    "ExpressionAttributeValues": dump_item({":v": identity.value}),
                }
            })
        return writes

    def link_identities(self, company_id: str, contact_id: str, identities: Sequence[Identity]) -> list[Identity]:
        linked = []
        now = iso_ms(utc_now())
        for identity in identities:
            if self.contact_for_identity(company_id, identity) is not None:
                continue
            try:
                self._call("transact_write_items", TransactItems=self._identity_writes(company_id, contact_id, identity, now=now), _raise_cancel=True)
            except ClientError:
                continue  # taken by another contact meanwhile, or the slot holds another identity
            linked.append(identity)
        return linked

    def create_contact_with(self, company_id: str, *, name: str, phone: str | None, email: str | None, identities: Sequence[Identity]) -> str | None:
        moment = utc_now()
        contact = {"id": new_id(moment), "company_id": company_id, "name": name[:255], "phone": phone, "email": email, "created_at": iso_ms(moment)}
        pk = company_pk(company_id)
        body = {k: v for k, v in contact.items() if v is not None}
        writes: list[dict[str, Any]] = [{"Put": {"TableName": self.table_name, "Item": dump_item({"pk": pk, "sk": contact_sk(contact["id"]), "entity": "contact", **body}), "ConditionExpression": "attribute_not_exists(pk)"}}]
        lookups = ([phone_lookup_sk(phone.lstrip("+"), contact["id"])] if phone else []) + ([email_lookup_sk(email, contact["id"])] if email else [])
        writes += [{"Put": {"TableName": self.table_name, "Item": dump_item({"pk": pk, "sk": sk, "entity": "contact_lookup", **body})}} for sk in lookups]
        for identity in identities:
            writes += self._identity_writes(company_id, contact["id"], identity, now=contact["created_at"])
        try:
            self._call("transact_write_items", TransactItems=writes, _raise_cancel=True)
        except ClientError:
            return None
        return contact["id"]


@warm
def contact_directory() -> ContactDirectoryTable:
    """The contacts' directory over the CRM table, built once per container."""
    return ContactDirectoryTable(get_settings().require("crm_table_name"))
