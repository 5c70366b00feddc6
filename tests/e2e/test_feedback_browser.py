"""The dev console's feedback page in headless Chromium (as tests/e2e/test_console_browser.py drives
it): reports sent to the API show as one ticket each with their reporters and counts, the summary is
drawn as charts, resolving a ticket from its row turns it resolved, and once its changelog is
approved with a person's words on the Approvals page (another tab) the reporter's notification
shows sent, without a reload."""

from __future__ import annotations

import re
import uuid

from .helpers import login
from .test_console_browser import browser_context  # noqa: F401  (the same headless Chromium, flags and skip rules)


def test_the_feedback_page_charts_the_summary_lists_the_tickets_and_resolves_one(browser_context, local_stack, companies, http):  # noqa: F811
    from playwright.sync_api import expect

    # GIVEN two reports of company a: a crash from the product and a question from the back office
    auth = login(http, companies["a"])
    marker = uuid.uuid4().hex[:8]
    crash = http.post("/api/v3.1/feedback", headers=auth, json={
        "text": f"The app crashes when I open the invoice page {marker}. Please fix it.",
        "reporter": {"name": "Rina", "email": f"rina.{marker}@example.com"}, "source": "in_app"})
    question = http.post("/api/v3.1/feedback", headers=auth, json={
        "text": f"How do I export my orders {marker} to a spreadsheet?",
        "reporter": {"email": f"omar.{marker}@example.com"}, "source": "backoffice"})
    assert crash.status_code == 201, crash.text
    assert question.status_code == 201, question.text
    crash_id = crash.json()["data"]["id"]

    # WHEN a manager opens the console's feedback page, signed in with company a's key
    page = browser_context.new_page()
    page.goto(f"{local_stack}/_console#/feedback")
    page.get_by_label("Company API key").fill(companies["a"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("status").filter(has_text="Signed in")).to_contain_text("company a")
    page.evaluate("window.__sameDocument = true")

    # THEN the summary is drawn as charts: by channel (the product and the back office both counted)
    expect(page.get_by_role("heading", name="Feedback")).to_be_visible()
    by_channel = page.get_by_role("img", name="By channel", exact=False)
    expect(by_channel).to_have_attribute("aria-label", _contains("in_app"))
    expect(by_channel).to_have_attribute("aria-label", _contains("backoffice"))
    expect(page.get_by_role("img", name="By type", exact=False)).to_have_attribute("aria-label", _contains("bug"))
    # ... and each report is a ticket with its suggested type, its reporter and the count of reports
    table = page.get_by_role("table", name="Feedback tickets")
    row = table.locator(f"tr[data-ticket='{crash_id}']")
    expect(row).to_contain_text("The app crashes when I open the invoice page")
    expect(row).to_contain_text("bug (suggested)")
    expect(row).to_contain_text("1 (in_app)")
    expect(row).to_contain_text("open")

    # WHEN the manager resolves it from its row
    row.get_by_label("Resolution note for", exact=False).fill("Fixed in 2.4.1")
    row.get_by_role("button", name="Resolve").click()

    # THEN the row turns resolved (the changelog now waits for a person's approval), in place
    expect(row).to_contain_text("resolved", timeout=10_000)
    stored = http.get(f"/api/v3.1/tickets/{crash_id}", headers=auth).json()["data"]
    assert stored["status"] == "resolved"
    assert stored["resolution_note"] == "Fixed in 2.4.1"

    notified = page.get_by_role("table", name="Feedback tickets").locator(f"tr[data-ticket='{crash_id}'] + tr.notifications-row")
    expect(notified).to_contain_text("No notifications yet")

    # WHEN an approver, in another tab, finds the changelog on the Approvals page, rewords it and approves
    approver = browser_context.new_page()
    approver.goto(f"{local_stack}/_console#/approvals")
    approver.get_by_label("Company API key").fill(companies["a"])
    approver.get_by_role("button", name="Sign in").click()
    card = approver.get_by_label("Pending approvals").locator("article").filter(has_text=crash_id)
    expect(card.get_by_label("Proposed text")).to_have_value(re.compile("^Good news"), timeout=10_000)
    words = f"Good news: the invoice page no longer crashes ({marker})."
    card.get_by_label("Proposed text").fill(words)
    card.get_by_role("button", name="Approve", exact=True).click()
    decided = approver.get_by_label("Decided approvals").locator("article").filter(has_text=crash_id)
    expect(decided).to_contain_text("approved")
    # AND the decided card says what the reporters were told: the approver's words
    expect(decided).to_contain_text(f"Told the reporters: {words}")
    approver.close()

    # THEN the manager's Feedback page shows the reporter's notification sent, on its own (in-app:
    # stored for the product to show), with the approver's words
    expect(notified).to_contain_text("sent", timeout=10_000)
    (told,) = http.get("/api/v3.1/notifications", headers=auth, params={"ticket_id": crash_id}).json()["data"]
    assert (told["channel"], told["status"], told["text"]) == ("in_app", "sent", words)
    assert page.evaluate("window.__sameDocument") is True
    page.close()


def _contains(text: str):
    return re.compile(re.escape(text))
