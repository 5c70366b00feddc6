"""Telling reporters the fix, pure: every distinct reporter once on their most recent channel,
WhatsApp's 24 h window and template, Slack/Intercom replies, stored in-app notifications, at most
5 attempts, never twice, and the feedback settings (contracts/feedback.md)."""

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from parity.core.errors import ValidationFailed
from parity.feedback import notify as nf
from parity.feedback.notify import Outbound, Template, after_attempt, may_attempt, plan

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
TEXT = "Good news: the problem you reported (\u201cExport fails\u201d) has been fixed.\nThanks!"
TEMPLATE = Template("feedback_fixed", "en")


def entry(contact, channel, *, hours_ago, room=None, channel_id=None):
    out = {"contact_id": contact, "channel": channel}
    if channel_id:
        out["channel_id"] = channel_id
    if room:
        out["room_id"] = room
    out["reported_at"] = (NOW - timedelta(hours=hours_ago)).isoformat().replace("+00:00", "Z")
    return out


def ticket(*entries, contacts=None):
    return {"id": "t1", "reporter_contact_ids": contacts or list(dict.fromkeys(e["contact_id"] for e in entries)), "reporters": list(entries)}


WA = entry("c1", "whatsapp", hours_ago=30, room="room_wa", channel_id="ch_wa")
SLACK = entry("c2", "slack", hours_ago=2, room="room_sl", channel_id="ch_sl")


def planned(t, *, template=TEMPLATE, inbound=None, existing=()):
    return plan(t, company_id="acme", text=TEXT, template=template, last_inbound_at=inbound or {}, now=NOW, existing=existing)


def only(t, **kwargs):
    [one] = planned(t, **kwargs)
    return one


# ---- who ---------------------------------------------------------------------------------------
def test_every_distinct_reporter_is_told_once_on_their_most_recent_channel():
    # GIVEN c1 who reported on WhatsApp then in-app, and c2 on Slack, both listed as reporters
    t = ticket(WA, SLACK, entry("c1", "in_app", hours_ago=1))
    # WHEN the notifications are planned
    result = planned(t)
    # THEN one each: c1 in-app (their most recent), c2 on Slack
    assert [(p.notification["contact_id"], p.notification["channel"]) for p in result] == [("c1", "in_app"), ("c2", "slack")]


def test_on_a_tie_the_later_entry_wins_and_a_contact_without_an_entry_is_left_out():
    # GIVEN two entries of c1 at the same time, and a reporter contact with no way back
    t = ticket(entry("c1", "slack", hours_ago=1, room="r1"), entry("c1", "intercom", hours_ago=1, room="r2"), contacts=["c1", "c9"])
    # THEN c1 once, on the later entry; c9 not at all
    assert [(r.contact_id, r.channel) for r in nf.recipients(t)] == [("c1", "intercom")]


def test_notification_ids_are_one_per_company_ticket_and_contact():
    # GIVEN ids for varied company, ticket and contact / THEN each distinct, and stable
    ids = {nf.notification_id(c, t, p) for c in ("a", "b") for t in ("t1", "t2") for p in ("c1", "c2")}
    assert len(ids) == 8 and nf.notification_id("a", "t1", "c1") in ids


# ---- how -----------------------------------------------------------------------------------------
def test_whatsapp_inside_the_window_is_free_text_to_the_conversation():
    # GIVEN a WhatsApp reporter whose last inbound message is 23 h 59 min old
    one = only(ticket(WA), inbound={"room_wa": NOW - timedelta(hours=23, minutes=59)})
    # THEN a pending notification and a free-text send on the outbound path, keyed by the notification
    nid = nf.notification_id("acme", "t1", "c1")
    assert one.notification == {"id": nid, "ticket_id": "t1", "contact_id": "c1", "channel": "whatsapp", "channel_id": "ch_wa",
                                "status": "pending", "attempts": 0, "last_error": None, "sent_at": None}
    assert one.outbound == Outbound("room_wa", {"sender_type": "bot", "text": TEXT}, nid, 5)


@pytest.mark.parametrize("last", [NOW - timedelta(hours=24), NOW - timedelta(days=9), None], ids=["exactly-24h", "9-days", "never"])
def test_whatsapp_outside_the_window_is_the_companys_template_with_the_text_on_one_line(last):
    # GIVEN a WhatsApp reporter whose last inbound message is 24 h old or more (or unknown)
    one = only(ticket(WA), inbound={"room_wa": last})
    # THEN a template message, its variable the text without line breaks
    assert one.outbound.body == {"sender_type": "bot", "template": {"name": "feedback_fixed", "language": "en",
                                 "parameters": ["Good news: the problem you reported (\u201cExport fails\u201d) has been fixed. Thanks!"]}}
    assert one.notification["status"] == "pending"


def test_whatsapp_outside_the_window_without_a_template_is_channel_restricted_and_nothing_is_sent():
    # GIVEN no template set and an old conversation / WHEN planned
    one = only(ticket(WA), template=None, inbound={"room_wa": NOW - timedelta(days=2)})
    # THEN nothing to send; kept as channel_restricted, saying why
    assert one.outbound is None
    assert (one.notification["status"], one.notification["last_error"]) == ("channel_restricted", nf.RESTRICTED_WINDOW)


@pytest.mark.parametrize(("reporter", "room"), [(SLACK, "room_sl"), (entry("c3", "intercom", hours_ago=50, room="room_ic"), "room_ic")])
def test_slack_and_intercom_are_replies_in_the_reports_conversation_whatever_its_age(reporter, room):
    # GIVEN a Slack or Intercom reporter / THEN free text to the report's conversation (its thread)
    one = only(ticket(reporter), template=None)
    assert one.outbound.room_id == room and one.outbound.body == {"sender_type": "bot", "text": TEXT}


@pytest.mark.parametrize("channel", ["in_app", "backoffice"])
def test_in_app_and_backoffice_are_stored_as_sent(channel):
    # GIVEN a reporter who used the product's form / THEN stored, sent now, nothing on the outbound path
    one = only(ticket(entry("c4", channel, hours_ago=100)))
    assert one.outbound is None
    assert {k: one.notification[k] for k in ("status", "attempts", "sent_at", "channel")} == {
        "status": "sent", "attempts": 1, "sent_at": "2026-11-23T12:00:00.000Z", "channel": channel}
    assert "channel_id" not in one.notification


@pytest.mark.parametrize(("reporter", "reason"), [(entry("c5", "slack", hours_ago=1), nf.RESTRICTED_NO_ROOM), (entry("c6", "sms", hours_ago=1, room="r"), nf.RESTRICTED_CHANNEL)])
def test_a_reporter_with_no_reachable_channel_is_channel_restricted(reporter, reason):
    # GIVEN a Slack reporter without a conversation, or a channel type we cannot send on
    one = only(ticket(reporter))
    # THEN a notification kept for a person, nothing sent
    assert one.outbound is None and (one.notification["status"], one.notification["last_error"]) == ("channel_restricted", reason)


def test_an_approval_delivered_again_plans_nothing_twice():
    # GIVEN the notifications of a first delivery of the approval, stored
    t = ticket(WA, SLACK, entry("c4", "in_app", hours_ago=3))
    first = planned(t)
    # WHEN the same approval is delivered again
    again = planned(t, existing={p.notification["id"] for p in first})
    # THEN nothing more; and planning without them gives the very same ids
    assert again == []
    assert [p.notification["id"] for p in planned(t)] == [p.notification["id"] for p in first]


# ---- attempts ---------------------------------------------------------------------------------------
def pending():
    return dict(only(ticket(SLACK)).notification)


def test_a_provider_failing_every_attempt_is_retried_at_1_4_15_60_s_then_permanently_failed():
    # GIVEN a pending notification / WHEN each of its attempts fails
    notification, delays = pending(), []
    for attempt in range(1, 6):
        assert may_attempt(notification, attempt)
        result = after_attempt(notification, attempt=attempt, error=f"HTTP 503 on attempt {attempt}", at=NOW)
        notification, delays = result.notification, [*delays, result.retry_in]
    # THEN retried after 1, 4, 15, 60 s, then given up after the fifth, kept with the last error
    assert delays == [1, 4, 15, 60, None]
    assert (notification["status"], notification["attempts"], notification["last_error"]) == ("permanently_failed", 5, "HTTP 503 on attempt 5")
    assert not may_attempt(notification, 6)


def test_a_success_is_sent_and_never_attempted_again():
    # GIVEN a notification whose first attempt failed and second succeeded
    notification = after_attempt(pending(), attempt=1, error="timeout", at=NOW).notification
    sent = after_attempt(notification, attempt=2, error=None, at=NOW + timedelta(seconds=1)).notification
    # THEN sent, when, no error left; no third attempt may be made, and a late failure changes nothing
    assert (sent["status"], sent["attempts"], sent["last_error"], sent["sent_at"]) == ("sent", 2, None, "2026-11-23T12:00:01.000Z")
    assert not may_attempt(sent, 3)
    assert after_attempt(sent, attempt=3, error="late", at=NOW).notification == sent


def test_a_final_refusal_is_permanently_failed_at_once():
    # GIVEN a provider refusing for good (a 4xx) / THEN no more attempts
    result = after_attempt(pending(), attempt=1, error="HTTP 400 invalid recipient", at=NOW, final=True)
    assert (result.notification["status"], result.retry_in) == ("permanently_failed", None)


def test_an_error_quoting_the_customers_number_is_stored_masked_and_bounded():
    # GIVEN a provider error naming the recipient's number, very long / WHEN recorded
    result = after_attempt(pending(), attempt=1, error="recipient +62 812-3456-7890 not on WhatsApp " + "x" * 900, at=NOW)
    # THEN masked as the timeline note masks, at most 500 characters
    assert result.notification["last_error"].startswith("recipient +** ***-****-*890 not on WhatsApp")
    assert len(result.notification["last_error"]) <= nf.MAX_ERROR_CHARS


def test_attempts_are_counted_from_one_and_only_the_next_may_be_made():
    # GIVEN a pending notification / THEN attempt 1 only, never 0 or 2
    assert may_attempt(pending(), 1) and not may_attempt(pending(), 2)
    with pytest.raises(ValueError):
        after_attempt(pending(), attempt=0, error=None, at=NOW)


@st.composite
def outcome_streams(draw):
    """The true outcomes of a notification's attempts (failures, maybe ending in a success or a
    final refusal), then the same delivered in any order, some twice."""
    failures = draw(st.integers(0, 5))
    outcomes = [(n, f"error {n}", False) for n in range(1, failures + 1)]
    if failures < 5:
        ending = draw(st.sampled_from(["success", "final", "open"]))
        if ending != "open":
            outcomes.append((failures + 1, None if ending == "success" else "refused", ending == "final"))
    delivered = draw(st.permutations(outcomes + draw(st.lists(st.sampled_from(outcomes), max_size=6)) if outcomes else []))
    return outcomes, delivered


@given(outcome_streams())
def test_outcomes_redelivered_or_out_of_order_end_as_the_latest_attempt_says(stream):
    # GIVEN the true outcomes and a redelivered, shuffled stream of them
    outcomes, delivered = stream
    # WHEN each is applied
    truth, seen = pending(), pending()
    for attempt, error, final in outcomes:
        truth = after_attempt(truth, attempt=attempt, error=error, at=NOW + timedelta(seconds=attempt), final=final).notification
    for attempt, error, final in delivered:
        seen = after_attempt(seen, attempt=attempt, error=error, at=NOW + timedelta(seconds=attempt), final=final).notification
    # THEN the same end, never more than 5 attempts, sent at most once
    assert seen == truth
    assert seen["attempts"] <= nf.MAX_ATTEMPTS
    assert (seen["status"] == "sent") == any(error is None for _, error, _ in outcomes)


# ---- settings ------------------------------------------------------------------------------------------
def test_settings_set_and_clear_the_whatsapp_template():
    # GIVEN a body with a template, one with null, and an empty one / WHEN parsed / THEN the settings
    assert nf.parse_settings({"whatsapp_template": {"name": "feedback_fixed", "language": "es_MX"}}) == {"whatsapp_template": {"name": "feedback_fixed", "language": "es_MX"}}
    assert nf.parse_settings({"whatsapp_template": None}) == nf.DEFAULT_SETTINGS == nf.parse_settings({})
    assert nf.template_of({"whatsapp_template": {"name": "a", "language": "id"}}) == Template("a", "id")
    assert nf.template_of(None) is None and nf.template_of(nf.DEFAULT_SETTINGS) is None


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"whatsapp_template": {"name": "Feedback Fixed", "language": "en"}}, {"whatsapp_template.name"}),
        ({"whatsapp_template": {"name": "ok", "language": "english"}}, {"whatsapp_template.language"}),
        ({"whatsapp_template": {"name": "ok"}}, {"whatsapp_template.language"}),
        ({"whatsapp_template": {"name": "", "language": "EN", "x": 1}}, {"whatsapp_template.name", "whatsapp_template.language", "whatsapp_template.x"}),
        ({"whatsapp_template": "feedback_fixed"}, {"whatsapp_template"}),
        ({"whatsapp": {}}, {"whatsapp"}),
        ([], {"body"}),
    ],
)
def test_bad_settings_are_a_422_naming_each_field(body, fields):
    with pytest.raises(ValidationFailed) as caught:
        nf.parse_settings(body)
    assert {d["field"] for d in caught.value.details} == fields


# ---- the notifications list ---------------------------------------------------------------------------
def test_the_notifications_list_filters_by_ticket_and_status():
    # GIVEN a query / WHEN parsed / THEN its filters, matched exactly
    filters = nf.parse_notification_filters({"ticket_id": "t1", "status": "permanently_failed", "limit": "10"})
    assert nf.notification_matches({"ticket_id": "t1", "status": "permanently_failed"}, filters)
    assert not nf.notification_matches({"ticket_id": "t1", "status": "sent"}, filters)
    assert not nf.notification_matches({"ticket_id": "t2", "status": "permanently_failed"}, filters)
    assert nf.parse_notification_filters({"ticket_id": "", "status": ""}) == nf.NotificationFilters()


def test_unknown_notification_filters_are_a_422_naming_each():
    with pytest.raises(ValidationFailed) as caught:
        nf.parse_notification_filters({"ticket_id": "a#b", "status": "delivered"})
    assert {d["field"] for d in caught.value.details} == {"ticket_id", "status"}
