"""Notifications to people on the functional tier (contracts/approvals.md): the settings (admin), the
approval request posted to Slack with its buttons, the signed interaction route that acts only for
mapped approvers and answers at once, the outcome through ``response_url``, anomaly messages, the
hourly digest, and Slack being down (the approval works, the notification goes to its DLQ). Slack's
Web API and ``response_url`` are faked on loopback (``providers``)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

import pytest

from parity.conversations import signatures

from .test_anomalies import act, run_detector
from .test_approvals import Trust, age
from .test_conversations import SECRETS, channel, providers  # noqa: F401  (the Slack Web API, faked)
from .test_iam_grants import _allowed, _needed

TEAM = "T123ABC456"  # the Slack channel's account_id in test_conversations.channel


def configured(wired, trust: Trust, **settings: Any) -> dict[str, Any]:
    """A Slack channel of the company and settings that send approval requests and anomalies at once."""
    made = channel(wired, trust.admin, "slack")
    body = {"slack_channel_id": made["id"], "slack_target": "C0APPROVE", "approvers": {"U0ANA": "ana@acme"},
            "approval_requested": "immediate", "anomaly": "immediate", **settings}
    answer = trust.call("PUT", "/notification-settings", trust.admin, json=body)
    assert answer.status == 200, answer.text
    return made


class ResponseUrls:
    """Slack's ``response_url`` endpoints, faked on loopback: they take any JSON post (no token, as
    Slack's do) and answer ``ok``; ``fail`` makes the next ones answer 500."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.failing = 0
        self.base = ""

    def url(self, path: str = "actions/T1/1/abc") -> str:
        return f"{self.base}/{path}"

    def at(self, path: str = "actions/T1/1/abc") -> list[dict[str, Any]]:
        return [p["body"] for p in self.posts if p["path"] == f"/{path}" and p["status"] == 200]


@pytest.fixture
def responses() -> Iterator[ResponseUrls]:
    fake = ResponseUrls()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - stdlib name
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            status = 500 if fake.failing > 0 else 200
            fake.failing -= 1 if fake.failing > 0 else 0
            fake.posts.append({"path": self.path, "status": status, "body": json.loads(body or b"{}")})
            self.send_response(status)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    fake.base = f"http://127.0.0.1:{server.server_port}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def click(wired, made: dict[str, Any], approval_id: str, *, url: str, action: str = "approve", user: str = "U0ANA", team: str = TEAM,
          secret: str = SECRETS["slack"], timestamp: int | None = None, raw: bytes | None = None):
    payload = {"type": "block_actions", "user": {"id": user, "username": "ana"}, "team": {"id": team}, "channel": {"id": "C0APPROVE"},
               "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": "C0APPROVE"},
               "actions": [{"action_id": action, "block_id": f"approval:{approval_id}", "value": approval_id, "type": "button"}],
               "response_url": url}
    body = raw if raw is not None else urlencode({"payload": json.dumps(payload)}).encode()
    headers = {"content-type": "application/x-www-form-urlencoded", **signatures.sign_slack(body, secret, timestamp=timestamp)}
    return wired.gateway.invoke("POST", f"/channels/slack/{made['id']}/interactions", headers=headers, body=body)


def posted(providers, *, path: str = "/api/chat.postMessage") -> list[dict[str, Any]]:  # noqa: F811
    """What the fake Slack took (answered 200) at ``path``."""
    return [s for s in providers.sent("slack") if s["path"] == path and s["status"] == 200]


# ---- settings -----------------------------------------------------------------------------------
def test_settings_are_an_admins_default_off_and_name_a_slack_channel_of_the_company(wired, company):
    trust = Trust(wired, company())
    default = trust.call("GET", "/notification-settings", trust.admin).json()["data"]
    assert default == {"slack_channel_id": None, "slack_target": None, "approvers": {}, "approval_requested": "off", "anomaly": "off"}
    for auth in (trust.producer, trust.approver):
        assert trust.call("GET", "/notification-settings", auth).status == 403
        assert trust.call("PUT", "/notification-settings", auth, json={}).status == 403
    # THEN a channel that is not this company's Slack channel is a 422 naming it
    theirs = channel(wired, Trust(wired, company()).admin, "slack")
    whatsapp = channel(wired, trust.admin, "whatsapp")
    for channel_id in (theirs["id"], whatsapp["id"], "ch_nope"):
        answer = trust.call("PUT", "/notification-settings", trust.admin, json={"slack_channel_id": channel_id, "slack_target": "C0APPROVE", "approval_requested": "immediate"})
        assert answer.status == 422 and [d["field"] for d in answer.json()["error"]["details"]] == ["slack_channel_id"]
    bad = trust.call("PUT", "/notification-settings", trust.admin, json={"approval_requested": "often", "approvers": {"ana": "x"}, "anomaly": "digest"})
    assert bad.status == 422 and {d["field"] for d in bad.json()["error"]["details"]} >= {"approval_requested", "approvers"}
    made = configured(wired, trust)
    assert trust.call("GET", "/notification-settings", trust.admin).json()["data"]["slack_channel_id"] == made["id"]


# ---- approval requests and clicks ---------------------------------------------------------------
def test_a_held_action_asks_the_approvers_in_slack_and_a_mapped_approvers_click_approves_it(wired, company, providers, responses):  # noqa: F811
    trust = Trust(wired, company())
    made = configured(wired, trust)
    trust.policy({"agentic_ai": {"min_confidence": 0.8}})
    held = trust.hold(name="Refund <!channel> & more")
    wired.drain()
    # THEN the approvers' channel got one Block Kit message with the proposal, the confidence and two buttons
    (sent,) = posted(providers)
    message = sent["body"]
    assert sent["token_tail"] == "1234" and message["channel"] == "C0APPROVE"
    text = json.dumps(message["blocks"])
    assert "65 %" in text and "&lt;!channel&gt; &amp; more" in text and "<!channel>" not in text
    buttons = {e["action_id"]: e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]}
    assert (buttons["approve"]["value"], buttons["reject"]["value"]) == (held["id"], held["id"])
    assert held["id"] in buttons["open_console"]["url"]
    # WHEN the mapped approver clicks Approve
    started = time.monotonic()
    answer = click(wired, made, held["id"], url=responses.url())
    # THEN the route answers at once (the decision is queued), with an empty 200
    assert answer.status == 200 and answer.body == b"" and time.monotonic() - started < 3
    wired.drain()
    # AND the approval is approved as the approver's sso_id, the record written with approved_by
    done = trust.approval(held["id"])
    assert (done["status"], done["resolved_by"], done["record"]["approved_by"]) == ("approved", "ana@acme", "ana@acme")
    # AND the message is replaced through response_url with the outcome, without buttons
    (reply,) = responses.at()
    assert reply["replace_original"] is True and reply["text"].startswith("Approved")
    assert "actions" not in {b["type"] for b in reply["blocks"]}
    # AND the request is never posted twice, whatever the redeliveries
    assert len(posted(providers)) == 1


@pytest.mark.parametrize("how", ["unmapped user", "another workspace", "forged", "stale", "not the approvals channel"])
def test_a_forged_stale_or_unmapped_click_changes_nothing(wired, company, providers, responses, how):  # noqa: F811
    trust = Trust(wired, company())
    made = configured(wired, trust)
    trust.policy({"agentic_ai": {"min_confidence": 0.8}})
    held = trust.hold()
    if how == "unmapped user":
        answer = click(wired, made, held["id"], url=responses.url(), user="U0EVE")
    elif how == "another workspace":
        answer = click(wired, made, held["id"], url=responses.url(), team="T0OTHER")
    elif how == "forged":
        answer = click(wired, made, held["id"], url=responses.url(), secret="guessed")
    elif how == "stale":
        answer = click(wired, made, held["id"], url=responses.url(), timestamp=int(time.time()) - 301)
    else:
        other = channel(wired, trust.admin, "slack")
        answer = click(wired, other, held["id"], url=responses.url())
    wired.drain()
    # THEN nothing changed
    assert trust.approval(held["id"])["status"] == "pending"
    if how in ("forged", "stale"):
        assert answer.status == 401
        assert responses.posts == []
    else:
        # AND the clicker alone is told, the message keeps its buttons
        assert answer.status == 200
        (reply,) = responses.at()
        assert reply["response_type"] == "ephemeral" and reply["replace_original"] is False


def test_a_click_on_a_decided_approval_says_so_and_a_reject_click_rejects(wired, company, providers, responses):  # noqa: F811
    trust = Trust(wired, company())
    made = configured(wired, trust)
    trust.policy({"agentic_ai": {"min_confidence": 0.8}})
    first, second = trust.hold(), trust.hold()
    trust.call("POST", f"/approvals/{first['id']}/reject", json={"reason": "no"})
    click(wired, made, first["id"], url=responses.url("actions/T1/1/first"))
    click(wired, made, second["id"], action="reject", url=responses.url("actions/T1/1/second"))
    wired.drain()
    (late,) = responses.at("actions/T1/1/first")
    assert late["replace_original"] is True and "earlier, by ana@acme" in late["text"] + json.dumps(late["blocks"])
    assert trust.approval(second["id"])["status"] == "rejected"
    (rejected,) = responses.at("actions/T1/1/second")
    assert rejected["text"].startswith("Rejected")


def test_the_interaction_body_may_arrive_base64_encoded_and_unknown_channels_are_404(wired, company, providers, responses):  # noqa: F811
    trust = Trust(wired, company())
    made = configured(wired, trust)
    # (the gateway hands a form body on base64-encoded, as API Gateway does: the signature is over the raw bytes)
    trust.policy({"agentic_ai": {"min_confidence": 0.8}})
    held = trust.hold()
    assert click(wired, made, held["id"], url=responses.url()).status == 200
    wired.drain()
    assert trust.approval(held["id"])["status"] == "approved"
    assert wired.gateway.invoke("POST", "/channels/slack/ch_nope/interactions", headers={"content-type": "application/x-www-form-urlencoded"}, body=b"payload=%7B%7D").status == 404
    signed = click(wired, made, held["id"], url=responses.url(), raw=b"not=a-payload")
    assert signed.status == 400


def test_slack_down_never_blocks_the_approval_and_the_notification_goes_to_its_dlq(wired, company, providers, aws, stack):  # noqa: F811
    trust = Trust(wired, company())
    configured(wired, trust)
    trust.policy({"agentic_ai": {"min_confidence": 0.8}})
    providers.fail("slack", 503, times=10)
    # WHEN an approval request cannot be sent (three attempts, then given up)
    held = trust.hold()
    wired.drain()
    # THEN the approval is there and works from the API
    assert trust.call("POST", f"/approvals/{held['id']}/approve").status == 200
    # AND the notification is parked in NotifyDLQ with the reason
    sqs = aws.client("sqs")
    dlq = sqs.receive_message(QueueUrl=stack.outputs["NotifyDLQUrl"], MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=0)["Messages"]
    mine = [m for m in dlq if json.loads(m["Body"]).get("ref") == held["id"]]
    assert len(mine) == 1 and "503" in mine[0]["MessageAttributes"]["failure_reason"]["StringValue"]
    assert len(posted(providers)) == 0 and len([s for s in providers.sent("slack") if s["status"] == 503]) == 3


def test_an_opened_anomaly_is_posted_at_once(wired, company, providers):  # noqa: F811
    trust = Trust(wired, company())
    configured(wired, trust, approval_requested="off")
    act(trust, good=0, refused=20, confidence=0.9)
    wired.drain()
    run_detector(wired)
    wired.drain()
    (sent,) = posted(providers)
    assert sent["body"]["channel"] == "C0APPROVE" and sent["body"]["text"].startswith("Anomaly (error)")


def test_the_hourly_digest_lists_the_hours_requests_once(wired, company, providers):  # noqa: F811
    from parity.approvals import approval as ap
    from parity.approvals.store import TrustStore

    trust = Trust(wired, company())
    configured(wired, trust, approval_requested="digest", anomaly="off")
    # GIVEN an approval requested in the hour that just ended (and one now, for the next digest)
    last_hour = datetime.now(timezone.utc).replace(minute=30, second=0, microsecond=0) - timedelta(hours=1)
    store = TrustStore(stack_table(wired), client=wired.aws.client("dynamodb"))
    earlier = ap.held_create(trust.company.id, "ticket", {"name": "Refund", "creator_flag": "agentic_ai"}, trust={"confidence": None, "agent_id": None},
                             approval_id=f"apr_{int(last_hour.timestamp() * 1000):012x}{uuid.uuid4().hex[:12]}", expires_in=86400, now=last_hour)
    store.put_approval(earlier)
    trust.policy({"agentic_ai": {"min_confidence": 0.8}})
    trust.hold()
    wired.drain()
    assert posted(providers) == []  # digest: nothing immediate
    # WHEN the hourly digest runs, twice (a redelivered schedule)
    for _ in range(2):
        wired.runtime.invoke("NotificationDigestFunction", {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})
        wired.drain()
    # THEN one message lists the hour's request
    (sent,) = posted(providers)
    assert sent["body"]["text"].startswith("Parity digest: 1 approval request") and earlier["id"] in json.dumps(sent["body"]["blocks"])


def stack_table(wired) -> str:
    return wired.stack.outputs["TrustTableName"]


def test_every_aws_request_of_the_trust_functions_is_granted_by_their_roles(wired, company, edge, stack, providers, responses):  # noqa: F811
    # GIVEN everything of the capability recorded at the AWS edge
    trust = Trust(wired, company())
    with edge.recording() as calls:
        made = configured(wired, trust)
        trust.policy({"agentic_ai": {"min_confidence": 0.8}})
        trust.call("GET", "/approval-policy", trust.producer)
        first, second, third = trust.hold(), trust.hold(), trust.hold()
        record = trust.call("POST", "/tickets", trust.producer, json={"name": "t", "creator_flag": "agentic_ai", "confidence": 0.9}).json()["data"]
        trust.call("PATCH", f"/tickets/{record['id']}", trust.producer, json={"status": "x"})
        trust.call("PATCH", f"/tickets/{record['id']}", trust.producer, json={"creator_flag": "bot"})
        trust.call("POST", "/tickets", trust.producer, json={"name": "", "creator_flag": "agentic_ai"})
        wired.drain()
        trust.call("GET", "/approvals")
        trust.call("GET", "/approvals", query={"status": "pending"})
        trust.call("POST", f"/approvals/{first['id']}/approve")
        trust.call("POST", "/approvals/batch", json={"reject": [second["id"]]})
        click(wired, made, third["id"], url=responses.url())
        age(wired, trust.company.id, third["id"], created=timedelta(hours=5), expires=timedelta(seconds=1))
        wired.runtime.invoke("ApprovalExpiryFunction", {"source": "aws.events"})
        run_detector(wired)
        wired.runtime.invoke("NotificationDigestFunction", {"source": "aws.events"})
        trust.call("GET", "/activity")
        trust.call("GET", "/activity", query={"agent_id": "triage-ai"})
        trust.call("GET", "/anomalies")
        trust.call("GET", "/notification-settings", trust.admin)
        wired.drain()
    # THEN every request a trust function signed is one its role allows
    ours = {"ApprovalsFunction", "SlackInteractionsFunction", "ActivityLogFunction", "TrustRouterFunction", "SlackNotifierFunction",
            "SlackDecisionFunction", "ApprovalExpiryFunction", "AnomalyDetectorFunction", "NotificationDigestFunction",
            "CreateTicketFunction", "RecordsFunction", "EventRouterFunction"}
    by_functions = [c for c in calls if c.function in ours]
    assert {c.function for c in by_functions} >= ours - {"NotificationDigestFunction"}
    missing = sorted({(c.function, action, resource) for c in by_functions for action, resource in _needed(c, stack) if not _allowed(stack, c.function, action, resource)})
    assert missing == [], "\n".join(f"{f}: {a} on {r}" for f, a, r in missing)


def test_a_reply_slack_does_not_take_is_posted_again_and_the_decision_is_made_once(wired, company, providers, responses):  # noqa: F811
    trust = Trust(wired, company())
    made = configured(wired, trust)
    trust.policy({"agentic_ai": {"min_confidence": 0.8}})
    held = trust.hold()
    responses.failing = 1  # response_url answers 500 once
    assert click(wired, made, held["id"], url=responses.url()).status == 200
    wired.drain()
    # THEN the approval was approved once, and the outcome reached Slack on the second try
    assert [p["status"] for p in responses.posts] == [500, 200]
    (reply,) = responses.at()
    assert reply["text"].startswith("Approved") and "<@U0ANA>" in json.dumps(reply["blocks"])
    assert trust.approval(held["id"])["resolved_by"] == "ana@acme"
