"""The dev console's conversations in headless Chromium (as tests/e2e/test_console_browser.py drives
it): the conversations page lists a customer's WhatsApp conversation; its room page shows the
conversation beside the CRM sidebar, where the bot's deal for that room shows; a message written in
the "customer writes" box (a signed webhook, through /_local/simulate) appears, and an agent's reply
appears with its delivery status as the fake provider accepts it, all without a reload. (The
sidebar flipping live from the call to action to a new deal is test_console_browser.py's.)"""

from __future__ import annotations

from parity_client import ParityClient

from .helpers import conversation_with, customer_writes, eventually, login, new_wa_id, seeded_channel
from .test_console_browser import browser_context  # noqa: F401  (the same headless Chromium, flags and skip rules)


def test_a_customer_writes_an_agent_replies_and_the_sidebar_shows_the_bots_deal(browser_context, local_stack, companies, http):  # noqa: F811
    from playwright.sync_api import expect

    # GIVEN a customer who wrote on WhatsApp
    sender = new_wa_id()
    customer_writes(http, seeded_channel(http, "whatsapp"), sender, "Halo, saya mau pesan 2 unit", name="Dewi Lestari")
    conversation = conversation_with(http, login(http, companies["a"]), f"+{sender}")
    room = conversation["id"]
    # ... and the chatbot, which looked the customer up by phone, made a deal from the conversation
    with ParityClient(local_stack, companies["a"]) as bot:
        (contact,) = bot.find_contacts(phone=f"+{sender}")
        bot.create_deal("Dewi - 2 units", stage="New", room_id=room, contact_id=contact.id, creator_flag="bot")
    assert contact.id == conversation["contact"]["id"]
    # WHEN the agent opens the console's conversations, signed in with company a's key
    page = browser_context.new_page()
    page.goto(f"{local_stack}/_console#/conversations")
    page.get_by_label("Company API key").fill(companies["a"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("status").filter(has_text="Signed in")).to_contain_text("company a")
    # THEN the conversation is listed: state, channel, contact and what the customer wrote last
    row = page.get_by_role("table", name="Conversations").locator(f"tr[data-room-id='{room}']")
    expect(row).to_contain_text("open")
    expect(row).to_contain_text("WhatsApp")
    expect(row).to_contain_text(f"Dewi Lestari · +{sender}")
    expect(row).to_contain_text("Dewi Lestari: Halo, saya mau pesan 2 unit")
    page.evaluate("window.__sameDocument = true")

    # WHEN the agent opens it THEN the room shows the conversation beside the sidebar, with the bot's deal
    row.get_by_role("link", name=f"Dewi Lestari · +{sender}").click()
    expect(page.get_by_role("heading", name=f"Room {room}")).to_be_visible()
    messages = page.get_by_role("list", name="Messages")
    expect(messages).to_contain_text("Halo, saya mau pesan 2 unit")
    card = page.get_by_role("article", name="Deal Dewi - 2 units")
    expect(card).to_be_visible(timeout=30_000)  # the first bot deal of a fresh stack cold-starts the whole preview pipeline
    expect(card.locator(".label")).to_have_text("Bot")
    expect(page.get_by_role("button", name="Create Deal")).to_have_count(0)
    expect(page.get_by_role("button", name="Create Ticket")).to_be_visible()

    # WHEN the customer writes in the box THEN the message appears, on its own
    page.get_by_label("Customer writes").fill("Bisa dikirim besok ke Bandung?")
    page.get_by_role("button", name="Send as customer").click()
    expect(messages.locator("li.inbound").last).to_contain_text("Bisa dikirim besok ke Bandung?")

    # WHEN the agent replies THEN the reply appears, and turns "sent" once WhatsApp (the fake) accepts it
    page.get_by_label("Reply as an agent").fill("Bisa, Bu Dewi. Kami kirim besok pagi.")
    page.get_by_role("button", name="Send reply").click()
    reply = messages.locator("li.outbound").filter(has_text="Bisa, Bu Dewi. Kami kirim besok pagi.")
    expect(reply).to_be_visible()
    expect(reply.locator(".status")).to_have_text("sent")
    sent = eventually(lambda: [s for s in http.get("/_local/providers/sent").json()["data"] if (s["body"] or {}).get("to") == sender], timeout=5)
    assert sent[0]["body"]["text"]["body"] == "Bisa, Bu Dewi. Kami kirim besok pagi."
    expect(card).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True
    page.close()
