"""The approval inbox, the approval policy, the notification settings, the activity log and the
anomalies (contracts/approvals.md), route by route. Reading the policy is any role's; deciding,
the activity log and anomalies an approver's; the policy's PUT and the settings an admin's.
Another company's approval or anomaly is a 404 before any role check."""

from __future__ import annotations

import parity.core.coldstart  # noqa: F401  (first: the imports below run without cyclic GC)

from typing import Any

from parity.approvals import service
from parity.approvals.gate import policy_cache
from parity.approvals.roles import caller_of
from parity.approvals.store import trust_store
from parity.core.http import Param, Request, Response, Router, json_response
from parity.core.observability import bind, correlation_id, instrumented, logger
from parity.core.settings import settings
from parity.crm.store import crm_store

app = Router()
S = "parity.approvals.schemas"
_ID = {"id": f"{S}:ID"}
_PAGE = {"limit": Param(f"{S}:LIMIT"), "cursor": Param(f"{S}:CURSOR")}


def _body_or_none(request: Request) -> Any:
    """An optional JSON body: absent or empty is None (``{"changes"}`` and ``{"reason"}`` may be left out)."""
    return request.json() if (request.body or "").strip() else None


def _decider() -> service.Decider:
    return service.Decider(trust_store(), crm_store(), url_template=settings().crm_record_url_template)


class _SlackChannels:
    """A Slack channel by id, read-only (its company, type and team), for the settings' check."""

    def channel(self, channel_id: str) -> dict[str, Any] | None:
        from parity.conversations.channels import valid_channel_id
        from parity.conversations.store import conversation_table

        return conversation_table().channel(channel_id) if valid_channel_id(channel_id) else None


# ---- the policy and the settings -----------------------------------------------------------------
@app.route("GET /api/v3.1/approval-policy", answer=f"{S}:POLICY_ANSWER")
def get_policy(request: Request) -> Response:
    return json_response(200, service.get_policy(trust_store(), caller_of(request)))


@app.route("PUT /api/v3.1/approval-policy", body=f"{S}:POLICY", answer=f"{S}:POLICY_ANSWER")
def put_policy(request: Request) -> Response:
    done = service.put_policy(trust_store(), caller_of(request), request.json, forget=policy_cache().forget)
    logger.info("approval policy replaced", extra={"policy": done["data"]})
    return json_response(200, done)


@app.route("GET /api/v3.1/notification-settings", answer=f"{S}:SETTINGS_ANSWER")
def get_settings(request: Request) -> Response:
    return json_response(200, service.get_settings(trust_store(), caller_of(request)))


@app.route("PUT /api/v3.1/notification-settings", body=f"{S}:SETTINGS", answer=f"{S}:SETTINGS_ANSWER")
def put_settings(request: Request) -> Response:
    done = service.put_settings(trust_store(), _SlackChannels(), caller_of(request), request.json)
    logger.info("notification settings replaced", extra={"approval_requested": done["data"]["approval_requested"], "anomaly": done["data"]["anomaly"]})
    return json_response(200, done)


# ---- approvals -----------------------------------------------------------------------------------
@app.route("GET /api/v3.1/approvals", query={"status": Param(f"{S}:APPROVAL_STATUS"), "kind": Param(f"{S}:APPROVAL_KIND"), **_PAGE}, answer=f"{S}:APPROVALS")
def list_approvals(request: Request) -> Response:
    return json_response(200, service.list_approvals(trust_store(), caller_of(request), request.query))


@app.route("GET /api/v3.1/approvals/{id}", path=_ID, answer=f"{S}:APPROVAL_ANSWER")
def get_approval(request: Request, id: str) -> Response:
    return json_response(200, service.get_approval(trust_store(), caller_of(request), id))


@app.route("POST /api/v3.1/approvals/{id}/approve", path=_ID, body=f"{S}:APPROVE", answer=f"{S}:APPROVAL_ANSWER")
def approve(request: Request, id: str) -> Response:
    bind(approval_id=id[:64])
    caller = caller_of(request)
    done = _decider().approve(caller, id, lambda: _body_or_none(request), correlation_id=correlation_id())
    logger.info("approval approved", extra={"record_id": done["data"]["record_id"], "by": caller.sso_id})
    return json_response(200, done)


@app.route("POST /api/v3.1/approvals/{id}/reject", path=_ID, body=f"{S}:REJECT", answer=f"{S}:APPROVAL_ANSWER")
def reject(request: Request, id: str) -> Response:
    bind(approval_id=id[:64])
    caller = caller_of(request)
    done = _decider().reject(caller, id, lambda: _body_or_none(request), correlation_id=correlation_id())
    logger.info("approval rejected", extra={"by": caller.sso_id})
    return json_response(200, done)


@app.route("POST /api/v3.1/approvals/batch", body=f"{S}:BATCH", answer=f"{S}:BATCH_ANSWER")
def batch(request: Request) -> Response:
    caller = caller_of(request)
    caller.require("approvals.decide")
    done = _decider().batch(caller, request.json(), correlation_id=correlation_id())
    logger.info("approvals decided in a batch", extra={"items": len(done["data"]), "refused": sum(1 for r in done["data"] if "error" in r)})
    return json_response(200, done)


# ---- the activity log and anomalies --------------------------------------------------------------
@app.route("GET /api/v3.1/activity", query={
    "creator_flag": Param(f"{S}:CREATOR_FLAG"), "agent_id": Param(f"{S}:AGENT_ID"), "status": Param(f"{S}:LINE_STATUS"),
    "action": Param(f"{S}:LINE_ACTION"), "since": Param(f"{S}:TIME"), "until": Param(f"{S}:TIME"), **_PAGE}, answer=f"{S}:ACTIVITY")
def list_activity(request: Request) -> Response:
    return json_response(200, service.list_activity(trust_store(), caller_of(request), request.query))


@app.route("GET /api/v3.1/anomalies", query={"status": Param(f"{S}:ANOMALY_STATUS"), **_PAGE}, answer=f"{S}:ANOMALIES")
def list_anomalies(request: Request) -> Response:
    return json_response(200, service.list_anomalies(trust_store(), caller_of(request), request.query))


@app.route("POST /api/v3.1/anomalies/{id}/acknowledge", path=_ID, answer=f"{S}:ANOMALY_ANSWER")
def acknowledge(request: Request, id: str) -> Response:
    caller = caller_of(request)
    done = service.acknowledge(trust_store(), caller, id)
    logger.info("anomaly acknowledged", extra={"anomaly_id": id[:64], "by": caller.sso_id})
    return json_response(200, done)


@instrumented(http=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event)
