"""What the trust routes read and answer, as JSON schemas for the API's document (named lazily by
the functions' route registrations, loaded only by whoever builds the document).

Request schemas are never looser than the checks behind them (``policy``, ``approval``,
``activity``, ``anomalies``, ``notifications``): what a schema forbids, the route refuses (a 4xx).
"""

from __future__ import annotations

from typing import Any

from parity.approvals import activity, anomalies, approval, notifications, policy
from parity.approvals.checks import MAX_CURSOR_LENGTH
from parity.core.paging import LIMIT_SCHEMA

_NULLABLE_TEXT = {"type": ["string", "null"]}
_SCORE = {"type": ["number", "null"], "minimum": 0, "maximum": 1}
_OBJECT_OR_NULL = {"type": ["object", "null"]}

# ---- parameters ----------------------------------------------------------------------------------
ID = {"type": "string", "minLength": 1, "maxLength": 128}
LIMIT = LIMIT_SCHEMA
CURSOR = {"type": "string", "maxLength": MAX_CURSOR_LENGTH}
TIME = {"type": "string", "format": "date-time"}
APPROVAL_STATUS = {"enum": list(approval.STATUSES)}
APPROVAL_KIND = {"enum": list(approval.KINDS)}
LINE_STATUS = {"enum": list(activity.STATUSES)}
LINE_ACTION = {"enum": list(activity.ACTIONS)}
CREATOR_FLAG = {"enum": list(policy.FLAGS)}
AGENT_ID = {"type": "string", "minLength": 1, "maxLength": policy.MAX_AGENT_ID_LENGTH}
ANOMALY_STATUS = {"enum": list(anomalies.STATUSES)}

# ---- approvals -----------------------------------------------------------------------------------
APPROVAL: dict[str, Any] = {
    "type": "object",
    "required": list(approval.PUBLIC_FIELDS),
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string"}, "kind": {"enum": list(approval.KINDS)}, "record_type": _NULLABLE_TEXT, "record_id": _NULLABLE_TEXT,
        "proposed": {"type": "object"}, "before": _OBJECT_OR_NULL, "confidence": _SCORE, "agent_id": _NULLABLE_TEXT,
        "creator_flag": _NULLABLE_TEXT, "status": {"enum": list(approval.STATUSES)}, "created_at": {"type": "string"},
        "expires_at": {"type": "string"}, "resolved_at": _NULLABLE_TEXT, "resolved_by": _NULLABLE_TEXT, "reason": _NULLABLE_TEXT,
        "record": _OBJECT_OR_NULL,
    },
}
#: A create or PATCH the company's policy held: ``202 {"data": {"approval": …}}``.
HELD = {"type": "object", "required": ["data"], "properties": {"data": {"type": "object", "required": ["approval"], "properties": {"approval": APPROVAL}}}}
APPROVAL_ANSWER = {"type": "object", "required": ["data"], "properties": {"data": APPROVAL}}
APPROVALS = {"type": "object", "required": ["data", "next_cursor"], "properties": {"data": {"type": "array", "items": APPROVAL}, "next_cursor": _NULLABLE_TEXT}}
APPROVE = {"type": "object", "additionalProperties": False, "properties": {"changes": {"type": ["object", "null"]}}}
REJECT = {"type": "object", "additionalProperties": False, "properties": {"reason": {"type": ["string", "null"], "maxLength": approval.MAX_REASON_LENGTH}}}
_IDS = {"type": ["array", "null"], "items": {"type": "string"}, "maxItems": approval.MAX_BATCH}
BATCH = {"type": "object", "additionalProperties": False, "minProperties": 1, "properties": {
    "approve": _IDS, "reject": _IDS, "reason": {"type": ["string", "null"], "maxLength": approval.MAX_REASON_LENGTH}}}
BATCH_ANSWER = {"type": "object", "required": ["data"], "properties": {"data": {"type": "array", "items": {
    "type": "object", "required": ["id", "status"], "properties": {
        "id": {"type": "string"}, "status": {"anyOf": [{"enum": list(approval.STATUSES)}, {"type": "null"}]},
        "error": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}}}}}

# ---- the policy ----------------------------------------------------------------------------------
_THRESHOLD = {"type": "object", "additionalProperties": False, "properties": {"min_confidence": _SCORE}}
POLICY = {"type": "object", "additionalProperties": False, "properties": {
    **{flag: _THRESHOLD for flag in policy.FLAGS}, "expires_in": {"type": "integer", "minimum": policy.MIN_EXPIRES_IN, "maximum": policy.MAX_EXPIRES_IN}}}
_POLICY_SHOWN = {"type": "object", "required": [*policy.FLAGS, "expires_in"], "properties": {
    **{flag: {"type": "object", "required": ["min_confidence"], "properties": {"min_confidence": _SCORE}} for flag in policy.FLAGS},
    "expires_in": {"type": "integer"}}}
POLICY_ANSWER = {"type": "object", "required": ["data"], "properties": {"data": _POLICY_SHOWN}}

# ---- notification settings -----------------------------------------------------------------------
_FREQUENCY = {"enum": list(notifications.FREQUENCIES)}
SETTINGS = {"type": "object", "additionalProperties": False, "properties": {
    "slack_channel_id": {"type": ["string", "null"], "pattern": "^ch_[A-Za-z0-9_-]{1,61}$"},
    "slack_target": {"type": ["string", "null"], "pattern": notifications.SLACK_CONVERSATION.pattern},
    "approvers": {"type": ["object", "null"], "maxProperties": notifications.MAX_APPROVERS,
                  "propertyNames": {"pattern": notifications.SLACK_USER.pattern},
                  "additionalProperties": {"type": "string", "minLength": 1, "maxLength": notifications.MAX_SSO_ID_LENGTH}},
    **{topic: {"anyOf": [_FREQUENCY, {"type": "null"}]} for topic in notifications.TOPICS},
}}
SETTINGS_ANSWER = {"type": "object", "required": ["data"], "properties": {"data": {"type": "object", "required": list(notifications.FIELDS)}}}

# ---- the activity log and anomalies --------------------------------------------------------------
LINE = {"type": "object", "required": list(activity.PUBLIC_FIELDS), "properties": {
    "id": {"type": "string"}, "at": {"type": "string"}, "action": {"enum": list(activity.ACTIONS)}, "status": {"enum": list(activity.STATUSES)},
    "record_type": _NULLABLE_TEXT, "record_id": _NULLABLE_TEXT, "approval_id": _NULLABLE_TEXT, "creator_flag": _NULLABLE_TEXT,
    "agent_id": _NULLABLE_TEXT, "confidence": _SCORE, "fields": {"type": "object"}, "correlation_id": _NULLABLE_TEXT,
    "error": {"type": "object", "required": ["code"]}}}
ACTIVITY = {"type": "object", "required": ["data", "next_cursor"], "properties": {"data": {"type": "array", "items": LINE}, "next_cursor": _NULLABLE_TEXT}}
ANOMALY = {"type": "object", "required": list(anomalies.PUBLIC_FIELDS), "properties": {
    "id": {"type": "string"}, "type": {"enum": list(anomalies.TYPES)}, "severity": {"enum": ["warning", "error"]},
    "status": {"enum": list(anomalies.STATUSES)}, "title": {"type": "string"}, "data": {"type": "object"},
    "created_at": {"type": "string"}, "acknowledged_by": _NULLABLE_TEXT, "resolved_at": _NULLABLE_TEXT}}
ANOMALY_ANSWER = {"type": "object", "required": ["data"], "properties": {"data": ANOMALY}}
ANOMALIES = {"type": "object", "required": ["data", "next_cursor"], "properties": {"data": {"type": "array", "items": ANOMALY}, "next_cursor": _NULLABLE_TEXT}}

# ---- Slack ---------------------------------------------------------------------------------------
#: ``POST /channels/slack/{id}/interactions`` answers 200 with an empty body once the click is queued.
EMPTY = {"type": "object"}
