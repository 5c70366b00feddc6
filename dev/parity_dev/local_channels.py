"""The local stack's channels and its simulated customers (dev only, never deployed).

``LocalChannels.seed`` gives a company one channel of each type through the library's own channel
use case (``parity.conversations.channels.create_channel``: the channel in the conversation table,
its secrets as SecureStrings in SSM), with the fixed development secrets below, so a developer can
sign a provider's webhook by hand. Mounted beside the API:

    GET  /_local/channels    the seeded channels, each with its secrets and webhook URL
    POST /_local/simulate    a customer writes; the provider's own payload, signed with the channel's
                             secret exactly as the provider signs, posted to the stack's own webhook:
        {"provider", "channel_id", "from", "text", "name"?, "email"?, "thread"?, "at"?}
            ``from``: a WhatsApp wa_id (international digits), a Slack or Intercom user id;
            ``thread``: Slack: the thread_ts to reply in; Intercom: the conversation to reply in;
            ``at``: an ISO time or "-25h" (backdated, e.g. out of WhatsApp's 24 h window)
        {"room_id", "text", "at"?}
            the customer of that conversation writes in it again (the console's "customer
            writes" box): its channel, thread and the customer's identity come from the tables

The answer is the webhook's own status, with ``{"data": {"provider", "channel_id", "webhook":
{"status", "body"}, "payload"}}``. Any channel of the stack can be simulated (its secret is read from
SSM); only the seeded ones are listed. The payloads are ``parity_dev.simulate``'s, as for
``parity simulate``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from parity_dev import simulate

log = logging.getLogger("parity_dev.local_channels")

CHANNELS_PATH = "/_local/channels"
SIMULATE_PATH = "/_local/simulate"
#: The seeded channels' fixed development settings and secrets (never used outside the local stack).
SEEDED: dict[str, dict[str, str]] = {
    "whatsapp": {
        "name": "WhatsApp (local)", "secret": "local-whatsapp-app-secret", "api_token": "local-whatsapp-access-token",
        "account_id": "106540352242922", "verify_token": "local-whatsapp-verify-token", "default_region": "ID",
    },
    "slack": {
        "name": "Slack (local)", "secret": "local-slack-signing-secret", "api_token": "xoxb-local-slack-bot-token",
        "account_id": "T0PARITY",
    },
    "intercom": {
        "name": "Intercom (local)", "secret": "local-intercom-client-secret", "api_token": "local-intercom-access-token",
        "account_id": "parity-local", "admin_id": "814860",
    },
}
SECRET_FIELDS = ("secret", "api_token", "verify_token")
_FIELDS = {"provider", "channel_id", "from", "text", "name", "email", "thread", "at"}
_ROOM_FIELDS = {"room_id", "text", "at"}
MAX_TEXT = 4096

Reply = tuple[int, dict[str, str], bytes]


class LocalChannels:
    """The seeded channels and ``/_local/simulate`` (module docstring) of one local stack."""

    def __init__(self, *, base_url: str, conversation_table: str, crm_table: str, secrets_prefix: str, clients: Any) -> None:
        from parity.conversations.secrets import SsmChannelSecrets
        from parity.conversations.store import ConversationTable

        self.base_url = base_url
        self.table = ConversationTable(conversation_table, client=clients.client("dynamodb"))
        self.secrets = SsmChannelSecrets(secrets_prefix, client=clients.client("ssm"))
        self._crm_table = crm_table
        self._dynamodb = clients.client("dynamodb")
        self.seeded: list[dict[str, Any]] = []

    def seed(self, company_id: str) -> list[dict[str, Any]]:
        """One channel of each type for ``company_id``, made as ``POST /api/v3.1/channels`` makes
        them; each returned with its secrets (this is the only place they are shown)."""
        from parity.conversations.channels import create_channel

        made = []
        for kind, settings in SEEDED.items():
            body = {"type": kind, **settings}
            channel = create_channel(self.table, self.secrets, company_id, body, base_url=self.base_url)["data"]
            made.append({**channel, "company_id": company_id, **{k: settings[k] for k in SECRET_FIELDS if k in settings}})
        self.seeded.extend(made)
        log.info("seeded channels for company %s: %s", company_id, ", ".join(f"{c['type']} {c['id']}" for c in made))
        return made

    def channel(self, kind: str) -> dict[str, Any]:
        """The first seeded channel of that type (with its secrets)."""
        return next(c for c in self.seeded if c["type"] == kind)

    # ---- the mount ----
    def handle(self, method: str, raw_path: str, raw_query: str, headers: Iterable[tuple[str, str]] | Mapping[str, str], body: bytes) -> Reply | None:
        if raw_path == CHANNELS_PATH:
            return _json(200, {"data": self.seeded}) if method == "GET" else _json(405, {"message": "Method Not Allowed"})
        if raw_path == SIMULATE_PATH:
            if method != "POST":
                return _json(405, {"message": "Method Not Allowed"})
            try:
                wanted = json.loads(body or b"")
            except (ValueError, RecursionError):
                return _error(400, "invalid_json", "the body is not valid JSON")
            return self.simulate(wanted)
        return None

    def simulate(self, wanted: Any) -> Reply:
        """A customer writes (module docstring)."""
        if not isinstance(wanted, dict):
            return _error(422, "validation_error", "the body must be a JSON object", [{"field": "body", "message": "a JSON object", "type": "object_type"}])
        problems = _problems(wanted)
        if problems:
            return _error(422, "validation_error", "the simulated message has invalid fields", problems)
        try:
            at = simulate.when(wanted.get("at"))
        except ValueError:
            return _error(422, "validation_error", "invalid at", [{"field": "at", "message": 'an ISO time or a relative "-25h"', "type": "value_error"}])
        resolved = self._from_room(wanted) if "room_id" in wanted else self._from_channel(wanted)
        if isinstance(resolved, tuple):
            return resolved
        channel = resolved["channel"]
        secret = self._secret(channel["id"])
        if secret is None:
            return _error(404, "not_found", f"channel {channel['id']} has no signing secret in SSM")
        payload = _payload(channel, resolved, wanted["text"], at)
        body, signed = simulate.signed(channel["type"], payload, secret)
        url = f"{self.base_url}/channels/{channel['type']}/{channel['id']}"
        try:
            answer = httpx.post(url, content=body, headers=signed, timeout=10)
        except httpx.HTTPError as exc:
            return _error(502, "webhook_unreachable", f"the stack's own webhook did not answer ({type(exc).__name__})")
        try:
            shown: Any = answer.json()
        except ValueError:
            shown = answer.text
        data = {"provider": channel["type"], "channel_id": channel["id"], "webhook": {"status": answer.status_code, "body": shown}, "payload": payload}
        return _json(answer.status_code, {"data": data})

    def _from_channel(self, wanted: Mapping[str, Any]) -> dict[str, Any] | Reply:
        channel = self.table.channel(str(wanted["channel_id"]))
        if channel is None:
            return _error(404, "not_found", f"channel {wanted['channel_id']} not found")
        if channel["type"] != wanted["provider"]:
            return _error(422, "validation_error", "the channel is of another provider", [{"field": "provider", "message": f"channel {channel['id']} is a {channel['type']} channel", "type": "value_error"}])
        return {"channel": channel, "sender": str(wanted["from"]), "name": wanted.get("name"), "email": wanted.get("email"), "thread": wanted.get("thread"), "slack_channel": None}

    def _from_room(self, wanted: Mapping[str, Any]) -> dict[str, Any] | Reply:
        """The conversation's channel, thread and customer, so its customer writes in it again."""
        from parity.crm.directory import slot_sk
        from parity.crm.store import company_pk

        room = str(wanted["room_id"])
        company = self.table.room_company(room) if room.startswith("room_") and len(room) <= 128 else None
        conversation = self.table.conversation(company, room) if company else None
        item = self.table.conversation_item(company, room) if company else None
        channel = self.table.channel(conversation.channel_id) if conversation else None
        if conversation is None or item is None or channel is None:
            return _error(404, "not_found", f"conversation {room[:128]} not found (or its channel is gone)")
        slot = self._dynamodb.get_item(
            TableName=self._crm_table, Key={"pk": {"S": company_pk(company)}, "sk": {"S": slot_sk(conversation.contact_id, channel["type"])}}, ConsistentRead=True,
        ).get("Item")
        summary = item.get("summary") or {}
        sender = (slot or {}).get("value", {}).get("S") or summary.get("recipient")
        if not sender:
            return _error(409, "conflict", f"the customer of {room} has no {channel['type']} identity to write as")
        slack_channel, _, thread_ts = conversation.thread.partition(":") if channel["type"] == "slack" else ("", "", "")
        thread = {"slack": thread_ts or None, "intercom": conversation.thread or None}.get(channel["type"])
        return {"channel": channel, "sender": sender, "name": summary.get("contact_name"), "email": summary.get("contact_email"), "thread": thread, "slack_channel": slack_channel or None}

    def _secret(self, channel_id: str) -> str | None:
        try:
            found = self.secrets.client.get_parameter(Name=self.secrets.name(channel_id, "secret"), WithDecryption=True)
        except self.secrets.client.exceptions.ParameterNotFound:
            return None
        return str(found["Parameter"]["Value"])


def _payload(channel: Mapping[str, Any], resolved: Mapping[str, Any], text: str, at: Any) -> dict[str, Any]:
    kind, account = channel["type"], str(channel.get("account_id") or "")
    if kind == "whatsapp":
        return simulate.whatsapp(sender=resolved["sender"], text=text, name=resolved.get("name"), at=at, account_id=account)
    if kind == "slack":
        return simulate.slack(sender=resolved["sender"], text=text, at=at, thread=resolved.get("thread"), channel=resolved.get("slack_channel") or "C0FEEDBACK", team_id=account)
    return simulate.intercom(sender=resolved["sender"], text=text, at=at, name=resolved.get("name"), email=resolved.get("email"), conversation=resolved.get("thread"), app_id=account)


def _problems(wanted: Mapping[str, Any]) -> list[dict[str, str]]:
    by_room = "room_id" in wanted
    allowed = _ROOM_FIELDS if by_room else _FIELDS
    problems = [{"field": k, "message": "unknown field" + (" (with room_id, only text and at)" if by_room else ""), "type": "extra_forbidden"} for k in sorted(set(wanted) - allowed)]
    required = ("room_id", "text") if by_room else ("provider", "channel_id", "from", "text")
    for name in required:
        if not isinstance(wanted.get(name), str) or not wanted[name].strip():
            problems.append({"field": name, "message": "a non-empty string", "type": "missing" if name not in wanted else "string_type"})
    if not by_room and wanted.get("provider") not in (None, *SEEDED) and isinstance(wanted.get("provider"), str):
        problems.append({"field": "provider", "message": "whatsapp, slack or intercom", "type": "value_error"})
    if isinstance(wanted.get("text"), str) and len(wanted["text"]) > MAX_TEXT:
        problems.append({"field": "text", "message": f"at most {MAX_TEXT} characters", "type": "string_too_long"})
    for name in ("name", "email", "thread", "at"):
        if name in wanted and wanted[name] is not None and not isinstance(wanted[name], str):
            problems.append({"field": name, "message": "a string", "type": "string_type"})
    return problems


def _json(status: int, payload: Any) -> Reply:
    return status, {"content-type": "application/json", "cache-control": "no-store"}, json.dumps(payload, ensure_ascii=False).encode("utf-8")


def _error(status: int, code: str, message: str, details: list[dict[str, str]] | None = None) -> Reply:
    return _json(status, {"error": {"code": code, "message": message, "details": details or []}})
