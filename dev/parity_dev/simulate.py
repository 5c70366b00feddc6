"""``parity simulate whatsapp|slack|intercom``: a customer writes, as the provider would deliver it —
the provider's own payload, signed with the channel's secret exactly as the provider signs, posted
to the channel's webhook (dev only, never deployed).

    parity simulate whatsapp --channel ch_… --from 6281234567890 --name "Budi" --text "Halo"
    parity simulate slack    --channel ch_… --from U123 --text "the export fails" [--thread 1795964400.000200]
    parity simulate intercom --channel ch_… --from u1 --email ana@example.com --text "<p>Hi</p>"

``--url`` is the stack (default ``$PARITY_LOCAL`` or http://127.0.0.1:3000); ``--secret`` the channel's
signing secret, else the local stack's seeded channels are asked (``GET /_local/channels``).
``--at`` backdates the message (ISO time or "-25h"), e.g. to leave WhatsApp's 24 h window.
The console's "customer writes" box and the demo use the same builders.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
from parity.conversations import signatures

DEFAULT_URL = "http://127.0.0.1:3000"


def whatsapp(*, sender: str, text: str, name: str | None = None, at: datetime, wamid: str | None = None, scoped_id: str | None = None, account_id: str = "106540352242922") -> dict[str, Any]:
    """Meta's notification for one text message."""
    contact: dict[str, Any] = {"profile": {"name": name or sender}, "wa_id": sender}
    message: dict[str, Any] = {"from": sender, "id": wamid or f"wamid.{uuid.uuid4().hex.upper()}", "timestamp": str(int(at.timestamp())), "type": "text", "text": {"body": text}}
    if scoped_id:
        contact["user_id"] = message["user_id"] = scoped_id
    return {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550783881", "phone_number_id": account_id},
        "contacts": [contact], "messages": [message]}}]}]}


def slack(*, sender: str, text: str, at: datetime, channel: str = "C0FEEDBACK", thread: str | None = None, team_id: str = "T0PARITY") -> dict[str, Any]:
    """Slack's ``event_callback`` for one message (``thread``: reply in that thread)."""
    ts = f"{at.timestamp():.6f}"
    event: dict[str, Any] = {"type": "message", "channel": channel, "user": sender, "text": text, "ts": ts, "channel_type": "channel"}
    if thread:
        event["thread_ts"] = thread
    return {"token": "local", "team_id": team_id, "api_app_id": "A0PARITY", "type": "event_callback", "event_id": f"Ev{uuid.uuid4().hex[:12].upper()}", "event_time": int(at.timestamp()), "event": event}


def intercom(*, sender: str, text: str, at: datetime, name: str | None = None, email: str | None = None, conversation: str | None = None, app_id: str = "parity-local") -> dict[str, Any]:
    """Intercom's ``conversation.user.created`` (or ``…replied`` to ``conversation``) notification."""
    author = {"type": "user", "id": sender, "name": name or sender, **({"email": email} if email else {})}
    body = text if text.lstrip().startswith("<") else f"<p>{text}</p>"
    if conversation:
        item = {"type": "conversation", "id": conversation, "conversation_parts": {"type": "conversation_part.list", "conversation_parts": [
            {"type": "conversation_part", "id": str(uuid.uuid4().int)[:10], "part_type": "comment", "body": body, "created_at": int(at.timestamp()), "author": author}]}}
        topic = "conversation.user.replied"
    else:
        item = {"type": "conversation", "id": str(uuid.uuid4().int)[:9], "created_at": int(at.timestamp()), "source": {"type": "conversation", "id": str(uuid.uuid4().int)[:9], "delivered_as": "customer_initiated", "body": body, "author": author}}
        topic = "conversation.user.created"
    return {"type": "notification_event", "app_id": app_id, "id": f"notif_{uuid.uuid4()}", "topic": topic, "created_at": int(time.time()), "delivery_attempts": 1, "data": {"type": "notification_event_data", "item": item}}


def signed(channel_type: str, payload: Any, secret: str) -> tuple[bytes, dict[str, str]]:
    """The body and headers the provider would send."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return body, {"content-type": "application/json", **signatures.SIGNERS[channel_type](body, secret)}


def when(value: str | None) -> datetime:
    """``--at``: an ISO time, a relative "-25h"/"-90m", or now."""
    now = datetime.now(timezone.utc)
    if not value:
        return now
    relative = re.fullmatch(r"-(\d+)([smhd])", value.strip())
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return now - timedelta(**{{"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[unit]: amount})
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def build(args: argparse.Namespace) -> Any:
    at = when(args.at)
    if args.provider == "whatsapp":
        return whatsapp(sender=args.sender, text=args.text, name=args.name, at=at)
    if args.provider == "slack":
        return slack(sender=args.sender, text=args.text, at=at, thread=args.thread, channel=args.slack_channel or "C0FEEDBACK")
    return intercom(sender=args.sender, text=args.text, at=at, name=args.name, email=args.email, conversation=args.thread)


def add_parser(commands: Any) -> argparse.ArgumentParser:
    parser = commands.add_parser("simulate", help="a customer writes: post a correctly signed provider webhook to a channel")
    parser.add_argument("provider", choices=["whatsapp", "slack", "intercom"])
    parser.add_argument("--channel", required=True, metavar="CHANNEL_ID")
    parser.add_argument("--from", dest="sender", required=True, help="wa_id (international digits), Slack user id, or Intercom user id")
    parser.add_argument("--text", required=True)
    parser.add_argument("--name", help="the customer's profile name")
    parser.add_argument("--email", help="Intercom: the customer's email")
    parser.add_argument("--thread", help="Slack: reply in this thread_ts; Intercom: reply in this conversation")
    parser.add_argument("--slack-channel", help="Slack: the channel the message is in (default C0FEEDBACK)")
    parser.add_argument("--at", help='backdate the message: an ISO time or "-25h"')
    parser.add_argument("--url", default=os.environ.get("PARITY_LOCAL", DEFAULT_URL), help="the stack's base URL (default $PARITY_LOCAL or %(default)s)")
    parser.add_argument("--secret", help="the channel's signing secret (default: the local stack's seeded channel's)")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    with httpx.Client(base_url=args.url, timeout=10) as http:
        secret = args.secret
        if not secret:
            seeded = http.get("/_local/channels")
            found = [c for c in (seeded.json().get("data", []) if seeded.status_code == 200 else []) if c["id"] == args.channel]
            if not found:
                print(f"parity simulate: no --secret, and {args.url} has no seeded channel {args.channel}", file=sys.stderr)
                return 2
            secret = found[0]["secret"]
        body, headers = signed(args.provider, build(args), secret)
        answer = http.post(f"/channels/{args.provider}/{args.channel}", content=body, headers=headers)
    print(json.dumps({"status": answer.status_code, "answer": _json(answer)}))
    return 0 if answer.status_code == 200 else 1


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text
