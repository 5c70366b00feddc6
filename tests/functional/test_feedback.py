"""The feedback loop on the functional tier (contracts/feedback.md, route by route): reports from
feedback channels and the API become triaged tickets, grouped; the list and the summary; a
person's decisions; the release valve (a resolution proposes a changelog; an approved one tells
each reporter once on their own channel, within its rules); faults and another company's data.
Handlers on moto with the resources of template.yaml, the whole pipeline running (``wired``).
Over 400 lines: the contract route by route in its order, checked against contracts/feedback.md in one place."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from .test_conversations import (  # noqa: F401  (providers: a fixture)
    channel,
    post,
    providers,
    slack_message,
    whatsapp_message,
)

BUG = "The checkout page crashes when I pay with a card, error 500 every time."
BUG_AGAIN = "the checkout page crashes when i pay with a card - error 500 every time"


# ---- helpers -----------------------------------------------------------------------------------
def feedback(wired, auth, **query: str) -> list[dict[str, Any]]:
    answer = wired.gateway.invoke("GET", "/api/v3.1/feedback", headers=auth, query=query or None)
    assert answer.status == 200, answer.text
    return answer.json()["data"]


def notifications(wired, auth, **query: str) -> list[dict[str, Any]]:
    answer = wired.gateway.invoke("GET", "/api/v3.1/notifications", headers=auth, query=query or None)
    assert answer.status == 200, answer.text
    return answer.json()["data"]


def report(wired, auth, text: str = BUG, *, email: str = "ana@example.com", **extra: Any):
    body = {"text": text, "reporter": {"name": "Ana", "email": email}, "source": "in_app", **extra}
    return wired.gateway.invoke("POST", "/api/v3.1/feedback", headers=auth, json=body)


def until(wired, check: Callable[[], Any], *, timeout: float = 30) -> Any:
    """Drain the pipeline until ``check()`` holds (a retried send waits on the queue's visibility)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            wired.drain(timeout=10)
        except TimeoutError:
            pass  # a retried send keeps its queue busy: the check below says whether it is done
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def bus_tap(aws, stack, company_id: str, source: str) -> Callable[[], list[dict[str, Any]]]:
    """Every event of ``source`` about ``company_id`` on the stack's bus, as a queue collects them."""
    events_client, sqs = aws.client("events"), aws.client("sqs")
    bus = stack.outputs["EventBusName"]
    queue = sqs.create_queue(QueueName=f"feedback-tap-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = f"tap-{uuid.uuid4().hex[:8]}"
    events_client.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps({"source": [source], "detail": {"company_id": [company_id]}}))
    events_client.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "tap", "Arn": arn}])
    seen: list[dict[str, Any]] = []

    def read() -> list[dict[str, Any]]:
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
            seen.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        return seen

    return read


def decide(aws, stack, company_id: str, ticket_id: str, text: str, *, status: str = "approved") -> None:
    """A person's decision on a changelog, as approvals puts it on the bus."""
    detail = {"event": f"approval.{status}", "event_id": f"evt_{uuid.uuid4().hex}", "company_id": company_id, "approval_id": f"apr_{uuid.uuid4().hex}",
              "kind": "changelog", "record_type": "ticket", "record_id": ticket_id, "status": status, "text": text}
    aws.client("events").put_events(Entries=[{"Source": "parity.approvals", "DetailType": f"approval.{status}", "Detail": json.dumps(detail), "EventBusName": stack.outputs["EventBusName"]}])


def resolve(wired, auth, ticket_id: str, note: str | None = None) -> None:
    body = {"status": "resolved", **({"resolution_note": note} if note else {})}
    answer = wired.gateway.invoke("PATCH", f"/api/v3.1/tickets/{ticket_id}", headers=auth, json=body)
    assert answer.status == 200, answer.text


# ---- intake ------------------------------------------------------------------------------------
def whatsapp_report(wired, company) -> tuple[Any, dict[str, str], dict[str, Any]]:
    """A new company with a WhatsApp ``feedback`` channel, and a customer's report of ``BUG`` on it
    turned into a ticket: (the company, its auth headers, the ticket)."""
    made = company()
    auth = wired.login(made.api_key)
    post(wired, channel(wired, auth, purpose="feedback"), whatsapp_message(BUG))
    (ticket,) = until(wired, lambda: feedback(wired, auth))
    return made, auth, ticket


def test_a_message_on_a_feedback_channel_becomes_a_triaged_ticket_in_the_crm(wired, company):
    auth = wired.login(company().api_key)
    # GIVEN a WhatsApp channel whose purpose is feedback
    made = channel(wired, auth, purpose="feedback")
    # WHEN a customer reports a bug there, quoting their email
    post(wired, made, whatsapp_message("Urgent: the app crashes when I open my invoices. Mail me at budi@example.com please"))
    (ticket,) = until(wired, lambda: feedback(wired, auth))
    # THEN one ticket, triaged by the rules, its summary masked, the reporter a contact
    assert ticket["type"] == "ticket" and ticket["creator_flag"] == "bot" and ticket["source"] == "whatsapp feedback"
    assert ticket["summary"] == "Urgent: the app crashes when I open my invoices."
    assert (ticket["suggested_type"], ticket["suggested_priority"]) == ("bug", "P2")  # an urgent bug (triage: one level up)
    assert ticket["category"] is None and ticket["priority"] is None  # confirmed: unset until a person sets them
    assert ticket["report_count"] == 1 and len(ticket["reporter_contact_ids"]) == 1
    (reporter,) = ticket["reporters"]
    assert reporter["channel"] == "whatsapp" and reporter["channel_id"] == made["id"] and reporter["room_id"] == ticket["channel_integration_room_id"]
    # AND the CRM holds the ticket under the same id, linked to the reporter and the conversation
    crm = wired.gateway.invoke("GET", f"/api/v3.1/tickets/{ticket['id']}", headers=auth)
    assert crm.status == 200, crm.text
    record = crm.json()["data"]
    assert record["creator_label"] == "Bot" and record["contact_ids"] == ticket["reporter_contact_ids"]
    assert record["channel_integration_room_id"] == reporter["room_id"] and record["source"] == "whatsapp feedback"


def test_a_conversation_channel_makes_no_feedback(wired, company):
    auth = wired.login(company().api_key)
    made = channel(wired, auth)  # purpose: conversations
    post(wired, made, whatsapp_message(BUG))
    wired.drain()
    assert feedback(wired, auth) == []


def test_the_same_conversation_adds_to_its_ticket_and_a_redelivery_changes_nothing(wired, company):
    auth = wired.login(company().api_key)
    made = channel(wired, auth, purpose="feedback")
    first = whatsapp_message(BUG, wamid="wamid.first-report")
    post(wired, made, first)
    until(wired, lambda: feedback(wired, auth))
    # WHEN the same customer writes again within 24 h, and the provider redelivers the first message
    post(wired, made, whatsapp_message("Still broken after an update, please help", at=datetime.now(timezone.utc) + timedelta(seconds=2)))
    post(wired, made, first)
    wired.drain()
    wired.drain()
    # THEN one ticket, two reports, one reporter
    (ticket,) = feedback(wired, auth)
    assert ticket["report_count"] == 2 and len(ticket["reporter_contact_ids"]) == 1 and len(ticket["reporters"]) == 1


def test_a_near_identical_report_on_another_channel_joins_the_primary_ticket(wired, company):
    auth = wired.login(company().api_key)
    whatsapp = channel(wired, auth, purpose="feedback")
    slack = channel(wired, auth, "slack", purpose="feedback")
    post(wired, whatsapp, whatsapp_message(BUG))
    (primary,) = until(wired, lambda: feedback(wired, auth))
    # WHEN another customer reports the same bug on Slack
    post(wired, slack, slack_message(BUG_AGAIN, user="U777"))
    until(wired, lambda: feedback(wired, auth)[0]["report_count"] == 2)
    # THEN it joined the primary ticket: two reporters on their own channels, no second ticket
    (ticket,) = feedback(wired, auth)
    assert ticket["id"] == primary["id"] and len(ticket["reporter_contact_ids"]) == 2
    assert [r["channel"] for r in ticket["reporters"]] == ["whatsapp", "slack"]
    record = wired.gateway.invoke("GET", f"/api/v3.1/tickets/{ticket['id']}", headers=auth).json()["data"]
    assert sorted(record["contact_ids"]) == sorted(ticket["reporter_contact_ids"])
    # AND a different report is a ticket of its own
    post(wired, slack, slack_message("Could you add a dark mode to the dashboard?", user="U888", ts="1795964900.000100"))
    until(wired, lambda: len(feedback(wired, auth)) == 2)
    newest = feedback(wired, auth)[0]
    assert newest["suggested_type"] == "feature_request" and newest["id"] != primary["id"]


def test_post_feedback_makes_a_ticket_and_an_external_id_seen_before_answers_it_again(wired, company):
    auth = wired.login(company().api_key)
    made = report(wired, auth, "Export to CSV loses the accents in names.", external_id="zendesk-42")
    assert made.status == 201, made.text
    ticket = made.json()["data"]
    assert ticket["source"] == "in_app" and ticket["channel_integration_room_id"] is None and ticket["reporters"][0]["channel"] == "in_app"
    # WHEN the product sends it again (a retry, a second click)
    again = report(wired, auth, "Export to CSV loses the accents in names.", external_id="zendesk-42")
    # THEN 200 with the same ticket, nothing new
    assert again.status == 200 and again.json()["data"] == ticket
    assert len(feedback(wired, auth)) == 1
    # AND the reporter is the contact found by their email
    found = wired.gateway.invoke("GET", "/api/v3.1/contacts", headers=auth, query={"email": "ANA@example.com"}).json()["data"]
    assert [c["id"] for c in found] == ticket["reporter_contact_ids"]


def test_an_idempotency_key_replays_the_first_answer(wired, company):
    auth = wired.login(company().api_key)
    headers = {**auth, "Idempotency-Key": f"fb-{uuid.uuid4().hex}"}
    body = {"text": "Search ignores the second word.", "reporter": {"phone": "+62 812 3456 7890"}, "source": "backoffice"}
    first = wired.gateway.invoke("POST", "/api/v3.1/feedback", headers=headers, json=body)
    second = wired.gateway.invoke("POST", "/api/v3.1/feedback", headers=headers, json=body)
    assert first.status == second.status == 201 and second.json() == first.json() and second.headers["idempotent-replayed"] == "true"
    assert len(feedback(wired, auth)) == 1


@pytest.mark.parametrize("body,field", [
    ({"text": "", "reporter": {"email": "a@example.com"}, "source": "in_app"}, "text"),
    ({"text": " \u200b ", "reporter": {"email": "a@example.com"}, "source": "in_app"}, "text"),
    ({"text": "x" * 10_001, "reporter": {"email": "a@example.com"}, "source": "in_app"}, "text"),
    ({"text": "broken", "reporter": {"name": "Ana"}, "source": "in_app"}, "reporter"),
    ({"text": "broken", "reporter": {"email": "not-an-email"}, "source": "in_app"}, "reporter.email"),
    ({"text": "broken", "reporter": {"email": "a@example.com"}, "source": "whatsapp"}, "source"),
    ({"text": "broken", "reporter": {"email": "a@example.com"}, "source": "in_app", "extra": 1}, "extra"),
])
def test_bad_feedback_is_a_422_naming_the_field_and_stores_nothing(wired, company, body, field):
    auth = wired.login(company().api_key)
    answer = wired.gateway.invoke("POST", "/api/v3.1/feedback", headers=auth, json=body)
    assert answer.status == 422, answer.text
    assert field in [d["field"] for d in answer.json()["error"]["details"]]
    assert feedback(wired, auth) == []


def test_a_huge_report_is_a_413(wired, company):
    auth = wired.login(company().api_key)
    answer = report(wired, auth, "y" * 70_000)
    assert answer.status == 413 and feedback(wired, auth) == []


# ---- reading -----------------------------------------------------------------------------------
def test_the_list_filters_and_the_summary_count_confirmed_else_suggested(wired, company):
    auth = wired.login(company().api_key)
    bug = report(wired, auth, "The app crashes on login.", email="a@example.com").json()["data"]
    idea = report(wired, auth, "Please add an export to Excel.", email="b@example.com").json()["data"]
    report(wired, auth, "The app crashes on login.", email="c@example.com")  # joins the bug
    # WHEN a person confirms the idea as a question, priority P2
    confirmed = wired.gateway.invoke("PATCH", f"/api/v3.1/tickets/{idea['id']}", headers=auth, json={"category": "question", "priority": "P2"})
    assert confirmed.status == 200, confirmed.text
    until(wired, lambda: feedback(wired, auth, category="question"))
    # THEN filters match the confirmed value, else the suggested one
    assert [t["id"] for t in feedback(wired, auth, category="question")] == [idea["id"]]
    assert [t["id"] for t in feedback(wired, auth, category="bug")] == [bug["id"]]
    assert [t["id"] for t in feedback(wired, auth)] == [idea["id"], bug["id"]]  # newest first
    assert feedback(wired, auth, channel="whatsapp") == []
    assert [t["id"] for t in feedback(wired, auth, channel="in_app", limit="1")] == [idea["id"]]
    # AND the summary counts each ticket once per breakdown
    summary = wired.gateway.invoke("GET", "/api/v3.1/feedback/summary", headers=auth, query={"period": "24h"}).json()["data"]
    assert summary["period"] == "24h" and summary["total"] == 2
    assert summary["by_channel"]["in_app"] == 2 and summary["by_category"]["question"] == 1 and summary["by_category"]["bug"] == 1
    assert summary["by_priority"]["P2"] == 1 and summary["by_status"]["open"] == 2
    assert {r["contact_id"]: r["count"] for r in summary["top_reporters"]} == {c: 1 for c in [*bug["reporter_contact_ids"], *idea["reporter_contact_ids"]]} | {
        feedback(wired, auth, category="bug")[0]["reporter_contact_ids"][1]: 1}


@pytest.mark.parametrize("path,query,field", [
    ("/api/v3.1/feedback", {"category": "bugs"}, "category"),
    ("/api/v3.1/feedback", {"priority": "P9"}, "priority"),
    ("/api/v3.1/feedback", {"channel": "sms"}, "channel"),
    ("/api/v3.1/feedback", {"limit": "0"}, "limit"),
    ("/api/v3.1/feedback", {"cursor": "bm90LWEtY3Vyc29y"}, "cursor"),
    ("/api/v3.1/feedback/summary", {"period": "1y"}, "period"),
    ("/api/v3.1/notifications", {"status": "lost"}, "status"),
    ("/api/v3.1/feedback", {"categroy": "bug"}, "categroy"),  # a misspelt filter never lists everything
])
def test_bad_filters_are_a_422_naming_them(wired, company, path, query, field):
    auth = wired.login(company().api_key)
    answer = wired.gateway.invoke("GET", path, headers=auth, query=query)
    assert answer.status == 422 and [d["field"] for d in answer.json()["error"]["details"]] == [field], answer.text


@pytest.mark.parametrize("path", ["/api/v3.1/feedback", "/api/v3.1/notifications", "/api/v3.1/conversations", "/api/v3.1/approvals"])
def test_an_empty_limit_is_the_default_on_every_list(wired, company, path):
    # GIVEN a list route, asked as the contracts' templates write it (?status=&limit=&cursor=)
    auth = wired.login(company().api_key)
    # WHEN limit is empty THEN the default page, as with no limit at all
    answer = wired.gateway.invoke("GET", path, headers=auth, query={"limit": ""})
    assert answer.status == 200, answer.text


def test_a_feedback_tickets_confirmed_fields_keep_feedbacks_values(wired, company):
    auth = wired.login(company().api_key)
    ticket = report(wired, auth).json()["data"]
    refused = wired.gateway.invoke("PATCH", f"/api/v3.1/tickets/{ticket['id']}", headers=auth, json={"category": "complaint", "priority": "high"})
    assert refused.status == 422 and {d["field"] for d in refused.json()["error"]["details"]} == {"category", "priority"}
    # AND another ticket's priority stays the CRM's plain field
    other = wired.create(auth, kind="tickets", name="Printer jam")
    assert wired.gateway.invoke("PATCH", f"/api/v3.1/tickets/{other['id']}", headers=auth, json={"priority": "high"}).status == 200


def test_settings_are_set_and_read_back(wired, company):
    auth = wired.login(company().api_key)
    assert wired.gateway.invoke("GET", "/api/v3.1/feedback/settings", headers=auth).json() == {"data": {"whatsapp_template": None}}
    chosen = {"whatsapp_template": {"name": "issue_fixed", "language": "en_US"}}
    put = wired.gateway.invoke("PUT", "/api/v3.1/feedback/settings", headers=auth, json=chosen)
    assert put.status == 200 and put.json() == {"data": chosen}
    assert wired.gateway.invoke("GET", "/api/v3.1/feedback/settings", headers=auth).json() == {"data": chosen}
    bad = wired.gateway.invoke("PUT", "/api/v3.1/feedback/settings", headers=auth, json={"whatsapp_template": {"name": "Issue Fixed!", "language": "english"}})
    assert bad.status == 422 and {d["field"] for d in bad.json()["error"]["details"]} == {"whatsapp_template.name", "whatsapp_template.language"}


def test_only_an_admin_changes_the_settings_and_any_role_reads_them(wired, company):
    # GIVEN a company's producer and approver keys (not admins)
    made = company()
    chosen = {"whatsapp_template": {"name": "issue_fixed", "language": "en"}}
    for role in ("producer", "approver"):
        auth = wired.login(made.keys[role])
        # WHEN one sets the WhatsApp template THEN 403 forbidden, and nothing is stored
        refused = wired.gateway.invoke("PUT", "/api/v3.1/feedback/settings", headers=auth, json=chosen)
        assert refused.status == 403 and refused.json()["error"]["code"] == "forbidden", refused.text
        # AND it may read them
        assert wired.gateway.invoke("GET", "/api/v3.1/feedback/settings", headers=auth).json() == {"data": {"whatsapp_template": None}}
    # WHEN the admin sets them THEN 200
    assert wired.gateway.invoke("PUT", "/api/v3.1/feedback/settings", headers=wired.login(made.keys["admin"]), json=chosen).status == 200


# ---- the release valve ---------------------------------------------------------------------------
def test_resolving_proposes_a_changelog_without_ids_or_personal_data(wired, company, aws, stack):
    made = company()
    auth = wired.login(made.api_key)
    tap = bus_tap(aws, stack, made.id, "parity.feedback")
    ticket = report(wired, auth, "Invoices fail to download, my email is ana@example.com", email="ana@example.com").json()["data"]
    unique = wired.gateway.invoke("GET", f"/api/v3.1/tickets/{ticket['id']}", headers=auth).json()["data"]["unique_ticket_id"]
    # WHEN a person resolves it with a note that names internal things
    resolve(wired, auth, ticket["id"], f"Fixed in {unique} for {ticket['reporter_contact_ids'][0]}; call +62 812 3456 7890 if not.")
    (event,) = until(wired, tap)
    # THEN a changelog is proposed for approval: customer-facing, no ids, no email, no phone
    proposed = event["detail"]
    assert event["detail-type"] == "feedback.changelog_proposed" and proposed["ticket_id"] == ticket["id"] and proposed["approval_id"].startswith("apr_")
    text = proposed["text"]
    assert text.startswith("Good news") and "Invoices fail to download" in text
    for secret in ("ana@example.com", unique, ticket["id"], ticket["reporter_contact_ids"][0], "812", "3456"):
        assert secret not in text, secret
    # AND the feedback list shows it resolved
    assert until(wired, lambda: feedback(wired, auth, status="resolved"))


def test_an_approved_changelog_tells_each_reporter_once_on_their_own_channel(wired, company, providers, aws, stack):
    made = company()
    auth = wired.login(made.api_key)
    whatsapp = channel(wired, auth, purpose="feedback")
    slack = channel(wired, auth, "slack", purpose="feedback")
    post(wired, whatsapp, whatsapp_message(BUG))
    until(wired, lambda: feedback(wired, auth))
    post(wired, slack, slack_message(BUG_AGAIN, user="U777", ts="1795964400.000200"))
    (ticket,) = until(wired, lambda: [t for t in feedback(wired, auth) if t["report_count"] == 2])
    in_app = report(wired, auth, BUG, email="carla@example.com").json()["data"]
    assert in_app["id"] == ticket["id"]  # a third reporter, through the product
    # WHEN the changelog is approved (and the approval's event delivered twice)
    text = "Good news: the checkout crash you reported has been fixed."
    decide(aws, stack, made.id, ticket["id"], text)
    decide(aws, stack, made.id, ticket["id"], text)
    sent = until(wired, lambda: len(providers.sent("whatsapp")) + len(providers.sent("slack")) >= 2 and [n for n in notifications(wired, auth) if n["status"] == "sent"][2:])
    assert sent
    wired.drain()
    # THEN WhatsApp got free text (the report is minutes old), Slack a reply in the report's thread
    (wa,) = providers.sent("whatsapp")
    assert wa["body"]["type"] == "text" and wa["body"]["text"]["body"] == text
    (sl,) = providers.sent("slack")
    assert sl["body"] == {"channel": "C123", "text": text, "thread_ts": "1795964400.000200"}
    # AND three notifications, each sent once; the product's reads its text
    listed = notifications(wired, auth, ticket_id=ticket["id"])
    assert sorted((n["channel"], n["status"], n["attempts"]) for n in listed) == [("in_app", "sent", 1), ("slack", "sent", 1), ("whatsapp", "sent", 1)]
    assert [n["text"] for n in listed if n["channel"] == "in_app"] == [text]
    assert {n["contact_id"] for n in listed} == set(ticket["reporter_contact_ids"]) | set(in_app["reporter_contact_ids"])


def test_a_rejected_changelog_sends_nothing(wired, company, providers, aws, stack):
    made, auth, ticket = whatsapp_report(wired, company)
    decide(aws, stack, made.id, ticket["id"], "fixed", status="rejected")
    wired.drain()
    wired.drain()
    assert providers.sent("whatsapp") == [] and notifications(wired, auth) == []


def test_outside_the_whatsapp_window_a_template_else_channel_restricted(wired, company, providers, aws, stack):
    made = company()
    auth = wired.login(made.api_key)
    whatsapp = channel(wired, auth, purpose="feedback")
    # GIVEN a report over 24 h old
    post(wired, whatsapp, whatsapp_message(BUG, at=datetime.now(timezone.utc) - timedelta(hours=30)))
    (ticket,) = until(wired, lambda: feedback(wired, auth))
    # WHEN it is approved with no template set: THEN nothing is sent, the notification is channel_restricted
    decide(aws, stack, made.id, ticket["id"], "Fixed: checkout\nworks again.")
    (restricted,) = until(wired, lambda: notifications(wired, auth))
    assert restricted["status"] == "channel_restricted" and "template" in restricted["last_error"] and providers.sent("whatsapp") == []
    # GIVEN another such report, and now the company's template
    other = company()
    auth2 = wired.login(other.api_key)
    channel2 = channel(wired, auth2, purpose="feedback")
    assert wired.gateway.invoke("PUT", "/api/v3.1/feedback/settings", headers=auth2, json={"whatsapp_template": {"name": "issue_fixed", "language": "en"}}).status == 200
    post(wired, channel2, whatsapp_message(BUG, wa_id="6289999000111", at=datetime.now(timezone.utc) - timedelta(hours=30)))
    (ticket2,) = until(wired, lambda: feedback(wired, auth2))
    decide(aws, stack, other.id, ticket2["id"], "Fixed: checkout\nworks again.")
    assert until(wired, lambda: [n for n in notifications(wired, auth2) if n["status"] == "sent"])
    # THEN the reporter gets the template, the text as its one variable, on one line
    (sent,) = providers.sent("whatsapp")
    assert sent["body"]["type"] == "template" and sent["body"]["template"]["name"] == "issue_fixed"
    assert sent["body"]["template"]["components"][0]["parameters"] == [{"type": "text", "text": "Fixed: checkout works again."}]


def test_a_provider_failing_every_attempt_ends_permanently_failed_after_five(wired, company, providers, aws, stack):
    made = company()
    auth = wired.login(made.api_key)
    slack = channel(wired, auth, "slack", purpose="feedback")
    post(wired, slack, slack_message(BUG, ts="1795964400.000200"))
    (ticket,) = until(wired, lambda: feedback(wired, auth))
    providers.fail("slack", 503, times=10)
    with wired.setting(REPLY_RETRY_SCHEDULE="0,0,0,0"):
        decide(aws, stack, made.id, ticket["id"], "Fixed.")
        failed = until(wired, lambda: [n for n in notifications(wired, auth) if n["status"] == "permanently_failed"], timeout=60)
    # THEN five attempts, no sixth; the notification is kept, listed, with the provider's error
    (notification,) = failed
    assert notification["attempts"] == 5 and notification["last_error"] and notification["sent_at"] is None
    assert [s["status"] for s in providers.sent("slack")] == [503] * 5
    assert [n["id"] for n in notifications(wired, auth, status="permanently_failed")] == [notification["id"]]


# ---- another company ---------------------------------------------------------------------------
def test_another_companys_feedback_and_notifications_are_not_seen(wired, company, aws, stack):
    mine, theirs = company(), company()
    auth_theirs = wired.login(theirs.api_key)
    ticket = report(wired, auth_theirs).json()["data"]
    decide(aws, stack, theirs.id, ticket["id"], "Fixed.")
    assert until(wired, lambda: notifications(wired, auth_theirs))
    auth = wired.login(mine.api_key)
    # THEN my lists are empty, their ticket is a 404 to me, and my approval of it changes nothing
    assert feedback(wired, auth) == [] and notifications(wired, auth) == [] and notifications(wired, auth, ticket_id=ticket["id"]) == []
    assert wired.gateway.invoke("GET", f"/api/v3.1/tickets/{ticket['id']}", headers=auth).status == 404
    assert wired.gateway.invoke("PATCH", f"/api/v3.1/tickets/{ticket['id']}", headers=auth, json={"status": "resolved"}).status == 404
    summary = wired.gateway.invoke("GET", "/api/v3.1/feedback/summary", headers=auth).json()["data"]
    assert summary["total"] == 0 and summary["top_reporters"] == []


def test_a_resolved_tickets_changelog_waits_in_the_approval_inbox_and_its_approval_tells_the_reporter(wired, company, providers):  # noqa: F811
    # GIVEN a customer's WhatsApp report, its ticket resolved with a note
    made, auth, ticket = whatsapp_report(wired, company)
    resolve(wired, auth, ticket["id"], "Fixed in 2.4.1")

    # WHEN feedback has proposed its changelog
    def inbox() -> list[dict[str, Any]]:
        return wired.gateway.invoke("GET", "/api/v3.1/approvals", headers=auth, query={"kind": "changelog", "status": "pending"}).json()["data"]

    (held,) = until(wired, inbox)
    # THEN it waits in the approval inbox as a changelog of the ticket, and nobody was told yet
    assert (held["kind"], held["record_type"], held["record_id"]) == ("changelog", "ticket", ticket["id"])
    assert held["proposed"]["text"].startswith("Good news") and providers.sent("whatsapp") == []
    # WHEN a person approves it, rewording the text
    text = "Good news: the checkout crash you reported is fixed."
    approved = wired.gateway.invoke("POST", f"/api/v3.1/approvals/{held['id']}/approve", headers=auth, json={"changes": {"text": text}})
    assert approved.status == 200, approved.text
    # AND the decided approval says what the reporters are told (the edit), its proposal as it was
    assert approved.json()["data"]["record"] == {"text": text} and approved.json()["data"]["proposed"] == held["proposed"]
    # THEN the reporter is told once, on WhatsApp, with the approved words
    (sent,) = until(wired, lambda: providers.sent("whatsapp"))
    assert sent["body"]["text"]["body"] == text
    wired.drain()
    assert len(providers.sent("whatsapp")) == 1 and len(inbox()) == 0


def _held_changelog(wired, auth, ticket_id: str) -> dict[str, Any]:
    (held,) = until(wired, lambda: [a for a in wired.gateway.invoke("GET", "/api/v3.1/approvals", headers=auth, query={"kind": "changelog", "status": "pending"}).json()["data"]
                                    if a["record_id"] == ticket_id])
    return held


def test_a_changelog_edit_that_is_not_a_proper_text_is_a_422_and_approving_twice_a_409(wired, company, providers):  # noqa: F811
    # GIVEN a product report whose ticket was resolved: its changelog waits for a person
    made = company()
    auth = wired.login(made.api_key)
    ticket = report(wired, auth, BUG, email="rina@example.com").json()["data"]
    resolve(wired, auth, ticket["id"], "Fixed in 2.4.1")
    held = _held_changelog(wired, auth, ticket["id"])
    approve = f"/api/v3.1/approvals/{held['id']}/approve"
    # WHEN the approver blanks the text, or edits a field a changelog does not have
    for changes, field in (({"text": "  "}, "changes.text"), ({"text": "x" * 501}, "changes.text"), ({"summary": "Fixed"}, "changes.summary")):
        refused = wired.gateway.invoke("POST", approve, headers=auth, json={"changes": changes})
        # THEN a 422 naming the field, and the approval is still pending: nothing decided, nothing stored to send
        assert refused.status == 422, refused.text
        assert [d["field"] for d in refused.json()["error"]["details"]] == [field]
    wired.drain()
    assert _held_changelog(wired, auth, ticket["id"])["status"] == "pending"
    assert notifications(wired, auth, ticket_id=ticket["id"]) == []
    # WHEN it is approved, then approved again
    first = wired.gateway.invoke("POST", approve, headers=auth, json={})
    second = wired.gateway.invoke("POST", approve, headers=auth, json={"changes": {"text": "Another text"}})
    # THEN the second is a 409 and the reporter is told once, with the proposed text
    assert first.status == 200, first.text
    assert second.status == 409 and second.json()["error"]["code"] == "approval_not_pending"
    (told,) = until(wired, lambda: [n for n in notifications(wired, auth, ticket_id=ticket["id"]) if n["status"] == "sent"])
    assert told["text"] == held["proposed"]["text"] == first.json()["data"]["record"]["text"]


def test_a_changelog_rejected_in_the_inbox_tells_nobody(wired, company, providers):  # noqa: F811
    # GIVEN a WhatsApp report whose ticket was resolved, its changelog pending
    made, auth, ticket = whatsapp_report(wired, company)
    resolve(wired, auth, ticket["id"])
    held = _held_changelog(wired, auth, ticket["id"])
    # WHEN a person rejects it
    rejected = wired.gateway.invoke("POST", f"/api/v3.1/approvals/{held['id']}/reject", headers=auth, json={"reason": "wrong wording"})
    assert rejected.status == 200, rejected.text
    wired.drain()
    # THEN nothing is sent or stored to send, and the ticket stays resolved
    assert providers.sent("whatsapp") == []
    assert notifications(wired, auth, ticket_id=ticket["id"]) == []
    assert [t["status"] for t in feedback(wired, auth)] == ["resolved"]
