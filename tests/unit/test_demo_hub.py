"""The stand-in external hub (a test double for the rooms Parity does not host): the hub's route,
answer shape and token check, its message route, and a round trip through the real fetcher
(loopback only)."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from parity.timeline import excerpt
from parity.timeline import note as notes
from parity.timeline.hub import HubClient
from parity_dev.demo_hub import DemoHub

TOKEN = "demo-hub-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc)


@pytest.fixture
def demo() -> DemoHub:
    return DemoHub(TOKEN, now=lambda: NOW)


def get(demo, room, query="offset=1&limit=100", headers=AUTH):
    status, headers_out, body = demo.handle("GET", f"/api/open/v1/messages/rooms/{room}", query, headers, None)
    return status, json.loads(body)


def test_seeded_rooms_answer_in_the_hubs_shape(demo):
    # GIVEN the seeded demo rooms / WHEN room-123's history is asked for
    status, body = get(demo, "room-123")
    # THEN it answers the documented shape, newest message first, which the note's parser accepts
    assert status == 200 and len(body["data"]) == 6
    assert body["data"][0]["created_at"] > body["data"][-1]["created_at"]
    assert excerpt.parse_history(body, "room-123") is not None


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}])
def test_a_wrong_or_missing_token_is_401(demo, headers):
    assert get(demo, "room-123", headers=headers)[0] == 401


def test_headers_may_come_as_pairs_in_any_case(demo):
    assert get(demo, "room-123", headers=[("authorization", f"bearer {TOKEN}")])[0] == 200


def test_unknown_rooms_are_404_until_a_message_is_posted(demo):
    assert get(demo, "room-new")[0] == 404
    status, _, body = demo.handle("POST", "/_local/rooms/room-new/messages", None, AUTH, json.dumps({"sender_type": "customer", "sender_name": "Rina", "text": "Halo!"}))
    assert status == 201 and json.loads(body)["data"]["room_id"] == "room-new"
    status, body = get(demo, "room-new")
    assert status == 200 and [m["text"] for m in body["data"]] == ["Halo!"]


@pytest.mark.parametrize(
    "payload",
    [{"sender_type": "", "text": "x"}, {"sender_type": "customer"}, {"sender_type": "customer", "text": "x", "sender_name": 5}, ["x"]],
)
def test_posting_an_invalid_message_is_refused(demo, payload):
    status, _, body = demo.handle("POST", "/_local/rooms/room-123/messages", None, AUTH, json.dumps(payload))
    assert status == 422 and json.loads(body)["error"]["code"] == "validation_error"


def test_paging_and_foreign_paths(demo):
    assert [m["id"] for m in get(demo, "room-123", "offset=2&limit=4")[1]["data"]] == ["msg-000002", "msg-000001"]
    assert get(demo, "room-123", "limit=500")[0] == 422
    assert demo.handle("GET", "/api/v3.1/deals/x", "", AUTH, None) is None
    assert demo.handle("POST", "/api/open/v1/messages/rooms/room-123", "", AUTH, None)[0] == 405


def test_the_fetcher_reads_the_demo_hub_and_the_note_masks_it(demo):
    # GIVEN the demo hub served over HTTP on loopback
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            parts = urlsplit(self.path)
            status, headers, body = demo.handle("GET", parts.path, parts.query, dict(self.headers), None)
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        history = HubClient(f"http://127.0.0.1:{server.server_port}", TOKEN, allow_private=True).chat_history("room-123")
    finally:
        server.shutdown()
        server.server_close()
    # WHEN the note is built / THEN its preview is the room's last 5 messages, contact details masked
    record = {"id": "r1", "type": "deal", "channel_integration_room_id": "room-123", "creator_flag": "bot", "creator_label": "Bot"}
    note = notes.build_note(record, messages=history.messages, deeplink_template="https://chat.example.com/inbox/{room_id}", now=NOW)
    texts = " ".join(m["text"] for m in note["preview"])
    assert note["preview_status"] == "ok" and len(note["preview"]) == 5
    assert "b***@example.com" in texts and "+** ***-****-*890" in texts and "(***) ***-*101" in texts
    assert "budi.santoso" not in texts and "3456-7890" not in texts


def test_the_outage_switch_takes_the_history_down_and_back(demo):
    # GIVEN the hub is up
    assert get(demo, "room-123")[0] == 200
    # WHEN an outage is switched on THEN the history answers 503, and the switch reports it
    status, _, body = demo.handle("POST", "/_local/hub/outage", None, AUTH, json.dumps({"down": True}))
    assert (status, json.loads(body)) == (200, {"down": True})
    assert get(demo, "room-123") == (503, {"error": {"code": "unavailable", "message": "the chat history is down (dev outage switch)", "details": []}})
    assert json.loads(demo.handle("GET", "/_local/hub/outage", None, AUTH, None)[2]) == {"down": True}
    # WHEN it is switched off THEN the history is back
    demo.handle("POST", "/_local/hub/outage", None, AUTH, json.dumps({"down": False}))
    assert get(demo, "room-123")[0] == 200


@pytest.mark.parametrize("body", ['{"down": "yes"}', "{}", "not json"])
def test_the_outage_switch_wants_a_boolean_and_the_token(demo, body):
    assert demo.handle("POST", "/_local/hub/outage", None, AUTH, body)[0] in (400, 422)
    assert demo.handle("POST", "/_local/hub/outage", None, {}, '{"down": true}')[0] == 401
    assert demo.down is False and get(demo, "room-123")[0] == 200


def test_the_hub_lists_its_rooms(demo):
    assert demo.rooms() == ["room-123", "room-456", "room-789", "room-empty"]
    demo.add_message("room-000", "customer", None, "Hi")
    assert demo.rooms()[0] == "room-000"
