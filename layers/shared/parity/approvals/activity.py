"""The activity log: one line per bot/AI action and per decision on one, derived (pure) from
what already happened, never written on the create path.

A line (``GET /api/v3.1/activity``)::

    {"id", "at", "action": "create"|"update"|"delete"|"held"|"approved"|"rejected"|"expired",
     "status": "success"|"failed"|"pending"|"rejected", "record_type", "record_id",
     "approval_id", "creator_flag", "agent_id", "confidence",
     "fields": {name: {"before", "after"}}, "error": {"code"}?, "correlation_id"}

Where lines come from:

- **A CRM record's change** on the CRM table's stream (``from_record_change``): only records with a
  ``creator_flag`` (bot/AI records); an INSERT is ``create``, a MODIFY ``update``, a REMOVE
  ``delete``, all ``success``. ``fields`` holds every field the API shows of the record (its type's
  fields, ``source``, the room, ``contact_ids``) that the change set, changed or cleared; versions,
  stamps and internal attributes are not fields. A MODIFY that changes none of them makes no line.
  ``agent_id``, ``confidence`` and ``correlation_id`` are the new image's (the writing request
  stamps them); a delete carries none of them (the stream does not say who deleted) and is dated by
  the stream record. A write an approval made carries that approval's id (the record's
  ``approval_id`` attribute, when this change set it).
- **An approval's change** on the approvals table's stream (``from_approval_change``): its INSERT
  is a ``held``/``pending`` line (``fields``: ``before`` → ``proposed``, the holding request's
  correlation id); its decision is a line of its own with the same ``approval_id``:
  ``approved``/``success`` (``fields``: ``before`` → what was written, edits included),
  ``rejected``/``rejected`` or ``expired``/``rejected``, with the deciding request's correlation id.
- **A refused bot/AI create or PATCH** (a 4xx other than 401: the company is known) is a
  ``failed`` line with the error code and nothing else of the request (``refusal`` is the queue
  message the failure path sends, ``from_refusal`` the line).

Each line is written once and never changed: its ``id`` is derived from its source (the stream
record's id; the approval id and its status; the refused request's id), and its ``at`` from the
source too, so a redelivered stream record or message makes the same line, which the store's
conditional put writes no second time. Lines are kept ``RETENTION_DAYS`` (a DynamoDB TTL, ``ttl``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any, Literal

from parity.approvals import checks
from parity.approvals.policy import MAX_AGENT_ID_LENGTH
from parity.core.jsonio import plain
from parity.crm.records import CREATOR_LABELS, TYPE_FIELDS

Action = Literal["create", "update", "delete", "held", "approved", "rejected", "expired"]
LineStatus = Literal["success", "failed", "pending", "rejected"]
ACTIONS: tuple[Action, ...] = ("create", "update", "delete", "held", "approved", "rejected", "expired")
STATUSES: tuple[LineStatus, ...] = ("success", "failed", "pending", "rejected")
#: An approval's status → its decision line's (action, status).
DECISION_LINES: Mapping[str, tuple[Action, LineStatus]] = {
    "approved": ("approved", "success"),
    "rejected": ("rejected", "rejected"),
    "expired": ("expired", "rejected"),
}
RETENTION_DAYS = 90
ID_PREFIX = "act_"
#: Record fields outside the type's own that the API shows and a line may carry.
_COMMON_FIELDS = ("source", "channel_integration_room_id", "contact_ids")
#: The API shape, in order (``error`` only when there is one).
PUBLIC_FIELDS = (
    "id", "at", "action", "status", "record_type", "record_id", "approval_id", "creator_flag",
    "agent_id", "confidence", "fields", "correlation_id",
)  # fmt: skip


def line_id(*source: str) -> str:
    """The id of the line a source makes: the same source always makes the same id."""
    digest = hashlib.sha256("\x1f".join(source).encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return ID_PREFIX + digest


def expiry_epoch(at: str) -> int:
    """When a line written for ``at`` is dropped (epoch seconds, the store's TTL attribute)."""
    return int((checks.parse_time(at) + timedelta(days=RETENTION_DAYS)).timestamp())


def new_line(
    *,
    line_id: str,
    company_id: str,
    at: str,
    action: Action,
    status: LineStatus,
    record_type: str | None = None,
    record_id: str | None = None,
    approval_id: str | None = None,
    creator_flag: str | None = None,
    agent_id: str | None = None,
    confidence: Decimal | None = None,
    fields: Mapping[str, Mapping[str, Any]] | None = None,
    error_code: str | None = None,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    line: dict[str, Any] = {
        "id": line_id,
        "company_id": company_id,
        "at": at,
        "action": action,
        "status": status,
        "record_type": record_type,
        "record_id": record_id,
        "approval_id": approval_id,
        "creator_flag": creator_flag,
        "agent_id": agent_id,
        "confidence": confidence,
        "fields": {name: dict(change) for name, change in (fields or {}).items()},
        "correlation_id": correlation_id,
        "ttl": expiry_epoch(at),
    }
    if error_code is not None:
        line["error"] = {"code": error_code}
    return line


# ---- from a CRM record's change --------------------------------------------------------------
def _visible(record_type: str) -> tuple[str, ...]:
    return (*TYPE_FIELDS.get(record_type, ("name",)), *_COMMON_FIELDS)  # type: ignore[call-overload]


def _set(value: Any) -> bool:
    return value is not None and value != [] and value != ""


def record_fields(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """``{name: {"before", "after"}}`` for each shown field the change set, changed or cleared."""
    record_type = str((new or old or {}).get("type"))
    out: dict[str, dict[str, Any]] = {}
    for name in _visible(record_type):
        before = plain(old.get(name)) if old else None
        after = plain(new.get(name)) if new else None
        if before == after or (not _set(before) and not _set(after)):
            continue
        out[name] = {"before": before, "after": after}
    return out


def from_record_change(stream_event_id: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, *, removed_at: str) -> dict[str, Any] | None:
    """The line a CRM table stream record makes, or None (not a bot/AI record, not a record at
    all, or a change of nothing shown). ``removed_at`` dates a delete: the stream record's own
    time (``ApproximateCreationDateTime`` as iso_ms), the same on every redelivery."""
    old = old if old and old.get("entity", "record") == "record" else None
    new = new if new and new.get("entity", "record") == "record" else None
    current = new or old
    if current is None or current.get("creator_flag") not in CREATOR_LABELS:
        return None
    fields = record_fields(old, new)
    if old is None:
        action: Action = "create"
    elif new is None:
        action = "delete"
    else:
        action = "update"
        if not fields:
            return None
    if new is None:
        at, agent_id, confidence, correlation_id, approval = removed_at, None, None, None, None
    else:
        at = str(new["updated_at"])
        agent_id, confidence, correlation_id = new.get("agent_id"), new.get("confidence"), new.get("correlation_id")
        approval = new.get("approval_id") if new.get("approval_id") != (old or {}).get("approval_id") else None
    return new_line(
        line_id=line_id("stream", stream_event_id),
        company_id=str(current["company_id"]),
        at=at,
        action=action,
        status="success",
        record_type=current.get("type"),
        record_id=current.get("id"),
        approval_id=approval,
        creator_flag=current.get("creator_flag"),
        agent_id=agent_id,
        confidence=confidence,
        fields=fields,
        correlation_id=correlation_id,
    )


# ---- from an approval's change ---------------------------------------------------------------
def _proposal_fields(approval: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    before = approval.get("before") or {}
    return {name: {"before": plain(before.get(name)), "after": plain(value)} for name, value in after.items()}


def _approval_line(approval: Mapping[str, Any], action: Action, status: LineStatus, *, at: str, correlation_id: str | None, fields: Mapping[str, Any]) -> dict[str, Any]:
    return new_line(
        line_id=line_id("approval", str(approval["id"]), str(approval["status"])),
        company_id=str(approval["company_id"]),
        at=at,
        action=action,
        status=status,
        record_type=approval.get("record_type"),
        record_id=approval.get("record_id"),
        approval_id=approval["id"],
        creator_flag=approval.get("creator_flag"),
        agent_id=approval.get("agent_id"),
        confidence=approval.get("confidence"),
        fields=fields,
        correlation_id=correlation_id,
    )


def held_line(approval: Mapping[str, Any]) -> dict[str, Any]:
    """The ``held``/``pending`` line of a new approval."""
    pending = {**approval, "status": "pending"}
    return _approval_line(pending, "held", "pending", at=str(approval["created_at"]), correlation_id=approval.get("correlation_id"), fields=_proposal_fields(approval, approval.get("proposed") or {}))


def decision_line(approval: Mapping[str, Any]) -> dict[str, Any]:
    """The line of a decided approval (approved, rejected or expired)."""
    action, status = DECISION_LINES[approval["status"]]
    fields: dict[str, Any] = {}
    if approval["status"] == "approved":
        written = {**(approval.get("proposed") or {}), **(approval.get("changes") or {})}
        fields = _proposal_fields(approval, written)
    return _approval_line(approval, action, status, at=str(approval["resolved_at"]), correlation_id=approval.get("resolved_correlation_id"), fields=fields)


def from_approval_change(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The lines an approvals table stream record makes: the held line of an INSERT, the decision
    line of a change out of pending; nothing for anything else (a TTL removal, a rewrite)."""
    if new is None or new.get("entity", "approval") != "approval":
        return []
    lines = []
    if old is None:
        lines.append(held_line(new))
    was = (old or {}).get("status", "pending")
    if was == "pending" and new["status"] in DECISION_LINES:
        lines.append(decision_line(new))
    return lines


# ---- refused bot/AI requests -----------------------------------------------------------------
def refusal_logged(status: int, creator_flag: str | None) -> bool:
    """Whether a refused request is a ``failed`` line: a bot/AI create or PATCH (``creator_flag``:
    the body's for a create, the record's for a PATCH) answered with a 4xx other than 401 (a 401
    has no company to log it for)."""
    return 400 <= status < 500 and status != 401 and creator_flag in CREATOR_LABELS


def refusal(
    company_id: str,
    *,
    request_id: str,
    at: str,
    action: Literal["create", "update"],
    record_type: str,
    record_id: str | None,
    creator_flag: str,
    agent_id: str | None,
    confidence: Decimal | None,
    error_code: str,
    correlation_id: str | None,
) -> dict[str, Any]:
    """The queue message the failure path sends for a refused bot/AI request (only what the line
    needs; the request's body is never in it). ``request_id`` is API Gateway's, unique per request:
    the caller's correlation id may repeat, the line must not vanish because of it."""
    return {
        "kind": "refusal",
        "company_id": company_id,
        "request_id": request_id,
        "at": at,
        "action": action,
        "record_type": record_type,
        "record_id": record_id,
        "creator_flag": creator_flag,
        "agent_id": agent_id,
        "confidence": confidence,
        "error_code": error_code,
        "correlation_id": correlation_id,
    }


def from_refusal(message: Mapping[str, Any]) -> dict[str, Any]:
    """The ``failed`` line of a refusal message; ``ValueError`` for a message that is not one
    (the consumer lets it go to its dead-letter queue)."""
    try:
        if message.get("kind") != "refusal" or message["action"] not in ("create", "update"):
            raise ValueError("not a refusal message")
        if not isinstance(message.get("request_id"), str) or not message["request_id"]:
            raise ValueError("a refusal message names its request")
        checks.parse_time(str(message["at"]))
        return new_line(
            line_id=line_id("refused", str(message["request_id"])),
            company_id=str(message["company_id"]),
            at=str(message["at"]),
            action=message["action"],
            status="failed",
            record_type=message.get("record_type"),
            record_id=message.get("record_id"),
            creator_flag=message.get("creator_flag"),
            agent_id=message.get("agent_id"),
            confidence=message.get("confidence"),
            error_code=str(message["error_code"]),
            correlation_id=message.get("correlation_id"),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"malformed refusal message: {exc!r}") from exc


# ---- the list API ----------------------------------------------------------------------------
def list_filters(query: Mapping[str, Any]) -> dict[str, Any]:
    """``GET /activity?creator_flag=&agent_id=&status=&action=&since=&until=&limit=&cursor=``
    checked; a 422 names each bad one. ``since`` is inclusive, ``until`` exclusive, both as
    ``iso_ms`` text (the form ``at`` is stored in, so they compare as text); a ``since`` not
    before ``until`` is a 422 on ``until``."""
    flag, bad_flag = checks.choice(query.get("creator_flag") or None, "creator_flag", tuple(CREATOR_LABELS))
    agent_id, bad_agent = checks.identifier(query.get("agent_id") or None, "agent_id", max_length=MAX_AGENT_ID_LENGTH)
    status, bad_status = checks.choice(query.get("status") or None, "status", STATUSES)
    action, bad_action = checks.choice(query.get("action") or None, "action", ACTIONS)
    since, bad_since = checks.moment(query.get("since"), "since")
    until, bad_until = checks.moment(query.get("until"), "until")
    if since is not None and until is not None and since >= until:
        bad_until = checks.problem("until", "must be after since", "value_error")
    limit, bad_limit = checks.limit(query.get("limit"))
    cursor, bad_cursor = checks.cursor(query.get("cursor"))
    checks.fail(p for p in (bad_flag, bad_agent, bad_status, bad_action, bad_since, bad_until, bad_limit, bad_cursor) if p)
    return {
        "creator_flag": flag,
        "agent_id": agent_id,
        "status": status,
        "action": action,
        "since": checks.stamp(since) if since else None,
        "until": checks.stamp(until) if until else None,
        "limit": limit,
        "cursor": cursor,
    }


def matches(line: Mapping[str, Any], filters: Mapping[str, Any]) -> bool:
    """Whether a line passes the filters (what a store's filter expression must also say)."""
    for name in ("creator_flag", "agent_id", "status", "action"):
        wanted = filters.get(name)
        if wanted is not None and line.get(name) != wanted:
            return False
    if filters.get("since") and line["at"] < filters["since"]:
        return False
    if filters.get("until") and line["at"] >= filters["until"]:
        return False
    return True


def public(line: Mapping[str, Any]) -> dict[str, Any]:
    """The line as the API shows it: never its company or its TTL."""
    out = {name: plain(line.get(name)) for name in PUBLIC_FIELDS}
    if line.get("error"):
        out["error"] = {"code": line["error"]["code"]}
    return out
