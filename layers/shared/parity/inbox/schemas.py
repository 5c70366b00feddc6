"""What the inbox side's routes read and answer, as JSON schemas for the API's document (named by the
functions' route registrations, loaded only by whoever builds the document)."""

from __future__ import annotations

from parity.crm.fields import ROOM_ID as _ROOM_ID

#: A room id in a path: what a record's ``channel_integration_room_id`` may be (else a 422).
ROOM_ID = {"type": "string", "minLength": 1, "maxLength": _ROOM_ID.max_length}

_SLOT = {"anyOf": [{"type": "null"}, {"type": "object", "required": ["id"]}]}
#: ``GET /api/v3.1/rooms/{room_id}/preview`` (``receiver.room_preview``): each slot the record as its
#: event carried it, or null (the sidebar's "Create …" call to action).
PREVIEW = {"type": "object", "required": ["room_id", "deal", "ticket"], "properties": {
    "room_id": {"type": "string"}, "deal": _SLOT, "ticket": _SLOT}}

#: ``POST /webhooks/qontak-crm``: a signed record event (checked by ``receiver.receive``, not by a model).
EVENT = {"type": "object"}
#: Its answer (``receiver.Received.answer``).
RECEIVED = {"type": "object", "required": ["status", "event_id"], "properties": {"status": {"type": "string"}, "event_id": {"type": "string"}}}
