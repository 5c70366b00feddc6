"""Grouping feedback reports, pure: word-shingle similarity (language-independent) and the
decision where a report goes: same conversation within 24 h, near-identical across channels within
7 days, a redelivery changes nothing (contracts/feedback.md, "Intake")."""

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from parity.feedback import grouping as g
from parity.feedback.grouping import Decision, decide, group, shingles, similarity
from parity.feedback.ticket import Report, report_id

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
BUG = "The export to PDF crashes every time I open the invoices page"


def report(n, text=BUG, *, channel="whatsapp", contact="c1", room="room_wa1", at=T0, channel_id="ch_wa"):
    api = channel in ("in_app", "backoffice")
    return Report(contact, channel, at, None if api else channel_id, None if api else room, id=f"rpt_{n}", text=text)


def made(r):
    """The ticket a report makes on its own."""
    return group(r, [], now=r.reported_at).ticket


def resolved(ticket):
    return {**ticket, "status": "resolved"}


# ---- shingles and similarity -----------------------------------------------------------------------
def test_shingles_are_pairs_of_folded_words():
    # GIVEN a text with case, accents and punctuation / WHEN shingled / THEN pairs of plain words, in order
    assert shingles("¡La App NO funciona, otra vez!") == {("la", "app"), ("app", "no"), ("no", "funciona"), ("funciona", "otra"), ("otra", "vez")}
    assert shingles("Crash!") == {("crash",)}
    assert shingles("snake_case") == {("snake", "case")}
    assert shingles("🙂 !!!") == frozenset()


@pytest.mark.parametrize(
    ("a", "b", "alike"),
    [
        (BUG, BUG.upper() + "!!!", True),
        ("La exportación a PDF falla siempre", "la exportacion a pdf FALLA siempre.", True),
        ("Ekspor PDF gagal terus sejak kemarin", "ekspor pdf gagal terus sejak kemarin, tolong", True),
        ("Export to PDF fails on Android", "Export to PDF fails on Android please", True),
        (BUG, "Checkout page shows a blank screen after paying", False),
        ("The export to PDF crashes every time I open it", "The export to CSV crashes every time I open it", False),
    ],
)
def test_near_identical_means_at_least_0_8(a, b, alike):
    # GIVEN two reports / WHEN compared / THEN near-identical exactly when their similarity reaches 0.8
    assert g.near_identical(a, b) is alike
    assert (similarity(a, b) >= 0.8) is alike


def test_word_order_matters():
    # GIVEN a text and the same words reversed, and with two words swapped
    text = "export to pdf crashes on the invoices page"
    swapped = "export to crashes pdf on the invoices page"
    # THEN reversed shares no pair, swapped loses three pairs
    assert similarity(text, " ".join(reversed(text.split()))) == 0.0
    assert similarity(text, swapped) == pytest.approx(4 / 10)


def test_why_pairs_the_sizes_where_one_change_stays_near_identical():
    # GIVEN n-word texts with one word changed in the middle, or one word appended
    def changed(n):
        words = [f"w{i}" for i in range(n)]
        return " ".join(words), " ".join(words[: n // 2] + ["other"] + words[n // 2 + 1 :])

    def appended(n):
        text = " ".join(f"w{i}" for i in range(n))
        return text, text + " please"

    # THEN with pairs: one change from 19 words on, one appended word from 5 on (as the docstring says)
    assert [n for n in range(3, 40) if g.near_identical(*changed(n))][0] == 19
    assert [n for n in range(2, 40) if g.near_identical(*appended(n))][0] == 5
    # AND with triples it would take 29 and 6 words
    tri = lambda a, b: g.jaccard(shingles(a, 3), shingles(b, 3)) >= 0.8  # noqa: E731
    assert [n for n in range(3, 40) if tri(*changed(n))][0] == 29
    assert [n for n in range(2, 40) if tri(*appended(n))][0] == 6


def test_texts_without_words_are_not_similar():
    # GIVEN two reports with no word at all / WHEN compared / THEN 0.0: nothing to compare
    assert similarity("🙂", "🙂") == 0.0 and similarity("", "") == 0.0


LATIN = st.text(alphabet="abcdefghijklmnopqrstuvwxyzéñüáíóç", min_size=1, max_size=8)
PUNCT = st.sampled_from([" ", ", ", ". ", "!", "?", "¿", "-", "_", " (", ") ", "\u2014", "  ", "\n", "'", '"'])


@given(st.text(max_size=200), st.text(max_size=200))
def test_similarity_is_symmetric_and_between_0_and_1(a, b):
    # GIVEN any two texts / WHEN compared both ways / THEN the same figure, within [0, 1]
    assert similarity(a, b) == similarity(b, a)
    assert 0.0 <= similarity(a, b) <= 1.0


@given(st.lists(LATIN, min_size=1, max_size=30))
def test_identical_texts_are_1(words):
    # GIVEN a text with at least one word / WHEN compared with itself / THEN 1.0
    text = " ".join(words)
    assert similarity(text, text) == 1.0


@given(st.lists(LATIN, min_size=1, max_size=30), st.data(), st.text(max_size=100))
def test_similarity_ignores_case_accents_punctuation_and_spacing(words, data, third):
    # GIVEN a text, and a variant in other case, without accents, with other punctuation and spacing
    text = " ".join(words)
    variant = ""
    for word in words:
        if data.draw(st.booleans()):
            word = word.upper()
        if data.draw(st.booleans()):
            word = word.translate(str.maketrans("éñüáíóç", "enuaioc"))
        variant += word + data.draw(PUNCT)
    # WHEN compared / THEN identical, and equally similar to any third text
    assert similarity(text, variant) == 1.0
    assert similarity(text, third) == similarity(variant, third)


# ---- the decision: same conversation ---------------------------------------------------------------
def test_a_first_report_makes_a_ticket():
    # GIVEN no ticket / WHEN a report arrives / THEN a new ticket with one report
    result = group(report(1), [], now=T0)
    assert result.decision == Decision("new")
    assert result.ticket["report_count"] == 1 and result.ticket["reporter_contact_ids"] == ["c1"]


def test_a_further_message_in_the_conversation_within_24_h_adds_to_its_ticket():
    # GIVEN a ticket made from a WhatsApp conversation
    ticket = made(report(1))
    # WHEN another, unrelated message arrives in that conversation 23 h later
    later = report(2, "Also the logo looks blurry", at=T0 + timedelta(hours=23))
    result = group(later, [ticket], now=later.reported_at)
    # THEN it is one more report on that ticket: the same reporter entry, still from the first report
    assert result.decision == Decision("same_conversation", ticket["id"])
    assert result.ticket["id"] == ticket["id"] and result.ticket["report_count"] == 2
    assert result.ticket["reporter_contact_ids"] == ["c1"]
    assert result.ticket["reporters"] == ticket["reporters"]


def test_the_24_h_count_from_the_ticket_not_from_the_last_message():
    # GIVEN a ticket and a follow-up 20 h later that joined it
    ticket = group(report(2, "Also the logo looks blurry", at=T0 + timedelta(hours=20)), [made(report(1))], now=T0).ticket
    # WHEN a third message comes 30 h after the ticket (10 h after the follow-up)
    result = decide(report(3, "And the font is too small", at=T0 + timedelta(hours=30)), [ticket])
    # THEN the window did not slide: a new report
    assert result.action == "new"


def test_a_message_24_h_or_more_after_the_ticket_is_a_new_report():
    # GIVEN a ticket made from a conversation / WHEN an unrelated message comes 24 h after its creation
    ticket = made(report(1))
    result = group(report(2, "Also the logo looks blurry", at=T0 + timedelta(hours=24)), [ticket], now=T0)
    # THEN a new ticket
    assert result.decision.action == "new"


def test_after_the_ticket_is_resolved_a_new_message_is_a_new_report_even_when_identical():
    # GIVEN the conversation's ticket, resolved / WHEN the same text comes again an hour later
    ticket = resolved(made(report(1)))
    result = group(report(2, at=T0 + timedelta(hours=1)), [ticket], now=T0)
    # THEN a new ticket (a resolved ticket takes no report)
    assert result.decision.action == "new"


def test_a_closed_ticket_takes_no_report_either():
    # GIVEN the conversation's ticket, closed / WHEN a message comes / THEN a new ticket
    ticket = {**made(report(1)), "status": "closed"}
    assert decide(report(2, at=T0 + timedelta(minutes=5)), [ticket]).action == "new"


def test_only_the_conversations_newest_ticket_counts():
    # GIVEN a resolved ticket and, after it, a newer open one, both from the conversation
    first = resolved(made(report(1)))
    second = made(report(2, "Now the app logs me out", at=T0 + timedelta(hours=2)))
    # WHEN a further message comes / THEN it goes to the newest one
    assert decide(report(3, "and again", at=T0 + timedelta(hours=3)), [first, second]) == Decision("same_conversation", second["id"])


def test_a_late_message_older_than_the_ticket_still_joins_it():
    # GIVEN a ticket / WHEN a message of that conversation sent before it was made arrives late
    ticket = made(report(1))
    # THEN it is one more report on it
    result = group(report(2, "first message", at=T0 - timedelta(minutes=3)), [ticket], now=T0)
    assert result.decision.action == "same_conversation" and result.ticket["report_count"] == 2


def test_a_conversation_that_joined_an_older_ticket_counts_24_h_from_its_own_first_report():
    # GIVEN a Slack ticket six days old that a WhatsApp conversation joined 23 h ago, then wrote again
    primary = made(report(1, channel="slack", room="room_sl", contact="c2", channel_id="ch_sl", at=T0 - timedelta(days=6)))
    joined = group(report(2, at=T0 - timedelta(hours=23)), [primary], now=T0).ticket
    joined = group(report(3, "Screenshot attached", at=T0 - timedelta(hours=1)), [joined], now=T0).ticket
    # WHEN that WhatsApp conversation sends a follow-up now, and another 2 h later
    result = group(report(4, "It happens on Android 14 too", at=T0), [joined], now=T0)
    later = decide(report(5, "Any news on this one", at=T0 + timedelta(hours=2)), [result.ticket])
    # THEN the first adds to the primary ticket; the second, 25 h after the conversation joined, does not
    assert result.decision == Decision("same_conversation", primary["id"])
    assert result.ticket["report_count"] == 4
    assert later.action == "new"


def test_in_a_joined_thread_with_several_people_the_24_h_count_from_the_threads_first_report():
    # GIVEN a WhatsApp ticket that a Slack thread joined (c2), where c3 then replied 20 h later
    primary = made(report(1, at=T0 - timedelta(days=2)))
    slack = dict(channel="slack", room="room_sl", channel_id="ch_sl")
    ticket = group(report(2, BUG, contact="c2", at=T0, **slack), [primary], now=T0).ticket
    ticket = group(report(3, "Same for me", contact="c3", at=T0 + timedelta(hours=20), **slack), [ticket], now=T0).ticket
    assert [r["contact_id"] for r in ticket["reporters"]] == ["c1", "c2", "c3"]
    # WHEN the thread speaks again 26 h after its first report / THEN a new report
    assert decide(report(4, "Still broken here", contact="c3", at=T0 + timedelta(hours=26), **slack), [ticket]).action == "new"


def test_a_report_from_the_api_has_no_conversation_to_follow():
    # GIVEN an in-app ticket / WHEN another in-app report with other text comes a minute later
    ticket = made(report(1, channel="in_app"))
    # THEN a new ticket (no conversation: only near-identical text would join)
    assert decide(report(2, "Other text entirely here", channel="in_app", at=T0 + timedelta(minutes=1)), [ticket]).action == "new"


# ---- the decision: across channels -------------------------------------------------------------------
def test_a_near_identical_report_on_another_channel_within_7_days_joins_the_primary_ticket():
    # GIVEN a WhatsApp ticket
    primary = made(report(1))
    # WHEN the same bug, worded alike, comes from Slack six days later
    slack = report(2, BUG.lower() + "!", channel="slack", contact="c2", room="room_sl", channel_id="ch_sl", at=T0 + timedelta(days=6))
    result = group(slack, [primary], now=slack.reported_at)
    # THEN it joins: the reporter added, a reporters entry for Slack, one more report, no second ticket
    assert result.decision == Decision("near_duplicate", primary["id"], 1.0)
    assert result.ticket["id"] == primary["id"]
    assert result.ticket["reporter_contact_ids"] == ["c1", "c2"] and result.ticket["contact_ids"] == ["c1", "c2"]
    assert result.ticket["reporters"][1] == {"contact_id": "c2", "channel": "slack", "channel_id": "ch_sl", "room_id": "room_sl", "reported_at": "2026-11-26T09:00:00.000Z"}
    assert result.ticket["report_count"] == 2
    # AND its suggestions, status and origin are the primary's
    for name in ("suggested_type", "suggested_priority", "summary", "status", "channel_integration_room_id", "source"):
        assert result.ticket[name] == primary[name]


@pytest.mark.parametrize(("text", "joins"), [("hi", False), ("Help!", False), ("still not working", False), ("the export still crashes", True)])
def test_only_a_report_of_four_words_or_more_joins_another_conversations_ticket_by_its_text(text, joins):
    # GIVEN a customer's report on WhatsApp, and another customer writing the same words on Slack an hour later
    primary = made(report(1, text))
    other = report(2, text, channel="slack", contact="c2", room="room_sl", channel_id="ch_sl", at=T0 + timedelta(hours=1))
    # WHEN it is grouped THEN a text of four words or more joins; a shorter one ("hi", "help") makes its own ticket
    assert similarity(text, text) == 1.0
    assert decide(other, [primary]) == (Decision("near_duplicate", primary["id"], 1.0) if joins else Decision("new"))


@pytest.mark.parametrize(
    ("change", "why"),
    [(lambda t: t, "older than 7 days"), (resolved, "resolved")],
)
def test_a_near_identical_report_does_not_join_an_old_or_resolved_ticket(change, why):
    # GIVEN a ticket that is either 7 days and a minute old, or resolved
    primary = change(made(report(1)))
    at = T0 + timedelta(days=7, minutes=1) if why.startswith("older") else T0 + timedelta(days=1)
    # WHEN the same text comes from Slack / THEN a new ticket
    assert decide(report(2, channel="slack", room="room_sl", at=at), [primary]).action == "new", why


def test_the_same_contact_reporting_again_in_a_new_conversation_is_one_more_report_not_one_more_reporter():
    # GIVEN a ticket from c1 on WhatsApp / WHEN c1 sends the same text from the in-app form
    primary = made(report(1))
    result = group(report(2, channel="in_app", at=T0 + timedelta(hours=30)), [primary], now=T0)
    # THEN joined: still one reporter contact, two reporters entries (two ways back), two reports
    assert result.decision.action == "near_duplicate"
    assert result.ticket["reporter_contact_ids"] == ["c1"]
    assert [r["channel"] for r in result.ticket["reporters"]] == ["whatsapp", "in_app"]
    assert result.ticket["report_count"] == 2


def test_the_most_similar_ticket_wins_and_on_a_tie_the_older_one():
    # GIVEN two open tickets, one exactly the report's text, one close to it, and a copy of the exact one made later
    exact = made(report(1, "Export to PDF crashes on the invoices page today", room="r1"))
    close = made(report(2, "Export to PDF crashes on the invoices page today again", room="r2", at=T0 - timedelta(hours=1)))
    copy = made(report(3, "Export to PDF crashes on the invoices page today", room="r3", at=T0 + timedelta(hours=1)))
    incoming = report(4, "export to pdf crashes on the invoices page today", channel="slack", room="r4", at=T0 + timedelta(hours=2))
    # WHEN the report is grouped / THEN the exact match wins over the closer-in-time one, and the older of the two exact ones
    assert decide(incoming, [close, copy, exact]) == Decision("near_duplicate", exact["id"], 1.0)


# ---- redelivery ------------------------------------------------------------------------------------------
def test_a_redelivered_report_changes_nothing_even_when_everything_else_moved_on():
    # GIVEN a report already applied to a ticket that has since been resolved
    ticket = resolved(made(report(1)))
    # WHEN it is delivered again days later / THEN nothing to write, and where it went is known
    result = group(report(1, at=T0), [ticket], seen_ticket_id=ticket["id"], now=T0 + timedelta(days=3))
    assert result == g.Grouped(Decision("redelivery", ticket["id"]), None)


def test_a_retried_new_ticket_has_the_same_id():
    # GIVEN a report whose ticket write failed / WHEN processed again later / THEN the same ticket id
    assert made(report(1))["id"] == group(report(1), [], now=T0 + timedelta(minutes=5)).ticket["id"]


class Store:
    """A feedback table in memory: tickets and one marker per applied report id."""

    def __init__(self):
        self.tickets, self.markers = {}, {}

    def deliver(self, r):
        result = group(r, list(self.tickets.values()), seen_ticket_id=self.markers.get(r.id), now=r.reported_at)
        if result.ticket is not None:  # written together, as one transaction
            self.tickets[result.ticket["id"]] = result.ticket
            self.markers[r.id] = result.ticket["id"]


TEXTS = [BUG, BUG.upper() + "!", "Checkout page is blank after paying", "¿Cómo cambio mi plan?", "Tolong tambahkan mode gelap"]


@st.composite
def report_streams(draw):
    """Reports over a few days from a few conversations, then the same stream with redeliveries:
    each delivered again, possibly many times, anywhere after its first delivery."""
    reports, at = [], T0
    for n in range(draw(st.integers(1, 12))):
        at += timedelta(minutes=draw(st.integers(0, 60 * 30)))
        channel = draw(st.sampled_from(["whatsapp", "slack", "intercom", "in_app"]))
        room = f"room_{channel}_{draw(st.integers(0, 2))}"
        contact = draw(st.sampled_from(["c1", "c2", "c3"]))
        reports.append(report(n, draw(st.sampled_from(TEXTS)), channel=channel, contact=contact, room=room, at=at, channel_id=f"ch_{channel}"))
    deliveries = list(reports)
    for _ in range(draw(st.integers(0, 15))):
        original = draw(st.sampled_from(reports))
        first = deliveries.index(original)
        deliveries.insert(draw(st.integers(first + 1, len(deliveries))), original)
    return reports, deliveries


@settings(max_examples=200)
@given(report_streams())
def test_grouping_is_idempotent_under_redelivery(stream):
    # GIVEN a stream of reports, and the same stream with redeliveries anywhere after each first delivery
    reports, deliveries = stream
    once, again = Store(), Store()
    # WHEN each store receives its stream
    for r in reports:
        once.deliver(r)
    for r in deliveries:
        again.deliver(r)
    # THEN the tickets are the same, and every report is counted exactly once
    assert again.tickets == once.tickets
    assert sum(t["report_count"] for t in again.tickets.values()) == len(reports)


def test_report_ids_are_stable_per_company_and_kind():
    # GIVEN the same message id for two companies, and as a message and as an external id
    ids = {report_id("acme", "message", "m1"), report_id("beta", "message", "m1"), report_id("acme", "external", "m1")}
    # THEN three different ids, each the same on every call
    assert len(ids) == 3 and report_id("acme", "message", "m1") in ids
