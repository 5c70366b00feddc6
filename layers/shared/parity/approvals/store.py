"""The trust table: approvals, the activity log and its counters, anomalies, the approval policy and
the notification settings (single-table design; the key layout is here and nowhere else).

    pk                      sk                        what
    COMPANY#<cid>           #POLICY                   the approval policy (``policy.validate_policy``'s output)
    COMPANY#<cid>           #NOTIFY                   the notification settings
    DIGEST                  <cid>                     the company wants an hourly digest (while its settings say so)
    COMPANY#<cid>           APR#<apr_id>              an approval (entity = "approval"); ids are time-ordered
    COMPANY#<cid>           ACT#<at>#<act_id>         an activity line (entity = "activity"), TTL 90 days
    COMPANY#<cid>           CNT#<bucket start>        5-minute counters of the lines (``anomalies.contribution``), TTL 2 days
    ACTIVE#<yyyy-mm-ddThh>  <cid>                     the company had bot/AI activity that hour (whom the detector visits), TTL 2 days
    COMPANY#<cid>           ANO#<ano_id>              an anomaly (entity = "anomaly"); ids are time-ordered
    OPEN_ANOMALY            <cid>#<type>              the one open anomaly of that type (the slot guarding the invariant)
    COMPANY#<cid>           SENT#<kind>#<id>          a notification Slack accepted (so a redelivery never posts twice), TTL 30 days

Indexes (sparse: an item carries the key only while it belongs there):

- ``ApprovalsByStatus`` (``status_key`` = ``<cid>#<status>``, ``sk``): a company's approvals of one
  status, newest first; the backlog rule reads the pending ones.
- ``Expiring`` (``expiry_shard`` = ``PENDING#<0..3>``, ``expires_at``): pending approvals only
  (the decision removes the key), for the expiry sweep and the detector's list of companies.
- ``ActivityByAgent`` (``agent_key`` = ``<cid>#<agent_id>``, ``sk``): lines with an agent.

Every key that holds a company's data starts with the company; the three that do not (``DIGEST``,
``ACTIVE#``, ``OPEN_ANOMALY``) hold company ids only, for the scheduled jobs. Key parts are escaped
(``parity.core.dynamodb.key``). Cursors are ``LastEvaluatedKey``s checked to belong to the caller's
company before use. ``ClientError`` never leaves this module.

Over 400 lines on purpose: the key layout above is the single place the trust table's keys are built, so every request on it stays in this adapter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from parity.core.dynamodb import BadCursor, Page, TableAdapter, dump_item, key, keyed
from parity.core.errors import ValidationFailed
from parity.core.settings import get_settings
from parity.core.warm import warm

STATUS_INDEX = "ApprovalsByStatus"
EXPIRING_INDEX = "Expiring"
AGENT_INDEX = "ActivityByAgent"
EXPIRY_SHARDS = 4
DECIDED_RETENTION = timedelta(days=90)
COUNTER_RETENTION = timedelta(days=2)
SENT_RETENTION = timedelta(days=30)
OPEN_ANOMALY = "OPEN_ANOMALY"
DIGEST = "DIGEST"
_KEY_ATTRS = ("pk", "sk", "entity", "ttl", "status_key", "expiry_shard", "agent_key")


company_pk = keyed("COMPANY")  # (company_id)
approval_sk = keyed("APR")  # (approval_id)
activity_sk = keyed("ACT")  # (at, line_id)
anomaly_sk = keyed("ANO")  # (anomaly_id)
counter_sk = keyed("CNT")  # (bucket)
#: The ``ACTIVE#`` partition of one hour (``2026-11-23T03``).
active_pk = keyed("ACTIVE")  # (hour)


def hour_of(stamp: str) -> str:
    return stamp[:13]


def expiry_shard(approval_id: str) -> str:
    return key("PENDING", str(int(hashlib.sha256(approval_id.encode()).hexdigest(), 16) % EXPIRY_SHARDS))


def _epoch(stamp: str, plus: timedelta) -> int:
    return int((datetime.fromisoformat(stamp) + plus).timestamp())


def _strip(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in _KEY_ATTRS}


def approval_item(approval: Mapping[str, Any]) -> dict[str, Any]:
    """An approval as stored: its index keys follow its status (pending: listed for expiry)."""
    company = str(approval["company_id"])
    item = {"pk": company_pk(company), "sk": approval_sk(str(approval["id"])), "entity": "approval", **approval,
            "status_key": key(company, str(approval["status"]))}
    if approval["status"] == "pending":
        item["expiry_shard"] = expiry_shard(str(approval["id"]))
    elif approval.get("resolved_at"):
        item["ttl"] = _epoch(str(approval["resolved_at"]), DECIDED_RETENTION)
    return item


class ApprovalGone(Exception):
    """A decision's condition failed: the approval is no longer pending (or not due, for expiry)."""


class TrustStore(TableAdapter):
    """Adapter over the trust table. Each method is one DynamoDB request unless it says otherwise."""

    label = "the trust table"

    def __init__(self, table_name: str, *, client: Any = None) -> None:
        super().__init__(table_name, client=client)
        self._active: set[tuple[str, str]] = set()  # (company, hour) marked active by this container

    # ---- policy and settings ---------------------------------------------------------------------
    def policy_item(self, company_id: str) -> dict[str, Any] | None:
        item = self._get(company_pk(company_id), "#POLICY")
        return _strip(item) if item else None

    def put_policy(self, company_id: str, policy: Mapping[str, Any], *, now: str, by: str | None) -> None:
        item = {"pk": company_pk(company_id), "sk": "#POLICY", "entity": "policy", **policy, "updated_at": now, "updated_by": by}
        self._call("put_item", TableName=self.table_name, Item=dump_item(item))

    def settings_item(self, company_id: str) -> dict[str, Any] | None:
        item = self._get(company_pk(company_id), "#NOTIFY")
        return _strip(item) if item else None

    def put_settings(self, company_id: str, settings: Mapping[str, Any], *, digest: bool, now: str, by: str | None) -> None:
        """The settings, and the company's place in the digest list, in one write."""
        item = {"pk": company_pk(company_id), "sk": "#NOTIFY", "entity": "settings", **settings, "updated_at": now, "updated_by": by}
        marker = {"TableName": self.table_name, "Key": dump_item({"pk": DIGEST, "sk": company_id})}
        self._call("transact_write_items", TransactItems=[
            {"Put": {"TableName": self.table_name, "Item": dump_item(item)}},
            {"Put": {"TableName": self.table_name, "Item": dump_item({"pk": DIGEST, "sk": company_id, "entity": "digest"})}} if digest else {"Delete": marker},
        ])

    def digest_companies(self) -> list[str]:
        items = self._pages(TableName=self.table_name, KeyConditionExpression="pk = :pk", ExpressionAttributeValues=dump_item({":pk": DIGEST}))
        return [str(item["sk"]) for item in items]

    # ---- approvals -------------------------------------------------------------------------------
    def put_approval_request(self, approval: Mapping[str, Any]) -> dict[str, Any]:
        """The conditional Put of a new approval (for a transaction, or ``put_approval``)."""
        return {"TableName": self.table_name, "Item": dump_item(approval_item(approval)), "ConditionExpression": "attribute_not_exists(pk)"}

    def put_approval(self, approval: Mapping[str, Any]) -> None:
        self._call("put_item", **self.put_approval_request(approval))

    def put_new_approval(self, approval: Mapping[str, Any]) -> bool:
        """``put_approval`` for a redelivered source: False when that approval is already there."""
        try:
            self._call("put_item", **self.put_approval_request(approval), _raise_conditional=True)
        except ClientError:  # only a failed condition comes back as a ClientError here
            return False
        return True

    def approval(self, company_id: str, approval_id: str) -> dict[str, Any] | None:
        item = self._get(company_pk(company_id), approval_sk(approval_id))
        return _strip(item) if item and item.get("entity") == "approval" else None

    def decide_request(self, decided: Mapping[str, Any], *, now: str, expiring: bool = False) -> dict[str, Any]:
        """The conditional Put of a decided approval: it was pending and, for a person's decision, not
        yet due (``expires_at > now``); for the expiry, due (``expires_at <= now``). For a
        transaction (an approve writes the record in the same one) or ``decide``."""
        return {
            "TableName": self.table_name,
            "Item": dump_item(approval_item(decided)),
            "ConditionExpression": "#s = :pending AND " + ("expires_at <= :now" if expiring else "expires_at > :now"),
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": dump_item({":pending": "pending", ":now": now}),
        }

    def decide(self, decided: Mapping[str, Any], *, now: str, expiring: bool = False) -> None:
        """Write a decision; ``ApprovalGone`` when the approval was decided (or came due) first."""
        try:
            self._call("put_item", **self.decide_request(decided, now=now, expiring=expiring), _raise_conditional=True)
        except ClientError as exc:
            raise ApprovalGone() from exc

    def approvals(self, company_id: str, *, status: str | None, kind: str | None, limit: int, cursor: str | None) -> Page:
        """A page of the company's approvals, newest first (``kind`` filters within the page)."""
        request: dict[str, Any] = {"TableName": self.table_name, "ScanIndexForward": False}
        values: dict[str, Any] = {}
        if status:
            partition = ("status_key", key(company_id, status))
            request.update(IndexName=STATUS_INDEX, KeyConditionExpression="status_key = :p")
            values[":p"] = partition[1]
        else:
            partition = ("pk", company_pk(company_id))
            request["KeyConditionExpression"] = "pk = :p AND begins_with(sk, :prefix)"
            values.update({":p": partition[1], ":prefix": approval_sk("")})
        if kind:
            request.update(FilterExpression="#k = :kind", ExpressionAttributeNames={"#k": "kind"})
            values[":kind"] = kind
        request["ExpressionAttributeValues"] = dump_item(values)
        return self._checked_page(partition, limit, cursor, request)

    def pending_approvals(self, company_id: str) -> list[dict[str, Any]]:
        """Every pending approval of the company (``created_at`` and ``expires_at`` are what the detector needs)."""
        items = self._pages(
            TableName=self.table_name, IndexName=STATUS_INDEX, KeyConditionExpression="status_key = :p",
            ExpressionAttributeValues=dump_item({":p": key(company_id, "pending")}),
        )
        return [_strip(item) for item in items]

    def approvals_created(self, company_id: str, since_id: str, until_id: str) -> list[dict[str, Any]]:
        """The approvals whose (time-ordered) ids fall from ``since_id`` to ``until_id``: the digest's hour."""
        items = self._pages(
            TableName=self.table_name, KeyConditionExpression="pk = :pk AND sk BETWEEN :a AND :b",
            ExpressionAttributeValues=dump_item({":pk": company_pk(company_id), ":a": approval_sk(since_id), ":b": approval_sk(until_id)}),
        )
        return [_strip(item) for item in items if item.get("entity") == "approval"]

    def due_approvals(self, now: str) -> list[dict[str, Any]]:
        """Pending approvals whose ``expires_at`` has come (every shard of ``Expiring``), each read whole."""
        found = []
        for shard in range(EXPIRY_SHARDS):
            found += self._pages(
                TableName=self.table_name, IndexName=EXPIRING_INDEX, KeyConditionExpression="expiry_shard = :s AND expires_at <= :now",
                ExpressionAttributeValues=dump_item({":s": key("PENDING", str(shard)), ":now": now}),
            )
        return [a for a in (self._get(str(item["pk"]), str(item["sk"])) for item in found) if a and a.get("status") == "pending"]

    def companies_with_pending(self) -> set[str]:
        companies: set[str] = set()
        for shard in range(EXPIRY_SHARDS):
            for item in self._pages(
                TableName=self.table_name, IndexName=EXPIRING_INDEX, KeyConditionExpression="expiry_shard = :s",
                ExpressionAttributeValues=dump_item({":s": key("PENDING", str(shard))}),
            ):
                companies.add(str(item["company_id"]))
        return companies

    # ---- the activity log ------------------------------------------------------------------------
    def write_line(self, line: Mapping[str, Any], contribution: tuple[str, Mapping[str, Any]] | None) -> bool:
        """Write a line once (a conditional Put), then add it to its 5-minute counter and mark the
        company active that hour; False when it was written before (a redelivery: nothing is
        counted twice). Not a transaction on purpose (half the write units, on every bot/AI change):
        a crash between the Put and the counter leaves that one line uncounted, never counted twice.
        The active mark is written once per company and hour per warm container."""
        company = str(line["company_id"])
        item = {"pk": company_pk(company), "sk": activity_sk(str(line["at"]), str(line["id"])), "entity": "activity", **line}
        if line.get("agent_id"):
            item["agent_key"] = key(company, str(line["agent_id"]))
        try:
            self._call("put_item", TableName=self.table_name, Item=dump_item(item), ConditionExpression="attribute_not_exists(pk)", _raise_conditional=True)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False  # written before: a redelivery
            raise  # anything else (a missing grant, a bad item) fails the batch record, never reads as "done"
        if contribution is None:
            return True
        bucket, adds = contribution
        self._call(
            "update_item", TableName=self.table_name, Key=dump_item({"pk": company_pk(company), "sk": counter_sk(bucket)}),
            UpdateExpression="SET entity = :e, #b = :b, #ttl = :ttl ADD actions :a, failed :f, scored :s, confidence_sum :c",
            ExpressionAttributeNames={"#b": "bucket", "#ttl": "ttl"},
            ExpressionAttributeValues=dump_item({":e": "counter", ":b": bucket, ":ttl": _epoch(bucket, COUNTER_RETENTION), ":a": adds["actions"],
                                                 ":f": adds["failed"], ":s": adds["scored"], ":c": adds["confidence_sum"]}),
        )
        hour = hour_of(str(line["at"]))
        if (company, hour) not in self._active:
            self._call("put_item", TableName=self.table_name, Item=dump_item(
                {"pk": active_pk(hour), "sk": company, "entity": "active", "ttl": _epoch(str(line["at"]), COUNTER_RETENTION)}))
            if len(self._active) > 10_000:
                self._active.clear()
            self._active.add((company, hour))
        return True

    def activity(self, company_id: str, filters: Mapping[str, Any]) -> Page:
        """A page of the company's lines, newest first, as ``activity.list_filters`` checked them."""
        low = activity_sk(filters["since"], "") if filters.get("since") else key("ACT", "")
        high = key("ACT", filters["until"]) if filters.get("until") else key("ACT", "~")
        values: dict[str, Any] = {":low": low, ":high": high}
        names: dict[str, str] = {}
        if filters.get("agent_id"):
            partition = ("agent_key", key(company_id, filters["agent_id"]))
            request: dict[str, Any] = {"IndexName": AGENT_INDEX, "KeyConditionExpression": "agent_key = :p AND sk BETWEEN :low AND :high"}
        else:
            partition = ("pk", company_pk(company_id))
            request = {"KeyConditionExpression": "pk = :p AND sk BETWEEN :low AND :high"}
        values[":p"] = partition[1]
        conditions = []
        for name in ("creator_flag", "status", "action"):
            if filters.get(name):
                names[f"#{name}"] = name
                values[f":{name}"] = filters[name]
                conditions.append(f"#{name} = :{name}")
        if conditions:
            request["FilterExpression"] = " AND ".join(conditions)
            request["ExpressionAttributeNames"] = names
        request.update(TableName=self.table_name, ScanIndexForward=False, ExpressionAttributeValues=dump_item(values))
        return self._checked_page(partition, int(filters["limit"]), filters.get("cursor"), request)

    def counters(self, company_id: str, since: str) -> dict[str, dict[str, Any]]:
        """The company's 5-minute counters from ``since`` (a bucket start) on: bucket → sums."""
        items = self._pages(
            TableName=self.table_name, KeyConditionExpression="pk = :pk AND sk BETWEEN :a AND :b",
            ExpressionAttributeValues=dump_item({":pk": company_pk(company_id), ":a": counter_sk(since), ":b": counter_sk("~")}),
        )
        return {str(item["bucket"]): item for item in items if item.get("entity") == "counter"}

    def active_companies(self, hours: Iterable[str]) -> set[str]:
        companies: set[str] = set()
        for hour in hours:
            for item in self._pages(TableName=self.table_name, KeyConditionExpression="pk = :pk", ExpressionAttributeValues=dump_item({":pk": active_pk(hour)})):
                companies.add(str(item["sk"]))
        return companies

    # ---- anomalies -------------------------------------------------------------------------------
    def open_anomalies(self) -> dict[str, list[dict[str, Any]]]:
        """Every open anomaly's slot, by company: ``{"id", "type", "status", "created_at"}``."""
        found: dict[str, list[dict[str, Any]]] = {}
        for item in self._pages(TableName=self.table_name, KeyConditionExpression="pk = :pk", ExpressionAttributeValues=dump_item({":pk": OPEN_ANOMALY})):
            found.setdefault(str(item["company_id"]), []).append(
                {"id": item["anomaly_id"], "type": item["type"], "status": "active", "created_at": item["created_at"], "company_id": item["company_id"]})
        return found

    def open_anomaly(self, anomaly: Mapping[str, Any]) -> bool:
        """Open an anomaly with its type's slot, in one transaction; False when one of its type is
        already open (a racing detector run opened it)."""
        company = str(anomaly["company_id"])
        slot = {"pk": OPEN_ANOMALY, "sk": key(company, str(anomaly["type"])), "entity": "anomaly_slot", "company_id": company,
                "anomaly_id": anomaly["id"], "type": anomaly["type"], "created_at": anomaly["created_at"]}
        item = {"pk": company_pk(company), "sk": anomaly_sk(str(anomaly["id"])), "entity": "anomaly", **anomaly}
        try:
            self._call("transact_write_items", TransactItems=[
                {"Put": {"TableName": self.table_name, "Item": dump_item(slot), "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Put": {"TableName": self.table_name, "Item": dump_item(item), "ConditionExpression": "attribute_not_exists(pk)"}},
            ], _raise_cancel=True)
        except ClientError:
            return False
        return True

    def resolve_anomaly(self, company_id: str, anomaly_type: str, anomaly_id: str, *, now: str) -> bool:
        """Mark an open anomaly resolved and free its type's slot, in one transaction; False when
        it was resolved already."""
        try:
            self._call("transact_write_items", TransactItems=[
                {"Delete": {"TableName": self.table_name, "Key": dump_item({"pk": OPEN_ANOMALY, "sk": key(company_id, anomaly_type)}),
                            "ConditionExpression": "anomaly_id = :id", "ExpressionAttributeValues": dump_item({":id": anomaly_id})}},
                {"Update": {"TableName": self.table_name, "Key": dump_item({"pk": company_pk(company_id), "sk": anomaly_sk(anomaly_id)}),
                            "UpdateExpression": "SET #s = :resolved, resolved_at = :now, #ttl = :ttl",
                            "ConditionExpression": "attribute_exists(pk) AND #s <> :resolved",
                            "ExpressionAttributeNames": {"#s": "status", "#ttl": "ttl"},
                            "ExpressionAttributeValues": dump_item({":resolved": "resolved", ":now": now, ":ttl": _epoch(now, DECIDED_RETENTION)})}},
            ], _raise_cancel=True)
        except ClientError:
            return False
        return True

    def anomaly(self, company_id: str, anomaly_id: str) -> dict[str, Any] | None:
        item = self._get(company_pk(company_id), anomaly_sk(anomaly_id))
        return _strip(item) if item and item.get("entity") == "anomaly" else None

    def anomalies(self, company_id: str, *, status: str | None, limit: int, cursor: str | None) -> Page:
        values: dict[str, Any] = {":p": company_pk(company_id), ":prefix": anomaly_sk("")}
        request: dict[str, Any] = {"TableName": self.table_name, "ScanIndexForward": False, "KeyConditionExpression": "pk = :p AND begins_with(sk, :prefix)"}
        if status:
            request.update(FilterExpression="#s = :status", ExpressionAttributeNames={"#s": "status"})
            values[":status"] = status
        request["ExpressionAttributeValues"] = dump_item(values)
        return self._checked_page(("pk", company_pk(company_id)), limit, cursor, request)

    def anomalies_created(self, company_id: str, since_id: str, until_id: str) -> list[dict[str, Any]]:
        items = self._pages(
            TableName=self.table_name, KeyConditionExpression="pk = :pk AND sk BETWEEN :a AND :b",
            ExpressionAttributeValues=dump_item({":pk": company_pk(company_id), ":a": anomaly_sk(since_id), ":b": anomaly_sk(until_id)}),
        )
        return [_strip(item) for item in items if item.get("entity") == "anomaly"]

    def acknowledge(self, acknowledged: Mapping[str, Any]) -> bool:
        """Write an acknowledgement if the anomaly is still active; False otherwise."""
        company = str(acknowledged["company_id"])
        try:
            self._call(
                "update_item", TableName=self.table_name,
                Key=dump_item({"pk": company_pk(company), "sk": anomaly_sk(str(acknowledged["id"]))}),
                UpdateExpression="SET #s = :ack, acknowledged_by = :by, acknowledged_at = :at",
                ConditionExpression="#s = :active",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=dump_item({":ack": "acknowledged", ":by": acknowledged["acknowledged_by"], ":at": acknowledged["acknowledged_at"], ":active": "active"}),
                _raise_conditional=True,
            )
        except ClientError:
            return False
        return True

    # ---- notifications ---------------------------------------------------------------------------
    def sent(self, company_id: str, kind: str, ref: str) -> dict[str, Any] | None:
        item = self._get(company_pk(company_id), key("SENT", kind, ref))
        return _strip(item) if item else None

    def mark_sent(self, company_id: str, kind: str, ref: str, *, now: str, ts: str | None) -> None:
        item = {"pk": company_pk(company_id), "sk": key("SENT", kind, ref), "entity": "sent", "at": now, "ts": ts, "ttl": _epoch(now, SENT_RETENTION)}
        self._call("put_item", TableName=self.table_name, Item=dump_item(item))

    # ---- pages -----------------------------------------------------------------------------------
    def _checked_page(self, partition: tuple[str, str], limit: int, cursor: str | None, request: dict[str, Any]) -> Page:
        try:
            page = self._page(partition=partition, limit=limit, cursor=cursor, **request)
        except BadCursor:
            raise ValidationFailed("invalid cursor", details=[{"field": "cursor", "message": "not a cursor this list returned", "type": "value_error"}]) from None
        return Page([_strip(item) for item in page.items], page.next_cursor)


@warm
def trust_store() -> TrustStore:
    """The trust table adapter, built once per container."""
    return TrustStore(get_settings().require("trust_table_name"))
