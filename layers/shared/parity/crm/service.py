"""Use cases: what each route does, in one place. Handlers parse and shape; this module decides;
the store (an injected adapter) persists. Time and id generation are injectable for tests."""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from parity.core import jsonio
from parity.crm import records
from parity.crm.store import CreateRejected, CrmStore, VersionMismatch, email_lookup_sk, phone_lookup_sk
from parity.crm.credentials import hash_secret, new_token, token_company
from parity.core import idempotency
from parity.core.clock import Clock, iso_ms
from parity.core.http import ApiResult
from parity.core.errors import Conflict, IdempotencyInProgress, NotFound, Unauthorized, ValidationFailed

#: How often a write is re-attempted when the store says "that changed under you".
_MAX_ATTEMPTS = 3
# Model names, resolved in ``validate``: pydantic and parity.crm.models load on the first body parsed,
# not on a function's cold import (issue #7, figure 1).
_CREATE_MODELS = {"deal": "DealCreate", "ticket": "TicketCreate"}
_UPDATE_MODELS = {"deal": "DealUpdate", "ticket": "TicketUpdate"}


# ---- auth ------------------------------------------------------------------------------------
def exchange_api_key(store: CrmStore, api_key: str | None, body: Mapping[str, Any], *, ttl_seconds: int, clock: Clock = Clock()) -> dict[str, Any]:
    """``X-Crm-Api-Key`` + ``sso_id`` → a fresh bearer token for the key's company, carrying the
    key's role and the ``sso_id`` (who acts with it)."""
    from parity.approvals.roles import parse_role

    parsed = validate("TokenRequest", body)
    if not api_key:
        raise Unauthorized("X-Crm-Api-Key header is required")
    key_hash = hash_secret(api_key)
    owner = store.api_key_owner(key_hash)
    if owner is None:
        raise Unauthorized("unknown or revoked API key")
    company_id, role = owner[0], parse_role(owner[1]).name
    token = new_token()
    expires_at = int(clock.now().timestamp()) + ttl_seconds
    store.put_token(hash_secret(token), company_id, sso_id=parsed.sso_id, expires_at=expires_at, key_hash=key_hash, role=role)
    return {"access_token": token, "token_type": "Bearer", "expires_in": ttl_seconds, "company_id": company_id, "role": role}


def company_for_token(store: CrmStore, token: str, *, now: float | None = None) -> str | None:
    """The company a bearer token belongs to, or None when unknown, expired or from a revoked key."""
    found = token_company(store, hash_secret(token), now=now if now is not None else time.time())
    return found[0] if found else None


# ---- holding bot/AI writes for a person (contracts/approvals.md) -----------------------------
class HoldGate(Protocol):
    """The approval policy's say on the create and PATCH paths (``parity.approvals.gate.Gate``):
    whether a bot/AI write is held, and what holds it. The CRM writes nothing of a held write."""

    def holds(self, company_id: str, creator_flag: str, confidence: Decimal | None) -> Mapping[str, Any] | None:
        """The policy in force when it holds such a write, else None (one cached read)."""

    def held_create(self, company_id: str, record_type: str, sent: Mapping[str, Any], rules: Mapping[str, Any], *, now: datetime, correlation_id: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the approval's conditional Put, the 202 answer's body) of a held create."""

    def hold_update(self, record: Mapping[str, Any], sent: Mapping[str, Any], rules: Mapping[str, Any], *, now: datetime, correlation_id: str | None) -> dict[str, Any]:
        """Write the approval of a held PATCH (one write) and return the 202 answer's body."""


@dataclass(frozen=True)
class Held:
    """A PATCH held for approval: answered 202 with ``body`` (the pending approval); nothing written to the CRM."""

    body: dict[str, Any]


@dataclass(frozen=True)
class Approved:
    """A held write being made because a person approved it: the record gets ``approved_by`` (and
    ``approval_id``, not shown), and ``guard(record's view)`` is the approval's own conditional
    write, in the same transaction: the record is written iff the approval flips from pending."""

    approval_id: str
    approved_by: str
    guard: Callable[[Mapping[str, Any]], Mapping[str, Any]]


# ---- records ---------------------------------------------------------------------------------
def validate(model: type | str, body: Mapping[str, Any]) -> Any:
    """Validate a parsed JSON body against a model (or a parity.crm.models name); every offending field is named."""
    from pydantic import ValidationError

    from parity.crm import models
    from parity.crm.models import error_details

    if isinstance(model, str):
        model = getattr(models, model)

    if not isinstance(body, Mapping):
        raise ValidationFailed("the body must be a JSON object", details=[{"field": "body", "message": "must be a JSON object", "type": "object_type"}])
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise ValidationFailed("the request has invalid fields", details=error_details(exc)) from exc


def create_record(
    store: CrmStore,
    company_id: str,
    record_type: records.RecordType,
    body: Mapping[str, Any],
    *,
    url_template: str,
    idempotency_key: str | None = None,
    request_target: str = "",
    correlation_id: str | None = None,
    clock: Clock = Clock(),
    gate: HoldGate | None = None,
    approved: Approved | None = None,
) -> ApiResult:
    """Create a deal or ticket with its origin context (room, contacts, creator flag).

    One store request on the happy path. Unknown contacts are dropped with a warning and the
    write retried without them. With an ``Idempotency-Key`` the first response is remembered
    for 24 h in the same write: a replay returns it, another body under the key is a 422.
    ``correlation_id`` is stored with the record (not shown) so its events carry it on.

    ``gate``: a bot/AI create the company's approval policy holds is answered 202 with the
    pending approval instead, in one write (the approval and the idempotency entry), and nothing
    is written to the CRM. A body is validated first: bad input is a 422, never held.
    ``approved``: the create is an approved one (the approval flips in the same transaction).
    """
    payload = validate(_CREATE_MODELS[record_type], body)
    entry_key = idempotency.key_hash(idempotency_key)
    fingerprint = idempotency.fingerprint(request_target, body)
    contact_ids, warnings = records.contact_candidates(payload.contact_id, payload.crm_lead_ids)
    fields = payload.model_dump()
    now = clock.now()
    if gate is not None and approved is None and payload.creator_flag in records.CREATOR_LABELS:
        rules = gate.holds(company_id, payload.creator_flag, payload.confidence)
        if rules is not None:
            sent = payload.model_dump(exclude_unset=True)
            put, answer = gate.held_create(company_id, record_type, sent, rules, now=now, correlation_id=correlation_id)
            response = jsonio.dumps(answer)
            entry = idempotency.Entry(entry_key, fingerprint, 202, response, int(now.timestamp()) + idempotency.TTL_SECONDS) if entry_key else None
            try:
                store.hold(put, idempotency=entry, now=int(now.timestamp()), company_id=company_id)
            except CreateRejected as rejected:
                return _replay(store, rejected, company_id, entry_key, fingerprint, now)
            return ApiResult(202, response, ids={"approval_id": answer["data"]["approval"]["id"], "room_id": payload.channel_integration_room_id, "creator_flag": payload.creator_flag})
    record_id = clock.make_id(now)
    for _ in range(_MAX_ATTEMPTS):
        record, flag_warnings = records.new_record(record_type, company_id, fields, record_id=record_id, now=now, contact_ids=contact_ids)
        if approved is not None:
            record.update(approved_by=approved.approved_by, approval_id=approved.approval_id)
        shown = records.public(record, url_template)
        response = jsonio.dumps({"data": shown, "warnings": warnings + flag_warnings})
        entry = None
        if entry_key is not None:
            entry = idempotency.Entry(entry_key, fingerprint, 201, response, int(now.timestamp()) + idempotency.TTL_SECONDS)
        also = {"also": [approved.guard(shown)]} if approved is not None else {}
        try:
            store.create_record(record, contact_ids=contact_ids, idempotency=entry, now=int(now.timestamp()), correlation_id=correlation_id, **also)
            return ApiResult(201, response, ids={"record_id": record["id"], "room_id": record["channel_integration_room_id"], "creator_flag": record["creator_flag"]})
        except CreateRejected as rejected:
            if rejected.replay is not None or rejected.in_progress:
                return _replay(store, rejected, company_id, entry_key, fingerprint, now)
            missing = set(rejected.missing_contacts)
            warnings += records.unknown_contact_warnings(missing, payload.contact_id, payload.crm_lead_ids)
            contact_ids = [c for c in contact_ids if c not in missing]
    raise Conflict("contacts changed while the record was being created; retry")


def _replay(store: CrmStore, rejected: CreateRejected, company_id: str, entry_key: str | None, fingerprint: str, now: datetime) -> ApiResult:
    """The answer to a create whose write was refused because of its Idempotency-Key: the first
    answer again, a 422 for another body under the key, or a 409 while the first is in progress."""
    if rejected.replay is not None:
        return idempotency.replay_or_refuse(rejected.replay, fingerprint)
    if entry_key is None:
        raise Conflict("the record could not be written; retry") from rejected
    remembered = store.remembered(company_id, entry_key, now=int(now.timestamp()))
    if remembered is not None:
        return idempotency.replay_or_refuse(remembered, fingerprint)
    raise IdempotencyInProgress(
        "a request with this Idempotency-Key is still being processed; retry shortly",
        headers={"Retry-After": "1"},
    ) from rejected


def get_record(store: CrmStore, company_id: str, record_type: records.RecordType, record_id: str, *, url_template: str) -> dict[str, Any]:
    record = store.get_record(company_id, record_type, record_id)
    if record is None:
        raise NotFound(f"{record_type} {record_id} not found")
    return {"data": records.public(record, url_template)}


def update_record(
    store: CrmStore,
    company_id: str,
    record_type: records.RecordType,
    record_id: str,
    body: Mapping[str, Any],
    *,
    url_template: str,
    correlation_id: str | None = None,
    check: Callable[[Mapping[str, Any], Mapping[str, Any]], None] | None = None,
    clock: Clock = Clock(),
    gate: HoldGate | None = None,
    approved: Approved | None = None,
    expected_version: int | None = None,
) -> dict[str, Any] | Held:
    """Apply a PATCH with optimistic concurrency on ``version`` (re-read and retry on a race).

    ``gate``: a PATCH of a bot/AI record that the company's approval policy holds (its own
    ``confidence`` absent or below the flag's threshold) is ``Held``: its approval written (one
    write), the record untouched. A PATCH that would change nothing, or is invalid, is never held.
    ``approved`` with ``expected_version``: an approved PATCH, written only onto that version
    (``VersionMismatch`` otherwise, never retried) and together with the approval's flip.
    ``check(current, changes)``: a rule another capability keeps for its own records (a
    feedback ticket's confirmed fields), raising ``ValidationFailed`` before anything is written
    or held.
    """
    payload = validate(_UPDATE_MODELS[record_type], body)
    changes = {name: getattr(payload, name) for name in payload.model_fields_set}
    sent = dict(changes)
    if "name" in changes and changes["name"] is None:
        raise ValidationFailed("name cannot be null", details=[{"field": "name", "message": "cannot be null", "type": "string_type"}])
    add_ids, warnings = records.contact_candidates(changes.pop("contact_id", None), changes.pop("crm_lead_ids", None))
    for _ in range(_MAX_ATTEMPTS):
        current = store.get_record(company_id, record_type, record_id)
        if current is None:
            if expected_version is not None:
                raise VersionMismatch()
            raise NotFound(f"{record_type} {record_id} not found")
        if expected_version is not None and int(current["version"]) != expected_version:
            raise VersionMismatch()
        if check is not None:
            check(current, changes)
        now = clock.now()
        updated = records.apply_patch(current, changes, now=now, add_contact_ids=add_ids)
        if updated is None and approved is None:
            return {"data": records.public(current, url_template), "warnings": warnings}
        if gate is not None and approved is None and current.get("creator_flag") in records.CREATOR_LABELS:
            rules = gate.holds(company_id, current["creator_flag"], changes.get("confidence"))
            if rules is not None:
                return Held(gate.hold_update(current, sent, rules, now=now, correlation_id=correlation_id))
        if updated is None:  # an approved change of nothing: a new version that records the approval
            updated = {**current, "version": int(current["version"]) + 1, "updated_at": iso_ms(now)}
        also: dict[str, Any] = {}
        if approved is not None:
            updated.update(approved_by=approved.approved_by, approval_id=approved.approval_id)
            also = {"also": [approved.guard(records.public(updated, url_template))]}
        new_links = [c for c in add_ids if c not in (current.get("contact_ids") or [])]
        try:
            store.replace_record(updated, expected_version=int(current["version"]), new_contact_ids=new_links, correlation_id=correlation_id, **also)
            return {"data": records.public(updated, url_template), "warnings": warnings}
        except VersionMismatch:
            if expected_version is not None:
                raise
            continue
        except CreateRejected as rejected:
            missing = set(rejected.missing_contacts)
            warnings += records.unknown_contact_warnings(missing, payload.contact_id, payload.crm_lead_ids)
            add_ids = [c for c in add_ids if c not in missing]
    raise Conflict(f"{record_type} {record_id} is being changed concurrently; retry")


def delete_record(store: CrmStore, company_id: str, record_type: records.RecordType, record_id: str) -> None:
    if not store.delete_record(company_id, record_type, record_id):
        raise NotFound(f"{record_type} {record_id} not found")


# ---- contacts --------------------------------------------------------------------------------
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: An email is at most 254 bytes (RFC 5321 path limit) — bytes, not characters: it is part of a key.
MAX_EMAIL_BYTES = 254
#: The longest phone text, spaces and signs included (the lookup's document: ``CONTACT_LOOKUP``).
MAX_PHONE_TEXT = 254


def normalise_phone(phone: str) -> str:
    """Decimal digits only, as ASCII: "+62 812-3456", "62812 3456" and "６２８１２３４５６" find the
    same contact (a superscript "²" is not a digit of a phone number)."""
    return "".join(str(unicodedata.decimal(ch)) for ch in phone if ch.isdecimal())


def _phone_problem(phone: str) -> dict[str, str] | None:
    if len(phone) > MAX_PHONE_TEXT or not 5 <= len(normalise_phone(phone)) <= 20:  # the text too: no key is built from a page of junk
        return {"field": "phone", "message": f"must hold 5 to 20 digits (at most {MAX_PHONE_TEXT} characters)", "type": "value_error"}
    return None


def _email_problem(email: str) -> dict[str, str] | None:
    if len(email.encode("utf-8")) > MAX_EMAIL_BYTES or not _EMAIL.match(email):
        return {"field": "email", "message": f"not an email address (at most {MAX_EMAIL_BYTES} bytes)", "type": "value_error"}
    return None


def create_contact(store: CrmStore, company_id: str, body: Mapping[str, Any], *, clock: Clock = Clock()) -> dict[str, Any]:
    payload = validate("ContactCreate", body)
    problems = []
    if not payload.phone and not payload.email:
        problems.append({"field": "phone", "message": "phone or email is required", "type": "missing"})
    if payload.phone and (problem := _phone_problem(payload.phone)):
        problems.append(problem)
    if payload.email and (problem := _email_problem(payload.email)):
        problems.append(problem)
    if problems:
        raise ValidationFailed("the request has invalid fields", details=problems)
    now = clock.now()
    contact = {
        "id": clock.make_id(now),
        "company_id": company_id,
        "name": payload.name,
        "phone": payload.phone,
        "email": payload.email.lower() if payload.email else None,
        "created_at": iso_ms(now),
    }
    lookups = []
    if payload.phone:
        lookups.append(phone_lookup_sk(normalise_phone(payload.phone), contact["id"]))
    if payload.email:
        lookups.append(email_lookup_sk(payload.email.lower(), contact["id"]))
    store.create_contact(contact, lookup_sks=lookups)
    return {"data": _public_contact(contact)}


def find_contacts(store: CrmStore, company_id: str, *, phone: str | None, email: str | None) -> dict[str, Any]:
    """The producers' phone → lead lookup (RFC IB3): exact match on phone digits or email."""
    if bool(phone) == bool(email):
        raise ValidationFailed("give exactly one of phone or email", details=[{"field": "phone", "message": "exactly one of phone or email is required", "type": "missing"}])
    problem = _phone_problem(phone) if phone else _email_problem(email or "")
    if problem:
        raise ValidationFailed(f"invalid {problem['field']}", details=[problem])
    prefix = phone_lookup_sk(normalise_phone(phone)) if phone else email_lookup_sk((email or "").lower())
    return {"data": [_public_contact(c) for c in store.find_contacts(company_id, prefix)]}


def _public_contact(contact: Mapping[str, Any]) -> dict[str, Any]:
    return {k: contact.get(k) for k in ("id", "name", "phone", "email", "created_at")}
