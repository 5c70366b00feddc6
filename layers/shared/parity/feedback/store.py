"""The feedback table: what only feedback keeps of its tickets, the reports it has seen, the
conversations' pointers, the notifications and the company's feedback settings.

    pk                 sk                                  what
    COMPANY#<cid>      TICKET#<id>                         a feedback ticket's feedback fields and the copies it is
                                                           listed by (status, category, priority; ``version``)
    COMPANY#<cid>      REPORT#<report id>                  a report seen, and the ticket it went to
    COMPANY#<cid>      ROOM#<room id>                      the newest ticket a conversation reported into
    COMPANY#<cid>      NOTIFICATION#<ticket>#<ntf id>      a notification of a fix to one reporter
    COMPANY#<cid>      #SETTINGS                           the company's feedback settings

The CRM keeps the ticket itself (name, description, status …); feedback never reads the CRM's
table, it asks the CRM. Indexes: ``Recent`` (``recent_pk`` = company, ``recent_sk`` = created_at +
id) lists tickets newest first, gives the summary's period and grouping's last 7 days;
``Notifications`` (``notif_pk``, ``notif_sk``) lists a company's notifications newest first.
Key parts are escaped (``parity.core.dynamodb.key``). A ticket item also keeps what the list
filters on (``list_channel``, ``list_category``, ``list_priority``: the first report's channel,
the confirmed value else the suggested one), so a filter is one ``FilterExpression``; ``version``
counts its writes (optimistic concurrency) and ``crm_version`` the CRM change it last copied.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from parity.core.clock import iso_ms
from parity.core.dynamodb import Page, TableAdapter, dump_item, key, keyed
from parity.core.settings import get_settings
from parity.core.warm import warm
from parity.crm.store import company_pk
from parity.feedback.ticket import category_of, channel_of, priority_of

RECENT_INDEX = "Recent"
NOTIFICATIONS_INDEX = "Notifications"
_FILTERED_READS = 10
_KEY_ATTRS = ("pk", "sk", "entity", "recent_pk", "recent_sk", "notif_pk", "notif_sk", "version", "list_channel", "list_category", "list_priority")


ticket_sk = keyed("TICKET")  # (ticket_id)


def notification_sk(ticket_id: str, notification_id: str = "") -> str:
    return key("NOTIFICATION", ticket_id, notification_id)


class Conflict(Exception):
    """The ticket changed since it was read: decide again."""


class FeedbackTable(TableAdapter):
    label = "the feedback table"

    # ---- tickets and reports --------------------------------------------------------------------
    def seen(self, company_id: str, report_id: str) -> str | None:
        """The ticket a report went to, if it was seen."""
        item = self._get(company_pk(company_id), key("REPORT", report_id))
        return str(item["ticket_id"]) if item else None

    def ticket(self, company_id: str, ticket_id: str) -> dict[str, Any] | None:
        item = self._get(company_pk(company_id), ticket_sk(ticket_id))
        return _ticket(item) if item else None

    def candidates(self, company_id: str, *, room_id: str | None, since: datetime) -> list[dict[str, Any]]:
        """The tickets a report might join: those of the last 7 days, and the one its conversation
        last reported into."""
        found = {t["id"]: t for t in self._pages(
            TableName=self.table_name,
            IndexName=RECENT_INDEX,
            KeyConditionExpression="recent_pk = :c AND recent_sk >= :since",
            ExpressionAttributeValues=dump_item({":c": company_id, ":since": iso_ms(since)}),
        ) for t in [_ticket(t)]}
        if room_id:
            pointer = self._get(company_pk(company_id), key("ROOM", room_id))
            if pointer and pointer["ticket_id"] not in found:
                ticket = self.ticket(company_id, str(pointer["ticket_id"]))
                if ticket:
                    found[ticket["id"]] = ticket
        return list(found.values())

    def record_report(self, company_id: str, report_id: str, ticket: Mapping[str, Any], *, room_id: str | None, expected_version: int | None) -> None:
        """The report's marker, the ticket (new, or its next version) and the conversation's
        pointer, in one transaction; ``Conflict`` when the ticket moved on or the report was
        recorded meanwhile."""
        pk = company_pk(company_id)
        version = (expected_version or 0) + 1
        item = _ticket_item(company_id, ticket, version)
        condition = {"ConditionExpression": "attribute_not_exists(pk)"} if expected_version is None else {
            "ConditionExpression": "#v = :v", "ExpressionAttributeNames": {"#v": "version"}, "ExpressionAttributeValues": dump_item({":v": expected_version})}
        writes = [
            {"Put": {"TableName": self.table_name, "Item": dump_item({"pk": pk, "sk": key("REPORT", report_id), "entity": "report", "ticket_id": ticket["id"]}), "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Put": {"TableName": self.table_name, "Item": dump_item(item), **condition}},
        ]
        if room_id:
            writes.append({"Put": {"TableName": self.table_name, "Item": dump_item({"pk": pk, "sk": key("ROOM", room_id), "entity": "room_pointer", "ticket_id": ticket["id"]})}})
        try:
            self._call("transact_write_items", TransactItems=writes, _raise_cancel=True)
        except ClientError as exc:
            raise Conflict() from exc

    def update_ticket(self, company_id: str, ticket: Mapping[str, Any], *, expected_version: int) -> bool:
        """Write a ticket's next version (copies of a person's decisions); False when it moved on."""
        item = _ticket_item(company_id, ticket, expected_version + 1)
        try:
            self._call("put_item", TableName=self.table_name, Item=dump_item(item), ConditionExpression="#v = :v",
                       ExpressionAttributeNames={"#v": "version"}, ExpressionAttributeValues=dump_item({":v": expected_version}), _raise_conditional=True)
        except ClientError:
            return False
        return True

    def tickets(self, company_id: str, *, limit: int, cursor: str | None, filters: Mapping[str, str | None]) -> Page:
        """A page of tickets newest first, matching ``filters`` (``status``, ``category``,
        ``priority``, ``channel``: None is no filter)."""
        attrs = {"status": "status", "category": "list_category", "priority": "list_priority", "channel": "list_channel"}
        chosen = {name: value for name, value in filters.items() if value is not None}
        return self._filtered(
            index=RECENT_INDEX, partition=("recent_pk", company_id), limit=limit, cursor=cursor,
            names={f"#{n}": attrs[n] for n in chosen}, values={f":{n}": v for n, v in chosen.items()}, read=_ticket,
        )

    def tickets_since(self, company_id: str, since: datetime) -> list[dict[str, Any]]:
        return [_ticket(i) for i in self._pages(
            TableName=self.table_name, IndexName=RECENT_INDEX,
            KeyConditionExpression="recent_pk = :c AND recent_sk >= :since",
            ExpressionAttributeValues=dump_item({":c": company_id, ":since": iso_ms(since)}),
        )]

    # ---- notifications ---------------------------------------------------------------------------
    def notifications_of(self, company_id: str, ticket_id: str) -> list[dict[str, Any]]:
        return [_strip(i) for i in self._pages(
            TableName=self.table_name, KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues=dump_item({":pk": company_pk(company_id), ":prefix": notification_sk(ticket_id)}),
        )]

    def put_notification(self, company_id: str, notification: Mapping[str, Any], *, now: datetime) -> bool:
        """Store a notification unless it is there (an approval delivered again): True when stored."""
        item = {"pk": company_pk(company_id), "sk": notification_sk(notification["ticket_id"], notification["id"]), "entity": "notification",
                **{k: v for k, v in notification.items() if v is not None}, "notif_pk": company_id, "notif_sk": f"{iso_ms(now)}#{notification['id']}", "created_at": iso_ms(now)}
        try:
            self._call("put_item", TableName=self.table_name, Item=dump_item(item), ConditionExpression="attribute_not_exists(pk)", _raise_conditional=True)
        except ClientError:
            return False
        return True

    def notification(self, company_id: str, ticket_id: str, notification_id: str) -> dict[str, Any] | None:
        item = self._get(company_pk(company_id), notification_sk(ticket_id, notification_id))
        return _strip(item) if item else None

    def replace_notification(self, company_id: str, notification: Mapping[str, Any], *, expected_attempts: int) -> bool:
        """Write an attempt's outcome if no other outcome was written since (attempts unchanged)."""
        names = {f"#f{i}": k for i, k in enumerate(("status", "attempts", "last_error", "sent_at"))}
        values = {f":v{i}": notification.get(k) for i, k in enumerate(("status", "attempts", "last_error", "sent_at"))}
        sets = ", ".join(f"#f{i} = :v{i}" for i in range(len(names)))
        try:
            self._call(
                "update_item", TableName=self.table_name,
                Key=dump_item({"pk": company_pk(company_id), "sk": notification_sk(notification["ticket_id"], notification["id"])}),
                UpdateExpression=f"SET {sets}", ConditionExpression="attempts = :expected",
                ExpressionAttributeNames=names, ExpressionAttributeValues=dump_item({**values, ":expected": expected_attempts}),
                _raise_conditional=True,
            )
        except ClientError:
            return False
        return True

    def notifications(self, company_id: str, *, limit: int, cursor: str | None, status: str | None = None) -> Page:
        """A page of the company's notifications newest first (of one ``status`` when given)."""
        chosen = {"status": status} if status else {}
        return self._filtered(
            index=NOTIFICATIONS_INDEX, partition=("notif_pk", company_id), limit=limit, cursor=cursor,
            names={f"#{n}": n for n in chosen}, values={f":{n}": v for n, v in chosen.items()}, read=_strip,
        )

    def _filtered(self, *, index: str, partition: tuple[str, str], limit: int, cursor: str | None, names: dict[str, str], values: dict[str, Any], read: Any) -> Page:
        """A page of an index's partition, newest first, filtered by equality on ``names`` (a
        ``FilterExpression``). A filter read before the limit can leave a page empty: the next
        pages are read (at most ``_FILTERED_READS``) until one holds an item or the list ends."""
        request: dict[str, Any] = {
            "TableName": self.table_name, "IndexName": index, "KeyConditionExpression": f"{partition[0]} = :partition",
            "ScanIndexForward": False, "ExpressionAttributeValues": dump_item({":partition": partition[1], **values}),
        }
        if names:
            request["FilterExpression"] = " AND ".join(f"{n} = :{n[1:]}" for n in names)
            request["ExpressionAttributeNames"] = names
        page = Page([], cursor)
        for _ in range(_FILTERED_READS):
            page = self._page(partition=partition, limit=limit, cursor=page.next_cursor, **request)
            if page.items or page.next_cursor is None:
                break
        return Page([read(i) for i in page.items], page.next_cursor)

    # ---- settings --------------------------------------------------------------------------------
    def settings(self, company_id: str) -> dict[str, Any] | None:
        item = self._get(company_pk(company_id), "#SETTINGS")
        return _strip(item) if item else None

    def put_settings(self, company_id: str, settings: Mapping[str, Any]) -> None:
        self._call("put_item", TableName=self.table_name, Item=dump_item({"pk": company_pk(company_id), "sk": "#SETTINGS", "entity": "settings", **settings}))


def _ticket_item(company_id: str, ticket: Mapping[str, Any], version: int) -> dict[str, Any]:
    filters = {"list_channel": channel_of(ticket), "list_category": category_of(ticket), "list_priority": priority_of(ticket)}
    return {
        "pk": company_pk(company_id), "sk": ticket_sk(ticket["id"]), "entity": "feedback_ticket",
        **{k: v for k, v in ticket.items() if v is not None and not k.startswith("_")},
        **{k: v for k, v in filters.items() if v is not None},
        "recent_pk": company_id, "recent_sk": f"{ticket['created_at']}#{ticket['id']}", "version": version,
    }


def _strip(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in _KEY_ATTRS}


def _ticket(item: Mapping[str, Any]) -> dict[str, Any]:
    return {**_strip(item), "_version": int(item.get("version", 0))}


@warm
def feedback_table() -> FeedbackTable:
    return FeedbackTable(get_settings().require("feedback_table_name"))
