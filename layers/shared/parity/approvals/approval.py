"""Approvals: an action held for a person, and the decisions on it.
(Over 400 lines: the approval's state machine and every request body that moves it, so each rule of
contracts/approvals.md is written once, beside the others.)

An approval is a plain dict (what the store keeps, minus keys); ``public`` is the API shape of
contracts/approvals.md::

    {"id": "apr_…", "kind": "create"|"update"|"changelog", "record_type", "record_id",
     "proposed": {fields}, "before": {fields}|null, "confidence", "agent_id", "creator_flag",
     "status": "pending"|"approved"|"rejected"|"expired", "created_at", "expires_at",
     "resolved_at", "resolved_by", "reason", "record"}

Kinds: a held bot/AI ``create`` (``record_id`` is null until approved, then the written record's
id), a held ``update`` (a PATCH; ``before`` holds the record's values of the proposed fields and
the record's ``version`` is kept, unshown), and a ``changelog`` (the feedback capability's release
valve: ``proposed.text`` for a ticket's reporters).

The rules:

- **Only a pending approval is decided.** Approving or rejecting one that is approved, rejected or
  expired is a 409 ``approval_not_pending``; so is one whose ``expires_at`` has passed while the
  expiry run has not yet marked it (it is expired, whatever the sweep's timing). The store makes the
  same check its write's condition (``status = pending AND expires_at > now``), so of two racing
  decisions exactly one is written and the other is a 409.
- **Expiry never approves.** At ``expires_at`` a pending approval becomes ``expired``
  (``resolved_at`` = ``expires_at``, nobody resolved it); the held action is never written.
- **An approver's edits** (``changes``) are laid over ``proposed``; ``merged_body`` is the create or
  PATCH body the immediate path then validates exactly as it validates a producer's (a 422 names the
  field as ``changes.<field>``: ``blame_changes``). Who proposed the action and how sure it was
  (``creator_flag``, ``confidence``, ``agent_id``) is not an approver's to edit.
- **An update approval whose record moved on** (another version, or deleted) is a 409
  ``record_changed`` on approve: the approver saw ``before``, which is no longer true.
- **A batch** decides each item on its own: ``batch_results`` turns each item's error into that
  item's ``error`` and goes on.

Nothing here reads a clock or makes an id: ``now`` and ``approval_id`` are passed in.

Over 400 lines on purpose: an approval's whole life (held, decided, expired, edited, batched, published) is one set of rules over one record, read together.
"""

from __future__ import annotations

import hashlib

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, NotRequired, TypedDict, Unpack

from parity.approvals import checks
from parity.approvals.checks import Problem
from parity.core.clock import iso_ms
from parity.core.errors import ParityError
from parity.core.ids import valid_id
from parity.core.jsonio import plain

Kind = Literal["create", "update", "changelog"]
Status = Literal["pending", "approved", "rejected", "expired"]
Decision = Literal["approve", "reject"]
KINDS: tuple[Kind, ...] = ("create", "update", "changelog")
STATUSES: tuple[Status, ...] = ("pending", "approved", "rejected", "expired")
#: The only status a decision or the expiry may move an approval out of.
PENDING: Status = "pending"
ID_PREFIX = "apr_"
MAX_REASON_LENGTH = 1000
#: At most this many ids in one batch (approve and reject together).
MAX_BATCH = 100
#: Who proposed the action and how sure it was: not an approver's to edit.
PRODUCER_FIELDS = ("creator_flag", "confidence", "agent_id")
#: A PATCH's contact fields add links; the record keeps them as ``contact_ids``.
_LINK_FIELDS = ("contact_id", "crm_lead_ids")
#: The API shape, in order.
PUBLIC_FIELDS = (
    "id", "kind", "record_type", "record_id", "proposed", "before", "confidence", "agent_id", "creator_flag",
    "status", "created_at", "expires_at", "resolved_at", "resolved_by", "reason", "record",
)  # fmt: skip


class ApprovalNotPending(ParityError):
    """A decision on an approval that is no longer pending (409). ``current_status`` says what it is."""

    status, code = 409, "approval_not_pending"

    def __init__(self, message: str, *, current_status: str) -> None:
        super().__init__(message)
        self.current_status = current_status


class RecordChanged(ParityError):
    """Approving an update whose record has another version now, or is gone (409)."""

    status, code = 409, "record_changed"
    current_status = PENDING


# ---- ids -------------------------------------------------------------------------------------
def approval_id(raw_id: str) -> str:
    """``apr_`` + one of our ids (``parity.core.clock.new_id``): time-ordered, so newest-first lists sort by it."""
    return ID_PREFIX + raw_id


def valid_approval_id(value: object) -> bool:
    """Whether ``value`` could be an approval id: checked before any store call, so nothing
    unbounded reaches a key (a malformed id is a 404, as an unknown one is)."""
    return isinstance(value, str) and value.startswith(ID_PREFIX) and valid_id(value[len(ID_PREFIX):])


# ---- building a held action ------------------------------------------------------------------
class Hold(TypedDict):
    """When and under which id an action is held: the same for every kind. ``correlation_id`` is the
    holding request's: its activity line carries it."""

    approval_id: str
    expires_in: int
    now: datetime
    correlation_id: NotRequired[str | None]


def new_approval(
    kind: Kind,
    hold: Hold,
    *,
    company_id: str,
    record_type: str | None,
    proposed: Mapping[str, Any],
    record_id: str | None = None,
    before: Mapping[str, Any] | None = None,
    trust: Mapping[str, Any] | None = None,
    creator_flag: str | None = None,
    record_version: int | None = None,
) -> dict[str, Any]:
    """A pending approval; ``trust`` is ``policy.trust_fields``'s answer (a producer's confidence and agent)."""
    now = hold["now"]
    return {
        "id": hold["approval_id"],
        "company_id": company_id,
        "kind": kind,
        "record_type": record_type,
        "record_id": record_id,
        "proposed": dict(proposed),
        "before": dict(before) if before is not None else None,
        "confidence": (trust or {}).get("confidence"),
        "agent_id": (trust or {}).get("agent_id"),
        "creator_flag": creator_flag,
        "status": PENDING,
        "created_at": iso_ms(now),
        "expires_at": iso_ms(now + timedelta(seconds=hold["expires_in"])),
        "resolved_at": None,
        "resolved_by": None,
        "reason": None,
        "record": None,
        "record_version": record_version,
        "changes": None,
        "correlation_id": hold.get("correlation_id"),
        "resolved_correlation_id": None,
    }


def held_create(company_id: str, record_type: str, body: Mapping[str, Any], *, trust: Mapping[str, Any], **hold: Unpack[Hold]) -> dict[str, Any]:
    """The approval of a held create: ``body`` is the create body as sent and already validated
    (a bad body is a 422 at once, never held)."""
    proposed = {name: value for name, value in body.items() if name not in PRODUCER_FIELDS}
    return new_approval("create", hold, company_id=company_id, record_type=record_type, proposed=proposed, trust=trust, creator_flag=body.get("creator_flag"))


def held_update(record: Mapping[str, Any], body: Mapping[str, Any], *, trust: Mapping[str, Any], **hold: Unpack[Hold]) -> dict[str, Any]:
    """The approval of a held PATCH of ``record`` (as stored now). ``before`` holds the record's
    value of every proposed field (``contact_ids`` for the contact fields), and the record's
    ``version`` is kept to refuse an approval once the record moved on. The flag is the record's:
    it is set once, at create (a PATCH trying to change it is a 422 before anything is held)."""
    proposed = {name: value for name, value in body.items() if name not in PRODUCER_FIELDS}
    before = {name: plain(record.get(name)) for name in proposed if name not in _LINK_FIELDS}
    if any(name in proposed for name in _LINK_FIELDS):
        before["contact_ids"] = list(record.get("contact_ids") or [])
    return new_approval("update", hold, company_id=record["company_id"], record_type=record["type"], record_id=record["id"], proposed=proposed,
                        before=before, trust=trust, creator_flag=record.get("creator_flag"), record_version=int(record["version"]))


def held_changelog(company_id: str, ticket_id: str, text: str, **hold: Unpack[Hold]) -> dict[str, Any]:
    """The release valve of contracts/feedback.md: a customer-facing ``text`` for a resolved
    ticket's reporters, held for a person."""
    return new_approval("changelog", hold, company_id=company_id, record_type="ticket", record_id=ticket_id, proposed={"text": text})


# ---- the state machine -----------------------------------------------------------------------
def past_expiry(approval: Mapping[str, Any], now: datetime) -> bool:
    """Whether ``expires_at`` has come (at it exactly included)."""
    return checks.parse_time(approval["expires_at"]) <= now


def check_pending(approval: Mapping[str, Any], now: datetime) -> None:
    """Nothing when a decision may be made now; else ``ApprovalNotPending`` (409) naming what it is."""
    current = approval["status"]
    if current != PENDING:
        raise ApprovalNotPending(f"approval {approval['id']} is {current}, not pending", current_status=current)
    if past_expiry(approval, now):
        raise ApprovalNotPending(f"approval {approval['id']} expired at {approval['expires_at']}", current_status="expired")


def check_record_current(approval: Mapping[str, Any], record: Mapping[str, Any] | None) -> None:
    """For an update: nothing while the record is the version the approval was held against;
    else ``RecordChanged`` (409). Other kinds have nothing to check."""
    if approval["kind"] != "update":
        return
    if record is None:
        raise RecordChanged(f"{approval['record_type']} {approval['record_id']} was deleted since this update was held")
    if int(record["version"]) != int(approval["record_version"]):
        raise RecordChanged(
            f"{approval['record_type']} {approval['record_id']} changed since this update was held "
            f"(version {approval['record_version']} then, {int(record['version'])} now)"
        )


def approved(
    approval: Mapping[str, Any],
    *,
    by: str,
    now: datetime,
    record: Mapping[str, Any] | None,
    changes: Mapping[str, Any] | None = None,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    """The approval once approved by ``by`` (an sso_id), with ``record`` what the approval made: the
    written record as the API shows it, or for a changelog ``{"text"}``, the words the reporters are
    told (the approver's edit, else the proposal); the approver's ``changes`` are kept for the audit."""
    check_pending(approval, now)
    out = dict(approval)
    out.update(
        status="approved",
        resolved_at=iso_ms(now),
        resolved_by=by,
        record=dict(record) if record is not None else None,
        changes=dict(changes) if changes else None,
        resolved_correlation_id=correlation_id,
    )
    if record is not None and out.get("record_id") is None:
        out["record_id"] = record.get("id")
    return out


def decision_event(approval: Mapping[str, Any]) -> dict[str, Any]:
    """The bus event of a decided approval (``approval.approved|rejected|expired``): ids, kind and
    status, no proposal text, except for a ``changelog`` its final ``text`` (the approver's edit,
    else the proposal), which the feedback capability sends to the reporters
    (contracts/feedback.md). ``event_id`` is derived from the approval and its status, so a
    redelivered stream record publishes the same event."""
    status = str(approval["status"])
    event = {
        "type": f"approval.{status}", "event": f"approval.{status}",
        "event_id": "evt_" + hashlib.sha256(f"{approval['id']}\x00{status}".encode()).hexdigest()[:32],
        "company_id": approval["company_id"], "approval_id": approval["id"], "kind": approval.get("kind"), "status": status,
        "record_type": approval.get("record_type"), "record_id": approval.get("record_id"), "resolved_at": approval.get("resolved_at"),
    }
    if approval.get("kind") == "changelog":
        event["text"] = {**(approval.get("proposed") or {}), **(approval.get("changes") or {})}.get("text")
    return event


def rejected(approval: Mapping[str, Any], *, by: str, now: datetime, reason: str | None, correlation_id: str | None = None) -> dict[str, Any]:
    """The approval once rejected by ``by``: nothing of the held action is ever written."""
    check_pending(approval, now)
    out = dict(approval)
    out.update(status="rejected", resolved_at=iso_ms(now), resolved_by=by, reason=reason, resolved_correlation_id=correlation_id)
    return out


def expired(approval: Mapping[str, Any], *, now: datetime, correlation_id: str | None = None) -> dict[str, Any] | None:
    """The approval once expired, or None when it is not due (not pending, or ``expires_at`` is
    still ahead). It expired at ``expires_at``, whenever the sweep that notices it runs."""
    if approval["status"] != PENDING or not past_expiry(approval, now):
        return None
    out = dict(approval)
    out.update(status="expired", resolved_at=approval["expires_at"], resolved_by=None, resolved_correlation_id=correlation_id)
    return out


# ---- request bodies --------------------------------------------------------------------------
def approve_changes(body: Any) -> dict[str, Any]:
    """The ``changes`` of an approve body ``{"changes": {fields}?}`` (an empty or absent body is
    no changes); a 422 naming each bad field. Whether each changed field is valid is the
    immediate path's to say, on ``merged_body``."""
    if body is None:
        return {}
    if (bad := checks.object_problem(body)) is not None:
        checks.fail([bad])
    problems: list[Problem] = checks.unknown_fields(body, ("changes",))
    changes = body.get("changes")
    if changes is None:
        changes = {}
    elif (bad := checks.object_problem(changes, "changes")) is not None:
        problems.append(bad)
        changes = {}
    for name in PRODUCER_FIELDS:
        if name in changes:
            problems.append(checks.problem(f"changes.{name}", "set by the producer; an approver cannot change it", "immutable"))
    checks.fail(problems)
    return dict(changes)


def changelog_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """An approver's ``changes`` to a changelog: only ``text``, checked by the feedback capability's
    own rule (a string, not blank, not over its length); a 422 naming ``changes.<field>``."""
    from parity.feedback.summary import check_changelog_text

    checks.fail(checks.problem(f"changes.{name}", "a changelog's only field is text", "extra_forbidden") for name in changes if name != "text")
    return {"text": check_changelog_text(changes["text"], field="changes.text")} if "text" in changes else {}


def reject_reason(body: Any) -> str | None:
    """The ``reason`` of a reject body ``{"reason"?}`` (≤ 1000 characters; blank is none)."""
    if body is None:
        return None
    if (bad := checks.object_problem(body)) is not None:
        checks.fail([bad])
    reason, bad = checks.free_text(body.get("reason"), "reason", max_length=MAX_REASON_LENGTH)
    checks.fail([*checks.unknown_fields(body, ("reason",)), *([bad] if bad else [])])
    return reason


def merged_body(approval: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """The body the immediate path validates and writes for an approved action: ``proposed`` with
    the approver's ``changes`` laid over it (a ``null`` clears a field), plus what the producer
    sent about itself (the flag of a create; confidence and agent_id, so the record keeps them)."""
    body = {**approval["proposed"], **changes}
    if approval["kind"] == "changelog":
        return body
    if approval["kind"] == "create" and approval.get("creator_flag") is not None:
        body["creator_flag"] = approval["creator_flag"]
    for name in ("confidence", "agent_id"):
        if approval.get(name) is not None:
            body[name] = approval[name]
    return body


def blame_changes(details: Sequence[Mapping[str, str]], changes: Mapping[str, Any]) -> list[dict[str, str]]:
    """A 422's details on ``merged_body`` with each field the approver changed named as
    ``changes.<field>`` (``crm_lead_ids[1]`` → ``changes.crm_lead_ids[1]``): the approver sees
    which of their edits to fix; a problem of the producer's own fields keeps its name."""
    out = []
    for detail in details:
        field = str(detail.get("field", ""))
        root = field.split(".", 1)[0].split("[", 1)[0]
        out.append({**detail, "field": f"changes.{field}"} if root in changes else dict(detail))
    return out


# ---- lists and batches -----------------------------------------------------------------------
def list_query(query: Mapping[str, Any]) -> dict[str, Any]:
    """``GET /approvals?status=&kind=&limit=&cursor=`` checked; a 422 names each bad one."""
    status, bad_status = checks.choice(query.get("status") or None, "status", STATUSES)
    kind, bad_kind = checks.choice(query.get("kind") or None, "kind", KINDS)
    limit, bad_limit = checks.limit(query.get("limit"))
    cursor, bad_cursor = checks.cursor(query.get("cursor"))
    checks.fail(p for p in (bad_status, bad_kind, bad_limit, bad_cursor) if p)
    return {"status": status, "kind": kind, "limit": limit, "cursor": cursor}


def batch_request(body: Any) -> tuple[list[tuple[str, Decision]], str | None]:
    """``{"approve": [ids], "reject": [ids], "reason"?}`` → the decisions in order (approvals
    first, each id once) and the rejects' reason. A 422 for a body that is not that shape: no id
    at all, more than ``MAX_BATCH``, an id that is not a string, an id in both lists. An id that
    cannot be an approval's is not a 422: it is that item's 404, the others go on."""
    if (bad := checks.object_problem(body)) is not None:
        checks.fail([bad])
    problems: list[Problem] = checks.unknown_fields(body, ("approve", "reject", "reason"))
    decisions: list[tuple[str, Decision]] = []
    seen: dict[str, Decision] = {}
    for decision, field in (("approve", "approve"), ("reject", "reject")):
        ids = body.get(field)
        if ids is None:
            continue
        if not isinstance(ids, list):
            problems.append(checks.problem(field, "must be a list of approval ids", "list_type"))
            continue
        if len(ids) > MAX_BATCH:  # as sent, repeats included (the document's maxItems)
            problems.append(checks.problem(field, f"at most {MAX_BATCH} ids", "too_long"))
            continue
        for index, item in enumerate(ids):
            if not isinstance(item, str):
                problems.append(checks.problem(f"{field}[{index}]", "must be a string", "string_type"))
            elif item in seen:
                if seen[item] != decision:
                    problems.append(checks.problem(f"{field}[{index}]", "is also in approve: decide each approval once", "value_error"))
            else:
                seen[item] = decision  # type: ignore[assignment]
                decisions.append((item, decision))  # type: ignore[arg-type]
    reason, bad_reason = checks.free_text(body.get("reason"), "reason", max_length=MAX_REASON_LENGTH)
    if bad_reason:
        problems.append(bad_reason)
    if not problems and not decisions:
        problems.append(checks.problem("approve", "give at least one approval id in approve or reject", "missing"))
    if len(decisions) > MAX_BATCH:
        problems.append(checks.problem("approve", f"at most {MAX_BATCH} ids in approve and reject together", "too_long"))
    checks.fail(problems)
    return decisions, reason


def batch_results(decisions: Sequence[tuple[str, Decision]], decide_one: Callable[[str, Decision], Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each decision made on its own: ``{"id", "status"}`` with the approval's new status, or
    ``{"id", "status", "error": {"code", "message"}}`` with the status it has (null when unknown,
    e.g. not found). One item's error never stops the others; an unexpected exception (a bug) does."""
    results: list[dict[str, Any]] = []
    for item_id, decision in decisions:
        try:
            after = decide_one(item_id, decision)
        except ParityError as exc:
            results.append({"id": item_id, "status": getattr(exc, "current_status", None), "error": {"code": exc.code, "message": exc.message}})
        else:
            results.append({"id": item_id, "status": after["status"]})
    return results


# ---- the API shape ---------------------------------------------------------------------------
def public(approval: Mapping[str, Any]) -> dict[str, Any]:
    """The approval as the API, the console and the notifications show it: the contract's
    fields only (company, correlation ids, the held record version and the edits stay inside)."""
    return {name: plain(approval.get(name)) for name in PUBLIC_FIELDS}
