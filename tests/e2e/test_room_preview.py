"""Issue 3's "done when" on the local stack: the room's sidebar follows bot/AI records live."""

from __future__ import annotations

import json
import time
import uuid

from .helpers import (
    conversation_with,
    customer_writes,
    eventually,
    login,
    new_wa_id,
    preview,
    seeded_channel,
)

PREVIEW_WITHIN_S = 2.0


def new_room() -> str:
    return f"room-{uuid.uuid4().hex[:10]}"


def test_create_rename_replace_delete_fallback_cta(http, companies):
    auth = login(http, companies["a"])
    room = new_room()
    # GIVEN no bot record in the room: the call to action
    assert preview(http, auth, room) == {"room_id": room, "deal": None, "ticket": None}
    # WHEN a bot deal is created in the room THEN the preview shows it within 2 s
    started = time.monotonic()
    first = http.post("/api/v3.1/deals", headers=auth, json={"name": "First", "stage": "New", "channel_integration_room_id": room, "creator_flag": "bot"}).json()["data"]
    shown = eventually(lambda: preview(http, auth, room)["deal"], timeout=PREVIEW_WITHIN_S)
    assert time.monotonic() - started < PREVIEW_WITHIN_S
    assert (shown["id"], shown["creator_label"], shown["url"]) == (first["id"], "Bot", first["url"])
    # WHEN it is renamed THEN the preview shows the new name
    http.patch(f"/api/v3.1/deals/{first['id']}", headers=auth, json={"name": "First, renamed"})
    eventually(lambda: preview(http, auth, room)["deal"]["name"] == "First, renamed", timeout=PREVIEW_WITHIN_S)
    # WHEN a second bot deal is created in the room THEN it replaces the first
    second = http.post("/api/v3.1/deals", headers=auth, json={"name": "Second", "channel_integration_room_id": room, "creator_flag": "agentic_ai"}).json()["data"]
    eventually(lambda: preview(http, auth, room)["deal"]["id"] == second["id"], timeout=PREVIEW_WITHIN_S)
    assert preview(http, auth, room)["deal"]["creator_label"] == "AI"
    # WHEN the second is deleted THEN the first comes back
    assert http.delete(f"/api/v3.1/deals/{second['id']}", headers=auth).status_code == 204
    eventually(lambda: preview(http, auth, room)["deal"]["id"] == first["id"], timeout=PREVIEW_WITHIN_S)
    # WHEN the first is deleted too THEN the call to action is back
    http.delete(f"/api/v3.1/deals/{first['id']}", headers=auth)
    eventually(lambda: preview(http, auth, room)["deal"] is None, timeout=PREVIEW_WITHIN_S)


def test_ticket_has_its_own_slot_and_manual_records_never_show(http, companies):
    auth = login(http, companies["a"])
    room = new_room()
    http.post("/api/v3.1/deals", headers=auth, json={"name": "Manual deal", "channel_integration_room_id": room})  # NEG-2
    ticket = http.post("/api/v3.1/tickets", headers=auth, json={"name": "Refund", "channel_integration_room_id": room, "creator_flag": "agentic_ai"}).json()["data"]
    shown = eventually(lambda: preview(http, auth, room)["ticket"], timeout=PREVIEW_WITHIN_S)
    assert shown["unique_ticket_id"] == ticket["unique_ticket_id"]
    time.sleep(0.5)  # give a wrongly-emitted manual event time to land
    assert preview(http, auth, room)["deal"] is None


def test_another_companys_room_reads_empty(http, companies):
    auth_a, auth_b = login(http, companies["a"]), login(http, companies["b"])
    room = new_room()
    http.post("/api/v3.1/deals", headers=auth_a, json={"name": "A only", "channel_integration_room_id": room, "creator_flag": "bot"})
    eventually(lambda: preview(http, auth_a, room)["deal"], timeout=PREVIEW_WITHIN_S)
    assert preview(http, auth_b, room) == {"room_id": room, "deal": None, "ticket": None}


def test_webhook_with_a_bad_signature_is_401_and_changes_nothing(http, companies):
    auth = login(http, companies["a"])
    room = new_room()
    forged = {"eventType": "qontak.crm.deal.create", "event_id": "evt_forged", "company_id": "a", "occurred_at": "2026-01-01T00:00:00.000Z", "data": {"id": "forged", "type": "deal", "name": "Forged", "channel_integration_room_id": room, "created_at": "2026-01-01T00:00:00.000Z", "version": 1}}
    headers = {"webhook-id": "evt_forged", "webhook-timestamp": str(int(time.time())), "webhook-signature": "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "content-type": "application/json"}
    response = http.post("/webhooks/qontak-crm", headers=headers, content=json.dumps(forged))
    assert response.status_code == 401
    unsigned = http.post("/webhooks/qontak-crm", json=forged)
    assert unsigned.status_code == 401
    assert preview(http, auth, room)["deal"] is None


def test_a_bot_record_gets_its_timeline_note_with_masked_excerpt_and_deeplink(http, companies):
    # GIVEN a customer who wrote on WhatsApp with an email and a phone number (the conversation is Parity's room)
    auth = login(http, companies["a"])
    sender = new_wa_id()
    customer_writes(http, seeded_channel(http, "whatsapp"), sender, "Email budi@example.com, HP +62 812-3456-7890", name="Budi")
    room = conversation_with(http, auth, f"+{sender}")["id"]
    # WHEN a bot creates a deal in that room THEN its note shows what the customer wrote, masked
    deal = http.post("/api/v3.1/deals", headers=auth, json={"name": "Budi", "channel_integration_room_id": room, "creator_flag": "bot"}).json()["data"]
    notes = eventually(lambda: http.get(f"/api/v3.1/deals/{deal['id']}/timeline", headers=auth).json()["data"], timeout=2.0)
    note = notes[0]
    assert (note["type"], note["room_id"], note["creator_label"], note["preview_status"]) == ("chat_history", room, "Bot", "ok")
    assert note["deeplink"].endswith(f"/{room}")
    assert [m["text"] for m in note["preview"]] == ["Email b***@example.com, HP +** ***-****-*890"]
    assert len(notes) == 1


def test_a_room_parity_does_not_host_gets_its_note_without_excerpt(http, companies):
    # GIVEN the local stack's chat history is its own (HUB_API_BASE_URL is the stack): a room it does not host has none
    auth = login(http, companies["a"])
    room = new_room()
    deal = http.post("/api/v3.1/deals", headers=auth, json={"name": "Elsewhere", "channel_integration_room_id": room, "creator_flag": "bot"}).json()["data"]
    (note,) = eventually(lambda: http.get(f"/api/v3.1/deals/{deal['id']}/timeline", headers=auth).json()["data"], timeout=2.0)
    assert (note["preview"], note["preview_status"]) == (None, "unavailable") and note["deeplink"].endswith(f"/{room}")
