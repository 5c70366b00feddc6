"""The dev console's trust pages in headless Chromium (as tests/e2e/test_console_browser.py drives
it; issue 15, contracts/approvals.md): the Approvals page lists what the policy held, pending first,
with the confidence and, for a change, before and after side by side; an approver approves with an
edit, sees a bad edit refused naming its field, rejects with a reason and approves a batch; the
anomalies show as a banner until acknowledged; the Activity page filters the log. Company ``t`` is
the test's own: its policy holds its AI's creates, and no other test's."""

from __future__ import annotations

import re
import uuid

import httpx

from .helpers import eventually, login
from .test_console_browser import browser_context  # noqa: F401  (the same headless Chromium, flags and skip rules)

POLICY = {"agentic_ai": {"min_confidence": 0.8}, "bot": {"min_confidence": None}, "expires_in": 86400}


def _held(http: httpx.Client, auth: dict[str, str], name: str, confidence: float, room: str) -> dict:
    body = {"name": name, "priority": "high", "channel_integration_room_id": room, "creator_flag": "agentic_ai", "confidence": confidence, "agent_id": "airene"}
    answer = http.post("/api/v3.1/tickets", headers=auth, json=body)
    assert answer.status_code == 202, answer.text
    return answer.json()["data"]["approval"]


def test_an_approver_works_the_inbox_the_banner_and_the_activity_log_in_the_console(browser_context, local_stack, companies, http):  # noqa: F811
    from playwright.sync_api import expect

    # GIVEN company t's policy: the AI's creates and changes need a confidence of 0.8
    auth = login(http, companies["t"])
    assert http.put("/api/v3.1/approval-policy", headers=auth, json=POLICY).status_code == 200
    room, marker = f"room-trust-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex[:6]
    # ... three AI tickets held (0.65, 0.5, 0.3), and an AI ticket written at 0.9 whose PATCH at 0.4 is held
    first = _held(http, auth, f"Refund {marker} one", 0.65, room)
    second = _held(http, auth, f"Refund {marker} two", 0.5, room)
    spam = _held(http, auth, f"Spam {marker}", 0.3, room)
    sure = http.post("/api/v3.1/tickets", headers=auth, json={"name": f"Delivery {marker}", "priority": "low", "channel_integration_room_id": room,
                                                             "creator_flag": "agentic_ai", "confidence": 0.9}).json()["data"]
    change = http.patch(f"/api/v3.1/tickets/{sure['id']}", headers=auth, json={"priority": "high", "confidence": 0.4})
    assert change.status_code == 202, change.text
    update = change.json()["data"]["approval"]
    # ... and a bot that keeps failing: 20 refused creates, so the detector opens high_failure_rate
    for _ in range(20):
        assert http.post("/api/v3.1/tickets", headers=auth, json={"name": "x", "creator_flag": "bot", "status": "s" * 300}).status_code == 422

    def anomaly_open() -> list:
        http.post("/_local/anomalies/run")
        return http.get("/api/v3.1/anomalies", headers=auth, params={"status": "active"}).json()["data"]

    (anomaly,) = [a for a in eventually(anomaly_open, timeout=20, interval=0.5) if a["type"] == "high_failure_rate"]

    # WHEN an approver opens the console's Approvals page, signed in with company t's key
    page = browser_context.new_page()
    page.goto(f"{local_stack}/_console#/approvals")
    # (the console first signs in with the stack's first seeded key, company a's: switched after that)
    expect(page.get_by_role("status").filter(has_text="Signed in")).to_contain_text("company a")
    page.get_by_label("Company API key").fill(companies["t"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("status").filter(has_text="Signed in")).to_contain_text("company t")
    page.evaluate("window.__sameDocument = true")

    # THEN the anomaly is a banner over the page
    banner = page.get_by_role("alert", name="Anomalies")
    expect(banner).to_contain_text(anomaly["title"])
    # ... and the pending approvals come first, newest first, each with its confidence
    pending = page.get_by_label("Pending approvals")
    cards = pending.locator("article.approval")
    expect(cards).to_have_count(4)
    assert cards.evaluate_all("cards => cards.map(c => c.dataset.approvalId)") == [update["id"], spam["id"], second["id"], first["id"]]
    card_one = pending.locator(f"article[data-approval-id='{first['id']}']")
    expect(card_one.locator(".confidence")).to_have_text("Confidence 65 %")
    expect(card_one.locator(".label")).to_have_text("AI")
    # ... and the held change shows the ticket's value before beside the proposed one
    change_card = pending.locator(f"article[data-approval-id='{update['id']}']")
    expect(change_card.get_by_role("columnheader")).to_have_text(["Field", "Before", "After"])
    priority_row = change_card.get_by_role("row").filter(has=page.get_by_role("rowheader", name="priority"))
    expect(priority_row.locator("td.before")).to_have_text("low")
    expect(priority_row.get_by_label("Proposed priority")).to_have_value("high")

    # WHEN the approver approves the first with an edit (priority: urgent)
    card_one.get_by_label("Proposed priority").fill("urgent")
    card_one.get_by_role("button", name="Approve", exact=True).click()
    # THEN it leaves the pending list for the decided one, approved, and the ticket is written with the edit
    decided = page.get_by_label("Decided approvals")
    expect(decided.locator(f"article[data-approval-id='{first['id']}'] .status")).to_have_text("approved")
    expect(cards).to_have_count(3)
    record = http.get(f"/api/v3.1/approvals/{first['id']}", headers=auth).json()["data"]["record"]
    assert (record["priority"], record["approved_by"], record["creator_label"]) == ("urgent", "parity-dev-console", "AI")

    # WHEN an edit is invalid (the second's name emptied) THEN the card says why, naming the field, and nothing is decided
    card_two = pending.locator(f"article[data-approval-id='{second['id']}']")
    card_two.get_by_label("Proposed name").fill("")
    card_two.get_by_role("button", name="Approve", exact=True).click()
    expect(card_two.locator(".error")).to_contain_text("changes.name")
    assert http.get(f"/api/v3.1/approvals/{second['id']}", headers=auth).json()["data"]["status"] == "pending"

    # WHEN the spam is rejected with a reason THEN it is decided as rejected, the reason shown
    spam_card = pending.locator(f"article[data-approval-id='{spam['id']}']")
    spam_card.get_by_label("Reason").fill("not a customer")
    spam_card.get_by_role("button", name="Reject", exact=True).click()
    rejected = decided.locator(f"article[data-approval-id='{spam['id']}']")
    expect(rejected.locator(".status")).to_have_text("rejected")
    expect(rejected).to_contain_text("Reason: not a customer")

    # WHEN the two left are selected and approved as a batch
    for approval in (second, update):
        pending.locator(f"article[data-approval-id='{approval['id']}']").get_by_role("checkbox").check()
    page.get_by_role("button", name="Approve selected").click()
    # THEN both are approved (the change onto the ticket's version) and nothing is pending
    expect(page.get_by_role("group", name="Batch")).to_contain_text("2 approved")
    expect(pending).to_contain_text("Nothing is waiting for a decision.")
    assert http.get(f"/api/v3.1/tickets/{sure['id']}", headers=auth).json()["data"]["priority"] == "high"

    # WHEN the anomaly is acknowledged from the banner THEN the banner goes
    banner.get_by_role("button", name="Acknowledge").click()
    expect(banner).to_be_hidden()
    assert http.get("/api/v3.1/anomalies", headers=auth, params={"status": "acknowledged"}).json()["data"][0]["acknowledged_by"] == "parity-dev-console"

    # WHEN the approver opens the Activity page and filters the held actions
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Activity").click()
    expect(page.get_by_role("heading", name="Activity")).to_be_visible()
    log = page.get_by_role("table", name="Activity log")
    expect(page.get_by_role("status").filter(has_text=re.compile(r"line\(s\)"))).to_be_visible()  # the unfiltered log shown first
    page.get_by_label("Action").select_option("held")
    page.get_by_role("button", name="Filter").click()
    # THEN only held lines show: the four of this test, each with its confidence
    expect(log.locator("tbody tr td:nth-child(2)")).to_have_text(["held"] * 4)
    expect(log.locator(f"tr:has-text('{first['id']}')")).to_contain_text("65 %")
    # WHEN filtered to the failed ones THEN the bot's refusals show with their error code
    page.get_by_label("Action").select_option("")
    page.get_by_label("Status").select_option("failed")
    page.get_by_role("button", name="Filter").click()
    expect(log.locator("tbody tr td:nth-child(3)")).to_have_text(["failed"] * 20)
    expect(log.locator("tbody tr").first).to_contain_text("validation_error")
    expect(page.get_by_role("status").filter(has_text=re.compile(r"line\(s\)"))).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True
    page.close()
