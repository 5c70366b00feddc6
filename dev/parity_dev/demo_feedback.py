"""The demo's feedback loop (contracts/feedback.md), played after the RFC scenario on the same stack
(``parity_dev.demo``): the same bug reported on WhatsApp and in Slack becomes one ticket with two
reporters; a person resolves it; the changelog waits for approval and a person approves it (as the
console's Approvals page does); each reporter is told on their own channel, the WhatsApp one as the
company's template because the report is over 24 hours old (a backdated message), the Slack one
in the report's thread. Everything goes through the public API and the stack's signed webhooks;
what the providers were sent is read from the fake providers' sent log."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from parity_dev.demo import Miss

if TYPE_CHECKING:  # pragma: no cover
    from parity_dev.demo import Scenario, _Step

REPORTER_WA_ID = "6281377778888"
REPORTER_SLACK_USER = "U0DEWI"
SLACK_CHANNEL = "C0FEEDBACK"
SLACK_THREAD = "1795964400.000100"
BUG_ON_WHATSAPP = "The invoice export crashes when I press download, error 500 every time."
BUG_ON_SLACK = "the invoice export crashes when i press download - error 500 every time"
TEMPLATE = {"name": "issue_resolved", "language": "en"}
RESOLUTION = "Fixed in release 2.4: exports of any size download again."
CHANGELOG = "Good news: the invoice export crash you reported is fixed. Exports of any size download again."


class FeedbackLoop:
    """The loop's steps, played with the scenario's helpers (its inbox token, local routes, waits)."""

    def __init__(self, scenario: Scenario) -> None:
        self.s = scenario
        self.state: dict[str, Any] = {}

    def steps(self) -> list[tuple[str, Callable[[_Step], None]]]:
        return [
            ("Feedback: an admin opens WhatsApp and Slack feedback channels and sets the WhatsApp template", self.open_channels),
            ("Feedback: a customer reports a bug on WhatsApp (26 hours ago), another the same bug in Slack", self.two_reports),
            ("Feedback: one ticket, two reporters, suggested a bug", self.one_ticket),
            ("Feedback: an agent resolves the ticket; a changelog waits for a person's approval", self.resolve),
            ("Feedback: a person approves the changelog, as the console does", self.approve),
            ("Feedback: each reporter is told once on their own channel (WhatsApp as the template, Slack in the thread)", self.reporters_told),
        ]

    # ---- helpers -------------------------------------------------------------------------------
    def _report(self, provider: str, channel_id: str, sender: str, text: str, **extra: str) -> None:
        answer = self.s._local("POST", "/_local/simulate", json={"provider": provider, "channel_id": channel_id, "from": sender, "text": text, **extra})
        if answer.status_code != 200:
            raise Miss(f"the {provider} webhook did not take the report ({answer.status_code}: {answer.text[:200]})")

    def _tickets(self) -> list[dict[str, Any]]:
        return [t for t in self.s._inbox("GET", "/api/v3.1/feedback", params={"limit": 50})["data"] if self._ours(t)]

    def _ours(self, ticket: dict[str, Any]) -> bool:
        return {r.get("channel_id") for r in ticket.get("reporters") or []} & {self.state["whatsapp"]["id"], self.state["slack"]["id"]} != set()

    # ---- the steps -----------------------------------------------------------------------------
    def open_channels(self, step: _Step) -> None:
        whatsapp = self.s._inbox("POST", "/api/v3.1/channels", json={
            "type": "whatsapp", "name": "Product feedback (WhatsApp)", "purpose": "feedback", "secret": "demo-feedback-app-secret",
            "api_token": "demo-feedback-access-token", "verify_token": "demo-feedback-verify", "account_id": "106540352200777", "default_region": "ID"})["data"]
        slack = self.s._inbox("POST", "/api/v3.1/channels", json={
            "type": "slack", "name": "#product-feedback", "purpose": "feedback", "secret": "demo-feedback-signing-secret",
            "api_token": "xoxb-demo-feedback-bot", "account_id": "T0PARITY"})["data"]
        step.did("POST /api/v3.1/channels twice with purpose \"feedback\" (their secrets go to SSM, never shown again)")
        settings = self.s._inbox("PUT", "/api/v3.1/feedback/settings", json={"whatsapp_template": TEMPLATE})["data"]
        step.did(f"PUT /api/v3.1/feedback/settings {{\"whatsapp_template\": {TEMPLATE}}}")
        step.saw(f"channels {whatsapp['id']} ({whatsapp['purpose']}) and {slack['id']} ({slack['purpose']}); template {settings['whatsapp_template']['name']}")
        self.state.update(whatsapp=whatsapp, slack=slack)

    def two_reports(self, step: _Step) -> None:
        self._report("whatsapp", self.state["whatsapp"]["id"], REPORTER_WA_ID, BUG_ON_WHATSAPP, name="Dewi Anggraini", at="-26h")
        step.did(f"+{REPORTER_WA_ID} on WhatsApp, backdated 26 h (outside the 24 h window): {BUG_ON_WHATSAPP!r}")
        self._report("slack", self.state["slack"]["id"], REPORTER_SLACK_USER, BUG_ON_SLACK, thread=SLACK_THREAD)
        step.did(f"{REPORTER_SLACK_USER} in Slack, now: {BUG_ON_SLACK!r}")
        step.saw("200 from both signed webhooks: queued, the ingest and feedback workers do the rest")

    def one_ticket(self, step: _Step) -> None:
        step.did("GET /api/v3.1/feedback until the two reports are one ticket")
        found = self.s.wait_for("one feedback ticket with two reports", self._tickets, lambda ts: len(ts) == 1 and ts[0]["report_count"] == 2,
                                describe=lambda ts: f"{[(t['id'], t['report_count']) for t in ts]}")
        ticket = found[0]
        channels = sorted(r["channel"] for r in ticket["reporters"])
        step.saw(f"ticket {ticket['id']}: {ticket['summary']!r}, {ticket['report_count']} reports from {channels}, suggested {ticket['suggested_type']} {ticket['suggested_priority']}")
        if channels != ["slack", "whatsapp"] or len(ticket["reporter_contact_ids"]) != 2 or ticket["suggested_type"] != "bug":
            raise Miss("the ticket does not hold two reporters (WhatsApp and Slack) suggested as a bug")
        self.state["ticket"] = ticket

    def resolve(self, step: _Step) -> None:
        ticket = self.state["ticket"]
        self.s._inbox("PATCH", f"/api/v3.1/tickets/{ticket['id']}", json={"status": "resolved", "resolution_note": RESOLUTION})
        step.did(f"PATCH /api/v3.1/tickets/{ticket['id']} {{\"status\": \"resolved\", \"resolution_note\": {RESOLUTION!r}}}")

        def pending() -> list[dict[str, Any]]:
            listed = self.s._inbox("GET", "/api/v3.1/approvals", params={"status": "pending", "kind": "changelog"})["data"]
            return [a for a in listed if a.get("record_id") == ticket["id"]]

        (approval,) = self.s.wait_for("the changelog's pending approval", pending, lambda found: len(found) == 1, describe=lambda found: f"{len(found)} approvals")
        text = approval["proposed"]["text"]
        step.saw(f"approval {approval['id']} (changelog, pending): {text!r}")
        if ticket["id"] in text or "@" in text or REPORTER_WA_ID in text:
            raise Miss("the changelog's text carries an internal id or personal data")
        nothing = [s for s in self.s._local("GET", "/_local/providers/sent").json()["data"] if self._to_a_reporter(s)]
        if nothing:
            raise Miss(f"a reporter was told before anyone approved: {nothing}")
        step.saw("no reporter was sent anything yet")
        self.state["approval"] = approval

    def approve(self, step: _Step) -> None:
        approval = self.state["approval"]
        decided = self.s._inbox("POST", f"/api/v3.1/approvals/{approval['id']}/approve", json={"changes": {"text": CHANGELOG}})["data"]
        step.did(f"POST /api/v3.1/approvals/{approval['id']}/approve with the approver's edit of the text")
        step.did(f"the approver's words: {CHANGELOG!r}")
        step.saw(f"200: status {decided['status']!r}, resolved_by {decided['resolved_by']!r}")
        if decided["status"] != "approved":
            raise Miss(f"the approval is {decided['status']}")

    def reporters_told(self, step: _Step) -> None:
        step.did("GET /_local/providers/sent (what the fake WhatsApp and Slack APIs were sent) and /api/v3.1/notifications")
        sent = self.s.wait_for("a message to each reporter", lambda: [s for s in self.s._local("GET", "/_local/providers/sent").json()["data"] if self._to_a_reporter(s)],
                               lambda found: len(found) >= 2, describe=lambda found: f"{len(found)} sent")
        (whatsapp,) = [s["body"] for s in sent if s["provider"] == "whatsapp"]
        (slack,) = [s["body"] for s in sent if s["provider"] == "slack"]
        step.saw(f"WhatsApp to +{whatsapp['to']}: a {whatsapp['type']} message ({(whatsapp.get('template') or {}).get('name')}), the report being 26 h old")
        step.saw(f"Slack in {slack['channel']}, thread {slack.get('thread_ts')}: {slack['text']!r}")
        listed = self.s.wait_for("both notifications sent", lambda: self.s._inbox("GET", "/api/v3.1/notifications", params={"ticket_id": self.state["ticket"]["id"]})["data"],
                                 lambda ns: len(ns) == 2 and all(n["status"] == "sent" for n in ns), describe=lambda ns: f"{[(n['channel'], n['status']) for n in ns]}")
        step.saw(f"notifications: {sorted((n['channel'], n['status'], n['attempts']) for n in listed)}")
        if whatsapp["type"] != "template" or whatsapp["template"]["name"] != TEMPLATE["name"] or slack.get("thread_ts") != SLACK_THREAD or slack["text"] != CHANGELOG:
            raise Miss("WhatsApp did not get the template, or Slack not the approved text in the report's thread")

    def _to_a_reporter(self, sent: dict[str, Any]) -> bool:
        body = sent.get("body") or {}
        return (sent["provider"] == "whatsapp" and body.get("to") == REPORTER_WA_ID) or (sent["provider"] == "slack" and body.get("channel") == SLACK_CHANNEL)
