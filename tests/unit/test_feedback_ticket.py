"""The feedback ticket, pure: its fields on top of a CRM ticket, suggested and confirmed kept
apart, the POST /api/v3.1/feedback body, the list filters and the summary figures
(contracts/feedback.md)."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from parity.core.errors import ValidationFailed
from parity.core.ids import valid_id
from parity.crm.models import TicketCreate
from parity.feedback import ticket as tk
from parity.feedback.ticket import ListFilters, Report
from parity.feedback.triage import Triage

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
TRIAGE = Triage("bug", "P3")


def wa_report(n=1, text="The app crashes. Call me on +62 812-3456-7890", *, contact="c1", at=NOW):
    return Report(contact, "whatsapp", at, "ch_wa", "room_wa", id=f"rpt_{n}", text=text)


def details(caught):
    return {(d["field"], d["type"]) for d in caught.value.details}


# ---- the ticket's fields -----------------------------------------------------------------------
def test_a_channel_report_makes_a_bot_ticket_with_the_feedback_fields():
    # GIVEN a WhatsApp report / WHEN it makes a ticket
    ticket = tk.new_ticket(wa_report(), triage=Triage("incident", "P1"), now=NOW)
    # THEN a CRM ticket made by a bot, from that conversation, with its reporter, count, summary and suggestions
    assert ticket == {
        "id": ticket["id"],
        "type": "ticket",
        "name": "The app crashes.",
        "description": "The app crashes. Call me on +62 812-3456-7890",
        "status": "open",
        "priority": None,
        "category": None,
        "source": "whatsapp feedback",
        "channel_integration_room_id": "room_wa",
        "creator_flag": "bot",
        "contact_ids": ["c1"],
        "reporter_contact_ids": ["c1"],
        "reporters": [{"contact_id": "c1", "channel": "whatsapp", "channel_id": "ch_wa", "room_id": "room_wa", "reported_at": "2026-11-23T12:00:00.000Z"}],
        "report_count": 1,
        "summary": "The app crashes.",
        "suggested_type": "incident",
        "suggested_priority": "P1",
        "created_at": "2026-11-23T12:00:00.000Z",
        "updated_at": "2026-11-23T12:00:00.000Z",
    }


def test_an_api_report_keeps_its_source_and_has_no_conversation():
    # GIVEN an in-app report / WHEN it makes a ticket
    ticket = tk.new_ticket(Report("c9", "in_app", NOW, id="rpt_9", text="Export fails"), triage=TRIAGE, now=NOW)
    # THEN its source is the one given, no room, and its reporters entry has no channel id or room
    assert (ticket["source"], ticket["channel_integration_room_id"]) == ("in_app", None)
    assert ticket["reporters"] == [{"contact_id": "c9", "channel": "in_app", "reported_at": "2026-11-23T12:00:00.000Z"}]


def test_the_summary_is_masked_and_the_name_never_empty():
    # GIVEN a report whose first sentence holds a phone number, and one with no visible text
    masked = tk.new_ticket(wa_report(text="Call +62 812-3456-7890 now, the app is down."), triage=TRIAGE, now=NOW)
    blank = tk.new_ticket(wa_report(text="\u200b"), triage=TRIAGE, now=NOW)
    # THEN the summary (and the name) is masked; a blank report's ticket still has a name
    assert masked["summary"] == masked["name"] == "Call +** ***-****-*890 now, the app is down."
    assert (blank["summary"], blank["name"]) == ("", "Feedback report")


def test_an_unknown_channel_is_refused():
    # GIVEN a report from a channel type feedback does not know / WHEN it makes a ticket / THEN refused
    with pytest.raises(ValueError, match="unknown channel"):
        tk.new_ticket(Report("c1", "email", NOW, id="rpt_1", text="x"), triage=TRIAGE, now=NOW)


def test_the_ticket_id_is_derived_from_the_report_and_ordered_by_its_time():
    # GIVEN the same report twice, another report, and a later one
    a, b = tk.ticket_id_for(wa_report(1)), tk.ticket_id_for(wa_report(1))
    other, later = tk.ticket_id_for(wa_report(2)), tk.ticket_id_for(wa_report(1, at=NOW + timedelta(seconds=1)))
    # THEN the same id for the same report, others differ, ids sort by time, and each is a valid id of ours
    assert a == b and a != other and later > a
    assert all(valid_id(i) and len(i) == 24 for i in (a, other, later))
    assert valid_id(tk.report_id("acme", "message", "m" * 500))


def test_the_description_drops_control_characters_keeps_lines_and_is_cut_to_the_limit():
    # GIVEN a channel message with control characters, line breaks and 12,000 characters
    text = "line one\x00\x07\nline two\ttab\ud800 " + "x" * 12_000
    # WHEN it becomes the description
    description = tk.description_of(text)
    # THEN control characters and lone surrogates are gone, lines and tabs kept, cut to 10,000 ending in "…"
    assert description.startswith("line one\nline two\ttab ")
    assert len(description) == tk.MAX_TEXT_CHARS and description.endswith("…")


def test_what_the_crm_stores_is_a_valid_ticket_create_body_and_the_rest_is_feedbacks():
    # GIVEN a ticket from a huge channel message full of control characters
    ticket = tk.new_ticket(wa_report(text="\x01Export\x02 fails " + "y" * 20_000), triage=TRIAGE, now=NOW)
    # WHEN split into the CRM's body
    body = tk.crm_create_body(ticket)
    # THEN the CRM's own model accepts it, and the CRM body and FEEDBACK_FIELDS cover the ticket's data between them
    created = TicketCreate.model_validate(body)
    assert created.creator_flag == "bot" and created.crm_lead_ids == ["c1"] and created.priority is None
    assert not set(body) & set(tk.FEEDBACK_FIELDS)


# ---- joining a ticket ----------------------------------------------------------------------------
def test_adding_a_report_counts_it_and_adds_a_new_reporter_and_way_back_once():
    # GIVEN a ticket read back from DynamoDB (its count a Decimal)
    ticket = {**tk.new_ticket(wa_report(), triage=TRIAGE, now=NOW), "report_count": Decimal(1)}
    slack = Report("c2", "slack", NOW + timedelta(hours=1), "ch_sl", "room_sl", id="rpt_2", text="same")
    # WHEN a Slack reporter joins, then writes again in that thread
    once = tk.add_report(ticket, slack, now=NOW + timedelta(hours=1))
    twice = tk.add_report(once, Report("c2", "slack", NOW + timedelta(hours=2), "ch_sl", "room_sl", id="rpt_3", text="more"), now=NOW + timedelta(hours=2))
    # THEN three reports, two reporters, two entries, the second's time that of its first report
    assert twice["report_count"] == 3
    assert twice["reporter_contact_ids"] == twice["contact_ids"] == ["c1", "c2"]
    assert [(r["contact_id"], r["channel"], r["reported_at"]) for r in twice["reporters"]] == [
        ("c1", "whatsapp", "2026-11-23T12:00:00.000Z"),
        ("c2", "slack", "2026-11-23T13:00:00.000Z"),
    ]
    assert twice["updated_at"] == "2026-11-23T14:00:00.000Z"


# ---- suggested and confirmed never mixed -----------------------------------------------------------
def test_a_persons_decisions_are_copied_without_touching_the_suggestions():
    # GIVEN a ticket suggested as a P3 bug
    ticket = tk.new_ticket(wa_report(), triage=TRIAGE, now=NOW)
    # WHEN the CRM says a person made it a P1 feature request and resolved it
    confirmed = tk.with_confirmed(ticket, {"status": "resolved", "category": "feature_request", "priority": "P1", "updated_at": "x", "description": "ignored"})
    # THEN the confirmed fields are the person's, the suggestions are still the rules', nothing else moved
    assert (confirmed["category"], confirmed["priority"], confirmed["status"]) == ("feature_request", "P1", "resolved")
    assert (confirmed["suggested_type"], confirmed["suggested_priority"]) == ("bug", "P3")
    assert confirmed["description"] == ticket["description"]


def test_joining_a_ticket_never_touches_confirmed_or_suggested_fields():
    # GIVEN a ticket a person confirmed / WHEN a report joins it / THEN both kinds of fields are as they were
    ticket = {**tk.new_ticket(wa_report(), triage=TRIAGE, now=NOW), "category": "incident", "priority": "P0"}
    joined = tk.add_report(ticket, wa_report(2, "the app crashes, all users now, urgent"), now=NOW)
    for name in ("category", "priority", "suggested_type", "suggested_priority", "summary", "name", "description"):
        assert joined[name] == ticket[name]


def test_confirmed_values_must_be_known():
    # GIVEN a PATCH naming an unknown category and priority / WHEN checked / THEN a 422 naming both
    with pytest.raises(ValidationFailed) as caught:
        tk.check_confirmed({"category": "praise", "priority": "P9"})
    assert details(caught) == {("category", "enum"), ("priority", "enum")}
    # AND known values or null pass
    tk.check_confirmed({"category": "incident", "priority": None})


@pytest.mark.parametrize(
    ("before", "after", "proposes"),
    [("open", "resolved", True), (None, "resolved", True), ("closed", "resolved", True), ("resolved", "resolved", False), ("open", "closed", False), ("resolved", "open", False)],
)
def test_only_a_move_into_resolved_proposes_a_changelog(before, after, proposes):
    # GIVEN a status change / THEN a changelog is proposed only on entering "resolved"
    old = None if before is None else {"status": before}
    assert tk.became_resolved(old, {"status": after}) is proposes


# ---- POST /api/v3.1/feedback -----------------------------------------------------------------------
VALID = {"text": "Export fails", "reporter": {"name": "Budi", "email": "budi@example.com"}, "source": "in_app"}


def test_a_valid_body_is_accepted_with_all_its_fields():
    # GIVEN a full body / WHEN parsed / THEN every field is read, trimmed
    body = tk.parse_feedback({**VALID, "text": "  Export fails  ", "reporter": {"phone": "+62 812-3456-7890"}, "source": "backoffice", "external_id": "bo-17"})
    assert (body.text, body.reporter.phone, body.source, body.external_id) == ("Export fails", "+62 812-3456-7890", "backoffice", "bo-17")


@pytest.mark.parametrize("text", ["", "   ", "\u200b\u200b", "\n\t"])
def test_an_empty_report_is_a_422_naming_text(text):
    # GIVEN a body whose text shows nothing / WHEN parsed / THEN a 422 naming text
    with pytest.raises(ValidationFailed) as caught:
        tk.parse_feedback({**VALID, "text": text})
    assert caught.value.status == 422 and {f for f, _ in details(caught)} == {"text"}


def test_a_huge_report_is_a_422_naming_text_and_the_limit_itself_is_fine():
    # GIVEN a text one character over the limit, and one exactly at it
    with pytest.raises(ValidationFailed) as caught:
        tk.parse_feedback({**VALID, "text": "x" * (tk.MAX_TEXT_CHARS + 1)})
    # THEN the first is a 422 naming text; the second is accepted
    assert details(caught) == {("text", "string_too_long")}
    assert len(tk.parse_feedback({**VALID, "text": "x" * tk.MAX_TEXT_CHARS}).text) == tk.MAX_TEXT_CHARS


@pytest.mark.parametrize("reporter", [{}, {"name": "Budi"}, {"name": "Budi", "email": None, "phone": None}])
def test_a_reporter_with_neither_email_nor_phone_is_a_422_naming_reporter(reporter):
    # GIVEN a reporter nobody could find again or tell the fix / WHEN parsed / THEN a 422 naming reporter
    with pytest.raises(ValidationFailed) as caught:
        tk.parse_feedback({**VALID, "reporter": reporter})
    assert details(caught) == {("reporter", "value_error")}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"reporter": {"email": "not-an-email"}}, "reporter.email"),
        ({"reporter": {"email": "a@b"}}, "reporter.email"),
        ({"reporter": {"email": "a b@c.co"}}, "reporter.email"),
        ({"reporter": {"phone": "call me"}}, "reporter.phone"),
        ({"reporter": {"phone": "1234"}}, "reporter.phone"),
        ({"reporter": {"phone": "0" * 33}}, "reporter.phone"),
        ({"reporter": {"email": "a@b.co", "name": ""}}, "reporter.name"),
        ({"reporter": "budi@example.com"}, "reporter"),
        ({"source": "whatsapp"}, "source"),
        ({"source": None}, "source"),
        ({"external_id": ""}, "external_id"),
        ({"external_id": 17}, "external_id"),
        ({"text": 42}, "text"),
        ({"priority": "P0"}, "priority"),
    ],
)
def test_each_bad_field_is_named(change, field):
    # GIVEN a body with one bad field / WHEN parsed / THEN a 422 naming exactly that field
    with pytest.raises(ValidationFailed) as caught:
        tk.parse_feedback({**VALID, **change})
    assert {f for f, _ in details(caught)} == {field}


@pytest.mark.parametrize(
    ("email", "phone"),
    [("budi@example.com", None), ("a@b", None), ("a b@c.co", None), ("x@" + "d" * 250 + ".co", None), ("a@b@c.co", None),
     (None, "+62 812-3456-7890"), (None, "1234"), (None, "12345"), (None, "1" * 20), (None, "1" * 21), (None, "call me"), (None, "６２８１２３")],
)
def test_a_reporter_is_accepted_exactly_when_the_crm_would_accept_them_as_a_contact(email, phone):
    # GIVEN a reporter's email or phone
    from parity.crm import service

    problem = service._email_problem(email) if email else service._phone_problem(phone)
    # WHEN parsed as a feedback reporter / THEN refused exactly when POST /contacts would refuse it
    try:
        tk.parse_feedback({**VALID, "reporter": {"email": email, "phone": phone}})
        refused = False
    except ValidationFailed:
        refused = True
    assert refused is (problem is not None)


def test_missing_fields_and_a_body_that_is_not_an_object_are_named():
    # GIVEN an empty object and a list / WHEN parsed / THEN the missing fields, and "body"
    with pytest.raises(ValidationFailed) as caught:
        tk.parse_feedback({})
    assert {f for f, _ in details(caught)} == {"text", "reporter", "source"}
    with pytest.raises(ValidationFailed) as caught:
        tk.parse_feedback(["text"])
    assert details(caught) == {("body", "model_type")}


# ---- the list ------------------------------------------------------------------------------------------
def ticket(n, *, channel="whatsapp", created=NOW, status="open", category=None, priority=None, suggested=("bug", "P3"), reporters=("c1",)):
    return {
        "id": f"t{n:02d}",
        "status": status,
        "category": category,
        "priority": priority,
        "suggested_type": suggested[0],
        "suggested_priority": suggested[1],
        "reporter_contact_ids": list(reporters),
        "reporters": [{"contact_id": c, "channel": channel if i == 0 else "slack", "reported_at": "x"} for i, c in enumerate(reporters)],
        "created_at": created.isoformat(),
    }


def test_filters_parse_and_empty_values_are_no_filter():
    # GIVEN a query with every filter, some empty, and the edge's own parameters
    filters = tk.parse_list_filters({"status": "open", "category": "", "priority": "P1", "channel": "slack", "limit": "5", "cursor": "abc"})
    # THEN the filters, with the empty one absent
    assert filters == ListFilters(status="open", category=None, priority="P1", channel="slack")


def test_unknown_filter_values_are_a_422_naming_each():
    # GIVEN unknown values for every filter / WHEN parsed / THEN one detail per parameter
    with pytest.raises(ValidationFailed) as caught:
        tk.parse_list_filters({"status": "x" * 65, "category": "praise", "priority": "P6", "channel": "email"})
    assert {f for f, _ in details(caught)} == {"status", "category", "priority", "channel"}


def test_category_and_priority_match_the_confirmed_value_else_the_suggested_one():
    # GIVEN a ticket suggested as a P3 bug that a person made a P1 incident, and one still only suggested
    confirmed = ticket(1, category="incident", priority="P1")
    suggested = ticket(2)
    # THEN the confirmed one matches incident/P1 and no longer bug/P3; the other matches its suggestions
    assert tk.matches(confirmed, ListFilters(category="incident", priority="P1"))
    assert not tk.matches(confirmed, ListFilters(category="bug")) and not tk.matches(confirmed, ListFilters(priority="P3"))
    assert tk.matches(suggested, ListFilters(category="bug", priority="P3"))


def test_the_channel_filter_is_the_channel_of_the_first_report_and_status_is_exact():
    # GIVEN a WhatsApp ticket that a Slack reporter joined
    joined = ticket(1, channel="whatsapp", reporters=("c1", "c2"))
    # THEN it is a WhatsApp ticket (as by_channel counts it), not a Slack one
    assert tk.matches(joined, ListFilters(channel="whatsapp")) and not tk.matches(joined, ListFilters(channel="slack"))
    assert tk.matches(joined, ListFilters(status="open")) and not tk.matches(joined, ListFilters(status="resolved"))
    assert tk.matches(joined, ListFilters())


def test_the_list_is_newest_first():
    # GIVEN tickets made at different times (two at the same time)
    tickets = [ticket(1, created=NOW - timedelta(hours=2)), ticket(3, created=NOW), ticket(2, created=NOW)]
    # THEN newest first, ties by id descending
    assert [t["id"] for t in tk.newest_first(tickets)] == ["t03", "t02", "t01"]


# ---- the summary -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "period"), [(None, "7d"), ("", "7d"), ("24h", "24h"), ("30d", "30d")])
def test_the_period_defaults_to_7_days(value, period):
    assert tk.parse_period(value) == period


def test_an_unknown_period_is_a_422_naming_period():
    with pytest.raises(ValidationFailed) as caught:
        tk.parse_period("1y")
    assert details(caught) == {("period", "enum")}


def test_the_summary_counts_each_ticket_once_per_breakdown_by_its_confirmed_else_suggested_value():
    # GIVEN tickets inside the last 24 h (one confirmed, one joined by a second reporter) and one older
    tickets = [
        ticket(1, channel="whatsapp", category="incident", priority="P0", suggested=("bug", "P3"), reporters=("c1", "c2")),
        ticket(2, channel="slack", status="resolved", created=NOW - timedelta(hours=23), reporters=("c2",)),
        ticket(3, channel="in_app", created=NOW - timedelta(hours=25), reporters=("c3",)),
    ]
    # WHEN summarised over 24 h
    figures = tk.summary_figures(tickets, period="24h", now=NOW)
    # THEN two tickets, each once per breakdown, the confirmed values winning; zeros kept for the chart
    assert figures == {
        "period": "24h",
        "total": 2,
        "by_channel": {"whatsapp": 1, "slack": 1, "intercom": 0, "in_app": 0, "backoffice": 0},
        "by_category": {"incident": 1, "bug": 1, "feature_request": 0, "question": 0},
        "by_priority": {"P0": 1, "P1": 0, "P2": 0, "P3": 1, "P4": 0, "P5": 0},
        "by_status": {"open": 1, "resolved": 1},
        "top_reporters": [{"contact_id": "c2", "count": 2}, {"contact_id": "c1", "count": 1}],
    }


def test_the_period_is_the_last_24_h_7_d_or_30_d_up_to_now():
    # GIVEN tickets exactly 24 h old, just younger, made now, and made after now
    tickets = [ticket(1, created=NOW - timedelta(hours=24)), ticket(2, created=NOW - timedelta(hours=24) + timedelta(milliseconds=1)),
               ticket(3, created=NOW), ticket(4, created=NOW + timedelta(seconds=1))]
    # WHEN summarised over 24 h / THEN only the two inside (now - 24 h, now]
    assert tk.summary_figures(tickets, period="24h", now=NOW)["total"] == 2
    assert tk.summary_figures(tickets, period="30d", now=NOW)["total"] == 3


def test_top_reporters_are_at_most_ten_most_first_ties_by_contact_id():
    # GIVEN twelve contacts with one ticket each and c11 with three
    tickets = [ticket(n, reporters=(f"c{n:02d}",)) for n in range(12)] + [ticket(20 + n, reporters=("c11",)) for n in range(2)]
    # WHEN summarised
    top = tk.summary_figures(tickets, period="7d", now=NOW)["top_reporters"]
    # THEN ten, c11 first, then the others by id
    assert len(top) == tk.TOP_REPORTERS
    assert top[0] == {"contact_id": "c11", "count": 3}
    assert [t["contact_id"] for t in top[1:]] == [f"c{n:02d}" for n in range(9)]


statuses = st.sampled_from(["open", "resolved", "closed", "waiting"])
optional = lambda values: st.one_of(st.none(), st.sampled_from(values))  # noqa: E731


@given(st.lists(st.builds(
    ticket,
    n=st.integers(0, 99),
    channel=st.sampled_from(tk.CHANNELS),
    created=st.datetimes(min_value=datetime(2026, 10, 1), max_value=datetime(2026, 11, 24)).map(lambda d: d.replace(tzinfo=timezone.utc)),
    status=statuses,
    category=optional(tk.CATEGORIES),
    priority=optional(tk.PRIORITIES),
    reporters=st.lists(st.sampled_from(["c1", "c2", "c3"]), min_size=1, max_size=3, unique=True),
), max_size=40), st.sampled_from(list(tk.PERIODS)))
def test_every_breakdown_adds_up_to_the_total(tickets, period):
    # GIVEN any tickets / WHEN summarised over any period
    figures = tk.summary_figures(tickets, period=period, now=NOW)
    # THEN each breakdown counts every ticket of the period exactly once
    for name in ("by_channel", "by_category", "by_priority", "by_status"):
        assert sum(figures[name].values()) == figures["total"], name
    assert all(0 < r["count"] <= figures["total"] for r in figures["top_reporters"])
