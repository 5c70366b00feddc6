"""The dev console in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright): a room's
sidebar flips from the "Create Deal" call to action to the live preview when a bot creates a deal
through the API, without a reload; the record's detail shows its creator and the timeline note,
whose deeplink leads back to the room.

Without Chromium (or Playwright) the test is skipped locally; under CI (CI=true) it fails instead:
`.ci/run` installs Debian's chromium, and the browser test must run there. ``PARITY_CHROMIUM``
names another Chromium binary than /usr/bin/chromium.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from parity_client import ParityClient

from .helpers import (
    conversation_with,
    customer_writes,
    login,
    new_wa_id,
    seeded_channel,
)

CHROMIUM = Path(os.environ.get("PARITY_CHROMIUM", "/usr/bin/chromium"))
# Flags for a closed network and a root user: no sandbox, no GPU, nothing phoning home.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TIMEOUT_MS = 8000


def _missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "the Python package playwright is not installed (pip install -e '.[dev]')"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (Debian: apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A headless Chromium with a fresh profile directory (never a browser Playwright downloads)."""
    missing = _missing()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and the browser test cannot run: {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS,
        )
        context.set_default_timeout(TIMEOUT_MS)
        yield context
        context.close()


def test_the_room_sidebar_flips_to_the_live_preview_and_the_deal_shows_its_timeline(browser_context, local_stack, companies, http):
    from playwright.sync_api import expect

    # GIVEN a conversation where the customer gave an email and a phone number (on WhatsApp)
    sender = new_wa_id()
    customer_writes(http, seeded_channel(http, "whatsapp"), sender, "Mail budi.santoso@example.com or call +62 812-3456-7890", name="Budi")
    room = conversation_with(http, login(http, companies["a"]), f"+{sender}")["id"]
    # ... and the console open on that room, signed in with company a's API key
    page = browser_context.new_page()
    page.goto(f"{local_stack}/_console#/rooms/{room}")
    page.get_by_label("Company API key").fill(companies["a"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("status").filter(has_text="Signed in")).to_contain_text("company a")
    expect(page.get_by_role("heading", name=f"Room {room}")).to_be_visible()
    # THEN the sidebar offers the calls to action
    expect(page.get_by_role("button", name="Create Deal")).to_be_visible()
    expect(page.get_by_role("button", name="Create Ticket")).to_be_visible()
    page.evaluate("window.__sameDocument = true")

    # WHEN a bot creates a deal in the room through the API
    with ParityClient(local_stack, companies["a"]) as bot:
        deal = bot.create_deal("Budi - 2 units", stage="New", room_id=room, creator_flag="bot").record

    # THEN the deal slot flips to the preview card, with the Bot label, without a reload
    card = page.get_by_role("article", name="Deal Budi - 2 units")
    expect(card).to_be_visible()
    expect(card.locator(".label")).to_have_text("Bot")
    expect(card).to_contain_text("New")
    expect(page.get_by_role("button", name="Create Deal")).to_have_count(0)
    expect(page.get_by_role("button", name="Create Ticket")).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True

    # WHEN the agent opens the deal from the card
    card.get_by_role("link", name="Budi - 2 units").click()
    # THEN its detail shows the creator label and the timeline note: masked excerpt and the room link
    expect(page.get_by_role("heading", name="Deal: Budi - 2 units")).to_be_visible()
    expect(page.locator(".creator .label")).to_have_text("Bot")
    note = page.get_by_role("article", name="Chat history note")
    expect(note).to_contain_text("b***@example.com")
    expect(note).to_contain_text("*890")
    expect(note).not_to_contain_text("budi.santoso@example.com")
    expect(note).not_to_contain_text("3456-7890")
    link = note.get_by_role("link", name=f"Open chat room {room}")
    expect(link).to_have_attribute("data-deeplink", f"https://chat.example.com/inbox/{room}")
    assert page.url.endswith(f"#/deals/{deal.id}")

    # WHEN the deeplink is followed THEN the console shows that room's sidebar again
    link.click()
    expect(page.get_by_role("heading", name=f"Room {room}")).to_be_visible()
    expect(page.get_by_role("article", name="Deal Budi - 2 units")).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True
    page.close()
