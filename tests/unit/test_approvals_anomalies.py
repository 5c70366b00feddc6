"""Anomalies: the three rules with their minimum volumes, one open per type, self-resolving, acknowledge."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from itertools import count

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parity.approvals import anomalies as an
from parity.approvals.anomalies import AnomalyResolved, Counts
from parity.core.clock import iso_ms
from parity.core.errors import ValidationFailed

NOW = datetime(2026, 11, 23, 12, 2, 30, tzinfo=timezone.utc)


def line(minutes_ago=1.0, *, action="create", status="success", confidence=None, approval_id=None):
    return {"at": iso_ms(NOW - timedelta(minutes=minutes_ago)), "action": action, "status": status, "confidence": confidence, "approval_id": approval_id}


def counts(lines=(), pending=()):
    return an.tally(lines, pending, now=NOW)


def ids():
    numbers = count(1)
    return lambda: f"{next(numbers):04d}"


# ---- what counts -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("entry", "counted"),
    [
        (line(action="create"), True),
        (line(action="update", status="failed"), True),
        (line(action="held", status="pending"), True),
        (line(action="create", approval_id="apr_1"), False),  # the approved write: its held line counted
        (line(action="delete"), False),
        (line(action="approved"), False),
        (line(action="rejected", status="rejected"), False),
        (line(action="expired", status="rejected"), False),
    ],
)
def test_only_the_automations_own_attempts_count(entry, counted):
    assert an.counts_as_action(entry) is counted


def test_buckets_are_five_minutes():
    assert an.bucket_start("2026-11-23T12:04:59.999Z") == datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
    assert an.bucket_start("2026-11-23T12:05:00.000Z") == datetime(2026, 11, 23, 12, 5, tzinfo=timezone.utc)


def test_a_line_contributes_to_its_bucket():
    start, adds = an.contribution(line(0.5, status="failed", confidence=Decimal("0.4")))
    assert start == "2026-11-23T12:00:00.000Z"
    assert adds == {"actions": 1, "failed": 1, "scored": 1, "confidence_sum": Decimal("0.4")}
    assert an.contribution(line(action="approved")) is None


def test_the_windows_read_the_last_hour_and_the_last_day():
    # GIVEN actions 30 min, 2 h and 30 h ago
    c = counts([line(30, status="failed", confidence=Decimal("0.5")), line(120, confidence=Decimal("0.7")), line(30 * 60, confidence=Decimal("0.1"))])
    # THEN the hour sees one (failed), the day sees two scores
    assert (c.actions, c.failed, c.scored, c.confidence_sum) == (1, 1, 2, Decimal("1.2"))


def test_the_window_starts_on_a_bucket_boundary_never_narrower_than_stated():
    # GIVEN now 12:02:30: actions at 11:02:30 (an hour ago) and 11:00:00 (62.5 min ago, same bucket)
    c = counts([line(60), line(62.5)])
    # THEN the one-hour window starts at 11:00, the bucket of 11:02:30: both count (at most 5 min wider)
    assert c.actions == 2
    # AND one at 10:57:30, in the bucket before, does not
    assert counts([line(65)]).actions == 0


# ---- high failure rate -----------------------------------------------------------------------
def failing(total, failed):
    return [line(1 + i * 0.1, status="failed" if i < failed else "success") for i in range(total)]


@pytest.mark.parametrize(
    ("total", "failed", "trips"),
    [
        (20, 5, True),  # 25 % of 20
        (20, 4, False),  # exactly 20 % is not above
        (19, 19, False),  # below the minimum volume, however bad
        (100, 21, True),
        (100, 20, False),
    ],
)
def test_high_failure_rate_needs_over_20_percent_of_at_least_20_actions(total, failed, trips):
    found = an.findings(counts(failing(total, failed)))
    assert ("high_failure_rate" in found) is trips
    if trips:
        data = found["high_failure_rate"]["data"]
        assert (data["failed"], data["total"], found["high_failure_rate"]["severity"]) == (failed, total, "error")
        assert data["rate"] == (Decimal(failed) / total).quantize(Decimal("0.0001"))
        assert data["window"] == {"since": "2026-11-23T11:00:00.000Z", "until": "2026-11-23T12:02:30.000Z"}


# ---- low confidence --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("scores", "trips"),
    [
        ([Decimal("0.5")] * 20, True),
        ([Decimal("0.6")] * 20, False),  # exactly 0.6 is not below
        ([Decimal("0.1")] * 19, False),  # 19 scored: below the minimum volume
        ([Decimal("0.59")] * 20 + [None] * 50, True),  # unscored actions do not dilute the mean
    ],
)
def test_low_confidence_needs_a_mean_below_0_6_over_at_least_20_scored_actions(scores, trips):
    found = an.findings(counts([line(60 * 5, confidence=c) for c in scores]))
    assert ("low_confidence" in found) is trips
    if trips:
        data = found["low_confidence"]["data"]
        assert data["count"] == 20 and data["mean_confidence"] < Decimal("0.6")
        assert found["low_confidence"]["severity"] == "warning"


# ---- approval backlog ------------------------------------------------------------------------
def pending(hours_ago, *, expires_in_hours=24, status="pending"):
    created = NOW - timedelta(hours=hours_ago)
    return {"created_at": iso_ms(created), "expires_at": iso_ms(created + timedelta(hours=expires_in_hours)), "status": status}


def test_a_pending_approval_older_than_4h_is_a_backlog():
    found = an.findings(counts(pending=[pending(5), pending(4.5), pending(1)]))
    data = found["approval_backlog"]["data"]
    assert (data["count"], data["oldest_pending_at"]) == (2, iso_ms(NOW - timedelta(hours=5)))


@pytest.mark.parametrize("entry", [pending(4), pending(3.9), pending(5, expires_in_hours=4.5), pending(6, status="approved")])
def test_no_backlog_for_young_expired_or_decided_approvals(entry):
    assert "approval_backlog" not in an.findings(counts(pending=[entry]))


# ---- one open per type, self-resolving -------------------------------------------------------
TRIPPING = {"high_failure_rate": {"severity": "error", "title": "t", "data": {"failed": 9}}}


def test_a_finding_opens_one_active_anomaly():
    plan = an.run("c1", [], TRIPPING, now=NOW, make_id=ids())
    [opened] = plan.opened
    assert (opened["id"], opened["type"], opened["status"], opened["created_at"]) == ("ano_0001", "high_failure_rate", "active", iso_ms(NOW))
    assert plan.resolved == [] and plan.kept == []


@pytest.mark.parametrize("status", ["active", "acknowledged"])
def test_a_finding_with_one_open_opens_nothing(status):
    existing = {**an.new_anomaly("c1", "high_failure_rate", TRIPPING["high_failure_rate"], anomaly_id="ano_1", now=NOW), "status": status}
    plan = an.run("c1", [existing], TRIPPING, now=NOW + timedelta(minutes=5), make_id=ids())
    assert plan.opened == [] and plan.resolved == [] and plan.kept == [existing]


@pytest.mark.parametrize("status", ["active", "acknowledged"])
def test_an_open_anomaly_resolves_on_the_first_run_where_its_rule_no_longer_trips(status):
    existing = {**an.new_anomaly("c1", "high_failure_rate", TRIPPING["high_failure_rate"], anomaly_id="ano_1", now=NOW), "status": status}
    later = NOW + timedelta(minutes=5)
    plan = an.run("c1", [existing], {}, now=later, make_id=ids())
    [resolved] = plan.resolved
    assert (resolved["id"], resolved["status"], resolved["resolved_at"]) == ("ano_1", "resolved", iso_ms(later))


def test_a_resolved_anomaly_does_not_block_a_new_one():
    old = {**an.new_anomaly("c1", "high_failure_rate", TRIPPING["high_failure_rate"], anomaly_id="ano_1", now=NOW), "status": "resolved"}
    assert len(an.run("c1", [old], TRIPPING, now=NOW, make_id=ids()).opened) == 1


def test_two_open_of_one_type_are_repaired_to_one():
    a = an.new_anomaly("c1", "high_failure_rate", TRIPPING["high_failure_rate"], anomaly_id="ano_a", now=NOW)
    b = an.new_anomaly("c1", "high_failure_rate", TRIPPING["high_failure_rate"], anomaly_id="ano_b", now=NOW + timedelta(minutes=1))
    plan = an.run("c1", [b, a], TRIPPING, now=NOW, make_id=ids())
    assert [x["id"] for x in plan.kept] == ["ano_a"] and [x["id"] for x in plan.resolved] == ["ano_b"]


@settings(max_examples=60)
@given(st.lists(st.sets(st.sampled_from(an.TYPES)), min_size=1, max_size=12))
def test_over_any_sequence_of_runs_at_most_one_open_per_type_and_each_resolves_when_its_rule_stops(runs):
    # GIVEN a store applying each run's plan, and each run tripping some set of rules
    store: dict[str, dict] = {}
    make = ids()
    for step, tripping in enumerate(runs):
        now = NOW + timedelta(minutes=5 * step)
        found = {t: {"severity": an.SEVERITY[t], "title": t, "data": {}} for t in tripping}
        plan = an.run("c1", store.values(), found, now=now, make_id=make)
        for anomaly in plan.opened + plan.resolved:
            store[anomaly["id"]] = anomaly
        open_types = [a["type"] for a in store.values() if a["status"] in an.OPEN]
        # THEN after every run: exactly the tripping types are open, each once
        assert sorted(open_types) == sorted(tripping)


# ---- acknowledge -----------------------------------------------------------------------------
def test_acknowledging_an_active_anomaly_records_who():
    active = an.new_anomaly("c1", "low_confidence", {"severity": "warning", "title": "t", "data": {}}, anomaly_id="ano_1", now=NOW)
    done = an.acknowledge(active, by="ana", now=NOW)
    assert (done["status"], done["acknowledged_by"]) == ("acknowledged", "ana")


def test_acknowledging_again_keeps_the_first_acknowledger():
    active = an.new_anomaly("c1", "low_confidence", {"severity": "warning", "title": "t", "data": {}}, anomaly_id="ano_1", now=NOW)
    first = an.acknowledge(active, by="ana", now=NOW)
    assert an.acknowledge(first, by="bo", now=NOW + timedelta(seconds=1)) == first


def test_acknowledging_a_resolved_anomaly_is_a_409():
    resolved = {**an.new_anomaly("c1", "low_confidence", {"severity": "warning", "title": "t", "data": {}}, anomaly_id="ano_1", now=NOW), "status": "resolved", "resolved_at": iso_ms(NOW)}
    with pytest.raises(AnomalyResolved) as caught:
        an.acknowledge(resolved, by="ana", now=NOW)
    assert (caught.value.status, caught.value.code) == (409, "anomaly_resolved")


# ---- the API ---------------------------------------------------------------------------------
def test_the_public_shape_is_the_contracts():
    found = an.findings(Counts(NOW, actions=20, failed=7))
    plan = an.run("c1", [], found, now=NOW, make_id=ids())
    shown = an.public(plan.opened[0])
    assert list(shown) == list(an.PUBLIC_FIELDS)
    assert shown["data"]["rate"] == Decimal("0.35") and "35.0 %" in shown["title"]


def test_the_list_query_is_checked():
    assert an.list_query({"status": "active"}) == {"status": "active", "limit": 50, "cursor": None}
    with pytest.raises(ValidationFailed) as caught:
        an.list_query({"status": "open"})
    assert [d["field"] for d in caught.value.details] == ["status"]
