"""The issue's trust scenario through the pure modules together: a policy of 0.8 for the AI, a
0.65 AI ticket held, an approver approving it from Slack with the log telling the whole story."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import urlencode

from parity.approvals import activity, anomalies, notifications, policy
from parity.approvals import approval as ap
from parity.approvals.roles import Caller, Role
from parity.crm import records

T0 = datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc)


def test_a_held_ai_ticket_approved_from_slack_leaves_the_whole_story_in_the_log():
    # GIVEN an admin sets a 0.8 threshold for the AI
    Caller("acme", Role.admin, "root").require("policy.write")
    rules = policy.validate_policy({"agentic_ai": {"min_confidence": Decimal("0.8")}})
    # WHEN the AI creates a ticket with confidence 0.65
    body = {"name": "Refund for order 42", "priority": "high", "channel_integration_room_id": "room-1", "creator_flag": "agentic_ai", "confidence": Decimal("0.65"), "agent_id": "triage-ai"}
    rest, trust, problems = policy.split_trust_fields(body)
    assert problems == [] and policy.held(rules, rest["creator_flag"], trust["confidence"])
    # THEN it is held: an approval, nothing written to the CRM
    held = ap.held_create("acme", "ticket", body, trust=trust, approval_id="apr_1", expires_in=rules["expires_in"], now=T0, correlation_id="req-create")
    # AND the approvers' channel is asked, with buttons naming the approval
    settings = notifications.validate_settings({"slack_channel_id": "ch_1", "slack_target": "C0APPROVE", "approvers": {"U0ANA": "ana@acme"}, "approval_requested": "immediate"})
    request = notifications.approval_request(ap.public(held), target=settings["slack_target"], console_url="https://console/approvals/apr_1")
    assert {e.get("value") for b in request["blocks"] if b["type"] == "actions" for e in b["elements"]} >= {"apr_1"}

    # WHEN Ana clicks Approve in Slack
    click = notifications.parse_interaction(urlencode({"payload": json.dumps({"type": "block_actions", "user": {"id": "U0ANA"}, "actions": [{"action_id": "approve", "value": "apr_1"}], "response_url": "https://hooks.slack.com/x"})}))
    decision = notifications.decide_click(click, settings)
    assert (decision.decision, decision.sso_id) == ("approve", "ana@acme")
    # THEN the immediate path writes the merged body (the approver added nothing) with the label
    now = T0 + timedelta(minutes=7)
    to_write = ap.merged_body(held, {})
    record, _ = records.new_record("ticket", "acme", policy.split_trust_fields(to_write)[0], record_id="t1", now=now, contact_ids=[])
    record.update(entity="record", approval_id="apr_1", approved_by="ana@acme", agent_id="triage-ai", confidence=Decimal("0.65"), correlation_id="req-approve")
    done = ap.approved(held, by=decision.sso_id, now=now, record=records.public(record, "https://crm/{type}s/{id}"), correlation_id="req-approve")
    assert records.public(record, "x")["creator_label"] == "AI"

    # AND the log, from the two streams, reads: held (pending), approved (success), created (success)
    lines = activity.from_approval_change(None, held) + activity.from_approval_change(held, done)
    lines.append(activity.from_record_change("stream-1", None, record, removed_at="x"))
    story = [(line["action"], line["status"], line["approval_id"], line["correlation_id"]) for line in sorted(lines, key=lambda x: (x["at"], x["action"]))]
    assert story == [
        ("held", "pending", "apr_1", "req-create"),
        ("approved", "success", "apr_1", "req-approve"),
        ("create", "success", "apr_1", "req-approve"),
    ]
    # AND the detector counts the AI's attempt once, not twice
    counts = anomalies.tally(lines, [], now=now)
    assert (counts.actions, counts.scored) == (1, 1)
    # AND Slack's message is replaced with the outcome
    outcome = notifications.outcome_message(ap.public(done), slack_user_id="U0ANA", console_url="https://console/approvals/apr_1")
    assert outcome["replace_original"] is True and outcome["text"].startswith("Approved")
