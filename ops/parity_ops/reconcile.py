"""``parity ops reconcile``: re-emit a room's bot/AI records so a lost event heals its preview."""

from __future__ import annotations

import uuid
from typing import Any

from parity.core.clock import iso_ms, utc_now
from parity.core.queues import Queues
from parity.inbox.store import PreviewStore
from parity.outbox import events
from parity_ops.flag import flag_show
from parity_ops.target import OpsError, Target


def reconcile(target: Target, room_id: str, *, company_id: str, notes: bool = False) -> dict[str, Any]:
    """Re-emit the current state of the company's bot/AI records in a room, so a lost event heals
    the room's preview.

    Each live record goes out as a create event with a fresh event id (the receiver must not take
    it for a delivery it has seen), carrying the record's current version: the receiver applies it
    only where it is ahead of what the room knows, so nothing moves backwards. A record the room
    still shows but which is gone from the CRM goes out as a delete (final), one that has left the
    room as a delete whose reason is ``left_room`` (a newer version may bring it back). The events
    are published as the router publishes (``router.publish``); with ``notes`` the creates also go
    to the timeline queue, so a missing note is written (an existing one is kept: one note per
    record and room).
    """
    # Imported here: they set up the service's logger, which ``parity local`` must configure first
    # (the ``parity`` command builds this tool's parser on every start).
    from parity.core.observability import CORRELATION_ATTRIBUTE
    from parity.outbox import router

    if not flag_show(target, company_id)["effective"]:
        raise OpsError(f"parity is off for {company_id}: its previews are rolled back; `parity ops flag on {company_id}` first")
    crm = target.crm()
    now = iso_ms(utc_now())
    url_template = target.url_template()
    correlation_id = f"reconcile-{uuid.uuid4().hex[:16]}"
    live = [r for r in crm.room_records(company_id, room_id) if events.eligible(r)]
    creates = [events.build("create", r, event_id=_fresh_event_id(), occurred_at=now, url_template=url_template) for r in live]
    deletes = []
    if target.outputs.get("PreviewTableName"):
        shown = PreviewStore(target.output("PreviewTableName"), client=target.client("dynamodb")).entries(company_id, room_id)
        kept = {(r["type"], r["id"]) for r in live}
        for entry in shown:
            if not entry.live or (entry.record_type, entry.record_id) in kept:
                continue
            # Gone from the CRM: deleted for good; still there (in another room, or none): it left.
            change = "leave" if crm.get_record(company_id, entry.record_type, entry.record_id) else "delete"
            record = {**entry.data, "company_id": company_id}
            deletes.append({**events.build(change, record, event_id=_fresh_event_id(), occurred_at=now, url_template=url_template), "data": dict(entry.data)})
    messages = creates + deletes
    router.publish(
        Queues(client=target.client("sqs")), messages, webhook_queue_url=target.output("WebhookQueueUrl"),
        timeline_queue_url=target.output("TimelineQueueUrl") if notes else None, attributes={CORRELATION_ATTRIBUTE: correlation_id},
    )
    return {
        "company_id": company_id,
        "room_id": room_id,
        "correlation_id": correlation_id,
        "events": [
            {"event_type": m["eventType"], "record_id": m["data"]["id"], "version": m["data"].get("version"), "name": m["data"].get("name"), "event_id": m["event_id"]}
            for m in messages
        ],
    }


def _fresh_event_id() -> str:
    return f"evt_rec_{uuid.uuid4().hex}"
