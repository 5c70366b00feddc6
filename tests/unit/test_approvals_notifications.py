"""Notifications: settings, Block Kit messages (checked with slack-sdk's models), and Slack clicks."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parity.approvals import anomalies as an
from parity.approvals import approval as ap
from parity.approvals import notifications as nt
from parity.approvals.notifications import Click, InvalidInteraction
from parity.core import jsonio
from parity.core.errors import ValidationFailed

# slack-sdk (a dev dependency) is the reference for Block Kit's shapes and limits; the runtime
# modules never import it.
from slack_sdk.models import blocks as slack_blocks

T0 = datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc)
CONSOLE = "https://console.example.com/approvals/apr_1"
SETTINGS = nt.validate_settings(
    {"slack_channel_id": "ch_0192abc", "slack_target": "C0123ABCD", "approvers": {"U111AAA": "ana@acme"}, "approval_requested": "immediate", "anomaly": "digest"}
)


def assert_valid_block_kit(message):
    """Every block parses as slack-sdk's model and passes its length and count checks."""
    assert 1 <= len(message["blocks"]) <= 50
    for block in message["blocks"]:
        model = slack_blocks.Block.parse(block)
        assert model is not None, block
        model.validate_json()
    json.dumps(message)  # plain JSON, ready for chat.postMessage


def held_ai_ticket(name="Refund", **proposed):
    body = {"name": name, "priority": "high", "creator_flag": "agentic_ai", **proposed}
    return ap.public(ap.held_create("c1", "ticket", body, trust={"confidence": Decimal("0.65"), "agent_id": "triage-ai"}, approval_id="apr_1", expires_in=3600, now=T0))


# ---- settings --------------------------------------------------------------------------------
def test_the_default_sends_nothing():
    assert nt.default_settings() == {"slack_channel_id": None, "slack_target": None, "approvers": {}, "approval_requested": "off", "anomaly": "off"}
    assert nt.validate_settings({}) == nt.default_settings()
    assert nt.delivery(nt.default_settings(), "approval_requested") == "off"


def test_valid_settings_are_kept_and_say_how_each_topic_is_delivered():
    assert SETTINGS["approvers"] == {"U111AAA": "ana@acme"}
    assert nt.delivery(SETTINGS, "approval_requested") == "immediate"
    assert nt.delivery(SETTINGS, "anomaly") == "digest"
    assert nt.public(SETTINGS) == {**SETTINGS}


def test_every_bad_setting_is_named():
    body = {"slack_channel_id": "C123", "slack_target": "#general", "approvers": {"U1AA": ""}, "approval_requested": "hourly", "anomaly": None, "email": "x"}
    with pytest.raises(ValidationFailed) as caught:
        nt.validate_settings(body)
    assert sorted(d["field"] for d in caught.value.details) == ["approval_requested", "approvers.U1AA", "email", "slack_channel_id", "slack_target"]


def test_sending_anything_needs_a_channel_and_a_target():
    with pytest.raises(ValidationFailed) as caught:
        nt.validate_settings({"anomaly": "immediate"})
    assert [d["field"] for d in caught.value.details] == ["slack_channel_id", "slack_target"]


@pytest.mark.parametrize("approvers", [{"alice": "ana"}, {"U1AA": 3}, {"U1AA": "a\nb"}, ["U1AA"], {f"U{i:06d}": "x" for i in range(501)}])
def test_approvers_map_slack_user_ids_to_sso_ids(approvers):
    with pytest.raises(ValidationFailed) as caught:
        nt.validate_settings({"approvers": approvers})
    assert all(d["field"].startswith("approvers") for d in caught.value.details)


def test_a_stored_item_reads_back_as_the_settings():
    assert nt.from_stored({"pk": "x", **SETTINGS}) == SETTINGS
    assert nt.from_stored(None) == nt.default_settings()


# ---- the approval request --------------------------------------------------------------------
def test_an_approval_request_is_block_kit_with_approve_and_reject_buttons_naming_the_approval():
    message = nt.approval_request(held_ai_ticket(), target="C0123ABCD", console_url=CONSOLE)
    assert_valid_block_kit(message)
    assert message["channel"] == "C0123ABCD" and "65 %" in message["text"]
    [actions] = [b for b in message["blocks"] if b["type"] == "actions"]
    buttons = {e["action_id"]: e for e in actions["elements"]}
    assert (buttons["approve"]["value"], buttons["approve"]["style"]) == ("apr_1", "primary")
    assert (buttons["reject"]["value"], buttons["reject"]["style"]) == ("apr_1", "danger")
    assert buttons["open_console"]["url"] == CONSOLE
    shown = jsonio.dumps(message)
    assert "Refund" in shown and "triage-ai" in shown and "*priority*" in shown


def test_an_update_request_shows_before_and_after():
    record = {"id": "d1", "type": "deal", "company_id": "c1", "name": "Acme", "stage": "New", "version": 2, "creator_flag": "bot", "contact_ids": []}
    held = ap.public(ap.held_update(record, {"stage": "Won"}, trust={"confidence": None, "agent_id": None}, approval_id="apr_2", expires_in=600, now=T0))
    message = nt.approval_request(held, target="C0123ABCD", console_url=CONSOLE)
    assert_valid_block_kit(message)
    assert "New → Won" in jsonio.dumps(message) and "none given" in message["text"]


def test_what_an_agent_wrote_cannot_ping_the_channel_or_hide_a_link():
    # GIVEN a proposal whose name and agent id try mrkdwn control sequences
    held = held_ai_ticket(name="<!channel> pay <https://evil.example|here> & now")
    held["agent_id"] = "<@U999>"
    message = nt.approval_request(held, target="C0123ABCD", console_url=CONSOLE)
    # THEN nothing of it reaches Slack as a control sequence
    shown = jsonio.dumps(message["blocks"])
    assert "<!channel>" not in shown and "<https://evil" not in shown and "<@U999>" not in shown
    assert "&lt;!channel&gt;" in shown and "&amp; now" in shown


def test_huge_and_many_fields_are_cut_to_block_kits_limits():
    held = held_ai_ticket(name="x" * 5000, description="y" * 10000, **{f"f{i}": i for i in range(15)})
    message = nt.approval_request(held, target="C0123ABCD", console_url=CONSOLE)
    assert_valid_block_kit(message)
    [fields] = [b for b in message["blocks"] if b["type"] == "section" and "fields" in b]
    assert len(fields["fields"]) == 10 and "more in the console" in fields["fields"][-1]["text"]


@given(st.text(max_size=300))
def test_escaped_text_never_holds_a_raw_angle_bracket_and_reads_back(text):
    escaped = nt.escape(text)
    assert "<" not in escaped and ">" not in escaped
    assert escaped.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == text


# ---- digest and anomaly messages -------------------------------------------------------------
def test_a_quiet_hour_sends_no_digest():
    assert nt.digest(target="C1AB", approvals=[], anomalies=[], since="a", until="b", approval_url_template="https://c/{id}", console_url="https://c") is None


def test_the_digest_lists_what_happened_in_the_hour():
    approvals = [held_ai_ticket(), {**held_ai_ticket(name="Second"), "id": "apr_2", "status": "approved"}]
    anomaly = an.public(an.run("c1", [], an.findings(an.Counts(T0, actions=20, failed=9)), now=T0, make_id=lambda: "1").opened[0])
    message = nt.digest(target="C1AB", approvals=approvals, anomalies=[anomaly], since="2026-11-23T02:00:00.000Z", until="2026-11-23T03:00:00.000Z", approval_url_template="https://c/approvals/{id}", console_url="https://c")
    assert_valid_block_kit(message)
    shown = jsonio.dumps(message)
    assert "https://c/approvals/apr_2" in shown and "approved" in shown and "9 of 20" in shown
    assert not any(e.get("action_id") in ("approve", "reject") for b in message["blocks"] for e in b.get("elements", []))


def test_a_long_digest_stays_within_one_sections_limit():
    approvals = [{**held_ai_ticket(name="n" * 250), "id": f"apr_{i}"} for i in range(60)]
    message = nt.digest(target="C1AB", approvals=approvals, anomalies=[], since="a", until="b", approval_url_template="https://c/approvals/{id}", console_url="https://c")
    assert_valid_block_kit(message)
    assert "more in the console" in jsonio.dumps(message)


def test_an_anomaly_message_shows_its_figures():
    found = an.findings(an.Counts(T0, actions=40, failed=10))
    anomaly = an.public(an.run("c1", [], found, now=T0, make_id=lambda: "1").opened[0])
    message = nt.anomaly_message(anomaly, target="C1AB", console_url="https://c/anomalies")
    assert_valid_block_kit(message)
    shown = jsonio.dumps(message)
    assert "*failed*" in shown and "0.25" in shown and ":rotating_light:" in shown


# ---- clicks ----------------------------------------------------------------------------------
def payload(action_id="approve", value="apr_1", user="U111AAA", team="T0001", **extra):
    """A block_actions payload shaped as Slack's reference shows it."""
    body = {
        "type": "block_actions",
        "user": {"id": user, "username": "ana", "team_id": team},
        "api_app_id": "A0001",
        "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": "1732330800.000100", "channel_id": "C0123ABCD", "is_ephemeral": False},
        "trigger_id": "123.456.abc",
        "team": {"id": team, "domain": "acme"},
        "channel": {"id": "C0123ABCD", "name": "approvals"},
        "message": {"type": "message", "ts": "1732330800.000100", "text": "Approval needed"},
        "response_url": "https://hooks.slack.com/actions/T0001/1/xyz",
        "actions": [{"type": "button", "action_id": action_id, "block_id": "approval:apr_1", "value": value, "text": {"type": "plain_text", "text": "Approve"}, "action_ts": "1732330801.1"}],
    }
    body.update(extra)
    return body


def form(body) -> str:
    return urlencode({"payload": json.dumps(body)})


def test_a_click_is_read_from_the_form_body():
    click = nt.parse_interaction(form(payload()))
    assert click == Click("U111AAA", "T0001", "approve", "apr_1", "https://hooks.slack.com/actions/T0001/1/xyz", "C0123ABCD", "1732330800.000100")


def test_a_base64_form_body_from_api_gateway_is_read_the_same():
    raw = form(payload(action_id="reject"))
    assert nt.parse_interaction(base64.b64encode(raw.encode()).decode(), base64_encoded=True) == nt.parse_interaction(raw)


def test_another_payload_type_is_nothing_to_do():
    assert nt.parse_interaction(form({"type": "view_submission", "user": {"id": "U1"}})) is None


@pytest.mark.parametrize(
    "body",
    [
        "",
        "payload=",
        "payload=%7Bnot-json",
        "payload=" + json.dumps([1]),
        form({"type": "block_actions", "user": {"id": "U1"}, "actions": []}),
        form({"type": "block_actions", "actions": [{"action_id": "approve"}]}),
        form({"type": "block_actions", "user": {"id": 5}, "actions": [{"action_id": "approve"}]}),
        form(payload()) + "&" + form(payload()),
    ],
)
def test_a_body_that_is_not_an_interaction_is_refused(body):
    with pytest.raises(InvalidInteraction):
        nt.parse_interaction(body)


def test_undecodable_base64_is_refused():
    with pytest.raises(InvalidInteraction):
        nt.parse_interaction("@@not base64@@", base64_encoded=True)


@given(st.one_of(st.binary(max_size=200), st.text(max_size=200)), st.booleans())
def test_any_body_is_a_click_nothing_or_invalid_never_a_crash(body, encoded):
    try:
        result = nt.parse_interaction(body, base64_encoded=encoded)
    except InvalidInteraction:
        return
    assert result is None or isinstance(result, Click)


def test_a_mapped_approvers_click_decides_as_their_sso_id():
    decision = nt.decide_click(nt.parse_interaction(form(payload())), SETTINGS, team_id="T0001")
    assert (decision.decision, decision.approval_id, decision.sso_id, decision.reply) == ("approve", "apr_1", "ana@acme", None)


def test_an_unmapped_user_changes_nothing_and_is_told_so_privately():
    decision = nt.decide_click(nt.parse_interaction(form(payload(user="U999ZZZ"))), SETTINGS)
    assert decision.decision is None and decision.sso_id is None
    assert decision.reply == {"response_type": "ephemeral", "replace_original": False, "text": nt.NOT_APPROVER_TEXT}


def test_a_click_from_another_workspace_is_not_an_approvers():
    decision = nt.decide_click(nt.parse_interaction(form(payload(team="T0BAD"))), SETTINGS, team_id="T0001")
    assert decision.decision is None and decision.reply["response_type"] == "ephemeral"


def test_the_console_link_button_is_acknowledged_and_ignored():
    decision = nt.decide_click(nt.parse_interaction(form(payload(action_id="open_console", value=None))), SETTINGS)
    assert decision == nt.ClickDecision(None)


@pytest.mark.parametrize("value", [None, "", "apr_../../x", "d1"])
def test_a_button_naming_no_approval_changes_nothing(value):
    decision = nt.decide_click(nt.parse_interaction(form(payload(value=value))), SETTINGS)
    assert decision.decision is None and decision.reply["response_type"] == "ephemeral"


# ---- the outcome through response_url --------------------------------------------------------
def decided(status):
    held = ap.held_create("c1", "ticket", {"name": "Refund", "creator_flag": "agentic_ai"}, trust={"confidence": Decimal("0.65"), "agent_id": None}, approval_id="apr_1", expires_in=3600, now=T0)
    if status == "approved":
        return ap.public(ap.approved(held, by="ana@acme", now=T0, record={"id": "t1"}))
    if status == "rejected":
        return ap.public(ap.rejected(held, by="bo@acme", now=T0, reason="duplicate <script>"))
    return ap.public(ap.expired(held, now=T0 + timedelta(hours=2)))


def test_a_decision_replaces_the_request_with_the_outcome_and_no_buttons():
    message = nt.outcome_message(decided("approved"), slack_user_id="U111AAA", console_url=CONSOLE)
    assert message["replace_original"] is True and "response_type" not in message
    assert_valid_block_kit(message)
    assert not any(b["type"] == "actions" for b in message["blocks"])
    assert "*Approved* by <@U111AAA>" in message["blocks"][0]["text"]["text"]


@pytest.mark.parametrize(("status", "says"), [("approved", "earlier, by ana@acme"), ("rejected", "earlier, by bo@acme"), ("expired", "never approved")])
def test_a_click_on_an_already_decided_approval_shows_what_happened_instead(status, says):
    message = nt.outcome_message(decided(status), slack_user_id="U111AAA", console_url=CONSOLE, error_code="approval_not_pending")
    assert message["replace_original"] is True and says in message["text"] + message["blocks"][0]["text"]["text"]
    assert_valid_block_kit(message)


def test_a_rejection_reason_is_quoted_escaped():
    text = nt.outcome_message(decided("rejected"), slack_user_id="U111AAA", console_url=CONSOLE)["blocks"][0]["text"]["text"]
    assert "&lt;script&gt;" in text and "<script>" not in text


@pytest.mark.parametrize("code", ["record_changed", "validation_error", "temporarily_unavailable", None])
def test_a_click_that_left_the_approval_pending_tells_only_the_clicker_and_keeps_the_buttons(code):
    message = nt.outcome_message(held_ai_ticket(), slack_user_id="U111AAA", console_url=CONSOLE, error_code=code)
    assert message["response_type"] == "ephemeral" and message["replace_original"] is False


def test_an_approval_that_no_longer_exists_is_told_privately():
    assert nt.outcome_message(None, slack_user_id="U1", console_url=CONSOLE)["response_type"] == "ephemeral"


def test_percent_shows_the_confidence_as_people_read_it():
    assert (nt.percent(Decimal("0.65")), nt.percent(1), nt.percent(Decimal("0.123")), nt.percent(None)) == ("65 %", "100 %", "12.3 %", "none given")
