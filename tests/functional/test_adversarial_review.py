"""Issue 12: the holes an adversarial review of the local stack found, each shown closed on the
functional tier (handlers on moto with the resources of template.yaml). Referenced from
docs/reliability.md."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from parity.outbox import signing

from .conftest import DYNAMODB_WRITES as WRITE_OPERATIONS
from .conftest import TEST_SIGNING_SECRET, new_room


def _login(gateway, api_key):
    response = gateway.invoke("POST", "/api/v3.1/teams/company_token", headers={"X-Crm-Api-Key": api_key}, json={"sso_id": "review"})
    assert response.status == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _signed(gateway, body: str, *, webhook_id: str | None = None):
    headers = signing.sign(webhook_id or f"evt_{uuid.uuid4().hex}", body, [TEST_SIGNING_SECRET], now=datetime.now(timezone.utc))
    return gateway.invoke("POST", "/webhooks/qontak-crm", headers={**headers, "content-type": "application/json"}, body=body.encode())


def _event(company_id: str, room: str, *, record_id: str = "d1", version: int | str = 1, name: str = "v1", action: str = "create", amount: str = "1") -> str:
    """A record event as text, so numbers can be written as a test needs them (NaN, 41 digits…)."""
    return (
        f'{{"eventType": "qontak.crm.deal.{action}", "event_id": "evt_x", "company_id": "{company_id}", '
        f'"occurred_at": "2026-01-01T00:00:00.000Z", "data": {{"id": "{record_id}", "type": "deal", "name": "{name}", '
        f'"amount": {amount}, "version": {version}, "created_at": "2026-01-01T00:00:00.000Z", '
        f'"channel_integration_room_id": "{room}", "creator_flag": "bot", "creator_label": "Bot"}}}}'
    )


# ---- 1. a record that re-enters a room shows there again ------------------------------------------
def test_a_deal_moved_out_of_a_room_and_back_shows_there_again(wired, company):
    made = company()
    auth = wired.login(made.api_key)
    r1, r2 = new_room(), new_room()
    # GIVEN a bot deal created in R1, moved to R2, then back to R1 (version 3, live, in R1)
    deal = wired.create(auth, room=r1)
    for room in (r2, r1):
        moved = wired.gateway.invoke("PATCH", f"/api/v3.1/deals/{deal['id']}", headers=auth, json={"channel_integration_room_id": room})
        assert moved.status == 200, moved.text
        wired.drain()
    # THEN R1's sidebar shows it at version 3, and R2's shows nothing
    assert wired.preview(auth, r1)["deal"]["version"] == 3
    assert wired.preview(auth, r2)["deal"] is None


def test_reconcile_heals_a_room_whose_re_entry_was_lost(wired, company, ops):
    made = company()
    auth = wired.login(made.api_key)
    r1, r2 = new_room(), new_room()
    # GIVEN a deal that left R1 for R2, and whose move back to R1 was never delivered
    deal = wired.create(auth, room=r1)
    wired.gateway.invoke("PATCH", f"/api/v3.1/deals/{deal['id']}", headers=auth, json={"channel_integration_room_id": r2})
    wired.drain()
    wired.only_queues()  # the router stops: the next change makes no event
    wired.gateway.invoke("PATCH", f"/api/v3.1/deals/{deal['id']}", headers=auth, json={"channel_integration_room_id": r1})
    assert wired.preview(auth, r1)["deal"] is None
    # WHEN the operator reconciles R1 and R2
    assert ops("reconcile", r1, "--company", made.id)[0] == 0
    assert ops("reconcile", r2, "--company", made.id)[0] == 0
    wired.drain()
    # THEN R1 shows the deal again and R2 lets it go
    assert wired.preview(auth, r1)["deal"]["version"] == 3
    assert wired.preview(auth, r2)["deal"] is None


# ---- 3. numbers DynamoDB cannot hold are a 4xx, never a 500 -----------------------------------------
@pytest.mark.parametrize("amount", ["1e-131", "1e-400", "1.234567890123456789012345678901234567890", "0.1234567"])
def test_an_amount_dynamodb_cannot_hold_is_a_422_naming_amount(gateway, company, edge, amount):
    auth = _login(gateway, company().api_key)
    # WHEN a deal is created with such an amount
    with edge.recording() as calls:
        answer = gateway.invoke("POST", "/api/v3.1/deals", headers={**auth, "content-type": "application/json"}, body=f'{{"name": "x", "amount": {amount}}}'.encode())
    # THEN it is a 422 naming amount and saying the precision accepted, and nothing was stored
    assert answer.status == 422, answer.text
    details = answer.json()["error"]["details"]
    assert [d["field"] for d in details] == ["amount"]
    assert "6 decimal places" in details[0]["message"] or "1000000000000000" in details[0]["message"]
    assert calls.of("dynamodb", operations=WRITE_OPERATIONS) == []


@pytest.mark.parametrize(
    "case,body_of",
    [
        ("NaN", lambda co, room: _event(co, room, amount="NaN")),
        ("1e-400", lambda co, room: _event(co, room, amount="1e-400")),
        ("41-digit version", lambda co, room: _event(co, room, version="1" * 41)),
        ("a body over the item limit", lambda co, room: _event(co, room, name="x" * 500_000)),
    ],
)
def test_a_signed_event_dynamodb_cannot_hold_is_a_4xx_and_nothing_is_applied(gateway, company, edge, case, body_of):
    made = company()
    room = new_room()
    # WHEN a validly signed event carries it
    with edge.recording() as calls:
        answer = _signed(gateway, body_of(made.id, room))
    # THEN it is a 4xx (the sender dead-letters it after its retries) and nothing was written
    assert 400 <= answer.status < 500, (case, answer.status, answer.text[:300])
    assert calls.of("dynamodb", operations=WRITE_OPERATIONS) == []
    assert gateway.invoke("GET", f"/api/v3.1/rooms/{room}/preview", headers=_login(gateway, made.api_key)).json()["deal"] is None


# ---- 4. amounts leave exactly as stored ---------------------------------------------------------
def test_an_amount_is_answered_exactly_in_the_record_the_event_and_the_preview(wired, company):
    made = company()
    auth = wired.login(made.api_key)
    room = new_room()
    # GIVEN a deal of 999999999999999.99
    body = f'{{"name": "big", "amount": 999999999999999.99, "channel_integration_room_id": "{room}", "creator_flag": "bot"}}'
    created = wired.gateway.invoke("POST", "/api/v3.1/deals", headers={**auth, "content-type": "application/json"}, body=body)
    assert created.status == 201, created.text
    # THEN the create's answer, a later read and the room's sidebar all show it to the cent
    assert '"amount":999999999999999.99' in created.text
    read = wired.gateway.invoke("GET", f"/api/v3.1/deals/{created.json()['data']['id']}", headers=auth)
    assert json.loads(read.text, parse_float=Decimal)["data"]["amount"] == Decimal("999999999999999.99")
    wired.drain()
    sidebar = wired.gateway.invoke("GET", f"/api/v3.1/rooms/{room}/preview", headers=auth)
    assert json.loads(sidebar.text, parse_float=Decimal)["deal"]["amount"] == Decimal("999999999999999.99")


# ---- 5. key separators inside ids -------------------------------------------------------------------
def test_a_company_id_with_a_separator_is_refused_at_provisioning(stack, aws):
    from parity.crm.provisioning import provision_company

    for bad in ("a#b", "a b", "", "x" * 65, "-a", "ä"):
        with pytest.raises(ValueError, match="company id"):
            provision_company(stack.outputs["CrmTableName"], bad, "some-key", client=aws.client("dynamodb"))


def test_an_email_lookup_matches_the_whole_email_only(gateway, company):
    auth = _login(gateway, company().api_key)
    # GIVEN a contact whose email holds a "#"
    made = gateway.invoke("POST", "/api/v3.1/contacts", headers=auth, json={"name": "Other", "email": "ceo@bank.co#x.io"})
    assert made.status == 201, made.text
    # WHEN another email that is a prefix of it is looked up: THEN nothing is found
    assert gateway.invoke("GET", "/api/v3.1/contacts", headers=auth, query={"email": "ceo@bank.co"}).json()["data"] == []
    # AND the whole email finds it
    found = gateway.invoke("GET", "/api/v3.1/contacts", headers=auth, query={"email": "ceo@bank.co#x.io"}).json()["data"]
    assert [c["id"] for c in found] == [made.json()["data"]["id"]]


def test_a_phone_lookup_longer_than_the_document_allows_is_a_422_naming_phone(gateway, company):
    auth = _login(gateway, company().api_key)
    # GIVEN a lookup holding ten digits in a page of other characters (found by the fuzzer)
    phone = "+62 812 3456 78" + "-" * 300
    # WHEN it is looked up / THEN a 422 names phone, as the document's maxLength (254) says
    answer = gateway.invoke("GET", "/api/v3.1/contacts", headers=auth, query={"phone": phone})
    assert answer.status == 422 and [d["field"] for d in answer.json()["error"]["details"]] == ["phone"]
    # AND the same digits, as a producer writes them, are a lookup like any other
    assert gateway.invoke("GET", "/api/v3.1/contacts", headers=auth, query={"phone": phone.rstrip("-")}).status == 200


# ---- 7. a seen webhook-id is a dedupe key -----------------------------------------------------------
def test_a_seen_webhook_id_with_another_validly_signed_body_has_no_effect(gateway, company):
    made = company()
    room = new_room()
    webhook_id = f"evt_{uuid.uuid4().hex}"
    # GIVEN a delivery applied under a webhook-id
    assert _signed(gateway, _event(made.id, room, name="first"), webhook_id=webhook_id).status == 200
    # WHEN another validly signed body reuses that webhook-id
    answer = _signed(gateway, _event(made.id, room, name="second", version=2, action="update"), webhook_id=webhook_id)
    # THEN it is a 200 with no effect
    assert answer.status == 200 and answer.json()["status"] == "duplicate"
    shown = gateway.invoke("GET", f"/api/v3.1/rooms/{room}/preview", headers=_login(gateway, made.api_key)).json()["deal"]
    assert shown["name"] == "first" and shown["version"] == 1


# ---- 10. ids over DynamoDB's key limits ---------------------------------------------------------
@pytest.mark.parametrize("method,suffix", [("GET", ""), ("PATCH", ""), ("DELETE", ""), ("GET", "/timeline")])
def test_a_record_id_no_record_could_have_is_a_404_before_any_call(gateway, company, edge, method, suffix):
    auth = _login(gateway, company().api_key)
    # WHEN a 1,200-byte id is asked for
    with edge.recording() as calls:
        answer = gateway.invoke(method, f"/api/v3.1/deals/{'a' * 1200}{suffix}", headers=auth, **({"json": {"stage": "x"}} if method == "PATCH" else {}))
    # THEN it is a 404, and the records function never called DynamoDB (a real table would refuse the key: a 500)
    assert answer.status == 404, answer.text
    assert calls.of("dynamodb", function="RecordsFunction") == []


# ---- decided: an idempotent replay after a delete; invisible names ----------------------------------
def test_an_idempotent_replay_after_the_record_was_deleted_answers_the_first_response(gateway, company):
    auth = _login(gateway, company().api_key)
    headers = {**auth, "Idempotency-Key": f"k-{uuid.uuid4().hex}"}
    first = gateway.invoke("POST", "/api/v3.1/deals", headers=headers, json={"name": "once"})
    assert gateway.invoke("DELETE", f"/api/v3.1/deals/{first.json()['data']['id']}", headers=auth).status == 204
    # WHEN the create is replayed with its key within 24 h
    again = gateway.invoke("POST", "/api/v3.1/deals", headers=headers, json={"name": "once"})
    # THEN it answers the first response (201, marked as a replay) and makes no second record
    assert again.status == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert gateway.invoke("GET", f"/api/v3.1/deals/{first.json()['data']['id']}", headers=auth).status == 404


@pytest.mark.parametrize("name", ["\u202e", "\u200b\u200b", "\ufeff", " \u200d "])
def test_a_name_of_only_invisible_characters_is_refused_like_an_empty_one(gateway, company, name):
    auth = _login(gateway, company().api_key)
    answer = gateway.invoke("POST", "/api/v3.1/deals", headers=auth, json={"name": name})
    assert answer.status == 422 and [d["field"] for d in answer.json()["error"]["details"]] == ["name"]
