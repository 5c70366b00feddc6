"""Notifications to people through Slack: sending the queued messages, and applying the buttons'
clicks (contracts/approvals.md "Notifications to people").

**Sending** (``NotifyQueue`` → ``send``): an approval request, an opened anomaly or an hourly digest
is posted with ``chat.postMessage`` and the settings' Slack channel's bot token, through
``parity.core.outbound.exchange`` (SSRF guard, connect and total deadline). Slack's answer is read
as the conversations' reply sender reads it: ``ok`` → sent (remembered, so a redelivery never posts
twice); 429, 5xx, no answer → retried along ``SLACK_RETRY_SCHEDULE`` (Retry-After honoured), then
dead-lettered with the reason; ``ok: false`` for a bad channel or token, or a target the guard
refuses → dead-lettered at once. Nothing here is on an approval's path: an approval never waits for
Slack, and a failed notification never undoes it.

**Clicks** (``DecisionQueue`` → ``apply_click``): the signed interaction route queued the click (it
answered Slack within its 3 s); here the decision is made as the approver the clicking user maps to,
and the outcome replaces the message through ``response_url``. A post that fails is queued again as
a plain reply (never the decision twice) and, after its attempts, dead-lettered.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from parity.approvals import anomalies, notifications
from parity.approvals import approval as ap
from parity.approvals.store import TrustStore
from parity.core.clock import iso_ms
from parity.core.errors import ParityError
from parity.core.outbound import Exchange

Post = Callable[[str, Mapping[str, str], bytes], Exchange]


@dataclass(frozen=True)
class Outcome:
    result: Literal["sent", "skipped", "retry", "failed"]
    reason: str = ""
    delay: int = 0


def _read(answered: Exchange) -> tuple[bool, bool, str, int | None, str | None]:
    """(accepted, final, error, retry_after, ts) of Slack's answer to a chat.postMessage."""
    from parity.conversations.outbound import answer_of

    answer = answer_of("slack", answered)
    return answer.accepted, answer.final, answer.error, answer.retry_after, answer.provider_id


def console_url(approval_url_template: str) -> str:
    """The console's approvals page (where the anomalies' banner shows too)."""
    return approval_url_template.format(id="")


def message_for(store: TrustStore, queued: Mapping[str, Any], settings: Mapping[str, Any], *, approval_url_template: str) -> dict[str, Any] | None:
    """The chat.postMessage body a queued notification stands for; None when there is nothing to
    say any more (the approval was decided before its request went out, the anomaly is gone)."""
    company, kind, ref = str(queued["company_id"]), queued.get("kind"), str(queued.get("ref"))
    target = str(settings["slack_target"])
    if kind == "approval_requested":
        found = store.approval(company, ref)
        if found is None or found["status"] != "pending":
            return None
        return notifications.approval_request(ap.public(found), target=target, console_url=approval_url_template.format(id=ref))
    if kind == "anomaly":
        found = store.anomaly(company, ref)
        if found is None or found["status"] == "resolved":
            return None
        return notifications.anomaly_message(anomalies.public(found), target=target, console_url=console_url(approval_url_template))
    if kind == "digest" and isinstance(queued.get("message"), Mapping):
        return {**queued["message"], "channel": target}
    raise ValueError(f"not a notification: {kind!r}")


def send(
    store: TrustStore,
    queued: Mapping[str, Any],
    attempt: int,
    *,
    token_for: Callable[[str], str | None],
    post: Post,
    base_url: str,
    delays: list[int],
    approval_url_template: str,
    now: datetime,
) -> Outcome:
    """One attempt at one queued notification (``{"kind", "company_id", "ref", "message"?}``)."""
    company, kind, ref = str(queued["company_id"]), str(queued.get("kind")), str(queued.get("ref"))
    if store.sent(company, kind, ref) is not None:
        return Outcome("skipped", "Slack took it already")
    settings = notifications.from_stored(store.settings_item(company))
    topic = kind if kind in notifications.TOPICS else None
    if not settings.get("slack_channel_id") or not settings.get("slack_target") or (topic and notifications.delivery(settings, topic) == "off"):  # type: ignore[arg-type]
        return Outcome("skipped", "notifications are off now")
    message = message_for(store, queued, settings, approval_url_template=approval_url_template)
    if message is None:
        return Outcome("skipped", "nothing to say any more")
    token = token_for(str(settings["slack_channel_id"]))
    if not token:
        return Outcome("failed", "the Slack channel has no bot token (deleted?)")
    accepted, final, error, retry_after, ts = _read(post(
        f"{base_url.rstrip('/')}/api/chat.postMessage",
        {"Authorization": f"Bearer {token}", "Content-Type": "application/json; charset=utf-8"},
        json.dumps(message, default=str).encode("utf-8"),
    ))
    if accepted:
        store.mark_sent(company, kind, ref, now=iso_ms(now), ts=ts)
        return Outcome("sent")
    if final:
        return Outcome("failed", error)
    return _later(attempt, delays, error, retry_after)


def _later(attempt: int, delays: list[int], error: str, retry_after: int | None) -> Outcome:
    if attempt > len(delays):
        return Outcome("failed", f"{error}; gave up after {attempt} attempts")
    return Outcome("retry", error, max(delays[attempt - 1], retry_after or 0))


def respond(response_url: str, body: Mapping[str, Any], attempt: int, *, post: Post, delays: list[int]) -> Outcome:
    """Post one reply to a click's ``response_url`` (Slack answers a plain ``ok``)."""
    answered = post(response_url, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(body, default=str).encode("utf-8"))
    if answered.refused:
        return Outcome("failed", answered.problem)
    if answered.status is not None and 200 <= answered.status < 300:
        return Outcome("sent")
    if answered.status is not None and 400 <= answered.status < 500 and answered.status != 429:
        return Outcome("failed", f"answered {answered.status}")
    return _later(attempt, delays, answered.problem or f"answered {answered.status}", None)


def apply_click(queued: Mapping[str, Any], *, decide: Callable[[str, str, str, str], dict[str, Any]], read: Callable[[str, str], dict[str, Any] | None], approval_url_template: str) -> dict[str, Any]:
    """A queued click's decision, made as the mapped approver; the ``response_url`` body that says
    how it went (the message replaced with the outcome, or only the clicker told why not)."""
    company, approval_id, decision = str(queued["company_id"]), str(queued["approval_id"]), str(queued["decision"])
    console = approval_url_template.format(id=approval_id)
    try:
        done = decide(company, str(queued["sso_id"]), approval_id, decision)
    except ParityError as exc:
        current = read(company, approval_id)
        return notifications.outcome_message(ap.public(current) if current else None, slack_user_id=str(queued["slack_user_id"]), console_url=console, error_code=exc.code)
    return notifications.outcome_message(ap.public(done), slack_user_id=str(queued["slack_user_id"]), console_url=console)
