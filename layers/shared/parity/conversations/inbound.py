"""Provider webhook payloads → what Parity stores: customer messages, delivery statuses, the
delivery's dedupe id, or why it changes nothing. Pure: no I/O.

* WhatsApp (Meta Cloud API): ``entry[].changes[].value`` with ``messages[]`` (``id`` = wamid,
  ``from``, ``timestamp`` in seconds, ``type``, ``text.body``), ``contacts[]`` (``wa_id``,
  ``profile.name``, ``user_id``: the business-scoped user id) and ``statuses[]`` (``id``,
  ``status``, ``timestamp``, ``errors[]``). A non-text message is stored as ``[<type>]``. One
  conversation per (channel, contact): the thread is empty.
* Slack Events API: ``url_verification`` is answered with its challenge; an ``event_callback``
  whose event is a ``message`` without ``subtype`` and without ``bot_id`` is a customer message
  (``user``, ``text``, ``ts``, ``channel``, ``thread_ts``); anything else is ignored. Its thread
  is ``<channel>:<thread_ts or ts>``, its provider id the ``ts``, its time the ``ts``.
* Intercom: topic ``ping`` and anything but ``conversation.user.created`` / ``…user.replied`` are
  ignored; a customer message is the conversation's ``source`` (created) or its newest comment
  part by a user (replied), its body HTML reduced to text. One conversation per Intercom
  conversation.

The dedupe id of a delivery is the provider's: Slack's ``event_id``, Intercom's notification
``id``; Meta sends none, so a WhatsApp delivery is known by the SHA-256 of its body (a redelivery
is the same bytes) and each message again by its wamid when stored. A payload whose shape is not
the provider's raises ``Unparseable``: the webhook still answers 200 and the ingest worker parks
it in its dead-letter queue.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from html.parser import HTMLParser
from typing import Any

#: Longest text kept of one message (a cut ends in "…"); bigger bodies are not refused, they are cut.
MAX_TEXT_CHARS = 4096
MAX_NAME_CHARS = 255
_BLOCKS = {"p", "div", "br", "li", "ul", "ol", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "tr"}
_CUSTOMER_AUTHORS = {"user", "lead", "contact"}
STATUSES = ("sent", "delivered", "read", "failed")


class Unparseable(ValueError):
    """The payload is not the provider's documented shape."""


@dataclass(frozen=True)
class Sender:
    """Who wrote: the provider's user id, and what the provider tells of them."""

    user_id: str | None  # wa_id / Slack user id / Intercom user id
    name: str | None = None
    email: str | None = None
    phone: str | None = None  # E.164 as the provider gives it (WhatsApp: "+<wa_id>")
    scoped_id: str | None = None  # WhatsApp business-scoped user id (channel-scoped)


@dataclass(frozen=True)
class InboundMessage:
    provider_id: str
    thread: str
    sender: Sender
    type: str
    text: str
    created_at: datetime


@dataclass(frozen=True)
class StatusUpdate:
    provider_id: str
    status: str
    at: datetime
    error: str | None = None


@dataclass(frozen=True)
class Delivery:
    """What one webhook delivery carries."""

    dedupe_id: str
    messages: tuple[InboundMessage, ...] = ()
    statuses: tuple[StatusUpdate, ...] = ()
    challenge: str | None = None
    ignored: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


def body_digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def parse(channel_type: str, payload: Any, body: bytes) -> Delivery:
    """The delivery a provider's payload (already JSON-decoded) carries; ``Unparseable`` if it is
    not the provider's shape."""
    if not isinstance(payload, Mapping):
        raise Unparseable("the body is not a JSON object")
    return {"whatsapp": _whatsapp, "slack": _slack, "intercom": _intercom}[channel_type](payload, body)


# ---- text -----------------------------------------------------------------------------------------
class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_text(html: str) -> str:
    """Intercom's HTML body as plain text: tags dropped (their text kept, scripts and styles not),
    entities decoded, block elements as line breaks."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


def clean_text(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """Stored text: control and surrogate characters removed (line breaks and tabs kept, runs of
    blank lines folded), trimmed, at most ``limit`` characters."""
    kept = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs"))
    kept = re.sub(r"[ \t]*\n\s*\n\s*", "\n\n", kept).strip()
    return kept if len(kept) <= limit else kept[: limit - 1].rstrip() + "…"


def _name(value: Any) -> str | None:
    return clean_text(value, MAX_NAME_CHARS) or None if isinstance(value, str) else None


def _seconds(value: Any, what: str) -> datetime:
    """A provider's Unix time (seconds, maybe fractional, as a number or a string) in UTC."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise Unparseable(f"{what} is not a Unix time") from None
    if not number.is_finite() or not 0 <= number < 10**11:
        raise Unparseable(f"{what} is not a Unix time")
    return datetime.fromtimestamp(float(number), tz=timezone.utc)


def _str(value: Any, what: str, *, max_length: int = 255) -> str:
    if not isinstance(value, (str, int)) or isinstance(value, bool) or str(value) == "" or len(str(value)) > max_length:
        raise Unparseable(f"{what} is missing or not an id")
    return str(value)


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise Unparseable(f"{what} is not a list")
    return value


# ---- WhatsApp -------------------------------------------------------------------------------------
def _whatsapp(payload: Mapping[str, Any], body: bytes) -> Delivery:
    messages: list[InboundMessage] = []
    statuses: list[StatusUpdate] = []
    for entry in _list(payload.get("entry"), "entry"):
        if not isinstance(entry, Mapping):
            raise Unparseable("an entry is not an object")
        for change in _list(entry.get("changes"), "entry.changes"):
            value = change.get("value") if isinstance(change, Mapping) else None
            if not isinstance(value, Mapping):
                raise Unparseable("a change has no value object")
            profiles = {}
            for contact in _list(value.get("contacts"), "value.contacts"):
                if isinstance(contact, Mapping):
                    key = str(contact.get("wa_id") or contact.get("user_id") or "")
                    profiles[key] = contact
            for raw in _list(value.get("messages"), "value.messages"):
                messages.append(_whatsapp_message(raw, profiles))
            for raw in _list(value.get("statuses"), "value.statuses"):
                statuses.append(_whatsapp_status(raw))
    ignored = "" if messages or statuses else "no messages or statuses"
    return Delivery(body_digest(body), tuple(messages), tuple(statuses), ignored=ignored)


def _whatsapp_message(raw: Any, profiles: Mapping[str, Mapping[str, Any]]) -> InboundMessage:
    if not isinstance(raw, Mapping):
        raise Unparseable("a message is not an object")
    wamid = _str(raw.get("id"), "message id")
    wa_id = raw.get("from")
    scoped = raw.get("user_id")
    if wa_id in (None, "") and scoped in (None, ""):
        raise Unparseable("a message names no sender")
    profile = profiles.get(str(wa_id or "")) or profiles.get(str(scoped or "")) or {}
    scoped = scoped or profile.get("user_id")
    wa_id = str(wa_id) if wa_id not in (None, "") else None
    if wa_id is not None and not wa_id.isdigit():
        raise Unparseable("a message's from is not a wa_id")
    kind = raw.get("type")
    if not isinstance(kind, str) or not kind:
        raise Unparseable("a message has no type")
    if kind == "text":
        text_body = raw.get("text") if isinstance(raw.get("text"), Mapping) else {}
        text = text_body.get("body")
        if not isinstance(text, str):
            raise Unparseable("a text message has no text.body")
    else:
        text = f"[{kind}]"
    sender = Sender(
        user_id=wa_id,
        name=_name((profile.get("profile") or {}).get("name") if isinstance(profile.get("profile"), Mapping) else None),
        phone=f"+{wa_id}" if wa_id else None,
        scoped_id=str(scoped) if scoped else None,
    )
    return InboundMessage(wamid, "", sender, kind, clean_text(text), _seconds(raw.get("timestamp"), "message timestamp"))


def _whatsapp_status(raw: Any) -> StatusUpdate:
    if not isinstance(raw, Mapping):
        raise Unparseable("a status is not an object")
    status = raw.get("status")
    if status not in STATUSES:
        raise Unparseable("a status is not sent, delivered, read or failed")
    errors = raw.get("errors") if isinstance(raw.get("errors"), list) else []
    error = None
    if errors and isinstance(errors[0], Mapping):
        error = clean_text(str(errors[0].get("title") or errors[0].get("message") or errors[0].get("code") or "failed"), 500)
    return StatusUpdate(_str(raw.get("id"), "status id"), status, _seconds(raw.get("timestamp"), "status timestamp"), error)


# ---- Slack ----------------------------------------------------------------------------------------
def _slack(payload: Mapping[str, Any], body: bytes) -> Delivery:
    kind = payload.get("type")
    if kind == "url_verification":
        challenge = payload.get("challenge")
        if not isinstance(challenge, str) or not challenge:
            raise Unparseable("url_verification without a challenge")
        return Delivery(body_digest(body), challenge=challenge, ignored="url_verification")
    if kind != "event_callback":
        return Delivery(body_digest(body), ignored=f"Slack {kind!r} payloads are not messages")
    event_id = _str(payload.get("event_id"), "event_id")
    event = payload.get("event")
    if not isinstance(event, Mapping):
        raise Unparseable("event_callback without an event")
    if event.get("type") != "message" or event.get("subtype") or event.get("bot_id"):
        return Delivery(f"slack:{event_id}", ignored="not a customer message (a subtype, a bot, or another event)")
    channel = _str(event.get("channel"), "event.channel")
    ts = _str(event.get("ts"), "event.ts", max_length=32)
    thread_ts = event.get("thread_ts") or ts
    text = event.get("text")
    if not isinstance(text, str):
        raise Unparseable("a message event has no text")
    sender = Sender(user_id=_str(event.get("user"), "event.user", max_length=64))
    message = InboundMessage(ts, f"{channel}:{thread_ts}", sender, "text", clean_text(text), _seconds(ts, "event.ts"))
    return Delivery(f"slack:{event_id}", messages=(message,), extra={"team_id": payload.get("team_id")})


# ---- Intercom -------------------------------------------------------------------------------------
def _intercom(payload: Mapping[str, Any], body: bytes) -> Delivery:
    notification = _str(payload.get("id"), "notification id")
    topic = payload.get("topic")
    dedupe = f"intercom:{notification}"
    if topic not in ("conversation.user.created", "conversation.user.replied"):
        return Delivery(dedupe, ignored=f"topic {topic!r}")
    data = payload.get("data")
    item = data.get("item") if isinstance(data, Mapping) else None
    if not isinstance(item, Mapping):
        raise Unparseable("the notification has no data.item")
    conversation = _str(item.get("id"), "data.item.id")
    if topic == "conversation.user.created":
        source = item.get("source")
        if not isinstance(source, Mapping):
            raise Unparseable("a created conversation has no source")
        part, part_id, created = source, _str(source.get("id") or conversation, "source.id"), item.get("created_at")
    else:
        parts = (item.get("conversation_parts") or {}).get("conversation_parts") if isinstance(item.get("conversation_parts"), Mapping) else None
        customer_parts = [
            p for p in _list(parts, "conversation_parts")
            if isinstance(p, Mapping) and isinstance(p.get("author"), Mapping) and p["author"].get("type") in _CUSTOMER_AUTHORS and p.get("part_type", "comment") == "comment"
        ]
        if not customer_parts:
            raise Unparseable("a reply holds no part by the customer")
        part = max(customer_parts, key=lambda p: (_seconds(p.get("created_at"), "part created_at"), str(p.get("id"))))
        part_id, created = _str(part.get("id"), "part id"), part.get("created_at")
    author = part.get("author") if isinstance(part.get("author"), Mapping) else {}
    html = part.get("body")
    if not isinstance(html, str):
        raise Unparseable("the message has no body")
    email = author.get("email") if isinstance(author.get("email"), str) and "@" in author.get("email", "") else None
    sender = Sender(user_id=_str(author.get("id"), "author.id", max_length=128), name=_name(author.get("name")), email=email.lower() if email else None)
    message = InboundMessage(part_id, conversation, sender, "text", clean_text(html_text(html)), _seconds(created, "created_at"))
    return Delivery(dedupe, messages=(message,), extra={"app_id": payload.get("app_id")})
