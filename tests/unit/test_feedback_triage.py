"""Feedback triage, pure: every rule of the table fires on its example and not on its
counterexample, the suggestion made from the rules that fired, the folding, and the port for an
optional model with the rules as its fallback (contracts/feedback.md, "Intake")."""

import time
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from parity.feedback import triage
from parity.feedback.text import fold, words
from parity.feedback.triage import RULES, Rule, Suggestion, by_rules, suggest


def fired(text):
    return set(by_rules(text).fired)


def rank(priority):
    return triage.PRIORITIES.index(priority)


# ---- the table: each row tested both ways -----------------------------------------------------
@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_every_rule_fires_on_its_example(rule):
    # GIVEN a row of the table / WHEN its example is triaged / THEN the row fired
    assert rule.name in fired(rule.example)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_no_rule_fires_on_its_counterexample(rule):
    # GIVEN a row of the table / WHEN its near-miss counterexample is triaged / THEN the row did not fire
    assert rule.name not in fired(rule.counterexample)


def test_rule_names_are_unique_and_say_their_language_and_suggestion():
    # GIVEN the table / THEN each name is used once and reads <language>.<suggestion>.<what>
    names = Counter(r.name for r in RULES)
    assert [n for n, c in names.items() if c > 1] == []
    for rule in RULES:
        language, suggestion = rule.name.split(".")[:2]
        assert language == ("any" if rule.language == "*" else rule.language)
        assert {"feature": "feature_request"}.get(suggestion, suggestion) == rule.suggests


@pytest.mark.parametrize("language", ["en", "es", "id"])
def test_each_language_has_rows_for_every_type_and_for_urgency(language):
    # GIVEN the table / WHEN the rows of one language are collected
    suggested = {r.suggests for r in RULES if r.language == language}
    # THEN each type and urgency can be suggested in that language
    assert suggested == {*triage.TYPES, triage.URGENT}


def test_a_row_without_a_counterexample_or_with_an_unknown_suggestion_is_refused():
    # GIVEN rows a careless edit might add / WHEN they are built / THEN the table refuses them
    with pytest.raises(ValueError, match="counterexample"):
        Rule("en.bug.x", "en", "bug", 1, keywords=("oops",), example="oops")
    with pytest.raises(ValueError, match="not a type"):
        Rule("en.praise.x", "en", "praise", 1, keywords=("great",), example="great", counterexample="grate")
    with pytest.raises(ValueError, match="NEGATIONS"):
        Rule("fr.bug.x", "fr", "bug", 1, keywords=("panne",), example="panne", counterexample="pain")


def test_adding_a_language_is_adding_rows():
    # GIVEN a row for a language the module does not ship (its negations added alongside)
    triage.NEGATIONS["pt"] = ("nao",)
    try:
        rule = Rule("pt.bug.nao_funciona", "pt", "bug", 2, keywords=("não funciona",), example="O app não funciona", counterexample="O app funciona")
        # WHEN triage runs with the extended table
        result = by_rules("O aplicativo NAO FUNCIONA", rules=(*RULES, rule))
    finally:
        del triage.NEGATIONS["pt"]
    # THEN the new row takes part like any other
    assert result.type == "bug" and "pt.bug.nao_funciona" in result.fired and result.languages == ("pt",)


# ---- the suggestions the contract names ---------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The app crashes when I export", "bug"),
        ("I get an error on checkout", "bug"),
        ("Saya tidak bisa login", "bug"),
        ("La app no funciona", "bug"),
        ("The dashboard is down", "incident"),
        ("Major outage in the EU region", "incident"),
        ("Error untuk semua pengguna", "incident"),
        ("Caída del servicio en México", "incident"),
        ("Please add an export to Excel", "feature_request"),
        ("Sería genial poder exportar", "feature_request"),
        ("Tolong tambahkan ekspor Excel", "feature_request"),
        ("How do I change my plan", "question"),
        ("¿Cómo cambio mi plan", "question"),
        ("Bagaimana cara ganti paket", "question"),
    ],
)
def test_reports_in_three_languages_get_the_expected_type(text, expected):
    # GIVEN a report in English, Spanish or Indonesian / WHEN triaged / THEN its type is suggested
    assert by_rules(text).type == expected


def test_an_incident_outranks_a_bug_and_urgency_raises_the_priority():
    # GIVEN a bug, the same bug hitting everyone, and each of them urgent
    bug, incident = by_rules("Checkout fails"), by_rules("Checkout fails for all users")
    urgent_bug, urgent_incident = by_rules("Checkout fails, urgent"), by_rules("URGENT: checkout fails for all users")
    # THEN the incident wins the type and sits higher; urgency raises each one level; only the urgent incident is P0
    assert (bug.type, bug.priority) == ("bug", "P3")
    assert (incident.type, incident.priority) == ("incident", "P1")
    assert (urgent_bug.priority, urgent_incident.priority) == ("P2", "P0")


@pytest.mark.parametrize("text", ["Urgente: no funciona el pago", "Mohon segera, pembayaran gagal", "ASAP: payment failed"])
def test_urgency_words_in_each_language_raise_a_bug_to_p2(text):
    # GIVEN an urgent bug in each language / WHEN triaged / THEN it is P2 rather than the bug's P3
    assert (by_rules(text).type, by_rules(text).priority) == ("bug", "P2")


def test_urgency_raises_at_most_two_levels():
    # GIVEN a feature request piling up urgency words / WHEN triaged
    result = by_rules("Please add exports, urgent, critical, emergency, asap, I was charged twice")
    # THEN it moves from P5 by two levels only
    assert (result.type, result.priority) == ("feature_request", "P3")


def test_no_rule_means_the_default_type_at_its_base_priority_and_nothing_fired():
    # GIVEN a report no rule speaks to / WHEN triaged / THEN the default, with an empty explanation
    result = by_rules("The invoice total looks different from last month")
    assert (result.type, result.priority, result.fired, result.languages) == ("bug", "P3", (), ())


def test_a_tie_goes_to_the_earlier_type():
    # GIVEN a report weighing as much for a bug as for a feature request / WHEN triaged / THEN bug (TYPES order)
    assert by_rules("It crashes. Please add a retry button").type == "bug"


def test_a_rule_counts_once_however_often_it_matches():
    # GIVEN a bug word repeated three times next to one incident word
    # WHEN triaged / THEN the incident still wins (3 against 2, not 3 against 6)
    assert by_rules("crash crash crash, total outage").type == "incident"


# ---- reading: folding, accents, word boundaries, negation -------------------------------------
@pytest.mark.parametrize("text", ["CAÍDA total", "caida total", "Caída total", "CAIDA TOTAL", "ca\u0301ida total"])
def test_case_and_accents_do_not_matter(text):
    # GIVEN "caída" written in any case, with or without its accent (precomposed or combining)
    # WHEN triaged / THEN the Spanish incident row fires
    assert "es.incident.caida" in fired(text)


@pytest.mark.parametrize("text", ["ＣＲＡＳＨ on save", "It doesn\u2019t work", "It doesn't   work", "it\u00a0crashes"])
def test_full_width_letters_curly_apostrophes_and_odd_spaces_are_read_plainly(text):
    # GIVEN full-width letters, a curly apostrophe, runs of spaces, a no-break space / THEN the bug row fires
    assert "en.bug.broken" in fired(text)


@pytest.mark.parametrize("text", ["terrorism", "errorless", "bugle", "downloaded", "breakdown", "crashpad"])
def test_keywords_match_whole_words_only(text):
    # GIVEN a word that merely contains a keyword / WHEN triaged / THEN no row fires
    assert fired(text) == set()


@pytest.mark.parametrize(
    ("text", "rule"),
    [("There is no error", "en.bug.broken"), ("not urgent at all", "en.urgent.words"), ("no es urgente", "es.urgent.words"),
     ("tidak mendesak", "id.urgent.words"), ("there is no outage", "en.incident.outage")],
)
def test_a_keyword_right_after_a_negation_does_not_fire(text, rule):
    # GIVEN a keyword negated in its language / WHEN triaged / THEN its row does not fire
    assert rule not in fired(text)


@pytest.mark.parametrize(("text", "rule"), [("no hay caída", "es.incident.caida"), ("not sure, but it crashes", "en.bug.broken")])
def test_a_negation_further_away_does_not_stop_a_keyword(text, rule):
    # GIVEN a negation that is not the word right before the keyword / WHEN triaged / THEN the row fires
    assert rule in fired(text)


def test_fold_is_nfkc_casefold_and_accent_free():
    # GIVEN text in odd forms / WHEN folded / THEN plain, lower-case, without accents, one space between words
    assert fold("  Straße ＣＡÍＤＡ\u00a0 añadir  doesn\u2019t ") == "strasse caida anadir doesn't"
    assert words("¿Cómo_exporto, mis-contactos?") == ["como", "exporto", "mis", "contactos"]


@given(st.text())
def test_fold_is_idempotent(text):
    # GIVEN any text / WHEN folded twice / THEN the same as once (a folded rule matches folded text)
    assert fold(fold(text)) == fold(text)


# ---- properties of the suggestion ---------------------------------------------------------------
@given(st.text(max_size=300))
def test_any_text_gets_a_valid_suggestion(text):
    # GIVEN any text / WHEN triaged / THEN a known type and priority, from the rules
    result = by_rules(text)
    assert result.type in triage.TYPES and result.priority in triage.PRIORITIES and result.source == "rules"


@given(st.text(alphabet=st.sampled_from("abcdeinorstuw ?¿.,'"), max_size=80))
def test_adding_an_urgency_word_never_lowers_the_priority_nor_changes_the_type(text):
    # GIVEN any report / WHEN " urgent" is appended
    before, after = by_rules(text), by_rules(text + " urgent")
    # THEN the type stays and the priority is as high or higher
    assert after.type == before.type
    assert rank(after.priority) <= rank(before.priority)


@settings(deadline=None, max_examples=1)
@given(st.just(None))
def test_a_huge_adversarial_report_is_triaged_quickly(_):
    # GIVEN the longest report read, made of near-keywords and negations
    text = ("no not urgen urgent ¿ ?como down dow " * 600)[: triage.MAX_READ_CHARS]
    # WHEN triaged / THEN it takes well under a second
    started = time.perf_counter()
    by_rules(text)
    assert time.perf_counter() - started < 1.0


def test_text_past_the_read_limit_is_not_read():
    # GIVEN an outage mentioned only past the limit / WHEN triaged / THEN it is not seen
    assert "en.incident.outage" not in fired("x " * triage.MAX_READ_CHARS + "outage")


# ---- the port for a model -----------------------------------------------------------------------
class FakeModel:
    def __init__(self, answer=None, error=None):
        self.answer, self.error, self.seen = answer, error, []

    def suggest(self, text):
        self.seen.append(text)
        if self.error:
            raise self.error
        return self.answer


def test_without_a_model_the_rules_answer():
    # GIVEN no model (the default) / WHEN a report is triaged / THEN the rules' suggestion
    assert suggest("The app crashes") == by_rules("The app crashes")


def test_a_model_that_answers_wins_and_sees_no_email_or_phone_number():
    # GIVEN a model suggesting an incident
    model = FakeModel(Suggestion("incident", "P1"))
    # WHEN a report holding an email and a phone number is triaged
    result = suggest("Crash! write budi.santoso@example.com or +62 812-3456-7890", model=model)
    # THEN the model's suggestion is used (with the rules' explanation kept) and it saw the text masked
    assert (result.type, result.priority, result.source) == ("incident", "P1", "model")
    assert result.fired == ("en.bug.broken",)
    assert model.seen == ["Crash! write b***@example.com or +** ***-****-*890"]


@pytest.mark.parametrize(
    "model",
    [FakeModel(error=TimeoutError("slow")), FakeModel(None), FakeModel(Suggestion("praise", "P1")),
     FakeModel(Suggestion("bug", "P9")), FakeModel({"type": "bug", "priority": "P1"})],
    ids=["raises", "no-answer", "unknown-type", "unknown-priority", "not-a-suggestion"],
)
def test_a_failing_or_confused_model_falls_back_to_the_rules(model):
    # GIVEN a model that fails or answers nothing usable / WHEN a report is triaged
    result = suggest("Please add a dark mode", model=model)
    # THEN the rules answer, and say so
    assert result == by_rules("Please add a dark mode") and result.source == "rules"
