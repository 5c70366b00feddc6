"""Use cases of trust in AI actions (contracts/approvals.md): what each route, stream record and
schedule does, in one place. Handlers parse and shape; this module decides with the pure rules
(``policy``, ``approval``, ``activity``, ``anomalies``, ``notifications``); the stores persist.

Every use case that takes a ``Caller`` looks the company's object up first (another company's is a
404) and checks the caller's role after (a lower role of the same company is a 403).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from parity.approvals import activity, anomalies, notifications, policy
from parity.approvals import approval as ap
from parity.approvals.roles import Caller
from parity.approvals.store import ApprovalGone, TrustStore, hour_of
from parity.core import jsonio
from parity.core.clock import Clock, iso_ms, new_id
from parity.core.errors import Conflict, NotFound, ParityError, ValidationFailed
from parity.core.ids import valid_id

#: Who decided, when a token names nobody (tokens always carry the sso_id they were issued for).
UNKNOWN = "unknown"


class SlackChannels(Protocol):
    """What the notification settings need to know of a Slack channel (contracts/conversations.md):
    the channel by id (its ``company_id``, ``type`` and ``account_id``, Slack's team id)."""

    def channel(self, channel_id: str) -> dict[str, Any] | None: ...


def _page(items: list[dict[str, Any]], next_cursor: str | None) -> dict[str, Any]:
    return {"data": items, "next_cursor": next_cursor}


# ---- the policy --------------------------------------------------------------------------------
def get_policy(store: TrustStore, caller: Caller) -> dict[str, Any]:
    caller.require("policy.read")
    return {"data": policy.public(policy.from_stored(store.policy_item(caller.company_id)))}


def put_policy(store: TrustStore, caller: Caller, body: Callable[[], Any], *, clock: Clock = Clock(), forget: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Replace the whole policy (absent fields take their defaults); a 422 names each bad field.
    ``body`` is read once the role allows it: a 403 comes before any complaint about the body."""
    caller.require("policy.write")
    rules = policy.validate_policy(body())
    store.put_policy(caller.company_id, rules, now=iso_ms(clock.now()), by=caller.sso_id)
    if forget is not None:
        forget(caller.company_id)  # this container's cache; the others follow within their TTL
    return {"data": policy.public(rules)}


# ---- notification settings ---------------------------------------------------------------------
def get_settings(store: TrustStore, caller: Caller) -> dict[str, Any]:
    caller.require("notification_settings")
    return {"data": notifications.public(notifications.from_stored(store.settings_item(caller.company_id)))}


def put_settings(store: TrustStore, channels: SlackChannels, caller: Caller, body: Callable[[], Any], *, clock: Clock = Clock()) -> dict[str, Any]:
    """Replace the whole settings; ``slack_channel_id`` must be a Slack channel of the caller's own
    company (its bot token sends, its signing secret checks the buttons' clicks). ``body`` is read
    once the role allows it."""
    caller.require("notification_settings")
    settings = notifications.validate_settings(body())
    channel_id = settings["slack_channel_id"]
    if channel_id is not None:
        found = channels.channel(channel_id)
        if found is None or found.get("company_id") != caller.company_id or found.get("type") != "slack":
            raise ValidationFailed("the notification settings have invalid fields", details=[
                {"field": "slack_channel_id", "message": "not a Slack channel of this company", "type": "value_error"}])
    digest = any(settings[topic] == "digest" for topic in notifications.TOPICS)
    store.put_settings(caller.company_id, settings, digest=digest, now=iso_ms(clock.now()), by=caller.sso_id)
    return {"data": notifications.public(settings)}


# ---- approvals ---------------------------------------------------------------------------------
def _owned(kind: str, item_id: str, found: dict[str, Any] | None) -> dict[str, Any]:
    """``found`` (the company's own item, looked up only when the id could be one), else a 404
    naming the id as sent (bounded): another company's item is as unknown as a made-up one."""
    if found is None:
        raise NotFound(f"{kind} {item_id[:64]} not found")
    return found


def _own_approval(store: TrustStore, company_id: str, approval_id: str) -> dict[str, Any]:
    return _owned("approval", approval_id, store.approval(company_id, approval_id) if ap.valid_approval_id(approval_id) else None)


def list_approvals(store: TrustStore, caller: Caller, query: Mapping[str, Any]) -> dict[str, Any]:
    caller.require("approvals.read")
    wanted = ap.list_query(query)
    page = store.approvals(caller.company_id, **wanted)
    return _page([ap.public(a) for a in page.items], page.next_cursor)


def get_approval(store: TrustStore, caller: Caller, approval_id: str) -> dict[str, Any]:
    found = _own_approval(store, caller.company_id, approval_id)
    caller.require("approvals.read")
    return {"data": ap.public(found)}


class Decider:
    """Deciding approvals: the CRM's own create and PATCH use cases write an approved action, with
    the approval's flip in the same transaction (``parity.crm.service.Approved``)."""

    def __init__(self, trust: TrustStore, crm: Any, *, url_template: str, clock: Clock = Clock()) -> None:
        self.trust = trust
        self.crm = crm
        self.url_template = url_template
        self.clock = clock

    def approve(self, caller: Caller, approval_id: str, body: Any, *, correlation_id: str | None) -> dict[str, Any]:
        found = _own_approval(self.trust, caller.company_id, approval_id)
        caller.require("approvals.decide")
        changes = ap.approve_changes(body() if callable(body) else body)  # read once the approval is known to be the caller's
        return {"data": ap.public(self._approve(found, changes, by=caller.sso_id or UNKNOWN, correlation_id=correlation_id))}

    def reject(self, caller: Caller, approval_id: str, body: Any, *, correlation_id: str | None) -> dict[str, Any]:
        found = _own_approval(self.trust, caller.company_id, approval_id)
        caller.require("approvals.decide")
        reason = ap.reject_reason(body() if callable(body) else body)
        return {"data": ap.public(self._reject(found, reason, by=caller.sso_id or UNKNOWN, correlation_id=correlation_id))}

    def batch(self, caller: Caller, body: Any, *, correlation_id: str | None) -> dict[str, Any]:
        caller.require("approvals.decide")
        decisions, reason = ap.batch_request(body)
        by = caller.sso_id or UNKNOWN

        def decide_one(approval_id: str, decision: str) -> Mapping[str, Any]:
            found = _own_approval(self.trust, caller.company_id, approval_id)
            if decision == "approve":
                return self._approve(found, {}, by=by, correlation_id=correlation_id)
            return self._reject(found, reason, by=by, correlation_id=correlation_id)

        return {"data": ap.batch_results(decisions, decide_one)}

    def decide_as(self, company_id: str, sso_id: str, approval_id: str, decision: str, *, correlation_id: str | None) -> dict[str, Any]:
        """A Slack click's decision, as the approver the click's user maps to (no reason, no edits)."""
        found = _own_approval(self.trust, company_id, approval_id)
        if decision == "approve":
            return self._approve(found, {}, by=sso_id, correlation_id=correlation_id)
        return self._reject(found, None, by=sso_id, correlation_id=correlation_id)

    # ---- the two decisions --------------------------------------------------------------------
    def _approve(self, found: Mapping[str, Any], changes: Mapping[str, Any], *, by: str, correlation_id: str | None) -> dict[str, Any]:
        from parity.crm import service as crm_service
        from parity.crm.store import GuardFailed, VersionMismatch

        now = self.clock.now()
        ap.check_pending(found, now)
        stamp = iso_ms(now)
        if found["kind"] == "changelog":
            edits = ap.changelog_changes(changes)
            sent = {"text": {**(found.get("proposed") or {}), **edits}.get("text")}  # what the reporters are told
            decided = ap.approved(found, by=by, now=now, record=sent, changes=edits, correlation_id=correlation_id)
            self._write(decided, now)
            return decided
        made: dict[str, Any] = {}

        def guard(shown: Mapping[str, Any]) -> dict[str, Any]:
            made["decided"] = ap.approved(found, by=by, now=now, record=shown, changes=changes, correlation_id=correlation_id)
            return {"Put": self.trust.decide_request(made["decided"], now=stamp)}

        approved = crm_service.Approved(str(found["id"]), by, guard)
        body = ap.merged_body(found, changes)
        at_now = Clock(now=lambda: now, make_id=self.clock.make_id)
        try:
            if found["kind"] == "create":
                crm_service.create_record(self.crm, found["company_id"], found["record_type"], body, url_template=self.url_template,
                                          correlation_id=correlation_id, clock=at_now, approved=approved)
            else:
                ap.check_record_current(found, self.crm.get_record(found["company_id"], found["record_type"], found["record_id"]))
                crm_service.update_record(self.crm, found["company_id"], found["record_type"], found["record_id"], body, url_template=self.url_template,
                                          correlation_id=correlation_id, clock=at_now, approved=approved, expected_version=int(found["record_version"]),
                                          check=_feedback_rules if found["record_type"] == "ticket" else None)
        except ParityError as exc:
            if exc.status == 422 and exc.details:
                raise type(exc)(f"the approved {found['record_type']} would be invalid: {exc.message}", details=ap.blame_changes(exc.details, changes)) from exc
            raise
        except GuardFailed:
            self._not_pending(found, now)
        except VersionMismatch:
            raise ap.RecordChanged(f"{found['record_type']} {found['record_id']} changed since this update was held") from None
        return made["decided"]

    def _reject(self, found: Mapping[str, Any], reason: str | None, *, by: str, correlation_id: str | None) -> dict[str, Any]:
        now = self.clock.now()
        decided = ap.rejected(found, by=by, now=now, reason=reason, correlation_id=correlation_id)
        self._write(decided, now)
        return decided

    def _write(self, decided: Mapping[str, Any], now: datetime) -> None:
        try:
            self.trust.decide(decided, now=iso_ms(now))
        except ApprovalGone:
            self._not_pending(decided, now)

    def _not_pending(self, found: Mapping[str, Any], now: datetime) -> None:
        """A decision's condition failed: another decision (or the expiry) came first. 409 naming what it is now."""
        current = self.trust.approval(str(found["company_id"]), str(found["id"]))
        if current is None:
            raise NotFound(f"approval {found['id']} not found")
        ap.check_pending(current, now)
        raise Conflict(f"approval {found['id']} is being decided by another request; retry")


def propose_changelog(store: TrustStore, detail: Mapping[str, Any], *, now: datetime, correlation_id: str | None = None) -> str:
    """Feedback's ``feedback.changelog_proposed`` (contracts/feedback.md, the release valve): its
    text held for a person as a ``changelog`` approval of the ticket, under the approval id feedback
    derived, with the company's ``expires_in``. A redelivered event finds it there and changes
    nothing. ``ValueError`` for an event that is not one (retried, then its dead-letter queue)."""
    company, ticket, approval_id, text = (detail.get(k) for k in ("company_id", "ticket_id", "approval_id", "text"))
    if not all(isinstance(v, str) and v for v in (company, ticket, text)) or not ap.valid_approval_id(approval_id):
        raise ValueError("not a changelog proposal: company_id, ticket_id, approval_id and text are required")
    rules = policy.from_stored(store.policy_item(str(company)))
    held = ap.held_changelog(str(company), str(ticket), str(text), approval_id=str(approval_id), expires_in=int(rules["expires_in"]), now=now, correlation_id=correlation_id)
    return "held" if store.put_new_approval(held) else "already held"


def expire_due(store: TrustStore, *, now: datetime, correlation_id: str | None = None) -> int:
    """Mark every pending approval whose ``expires_at`` has come ``expired`` (never approved);
    how many it marked. Each is one conditional write: a decision that came first wins."""
    stamp = iso_ms(now)
    done = 0
    for approval in store.due_approvals(stamp):
        decided = ap.expired(approval, now=now, correlation_id=correlation_id)
        if decided is None:
            continue
        try:
            store.decide(decided, now=stamp, expiring=True)
            done += 1
        except ApprovalGone:
            pass
    return done


# ---- the activity log --------------------------------------------------------------------------
def list_activity(store: TrustStore, caller: Caller, query: Mapping[str, Any]) -> dict[str, Any]:
    caller.require("activity.read")
    filters = activity.list_filters(query)
    page = store.activity(caller.company_id, filters)
    return _page([activity.public(line) for line in page.items], page.next_cursor)


def _feedback_rules(current: Mapping[str, Any], changes: Mapping[str, Any]) -> None:
    """An approved PATCH keeps the rules the immediate one keeps: a feedback ticket's confirmed
    fields are feedback's (contracts/feedback.md), as ``functions/records`` checks them."""
    from parity.feedback.ticket import check_feedback_ticket

    check_feedback_ticket(current, changes)


def write_line(store: TrustStore, line: Mapping[str, Any]) -> bool:
    """A line, once, with its contribution to the anomaly counters."""
    return store.write_line(line, anomalies.contribution(line))


# ---- anomalies ---------------------------------------------------------------------------------
def _own_anomaly(store: TrustStore, company_id: str, anomaly_id: str) -> dict[str, Any]:
    ok = anomaly_id.startswith(anomalies.ID_PREFIX) and valid_id(anomaly_id[len(anomalies.ID_PREFIX):])
    return _owned("anomaly", anomaly_id, store.anomaly(company_id, anomaly_id) if ok else None)


def list_anomalies(store: TrustStore, caller: Caller, query: Mapping[str, Any]) -> dict[str, Any]:
    caller.require("anomalies.read")
    wanted = anomalies.list_query(query)
    page = store.anomalies(caller.company_id, status=wanted["status"], limit=wanted["limit"], cursor=wanted["cursor"])
    return _page([anomalies.public(a) for a in page.items], page.next_cursor)


def acknowledge(store: TrustStore, caller: Caller, anomaly_id: str, *, clock: Clock = Clock()) -> dict[str, Any]:
    found = _own_anomaly(store, caller.company_id, anomaly_id)
    caller.require("anomalies.acknowledge")
    done = anomalies.acknowledge(found, by=caller.sso_id or UNKNOWN, now=clock.now())
    if found["status"] == "active" and not store.acknowledge(done):
        current = _own_anomaly(store, caller.company_id, anomaly_id)  # resolved or acknowledged meanwhile
        done = anomalies.acknowledge(current, by=caller.sso_id or UNKNOWN, now=clock.now())
    return {"data": anomalies.public(done)}


def detect(store: TrustStore, *, now: datetime, make_id: Callable[[], str] | None = None) -> dict[str, int]:
    """One detector run over every company with bot/AI activity in the last 25 hours, a pending
    approval or an open anomaly: the rules' findings open anomalies (one per type) and resolve
    the open ones that no longer trip."""
    make = make_id or (lambda: new_id(now))
    hours = {hour_of(iso_ms(now - timedelta(hours=h))) for h in range(26)}
    open_by_company = store.open_anomalies()
    active, pending = store.active_companies(sorted(hours)), store.companies_with_pending()
    companies = active | pending | set(open_by_company)
    opened = resolved = 0
    since = iso_ms(anomalies.window_start(now, anomalies.CONFIDENCE_WINDOW))
    for company_id in sorted(companies):
        # Only what can trip: no activity in 25 h, no counters; no pending approval, no backlog.
        buckets = store.counters(company_id, since) if company_id in active or company_id in open_by_company else {}
        waiting = store.pending_approvals(company_id) if company_id in pending else []
        counts = anomalies.window_counts(buckets, waiting, now=now)
        plan = anomalies.run(company_id, open_by_company.get(company_id, []), anomalies.findings(counts), now=now, make_id=make)
        opened += sum(store.open_anomaly(a) for a in plan.opened)
        resolved += sum(store.resolve_anomaly(company_id, a["type"], a["id"], now=iso_ms(now)) for a in plan.resolved)
    return {"companies": len(companies), "opened": opened, "resolved": resolved}


# ---- notifications -----------------------------------------------------------------------------
def on_trust_change(store: TrustStore, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, *, notify: Callable[[dict[str, Any]], None], publish: Callable[[dict[str, Any]], None]) -> dict[str, int]:
    """One change of the trust table's stream: an approval's activity lines (written here, once),
    its request to the approvers, its decision on the bus; an opened anomaly's notification."""
    image = new or old or {}
    done = {"lines": 0, "notified": 0, "published": 0}
    if image.get("entity") == "approval":
        for line in activity.from_approval_change(old, new):
            done["lines"] += write_line(store, line)
        if new is not None and old is None and new.get("status") == "pending":
            done["notified"] += _notify(store, str(new["company_id"]), "approval_requested", str(new["id"]), notify)
        if new is not None and (old or {}).get("status", "pending") == "pending" and new.get("status") in activity.DECISION_LINES:
            publish(ap.decision_event(new))
            done["published"] += 1
    elif image.get("entity") == "anomaly" and old is None and new is not None:
        done["notified"] += _notify(store, str(new["company_id"]), "anomaly", str(new["id"]), notify)
    return done


#: The bus source of the approvals' events.
SOURCE = "parity.approvals"


def route_trust_change(store: TrustStore, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, *, bus: Any, queue: Any, bus_name: str,
                       notify_queue_url: str) -> dict[str, int]:
    """``on_trust_change`` with its notifications queued (``queue.send``) and its events put on the
    bus (``bus.put``): what the trust table's stream consumer and ``parity ops``' replay of a
    dead-lettered batch both do."""

    def publish(event: dict[str, Any]) -> None:
        detail = {k: v for k, v in event.items() if k != "type"}
        bus.put([{"Source": SOURCE, "DetailType": event["type"], "Detail": jsonio.dumps(detail), "EventBusName": bus_name}])

    return on_trust_change(store, old, new, notify=lambda message: queue.send(notify_queue_url, message), publish=publish)


def _notify(store: TrustStore, company_id: str, topic: str, ref: str, notify: Callable[[dict[str, Any]], None]) -> int:
    settings = notifications.from_stored(store.settings_item(company_id))
    if notifications.delivery(settings, topic) != "immediate":  # type: ignore[arg-type]
        return 0
    notify({"kind": topic, "company_id": company_id, "ref": ref})
    return 1


def hour_ids(until: datetime) -> tuple[str, str, str, str]:
    """The hour before ``until`` (on the hour): its stamps and the id bounds of what was made in it."""
    end = until.replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(hours=1)
    return iso_ms(start), iso_ms(end), f"{int(start.timestamp() * 1000):012x}", f"{int(end.timestamp() * 1000):012x}"


def digests(store: TrustStore, *, now: datetime, notify: Callable[[dict[str, Any]], None], approval_url_template: str, console_url: str) -> int:
    """The hourly digest of each company that wants one: what was requested and what tripped in
    the hour that just ended (nothing when nothing happened); how many were queued."""
    since, until, low, high = hour_ids(now)
    queued = 0
    for company_id in store.digest_companies():
        settings = notifications.from_stored(store.settings_item(company_id))
        wanted = {topic for topic in notifications.TOPICS if notifications.delivery(settings, topic) == "digest"}
        if not wanted:
            continue
        requested = store.approvals_created(company_id, ap.ID_PREFIX + low, ap.ID_PREFIX + high) if "approval_requested" in wanted else []
        tripped = store.anomalies_created(company_id, anomalies.ID_PREFIX + low, anomalies.ID_PREFIX + high) if "anomaly" in wanted else []
        message = notifications.digest(
            target=str(settings["slack_target"]), approvals=[ap.public(a) for a in requested], anomalies=[anomalies.public(a) for a in tripped],
            since=since, until=until, approval_url_template=approval_url_template, console_url=console_url,
        )
        if message is not None:
            notify({"kind": "digest", "company_id": company_id, "ref": since, "message": message})
            queued += 1
    return queued

