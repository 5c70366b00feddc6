"""Notifications to people: the settings, the Slack messages, and the Slack buttons' clicks.
(Over 400 lines: Block Kit's limits, the messages built within them and the clicks that answer them are
one protocol with Slack, kept and tested together.)

**Settings** (``GET|PUT /api/v3.1/notification-settings``, admin)::

    {"slack_channel_id": "ch_…" | null,      # the Slack channel of contracts/conversations.md (its bot token sends)
     "slack_target": "C…" | null,            # the Slack conversation the messages go to
     "approvers": {"<Slack user id>": "<sso_id>"},
     "approval_requested": "immediate" | "digest" | "off",
     "anomaly": "immediate" | "digest" | "off"}

Default: nothing configured, both ``off``. A PUT replaces the whole settings (absent fields take
their defaults) and names each bad field in one 422; ``immediate`` or ``digest`` needs both
``slack_channel_id`` and ``slack_target``.

**Messages** are ``chat.postMessage`` bodies (``channel``, ``text`` fallback, ``blocks``), built here
and sent by the notifier with the channel's bot token:

- an approval request: what is proposed (for an update, before → after), the creator label and
  agent, the confidence, when it expires, an Approve and a Reject button (``action_id`` ``approve``
  / ``reject``, ``value`` = the approval id) and a link button to the console;
- the hourly digest: what was requested and what tripped in the hour, with links (no buttons: a
  digest is read later, the console is where to act);
- an anomaly: its title, figures and a link.

Everything a producer or agent wrote (names, fields, agent ids) is escaped for Slack's mrkdwn
(``&``, ``<``, ``>``) so it can never become a mention (``<!channel>``) or a disguised link, and is
cut to fit Block Kit's limits.

**Clicks** (``POST /channels/slack/{id}/interactions``, form body ``payload=<json>``, base64 when
API Gateway encoded it; the signature is checked first, as conversations.md checks Slack's):
``parse_interaction`` reads a ``block_actions`` payload into a ``Click``; ``decide_click`` applies it
only for a Slack user listed in ``approvers``, acting as that ``sso_id``; anyone else gets an
ephemeral "you are not an approver" and nothing changes. A button is not an authorisation: the
mapping is checked on every click. ``outcome_message`` is the ``response_url`` body once the
decision is made: the request message is replaced with the outcome (buttons gone) when the
approval is decided (by this click or an earlier one); when it is still pending (the record
changed, a 503) the clicker alone is told, and the buttons stay.

Over 400 lines on purpose: the settings, the Slack messages and the clicks share one vocabulary (topics, approvers, Block Kit ids); split, each half would need the other's.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import parse_qs

from parity.approvals import checks
from parity.approvals.approval import valid_approval_id
from parity.approvals.checks import Problem
from parity.core.ids import valid_id
from parity.crm.records import CREATOR_LABELS

Frequency = Literal["immediate", "digest", "off"]
Topic = Literal["approval_requested", "anomaly"]
FREQUENCIES: tuple[Frequency, ...] = ("immediate", "digest", "off")
TOPICS: tuple[Topic, ...] = ("approval_requested", "anomaly")
FIELDS = ("slack_channel_id", "slack_target", "approvers", *TOPICS)
MAX_APPROVERS = 500
MAX_SSO_ID_LENGTH = 255
#: A Slack conversation id: public channel C…, private G…, direct message D….
SLACK_CONVERSATION = re.compile(r"^[CGD][A-Z0-9]{2,20}$")
#: A Slack user id: U… (workspace) or W… (Enterprise Grid).
SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,20}$")
CHANNEL_PREFIX = "ch_"
#: Block Kit's limits this module cuts to.
HEADER_MAX = 150
BUTTON_TEXT_MAX = 75
FIELD_TEXT_MAX = 2000
SECTION_TEXT_MAX = 3000
MAX_SECTION_FIELDS = 10
VALUE_SHOWN_MAX = 300
DIGEST_ITEMS_MAX = 20
APPROVE, REJECT, OPEN_CONSOLE = "approve", "reject", "open_console"
NOT_APPROVER_TEXT = "You are not an approver for this workspace's Parity approvals, so nothing was changed. Ask an admin to add you."


# ---- settings --------------------------------------------------------------------------------
def default_settings() -> dict[str, Any]:
    return {"slack_channel_id": None, "slack_target": None, "approvers": {}, "approval_requested": "off", "anomaly": "off"}


def validate_settings(body: Any) -> dict[str, Any]:
    """A PUT body as the whole settings to store; a 422 naming every bad field."""
    if (bad := checks.object_problem(body)) is not None:
        checks.fail([bad], "the notification settings must be a JSON object")
    problems: list[Problem] = checks.unknown_fields(body, FIELDS)
    settings = default_settings()
    channel = body.get("slack_channel_id")
    if channel is not None:
        if isinstance(channel, str) and channel.startswith(CHANNEL_PREFIX) and valid_id(channel[len(CHANNEL_PREFIX):]):
            settings["slack_channel_id"] = channel
        else:
            problems.append(checks.problem("slack_channel_id", "must be a channel id (ch_…) or null", "value_error"))
    target = body.get("slack_target")
    if target is not None:
        if isinstance(target, str) and SLACK_CONVERSATION.match(target):
            settings["slack_target"] = target
        else:
            problems.append(checks.problem("slack_target", "must be a Slack conversation id (C…, G… or D…) or null", "value_error"))
    approvers = body.get("approvers")
    if approvers is not None:
        problems += _check_approvers(approvers, settings)
    for topic in TOPICS:
        value, bad = checks.choice(body.get(topic), topic, FREQUENCIES)
        if bad:
            problems.append(bad)
        elif value is not None:
            settings[topic] = value
    wanted = [t for t in TOPICS if settings[t] != "off"]
    if wanted and not any(p["field"] in ("slack_channel_id", "slack_target") for p in problems):
        for name in ("slack_channel_id", "slack_target"):
            if settings[name] is None:
                problems.append(checks.problem(name, f"required when {' and '.join(wanted)} is not off", "missing"))
    checks.fail(problems, "the notification settings have invalid fields")
    return settings


def _check_approvers(approvers: Any, settings: dict[str, Any]) -> list[Problem]:
    if (bad := checks.object_problem(approvers, "approvers")) is not None:
        return [bad]
    if len(approvers) > MAX_APPROVERS:
        return [checks.problem("approvers", f"at most {MAX_APPROVERS} approvers", "too_long")]
    problems: list[Problem] = []
    mapping: dict[str, str] = {}
    for user, sso_id in approvers.items():
        if not isinstance(user, str) or not SLACK_USER.match(user):
            # The key is not echoed into the field name: it could be anything, of any length.
            problems.append(checks.problem("approvers", "each key must be a Slack user id (U… or W…)", "value_error"))
            continue
        value, bad = checks.identifier(sso_id, f"approvers.{user}", max_length=MAX_SSO_ID_LENGTH)
        if bad or value is None:
            problems.append(bad or checks.problem(f"approvers.{user}", "must be an sso_id", "string_type"))
        else:
            mapping[user] = value
    settings["approvers"] = mapping
    return problems


def from_stored(item: Mapping[str, Any] | None) -> dict[str, Any]:
    """The settings a stored item holds (what a PUT validated), or the default without one."""
    if not item:
        return default_settings()
    return validate_settings({name: item[name] for name in FIELDS if name in item})


def public(settings: Mapping[str, Any]) -> dict[str, Any]:
    return {name: (dict(settings.get(name) or {}) if name == "approvers" else settings.get(name)) for name in FIELDS}


def delivery(settings: Mapping[str, Any], topic: Topic) -> Frequency:
    """How ``topic`` is delivered: its frequency, or ``off`` when Slack is not configured."""
    if not settings.get("slack_channel_id") or not settings.get("slack_target"):
        return "off"
    return settings.get(topic, "off")


# ---- text ------------------------------------------------------------------------------------
def escape(text: Any) -> str:
    """Text safe inside Slack mrkdwn: ``&``, ``<`` and ``>`` as entities, so it can never open a
    mention, a channel ping or a link."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut(text: str, limit: int) -> str:
    """At most ``limit`` characters; a cut text ends in "…"."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _value(value: Any) -> str:
    if value is None or value == [] or value == "":
        return "—"
    if isinstance(value, list):
        return ", ".join(_value(v) for v in value)
    if isinstance(value, Decimal):
        return f"{value.normalize():f}" if value != value.to_integral_value() else str(int(value))
    return str(value)


def _shown(value: Any) -> str:
    return escape(cut(_value(value), VALUE_SHOWN_MAX))


def percent(confidence: Any) -> str:
    """``0.65`` → ``65 %``; None → ``none given``."""
    if confidence is None:
        return "none given"
    share = (Decimal(str(confidence)) * 100).quantize(Decimal("0.1")).normalize()
    return f"{share:f} %"


def _label(creator_flag: str | None) -> str:
    return CREATOR_LABELS.get(creator_flag or "", "") or "Automation"


def _plain_text(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": cut(text, limit), "emoji": True}


def _mrkdwn(text: str, limit: int = SECTION_TEXT_MAX) -> dict[str, str]:
    return {"type": "mrkdwn", "text": cut(text, limit)}


def _link_button(text: str, url: str) -> dict[str, Any]:
    return {"type": "button", "action_id": OPEN_CONSOLE, "text": _plain_text(text, BUTTON_TEXT_MAX), "url": url}


def _subject(approval: Mapping[str, Any]) -> str:
    """``AI ticket “Refund”``: what the approval is about, escaped."""
    kind = approval.get("kind")
    record_type = approval.get("record_type") or "record"
    if kind == "changelog":
        return f"customer update for ticket {escape(approval.get('record_id') or '')}"
    name = (approval.get("proposed") or {}).get("name") or (approval.get("before") or {}).get("name") or approval.get("record_id") or ""
    verb = "new" if kind == "create" else "change to"
    return f"{verb} {_label(approval.get('creator_flag'))} {record_type} “{_shown(name)}”"


def _proposal_fields(approval: Mapping[str, Any]) -> list[dict[str, str]]:
    proposed = approval.get("proposed") or {}
    before = approval.get("before")
    items = []
    for name, value in proposed.items():
        if before is not None and name in before:
            text = f"*{escape(name)}*\n{_shown(before.get(name))} → {_shown(value)}"
        else:
            text = f"*{escape(name)}*\n{_shown(value)}"
        items.append(_mrkdwn(text, FIELD_TEXT_MAX))
    if len(items) > MAX_SECTION_FIELDS:
        rest = len(items) - (MAX_SECTION_FIELDS - 1)
        items = items[: MAX_SECTION_FIELDS - 1] + [_mrkdwn(f"_…and {rest} more in the console_", FIELD_TEXT_MAX)]
    return items


# ---- messages --------------------------------------------------------------------------------
def approval_request(approval: Mapping[str, Any], *, target: str, console_url: str) -> dict[str, Any]:
    """The ``chat.postMessage`` body asking for a decision on ``approval`` (its public shape);
    ``console_url`` is the approval's page in the console."""
    subject = _subject(approval)
    agent = approval.get("agent_id")
    by = f"{_label(approval.get('creator_flag'))}" + (f" agent `{escape(cut(agent, 128))}`" if agent else "")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain_text("Approval needed", HEADER_MAX)},
        {"type": "section", "text": _mrkdwn(f"*{subject[0].upper() + subject[1:]}* proposed by {by}")},
    ]
    fields = _proposal_fields(approval)
    if fields:
        blocks.append({"type": "section", "fields": fields})
    blocks.append(
        {
            "type": "context",
            "elements": [_mrkdwn(f"Confidence *{percent(approval.get('confidence'))}* · expires {escape(approval.get('expires_at'))} · {escape(approval['id'])}")],
        }
    )
    blocks.append(
        {
            "type": "actions",
            "block_id": cut(f"approval:{approval['id']}", 255),
            "elements": [
                {"type": "button", "action_id": APPROVE, "style": "primary", "text": _plain_text("Approve", BUTTON_TEXT_MAX), "value": approval["id"]},
                {"type": "button", "action_id": REJECT, "style": "danger", "text": _plain_text("Reject", BUTTON_TEXT_MAX), "value": approval["id"]},
                _link_button("Open in console", console_url),
            ],
        }
    )
    fallback = f"Approval needed: {subject} (confidence {percent(approval.get('confidence'))})"
    return {"channel": target, "text": cut(fallback, 3000), "blocks": blocks, "unfurl_links": False, "unfurl_media": False}


def anomaly_message(anomaly: Mapping[str, Any], *, target: str, console_url: str) -> dict[str, Any]:
    """The ``chat.postMessage`` body telling people an anomaly opened (its public shape)."""
    icon = ":rotating_light:" if anomaly.get("severity") == "error" else ":warning:"
    figures = {k: v for k, v in (anomaly.get("data") or {}).items() if k != "window"}
    fields = [_mrkdwn(f"*{escape(name)}*\n{_shown(value)}", FIELD_TEXT_MAX) for name, value in list(figures.items())[:MAX_SECTION_FIELDS]]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain_text(f"Anomaly: {str(anomaly.get('type', '')).replace('_', ' ')}", HEADER_MAX)},
        {"type": "section", "text": _mrkdwn(f"{icon} {escape(anomaly.get('title', ''))}")},
    ]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    blocks.append({"type": "actions", "elements": [_link_button("Open in console", console_url)]})
    text = f"Anomaly ({anomaly.get('severity')}): {escape(anomaly.get('title', ''))}"
    return {"channel": target, "text": cut(text, 3000), "blocks": blocks, "unfurl_links": False, "unfurl_media": False}


def digest(
    *,
    target: str,
    approvals: Sequence[Mapping[str, Any]],
    anomalies: Sequence[Mapping[str, Any]],
    since: str,
    until: str,
    approval_url_template: str,
    console_url: str,
) -> dict[str, Any] | None:
    """The hourly digest of what happened from ``since`` to ``until``: the approvals requested
    (with the status each has now) and the anomalies opened; None when nothing happened (no
    empty message every hour). ``approval_url_template`` has an ``{id}``."""
    if not approvals and not anomalies:
        return None
    blocks: list[dict[str, Any]] = [{"type": "header", "text": _plain_text("Parity digest", HEADER_MAX)}]
    blocks.append({"type": "context", "elements": [_mrkdwn(f"From {escape(since)} to {escape(until)}")]})
    if approvals:
        lines = [
            f"• <{escape(approval_url_template.format(id=a['id']))}|{_subject(a)}>: {escape(a.get('status'))}, confidence {percent(a.get('confidence'))}"
            for a in approvals[:DIGEST_ITEMS_MAX]
        ]
        blocks.append({"type": "section", "text": _mrkdwn(_bulleted(f"*{len(approvals)} approval request{'s' if len(approvals) != 1 else ''}*", lines, len(approvals)))})
    if anomalies:
        lines = [f"• {escape(a.get('severity'))}: {escape(a.get('title'))} ({escape(a.get('status'))})" for a in anomalies[:DIGEST_ITEMS_MAX]]
        blocks.append({"type": "section", "text": _mrkdwn(_bulleted(f"*{len(anomalies)} anomal{'ies' if len(anomalies) != 1 else 'y'}*", lines, len(anomalies)))})
    blocks.append({"type": "actions", "elements": [_link_button("Open in console", console_url)]})
    text = f"Parity digest: {len(approvals)} approval request(s), {len(anomalies)} anomal{'ies' if len(anomalies) != 1 else 'y'}"
    return {"channel": target, "text": text, "blocks": blocks, "unfurl_links": False, "unfurl_media": False}


def _bulleted(title: str, lines: list[str], total: int) -> str:
    text = title
    for line in lines:
        if len(text) + len(line) + 40 > SECTION_TEXT_MAX:
            break
        text += "\n" + line
        total -= 1
    if total > 0:
        text += f"\n_…and {total} more in the console_"
    return text


# ---- clicks ----------------------------------------------------------------------------------
class InvalidInteraction(ValueError):
    """A signed body that is not an interaction payload this route can read."""


@dataclass(frozen=True)
class Click:
    """One button click of a ``block_actions`` payload."""

    user_id: str
    team_id: str | None
    action_id: str
    value: str | None
    response_url: str | None
    channel_id: str | None
    message_ts: str | None


def parse_interaction(body: str | bytes, *, base64_encoded: bool = False) -> Click | None:
    """The click of an interaction request body (``payload=<url-encoded JSON>``); None for a
    payload of another type (a modal, a shortcut: nothing to do); ``InvalidInteraction`` for a
    body that is not one."""
    try:
        raw = base64.b64decode(body, validate=True) if base64_encoded else body
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        form = parse_qs(text, keep_blank_values=True, max_num_fields=20)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidInteraction("not a form-encoded interaction body") from exc
    payloads = form.get("payload")
    if not payloads or len(payloads) != 1:
        raise InvalidInteraction("the body holds no single payload field")
    try:
        payload = json.loads(payloads[0])
    except (ValueError, RecursionError) as exc:
        raise InvalidInteraction("the payload is not JSON") from exc
    if not isinstance(payload, dict):
        raise InvalidInteraction("the payload is not an object")
    if payload.get("type") != "block_actions":
        return None
    actions = payload.get("actions")
    user = payload.get("user")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict) or not isinstance(user, dict):
        raise InvalidInteraction("a block_actions payload without actions or user")
    action = actions[0]
    user_id, action_id, value = user.get("id"), action.get("action_id"), action.get("value")
    if not isinstance(user_id, str) or not isinstance(action_id, str) or (value is not None and not isinstance(value, str)):
        raise InvalidInteraction("a block_actions payload without a user id or action id")
    response_url = payload.get("response_url")
    team = payload.get("team") if isinstance(payload.get("team"), dict) else {}
    channel = payload.get("channel") if isinstance(payload.get("channel"), dict) else {}
    container = payload.get("container") if isinstance(payload.get("container"), dict) else {}
    message = payload.get("message") if isinstance(payload.get("message"), dict) else {}
    return Click(
        user_id=user_id,
        team_id=_text_or_none(team.get("id")),
        action_id=action_id,
        value=value,
        response_url=response_url if isinstance(response_url, str) and response_url.startswith(("https://", "http://")) else None,
        channel_id=_text_or_none(channel.get("id") or container.get("channel_id")),
        message_ts=_text_or_none(container.get("message_ts") or message.get("ts")),
    )


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class ClickDecision:
    """What a click does: a ``decision`` on ``approval_id`` as ``sso_id``, or nothing (``decision``
    None) with an optional ephemeral ``reply`` for the clicker."""

    decision: Literal["approve", "reject"] | None
    approval_id: str | None = None
    sso_id: str | None = None
    reply: dict[str, Any] | None = None


def ephemeral(text: str) -> dict[str, Any]:
    """A ``response_url`` body only the clicker sees, leaving the message as it is."""
    return {"response_type": "ephemeral", "replace_original": False, "text": text}


def decide_click(click: Click, settings: Mapping[str, Any], *, team_id: str | None = None) -> ClickDecision:
    """Whether a click decides anything. Only ``approve``/``reject`` buttons do (the console link
    also sends a payload: it is acknowledged and ignored); only a Slack user listed in
    ``approvers`` acts, as that sso_id, and only from the channel's own workspace when
    ``team_id`` is given; anyone else is told so and nothing changes."""
    if click.action_id not in (APPROVE, REJECT):
        return ClickDecision(None)
    if team_id is not None and click.team_id != team_id:
        return ClickDecision(None, reply=ephemeral(NOT_APPROVER_TEXT))
    sso_id = (settings.get("approvers") or {}).get(click.user_id)
    if not sso_id:
        return ClickDecision(None, reply=ephemeral(NOT_APPROVER_TEXT))
    if not valid_approval_id(click.value):
        return ClickDecision(None, reply=ephemeral("This button does not name an approval Parity knows; nothing was changed."))
    return ClickDecision(click.action_id, approval_id=click.value, sso_id=sso_id)  # type: ignore[arg-type]


_DONE = {"approved": "Approved", "rejected": "Rejected", "expired": "Expired"}


def outcome_message(
    approval: Mapping[str, Any] | None,
    *,
    slack_user_id: str,
    console_url: str,
    error_code: str | None = None,
) -> dict[str, Any]:
    """The ``response_url`` body once a click's decision was tried: ``approval`` is the approval as
    it is now (public shape; None when it was not found), ``error_code`` the refusal if any.

    Decided (by this click, or earlier: ``approval_not_pending``) → the request message is
    replaced by the outcome, without buttons. Still pending or unknown → only the clicker is told
    why, and the message keeps its buttons."""
    if approval is None:
        return ephemeral("That approval no longer exists in Parity; nothing was changed.")
    status = approval.get("status")
    if status in _DONE:
        subject = _subject(approval)
        if error_code is None:
            by = f"by <@{escape(slack_user_id)}>"
        elif approval.get("resolved_by"):
            by = f"earlier, by {escape(approval['resolved_by'])}"
        else:
            by = "at its expiry, never approved" if status == "expired" else "earlier"
        line = f"*{_DONE[status]}* {by}: {subject}"
        if status == "rejected" and approval.get("reason"):
            line += f"\n>{_shown(approval['reason'])}"
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": _mrkdwn(line)},
            {"type": "context", "elements": [_mrkdwn(f"{escape(approval.get('resolved_at') or '')} · {escape(approval['id'])} · <{escape(console_url)}|open in console>")]},
        ]
        return {"replace_original": True, "text": cut(f"{_DONE[status]}: {subject}", 3000), "blocks": blocks}
    reasons = {
        "record_changed": "The record changed since this was proposed, so it was not approved. Open it in the console to decide on the current version.",
        "validation_error": "The proposal is no longer valid, so it was not approved. Open it in the console to edit and approve it.",
        "temporarily_unavailable": "Parity is busy; nothing was changed. Try the button again in a moment.",
        "forbidden": NOT_APPROVER_TEXT,
    }
    return ephemeral(reasons.get(error_code or "", "Nothing was changed. Open the approval in the console to decide on it."))
