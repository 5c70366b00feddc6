"""Use cases: what each route does, in one place. Handlers parse and shape; this module decides;
the store (an injected adapter) persists. Time and id generation are injectable for tests."""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable, Mapping

from typing import Any

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
    """``X-Crm-Api-Key`` + ``sso_id`` → a fresh bearer token for the key's company."""
    parsed = validate("TokenRequest", body)
    if not api_key:
        raise Unauthorized("X-Crm-Api-Key header is required")
    key_hash = hash_secret(api_key)
    company_id = store.company_for_api_key(key_hash)
    if company_id is None:
        raise Unauthorized("unknown or revoked API key")
    token = new_token()
    expires_at = int(clock.now().timestamp()) + ttl_seconds
    store.put_token(hash_secret(token), company_id, sso_id=parsed.sso_id, expires_at=expires_at, key_hash=key_hash)
    return {"access_token": token, "token_type": "Bearer", "expires_in": ttl_seconds, "company_id": company_id}


def company_for_token(store: CrmStore, token: str, *, now: float | None = None) -> str | None:
    """The company a bearer token belongs to, or None when unknown, expired or from a revoked key."""
    found = token_company(store, hash_secret(token), now=now if now is not None else time.time())
    return found[0] if found else None


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
) -> ApiResult:
    """Create a deal or ticket with its origin context (room, contacts, creator flag).

    One store request on the happy path. Unknown contacts are dropped with a warning and the
    write retried without them. With an ``Idempotency-Key`` the first response is remembered
    for 24 h in the same write: a replay returns it, another body under the key is a 422.
    ``correlation_id`` is stored with the record (not shown) so its events carry it on.
    """
    payload = validate(_CREATE_MODELS[record_type], body)
    entry_key = idempotency.key_hash(idempotency_key)
    fingerprint = idempotency.fingerprint(request_target, body)
    contact_ids, warnings = records.contact_candidates(payload.contact_id, payload.crm_lead_ids)
    fields = payload.model_dump()
    now = clock.now()
    record_id = clock.make_id(now)
    for _ in range(_MAX_ATTEMPTS):
        record, flag_warnings = records.new_record(record_type, company_id, fields, record_id=record_id, now=now, contact_ids=contact_ids)
        response = jsonio.dumps({"data": records.public(record, url_template), "warnings": warnings + flag_warnings})
        entry = None
        if entry_key is not None:
            entry = idempotency.Entry(entry_key, fingerprint, 201, response, int(now.timestamp()) + idempotency.TTL_SECONDS)
        try:
            store.create_record(record, contact_ids=contact_ids, idempotency=entry, now=int(now.timestamp()), correlation_id=correlation_id)
            return ApiResult(201, response, ids={"record_id": record["id"], "room_id": record["channel_integration_room_id"], "creator_flag": record["creator_flag"]})
        except CreateRejected as rejected:
            if rejected.replay is not None:
                return idempotency.replay_or_refuse(rejected.replay, fingerprint)
            if rejected.in_progress:
                if entry_key is None:
                    raise Conflict("the record could not be written; retry") from rejected
                remembered = store.remembered(company_id, entry_key, now=int(now.timestamp()))
                if remembered is not None:
                    return idempotency.replay_or_refuse(remembered, fingerprint)
                raise IdempotencyInProgress(
                    "a request with this Idempotency-Key is still being processed; retry shortly",
                    headers={"Retry-After": "1"},
                ) from rejected
            missing = set(rejected.missing_contacts)
            warnings += records.unknown_contact_warnings(missing, payload.contact_id, payload.crm_lead_ids)
            contact_ids = [c for c in contact_ids if c not in missing]
    raise Conflict("contacts changed while the record was being created; retry")


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
) -> dict[str, Any]:
    """Apply a PATCH with optimistic concurrency on ``version`` (re-read and retry on a race).
    ``check(current, changes)``: a rule another capability keeps for its own records (a
    feedback ticket's confirmed fields), raising ``ValidationFailed`` before anything is written."""
    payload = validate(_UPDATE_MODELS[record_type], body)
    changes = {name: getattr(payload, name) for name in payload.model_fields_set}
    if "name" in changes and changes["name"] is None:
        raise ValidationFailed("name cannot be null", details=[{"field": "name", "message": "cannot be null", "type": "string_type"}])
    add_ids, warnings = records.contact_candidates(changes.pop("contact_id", None), changes.pop("crm_lead_ids", None))
    for _ in range(_MAX_ATTEMPTS):
        current = store.get_record(company_id, record_type, record_id)
        if current is None:
            raise NotFound(f"{record_type} {record_id} not found")
        if check is not None:
            check(current, changes)
        updated = records.apply_patch(current, changes, now=clock.now(), add_contact_ids=add_ids)
        if updated is None:
            return {"data": records.public(current, url_template), "warnings": warnings}
        new_links = [c for c in add_ids if c not in (current.get("contact_ids") or [])]
        try:
            store.replace_record(updated, expected_version=int(current["version"]), new_contact_ids=new_links, correlation_id=correlation_id)
            return {"data": records.public(updated, url_template), "warnings": warnings}
        except VersionMismatch:
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


def normalise_phone(phone: str) -> str:
    """Decimal digits only, as ASCII: "+62 812-3456", "62812 3456" and "６２８１２３４５６" find the
    same contact (a superscript "²" is not a digit of a phone number)."""
    return "".join(str(unicodedata.decimal(ch)) for ch in phone if ch.isdecimal())


def _phone_problem(phone: str) -> dict[str, str] | None:
    if not 5 <= len(normalise_phone(phone)) <= 20:
        return {"field": "phone", "message": "must hold 5 to 20 digits", "type": "value_error"}
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
