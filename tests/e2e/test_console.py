"""The dev console over HTTP: the page and its assets are served by the local stack, and its room
list is the caller's company's only (the browser itself is driven in test_console_browser.py)."""

from __future__ import annotations

import uuid

from .helpers import eventually, login, preview


def test_the_console_page_and_its_assets_are_served_without_a_build_step(http):
    page = http.get("/_console")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script src="/_console/console.js"' in page.text and 'for="api-key"' in page.text
    script, style = http.get("/_console/console.js"), http.get("/_console/console.css")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"] and "company_token" in script.text
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
    # ... and the conversations' own script and stylesheet, loaded after the console's
    assert page.text.index('src="/_console/console.js"') < page.text.index('src="/_console/conversations.js"')
    conversations = http.get("/_console/conversations.js")
    assert conversations.status_code == 200 and "/_local/simulate" in conversations.text and "/conversations" in conversations.text
    assert http.get("/_console/conversations.css").headers["content-type"].startswith("text/css")
    assert http.get("/_console/nothing-here.js").status_code == 404


def test_the_console_starts_with_the_first_seeded_key(http, companies):
    assert http.get("/_local/console/config").json() == {"api_key": companies["a"]}


def test_the_room_list_needs_a_token_and_shows_only_the_callers_rooms(http, companies):
    auth_a, auth_b = login(http, companies["a"]), login(http, companies["b"])
    room = f"room-{uuid.uuid4().hex[:10]}"
    # GIVEN a bot deal of company a in a new room, shown in its preview
    http.post("/api/v3.1/deals", headers=auth_a, json={"name": "A's", "channel_integration_room_id": room, "creator_flag": "bot"})
    eventually(lambda: preview(http, auth_a, room)["deal"], timeout=3)
    # WHEN each company lists its rooms THEN a sees the room, b does not
    rooms_a = {r["room_id"]: r for r in http.get("/_local/console/rooms", headers=auth_a).json()["data"]}
    rooms_b = {r["room_id"] for r in http.get("/_local/console/rooms", headers=auth_b).json()["data"]}
    assert rooms_a[room] == {"room_id": room, "in_previews": True}
    assert room not in rooms_b
    # ... and without a valid token there is no list
    assert http.get("/_local/console/rooms").status_code == 401
    assert http.get("/_local/console/rooms", headers={"Authorization": "Bearer pty_unknown"}).status_code == 401
