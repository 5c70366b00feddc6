"""Anomalies: when a company's automations go wrong, and the one open alert per kind of trouble.

Three rules, each with a minimum volume so that a quiet company is not alarmed by two failures:

===================  =========  ===============================================================
type                 severity   trips when
===================  =========  ===============================================================
high_failure_rate    error      failed / all bot-AI actions of the last hour > 20 %,
                                with at least 20 actions in that hour
low_confidence       warning    mean confidence of the last 24 h < 0.6,
                                with at least 20 scored actions (actions with a confidence)
approval_backlog     warning    a pending approval older than 4 h (not yet past its expiry)
===================  =========  ===============================================================

**What counts as a bot-AI action**: an activity line whose action is ``create``, ``update`` or
``held`` (the automation's own attempts, successful, refused or held). Not counted: a ``create`` or
``update`` an approval wrote (its ``held`` line already counted that attempt), a ``delete`` (the
stream does not say who deleted), and the decisions (``approved``/``rejected``/``expired`` are a
person's or the clock's, not the automation's).

**Counts**: the detector does not scan the log. Each new line adds its ``contribution`` to a
per-company counter of its 5-minute bucket (``bucket_start``), written with the line itself, so
a redelivered line adds nothing; ``window_counts`` sums the buckets of each window (the windows
start on a bucket boundary: at most 5 minutes wider than stated, never narrower).

**One open anomaly per company and type** (open = ``active`` or ``acknowledged``). ``run``
compares the rules' findings with the open anomalies: a finding with none open opens one
(``active``); a finding with one open changes nothing (its ``data`` keeps the figures that tripped
it); an open one whose rule no longer trips, below the minimum volume included, is ``resolved``
on that run. The store guards the invariant with a per-type "open slot" item written in the same
transaction, so two racing detector runs open at most one.

**Acknowledge** (an approver): an ``active`` anomaly becomes ``acknowledged`` by the caller's
sso_id. Acknowledging an ``acknowledged`` one answers it unchanged (the first acknowledger stays;
two approvers clicking together both succeed). Acknowledging a ``resolved`` one is a 409
``anomaly_resolved``: there is nothing open to acknowledge, and answering 200 would suggest an
acknowledgement was recorded on something that is over.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Literal

from parity.approvals import checks
from parity.core.clock import iso_ms
from parity.core.errors import ParityError
from parity.core.jsonio import plain

AnomalyType = Literal["high_failure_rate", "low_confidence", "approval_backlog"]
AnomalyStatus = Literal["active", "acknowledged", "resolved"]
TYPES: tuple[AnomalyType, ...] = ("high_failure_rate", "low_confidence", "approval_backlog")
STATUSES: tuple[AnomalyStatus, ...] = ("active", "acknowledged", "resolved")
OPEN: tuple[AnomalyStatus, ...] = ("active", "acknowledged")
SEVERITY: Mapping[AnomalyType, str] = {"high_failure_rate": "error", "low_confidence": "warning", "approval_backlog": "warning"}

FAILURE_WINDOW = timedelta(hours=1)
MAX_FAILURE_RATE = Decimal("0.2")
MIN_ACTIONS = 20
CONFIDENCE_WINDOW = timedelta(hours=24)
MIN_MEAN_CONFIDENCE = Decimal("0.6")
MIN_SCORED = 20
BACKLOG_AGE = timedelta(hours=4)
BUCKET = timedelta(minutes=5)
ID_PREFIX = "ano_"
#: The lines' actions that are the automation's own attempts.
COUNTED_ACTIONS = ("create", "update", "held")
PUBLIC_FIELDS = ("id", "type", "severity", "status", "title", "data", "created_at", "acknowledged_by", "resolved_at")
_FOUR_PLACES = Decimal("0.0001")


class AnomalyResolved(ParityError):
    """Acknowledging an anomaly that has resolved itself (409)."""

    status, code = 409, "anomaly_resolved"


# ---- counting --------------------------------------------------------------------------------
def counts_as_action(line: Mapping[str, Any]) -> bool:
    """Whether an activity line is one of the automation's own attempts (see the module docstring)."""
    if line.get("action") not in COUNTED_ACTIONS:
        return False
    return not (line["action"] in ("create", "update") and line.get("approval_id"))


def bucket_start(at: str | datetime) -> datetime:
    """The start of the 5-minute bucket holding ``at``."""
    moment = checks.parse_time(at) if isinstance(at, str) else at.astimezone(timezone.utc)
    return moment - timedelta(minutes=moment.minute % 5, seconds=moment.second, microseconds=moment.microsecond)


def contribution(line: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """``(bucket start as iso_ms, {"actions", "failed", "scored", "confidence_sum"})`` that a new
    line adds to its company's counters, or None when it is not counted."""
    if not counts_as_action(line):
        return None
    confidence = line.get("confidence")
    return iso_ms(bucket_start(line["at"])), {
        "actions": 1,
        "failed": 1 if line.get("status") == "failed" else 0,
        "scored": 0 if confidence is None else 1,
        "confidence_sum": Decimal(0) if confidence is None else Decimal(confidence),
    }


@dataclass(frozen=True)
class Counts:
    """What the rules look at, for one company at one moment."""

    now: datetime
    actions: int = 0  # last hour
    failed: int = 0  # last hour
    scored: int = 0  # last 24 h
    confidence_sum: Decimal = Decimal(0)  # last 24 h
    backlog: int = 0  # pending approvals older than BACKLOG_AGE
    oldest_pending_at: str | None = None


def window_start(now: datetime, width: timedelta) -> datetime:
    """The first bucket a window of ``width`` ending at ``now`` reads."""
    return bucket_start(now - width)


def window_counts(buckets: Mapping[str, Mapping[str, Any]], pending: Iterable[Mapping[str, Any]], *, now: datetime) -> Counts:
    """The rules' figures from a company's bucket counters (bucket start → sums) and its pending
    approvals (each with ``created_at`` and ``expires_at``)."""
    hour_from = iso_ms(window_start(now, FAILURE_WINDOW))
    day_from = iso_ms(window_start(now, CONFIDENCE_WINDOW))
    until = iso_ms(now)
    actions = failed = scored = 0
    confidence_sum = Decimal(0)
    for start, sums in buckets.items():
        if start > until:
            continue
        if start >= hour_from:
            actions += int(sums.get("actions", 0))
            failed += int(sums.get("failed", 0))
        if start >= day_from:
            scored += int(sums.get("scored", 0))
            confidence_sum += Decimal(sums.get("confidence_sum", 0))
    backlog, oldest = _backlog(pending, now)
    return Counts(now, actions, failed, scored, confidence_sum, backlog, oldest)


def tally(lines: Iterable[Mapping[str, Any]], pending: Iterable[Mapping[str, Any]], *, now: datetime) -> Counts:
    """``window_counts`` straight from activity lines: what the counters mean, stated once (the tests read it)."""
    buckets: dict[str, dict[str, Any]] = {}
    for line in lines:
        found = contribution(line)
        if found is None:
            continue
        start, adds = found
        sums = buckets.setdefault(start, {"actions": 0, "failed": 0, "scored": 0, "confidence_sum": Decimal(0)})
        for name, value in adds.items():
            sums[name] += value
    return window_counts(buckets, pending, now=now)


def _backlog(pending: Iterable[Mapping[str, Any]], now: datetime) -> tuple[int, str | None]:
    cutoff = iso_ms(now - BACKLOG_AGE)
    stamp = iso_ms(now)
    old = sorted(
        str(item["created_at"])
        for item in pending
        if item.get("status", "pending") == "pending" and str(item["created_at"]) < cutoff and str(item["expires_at"]) > stamp
    )
    return len(old), (old[0] if old else None)


# ---- the rules -------------------------------------------------------------------------------
def _ratio(numerator: Decimal | int, denominator: int) -> Decimal:
    return (Decimal(numerator) / Decimal(denominator)).quantize(_FOUR_PLACES, rounding=ROUND_HALF_EVEN)


def findings(counts: Counts) -> dict[AnomalyType, dict[str, Any]]:
    """The rules that trip now: type → ``{"severity", "title", "data"}``. Compared exactly
    (``failed * 5 > actions``), shown rounded to 4 places."""
    now = counts.now
    found: dict[AnomalyType, dict[str, Any]] = {}
    if counts.actions >= MIN_ACTIONS and Decimal(counts.failed) > MAX_FAILURE_RATE * counts.actions:
        rate = _ratio(counts.failed, counts.actions)
        found["high_failure_rate"] = {
            "title": f"{counts.failed} of {counts.actions} bot/AI actions failed in the last hour ({_percent(rate)})",
            "data": {"failed": counts.failed, "total": counts.actions, "rate": rate, "window": _window(now, FAILURE_WINDOW)},
        }
    if counts.scored >= MIN_SCORED and counts.confidence_sum < MIN_MEAN_CONFIDENCE * counts.scored:
        mean = _ratio(counts.confidence_sum, counts.scored)
        found["low_confidence"] = {
            "title": f"Mean confidence {mean.normalize():f} over {counts.scored} bot/AI actions in the last 24 h (below {MIN_MEAN_CONFIDENCE})",
            "data": {"mean_confidence": mean, "count": counts.scored, "window": _window(now, CONFIDENCE_WINDOW)},
        }
    if counts.backlog:
        found["approval_backlog"] = {
            "title": f"{counts.backlog} approval{'s' if counts.backlog != 1 else ''} pending for more than 4 h",
            "data": {"count": counts.backlog, "oldest_pending_at": counts.oldest_pending_at, "window": {"since": None, "until": iso_ms(now - BACKLOG_AGE)}},
        }
    for anomaly_type, finding in found.items():
        finding["severity"] = SEVERITY[anomaly_type]
    return found


def _window(now: datetime, width: timedelta) -> dict[str, str]:
    return {"since": iso_ms(window_start(now, width)), "until": iso_ms(now)}


def _percent(rate: Decimal) -> str:
    return f"{(rate * 100).quantize(Decimal('0.1'))} %"


# ---- one open anomaly per type ---------------------------------------------------------------
@dataclass
class Plan:
    """What one detector run writes for a company: anomalies to open (each conditional on no open
    one of its type) and open ones to resolve. ``kept`` are open ones that still trip."""

    opened: list[dict[str, Any]] = field(default_factory=list)
    resolved: list[dict[str, Any]] = field(default_factory=list)
    kept: list[dict[str, Any]] = field(default_factory=list)


def new_anomaly(company_id: str, anomaly_type: AnomalyType, finding: Mapping[str, Any], *, anomaly_id: str, now: datetime) -> dict[str, Any]:
    return {
        "id": anomaly_id,
        "company_id": company_id,
        "type": anomaly_type,
        "severity": finding["severity"],
        "status": "active",
        "title": finding["title"],
        "data": dict(finding["data"]),
        "created_at": iso_ms(now),
        "acknowledged_by": None,
        "acknowledged_at": None,
        "resolved_at": None,
    }


def run(
    company_id: str,
    open_anomalies: Iterable[Mapping[str, Any]],
    found: Mapping[AnomalyType, Mapping[str, Any]],
    *,
    now: datetime,
    make_id: Callable[[], str],
) -> Plan:
    """One detector run for one company. Should the store ever hold two open anomalies of a type,
    the oldest stays and the others are resolved: the invariant comes back on its own."""
    plan = Plan()
    by_type: dict[str, list[Mapping[str, Any]]] = {}
    for anomaly in open_anomalies:
        if anomaly.get("status") in OPEN:
            by_type.setdefault(anomaly["type"], []).append(anomaly)
    for anomaly_type in TYPES:
        current = sorted(by_type.get(anomaly_type, []), key=lambda a: (a["created_at"], a["id"]))
        if anomaly_type in found and current:
            plan.kept.append(dict(current[0]))
            extras = current[1:]
        elif anomaly_type in found:
            plan.opened.append(new_anomaly(company_id, anomaly_type, found[anomaly_type], anomaly_id=ID_PREFIX + make_id(), now=now))
            extras = []
        else:
            extras = current
        plan.resolved += [{**a, "status": "resolved", "resolved_at": iso_ms(now)} for a in extras]
    return plan


def acknowledge(anomaly: Mapping[str, Any], *, by: str, now: datetime) -> dict[str, Any]:
    """The anomaly once acknowledged by ``by`` (see the module docstring for each status)."""
    if anomaly["status"] == "resolved":
        raise AnomalyResolved(f"anomaly {anomaly['id']} resolved at {anomaly.get('resolved_at')}; there is nothing open to acknowledge")
    if anomaly["status"] == "acknowledged":
        return dict(anomaly)
    return {**anomaly, "status": "acknowledged", "acknowledged_by": by, "acknowledged_at": iso_ms(now)}


# ---- the API ---------------------------------------------------------------------------------
def list_query(query: Mapping[str, Any]) -> dict[str, Any]:
    """``GET /anomalies?status=&limit=&cursor=`` checked."""
    status, bad_status = checks.choice(query.get("status") or None, "status", STATUSES)
    limit, bad_limit = checks.limit(query.get("limit"))
    cursor, bad_cursor = checks.cursor(query.get("cursor"))
    checks.fail(p for p in (bad_status, bad_limit, bad_cursor) if p)
    return {"status": status, "limit": limit, "cursor": cursor}


def public(anomaly: Mapping[str, Any]) -> dict[str, Any]:
    return {name: plain(anomaly.get(name)) for name in PUBLIC_FIELDS}
