"""The CRM's events for the other capabilities, from its table's stream (EventBridge, source
``parity.crm``): ids and closed values only, never a record's text.

    ticket.changed   a ticket's status, category or priority changed    record_id, version,
                                                                         from_status, status,
                                                                         category, priority

Feedback follows its tickets through it (a person's confirmed fields; a resolution proposes the
changelog). A redelivered stream record yields the same ``event_id``; ``version`` orders them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

SOURCE = "parity.crm"
WATCHED = ("status", "category", "priority")


def decide(stream_event_id: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The events one change of a CRM item makes (the module docstring)."""
    if not old or not new or new.get("entity") != "record" or new.get("type") != "ticket":
        return []
    if all(old.get(name) == new.get(name) for name in WATCHED):
        return []
    digest = hashlib.sha256(f"{stream_event_id}:ticket.changed".encode()).hexdigest()[:32]
    return [{
        "event": "ticket.changed", "event_id": f"evt_{digest}", "occurred_at": new.get("updated_at"),
        "company_id": new["company_id"], "record_id": new["id"], "version": int(new.get("version") or 0),
        "from_status": old.get("status"), "status": new.get("status"), "category": new.get("category"), "priority": new.get("priority"),
    }]
