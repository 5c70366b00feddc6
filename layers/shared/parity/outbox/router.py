"""The outbox consumer's use case: a record's change on the stream → events on the queue."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from parity.outbox import events
from parity.core.observability import created_metric


def route_change(
    stream_event_id: str,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    *,
    parity_enabled: Callable[[str], bool],
    publish: Callable[[list[dict[str, Any]]], None],
    url_template: str,
    now_iso: str,
) -> list[dict[str, Any]]:
    """Publish the events a change makes for a company whose parity flag is on; return them.

    Anything that is not a record (companies, tokens, contacts, idempotency entries share the
    table) makes no event.
    """
    old = old if old and old.get("entity") == "record" else None
    new = new if new and new.get("entity") == "record" else None
    decided = events.decide(old, new)
    if not decided:
        return []
    company_id = str((new or old or {}).get("company_id"))
    if not parity_enabled(company_id):
        return []
    built = [
        events.build(
            action,
            record,
            event_id=events.event_id(stream_event_id, action),
            occurred_at=record["updated_at"] if action in ("create", "update") else now_iso,
            url_template=url_template,
        )
        for action, record in decided
    ]
    publish(built)
    return built


def created_signal(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> str | None:
    """The RFC's ``{bot|ai}_{deal|ticket}_created`` metric a change makes: a new bot/AI record."""
    if old or not new or new.get("entity", "record") != "record":  # a stream INSERT has an empty old image
        return None
    return created_metric(new.get("creator_flag"), new.get("type"))
