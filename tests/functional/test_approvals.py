"""Trust in AI actions on the functional tier (contracts/approvals.md, route by route): the approval
policy, held creates and PATCHes, the approval inbox and its decisions, expiry, the activity log and
the budgets of the create path. The whole pipeline runs (``wired``): the CRM and trust tables'
streams, the activity queue, the functions in their own workers. Anomalies and Slack are in
``test_anomalies.py`` and ``test_approval_notifications.py``.

Over 400 lines on purpose: the contract route by route on one wired stack and its shared helpers (a company's admin, approver and producer).
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from ..racing import at_once
from .conftest import DYNAMODB_WRITES, new_room

AI_TICKET = {"name": "Refund for order 42", "priority": "high", "creator_flag": "agentic_ai", "confidence": 0.65, "agent_id": "triage-ai"}


# ---- helpers -----------------------------------------------------------------------------------
class Trust:
    """One company's people on the API: an admin, an approver and a producer (each their own token)."""

    def __init__(self, wired, made) -> None:
        self.wired, self.company = wired, made
        self.admin = wired.login(made.keys["admin"], sso_id="root@acme")
        self.approver = wired.login(made.keys["approver"], sso_id="ana@acme")
        self.producer = wired.login(made.keys["producer"], sso_id="triage-bot")

    def call(self, method: str, path: str, auth: dict[str, str] | None = None, **kwargs: Any):
        return self.wired.gateway.invoke(method, f"/api/v3.1{path}", headers={**(auth or self.approver), **kwargs.pop("headers", {})}, **kwargs)

    def policy(self, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.call("PUT", "/approval-policy", self.admin, json=body)
        assert answer.status == 200, answer.text
        return answer.json()["data"]

    def hold(self, kind: str = "tickets", **fields: Any) -> dict[str, Any]:
        body = {**AI_TICKET, "channel_integration_room_id": new_room(), **fields}
        if kind == "deals":
            body.pop("priority", None)
        answer = self.call("POST", f"/{kind}", self.producer, json=body)
        assert answer.status == 202, answer.text
        return answer.json()["data"]["approval"]

    def approval(self, approval_id: str) -> dict[str, Any]:
        answer = self.call("GET", f"/approvals/{approval_id}")
        assert answer.status == 200, answer.text
        return answer.json()["data"]

    def activity(self, **query: str) -> list[dict[str, Any]]:
        answer = self.call("GET", "/activity", query=query or None)
        assert answer.status == 200, answer.text
        return answer.json()["data"]


@pytest.fixture
def trust(wired, company) -> Trust:
    return Trust(wired, company())


def crm_items(wired, company_id: str) -> list[dict[str, Any]]:
    """Every deal and ticket item of the company in the CRM table."""
    ddb = wired.aws.client("dynamodb")
    items = ddb.query(TableName=wired.stack.outputs["CrmTableName"], KeyConditionExpression="pk = :pk",
                      ExpressionAttributeValues={":pk": {"S": f"COMPANY#{company_id}"}})["Items"]
    return [i for i in items if i["sk"]["S"].startswith(("DEAL#", "TICKET#"))]


def trust_key(company_id: str, approval_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"COMPANY#{company_id}"}, "sk": {"S": f"APR#{approval_id}"}}


def age(wired, company_id: str, approval_id: str, *, created: timedelta = timedelta(0), expires: timedelta | None = None) -> None:
    """Move an approval's times into the past, as time passing would (``expires``: how long ago it expired)."""
    now = datetime.now(timezone.utc)
    stamp = lambda moment: moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")  # noqa: E731
    values = {":c": {"S": stamp(now - created)}}
    update = "SET created_at = :c"
    if expires is not None:
        update += ", expires_at = :e"
        values[":e"] = {"S": stamp(now - expires)}
    wired.aws.client("dynamodb").update_item(TableName=wired.stack.outputs["TrustTableName"], Key=trust_key(company_id, approval_id),
                                             UpdateExpression=update, ExpressionAttributeValues=values)


# ---- the policy ---------------------------------------------------------------------------------
def test_the_policy_defaults_to_nothing_held_any_role_reads_it_and_an_admin_replaces_it_whole(trust):
    # GIVEN a company that never set one: THEN every role reads the default
    for auth in (trust.producer, trust.approver, trust.admin):
        answer = trust.call("GET", "/approval-policy", auth)
        assert answer.status == 200 and answer.json()["data"] == {"bot": {"min_confidence": None}, "agentic_ai": {"min_confidence": None}, "expires_in": 86400}
    # WHEN an admin PUTs a threshold for the AI THEN the whole policy is replaced and answered
    assert trust.policy({"agentic_ai": {"min_confidence": 0.8}, "expires_in": 3600}) == {"bot": {"min_confidence": None}, "agentic_ai": {"min_confidence": 0.8}, "expires_in": 3600}
    # AND a later PUT without expires_in takes the default again (replaced, not merged)
    assert trust.policy({"bot": {"min_confidence": 0.5}})["expires_in"] == 86400
    # AND below an admin, a PUT is a 403 and changes nothing
    for auth in (trust.producer, trust.approver):
        refused = trust.call("PUT", "/approval-policy", auth, json={})
        assert refused.status == 403 and refused.json()["error"]["code"] == "forbidden"
        # even with a body that is not JSON at all, or not a policy: the role is checked before the body is read
        for body in ({"body": "{not json"}, {"json": {"bot": {"min_confidence": 7}}}):
            for path in ("/approval-policy", "/notification-settings"):
                assert trust.call("PUT", path, auth, **body).status == 403
    assert trust.call("GET", "/approval-policy", trust.producer).json()["data"]["bot"] == {"min_confidence": 0.5}


def test_a_bad_policy_is_a_422_naming_every_field(trust):
    answer = trust.call("PUT", "/approval-policy", trust.admin, json={"bot": {"min_confidence": 1.5}, "agentic_ai": {"min_confidance": 0.8}, "expires_in": 299})
    assert answer.status == 422
    assert sorted(d["field"] for d in answer.json()["error"]["details"]) == ["agentic_ai.min_confidance", "bot.min_confidence", "expires_in"]


# ---- held creates and PATCHes ---------------------------------------------------------------------
def test_a_held_ai_create_is_a_202_and_nothing_reaches_the_crm_and_a_replay_answers_the_same_202(trust, wired):
    trust.policy({"agentic_ai": {"min_confidence": 0.8}})
    room = new_room()
    body = {**AI_TICKET, "channel_integration_room_id": room}
    key = {"Idempotency-Key": uuid.uuid4().hex}
    # WHEN the AI creates a ticket with confidence 0.65
    held = trust.call("POST", "/tickets", trust.producer, json=body, headers=key)
    # THEN it is held: 202 with the pending approval
    assert held.status == 202, held.text
    approval = held.json()["data"]["approval"]
    assert approval["id"].startswith("apr_") and approval["status"] == "pending" and approval["kind"] == "create"
    assert (approval["record_type"], approval["record_id"], approval["confidence"], approval["agent_id"], approval["creator_flag"]) == ("ticket", None, 0.65, "triage-ai", "agentic_ai")
    assert approval["proposed"] == {"name": "Refund for order 42", "priority": "high", "channel_integration_room_id": room}
    # AND a replay of the request answers the same 202
    again = trust.call("POST", "/tickets", trust.producer, json=body, headers=key)
    assert (again.status, again.headers.get("idempotent-replayed"), again.json()) == (202, "true", held.json())
    # AND nothing was written to the CRM: no record, so no event, no preview, no note
    wired.drain()
    assert crm_items(wired, trust.company.id) == []
    assert wired.preview(trust.admin, room) == {"room_id": room, "deal": None, "ticket": None}
    # AND the inbox holds it, once
    assert [a["id"] for a in trust.call("GET", "/approvals", query={"status": "pending"}).json()["data"]] == [approval["id"]]


@pytest.mark.parametrize(("confidence", "held"), [(0.8, False), (0.95, False), (0.79, True), (None, True)])
def test_what_is_held_at_the_threshold_and_around_it(trust, confidence, held):
    trust.policy({"agentic_ai": {"min_confidence": 0.8}})
    body = {**AI_TICKET, "confidence": confidence}
    if confidence is None:
        del body["confidence"]
    # THEN at the threshold exactly or above: written; below it or without a confidence: held
    assert trust.call("POST", "/tickets", trust.producer, json=body).status == (202 if held else 201)


def test_a_flag_without_a_threshold_and_a_persons_create_are_never_held(trust):
    trust.policy({"agentic_ai": {"min_confidence": 0.8}})
    assert trust.call("POST", "/deals", trust.producer, json={"name": "bot deal", "creator_flag": "bot", "confidence": 0.1}).status == 201
    assert trust.call("POST", "/deals", trust.producer, json={"name": "a person's deal", "confidence": 0.1}).status == 201
    assert trust.call("POST", "/deals", trust.producer, json={"name": "unknown flag", "creator_flag": "robot"}).status == 201


@pytest.mark.parametrize("confidence", [1.5, -0.1, "0.9", True, [0.9]])
def test_confidence_outside_0_to_1_or_not_a_number_is_a_422_at_once_never_held(trust, confidence):
    trust.policy({"agentic_ai": {"min_confidence": 0.8}})
    answer = trust.call("POST", "/tickets", trust.producer, json={**AI_TICKET, "confidence": confidence})
    assert answer.status == 422 and [d["field"] for d in answer.json()["error"]["details"]] == ["confidence"]
    assert trust.call("GET", "/approvals").json()["data"] == []


def test_a_held_patch_keeps_the_record_as_it_was_and_holds_the_change_with_before(trust, wired):
    # GIVEN an AI ticket written before the policy, then a threshold for the AI
    made = trust.call("POST", "/tickets", trust.producer, json={**AI_TICKET, "confidence": 0.9}).json()["data"]
    trust.policy({"agentic_ai": {"min_confidence": 0.8}})
    # WHEN the AI changes it with confidence 0.5
    answer = trust.call("PATCH", f"/tickets/{made['id']}", trust.producer, json={"priority": "low", "status": "closed", "confidence": 0.5})
    # THEN it is held: the record's values of the proposed fields are kept as before
    assert answer.status == 202, answer.text
    approval = answer.json()["data"]["approval"]
    assert (approval["kind"], approval["record_id"], approval["creator_flag"]) == ("update", made["id"], "agentic_ai")
    assert approval["proposed"] == {"priority": "low", "status": "closed"} and approval["before"] == {"priority": "high", "status": None}
    current = trust.call("GET", f"/tickets/{made['id']}", trust.producer).json()["data"]
    assert (current["priority"], current["version"]) == ("high", 1)
    # AND a PATCH at the threshold is written at once; one that would change nothing is never held
    assert trust.call("PATCH", f"/tickets/{made['id']}", trust.producer, json={"status": "open", "confidence": 0.8}).status == 200
    assert trust.call("PATCH", f"/tickets/{made['id']}", trust.producer, json={"status": "open"}).status == 200


def test_a_held_create_costs_one_write_and_one_not_held_one_request_with_the_policy_cached(trust, wired, edge):
    trust.policy({"agentic_ai": {"min_confidence": 0.8}})
    # GIVEN functions that trust a company's policy for 60 s (the deployed default is 30 s)
    with wired.setting(APPROVAL_POLICY_CACHE_SECONDS="60"):
        trust.call("POST", "/tickets", trust.producer, json={**AI_TICKET, "confidence": 0.9})  # reads the policy once
        with edge.recording() as calls:
            held = trust.call("POST", "/tickets", trust.producer, json=AI_TICKET, headers={"Idempotency-Key": uuid.uuid4().hex})
            held_calls = calls.of("dynamodb", function="CreateTicketFunction")
        with edge.recording() as calls:
            written = trust.call("POST", "/tickets", trust.producer, json={**AI_TICKET, "confidence": 0.9}, headers={"Idempotency-Key": uuid.uuid4().hex})
            written_calls = calls.of(None, function="CreateTicketFunction")
    # THEN a held create is one write (the approval with the idempotency entry)
    assert held.status == 202 and [c.operation for c in held_calls] == ["TransactWriteItems"]
    # AND one not held is the CRM's one request: the policy is cached, the activity log adds nothing
    assert written.status == 201 and [c.operation for c in written_calls] == ["TransactWriteItems"]


# ---- the inbox ----------------------------------------------------------------------------------
def test_the_inbox_lists_newest_first_with_filters_and_a_cursor_and_reads_one(trust):
    trust.policy({"agentic_ai": {"min_confidence": 0.8}, "bot": {"min_confidence": 0.5}})
    made = [trust.hold(name=f"ticket {i}") for i in range(3)] + [trust.hold("deals", name="deal", creator_flag="bot", confidence=0.1)]
    trust.call("POST", f"/approvals/{made[0]['id']}/reject", json={"reason": "duplicate"})
    # THEN the list is newest first
    assert [a["id"] for a in trust.call("GET", "/approvals").json()["data"]] == [a["id"] for a in reversed(made)]
    # AND filtered by status and kind
    assert [a["id"] for a in trust.call("GET", "/approvals", query={"status": "pending", "kind": "create"}).json()["data"]] == [a["id"] for a in reversed(made[1:])]
    assert [a["id"] for a in trust.call("GET", "/approvals", query={"status": "rejected"}).json()["data"]] == [made[0]["id"]]
    # AND paged by the cursor, one at a time, ending with null
    seen, cursor = [], None
    while True:
        page = trust.call("GET", "/approvals", query={"limit": "1", **({"cursor": cursor} if cursor else {})}).json()
        seen += [a["id"] for a in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [a["id"] for a in reversed(made)]
    # AND one is read by id
    assert trust.approval(made[3]["id"])["creator_flag"] == "bot"
    # AND bad filters are a 422 naming each
    bad = trust.call("GET", "/approvals", query={"status": "maybe", "limit": "0", "cursor": "not-ours"})
    assert bad.status == 422 and {d["field"] for d in bad.json()["error"]["details"]} == {"status", "limit"}
    assert trust.call("GET", "/approvals", query={"cursor": "eyJwayI6eyJTIjoiQ09NUEFOWSNvdGhlciJ9fQ"}).status == 422


def test_a_producer_may_not_read_or_decide_and_another_companys_approval_is_a_404(trust, wired, company):
    trust.policy({"agentic_ai": {"min_confidence": 0.8}})
    mine = trust.hold()
    other = Trust(wired, company())
    other.policy({"agentic_ai": {"min_confidence": 0.8}})
    theirs = other.hold()
    # THEN a producer approving, rejecting or reading: 403
    for method, path in (("GET", "/approvals"), ("GET", f"/approvals/{mine['id']}"), ("POST", f"/approvals/{mine['id']}/approve"),
                         ("POST", f"/approvals/{mine['id']}/reject"), ("POST", "/approvals/batch")):
        answer = trust.call(method, path, trust.producer, json={"approve": [mine["id"]]} if path.endswith("batch") else None)
        assert answer.status == 403, (method, path, answer.text)
    # AND another company's approval is a 404 to anyone, on every route, and it stays pending
    for auth in (trust.producer, trust.approver, trust.admin):
        for method, suffix in (("GET", ""), ("POST", "/approve"), ("POST", "/reject")):
            assert trust.call(method, f"/approvals/{theirs['id']}{suffix}", auth).status == 404
    assert trust.call("POST", "/approvals/batch", json={"approve": [theirs["id"]]}).json()["data"] == [
        {"id": theirs["id"], "status": None, "error": {"code": "not_found", "message": f"approval {theirs['id']} not found"}}]
    assert other.approval(theirs["id"])["status"] == "pending"


def test_an_approved_create_takes_the_immediate_path_with_approved_by(trust, wired):
    trust.policy({"agentic_ai": {"min_confidence": 0.8}})
    contact = trust.call("POST", "/contacts", trust.producer, json={"name": "Budi", "phone": f"+62811{uuid.uuid4().int % 10**7:07d}"}).json()["data"]
    room = new_room()
    held = trust.hold(channel_integration_room_id=room, contact_id=contact["id"], source="Airene AI")
    # WHEN an approver approves it, raising the priority
    answer = trust.call("POST", f"/approvals/{held['id']}/approve", json={"changes": {"priority": "urgent"}})
    assert answer.status == 200, answer.text
    done = answer.json()["data"]
    record = done["record"]
    # THEN the approval says who and when, and holds the record as written
    assert (done["status"], done["resolved_by"], done["record_id"]) == ("approved", "ana@acme", record["id"])
    # AND the record is exactly what the immediate path writes: the label, the contact, the room, the source, plus approved_by
    assert (record["creator_label"], record["contact_ids"], record["channel_integration_room_id"], record["source"]) == ("AI", [contact["id"]], room, "Airene AI")
    assert (record["priority"], record["confidence"], record["agent_id"], record["approved_by"], record["version"]) == ("urgent", 0.65, "triage-ai", "ana@acme", 1)
    assert trust.call("GET", f"/tickets/{record['id']}", trust.producer).json()["data"] == record
    # AND it reaches the sidebar and gets its note
    wired.drain()
    assert wired.preview(trust.admin, room)["ticket"]["id"] == record["id"]
    (note,) = wired.notes(trust.admin, record)
    assert note["room_id"] == room and note["creator_label"] == "AI"


def test_edits_with_invalid_fields_are_a_422_naming_them_and_nothing_is_written(trust, wired):
    trust.policy({"bot": {"min_confidence": 0.9}})
    held = trust.hold("deals", name="Budi - 2 units", creator_flag="bot", confidence=0.5, amount=100)
    # WHEN an approver's edits are invalid as a create would find them
    answer = trust.call("POST", f"/approvals/{held['id']}/approve", json={"changes": {"amount": -1, "stage": ["Won"], "colour": "red"}})
    # THEN 422 names each, as the approver's changes
    assert answer.status == 422
    assert sorted(d["field"] for d in answer.json()["error"]["details"]) == ["changes.amount", "changes.colour", "changes.stage"]
    # AND what the producer set about itself is not the approver's to edit
    answer = trust.call("POST", f"/approvals/{held['id']}/approve", json={"changes": {"confidence": 1, "creator_flag": None}})
    assert answer.status == 422 and {d["field"] for d in answer.json()["error"]["details"]} == {"changes.confidence", "changes.creator_flag"}
    # AND nothing was written: the approval is still pending, the CRM has no record
    assert trust.approval(held["id"])["status"] == "pending"
    assert crm_items(wired, trust.company.id) == []


def test_a_rejected_approval_says_why_and_no_decision_changes_it_after(trust, wired):
    trust.policy({"agentic_ai": {"min_confidence": 0.8}})
    held = trust.hold()
    answer = trust.call("POST", f"/approvals/{held['id']}/reject", json={"reason": "  not a real refund  "})
    assert answer.status == 200
    assert {k: answer.json()["data"][k] for k in ("status", "resolved_by", "reason", "record")} == {"status": "rejected", "resolved_by": "ana@acme", "reason": "not a real refund", "record": None}
    # THEN approving or rejecting it again: 409 approval_not_pending, and nothing is written
    for suffix in ("approve", "reject"):
        again = trust.call("POST", f"/approvals/{held['id']}/{suffix}")
        assert again.status == 409 and again.json()["error"]["code"] == "approval_not_pending"
    assert crm_items(wired, trust.company.id) == []
    # AND an approved one is no more decidable
    other = trust.hold()
    assert trust.call("POST", f"/approvals/{other['id']}/approve").status == 200
    assert trust.call("POST", f"/approvals/{other['id']}/approve").json()["error"]["code"] == "approval_not_pending"
    assert len(crm_items(wired, trust.company.id)) == 1


def test_a_batch_decides_each_item_on_its_own(trust):
    trust.policy({"agentic_ai": {"min_confidence": 0.8}})
    first, second, third, done = (trust.hold(name=f"t{i}") for i in range(4))
    trust.call("POST", f"/approvals/{done['id']}/reject")
    answer = trust.call("POST", "/approvals/batch", json={"approve": [first["id"], done["id"]], "reject": [second["id"], third["id"], "apr_nope"], "reason": "spam"})
    assert answer.status == 200
    by_id = {r["id"]: r for r in answer.json()["data"]}
    assert by_id[first["id"]] == {"id": first["id"], "status": "approved"}
    assert by_id[second["id"]] == {"id": second["id"], "status": "rejected"} and by_id[third["id"]]["status"] == "rejected"
    assert by_id[done["id"]]["status"] == "rejected" and by_id[done["id"]]["error"]["code"] == "approval_not_pending"
    assert by_id["apr_nope"]["error"]["code"] == "not_found"
    assert trust.approval(second["id"])["reason"] == "spam"
    bad = trust.call("POST", "/approvals/batch", json={"approve": [first["id"]], "reject": [first["id"]]})
    assert bad.status == 422


def test_racing_approve_and_reject_exactly_one_wins(trust, wired):
    trust.policy({"agentic_ai": {"min_confidence": 0.8}})
    for _ in range(3):
        held = trust.hold()
        # WHEN two approvers approve and two reject it at the same moment
        decisions = ("approve", "approve", "reject", "reject")
        answers = at_once([lambda d=decision, a=held["id"]: trust.call("POST", f"/approvals/{a}/{d}") for decision in decisions])
        # THEN exactly one decision wins; every other is a 409
        statuses = sorted(a.status for a in answers)
        assert statuses == [200, 409, 409, 409], [a.text for a in answers]
        assert {a.json()["error"]["code"] for a in answers if a.status == 409} == {"approval_not_pending"}
        (winner,) = [decision for decision, a in zip(decisions, answers) if a.status == 200]
        final = trust.approval(held["id"])
        assert final["status"] == ("approved" if winner.startswith("approve") else "rejected")
        # AND the record exists exactly when the approval won
        written = [i for i in crm_items(wired, trust.company.id) if i.get("approval_id", {}).get("S") == held["id"]]
        assert len(written) == (1 if final["status"] == "approved" else 0)


def test_an_update_approval_whose_record_moved_on_is_a_409_record_changed(trust):
    made = trust.call("POST", "/tickets", trust.producer, json={**AI_TICKET, "confidence": 0.9}).json()["data"]
    trust.policy({"agentic_ai": {"min_confidence": 0.8}})
    held = trust.call("PATCH", f"/tickets/{made['id']}", trust.producer, json={"priority": "low"}).json()["data"]["approval"]
    # WHEN a person changes the record meanwhile (no flag: never held)
    trust.policy({})
    assert trust.call("PATCH", f"/tickets/{made['id']}", trust.producer, json={"status": "open"}).status == 200
    # THEN approving the held change: 409 record_changed; it stays pending and the record keeps its values
    answer = trust.call("POST", f"/approvals/{held['id']}/approve")
    assert answer.status == 409 and answer.json()["error"]["code"] == "record_changed"
    assert trust.approval(held["id"])["status"] == "pending"
    assert trust.call("GET", f"/tickets/{made['id']}", trust.producer).json()["data"]["priority"] == "high"


def test_an_approved_update_is_written_onto_that_version_with_approved_by(trust):
    made = trust.call("POST", "/tickets", trust.producer, json={**AI_TICKET, "confidence": 0.9}).json()["data"]
    trust.policy({"agentic_ai": {"min_confidence": 0.8}})
    held = trust.call("PATCH", f"/tickets/{made['id']}", trust.producer, json={"priority": "low", "confidence": 0.6}).json()["data"]["approval"]
    done = trust.call("POST", f"/approvals/{held['id']}/approve").json()["data"]
    record = trust.call("GET", f"/tickets/{made['id']}", trust.producer).json()["data"]
    assert done["record"] == record
    assert (record["priority"], record["confidence"], record["approved_by"], record["version"]) == ("low", 0.6, "ana@acme", 2)


def test_expiry_marks_it_expired_never_approved_and_it_cannot_be_decided_after(trust, wired):
    trust.policy({"agentic_ai": {"min_confidence": 0.8}, "expires_in": 300})
    held, due_unswept, fresh = trust.hold(), trust.hold(), trust.hold()
    assert held["expires_at"] == (datetime.fromisoformat(held["created_at"]) + timedelta(seconds=300)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    # GIVEN two whose expires_at has passed
    age(wired, trust.company.id, held["id"], created=timedelta(minutes=6), expires=timedelta(minutes=1))
    age(wired, trust.company.id, due_unswept["id"], created=timedelta(minutes=6), expires=timedelta(seconds=1))
    # THEN before the sweep runs, one already cannot be approved: it is past its time
    late = trust.call("POST", f"/approvals/{due_unswept['id']}/approve")
    assert late.status == 409 and late.json()["error"]["code"] == "approval_not_pending"
    # WHEN the expiry runs (every minute, on its schedule)
    assert wired.runtime.invoke("ApprovalExpiryFunction", {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})["expired"] >= 2
    # THEN they are expired at their expires_at, by nobody; the fresh one is untouched
    expired = trust.approval(held["id"])
    assert (expired["status"], expired["resolved_by"], expired["record"]) == ("expired", None, None)
    assert trust.approval(fresh["id"])["status"] == "pending"
    # AND approving or rejecting one: 409, nothing written
    assert trust.call("POST", f"/approvals/{held['id']}/approve").json()["error"]["code"] == "approval_not_pending"
    assert trust.call("POST", f"/approvals/{held['id']}/reject").status == 409
    wired.drain()
    assert crm_items(wired, trust.company.id) == []


# ---- the activity log ---------------------------------------------------------------------------
def test_the_activity_log_tells_the_whole_story_of_a_held_then_approved_ticket(trust, wired):
    trust.policy({"agentic_ai": {"min_confidence": 0.8}})
    held = trust.hold()
    trust.call("POST", f"/approvals/{held['id']}/approve", headers={"X-Correlation-Id": "approve-req-1"})
    wired.drain()
    lines = trust.activity()
    # THEN three lines, newest first: the write, the approval, the hold, each about the same approval
    story = sorted(((line["action"], line["status"]) for line in lines))
    assert story == [("approved", "success"), ("create", "success"), ("held", "pending")]
    assert {line["approval_id"] for line in lines} == {held["id"]}
    assert [line["at"] for line in lines] == sorted((line["at"] for line in lines), reverse=True)
    by_action = {line["action"]: line for line in lines}
    assert by_action["approved"]["correlation_id"] == by_action["create"]["correlation_id"] == "approve-req-1"
    assert by_action["held"]["correlation_id"] != "approve-req-1"
    for line in lines:
        assert (line["creator_flag"], line["agent_id"], line["confidence"], line["record_type"]) == ("agentic_ai", "triage-ai", 0.65, "ticket")
    assert by_action["held"]["fields"]["name"] == {"before": None, "after": "Refund for order 42"}
    # AND each line is kept 90 days (DynamoDB TTL), and written once whatever the redeliveries
    items = wired.aws.client("dynamodb").query(TableName=wired.stack.outputs["TrustTableName"], KeyConditionExpression="pk = :pk AND begins_with(sk, :a)",
                                               ExpressionAttributeValues={":pk": {"S": f"COMPANY#{trust.company.id}"}, ":a": {"S": "ACT#"}})["Items"]
    assert len(items) == 3
    for item in items:
        at = datetime.fromisoformat(item["at"]["S"])
        assert int(item["ttl"]["N"]) == int((at + timedelta(days=90)).timestamp())


def test_refused_bot_creates_and_patches_are_failed_lines_and_a_persons_are_not(trust, wired):
    made = trust.call("POST", "/deals", trust.producer, json={"name": "bot deal", "creator_flag": "bot"}).json()["data"]
    # WHEN a bot's create, an AI's create and a bot record's PATCH are refused, and a person's create too
    assert trust.call("POST", "/deals", trust.producer, json={"name": "", "creator_flag": "bot", "agent_id": "sales-bot", "confidence": 0.4}).status == 422
    assert trust.call("POST", "/tickets", trust.producer, json={"name": "x", "creator_flag": "agentic_ai", "priority": 5}).status == 422
    assert trust.call("PATCH", f"/deals/{made['id']}", trust.producer, json={"creator_flag": "agentic_ai"}).status == 422
    assert trust.call("POST", "/deals", trust.producer, json={"name": ""}).status == 422
    wired.drain()
    # THEN the three bot/AI ones are failed lines with their error code, nothing else of them
    failed = trust.activity(status="failed")
    assert sorted((line["action"], line["record_type"], line["error"]["code"]) for line in failed) == [
        ("create", "deal", "validation_error"), ("create", "ticket", "validation_error"), ("update", "deal", "immutable_field")]
    bot = next(line for line in failed if line["agent_id"])
    assert (bot["agent_id"], bot["confidence"], bot["fields"], bot["creator_flag"]) == ("sales-bot", 0.4, {}, "bot")
    assert next(line for line in failed if line["action"] == "update")["record_id"] == made["id"]


def test_the_activity_log_filters_pages_and_never_shows_another_company(trust, wired, company):
    for i in range(3):
        trust.call("POST", "/deals", trust.producer, json={"name": f"bot {i}", "creator_flag": "bot", "agent_id": "sales-bot"})
    trust.call("POST", "/tickets", trust.producer, json={"name": "ai", "creator_flag": "agentic_ai", "agent_id": "triage-ai", "confidence": 0.9})
    other = Trust(wired, company())
    other.call("POST", "/deals", other.producer, json={"name": "theirs", "creator_flag": "bot", "agent_id": "sales-bot"})
    wired.drain()
    everything = trust.activity()
    assert len(everything) == 4 and {line["record_type"] for line in everything} == {"deal", "ticket"}
    assert [line["agent_id"] for line in trust.activity(agent_id="sales-bot")] == ["sales-bot"] * 3
    assert [line["creator_flag"] for line in trust.activity(creator_flag="agentic_ai")] == ["agentic_ai"]
    assert len(trust.activity(action="create", status="success")) == 4 and trust.activity(action="delete") == []
    newest = everything[0]["at"]
    assert all(line["at"] < newest for line in trust.activity(until=newest)) and trust.activity(since=newest)[0]["at"] == newest
    # AND pages of 2 with a cursor give the same lines in the same order
    first = trust.call("GET", "/activity", query={"limit": "2"}).json()
    second = trust.call("GET", "/activity", query={"limit": "2", "cursor": first["next_cursor"]}).json()
    assert [line["id"] for line in first["data"] + second["data"]] == [line["id"] for line in everything]
    # AND another company's lines are never visible, not even through its cursor
    assert "theirs" not in str(everything) and all(line["agent_id"] != "sales-bot" or line["record_type"] == "deal" for line in everything)
    theirs = other.call("GET", "/activity", query={"limit": "1"}).json()
    assert theirs["next_cursor"] is None or trust.call("GET", "/activity", query={"cursor": theirs["next_cursor"]}).status == 422
    assert trust.call("GET", "/activity", trust.producer).status == 403
    bad = trust.call("GET", "/activity", query={"since": "yesterday", "status": "meh"})
    assert bad.status == 422 and {d["field"] for d in bad.json()["error"]["details"]} == {"since", "status"}


def test_the_activity_log_adds_nothing_to_the_create_path(trust, wired, edge):
    with edge.recording() as calls:
        assert trust.call("POST", "/deals", trust.producer, json={"name": "bot", "creator_flag": "bot"}).status == 201
    # THEN the create function made no queue send and wrote nothing but the record (the line comes from the stream)
    made = calls.of(None, function="CreateDealFunction")
    assert [c.service for c in made if c.service != "dynamodb"] == []
    assert [c.operation for c in made if c.operation in DYNAMODB_WRITES] == ["PutItem"]


def test_time_moves_on_between_requests() -> None:
    # (a guard for the tests above that compare stamps: ids and stamps are millisecond-ordered)
    first = datetime.now(timezone.utc)
    time.sleep(0.002)
    assert datetime.now(timezone.utc) > first
