"""Roles: the order, the 403, and what a key issued before roles existed may do."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parity.approvals import roles
from parity.approvals.roles import NEEDED, Caller, Role, caller_from_context, check_role, parse_role, require
from parity.core.errors import Forbidden, ParityError

ALL = list(Role)


def test_the_roles_are_ordered_producer_approver_admin():
    # GIVEN the three roles / THEN each holds the rights of the ones below it
    assert Role.producer < Role.approver < Role.admin
    assert [str(r) for r in sorted(ALL)] == ["producer", "approver", "admin"]


@given(st.sampled_from(ALL), st.sampled_from(ALL))
def test_require_passes_exactly_when_the_callers_role_is_high_enough(caller, needed):
    # GIVEN any caller role and any needed role
    # WHEN the route checks it
    # THEN it passes iff caller >= needed, else it is a 403 "forbidden"
    if caller >= needed:
        require(caller, needed)
    else:
        with pytest.raises(Forbidden) as caught:
            require(caller, needed)
        assert (caught.value.status, caught.value.code) == (403, "forbidden")


def test_forbidden_is_a_parity_error_the_edge_maps_to_403():
    # GIVEN the error class the edge maps / THEN it is one of ours with the contract's code
    assert issubclass(Forbidden, ParityError)
    assert (Forbidden.status, Forbidden.code) == (403, "forbidden")


def test_a_producer_cannot_approve_but_can_read_the_policy():
    # GIVEN a producer token (a bot) / WHEN it approves / THEN 403; reading the policy is allowed
    producer = Caller("c1", Role.producer, "bot-1")
    producer.require("policy.read")
    producer.require("records")
    for action in ("approvals.read", "approvals.decide", "activity.read", "anomalies.acknowledge", "policy.write", "notification_settings", "channels"):
        with pytest.raises(Forbidden):
            producer.require(action)


def test_an_approver_decides_but_does_not_change_the_policy_or_notifications():
    approver = Caller("c1", Role.approver, "ana")
    for action in ("approvals.read", "approvals.decide", "activity.read", "anomalies.read", "anomalies.acknowledge", "records"):
        approver.require(action)
    for action in ("policy.write", "notification_settings", "channels"):
        with pytest.raises(Forbidden):
            approver.require(action)


def test_an_admin_may_do_everything():
    admin = Caller("c1", Role.admin, "root")
    for action in NEEDED:
        admin.require(action)


def test_an_unknown_action_name_is_a_bug_not_a_pass():
    # GIVEN a typo in a handler's action name / THEN it fails loudly instead of letting anyone in
    with pytest.raises(KeyError):
        Caller("c1", Role.admin, "root").require("aprovals.decide")


@pytest.mark.parametrize("stored", [None, "", "superuser", "Admin", "ADMIN", " admin", 3, True, ["admin"], {"role": "admin"}])
def test_a_key_without_a_known_role_is_a_producer(stored):
    # GIVEN a key issued before roles existed (no role), or one whose role is not exactly known
    # WHEN its role is read
    # THEN it is a producer: today's rights, never more, never an error
    assert parse_role(stored) is roles.DEFAULT_ROLE is Role.producer


@given(st.one_of(st.none(), st.text(max_size=12), st.integers(), st.booleans()))
def test_parsing_a_role_never_grants_more_than_producer_unless_it_names_one_exactly(value):
    # GIVEN any value in a role slot / THEN the role is above producer only for the exact names
    role = parse_role(value)
    if role > Role.producer:
        assert value in ("approver", "admin")


@pytest.mark.parametrize("name", ["producer", "approver", "admin"])
def test_each_role_name_parses_to_itself(name):
    assert str(parse_role(name)) == name
    assert check_role(name) is Role[name]


@pytest.mark.parametrize("typo", ["admn", "", None, "Admin", 2])
def test_choosing_a_role_refuses_a_typo_instead_of_downgrading_it(typo):
    # GIVEN an operator issuing a key with a mistyped role / THEN it is refused, naming the choices
    with pytest.raises(ValueError, match="producer, approver, admin"):
        check_role(typo)


def test_the_caller_comes_from_the_authorizer_context():
    # GIVEN the authorizer's context for an approver's token
    caller = caller_from_context({"company_id": "c1", "role": "approver", "sso_id": "ana@acme"})
    # THEN the caller carries company, role and who acted
    assert caller == Caller("c1", Role.approver, "ana@acme")


def test_a_context_from_before_roles_is_a_producer_with_no_sso_id():
    # GIVEN a context an older authorizer made (company only)
    caller = caller_from_context({"company_id": "c1"})
    assert caller == Caller("c1", Role.producer, None)


@pytest.mark.parametrize("context", [{}, {"auth_error": "invalid_token"}, {"company_id": ""}, {"company_id": 7, "role": "admin"}])
def test_no_company_means_no_caller(context):
    # GIVEN a context that resolved no company (even one claiming a role) / THEN no caller (401 at the edge)
    assert caller_from_context(context) is None
