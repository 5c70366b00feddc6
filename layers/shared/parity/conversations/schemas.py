"""What the conversation routes read and answer, as JSON schemas for the API's document (named by the
functions' route registrations, loaded only by whoever builds the document)."""

from __future__ import annotations

from parity.core.paging import LIMIT_SCHEMA
from parity.conversations.model import STATES

ID = {"type": "string", "minLength": 1, "maxLength": 128}
CHANNEL_TYPE = {"enum": ["whatsapp", "slack", "intercom"]}
LIMIT = LIMIT_SCHEMA
CURSOR = {"type": "string", "maxLength": 2048}
STATE = {"enum": list(STATES)}
OFFSET = {"type": "string", "pattern": "^[0-9]{1,4}$"}

_NULLABLE_STRING = {"type": ["string", "null"]}
_CHANNEL = {"type": "object", "required": ["id", "type", "name", "purpose", "account_id", "webhook_url", "created_at"], "properties": {
    "id": {"type": "string"}, "type": CHANNEL_TYPE, "name": {"type": "string"}, "purpose": {"enum": ["conversations", "feedback"]},
    "account_id": {"type": "string"}, "webhook_url": {"type": "string"}, "created_at": {"type": "string"},
    "default_region": _NULLABLE_STRING, "admin_id": _NULLABLE_STRING}, "not": {"anyOf": [{"required": ["secret"]}, {"required": ["api_token"]}, {"required": ["verify_token"]}]}}
CHANNEL = {"type": "object", "required": ["data"], "properties": {"data": _CHANNEL}}
CHANNELS = {"type": "object", "required": ["data"], "properties": {"data": {"type": "array", "items": _CHANNEL}}}

_CONVERSATION = {"type": "object", "required": ["id", "channel", "contact", "state", "created_at"], "properties": {
    "id": {"type": "string"}, "state": STATE, "snoozed_until": _NULLABLE_STRING, "created_at": {"type": "string"},
    "last_message_at": _NULLABLE_STRING, "last_inbound_at": _NULLABLE_STRING,
    "channel": {"type": "object", "required": ["id", "type"], "properties": {"id": {"type": "string"}, "type": CHANNEL_TYPE, "name": _NULLABLE_STRING}},
    "contact": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}, "name": _NULLABLE_STRING, "phone": _NULLABLE_STRING, "email": _NULLABLE_STRING}}}}
CONVERSATION = {"type": "object", "required": ["data"], "properties": {"data": _CONVERSATION}}
CONVERSATIONS = {"type": "object", "required": ["data", "next_cursor"], "properties": {"data": {"type": "array", "items": _CONVERSATION}, "next_cursor": _NULLABLE_STRING}}

_MESSAGE = {"type": "object", "required": ["id", "room_id", "direction", "sender_type", "type", "text", "created_at"], "properties": {
    "id": {"type": "string"}, "room_id": {"type": "string"}, "direction": {"enum": ["inbound", "outbound"]},
    "sender_type": {"enum": ["customer", "agent", "bot"]}, "sender_name": _NULLABLE_STRING, "type": {"type": "string"}, "text": {"type": "string"},
    "created_at": {"type": "string"}, "status": {"enum": [None, "queued", "sent", "delivered", "read", "failed"]}, "provider_id": _NULLABLE_STRING}}
MESSAGE = {"type": "object", "required": ["data"], "properties": {"data": _MESSAGE}}
MESSAGES = {"type": "object", "required": ["data", "next_cursor"], "properties": {"data": {"type": "array", "items": _MESSAGE}, "next_cursor": _NULLABLE_STRING}}
STATE_CHANGE = {"type": "object", "required": ["state"], "properties": {"state": STATE, "snoozed_until": {"type": "string"}}, "additionalProperties": False}

HISTORY = {"type": "object", "required": ["data"], "properties": {"data": {"type": "array", "items": {"type": "object", "required": ["id", "room_id", "sender_type", "text", "created_at"], "properties": {
    "id": {"type": "string"}, "room_id": {"type": "string"}, "sender_type": {"type": "string"}, "sender_name": _NULLABLE_STRING, "text": {"type": "string"}, "created_at": {"type": "string"}}}}}}

#: A provider's webhook body: the provider's own JSON (checked by its signature, then the ingest worker).
PROVIDER_EVENT = {"type": "object"}
ACCEPTED = {"type": "object", "properties": {"status": {"type": "string"}, "challenge": {"type": "string"}}}
CHALLENGE = {"type": "string"}
HUB_QUERY = {"type": "string", "maxLength": 512}
