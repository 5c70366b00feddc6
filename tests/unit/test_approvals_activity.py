"""The activity log: lines from record changes, approval changes and refusals; once each; filters."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parity.approvals import activity
from parity.approvals import approval as ap
from parity.core import jsonio
from parity.core.errors import ValidationFailed
from parity.crm import records

T0 = datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc)


def image(version=1, **fields):
    base = {"name": "Refund", "priority": "high", "status": "open", "creator_flag": "agentic_ai", "channel_integration_room_id": "room-1"}
    base.update(fields)
    record, _ = records.new_record("ticket", "c1", base, record_id="t1", now=T0, contact_ids=["p1"])
    record.update(entity="record", version=version, agent_id="triage-ai", confidence=Decimal("0.9"), correlation_id="corr-1", pk="COMPANY#c1", sk="TICKET#t1")
    return record


# ---- record changes --------------------------------------------------------------------------
def test_a_bot_create_is_a_success_line_with_the_fields_it_set():
    # GIVEN the stream INSERT of an AI ticket
    line = activity.from_record_change("ev-1", None, image(), removed_at="x")
    # THEN one create/success line carrying who, how sure, which request, and each field set
    assert (line["action"], line["status"], line["record_type"], line["record_id"]) == ("create", "success", "ticket", "t1")
    assert (line["creator_flag"], line["agent_id"], line["confidence"], line["correlation_id"]) == ("agentic_ai", "triage-ai", Decimal("0.9"), "corr-1")
    assert line["fields"] == {
        "name": {"before": None, "after": "Refund"},
        "priority": {"before": None, "after": "high"},
        "status": {"before": None, "after": "open"},
        "channel_integration_room_id": {"before": None, "after": "room-1"},
        "contact_ids": {"before": None, "after": ["p1"]},
    }
    assert line["at"] == "2026-11-23T03:00:00.000Z" and line["approval_id"] is None


def test_an_update_line_holds_each_field_the_api_shows_that_changed():
    old = image()
    new = {**image(version=2, priority="urgent", description="longer text"), "updated_at": "2026-11-23T03:10:00.000Z", "correlation_id": "corr-2"}
    line = activity.from_record_change("ev-2", old, new, removed_at="x")
    assert line["action"] == "update" and line["at"] == "2026-11-23T03:10:00.000Z" and line["correlation_id"] == "corr-2"
    assert line["fields"] == {"description": {"before": None, "after": "longer text"}, "priority": {"before": "high", "after": "urgent"}}


def test_a_modify_that_changes_nothing_shown_makes_no_line():
    # GIVEN a rewrite of internals only (a new correlation id, a version bump of nothing shown)
    old = image()
    assert activity.from_record_change("ev-3", old, {**old, "correlation_id": "other", "version": 2}, removed_at="x") is None


def test_a_delete_is_dated_by_the_stream_and_claims_no_agent():
    line = activity.from_record_change("ev-4", image(), None, removed_at="2026-11-24T00:00:00.000Z")
    assert (line["action"], line["at"], line["agent_id"], line["confidence"], line["correlation_id"]) == ("delete", "2026-11-24T00:00:00.000Z", None, None, None)
    assert line["fields"]["name"] == {"before": "Refund", "after": None}


@pytest.mark.parametrize("flag", [None, ""])
def test_a_persons_record_makes_no_line(flag):
    assert activity.from_record_change("ev-5", None, image(creator_flag=flag), removed_at="x") is None


@pytest.mark.parametrize("entity", ["contact", "company", "idempotency", "note"])
def test_what_is_not_a_record_makes_no_line(entity):
    assert activity.from_record_change("ev-6", None, {**image(), "entity": entity}, removed_at="x") is None


def test_the_write_an_approval_made_carries_its_approval_id_later_writes_do_not():
    created = {**image(), "approval_id": "apr_1", "approved_by": "ana"}
    assert activity.from_record_change("ev-7", None, created, removed_at="x")["approval_id"] == "apr_1"
    later = {**created, "version": 2, "status": "closed", "updated_at": "2026-11-23T04:00:00.000Z"}
    assert activity.from_record_change("ev-8", created, later, removed_at="x")["approval_id"] is None


def test_numbers_in_fields_stay_exact():
    record, _ = records.new_record("deal", "c1", {"name": "D", "amount": Decimal("999999999999999.99"), "creator_flag": "bot"}, record_id="d1", now=T0, contact_ids=[])
    line = activity.from_record_change("ev-9", None, {**record, "entity": "record"}, removed_at="x")
    assert '"after":999999999999999.99' in jsonio.dumps(activity.public(line))


# ---- approval changes ------------------------------------------------------------------------
def held():
    body = {"name": "Refund", "priority": "high", "creator_flag": "agentic_ai"}
    return ap.held_create("c1", "ticket", body, trust={"confidence": Decimal("0.65"), "agent_id": "triage-ai"}, approval_id="apr_1", expires_in=3600, now=T0, correlation_id="corr-held")


def test_a_held_action_is_a_held_pending_line_with_the_holding_requests_correlation_id():
    [line] = activity.from_approval_change(None, held())
    assert (line["action"], line["status"], line["approval_id"], line["correlation_id"]) == ("held", "pending", "apr_1", "corr-held")
    assert line["fields"] == {"name": {"before": None, "after": "Refund"}, "priority": {"before": None, "after": "high"}}
    assert (line["confidence"], line["agent_id"], line["at"]) == (Decimal("0.65"), "triage-ai", "2026-11-23T03:00:00.000Z")


def test_approval_is_a_line_of_its_own_with_what_was_written_and_the_deciders_correlation_id():
    before = held()
    after = ap.approved(before, by="ana", now=T0 + timedelta(minutes=5), record={"id": "t7"}, changes={"priority": "urgent"}, correlation_id="corr-approve")
    [line] = activity.from_approval_change(before, after)
    assert (line["action"], line["status"], line["approval_id"], line["record_id"], line["correlation_id"]) == ("approved", "success", "apr_1", "t7", "corr-approve")
    assert line["fields"]["priority"] == {"before": None, "after": "urgent"}
    # AND it is another line than the held one: both stay, neither changes
    [held_line] = activity.from_approval_change(None, before)
    assert line["id"] != held_line["id"]


@pytest.mark.parametrize(("decide", "action"), [("reject", "rejected"), ("expire", "expired")])
def test_rejection_and_expiry_are_rejected_lines(decide, action):
    before = held()
    if decide == "reject":
        after = ap.rejected(before, by="ana", now=T0 + timedelta(minutes=1), reason="no", correlation_id="corr-r")
    else:
        after = ap.expired(before, now=T0 + timedelta(hours=1, minutes=3), correlation_id="sweep")
    [line] = activity.from_approval_change(before, after)
    assert (line["action"], line["status"], line["fields"]) == (action, "rejected", {})
    assert line["at"] == after["resolved_at"]


def test_an_approval_rewrite_that_decides_nothing_makes_no_line():
    before = held()
    assert activity.from_approval_change(before, {**before, "record": None}) == []
    decided = ap.rejected(before, by="ana", now=T0, reason=None)
    assert activity.from_approval_change(decided, {**decided, "reason": "edited"}) == []
    assert activity.from_approval_change(decided, None) == []  # a TTL removal


# ---- once each -------------------------------------------------------------------------------
def test_a_redelivered_source_makes_the_same_line_so_nothing_new_is_written():
    # GIVEN each kind of source delivered twice
    a1 = activity.from_record_change("ev-1", None, image(), removed_at="x")
    a2 = activity.from_record_change("ev-1", None, image(), removed_at="x")
    [h1], [h2] = activity.from_approval_change(None, held()), activity.from_approval_change(None, held())
    r1 = activity.from_refusal(refusal_message())
    r2 = activity.from_refusal(json.loads(jsonio.dumps(refusal_message())))  # through the queue's JSON
    # THEN the same line (id and at: the store's key) each time
    for first, again in ((a1, a2), (h1, h2), (r1, r2)):
        assert (first["id"], first["at"]) == (again["id"], again["at"])


@given(st.lists(st.tuples(st.sampled_from(["stream", "approval", "refused"]), st.text(max_size=8), st.text(max_size=8)), min_size=2, max_size=20, unique=True))
def test_distinct_sources_never_share_a_line_id(sources):
    ids = {activity.line_id(*source) for source in sources}
    assert len(ids) == len(sources)


def test_lines_are_kept_90_days():
    line = activity.from_record_change("ev-1", None, image(), removed_at="x")
    assert line["ttl"] == int((T0 + timedelta(days=90)).timestamp())


# ---- refusals --------------------------------------------------------------------------------
def refusal_message(**overrides):
    message = activity.refusal(
        "c1", request_id="req-1", at="2026-11-23T03:00:00.123Z", action="create", record_type="deal", record_id=None,
        creator_flag="bot", agent_id="a1", confidence=Decimal("0.3"), error_code="validation_error", correlation_id="corr-x",
    )  # fmt: skip
    message.update(overrides)
    return message


def test_a_refused_bot_create_is_a_failed_line_with_its_code_and_nothing_of_its_body():
    line = activity.from_refusal(refusal_message())
    assert (line["action"], line["status"], line["error"], line["fields"]) == ("create", "failed", {"code": "validation_error"}, {})
    assert activity.public(line)["error"] == {"code": "validation_error"}


def test_two_refused_requests_sharing_a_callers_correlation_id_are_two_lines():
    a = activity.from_refusal(refusal_message(request_id="req-1"))
    b = activity.from_refusal(refusal_message(request_id="req-2"))
    assert a["id"] != b["id"]


@pytest.mark.parametrize(("status", "flag", "logged"), [(422, "bot", True), (409, "agentic_ai", True), (403, "bot", True), (401, "bot", False), (422, None, False), (422, "human", False), (500, "bot", False), (201, "bot", False)])
def test_which_refusals_are_logged(status, flag, logged):
    assert activity.refusal_logged(status, flag) is logged


@pytest.mark.parametrize("broken", [{"kind": "other"}, {"action": "delete"}, {"at": "yesterday"}, {"request_id": None}, {"request_id": ""}, {"at": None}])
def test_a_malformed_refusal_message_is_a_value_error_for_the_dlq(broken):
    message = refusal_message(**broken)
    with pytest.raises(ValueError):
        activity.from_refusal(message)


def test_a_refusal_without_its_request_id_is_refused():
    message = refusal_message()
    del message["request_id"]
    with pytest.raises(ValueError):
        activity.from_refusal(message)


# ---- the list API ----------------------------------------------------------------------------
def test_filters_are_checked_and_normalised():
    filters = activity.list_filters({"creator_flag": "bot", "agent_id": "a1", "status": "failed", "action": "create", "since": "2026-11-23T10:00:00+07:00", "until": "2026-11-24T00:00:00Z", "limit": "10"})
    assert filters == {"creator_flag": "bot", "agent_id": "a1", "status": "failed", "action": "create", "since": "2026-11-23T03:00:00.000Z", "until": "2026-11-24T00:00:00.000Z", "limit": 10, "cursor": None}


def test_every_bad_filter_is_named():
    with pytest.raises(ValidationFailed) as caught:
        activity.list_filters({"creator_flag": "human", "agent_id": "a\x01", "status": "ok", "action": "skip", "since": "yesterday", "until": "2026-11-23T00:00:00", "limit": "x"})
    assert [d["field"] for d in caught.value.details] == ["creator_flag", "agent_id", "status", "action", "since", "until", "limit"]


def test_until_must_be_after_since():
    with pytest.raises(ValidationFailed) as caught:
        activity.list_filters({"since": "2026-11-23T00:00:00Z", "until": "2026-11-23T00:00:00Z"})
    assert [d["field"] for d in caught.value.details] == ["until"]


@given(st.dictionaries(st.sampled_from(["creator_flag", "agent_id", "status", "action", "since", "until", "limit", "cursor", "other"]), st.text(max_size=40), max_size=6))
def test_any_query_is_filters_or_a_422_never_a_crash(query):
    try:
        filters = activity.list_filters(query)
    except ValidationFailed as exc:
        assert all(d["field"] in query for d in exc.details)
        return
    assert 1 <= filters["limit"] <= 100


def test_matching_uses_since_inclusive_until_exclusive():
    line = activity.from_record_change("ev-1", None, image(), removed_at="x")
    at = line["at"]
    assert activity.matches(line, {"since": at})
    assert not activity.matches(line, {"until": at})
    assert activity.matches(line, {"creator_flag": "agentic_ai", "action": "create", "status": "success", "agent_id": "triage-ai"})
    assert not activity.matches(line, {"agent_id": "other"})


def test_the_public_line_is_the_contracts_and_hides_company_and_ttl():
    line = activity.from_record_change("ev-1", None, image(), removed_at="x")
    shown = activity.public(line)
    assert list(shown) == list(activity.PUBLIC_FIELDS)
    assert "company_id" not in shown and "ttl" not in shown and "error" not in shown
