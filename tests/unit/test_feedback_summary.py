"""The feedback ticket's summary (the report's first sentence, masked as the timeline note masks)
and the customer-facing changelog text (no internal ids, emails or phone numbers), pure."""

import re
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from parity.core.errors import ValidationFailed
from parity.feedback import summary as s
from parity.timeline.excerpt import ChatMessage, clean, excerpt
from parity.timeline.masking import mask

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc)


# ---- the summary ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("report", "expected"),
    [
        ("The app crashes on export. It started yesterday.", "The app crashes on export."),
        ("Export fails!!! Every time since v2.3.", "Every time since v2.3."),
        ("Version v2.3 crashes on save. Details below", "Version v2.3 crashes on save."),
        ("Charged Rp 15.000 twice for one order? Please check", "Charged Rp 15.000 twice for one order?"),
        ("Hi! The checkout page is blank. Thanks", "The checkout page is blank."),
        ("Hola equipo. La app no funciona desde ayer.", "La app no funciona desde ayer."),
        ('He wrote "it broke again." Then nothing', 'He wrote "it broke again."'),
        ("Help!", "Help!"),
        ("Halo kak\naplikasinya error terus\n\nmohon dibantu", "Halo kak aplikasinya error terus mohon dibantu"),
        ("应用程序崩溃了。请帮忙", "应用程序崩溃了。"),
    ],
)
def test_the_summary_is_the_first_real_sentence(report, expected):
    # GIVEN a report / WHEN summarised / THEN its first sentence of three words or more, on one line
    assert s.summary(report) == expected


def test_emails_and_phone_numbers_are_masked_before_the_sentence_is_found():
    # GIVEN a first sentence holding an email ending in "." and a phone number
    report = "Write to budi.santoso@example.com. Or call +62 812-3456-7890 tonight."
    # WHEN summarised / THEN the email's dots did not end the sentence early, and both are masked
    assert s.summary(report) == "Write to b***@example.com."
    assert s.summary("Call +62 812-3456-7890 tonight, the app is down.") == "Call +** ***-****-*890 tonight, the app is down."


def test_a_long_first_sentence_is_cut_to_120_characters_ending_in_an_ellipsis():
    # GIVEN a first sentence of 300 characters with a phone number straddling the cut
    report = "The export " + "x" * 100 + " 0812 3456 7890 " + "y" * 200 + ". Next."
    # WHEN summarised
    out = s.summary(report)
    # THEN 120 characters, ending in "…", the cut number still masked
    assert len(out) == 120 and out.endswith("…")
    assert "0812" not in out and "3456" not in out


def test_a_report_without_visible_text_has_an_empty_summary():
    # GIVEN only whitespace and invisible characters / WHEN summarised / THEN empty
    assert s.summary(" \u200b\n\t ") == ""


@given(st.text(alphabet=st.characters(blacklist_characters=".!?…。", blacklist_categories=("Cs",)), max_size=110))
def test_a_one_sentence_report_reads_exactly_as_the_timeline_note_shows_it(text):
    # GIVEN a short report with no sentence end (any characters, emails and numbers included)
    shown = excerpt([ChatMessage("m1", "room-1", "customer", "Budi", text, NOW)])
    # WHEN summarised / THEN exactly what the timeline note's excerpt shows for it: same cleaning, masking
    assert s.summary(text) == (shown[0]["text"] if shown else "")


@given(st.text(max_size=600))
def test_a_summary_is_never_longer_than_120_characters_and_a_cut_one_ends_in_an_ellipsis(text):
    # GIVEN any report / WHEN summarised
    out = s.summary(text)
    # THEN at most 120 characters; when the sentence was longer, the cut is marked
    assert len(out) <= s.SUMMARY_MAX_CHARS
    if len(s.first_sentence(mask(clean(text)))) > s.SUMMARY_MAX_CHARS:
        assert out.endswith("…")


# ---- strategies: reports full of personal data and internal ids ---------------------------------
emails = st.from_regex(r"[a-z][a-z0-9._+-]{0,10}@[a-z]{1,8}\.(com|co\.id|org)", fullmatch=True)
separators = st.sampled_from([" ", "-", ".", "/", "", "\u2013"])


@st.composite
def phone_numbers(draw):
    groups = draw(st.lists(st.text("0123456789", min_size=2, max_size=5), min_size=2, max_size=5))
    digits = "".join(groups)
    if len(digits) < 8:
        groups.append("0" * (8 - len(digits)))
    sep = draw(separators)
    return draw(st.sampled_from(["", "+", "(021) "])) + sep.join(groups)


long_numbers = st.from_regex(r"(#|INV|Rp |ref )?[0-9]{8,14}", fullmatch=True)
internal_ids = st.one_of(
    st.from_regex(r"TCK-[0-9A-F]{24}", fullmatch=True),
    st.from_regex(r"(room|ch|apr|ntf|rpt|msg)_[a-z0-9]{4,12}", fullmatch=True),
    st.uuids().map(str),
    st.from_regex(r"[0-9a-f]{24}", fullmatch=True).filter(lambda v: re.search(r"\d", v) and re.search(r"[a-f]", v)),
)
plain_words = st.sampled_from(["the", "export", "crashes", "on", "Android", "v2.3", "10:30", "(", ")", ",", ".", "fixed", "¿cómo", "tidak", "bisa"])
pieces = st.lists(st.one_of(plain_words, emails, phone_numbers(), long_numbers, internal_ids), max_size=25)
EIGHT_DIGITS = re.compile(r"\d(?:[ .,/_()+-]?\d){7}")
ID_SHAPES = re.compile(r"TCK-[0-9A-F]|\b(?:room|ch|apr|ntf|rpt|msg)_|[0-9a-f]{8}-[0-9a-f]{4}-|[0-9a-f]{12}", re.IGNORECASE)


@given(pieces, st.sampled_from([" ", ", ", "\n", " - "]), pieces)
def test_no_email_phone_number_long_number_or_internal_id_survives_in_the_changelog(summary_parts, joiner, note_parts):
    # GIVEN a summary and a resolution note made of words, emails, phone numbers, long numbers and ids
    summary_text, note = joiner.join(summary_parts), joiner.join(note_parts)
    # WHEN the changelog is drafted
    out = s.changelog_text(s.summary(summary_text), note)
    # THEN no email, no number of 8 digits or more (however grouped), no id survives, and nothing is left to mask
    assert "@" not in out
    assert not EIGHT_DIGITS.search(out), out
    assert not ID_SHAPES.search(out), out
    assert mask(out) == out
    assert len(out) <= s.CHANGELOG_MAX_CHARS


@given(emails, phone_numbers(), long_numbers)
def test_the_exact_personal_data_is_gone_whatever_surrounds_it(email, phone, number):
    # GIVEN a note naming an email, a phone number and a long number in a sentence
    note = f"We wrote to {email} and called {phone} about order {number}, all fixed"
    # WHEN drafted / THEN none of them, nor any of their digits in a row of 8, appears
    out = s.changelog_text("The export crashes", note)
    assert email not in out and phone not in out and number not in out
    assert not EIGHT_DIGITS.search(out)


# ---- the changelog: its shape -------------------------------------------------------------------
def test_the_changelog_quotes_the_summary_and_adds_the_note():
    # GIVEN a summary and a resolution note / WHEN drafted / THEN one short message, the note as a sentence
    assert s.changelog_text("The export to PDF crashes.", "Fixed in version 2.4") == (
        "Good news: the problem you reported (\u201cThe export to PDF crashes\u201d) has been fixed. Fixed in version 2.4."
    )


def test_without_a_note_or_a_usable_summary_the_message_still_reads():
    # GIVEN no note, then a summary that is only a phone number / WHEN drafted / THEN a plain sentence
    assert s.changelog_text("Export fails") == "Good news: the problem you reported (\u201cExport fails\u201d) has been fixed."
    assert s.changelog_text("+62 812-3456-7890") == "Good news: the problem you reported has been fixed."


def test_ids_the_caller_names_are_removed_in_any_case():
    # GIVEN a note naming the ticket's contact id, which has no recognisable shape
    out = s.changelog_text("Export fails", "Reported by Contact-Budi-7 and now fixed", internal_ids=["contact-budi-7"])
    # THEN it is gone and the sentence is tidied
    assert out.endswith("Reported by and now fixed.")


def test_internal_ids_and_personal_data_are_removed_and_punctuation_tidied():
    # GIVEN a note full of ids, an email, an invoice number, a date and an amount
    note = "Fixed (TCK-0192AB34CD56EF7890123456, room_abc). Mail a@b.co, ref INV20261123001. Was Rp 15.000.000."
    # WHEN drafted
    out = s.changelog_text("Export fails", note)
    # THEN what remains reads without gaps before punctuation or empty brackets
    assert out.endswith("Fixed. Mail ref INV. Was Rp.")


def test_a_long_note_is_cut_to_the_limit():
    # GIVEN a note of 2,000 characters / WHEN drafted / THEN at most 500 characters, ending in "…"
    out = s.changelog_text("Export fails", "word " * 400)
    assert s.CHANGELOG_MAX_CHARS - 5 < len(out) <= s.CHANGELOG_MAX_CHARS and out.endswith("word…")


def test_an_ordinary_note_is_kept_as_written():
    # GIVEN a note with a version, a short number and a time / WHEN drafted / THEN kept verbatim
    note = "We fixed the export button in version 2.4, released at 10:30 for all 3 plans."
    assert s.changelog_text("Export fails", note).endswith(" " + note)


# ---- an approver's edited text ------------------------------------------------------------------
@pytest.mark.parametrize(("value", "kind"), [("", "string_too_short"), (" \u200b ", "string_too_short"), (12, "string_type"), ("x" * 501, "string_too_long")])
def test_an_edited_changelog_that_is_empty_not_text_or_too_long_is_a_422_naming_the_field(value, kind):
    # GIVEN an approver's edit that cannot be sent / WHEN checked / THEN a validation error naming the field
    with pytest.raises(ValidationFailed) as caught:
        s.check_changelog_text(value, field="changes.text")
    assert caught.value.status == 422
    assert caught.value.details == [{"field": "changes.text", "message": caught.value.details[0]["message"], "type": kind}]


def test_an_edited_changelog_is_cleaned_but_not_rewritten():
    # GIVEN an approver's edit naming a phone number on purpose / WHEN checked / THEN kept, on one line
    assert s.check_changelog_text("Fixed!\nCall us on 0812 3456 7890.") == "Fixed! Call us on 0812 3456 7890."
