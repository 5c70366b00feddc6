"""Anomalies on the functional tier (contracts/approvals.md "Anomalies"): the detector on its
schedule (invoked as EventBridge would, and through the local stack's ``POST /_local/anomalies/run``)
over the companies' real activity: the three rules with their minimum volumes, one open anomaly per
type, acknowledgement, and resolving on its own once the condition no longer holds."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from .test_approvals import AI_TICKET, Trust, age

SCHEDULED = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}


def run_detector(wired) -> dict[str, Any]:
    return wired.runtime.invoke("AnomalyDetectorFunction", SCHEDULED)


def anomalies(trust: Trust, **query: str) -> list[dict[str, Any]]:
    answer = trust.call("GET", "/anomalies", query=query or None)
    assert answer.status == 200, answer.text
    return answer.json()["data"]


def act(trust: Trust, *, good: int, refused: int, confidence: float) -> None:
    """AI tickets: ``good`` written, ``refused`` refused (a bad priority) — all with ``confidence``."""
    for _ in range(good):
        assert trust.call("POST", "/tickets", trust.producer, json={**AI_TICKET, "confidence": confidence}).status == 201
    for _ in range(refused):
        assert trust.call("POST", "/tickets", trust.producer, json={**AI_TICKET, "confidence": confidence, "priority": 5}).status == 422


def forget_counters(wired, company_id: str) -> None:
    """As if the windows had moved past the company's activity: its 5-minute counters are gone."""
    ddb, table = wired.aws.client("dynamodb"), wired.stack.outputs["TrustTableName"]
    items = ddb.query(TableName=table, KeyConditionExpression="pk = :pk AND begins_with(sk, :c)",
                      ExpressionAttributeValues={":pk": {"S": f"COMPANY#{company_id}"}, ":c": {"S": "CNT#"}})["Items"]
    for item in items:
        ddb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})


def test_failures_and_low_confidence_open_one_anomaly_each_acknowledged_then_resolved(wired, company):
    trust = Trust(wired, company())
    # GIVEN 20 AI actions in the last hour, 5 of them refused, all at confidence 0.3
    act(trust, good=15, refused=5, confidence=0.3)
    wired.drain()
    # WHEN the detector runs, twice
    run_detector(wired)
    run_detector(wired)
    # THEN one anomaly of each of the two types is open: the figures that tripped it, the window
    opened = {a["type"]: a for a in anomalies(trust)}
    assert set(opened) == {"high_failure_rate", "low_confidence"}
    failure, confidence = opened["high_failure_rate"], opened["low_confidence"]
    assert (failure["severity"], failure["status"]) == ("error", "active")
    assert {k: failure["data"][k] for k in ("failed", "total", "rate")} == {"failed": 5, "total": 20, "rate": 0.25}
    assert set(failure["data"]["window"]) == {"since", "until"}
    assert (confidence["severity"], confidence["data"]["mean_confidence"], confidence["data"]["count"]) == ("warning", 0.3, 20)
    # WHEN an approver acknowledges one (a producer may not; another company's is a 404)
    assert trust.call("POST", f"/anomalies/{failure['id']}/acknowledge", trust.producer).status == 403
    stranger = Trust(wired, company())
    assert stranger.call("POST", f"/anomalies/{failure['id']}/acknowledge", stranger.admin).status == 404
    assert anomalies(stranger) == []
    acked = trust.call("POST", f"/anomalies/{failure['id']}/acknowledge").json()["data"]
    assert (acked["status"], acked["acknowledged_by"]) == ("acknowledged", "ana@acme")
    assert trust.call("POST", f"/anomalies/{failure['id']}/acknowledge", trust.admin).json()["data"]["acknowledged_by"] == "ana@acme"
    assert [a["id"] for a in anomalies(trust, status="acknowledged")] == [failure["id"]]
    # WHEN the windows move past it (its counters gone) and the detector runs again
    forget_counters(wired, trust.company.id)
    run_detector(wired)
    # THEN both resolved themselves, and acknowledging one now is a 409
    resolved = anomalies(trust, status="resolved")
    assert {a["id"] for a in resolved} == {failure["id"], confidence["id"]} and all(a["resolved_at"] for a in resolved)
    assert trust.call("POST", f"/anomalies/{confidence['id']}/acknowledge").status == 409
    assert anomalies(trust, status="active") == []


def test_below_the_minimum_volumes_nothing_opens(wired, company):
    trust = Trust(wired, company())
    # GIVEN 19 AI actions, every one refused, at confidence 0.1
    act(trust, good=0, refused=19, confidence=0.1)
    wired.drain()
    run_detector(wired)
    # THEN neither rule trips: under 20 actions in the hour, under 20 scored in the day
    assert anomalies(trust) == []


def test_an_approval_pending_over_four_hours_is_a_backlog_until_it_is_decided(wired, company):
    trust = Trust(wired, company())
    trust.policy({"agentic_ai": {"min_confidence": 0.8}})
    held, recent = trust.hold(), trust.hold()
    age(wired, trust.company.id, held["id"], created=timedelta(hours=5))
    run_detector(wired)
    (backlog,) = anomalies(trust)
    assert (backlog["type"], backlog["severity"], backlog["data"]["count"]) == ("approval_backlog", "warning", 1)
    assert backlog["data"]["oldest_pending_at"] < recent["created_at"]
    # WHEN it is approved THEN the next run resolves the backlog
    assert trust.call("POST", f"/approvals/{held['id']}/approve").status == 200
    run_detector(wired)
    assert anomalies(trust)[0]["status"] == "resolved"


def test_the_local_stack_runs_the_detector_on_request(wired, company, local_stack):
    trust = Trust(wired, company())
    trust.policy({"agentic_ai": {"min_confidence": 0.8}})
    age(wired, trust.company.id, trust.hold()["id"], created=timedelta(hours=6))
    # WHEN a developer asks the local stack to run it now
    answer = httpx.post(f"{local_stack.base_url}/_local/anomalies/run", timeout=60)
    # THEN it ran, as its schedule would run it
    assert answer.status_code == 200 and answer.json()["data"]["companies"] >= 1
    assert [a["type"] for a in anomalies(trust)] == ["approval_backlog"]
    assert httpx.get(f"{local_stack.base_url}/_local/anomalies/run", timeout=10).status_code == 405
