"""POST /channels/slack/{id}/interactions: the approval requests' buttons, clicked in Slack.

No bearer token: Slack's signature over the raw form body (``payload=<json>``, base64 when API
Gateway encoded it) with the channel's signing secret is the authentication (a bad, missing or stale
one → 401 and nothing changes). A click is applied only for a Slack user the company's notification
settings map to an approver (acting as that sso_id), from the channel's own workspace; anyone else is
told so, privately, and nothing changes. The click is queued and answered 200 at once, well within
Slack's 3 s; ``SlackDecisionFunction`` makes the decision and replaces the message through
``response_url``. One channel read, one cached secret read, one settings read, one queue send.
"""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

from typing import Any

from parity.approvals import notifications
from parity.approvals.store import trust_store
from parity.conversations import signatures
from parity.conversations.channels import valid_channel_id
from parity.conversations.secrets import channel_secrets
from parity.conversations.store import conversation_table
from parity.core.errors import InvalidJson, NotFound, Unauthorized
from parity.core.http import Request, Response, Router
from parity.core.observability import bind, instrumented, logger
from parity.core.queues import queues
from parity.core.settings import settings

app = Router()


@app.route("POST /channels/slack/{id}/interactions", public=True, path={"id": "parity.approvals.schemas:ID"})
def interactions(request: Request, id: str) -> Response:
    bind(channel_id=id[:64])
    channel = conversation_table().channel(id) if valid_channel_id(id) else None
    if channel is None or channel.get("type") != "slack":
        raise NotFound("no such Slack channel")
    raw = request.body_bytes()
    try:
        signatures.verify_slack(raw, request.headers, channel_secrets().get(id, "secret"))
    except signatures.BadSignature as exc:
        logger.warning("slack interaction refused", extra={"problem": str(exc)})
        raise Unauthorized("the request is not signed by this channel's Slack app") from None
    company = str(channel["company_id"])
    bind(company_id=company)
    try:
        click = notifications.parse_interaction(raw)
    except notifications.InvalidInteraction as exc:
        raise InvalidJson(str(exc)) from None
    if click is None:  # a modal, a shortcut: nothing of ours
        return Response(status_code=200)
    settings_now = notifications.from_stored(trust_store().settings_item(company))
    if settings_now.get("slack_channel_id") != id:
        settings_now = {**settings_now, "approvers": {}}  # this channel is not the company's approvals channel: nobody approves here
    decided = notifications.decide_click(click, settings_now, team_id=channel.get("account_id"))
    queue = settings().require("decision_queue_url")
    if decided.decision is not None:
        queues().send(queue, {"kind": "decide", "company_id": company, "approval_id": decided.approval_id, "decision": decided.decision,
                              "sso_id": decided.sso_id, "slack_user_id": click.user_id, "response_url": click.response_url})
    elif decided.reply is not None and click.response_url:
        queues().send(queue, {"kind": "reply", "company_id": company, "response_url": click.response_url, "body": decided.reply})
    logger.info("slack click", extra={"action_id": click.action_id[:32], "decision": decided.decision, "user_id": click.user_id[:32]})
    return Response(status_code=200)


@instrumented(http=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event)
