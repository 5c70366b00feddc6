"""The approval policy: its validation, what it holds, and the confidence/agent_id checks."""

from __future__ import annotations

import json
import sys
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parity.approvals import policy
from parity.approvals.policy import PolicyCache, default_policy, held, split_trust_fields, trust_fields, validate_policy
from parity.core import jsonio
from parity.core.errors import ValidationFailed


def fields_of(exc: ValidationFailed) -> list[str]:
    return [d["field"] for d in exc.details]


def refused(body) -> list[str]:
    with pytest.raises(ValidationFailed) as caught:
        validate_policy(body)
    assert caught.value.status == 422
    return fields_of(caught.value)


# ---- the policy ------------------------------------------------------------------------------
def test_the_default_holds_nothing_and_gives_a_day():
    # GIVEN a company that never set a policy
    default = default_policy()
    # THEN no flag has a threshold (the RFC behaviour) and approvals expire after 86400 s
    assert default == {"bot": {"min_confidence": None}, "agentic_ai": {"min_confidence": None}, "expires_in": 86400}
    assert not held(default, "agentic_ai", None)
    assert not held(default, "bot", Decimal("0.01"))


def test_a_put_replaces_the_whole_policy_absent_fields_take_their_defaults():
    # GIVEN a PUT naming only the AI threshold
    stored = validate_policy({"agentic_ai": {"min_confidence": Decimal("0.8")}})
    # THEN the bot has no threshold and expires_in is the default: nothing is merged from before
    assert stored == {"bot": {"min_confidence": None}, "agentic_ai": {"min_confidence": Decimal("0.8")}, "expires_in": 86400}
    assert validate_policy({}) == default_policy()


def test_a_full_policy_round_trips_as_the_answer():
    body = jsonio.loads('{"bot": {"min_confidence": 0.5}, "agentic_ai": {"min_confidence": 1}, "expires_in": 300}')
    answer = policy.public(validate_policy(body))
    assert json.loads(jsonio.dumps(answer)) == {"bot": {"min_confidence": 0.5}, "agentic_ai": {"min_confidence": 1}, "expires_in": 300}


def test_every_bad_field_is_named_in_one_422():
    # GIVEN a body with four different mistakes
    body = {"bot": {"min_confidence": 1.5}, "agentic_ai": {"min_confidance": 0.8}, "expires_in": 299, "ai": {}}
    # THEN each is named, nested ones by their path
    assert sorted(refused(body)) == ["agentic_ai.min_confidance", "ai", "bot.min_confidence", "expires_in"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"bot": {"min_confidence": "0.8"}}, "bot.min_confidence"),
        ({"bot": {"min_confidence": True}}, "bot.min_confidence"),
        ({"bot": {"min_confidence": -0.1}}, "bot.min_confidence"),
        ({"bot": {"min_confidence": float("nan")}}, "bot.min_confidence"),
        ({"bot": 0.8}, "bot"),
        ({"bot": None}, "bot"),
        ({"expires_in": 604801}, "expires_in"),
        ({"expires_in": 3600.0}, "expires_in"),
        ({"expires_in": "3600"}, "expires_in"),
        ({"expires_in": True}, "expires_in"),
        ({"expires_in": None}, "expires_in"),
    ],
)
def test_a_bad_field_is_refused_by_name(body, field):
    assert refused(body) == [field]


@pytest.mark.parametrize("body", [[], "policy", None, 3])
def test_a_body_that_is_not_an_object_is_a_422_on_the_body(body):
    assert refused(body) == ["body"]


@pytest.mark.parametrize("expires_in", [300, 604800, 86400])
def test_expires_in_bounds_are_inclusive(expires_in):
    assert validate_policy({"expires_in": expires_in})["expires_in"] == expires_in


def test_a_stored_policy_reads_back_and_a_missing_one_is_the_default():
    # GIVEN what the store returns: the policy plus its own keys, every number a Decimal
    item = {"pk": "COMPANY#c1", "sk": "#POLICY", "bot": {"min_confidence": Decimal("0.7")}, "agentic_ai": {"min_confidence": None}, "expires_in": Decimal(600)}
    # THEN the store's keys are ignored and the numbers are the ones the PUT stored
    assert policy.from_stored(item) == {"bot": {"min_confidence": Decimal("0.7")}, "agentic_ai": {"min_confidence": None}, "expires_in": 600}
    assert policy.from_stored(None) == default_policy()


def test_a_hand_edited_invalid_stored_policy_is_a_bug_to_see_not_a_422_to_the_producer():
    with pytest.raises(ValueError, match="stored approval policy is invalid"):
        policy.from_stored({"bot": {"min_confidence": Decimal(2)}})


# ---- what is held ----------------------------------------------------------------------------
POLICY = validate_policy({"agentic_ai": {"min_confidence": Decimal("0.8")}})


@pytest.mark.parametrize(
    ("flag", "confidence", "expected"),
    [
        ("agentic_ai", Decimal("0.65"), True),  # the demo: a 0.65 AI ticket is held
        ("agentic_ai", None, True),  # absent confidence with a threshold: held
        ("agentic_ai", Decimal("0.8"), False),  # at the threshold: not held
        ("agentic_ai", 1, False),
        ("agentic_ai", 0.79, True),  # a float is read by its repr
        ("bot", Decimal("0.1"), False),  # no threshold for the bot
        ("bot", None, False),
        (None, None, False),  # a person's create is never held
        ("human", None, False),  # an unrecognised flag is stored as absent: never held
    ],
)
def test_held_when_the_flag_has_a_threshold_and_confidence_is_absent_or_below(flag, confidence, expected):
    assert held(POLICY, flag, confidence) is expected


@given(
    st.decimals(min_value=0, max_value=1, places=4),
    st.one_of(st.none(), st.decimals(min_value=0, max_value=1, places=6)),
)
def test_held_is_exactly_absent_or_below_the_threshold(threshold, confidence):
    # GIVEN any threshold and any (or no) confidence
    rules = validate_policy({"bot": {"min_confidence": threshold}})
    # THEN held iff confidence is absent or strictly below the threshold
    assert held(rules, "bot", confidence) is (confidence is None or confidence < threshold)
    # AND raising the confidence never turns "not held" into "held" (monotone)
    if confidence is not None and not held(rules, "bot", confidence):
        assert not held(rules, "bot", min(Decimal(1), confidence + Decimal("0.1")))


# ---- confidence and agent_id -----------------------------------------------------------------
@pytest.mark.parametrize("confidence", [0, 1, Decimal("0.65"), 0.5, Decimal("1.000"), None])
def test_good_confidences_are_kept_exactly(confidence):
    trust, problems = trust_fields({"confidence": confidence, "agent_id": "agent-7"})
    assert problems == []
    assert trust["agent_id"] == "agent-7"
    assert trust["confidence"] == (None if confidence is None else Decimal(repr(confidence)) if isinstance(confidence, float) else confidence)


@pytest.mark.parametrize(
    ("confidence", "type_"),
    [
        (True, "number_type"),
        (False, "number_type"),
        ("0.9", "number_type"),
        ([0.9], "number_type"),
        (1.01, "less_than_equal"),
        (Decimal("-0.0001"), "greater_than_equal"),
        (float("inf"), "finite_number"),
        (Decimal("NaN"), "finite_number"),
        (Decimal("1E-200"), "decimal_max_places"),
        (10**400, "less_than_equal"),
    ],
)
def test_a_confidence_that_is_not_a_json_number_in_0_to_1_is_named(confidence, type_):
    _, problems = trust_fields({"confidence": confidence})
    assert [(p["field"], p["type"]) for p in problems] == [("confidence", type_)]


@pytest.mark.parametrize(
    "agent_id",
    ["", "   ", "a" * 129, "agent\n7", "agent\x007", "agent\u00857", 7, {"id": 1}, "\ud800"],
)
def test_a_bad_agent_id_is_named(agent_id):
    _, problems = trust_fields({"agent_id": agent_id})
    assert [p["field"] for p in problems] == ["agent_id"]


def test_an_agent_id_of_128_characters_in_any_script_is_kept_as_sent():
    name = "代理" * 64
    trust, problems = trust_fields({"agent_id": name})
    assert (trust["agent_id"], problems) == (name, [])


def test_both_bad_fields_are_named_together():
    _, problems = trust_fields({"confidence": "high", "agent_id": ""})
    assert [p["field"] for p in problems] == ["confidence", "agent_id"]


def test_split_leaves_the_crm_body_without_the_trust_fields():
    # GIVEN a bot create body / WHEN split / THEN the CRM's strict model sees only its own fields
    body = {"name": "Deal", "creator_flag": "bot", "confidence": Decimal("0.9"), "agent_id": "a1"}
    rest, trust, problems = split_trust_fields(body)
    assert rest == {"name": "Deal", "creator_flag": "bot"}
    assert trust == {"confidence": Decimal("0.9"), "agent_id": "a1"} and problems == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | st.decimals(allow_nan=True, allow_infinity=True),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@given(json_values, json_values)
def test_any_json_value_is_either_accepted_in_range_or_named_never_a_crash(confidence, agent_id):
    # GIVEN any values a client could send
    trust, problems = trust_fields({"confidence": confidence, "agent_id": agent_id})
    # THEN an accepted confidence is a Decimal in 0..1, a refused one is named, and nothing raises
    named = {p["field"] for p in problems}
    if "confidence" not in named and trust["confidence"] is not None:
        assert isinstance(trust["confidence"], Decimal) and 0 <= trust["confidence"] <= 1
    if "agent_id" not in named and trust["agent_id"] is not None:
        assert isinstance(trust["agent_id"], str) and 1 <= len(trust["agent_id"]) <= 128


@given(st.dictionaries(st.sampled_from(["bot", "agentic_ai", "expires_in", "other"]), json_values, max_size=4))
def test_any_policy_body_is_either_a_whole_policy_or_a_422_never_a_crash(body):
    try:
        stored = validate_policy(body)
    except ValidationFailed as exc:
        assert exc.details and all(d["field"] for d in exc.details)
        return
    assert set(stored) == {"bot", "agentic_ai", "expires_in"}
    assert 300 <= stored["expires_in"] <= 604800


# ---- the cache -------------------------------------------------------------------------------
def test_the_cache_reads_once_per_ttl_and_never_trusts_an_answer_past_a_minute():
    # GIVEN a cache asked to keep answers for an hour
    reads = []

    def lookup(company):
        reads.append(company)
        return {"agentic_ai": {"min_confidence": Decimal("0.8")}}

    cache = PolicyCache(lookup, ttl=3600)
    # WHEN the same company is asked at 0 s, 59 s and 61 s
    cache.get("c1", now=0.0)
    cache.get("c1", now=59.0)
    cache.get("c1", now=61.0)
    # THEN the store was read at 0 s and again after the 60 s ceiling
    assert reads == ["c1", "c1"]


def test_forgetting_a_company_reads_its_new_policy_at_once():
    answers = iter([None, {"bot": {"min_confidence": Decimal("0.5")}}])
    cache = PolicyCache(lambda _c: next(answers))
    assert not held(cache.get("c1", now=0.0), "bot", None)
    cache.forget("c1")
    assert held(cache.get("c1", now=1.0), "bot", None)


def test_the_policy_module_does_not_load_pydantic():
    # GIVEN the create path imports the policy on every cold start
    # THEN it must not drag pydantic in (issue #7: pydantic loads only on the first body parsed)
    import subprocess

    code = "import sys, parity.approvals.policy, parity.approvals.checks; print('pydantic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
