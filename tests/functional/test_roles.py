"""Roles on API keys (contracts/approvals.md "Roles"), on the local stack: the token answers the
key's role and carries it with its sso_id through the authorizer; a route above the caller's role
is a 403 ``forbidden`` (same company), another company's object stays a 404; ``parity ops key
issue --role``; a seeded company's key is an admin's."""

from __future__ import annotations

import uuid

import pytest

from .test_conversations import channel

SLACK_CHANNEL = {"type": "slack", "name": "ops", "secret": "s", "api_token": "t", "account_id": "T1"}


def token(wired, api_key: str) -> dict:
    answer = wired.gateway.invoke("POST", "/api/v3.1/teams/company_token", headers={"X-Crm-Api-Key": api_key}, json={"sso_id": "ana@acme"})
    assert answer.status == 200, answer.text
    return answer.json()


@pytest.mark.parametrize("role", ["producer", "approver", "admin"])
def test_the_token_answers_the_keys_role(wired, company, role):
    made = company()
    # WHEN a key of each role is exchanged THEN the answer names the role
    assert token(wired, made.keys[role])["role"] == role


def test_a_seeded_companys_key_is_an_admins(wired, company):
    # GIVEN a company seeded as `parity local --company ID:KEY` seeds it
    assert token(wired, company().api_key)["role"] == "admin"


@pytest.mark.parametrize("role", ["producer", "approver"])
def test_channels_are_an_admins_a_lower_role_is_a_403_and_another_companys_stays_a_404(wired, company, role):
    mine, theirs = company(), company()
    admin = wired.login(mine.api_key)
    lower = wired.login(mine.keys[role])
    own = channel(wired, admin, "slack")
    other = channel(wired, wired.login(theirs.api_key), "slack")
    # WHEN a lower role uses the admin's routes THEN 403 forbidden, and nothing is made or removed
    made = wired.gateway.invoke("POST", "/api/v3.1/channels", headers=lower, json=SLACK_CHANNEL)
    assert made.status == 403 and made.json()["error"]["code"] == "forbidden"
    assert wired.gateway.invoke("GET", "/api/v3.1/channels", headers=lower).status == 403
    assert wired.gateway.invoke("GET", f"/api/v3.1/channels/{own['id']}", headers=lower).status == 403
    assert wired.gateway.invoke("DELETE", f"/api/v3.1/channels/{own['id']}", headers=lower).status == 403
    assert [c["id"] for c in wired.gateway.invoke("GET", "/api/v3.1/channels", headers=admin).json()["data"]] == [own["id"]]
    # AND another company's channel is a 404 for them, as for anyone of this company
    for method in ("GET", "DELETE"):
        assert wired.gateway.invoke(method, f"/api/v3.1/channels/{other['id']}", headers=lower).status == 404
    # AND a producer's own rights are untouched: records
    assert wired.gateway.invoke("POST", "/api/v3.1/deals", headers=lower, json={"name": "still mine"}).status == 201


def test_a_key_issued_with_a_role_carries_it_and_a_bad_role_is_refused(wired, ops):
    company_id = f"co-{uuid.uuid4().hex[:10]}"
    # WHEN an operator issues an approver key THEN its tokens are an approver's
    code, issued, _ = ops("key", "issue", company_id, "--role", "approver")
    assert code == 0 and issued["role"] == "approver"
    assert token(wired, issued["api_key"])["role"] == "approver"
    # AND without --role the key is a producer's (least privilege)
    code, plain, _ = ops("key", "issue", company_id)
    assert code == 0 and plain["role"] == "producer"
    assert sorted(k["role"] for k in ops("key", "list", company_id)[1]["keys"]) == ["approver", "producer"]
    # AND a role that does not exist is refused, nothing issued
    with pytest.raises(SystemExit):
        ops("key", "issue", company_id, "--role", "root")
    assert len(ops("key", "list", company_id)[1]["keys"]) == 2
