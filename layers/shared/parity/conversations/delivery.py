"""The reply sender's use case: one attempt at delivering one queued reply to its provider.

A reply is sent only while it is ``queued``: once the provider accepted it (``sent`` and later
statuses) it is never sent again, whatever the queue redelivers. Accepted → ``sent`` with the
provider's id (remembered, so the provider's delivery statuses find it). A 429, a 5xx, a timeout or
a refused connection → the next attempt per ``parity.conversations.outbound.next_delay``; past 24 h
after the first, or a refusal that is final (another 4xx, Slack's ``ok: false``, a deleted channel,
a target the SSRF guard refuses) → ``failed`` with the provider's error, and the handler parks the
message in the delivery dead-letter queue. A reply asked for with ``max_attempts`` (a feedback
notification: 5) fails for good after that many. Each failed attempt that will be retried is noted
on the message (``attempts``, ``last_error``), so its events tell the asker.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from parity.conversations import outbound
from parity.conversations.outbound import Template
from parity.core.clock import parse_time
from parity.core.outbound import Exchange


class Replies(Protocol):
    def message(self, company_id: str, room_id: str, created_at: str, message_id: str) -> dict[str, Any] | None: ...

    def conversation_item(self, company_id: str, room_id: str) -> dict[str, Any] | None: ...

    def channel(self, channel_id: str) -> dict[str, Any] | None: ...

    def set_status(self, company_id: str, room_id: str, created_at: str, message_id: str, status: str, **kwargs: Any) -> bool: ...

    def remember_outbound(self, channel_id: str, provider_id: str, **kwargs: Any) -> None: ...

    def note_attempt(self, company_id: str, room_id: str, created_at: str, message_id: str, *, attempts: int, error: str) -> bool: ...


Result = Literal["sent", "retry", "failed", "skipped"]


@dataclass(frozen=True)
class Attempted:
    result: Result
    delay: int = 0
    reason: str = ""
    provider_id: str | None = None


def attempt(
    queued: Mapping[str, Any],
    attempt_number: int,
    *,
    replies: Replies,
    api_token: Callable[[str], str | None],
    post: Callable[[str, Mapping[str, str], bytes], Exchange],
    base_urls: Mapping[str, str],
    now: datetime,
    first_delays: Sequence[int] = outbound.FIRST_DELAYS,
) -> Attempted:
    """Deliver one queued reply (``{"company_id", "room_id", "created_at", "message_id"}``) once."""
    company, room = str(queued["company_id"]), str(queued["room_id"])
    message = replies.message(company, room, str(queued["created_at"]), str(queued["message_id"]))
    if message is None or message.get("status") != "queued":
        return Attempted("skipped", reason="not queued (already accepted, failed, or gone)")
    conversation = replies.conversation_item(company, room)
    channel = replies.channel(str(message.get("channel_id"))) if conversation else None
    token = api_token(channel["id"]) if channel else None
    if conversation is None or channel is None or channel.get("company_id") != company or not token:
        return _fail(replies, message, company, attempt_number, "the conversation's channel no longer exists")
    template = message.get("template")
    request = outbound.request_for(
        channel["type"],
        base_urls[channel["type"]],
        api_token=token,
        account_id=str(channel.get("account_id", "")),
        thread=str(conversation.get("thread", "")),
        recipient=(conversation.get("summary") or {}).get("recipient"),
        admin_id=channel.get("admin_id"),
        text=message.get("text") if not template else None,
        template=Template(template["name"], template["language"], tuple(template.get("parameters") or ())) if template else None,
    )
    answer = outbound.answer_of(channel["type"], post(request.url, request.headers, json.dumps(request.body).encode("utf-8")))
    if answer.accepted:
        replies.remember_outbound(channel["id"], str(answer.provider_id), company_id=company, room_id=room, created_at=message["created_at"], message_id=message["id"])
        replies.set_status(company, room, message["created_at"], message["id"], "sent", provider_id=answer.provider_id, attempts=attempt_number)
        return Attempted("sent", provider_id=answer.provider_id)
    if answer.final:
        return _fail(replies, message, company, attempt_number, answer.error)
    limit = int(message.get("max_attempts") or 0)
    if limit and attempt_number >= limit:
        return _fail(replies, message, company, attempt_number, f"{answer.error}; gave up after {limit} attempts")
    first = parse_time(message["created_at"]) or now
    delay = outbound.next_delay(attempt_number, first_attempt_at=first, now=now, retry_after=answer.retry_after, first_delays=first_delays)
    if delay is None:
        return _fail(replies, message, company, attempt_number, f"{answer.error}; gave up 24 h after the first attempt")
    replies.note_attempt(company, room, message["created_at"], message["id"], attempts=attempt_number, error=answer.error[:500])
    return Attempted("retry", delay=delay, reason=answer.error)


def _fail(replies: Replies, message: Mapping[str, Any], company: str, attempts: int, reason: str) -> Attempted:
    replies.set_status(company, message["room_id"], message["created_at"], message["id"], "failed", error=reason[:500], attempts=attempts)
    return Attempted("failed", reason=reason)
