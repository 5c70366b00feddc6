"""Approvals: held creates and updates, the decisions, expiry, edits, batches, the API shape."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parity.approvals import approval as ap
from parity.approvals.approval import ApprovalNotPending, RecordChanged
from parity.core.errors import ParityError
from parity.core import jsonio
from parity.core.errors import NotFound, ValidationFailed
from parity.crm import records

T0 = datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc)
URL = "https://crm.example.com/{type}s/{id}"
TRUST = {"confidence": Decimal("0.65"), "agent_id": "triage-ai"}


def held_ticket(**overrides):
    body = {"name": "Refund", "priority": "high", "channel_integration_room_id": "room-1", "creator_flag": "agentic_ai", "confidence": Decimal("0.65"), "agent_id": "triage-ai"}
    body.update(overrides)
    return ap.held_create("c1", "ticket", body, trust=TRUST, approval_id="apr_1", expires_in=3600, now=T0, correlation_id="corr-held")


def stored_deal(version=3):
    record, _ = records.new_record("deal", "c1", {"name": "Acme", "stage": "New", "amount": Decimal("100.5"), "creator_flag": "bot"}, record_id="d1", now=T0, contact_ids=["p1"])
    record["version"] = version
    return record


def held_patch(record=None, body=None):
    record = record or stored_deal()
    body = body if body is not None else {"stage": "Won", "amount": Decimal(200), "confidence": Decimal("0.4"), "agent_id": "closer"}
    return ap.held_update(record, body, trust={"confidence": body.get("confidence"), "agent_id": body.get("agent_id")}, approval_id="apr_2", expires_in=600, now=T0)


# ---- building --------------------------------------------------------------------------------
def test_a_held_create_keeps_the_proposal_apart_from_who_proposed_it():
    # GIVEN a 0.65 AI ticket held under a 0.8 policy
    held = held_ticket()
    # THEN the proposal is the body without flag/confidence/agent_id, which sit beside it
    assert held["proposed"] == {"name": "Refund", "priority": "high", "channel_integration_room_id": "room-1"}
    assert (held["creator_flag"], held["confidence"], held["agent_id"]) == ("agentic_ai", Decimal("0.65"), "triage-ai")
    assert (held["kind"], held["status"], held["record_id"], held["before"]) == ("create", "pending", None, None)
    # AND it expires expires_in after it was held
    assert (held["created_at"], held["expires_at"]) == ("2026-11-23T03:00:00.000Z", "2026-11-23T04:00:00.000Z")


def test_a_held_update_records_the_before_values_and_the_version_it_was_held_against():
    # GIVEN a bot deal at version 3 and a low-confidence PATCH of stage and amount with a new contact
    held = held_patch(body={"stage": "Won", "amount": Decimal(200), "contact_id": "p2"})
    # THEN before holds the record's current values of those fields (contacts as contact_ids)
    assert held["before"] == {"stage": "New", "amount": Decimal("100.5"), "contact_ids": ["p1"]}
    assert held["proposed"] == {"stage": "Won", "amount": Decimal(200), "contact_id": "p2"}
    # AND the flag is the record's, the target is the record, the version is kept
    assert (held["creator_flag"], held["record_type"], held["record_id"], held["record_version"]) == ("bot", "deal", "d1", 3)


def test_a_changelog_approval_holds_the_text_for_a_ticket():
    held = ap.held_changelog("c1", "t9", "Fixed in 2.3", approval_id="apr_3", expires_in=86400, now=T0)
    assert (held["kind"], held["record_type"], held["record_id"], held["proposed"]) == ("changelog", "ticket", "t9", {"text": "Fixed in 2.3"})


@pytest.mark.parametrize(("value", "ok"), [("apr_0192abcd", True), ("apr_", False), ("0192abcd", False), ("apr_a/b", False), ("apr_" + "x" * 65, False), (7, False)])
def test_an_approval_id_is_checked_before_it_reaches_a_key(value, ok):
    assert ap.valid_approval_id(value) is ok


def test_approval_ids_are_prefixed_and_keep_the_time_order_of_the_raw_ids():
    assert ap.approval_id("0192abc") == "apr_0192abc"
    assert ap.approval_id("0192abc") < ap.approval_id("0192abd")


# ---- deciding --------------------------------------------------------------------------------
def test_approving_a_pending_approval_records_who_when_and_the_written_record():
    # GIVEN a pending create / WHEN an approver approves it and the record is written
    record = {"id": "t1", "type": "ticket", "name": "Refund"}
    after = ap.approved(held_ticket(), by="ana@acme", now=T0 + timedelta(minutes=5), record=record, changes={"priority": "urgent"}, correlation_id="corr-approve")
    # THEN it is approved by her, the record is attached and its id filled in
    assert (after["status"], after["resolved_by"], after["resolved_at"]) == ("approved", "ana@acme", "2026-11-23T03:05:00.000Z")
    assert (after["record"], after["record_id"], after["changes"]) == (record, "t1", {"priority": "urgent"})
    assert after["resolved_correlation_id"] == "corr-approve"


def test_rejecting_records_the_reason_and_no_record():
    after = ap.rejected(held_ticket(), by="ana@acme", now=T0 + timedelta(minutes=1), reason="not a refund case")
    assert (after["status"], after["reason"], after["record"], after["resolved_by"]) == ("rejected", "not a refund case", None, "ana@acme")


@pytest.mark.parametrize("status", ["approved", "rejected", "expired"])
@pytest.mark.parametrize("decide", ["approve", "reject"])
def test_only_a_pending_approval_is_decided(status, decide):
    # GIVEN an approval that is already approved, rejected or expired
    done = {**held_ticket(), "status": status}
    # WHEN someone approves or rejects it / THEN 409 approval_not_pending, saying what it is
    with pytest.raises(ApprovalNotPending) as caught:
        if decide == "approve":
            ap.approved(done, by="bo", now=T0, record=None)
        else:
            ap.rejected(done, by="bo", now=T0, reason=None)
    assert (caught.value.status, caught.value.code, caught.value.current_status) == (409, "approval_not_pending", status)


def test_a_pending_approval_past_its_expiry_cannot_be_approved_even_before_the_sweep():
    # GIVEN a pending approval whose expires_at has come, not yet swept
    held = held_ticket()
    # WHEN approved at expires_at exactly / THEN 409 saying it expired (expiry never approves)
    with pytest.raises(ApprovalNotPending) as caught:
        ap.approved(held, by="ana", now=T0 + timedelta(hours=1), record={"id": "t1"})
    assert caught.value.current_status == "expired"
    # AND a millisecond before, it could still be approved
    assert ap.approved(held, by="ana", now=T0 + timedelta(hours=1) - timedelta(milliseconds=1), record={"id": "t1"})["status"] == "approved"


def test_expiry_marks_a_due_pending_approval_expired_at_its_expires_at_never_approved():
    held = held_ticket()
    # WHEN the sweep runs 4 minutes after expires_at
    after = ap.expired(held, now=T0 + timedelta(hours=1, minutes=4), correlation_id="sweep-1")
    # THEN it expired at expires_at, nobody resolved it, nothing was written
    assert (after["status"], after["resolved_at"], after["resolved_by"], after["record"]) == ("expired", held["expires_at"], None, None)


def test_expiry_leaves_alone_what_is_not_due_or_not_pending():
    held = held_ticket()
    assert ap.expired(held, now=T0 + timedelta(minutes=59)) is None
    decided = ap.rejected(held, by="ana", now=T0, reason=None)
    assert ap.expired(decided, now=T0 + timedelta(days=9)) is None


# ---- racing decisions in the pure model ------------------------------------------------------
class CasStore:
    """One approval under the store's rule: a write lands only if the item is still pending."""

    def __init__(self, item):
        self.item = item

    def read(self):
        return copy.deepcopy(self.item)

    def write_if_pending(self, new):
        if self.item["status"] != ap.PENDING:
            return False
        self.item = new
        return True


def act(actor, seen, now):
    if actor == "expire":
        return ap.expired(seen, now=now)
    if actor.startswith("approve"):
        return ap.approved(seen, by=actor, now=now, record={"id": "t1"})
    return ap.rejected(seen, by=actor, now=now, reason="no")


@given(
    st.lists(st.sampled_from(["approve-ana", "approve-bo", "reject-cy", "reject-di", "expire"]), min_size=2, max_size=5, unique=True).flatmap(
        lambda actors: st.permutations([a for a in actors for _ in (0, 1)]).map(lambda steps: (actors, steps))
    ),
    st.booleans(),
)
def test_racing_decisions_exactly_one_wins_the_rest_are_409(plan, past_expiry):
    # GIVEN several people (and maybe the expiry sweep) acting on one pending approval, their
    # reads and conditional writes interleaved in any order
    actors, steps = plan
    now = T0 + (timedelta(hours=2) if past_expiry else timedelta(minutes=10))
    store = CasStore(held_ticket())
    seen, outcome = {}, {}
    for actor in steps:
        if actor not in seen:  # first step of an actor: it reads
            seen[actor] = store.read()
            continue
        try:  # second step: it decides on what it read and writes if still pending
            new = act(actor, seen[actor], now)
        except ApprovalNotPending:
            outcome[actor] = "409"
            continue
        if new is None:
            outcome[actor] = "nothing"
        elif store.write_if_pending(new):
            outcome[actor] = "won"
        else:
            with pytest.raises(ApprovalNotPending):  # its retry re-reads and is told why
                act(actor, store.read(), now)
            outcome[actor] = "409"
    # THEN at most one write landed, and exactly one when any actor could decide at that time
    winners = [a for a, o in outcome.items() if o == "won"]
    assert len(winners) == (1 if (past_expiry and "expire" in actors) or (not past_expiry and set(actors) - {"expire"}) else 0)
    # AND past expiry nobody approves: only the sweep may move it, to expired
    if past_expiry:
        assert store.item["status"] in ("pending", "expired") and winners in ([], ["expire"])
    else:
        assert store.item["status"] == {"approve": "approved", "reject": "rejected"}[winners[0].split("-")[0]]
    # AND every other decider was told 409 (or, the sweep before expiry, did nothing)
    assert all(o == "409" or (o == "nothing" and a == "expire") for a, o in outcome.items() if o != "won")


# ---- update approvals and records that moved on ----------------------------------------------
def test_an_update_approval_is_refused_once_the_record_has_another_version():
    held = held_patch()
    ap.check_record_current(held, stored_deal(version=3))  # unchanged: fine
    with pytest.raises(RecordChanged) as caught:
        ap.check_record_current(held, stored_deal(version=4))
    assert (caught.value.status, caught.value.code) == (409, "record_changed")
    with pytest.raises(RecordChanged, match="deleted"):
        ap.check_record_current(held, None)


def test_a_create_has_no_record_to_have_changed():
    ap.check_record_current(held_ticket(), None)


# ---- edits -----------------------------------------------------------------------------------
def test_approver_edits_are_laid_over_the_proposal_with_who_proposed_it():
    # GIVEN a held AI ticket / WHEN approved with a priority edit and the room cleared
    body = ap.merged_body(held_ticket(), ap.approve_changes({"changes": {"priority": "urgent", "channel_integration_room_id": None}}))
    # THEN the body to validate is the create a producer would have sent, with the edits
    assert body == {"name": "Refund", "priority": "urgent", "channel_integration_room_id": None, "creator_flag": "agentic_ai", "confidence": Decimal("0.65"), "agent_id": "triage-ai"}


def test_an_update_merges_into_the_patch_without_a_flag():
    body = ap.merged_body(held_patch(), {"amount": Decimal(150)})
    assert body == {"stage": "Won", "amount": Decimal(150), "confidence": Decimal("0.4"), "agent_id": "closer"}


@pytest.mark.parametrize("body", [None, {}, {"changes": None}, {"changes": {}}])
def test_an_approve_without_edits_is_no_changes(body):
    assert ap.approve_changes(body) == {}


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"changes": {"confidence": 1}}, ["changes.confidence"]),
        ({"changes": {"creator_flag": "bot", "agent_id": "me"}}, ["changes.creator_flag", "changes.agent_id"]),
        ({"changes": []}, ["changes"]),
        ({"change": {}}, ["change"]),
        ("yes", ["body"]),
    ],
)
def test_an_approve_body_that_edits_the_producers_fields_or_is_malformed_is_a_422(body, fields):
    with pytest.raises(ValidationFailed) as caught:
        ap.approve_changes(body)
    assert sorted(d["field"] for d in caught.value.details) == sorted(fields)


def test_a_422_on_the_merged_body_names_the_approvers_fields_as_changes():
    # GIVEN the immediate path's details for a merged body where the approver broke amount and a lead id
    details = [
        {"field": "amount", "message": "must be >= 0", "type": "greater_than_equal"},
        {"field": "crm_lead_ids[1]", "message": "too long", "type": "string_too_long"},
        {"field": "name", "message": "required", "type": "missing"},
    ]
    blamed = ap.blame_changes(details, {"amount": -1, "crm_lead_ids": ["a", "b" * 200]})
    # THEN the edited ones are named under changes; the producer's own field keeps its name
    assert [d["field"] for d in blamed] == ["changes.amount", "changes.crm_lead_ids[1]", "name"]


def test_a_reject_reason_is_trimmed_bounded_and_optional():
    assert ap.reject_reason({"reason": "  duplicate  "}) == "duplicate"
    assert ap.reject_reason({"reason": "   "}) is None
    assert ap.reject_reason(None) is None and ap.reject_reason({}) is None
    assert ap.reject_reason({"reason": "line one\nline two"}) == "line one\nline two"
    for bad in ({"reason": "x" * 1001}, {"reason": 5}, {"reason": "a\x00"}, {"why": "x"}):
        with pytest.raises(ValidationFailed):
            ap.reject_reason(bad)


# ---- batches ---------------------------------------------------------------------------------
def test_a_batch_lists_approvals_first_each_id_once():
    decisions, reason = ap.batch_request({"approve": ["apr_1", "apr_2", "apr_1"], "reject": ["apr_3"], "reason": "spam"})
    assert decisions == [("apr_1", "approve"), ("apr_2", "approve"), ("apr_3", "reject")] and reason == "spam"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, ["approve"]),
        ({"approve": [], "reject": []}, ["approve"]),
        ({"approve": "apr_1"}, ["approve"]),
        ({"approve": ["apr_1", 2]}, ["approve[1]"]),
        ({"approve": ["apr_1"], "reject": ["apr_1"]}, ["reject[0]"]),
        ({"approve": [f"apr_{i}" for i in range(101)]}, ["approve"]),
        ({"approve": ["apr_1"] * 101, "reject": ["apr_2"] * 101}, ["approve", "reject"]),  # repeats count: found by the fuzzer
        ({"approve": ["apr_1"], "ids": []}, ["ids"]),
        ({"approve": ["apr_1"], "reason": 3}, ["reason"]),
    ],
)
def test_a_malformed_batch_is_a_422_naming_the_field(body, fields):
    with pytest.raises(ValidationFailed) as caught:
        ap.batch_request(body)
    assert [d["field"] for d in caught.value.details] == fields


def test_each_batch_item_is_decided_on_its_own():
    # GIVEN three approvals: one pending, one already approved, one unknown
    store = {"apr_1": held_ticket(), "apr_2": {**held_ticket(), "id": "apr_2", "status": "approved"}}

    def decide_one(item_id, decision):
        if item_id not in store:
            raise NotFound(f"approval {item_id} not found")
        store[item_id] = ap.rejected(store[item_id], by="ana", now=T0, reason=None)
        return store[item_id]

    # WHEN the batch rejects all three
    results = ap.batch_results([("apr_1", "reject"), ("apr_2", "reject"), ("apr_9", "reject")], decide_one)
    # THEN the first is rejected, the second says it is not pending (and what it is), the third is a 404 item
    assert results == [
        {"id": "apr_1", "status": "rejected"},
        {"id": "apr_2", "status": "approved", "error": {"code": "approval_not_pending", "message": "approval apr_2 is approved, not pending"}},
        {"id": "apr_9", "status": None, "error": {"code": "not_found", "message": "approval apr_9 not found"}},
    ]


def test_a_bug_in_one_item_is_not_swallowed_as_an_item_error():
    def decide_one(item_id, decision):
        raise KeyError("bug")

    with pytest.raises(KeyError):
        ap.batch_results([("apr_1", "approve")], decide_one)


# ---- the list query and the API shape --------------------------------------------------------
def test_the_list_query_is_checked_and_defaulted():
    assert ap.list_query({}) == {"status": None, "kind": None, "limit": 50, "cursor": None}
    assert ap.list_query({"status": "pending", "kind": "update", "limit": "100", "cursor": "abc"}) == {"status": "pending", "kind": "update", "limit": 100, "cursor": "abc"}
    with pytest.raises(ValidationFailed) as caught:
        ap.list_query({"status": "done", "kind": "delete", "limit": "0", "cursor": "a\x00"})
    assert [d["field"] for d in caught.value.details] == ["status", "kind", "limit", "cursor"]


def test_the_public_shape_is_the_contracts_and_keeps_internals_inside():
    # GIVEN an approved update
    after = ap.approved(held_patch(), by="ana", now=T0, record={"id": "d1", "amount": Decimal("150.25")}, changes={"amount": Decimal("150.25")}, correlation_id="c")
    shown = ap.public(after)
    # THEN exactly the contract's fields, in order, numbers exact, nothing internal
    assert list(shown) == list(ap.PUBLIC_FIELDS)
    assert not {"company_id", "record_version", "changes", "correlation_id", "resolved_correlation_id"} & set(shown)
    assert json.loads(jsonio.dumps(shown))["record"]["amount"] == 150.25
    assert shown["confidence"] == Decimal("0.4")


def test_a_decision_is_published_with_what_the_feedback_capability_reads():
    # GIVEN a changelog held for a resolved ticket, approved with the approver's rewording, and another rejected
    held = ap.held_changelog("c1", "t9", "Fixed in 2.3", approval_id="apr_3", expires_in=86400, now=T0)
    approved = ap.approved(held, by="ana@acme", now=T0 + timedelta(minutes=5), record=None, changes={"text": "Fixed in 2.3.1"})
    rejected = ap.rejected(ap.held_changelog("c1", "t8", "x", approval_id="apr_4", expires_in=86400, now=T0), by="ana@acme", now=T0, reason=None)
    # WHEN their decisions become bus events
    event, refused = ap.decision_event(approved), ap.decision_event(rejected)
    # THEN each says its kind and status, for the ticket, with the final text of the approved changelog
    assert (event["type"], event["event"], event["status"], event["kind"]) == ("approval.approved", "approval.approved", "approved", "changelog")
    assert (event["company_id"], event["approval_id"], event["record_type"], event["record_id"], event["text"]) == ("c1", "apr_3", "ticket", "t9", "Fixed in 2.3.1")
    assert (refused["type"], refused["status"], refused["text"]) == ("approval.rejected", "rejected", "x")
    # AND the same decision always makes the same event id (a redelivered stream record publishes it again, deduplicable)
    assert ap.decision_event(approved)["event_id"] == event["event_id"] != refused["event_id"]
    # AND a record's approval carries no proposal text onto the bus
    create = ap.approved(ap.held_create("c1", "ticket", {"name": "Refund"}, trust={"confidence": Decimal("0.5"), "agent_id": None}, approval_id="apr_5",
                                        expires_in=86400, now=T0), by="ana@acme", now=T0, record={"id": "t1", "name": "Refund"})
    assert "text" not in ap.decision_event(create) and "proposed" not in ap.decision_event(create)


# ---- an approver's edit of a changelog -----------------------------------------------------------
@pytest.mark.parametrize(("changes", "field", "type_"), [
    ({"text": ""}, "changes.text", "string_too_short"),
    ({"text": "   "}, "changes.text", "string_too_short"),
    ({"text": 42}, "changes.text", "string_type"),
    ({"text": "x" * 501}, "changes.text", "string_too_long"),
    ({"name": "Fixed"}, "changes.name", "extra_forbidden"),
])
def test_a_changelog_edit_other_than_a_proper_text_is_refused_naming_the_field(changes, field, type_):
    # GIVEN an approver's changes to a changelog  WHEN they are checked
    with pytest.raises(ParityError) as refused:
        ap.changelog_changes(changes)
    # THEN a 422 naming the field, with the problem's type
    assert refused.value.status == 422
    assert [(d["field"], d["type"]) for d in refused.value.details] == [(field, type_)]


def test_a_changelog_edit_keeps_the_approvers_words_trimmed_and_no_edit_is_no_change():
    assert ap.changelog_changes({"text": "  Fixed: exports work again.  "}) == {"text": "Fixed: exports work again."}
    assert ap.changelog_changes({}) == {}
