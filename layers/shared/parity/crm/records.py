"""Deals and tickets: the pure rules. No AWS, no clock, no randomness: callers pass them in.

A record is a plain dict (what DynamoDB stores, minus keys). ``public()`` turns it into the API
shape of DESIGN.md; the same shape travels in events and previews. Which fields each type has, which
the sidebar shows and which a PATCH may change is declared once, in ``parity.crm.fields``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from parity.core.clock import iso_ms
from parity.core.errors import ImmutableField
from parity.core.ids import valid_id
from parity.core.jsonio import plain
from parity.crm import fields
from parity.crm.fields import CREATOR_LABELS, RECORD_TYPES, RecordType  # noqa: F401  (the record's names, here too)

#: The fields each type carries besides the common ones, in output order.
TYPE_FIELDS: dict[RecordType, tuple[str, ...]] = {t: fields.names(t) for t in RECORD_TYPES}
#: Fields whose change the room's sidebar shows; only these make an update event (DESIGN "Events").
SHOWN_FIELDS: dict[RecordType, frozenset[str]] = {t: fields.shown(t) for t in RECORD_TYPES}
#: Fields a PATCH may change (creator_flag is set once; contact links only grow).
_PATCHABLE: dict[RecordType, tuple[str, ...]] = {t: fields.patchable(t) for t in RECORD_TYPES}
#: The record view's field names, in the order ``public`` writes them.
_VIEW: dict[RecordType, tuple[str, ...]] = {t: tuple(f.name for f in fields.view_fields(t)) for t in RECORD_TYPES}


def warning(code: str, field: str, message: str) -> dict[str, str]:
    return {"code": code, "field": field, "message": message}


def normalise_creator_flag(flag: str | None) -> tuple[str | None, list[dict[str, str]]]:
    """A recognised flag, or None with a warning naming the field (DESIGN: stored as absent)."""
    if flag is None or flag == "":
        return None, []
    if flag in CREATOR_LABELS:
        return flag, []
    allowed = ", ".join(sorted(CREATOR_LABELS))
    return None, [
        warning("unrecognised_creator_flag", "creator_flag", f"unrecognised value ignored; expected one of {allowed}")
    ]


def contact_candidates(contact_id: str | None, crm_lead_ids: Iterable[str] | None) -> tuple[list[str], list[dict[str, str]]]:
    """The union of ``contact_id`` and ``crm_lead_ids`` (RFC OQ-10), each once, in the order sent.

    Ids that cannot be one of ours are left out with a warning; whether the rest exist in the
    caller's company is for the store to check.
    """
    sent: list[tuple[str, str]] = []
    if contact_id is not None:
        sent.append(("contact_id", contact_id))
    sent.extend((f"crm_lead_ids[{i}]", lead) for i, lead in enumerate(crm_lead_ids or ()))
    ids: list[str] = []
    warnings: list[dict[str, str]] = []
    for field, value in sent:
        if not valid_id(value):
            warnings.append(warning("invalid_contact_id", field, "not a valid contact id; not linked"))
        elif value not in ids:
            ids.append(value)
    return ids, warnings


def unknown_contact_warnings(unknown: Iterable[str], contact_id: str | None, crm_lead_ids: Iterable[str] | None) -> list[dict[str, str]]:
    """One warning per field that named a contact the caller's company does not have."""
    missing = set(unknown)
    fields = []
    if contact_id in missing:
        fields.append("contact_id")
    fields.extend(f"crm_lead_ids[{i}]" for i, lead in enumerate(crm_lead_ids or ()) if lead in missing)
    return [warning("unknown_contact", f, "no such contact in this company; not linked") for f in fields]


def new_record(
    record_type: RecordType,
    company_id: str,
    fields: Mapping[str, Any],
    *,
    record_id: str,
    now: datetime,
    contact_ids: list[str],
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Build a record from a validated create body. Returns the record and its warnings."""
    creator_flag, warnings = normalise_creator_flag(fields.get("creator_flag"))
    stamp = iso_ms(now)
    record: dict[str, Any] = {
        "id": record_id,
        "type": record_type,
        "company_id": company_id,
        **{name: fields.get(name) for name in TYPE_FIELDS[record_type]},
        "source": fields.get("source"),
        "channel_integration_room_id": fields.get("channel_integration_room_id"),
        "contact_ids": list(contact_ids),
        "creator_flag": creator_flag,
        "created_at": stamp,
        "updated_at": stamp,
        "version": 1,
    }
    if record_type == "ticket":
        record["unique_ticket_id"] = unique_ticket_id(record_id)
    return record, warnings


def unique_ticket_id(record_id: str) -> str:
    """The human-facing ticket number: derived from the id, so as unique as the id."""
    return "TCK-" + record_id.upper()


def apply_patch(record: Mapping[str, Any], changes: Mapping[str, Any], *, now: datetime, add_contact_ids: list[str]) -> dict[str, Any] | None:
    """The record after a PATCH, or None when nothing changes (no new version for a no-op).

    ``changes`` holds only the fields the caller sent (``null`` clears one). A ``creator_flag``
    that differs from the stored one is refused: it is set once, at create (RFC ADR-4).
    """
    record_type: RecordType = record["type"]
    if "creator_flag" in changes and changes["creator_flag"] != record.get("creator_flag"):
        raise ImmutableField(
            "creator_flag is set once, at create",
            details=[{"field": "creator_flag", "message": "cannot be changed after create", "type": "immutable"}],
        )
    updated = dict(record)
    for name in _PATCHABLE[record_type]:
        if name in changes:
            updated[name] = changes[name]
    links = list(record.get("contact_ids") or [])
    links.extend(c for c in add_contact_ids if c not in links)
    updated["contact_ids"] = links
    if updated == dict(record):
        return None
    updated["version"] = int(record["version"]) + 1
    updated["updated_at"] = iso_ms(now)
    return updated


def shown_fields_changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether an update changes anything the room's sidebar shows."""
    return any(old.get(f) != new.get(f) for f in SHOWN_FIELDS[new["type"]])


def public(record: Mapping[str, Any], url_template: str) -> dict[str, Any]:
    """The record as the API, the events and the preview show it (DESIGN "Deals and tickets"):
    the fields of ``parity.crm.fields.view_fields``, in that order."""
    record_type: RecordType = record["type"]
    get = record.get
    out = {name: get(name) for name in _VIEW[record_type]}
    for name in TYPE_FIELDS[record_type]:
        out[name] = plain(out[name])
    flag = out["creator_flag"]
    out["contact_ids"] = list(out["contact_ids"] or [])
    out["creator_label"] = CREATOR_LABELS.get(flag) if flag else None
    out["version"] = int(record["version"])
    out["url"] = url_template.format(type=record_type, id=record["id"])
    return out
