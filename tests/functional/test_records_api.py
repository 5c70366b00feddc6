"""The records API on moto with the resources deployed from template.yaml, through the emulated
HTTP API and its authorizer (RFC CDTC-S03, CDTC-S06, NEG-2, NEG-3; DESIGN "Deals and tickets")."""

from __future__ import annotations

import time
import uuid

import pytest
from parity.crm.credentials import hash_secret


@pytest.fixture
def token(gateway, company):
    """A fresh company and a bearer token for it: ``(company, headers)``."""

    def make(made=None):
        made = made or company()
        response = gateway.invoke("POST", "/api/v3.1/teams/company_token", headers={"X-Crm-Api-Key": made.api_key}, json={"sso_id": "flow-7"})
        assert response.status == 200, response.text
        return made, {"Authorization": f"Bearer {response.json()['access_token']}"}

    return make


def records_of(aws, stack, company_id):
    """Every record item stored under a company (to prove what was, or was not, stored)."""
    items = aws.client("dynamodb").query(
        TableName=stack.outputs["CrmTableName"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"COMPANY#{company_id}"}},
    )["Items"]
    return [i for i in items if i.get("entity", {}).get("S") == "record"]


def new_contact(gateway, auth, phone="+62 812-3456-7890"):
    response = gateway.invoke("POST", "/api/v3.1/contacts", headers=auth, json={"name": "Budi", "phone": phone})
    assert response.status == 201, response.text
    return response.json()["data"]["id"]


# ---- auth --------------------------------------------------------------------------------------
def test_company_token_exchange(gateway, company, aws, stack):
    # GIVEN a company with an API key / WHEN the producer exchanges it
    made = company()
    response = gateway.invoke("POST", "/api/v3.1/teams/company_token", headers={"X-Crm-Api-Key": made.api_key}, json={"sso_id": "flow-7"})
    # THEN it gets an expiring bearer token for that company
    body = response.json()
    assert response.status == 200
    assert body["token_type"] == "Bearer" and body["company_id"] == made.id and body["expires_in"] == 3600
    # AND neither the key nor the token is stored in clear
    dump = str(aws.client("dynamodb").scan(TableName=stack.outputs["CrmTableName"])["Items"])
    assert body["access_token"] not in dump and made.api_key not in dump
    assert hash_secret(body["access_token"]) in dump


@pytest.mark.parametrize("key", ["wrong-key", None])
def test_company_token_with_a_wrong_or_missing_key_is_401(gateway, key):
    headers = {"X-Crm-Api-Key": key} if key else {}
    response = gateway.invoke("POST", "/api/v3.1/teams/company_token", headers=headers, json={"sso_id": "x"})
    assert response.status == 401 and response.json()["error"]["code"] == "unauthorized"


def test_missing_unknown_or_expired_token_is_401(gateway, token, aws, stack):
    made, _ = token()
    assert gateway.invoke("GET", "/api/v3.1/deals/whatever").status == 401
    assert gateway.invoke("GET", "/api/v3.1/deals/whatever", headers={"Authorization": "Bearer forged"}).status == 401
    # GIVEN a token that expired a second ago
    expired = f"pty_expired_{uuid.uuid4().hex}"
    aws.client("dynamodb").put_item(
        TableName=stack.outputs["CrmTableName"],
        Item={"pk": {"S": f"TOKEN#{hash_secret(expired)}"}, "sk": {"S": "#TOKEN"}, "company_id": {"S": made.id}, "ttl": {"N": str(int(time.time()) - 1)}},
    )
    response = gateway.invoke("POST", "/api/v3.1/deals", headers={"Authorization": f"Bearer {expired}"}, json={"name": "x"})
    assert response.status == 401 and response.json()["error"]["code"] == "unauthorized"
    assert records_of(aws, stack, made.id) == []


# ---- create ------------------------------------------------------------------------------------
def test_bot_creates_a_deal_with_full_origin_context(gateway, token):
    # GIVEN a producer with a token and the customer's contact
    _, auth = token()
    contact_id = new_contact(gateway, auth)
    # WHEN the bot creates a deal from a chat room
    response = gateway.invoke(
        "POST",
        "/api/v3.1/deals",
        headers=auth,
        json={"name": "Budi - 2 units", "amount": 1500000, "pipeline": "Sales", "stage": "New", "source": "Whatsapp Chatbot", "channel_integration_room_id": "room-123", "contact_id": contact_id, "creator_flag": "bot"},
    )
    # THEN it carries the room, the contact, the Bot label and the source as sent
    assert response.status == 201, response.text
    deal = response.json()["data"]
    assert deal["creator_label"] == "Bot" and deal["creator_flag"] == "bot"
    assert deal["contact_ids"] == [contact_id]
    assert deal["channel_integration_room_id"] == "room-123"
    assert deal["source"] == "Whatsapp Chatbot"
    assert deal["version"] == 1 and deal["url"].endswith(f"/deals/{deal['id']}")
    assert response.json()["warnings"] == []
    # AND reading it back gives the same record
    assert gateway.invoke("GET", f"/api/v3.1/deals/{deal['id']}", headers=auth).json()["data"] == deal


def test_ai_creates_a_ticket_with_lead_ids(gateway, token):
    _, auth = token()
    first, second = new_contact(gateway, auth), new_contact(gateway, auth, phone="+62 811 000 111")
    response = gateway.invoke("POST", "/api/v3.1/tickets", headers=auth, json={"name": "Refund", "priority": "high", "channel_integration_room_id": "room-9", "contact_id": first, "crm_lead_ids": [second, first], "creator_flag": "agentic_ai"})
    ticket = response.json()["data"]
    assert response.status == 201
    assert ticket["creator_label"] == "AI" and ticket["contact_ids"] == [first, second]
    assert ticket["unique_ticket_id"].startswith("TCK-") and ticket["type"] == "ticket"


def test_manual_create_has_no_label(gateway, token):
    # NEG-2: no creator_flag → the ordinary creator behaviour
    _, auth = token()
    deal = gateway.invoke("POST", "/api/v3.1/deals", headers=auth, json={"name": "Walk-in"}).json()["data"]
    assert deal["creator_flag"] is None and deal["creator_label"] is None


def test_unknown_flag_and_foreign_contact_are_warnings_not_errors(gateway, token):
    # GIVEN a contact of another company
    _, other_auth = token()
    foreign = new_contact(gateway, other_auth)
    _, auth = token()
    # WHEN a create names it and an unknown creator flag
    response = gateway.invoke("POST", "/api/v3.1/deals", headers=auth, json={"name": "Deal", "contact_id": foreign, "crm_lead_ids": ["no-such-contact"], "creator_flag": "robot"})
    # THEN the record is created without them, and the warnings say so
    body = response.json()
    assert response.status == 201
    assert body["data"]["contact_ids"] == [] and body["data"]["creator_flag"] is None
    assert sorted(w["field"] for w in body["warnings"]) == ["contact_id", "creator_flag", "crm_lead_ids[0]"]


# ---- idempotency -------------------------------------------------------------------------------
def test_same_idempotency_key_returns_the_same_record(gateway, token, aws, stack):
    made, auth = token()
    body = {"name": "Deal", "channel_integration_room_id": "room-1", "creator_flag": "bot"}
    first = gateway.invoke("POST", "/api/v3.1/deals", headers={**auth, "Idempotency-Key": "run-42"}, json=body)
    again = gateway.invoke("POST", "/api/v3.1/deals", headers={**auth, "Idempotency-Key": "run-42"}, json=body)
    assert first.status == again.status == 201
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true" and "idempotent-replayed" not in first.headers
    assert len(records_of(aws, stack, made.id)) == 1
    other = gateway.invoke("POST", "/api/v3.1/deals", headers={**auth, "Idempotency-Key": "run-42"}, json={**body, "name": "Other"})
    assert other.status == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert len(records_of(aws, stack, made.id)) == 1


def test_idempotency_keys_are_per_company(gateway, token):
    _, auth_a = token()
    _, auth_b = token()
    a = gateway.invoke("POST", "/api/v3.1/deals", headers={**auth_a, "Idempotency-Key": "k"}, json={"name": "Deal"})
    b = gateway.invoke("POST", "/api/v3.1/deals", headers={**auth_b, "Idempotency-Key": "k"}, json={"name": "Deal"})
    assert b.status == 201 and "idempotent-replayed" not in b.headers
    assert a.json()["data"]["id"] != b.json()["data"]["id"]


def test_create_costs_one_dynamodb_request(gateway, token, edge, runtime):
    """DESIGN budget: record + contact links + idempotency entry in one request (a bot's create
    reads its company's approval policy too, once per warm container and ≤ 60 s: cached here)."""
    _, auth = token()
    contact_id = new_contact(gateway, auth)
    body = {"name": "Deal", "contact_id": contact_id, "creator_flag": "bot", "channel_integration_room_id": "r"}
    before = runtime.environment("CreateDealFunction").get("APPROVAL_POLICY_CACHE_SECONDS")
    runtime.update_environment("CreateDealFunction", {"APPROVAL_POLICY_CACHE_SECONDS": "60"})
    try:
        assert gateway.invoke("POST", "/api/v3.1/deals", headers=auth, json=body).status == 201  # the policy is read, then cached
        # WHEN a create is sent, and then replayed with its Idempotency-Key, every AWS request recorded
        with edge.recording() as create_calls:
            created = gateway.invoke("POST", "/api/v3.1/deals", headers={**auth, "Idempotency-Key": "one-call"}, json=body)
        with edge.recording() as replay_calls:
            replayed = gateway.invoke("POST", "/api/v3.1/deals", headers={**auth, "Idempotency-Key": "one-call"}, json=body)
    finally:
        runtime.update_environment("CreateDealFunction", {"APPROVAL_POLICY_CACHE_SECONDS": before})
    assert created.status == 201 and replayed.status == 201
    # THEN the create function sent exactly one DynamoDB request each time (the authorizer's are its own)
    assert create_calls.operations(function="CreateDealFunction") == ["TransactWriteItems"]
    assert replay_calls.operations(function="CreateDealFunction") == ["TransactWriteItems"]


# ---- tenants -----------------------------------------------------------------------------------
def test_another_companys_deal_is_404_on_every_verb(gateway, token):
    _, auth_a = token()
    _, auth_b = token()
    deal = gateway.invoke("POST", "/api/v3.1/deals", headers=auth_a, json={"name": "Secret deal"}).json()["data"]
    for method, body in (("GET", None), ("PATCH", {"name": "pwned"}), ("DELETE", None)):
        kwargs = {"json": body} if body else {}
        response = gateway.invoke(method, f"/api/v3.1/deals/{deal['id']}", headers=auth_b, **kwargs)
        assert response.status == 404, method
        assert "Secret" not in response.text
    # AND A's deal is untouched
    assert gateway.invoke("GET", f"/api/v3.1/deals/{deal['id']}", headers=auth_a).json()["data"]["name"] == "Secret deal"


def test_a_deal_id_under_the_tickets_route_is_404(gateway, token):
    _, auth = token()
    deal = gateway.invoke("POST", "/api/v3.1/deals", headers=auth, json={"name": "Deal"}).json()["data"]
    assert gateway.invoke("GET", f"/api/v3.1/tickets/{deal['id']}", headers=auth).status == 404


# ---- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "status", "field"),
    [
        ('{"name": ', 400, "body"),
        ("", 400, "body"),
        ("[1, 2]", 422, "body"),
        ('{"name": 12}', 422, "name"),
        ('{"name": ""}', 422, "name"),
        ('{"name": "ok", "amount": "lots"}', 422, "amount"),
        ('{"name": "ok", "bogus": true}', 422, "bogus"),
        ('{"name": "' + "x" * 300 + '"}', 422, "name"),
        ('{"name": "ok", "crm_lead_ids": [' + ",".join(['"a"'] * 51) + "]}", 422, "crm_lead_ids"),
        ('{"name": "ok\\u0000"}', 422, "name"),
    ],
)
def test_bad_create_bodies_are_4xx_naming_the_field_and_store_nothing(gateway, token, aws, stack, raw, status, field):
    made, auth = token()
    response = gateway.invoke("POST", "/api/v3.1/deals", headers={**auth, "content-type": "application/json"}, body=raw)
    assert response.status == status, response.text
    assert field in [d["field"] for d in response.json()["error"]["details"]]
    assert records_of(aws, stack, made.id) == []


def test_oversized_body_is_413_and_stores_nothing(gateway, token, aws, stack):
    made, auth = token()
    response = gateway.invoke("POST", "/api/v3.1/deals", headers=auth, json={"name": "x", "source": "y" * 70_000})
    assert response.status == 413 and response.json()["error"]["code"] == "payload_too_large"
    assert records_of(aws, stack, made.id) == []


# ---- update and delete -------------------------------------------------------------------------
def test_patch_moves_the_version_and_keeps_the_creator(gateway, token):
    _, auth = token()
    deal = gateway.invoke("POST", "/api/v3.1/deals", headers=auth, json={"name": "Deal", "stage": "New", "creator_flag": "bot"}).json()["data"]
    updated = gateway.invoke("PATCH", f"/api/v3.1/deals/{deal['id']}", headers=auth, json={"stage": "Won", "amount": 10.5})
    assert updated.status == 200
    data = updated.json()["data"]
    assert (data["stage"], data["amount"], data["version"], data["creator_label"]) == ("Won", 10.5, 2, "Bot")
    refused = gateway.invoke("PATCH", f"/api/v3.1/deals/{deal['id']}", headers=auth, json={"creator_flag": "agentic_ai"})
    assert refused.status == 422 and refused.json()["error"]["details"][0]["field"] == "creator_flag"
    assert gateway.invoke("GET", f"/api/v3.1/deals/{deal['id']}", headers=auth).json()["data"]["version"] == 2


def test_patch_links_another_contact(gateway, token):
    _, auth = token()
    contact_id = new_contact(gateway, auth)
    deal = gateway.invoke("POST", "/api/v3.1/deals", headers=auth, json={"name": "Deal"}).json()["data"]
    data = gateway.invoke("PATCH", f"/api/v3.1/deals/{deal['id']}", headers=auth, json={"crm_lead_ids": [contact_id, "ghost"]}).json()
    assert data["data"]["contact_ids"] == [contact_id]
    assert [w["field"] for w in data["warnings"]] == ["crm_lead_ids[1]"]


def test_delete_then_gone(gateway, token):
    _, auth = token()
    ticket = gateway.invoke("POST", "/api/v3.1/tickets", headers=auth, json={"name": "T"}).json()["data"]
    assert gateway.invoke("DELETE", f"/api/v3.1/tickets/{ticket['id']}", headers=auth).status == 204
    assert gateway.invoke("GET", f"/api/v3.1/tickets/{ticket['id']}", headers=auth).status == 404
    assert gateway.invoke("DELETE", f"/api/v3.1/tickets/{ticket['id']}", headers=auth).status == 404


# ---- contacts ----------------------------------------------------------------------------------
def test_contact_lookup_by_phone_is_company_scoped(gateway, token):
    _, auth = token()
    _, other = token()
    contact_id = new_contact(gateway, auth, phone="+62 812-9999-0001")
    found = gateway.invoke("GET", "/api/v3.1/contacts", headers=auth, query={"phone": "6281299990001"}).json()["data"]
    assert [c["id"] for c in found] == [contact_id]
    assert gateway.invoke("GET", "/api/v3.1/contacts", headers=other, query={"phone": "6281299990001"}).json()["data"] == []


@pytest.mark.parametrize("body", [{"name": "No way to reach"}, {"name": "x", "email": "not-an-email"}, {"name": "x", "phone": "12"}])
def test_bad_contacts_are_422(gateway, token, body):
    _, auth = token()
    assert gateway.invoke("POST", "/api/v3.1/contacts", headers=auth, json=body).status == 422
