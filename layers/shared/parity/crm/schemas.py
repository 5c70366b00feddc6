"""What the CRM's routes answer and read besides their bodies, as JSON schemas for the API's document.

Named by the functions' route registrations (``"parity.crm.schemas:DEAL_ANSWER"``) and loaded only by
whoever builds the document (``parity_dev.openapi``), never on a function's cold import. The record
schema derives from the one declaration of the fields (``parity.crm.fields``).
"""

from __future__ import annotations

from typing import Any

from parity.crm import fields
from parity.crm.fields import Kind, RecordType, ViewField

# ---- parameters --------------------------------------------------------------------------------
#: A record id in a path. Ours are 1 to 64 of [A-Za-z0-9_-]; anything else is a 404, so the document
#: admits any id a client might hold.
RECORD_ID = {"type": "string", "minLength": 1, "maxLength": 128}
API_KEY = {"type": "string"}
#: The contact lookup's ``phone`` or ``email`` (exactly one).
CONTACT_LOOKUP = {"type": "string", "maxLength": 254}

# ---- answers ------------------------------------------------------------------------------------
TOKEN = {"type": "object", "required": ["access_token", "token_type", "expires_in", "company_id", "role"], "properties": {
    "access_token": {"type": "string"}, "token_type": {"const": "Bearer"}, "expires_in": {"type": "integer"}, "company_id": {"type": "string"},
    "role": {"enum": ["producer", "approver", "admin"]}}}

_CONTACT = {"type": "object", "required": ["id", "name"], "properties": {"id": {"type": "string"}, "name": {"type": "string"}}}
CONTACT_ANSWER = {"type": "object", "required": ["data"], "properties": {"data": _CONTACT}}
CONTACT_LIST = {"type": "object", "required": ["data"], "properties": {"data": {"type": "array", "items": _CONTACT}}}


def _kind_schema(kind: Kind) -> dict[str, Any]:
    if kind.json == "id":
        return dict(fields.ID_JSON)
    if kind.json == "array":
        return {"type": "array", "items": _kind_schema(kind.items) if kind.items else {}}
    schema: dict[str, Any] = {"type": kind.json}
    if kind.format:
        schema["format"] = kind.format
    if kind.minimum is not None:
        schema["minimum"] = int(kind.minimum)
    if kind.maximum is not None:
        schema["maximum"] = int(kind.maximum)
    return schema


def _view_field(declared: ViewField) -> dict[str, Any]:
    schema = _kind_schema(declared.kind)
    if declared.enum is not None:
        return {"enum": list(declared.enum)}
    if declared.nullable:
        schema["type"] = [schema["type"], "null"]
    return schema


def record(record_type: RecordType) -> dict[str, Any]:
    """The record view of ``records.public`` (every field present, nothing else)."""
    view = fields.view_fields(record_type)
    return {
        "type": "object",
        "required": [f.name for f in view],
        "properties": {f.name: _view_field(f) for f in view},
        "additionalProperties": False,
    }


def _record_answer(record_type: RecordType) -> dict[str, Any]:
    warnings = {"type": "array", "items": {"type": "object", "required": ["code", "message"]}}
    return {"type": "object", "required": ["data"], "properties": {"data": record(record_type), "warnings": warnings}}


#: A create, read or PATCH of one record: ``{"data": record, "warnings": [...]}`` (a read has no warnings).
DEAL_ANSWER = _record_answer("deal")
TICKET_ANSWER = _record_answer("ticket")
