"""Issue 2's "done when", over HTTP as the README's curl walk-through does it."""

from __future__ import annotations

import uuid

from .helpers import login


def test_bot_creates_a_deal_with_contact_room_and_label_and_a_retry_is_safe(http, companies):
    # GIVEN a producer token and the customer's contact, looked up by phone as the chatbot does
    auth = login(http, companies["a"])
    contact = http.post("/api/v3.1/contacts", headers=auth, json={"name": "Budi", "phone": "+62 812-3456-7890"}).json()["data"]
    found = http.get("/api/v3.1/contacts", headers=auth, params={"phone": "+6281234567890"}).json()["data"]
    assert contact["id"] in [c["id"] for c in found]
    body = {"name": "Budi - 2 units", "amount": 1500000, "source": "Whatsapp Chatbot", "channel_integration_room_id": f"room-{uuid.uuid4().hex[:8]}", "contact_id": contact["id"], "creator_flag": "bot"}
    key = {"Idempotency-Key": f"flow-7-{uuid.uuid4().hex}"}
    # WHEN the bot creates the deal, then retries the same call
    first = http.post("/api/v3.1/deals", headers={**auth, **key}, json=body)
    again = http.post("/api/v3.1/deals", headers={**auth, **key}, json=body)
    # THEN 201 with the Bot label, the contact linked and the room kept; the retry is the same record
    assert first.status_code == 201, first.text
    deal = first.json()["data"]
    assert (deal["creator_label"], deal["contact_ids"], deal["channel_integration_room_id"], deal["source"]) == ("Bot", [contact["id"]], body["channel_integration_room_id"], "Whatsapp Chatbot")
    assert again.status_code == 201 and again.json() == first.json() and again.headers["idempotent-replayed"] == "true"


def test_company_b_gets_404_on_company_as_deal(http, companies):
    auth_a, auth_b = login(http, companies["a"]), login(http, companies["b"])
    deal = http.post("/api/v3.1/deals", headers=auth_a, json={"name": "A's deal"}).json()["data"]
    assert http.get(f"/api/v3.1/deals/{deal['id']}", headers=auth_b).status_code == 404
    assert http.patch(f"/api/v3.1/deals/{deal['id']}", headers=auth_b, json={"name": "x"}).status_code == 404
    assert http.delete(f"/api/v3.1/deals/{deal['id']}", headers=auth_b).status_code == 404
    assert http.get(f"/api/v3.1/deals/{deal['id']}", headers=auth_a).json()["data"]["name"] == "A's deal"


def test_malformed_body_gets_a_4xx_naming_the_field(http, companies):
    auth = login(http, companies["a"])
    response = http.post("/api/v3.1/deals", headers=auth, json={"name": "", "amount": "a lot"})
    assert response.status_code == 422
    assert {d["field"] for d in response.json()["error"]["details"]} == {"name", "amount"}
    broken = http.post("/api/v3.1/deals", headers={**auth, "content-type": "application/json"}, content=b'{"name": ')
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "invalid_json"
