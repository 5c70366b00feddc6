"""Idempotency-Key, the IETF draft's way: the first response to a key is remembered (per company,
24 h) in the same write as what it did, and a request with the same key gets it again.

Same key, same route and JSON (whatever its key order or spacing) → the first response, marked as a
replay; same key, another request → 422 ``idempotency_key_reused``; same key while the first is
still being written → 409 (the caller retries). Keys are stored only as their SHA-256.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from parity.core.dynamodb import dump_item, keyed
from parity.core.errors import IdempotencyKeyReused, ValidationFailed

if TYPE_CHECKING:  # pragma: no cover
    from parity.core.http import ApiResult

MAX_KEY_LENGTH = 255
#: The header as the API's document shows it, which is how ``key_hash`` checks it: 1 to 255
#: characters, not all blank (DESIGN.md: "≤ 255 chars"; which characters is the producer's choice).
HEADER_SCHEMA = {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": "\\S"}
#: How long a key is remembered (IETF draft: at least 24 h).
TTL_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Entry:
    """What a request remembers under its Idempotency-Key."""

    key_hash: str
    fingerprint: str
    status: int
    response: str  # the JSON body sent the first time
    expires_at: int  # epoch seconds


def key_hash(value: str | None) -> str | None:
    """The stored form of an ``Idempotency-Key`` header (None without one); 422 when it is empty
    or over 255 characters."""
    if value is None:
        return None
    if not value.strip() or len(value) > MAX_KEY_LENGTH:
        raise ValidationFailed(
            "invalid Idempotency-Key header",
            details=[{"field": "Idempotency-Key", "message": f"must be 1 to {MAX_KEY_LENGTH} characters", "type": "string_length"}],
        )
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def fingerprint(request_target: str, body: Any) -> str:
    """Same route + same JSON (whatever its key order or spacing) → same fingerprint."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{request_target}\n{canonical}".encode()).hexdigest()


def replay_or_refuse(entry: Entry, fingerprint_of_request: str) -> ApiResult:
    """The remembered answer for the same request; 422 for another request under the key."""
    from parity.core.http import ApiResult  # the HTTP edge, not loaded by the stores that import this module

    if entry.fingerprint != fingerprint_of_request:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was already used with a different request",
            details=[{"field": "Idempotency-Key", "message": "already used with a different body", "type": "idempotency_key_reused"}],
        )
    return ApiResult(entry.status, entry.response, replayed=True)


entry_sk = keyed("IDEMPOTENCY")  # (key_hash_value)


def put_request(table: str, pk: str, entry: Entry, *, now: int) -> dict[str, Any]:
    """The conditional Put of an entry, to go in the same transaction as what the request writes;
    an expired entry that TTL has not removed yet no longer counts. On failure the stored entry
    comes back (``ALL_OLD``) to be replayed."""
    item = {"pk": pk, "sk": entry_sk(entry.key_hash), "entity": "idempotency", "fingerprint": entry.fingerprint,
            "status": entry.status, "response": entry.response, "ttl": entry.expires_at}
    return {
        "TableName": table,
        "Item": dump_item(item),
        "ConditionExpression": "attribute_not_exists(pk) OR #ttl <= :now",
        "ExpressionAttributeNames": {"#ttl": "ttl"},
        "ExpressionAttributeValues": dump_item({":now": now}),
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def entry_of(item: Mapping[str, Any]) -> Entry:
    """An entry as stored (loaded item)."""
    return Entry(
        key_hash=str(item["sk"]).removeprefix("IDEMPOTENCY#"),
        fingerprint=item["fingerprint"],
        status=int(item["status"]),
        response=item["response"],
        expires_at=int(item["ttl"]),
    )
