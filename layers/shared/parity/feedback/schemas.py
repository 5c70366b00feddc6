"""What the feedback routes read and answer, as JSON schemas for the API's document (named by the
function's route registrations, loaded only by whoever builds the document)."""

from __future__ import annotations

from parity.core.paging import LIMIT_SCHEMA
from parity.feedback.notify import STATUSES
from parity.feedback.ticket import CATEGORIES, CHANNELS, PERIODS
from parity.feedback.triage import PRIORITIES

LIMIT = LIMIT_SCHEMA
CURSOR = {"type": "string", "maxLength": 2048}
# The list filters: an empty value is no filter (``?status=&category=``), as the contract writes
# them; the document says so for every optional query parameter (``parity_dev.openapi``).
ID = {"type": "string", "maxLength": 128}
STATUS = {"type": "string", "maxLength": 64}
CATEGORY = {"enum": list(CATEGORIES)}
PRIORITY = {"enum": list(PRIORITIES)}
CHANNEL = {"enum": list(CHANNELS)}
PERIOD = {"enum": list(PERIODS)}
NOTIFICATION_STATUS = {"enum": list(STATUSES)}

_STRING = {"type": "string"}
_CATEGORY = {"enum": list(CATEGORIES)}
_PRIORITY = {"enum": list(PRIORITIES)}
_CHANNEL = {"enum": list(CHANNELS)}
_NULLABLE_STRING = {"type": ["string", "null"]}
_IDS = {"type": "array", "items": _STRING}
_REPORTER = {"type": "object", "required": ["contact_id", "channel", "reported_at"], "properties": {
    "contact_id": _STRING, "channel": _CHANNEL, "channel_id": _STRING, "room_id": _STRING, "reported_at": _STRING}}
_TICKET = {"type": "object", "required": ["id", "type", "name", "status", "source", "creator_flag", "reporter_contact_ids", "reporters", "report_count",
                                          "summary", "suggested_type", "suggested_priority", "created_at"], "properties": {
    "id": _STRING, "type": {"enum": ["ticket"]}, "name": _STRING, "description": _NULLABLE_STRING, "status": _STRING,
    "priority": {"enum": [*PRIORITIES, None]}, "category": {"enum": [*CATEGORIES, None]}, "source": _STRING,
    "channel_integration_room_id": _NULLABLE_STRING, "creator_flag": _STRING, "contact_ids": _IDS, "reporter_contact_ids": _IDS,
    "reporters": {"type": "array", "items": _REPORTER}, "report_count": {"type": "integer", "minimum": 1}, "summary": _STRING,
    "suggested_type": _CATEGORY, "suggested_priority": _PRIORITY, "created_at": _STRING, "updated_at": _NULLABLE_STRING}}
TICKET = {"type": "object", "required": ["data"], "properties": {"data": _TICKET}}
TICKETS = {"type": "object", "required": ["data", "next_cursor"], "properties": {"data": {"type": "array", "items": _TICKET}, "next_cursor": _NULLABLE_STRING}}

_COUNTS = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}
SUMMARY = {"type": "object", "required": ["data"], "properties": {"data": {"type": "object", "required": [
    "period", "total", "by_channel", "by_category", "by_priority", "by_status", "top_reporters"], "properties": {
    "period": {"enum": list(PERIODS)}, "total": {"type": "integer", "minimum": 0}, "by_channel": _COUNTS, "by_category": _COUNTS, "by_priority": _COUNTS,
    "by_status": _COUNTS, "top_reporters": {"type": "array", "maxItems": 10, "items": {"type": "object", "required": ["contact_id", "count"], "properties": {
        "contact_id": _STRING, "count": {"type": "integer", "minimum": 1}}}}}}}}

_TEMPLATE = {"type": ["object", "null"], "required": ["name", "language"], "properties": {
    "name": {"type": "string", "pattern": "^[a-z0-9_]{1,512}$"}, "language": {"type": "string", "pattern": "^[a-z]{2,3}(_[A-Z]{2})?$"}},
    "additionalProperties": False}
SETTINGS_BODY = {"type": "object", "properties": {"whatsapp_template": _TEMPLATE}, "additionalProperties": False}
SETTINGS = {"type": "object", "required": ["data"], "properties": {"data": {"type": "object", "required": ["whatsapp_template"], "properties": {"whatsapp_template": _TEMPLATE}}}}

_NOTIFICATION = {"type": "object", "required": ["id", "ticket_id", "contact_id", "channel", "status", "attempts", "last_error", "sent_at"], "properties": {
    "id": _STRING, "ticket_id": _STRING, "contact_id": _STRING, "channel": _CHANNEL, "channel_id": _NULLABLE_STRING, "status": {"enum": list(STATUSES)},
    "attempts": {"type": "integer", "minimum": 0, "maximum": 5}, "last_error": _NULLABLE_STRING, "sent_at": _NULLABLE_STRING,
    "created_at": _NULLABLE_STRING, "text": _STRING}}
NOTIFICATIONS = {"type": "object", "required": ["data", "next_cursor"], "properties": {"data": {"type": "array", "items": _NOTIFICATION}, "next_cursor": _NULLABLE_STRING}}
