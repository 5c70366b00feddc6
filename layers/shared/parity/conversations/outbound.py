"""Replies to customers, as each provider's send API takes them, and what an answer means. Pure.

* WhatsApp (Meta Cloud API): ``POST {base}/v21.0/{phone_number_id}/messages``, ``{"messaging_product":
  "whatsapp", "to", "type": "text", "text": {"body"}}`` or ``"type": "template"`` with ``{"name",
  "language": {"code"}, "components"}``; accepted = 2xx with ``messages[0].id`` (the wamid).
* Slack: ``POST {base}/api/chat.postMessage`` ``{"channel", "text", "thread_ts"}``; accepted = 2xx
  with ``"ok": true`` and the message's ``ts``. Slack answers most refusals with 200 and
  ``"ok": false``: final, except ``ratelimited``.
* Intercom: ``POST {base}/conversations/{id}/reply`` ``{"message_type": "comment", "type": "admin",
  "admin_id", "body"}``; accepted = 2xx, the new part's id.

Each with the channel's ``api_token`` as a bearer token. Retries (429, 5xx, timeouts, refused
connections), honouring ``Retry-After``: the next attempt after 1 s, 4 s, 15 s, 60 s, then every
5 minutes until 24 h after the first; then ``failed``. Any other 4xx is final at once, with the
provider's error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from parity.core.outbound import Exchange

FIRST_DELAYS = (1, 4, 15, 60)
LATER_DELAY = 300
GIVE_UP_AFTER = timedelta(hours=24)
WHATSAPP_API_VERSION = "v21.0"
DEFAULT_BASE_URLS = {"whatsapp": "https://graph.facebook.com", "slack": "https://slack.com", "intercom": "https://api.intercom.io"}


@dataclass(frozen=True)
class Template:
    name: str
    language: str
    parameters: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProviderRequest:
    url: str
    headers: Mapping[str, str]
    body: Mapping[str, Any]


@dataclass(frozen=True)
class Answer:
    """What an attempt came to: ``accepted`` with the provider's id for the message, or a
    failure that is ``final`` or retried after ``retry_after`` seconds at the least."""

    accepted: bool
    provider_id: str | None = None
    final: bool = False
    error: str = ""
    retry_after: int | None = None


def request_for(
    channel_type: str,
    base_url: str,
    *,
    api_token: str,
    account_id: str,
    thread: str,
    recipient: str | None,
    admin_id: str | None,
    text: str | None,
    template: Template | None,
) -> ProviderRequest:
    """The provider's request for one reply (``recipient``: the WhatsApp ``to``, the customer's
    number in international digits; ``thread``: Slack ``<channel>:<thread_ts>``, the Intercom
    conversation id)."""
    base = base_url.rstrip("/")
    headers = {"Authorization": f"Bearer {api_token}", "Content-Type": "application/json"}
    if channel_type == "whatsapp":
        body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": recipient}
        if template is not None:
            tpl: dict[str, Any] = {"name": template.name, "language": {"code": template.language}}
            if template.parameters:
                tpl["components"] = [{"type": "body", "parameters": [{"type": "text", "text": p} for p in template.parameters]}]
            body.update(type="template", template=tpl)
        else:
            body.update(type="text", text={"body": text, "preview_url": False})
        return ProviderRequest(f"{base}/{WHATSAPP_API_VERSION}/{quote(account_id, safe='')}/messages", headers, body)
    if channel_type == "slack":
        channel, _, thread_ts = thread.partition(":")
        body = {"channel": channel, "text": text or "", **({"thread_ts": thread_ts} if thread_ts else {})}
        return ProviderRequest(f"{base}/api/chat.postMessage", {**headers, "Content-Type": "application/json; charset=utf-8"}, body)
    if channel_type == "intercom":
        body = {"message_type": "comment", "type": "admin", "admin_id": admin_id, "body": text or ""}
        return ProviderRequest(f"{base}/conversations/{quote(thread, safe='')}/reply", {**headers, "Accept": "application/json", "Intercom-Version": "2.11"}, body)
    raise ValueError(f"no send API for {channel_type!r}")


def answer_of(channel_type: str, answered: Exchange) -> Answer:
    """A provider's answer to a send (the ``Exchange`` of ``parity.core.outbound.Poster``), read as
    ``read_answer`` reads it: a refused target is final, the body parsed as JSON when it is,
    ``Retry-After`` in seconds."""
    if answered.refused:
        return Answer(False, final=True, error=answered.problem)
    try:
        body = json.loads(answered.body) if answered.body else None
    except ValueError:
        body = None
    retry_after = answered.headers.get("retry-after") or answered.headers.get("Retry-After")
    seconds = int(retry_after) if retry_after and str(retry_after).isdigit() else None
    return read_answer(channel_type, answered.status, body, retry_after=seconds, problem=answered.problem)


def read_answer(channel_type: str, status: int | None, body: Any, *, retry_after: int | None = None, problem: str = "") -> Answer:
    """What a provider's answer means (``status`` None: no answer — timeout, refused, reset)."""
    if status is None:
        return Answer(False, error=problem or "no answer", retry_after=retry_after)
    if status == 429 or status >= 500:
        return Answer(False, error=f"answered {status}", retry_after=retry_after)
    if not 200 <= status < 300:
        return Answer(False, final=True, error=f"answered {status}: {_provider_error(body)}")
    if channel_type == "whatsapp":
        messages = body.get("messages") if isinstance(body, Mapping) else None
        wamid = messages[0].get("id") if isinstance(messages, list) and messages and isinstance(messages[0], Mapping) else None
        return Answer(True, provider_id=str(wamid)) if wamid else Answer(False, error="accepted without a message id", retry_after=retry_after)
    if channel_type == "slack":
        if not isinstance(body, Mapping):
            return Answer(False, error="not a Slack answer")
        if body.get("ok") is True and body.get("ts"):
            return Answer(True, provider_id=str(body["ts"]))
        error = str(body.get("error") or "not ok")
        return Answer(False, error=f"Slack said {error}", final=error != "ratelimited", retry_after=retry_after)
    if channel_type == "intercom":
        parts = ((body.get("conversation_parts") or {}).get("conversation_parts") if isinstance(body, Mapping) and isinstance(body.get("conversation_parts"), Mapping) else None) or []
        part_id = parts[-1].get("id") if parts and isinstance(parts[-1], Mapping) else None
        return Answer(True, provider_id=str(part_id or (body.get("id") if isinstance(body, Mapping) else "") or "intercom"))
    raise ValueError(f"no send API for {channel_type!r}")


def _provider_error(body: Any) -> str:
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping):
            return str(error.get("message") or error.get("code") or error)[:300]
        if error:
            return str(error)[:300]
        errors = body.get("errors")
        if isinstance(errors, Sequence) and errors and isinstance(errors[0], Mapping):
            return str(errors[0].get("message") or errors[0].get("code"))[:300]
    return "refused"


def next_delay(
    attempt: int, *, first_attempt_at: datetime, now: datetime, retry_after: int | None = None, deadline: timedelta = GIVE_UP_AFTER,
    first_delays: Sequence[int] = FIRST_DELAYS,
) -> int | None:
    """Seconds until attempt ``attempt + 1`` after attempt ``attempt`` (1-based) failed, or None
    when it is past the deadline (24 h after the first attempt): give up. ``first_delays``: the
    schedule's start (``REPLY_RETRY_SCHEDULE`` shortens it where a person watches it)."""
    delay = first_delays[attempt - 1] if attempt <= len(first_delays) else LATER_DELAY
    if retry_after is not None:
        delay = max(delay, retry_after)
    if now + timedelta(seconds=delay) > first_attempt_at + deadline:
        return None
    return delay
