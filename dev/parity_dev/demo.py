"""``parity demo``: the RFC's scenario (CDTC-S01..S06) played on a fresh local stack, step by step.

It starts the local stack in this process, then acts as the producers do, through the producer
client (``parity_client``): a chatbot and an AI agent create records from a chat room, and every
step checks what the inbox sidebar (the room preview) and the CRM timeline show, waiting up to
``--timeout`` seconds for each asynchronous effect. The first miss ends the run with exit code 1.

stdout carries the steps only; the stack's logs go to ``--log-file`` (a temp file by default).
With ``--keep-running`` the stack keeps serving afterwards, with the dev console, until Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import httpx

if TYPE_CHECKING:  # pragma: no cover
    from parity_client import ParityClient

log = logging.getLogger("parity_dev.demo")

ROOM = "room-123"          # seeded in the demo chat hub (dev/parity_dev/demo_rooms.json)
OUTAGE_ROOM = "room-456"   # also seeded: its excerpt is missing only because the history is down
CUSTOMER_PHONE = "+62 812-3456-7890"
CUSTOMER_EMAIL = "budi.santoso@example.com"
T = TypeVar("T")


class Miss(Exception):
    """An expected state was not reached: the demo fails at this step."""


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Register ``parity demo`` on the ``parity`` command's subparsers."""
    from parity_dev.local_stack import DEFAULT_TEMPLATE, parameter_arg

    demo = commands.add_parser("demo", help="play the bot/AI creation parity scenario on a fresh local stack, checking each step")
    demo.add_argument("--port", type=int, default=0, help="HTTP port on 127.0.0.1 (default 0 = any free port)")
    demo.add_argument("--keep-running", action="store_true", help="keep the stack and its dev console serving afterwards (Ctrl-C stops)")
    demo.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for each expected state (default 10)")
    demo.add_argument("--log-file", type=Path, help="the stack's log (default: a new file in the temp directory)")
    demo.add_argument("--template", type=Path, default=Path(DEFAULT_TEMPLATE), help="SAM template (default ./template.yaml)")
    demo.add_argument(
        "--parameter", type=parameter_arg, action="append", default=[], metavar="NAME=VALUE",
        help="template parameter override (repeatable), as for `parity local`",
    )
    demo.set_defaults(run=run_demo)
    return demo


def run_demo(args: argparse.Namespace) -> int:
    """Start the stack, play the scenario, report; 0 when every step passed."""
    from parity_client import ParityClient
    from parity_dev.local_stack import DEMO_COMPANY, LocalStack, redirect_output

    log_file = args.log_file
    if log_file is None:
        handle, name = tempfile.mkstemp(prefix="parity-demo-", suffix=".log")
        os.close(handle)
        log_file = Path(name)
    out, _ = redirect_output(log_file)
    out.reconfigure(encoding="utf-8", errors="replace")  # type: ignore[attr-defined]
    logging.captureWarnings(True)  # moto's warnings belong in the log, not between the steps
    stop = threading.Event()
    waiting = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()
        if not waiting.is_set():
            raise KeyboardInterrupt

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)

    company, api_key = DEMO_COMPANY
    say = _Printer(out)
    say.line("Parity demo: a chatbot and an AI agent create deals and tickets from a chat room, and get the")
    say.line("same standing as a person's (RFC CDTC-S01..S06). Each step checks what the inbox and the CRM show.")
    say.line("")
    stack = LocalStack(args.template, port=args.port, parameters=dict(args.parameter))
    try:
        started = time.monotonic()
        stack.start([DEMO_COMPANY])
        say.line(f"Local stack  {stack.base_url}  (started in {time.monotonic() - started:.1f} s; company {company!r}, API key {api_key!r})")
        say.line(f"Logs         {log_file}")
        say.line("")
        with ParityClient(stack.base_url, api_key, sso_id="parity-demo-chatbot", timeout=5.0) as client:
            scenario = Scenario(client, stack.base_url, timeout=args.timeout, hub_token=stack.hub_token)
            passed = scenario.play(say)
        if args.keep_running:
            say.line("")
            say.line(f"Console      {stack.base_url}/_console#/rooms/{ROOM}   (signs in with API key {api_key!r})")
            say.line("The stack keeps running with everything above in it; Ctrl-C stops it.")
            say.line(f"ready {stack.base_url}")
            waiting.set()
            if not stop.is_set():
                stop.wait()
        return 0 if passed else 1
    except KeyboardInterrupt:
        say.line("interrupted")
        return 130
    except Exception as error:
        log.exception("the demo could not run")
        say.line(f"The demo could not run ({type(error).__name__}: {error}); the log says more: {log_file}")
        return 1
    finally:
        stack.stop()


class _Printer:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def line(self, text: str) -> None:
        print(text, file=self.out, flush=True)


@dataclass
class _Step:
    """One step's report: what was done, what was seen."""

    say: _Printer
    started: float = field(default_factory=time.monotonic)

    def did(self, text: str) -> None:
        self.say.line(f"      did  {text}")

    def saw(self, text: str) -> None:
        self.say.line(f"      saw  {text}")


class Scenario:
    """The RFC scenario as a list of steps; each step raises ``Miss`` when what it expects is not so."""

    def __init__(self, client: ParityClient, base_url: str, *, timeout: float, hub_token: str) -> None:
        self.client = client
        self.base_url = base_url
        self.timeout = timeout
        self.hub_token = hub_token
        self.state: dict[str, Any] = {}

    def steps(self) -> list[tuple[str, Callable[[_Step], None]]]:
        return [
            (f"A customer chats in room {ROOM} (the chat hub keeps the history)", self.customer_chats),
            ("The chatbot signs in with the company API key", self.chatbot_signs_in),
            ("The bot creates a deal from the chat, with the room and the customer's contact", self.bot_creates_deal),
            ("The room's sidebar shows the deal instead of \"Create Deal\"", self.preview_shows_deal),
            ("The deal's timeline has a note: masked chat excerpt and the room's deeplink", self.timeline_note),
            ("The AI agent creates a ticket in the same room", self.ai_creates_ticket),
            ("Renaming the deal refreshes the sidebar", self.rename_refreshes),
            ("A newer bot deal in the room wins the sidebar", self.newer_deal_wins),
            ("Deleting the newer deal brings the first one back", self.delete_brings_back),
            ("With the chat history down, a new record still gets its note, without the excerpt", self.history_down),
        ]

    def play(self, say: _Printer) -> bool:
        """Run every step in order, printing each; False at the first miss."""
        steps = self.steps()
        for number, (title, run) in enumerate(steps, 1):
            step = _Step(say)
            say.line(f"{number:2d}. {title}")
            try:
                run(step)
            except Miss as miss:
                say.line(f"    ✗ {miss}")
                self._summary(say, passed=number - 1, total=len(steps), failed=number)
                return False
            except Exception as error:  # an API error or a broken stack: still a readable miss
                log.exception("step %d raised", number)
                say.line(f"    ✗ {type(error).__name__}: {error}")
                self._summary(say, passed=number - 1, total=len(steps), failed=number)
                return False
            say.line(f"    ✓ ({time.monotonic() - step.started:.2f} s)")
        self._summary(say, passed=len(steps), total=len(steps), failed=None)
        return True

    @staticmethod
    def _summary(say: _Printer, *, passed: int, total: int, failed: int | None) -> None:
        say.line("")
        if failed is None:
            say.line(f"All {total} steps passed: bot/AI records have parity with a person's.")
        else:
            say.line(f"Step {failed} of {total} failed ({passed} passed before it); the stack's log says more.")

    # ---- helpers -------------------------------------------------------------------------------
    def wait_for(self, what: str, read: Callable[[], T], ok: Callable[[T], bool], *, describe: Callable[[T], str] = repr) -> T:
        """Poll ``read`` until ``ok`` holds; a ``Miss`` naming ``what`` and the last value seen otherwise."""
        deadline = time.monotonic() + self.timeout
        while True:
            value = read()
            if ok(value):
                return value
            if time.monotonic() >= deadline:
                raise Miss(f"expected {what} within {self.timeout:g} s; last saw {describe(value)}")
            time.sleep(0.1)

    def _hub(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The local stack's demo chat hub (its dev-only routes), with the hub's bearer token."""
        return httpx.request(method, f"{self.base_url}{path}", headers={"Authorization": f"Bearer {self.hub_token}"}, timeout=5.0, **kwargs)

    def _preview(self):
        return self.client.room_preview(ROOM)

    # ---- the steps -----------------------------------------------------------------------------
    def customer_chats(self, step: _Step) -> None:
        text = f"Tolong kirim penawarannya ke {CUSTOMER_EMAIL} atau WA {CUSTOMER_PHONE} ya."
        response = self._hub("POST", f"/_local/rooms/{ROOM}/messages", json={"sender_type": "customer", "sender_name": "Budi Santoso", "text": text})
        step.did(f"the customer wrote: {text!r}")
        if response.status_code != 201:
            raise Miss(f"the built-in demo chat hub did not take the message ({response.status_code}); the demo needs it (leave HUB_API_BASE_URL unset)")
        history = self._hub("GET", f"/api/open/v1/messages/rooms/{ROOM}", params={"offset": 1, "limit": 100}).json()["data"]
        step.saw(f"{len(history)} messages in {ROOM}, the customer's email and phone number among them")

    def chatbot_signs_in(self, step: _Step) -> None:
        token = self.client.authenticate()
        step.did("POST /api/v3.1/teams/company_token with X-Crm-Api-Key (the chatbot's CrmHttpClient does the same)")
        step.saw(f"a {token.token_type} token for company {token.company_id!r}, valid {token.expires_in} s; a 401 later refreshes it once")

    def bot_creates_deal(self, step: _Step) -> None:
        found = self.client.find_contacts(phone=CUSTOMER_PHONE)
        contact = found[0] if found else self.client.create_contact(name="Budi Santoso", phone=CUSTOMER_PHONE, email=CUSTOMER_EMAIL)
        step.did(f"looked the customer up by phone ({len(found)} found), {'reused' if found else 'created'} contact {contact.id}")
        created = self.client.create_deal(
            "Budi - 2 units", amount=1_500_000, pipeline="Sales", stage="New", source="Whatsapp Chatbot",
            room_id=ROOM, contact_id=contact.id, creator_flag="bot",
        )
        deal = created.record
        step.did(f"create_deal \"Budi - 2 units\" room={ROOM} contact={contact.id} creator_flag=bot (Idempotency-Key {created.idempotency_key})")
        step.saw(f"201 deal {deal.id}: creator_label {deal.creator_label!r}, contacts {deal.contact_ids}, room {deal.channel_integration_room_id!r}, source {deal.source!r}")
        if (deal.creator_label, deal.contact_ids, deal.channel_integration_room_id, deal.source) != ("Bot", [contact.id], ROOM, "Whatsapp Chatbot"):
            raise Miss("the deal does not carry the Bot label, the contact, the room and the source as sent")
        again = self.client.create_deal(
            "Budi - 2 units", amount=1_500_000, pipeline="Sales", stage="New", source="Whatsapp Chatbot",
            room_id=ROOM, contact_id=contact.id, creator_flag="bot", idempotency_key=created.idempotency_key,
        )
        step.did("sent the same create again with the same Idempotency-Key (a retried call)")
        step.saw(f"deal {again.record.id}, replayed={again.replayed}")
        if not again.replayed or again.record.id != deal.id:
            raise Miss("a retried create made a second deal")
        self.state.update(contact=contact, deal=deal)

    def preview_shows_deal(self, step: _Step) -> None:
        deal = self.state["deal"]
        step.did(f"GET /api/v3.1/rooms/{ROOM}/preview until the deal shows (the inbox sidebar's read)")
        preview = self.wait_for(f"deal {deal.id} in the sidebar", self._preview, lambda p: p.deal is not None and p.deal.id == deal.id, describe=_sidebar)
        step.saw(_sidebar(preview))
        if preview.deal.creator_label != "Bot":  # type: ignore[union-attr]
            raise Miss("the sidebar's deal has no Bot label")

    def timeline_note(self, step: _Step) -> None:
        deal = self.state["deal"]
        step.did(f"GET /api/v3.1/deals/{deal.id}/timeline until the note is written (async, from the chat hub's history)")
        notes = self.wait_for("a chat-history note", lambda: self.client.timeline("deal", deal.id), bool, describe=lambda n: f"{len(n)} notes")
        note = notes[0]
        lines = [f"{m.sender_name}: {m.text}" for m in note.preview or []]
        for line in lines[-3:]:
            step.saw(f"  {line}")
        step.saw(f"preview_status {note.preview_status!r}, label {note.creator_label!r}, deeplink {note.deeplink}")
        joined = " ".join(lines)
        if note.preview_status != "ok" or not lines:
            raise Miss(f"the note has no chat excerpt (preview_status {note.preview_status!r})")
        if CUSTOMER_EMAIL in joined or "3456-7890" in joined:
            raise Miss("the excerpt shows the customer's email or phone number unmasked")
        if "b***@example.com" not in joined or "*890" not in joined:
            raise Miss("the customer's email and phone are not in the excerpt in masked form")
        if not note.deeplink or not note.deeplink.endswith(f"/{ROOM}") or note.creator_label != "Bot" or len(notes) != 1:
            raise Miss("the note lacks the room's deeplink or the Bot label, or is not the only one")

    def ai_creates_ticket(self, step: _Step) -> None:
        deal = self.state["deal"]
        ticket = self.client.create_ticket(
            "Budi - delivery before 1 Dec", priority="high", source="Airene AI", room_id=ROOM,
            contact_id=self.state["contact"].id, creator_flag="agentic_ai",
        ).record
        step.did(f"create_ticket \"{ticket.name}\" room={ROOM} creator_flag=agentic_ai")
        preview = self.wait_for(f"ticket {ticket.id} in the sidebar", self._preview, lambda p: p.ticket is not None and p.ticket.id == ticket.id, describe=_sidebar)
        step.saw(_sidebar(preview))
        if preview.ticket.creator_label != "AI" or preview.deal is None or preview.deal.id != deal.id:  # type: ignore[union-attr]
            raise Miss("the ticket slot lacks the AI label, or the deal slot lost the deal")
        self.state["ticket"] = ticket

    def rename_refreshes(self, step: _Step) -> None:
        deal = self.state["deal"]
        renamed = self.client.update("deal", deal.id, name="Budi - 3 units", stage="Negotiation")
        step.did(f"PATCH deal {deal.id}: name \"Budi - 3 units\", stage Negotiation (version {renamed.version})")
        preview = self.wait_for("the new name in the sidebar", self._preview, lambda p: p.deal is not None and p.deal.name == "Budi - 3 units" and p.deal.stage == "Negotiation", describe=_sidebar)
        step.saw(_sidebar(preview))

    def newer_deal_wins(self, step: _Step) -> None:
        newer = self.client.create_deal("Budi - add-on support", amount=250_000, stage="New", room_id=ROOM, creator_flag="bot").record
        step.did(f"create_deal \"{newer.name}\" in {ROOM} (creator_flag=bot)")
        preview = self.wait_for(f"deal {newer.id} in the sidebar", self._preview, lambda p: p.deal is not None and p.deal.id == newer.id, describe=_sidebar)
        step.saw(_sidebar(preview))
        self.state["newer"] = newer

    def delete_brings_back(self, step: _Step) -> None:
        newer, first = self.state["newer"], self.state["deal"]
        self.client.delete("deal", newer.id)
        step.did(f"DELETE deal {newer.id}")
        preview = self.wait_for(f"deal {first.id} back in the sidebar", self._preview, lambda p: p.deal is not None and p.deal.id == first.id, describe=_sidebar)
        step.saw(_sidebar(preview))

    def history_down(self, step: _Step) -> None:
        down = self._hub("POST", "/_local/hub/outage", json={"down": True})
        if down.status_code != 200:
            raise Miss(f"could not take the demo chat hub down ({down.status_code})")
        step.did("took the chat hub's history API down (it answers 503)")
        try:
            deal = self.client.create_deal("Sari - enterprise plan", room_id=OUTAGE_ROOM, creator_flag="bot").record
            step.did(f"create_deal \"{deal.name}\" in {OUTAGE_ROOM} (creator_flag=bot)")
            notes = self.wait_for("a chat-history note", lambda: self.client.timeline("deal", deal.id), bool, describe=lambda n: f"{len(n)} notes")
            note = notes[0]
            step.saw(f"note: preview {note.preview!r}, preview_status {note.preview_status!r}, label {note.creator_label!r}, deeplink {note.deeplink}")
            if note.preview is not None or note.preview_status != "unavailable" or not (note.deeplink or "").endswith(f"/{OUTAGE_ROOM}"):
                raise Miss("the note should have no excerpt, status 'unavailable', and the room's deeplink")
            preview = self.wait_for(f"deal {deal.id} in {OUTAGE_ROOM}'s sidebar", lambda: self.client.room_preview(OUTAGE_ROOM), lambda p: p.deal is not None and p.deal.id == deal.id, describe=_sidebar)
            step.saw(f"the sidebar does not need the history: {_sidebar(preview)}")
        finally:
            self._hub("POST", "/_local/hub/outage", json={"down": False})
            step.did("brought the chat hub back")


def _sidebar(preview: Any) -> str:
    """The sidebar in one line, as an agent would read it."""
    def slot(record: Any, cta: str) -> str:
        if record is None:
            return f"[{cta}]"
        extra = f", {record.stage}" if getattr(record, "stage", None) else ""
        return f"\"{record.name}\" ({record.creator_label}{extra})"
    return f"deal {slot(preview.deal, 'Create Deal')} · ticket {slot(preview.ticket, 'Create Ticket')}"
