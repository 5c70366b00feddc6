"""An in-memory CRM store with the adapter's semantics (all-or-nothing creates, conditional
versions), for unit tests of the use cases. The real adapter is tested against moto."""

from __future__ import annotations

import copy
from typing import Any

from parity.core.idempotency import Entry as IdempotencyEntry
from parity.crm.store import CreateRejected, Token, VersionMismatch


class FakeStore:
    def __init__(self) -> None:
        self.records: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.contacts: dict[tuple[str, str], dict[str, Any]] = {}
        self.entries: dict[tuple[str, str], IdempotencyEntry] = {}
        self.api_keys: dict[str, str] = {}
        self.roles: dict[str, str] = {}  # key hash → role (absent: a key from before roles)
        self.tokens: dict[str, Token] = {}
        self.revoked: set[str] = set()  # key hashes
        self.requests = 0
        self.in_flight: set[tuple[str, str]] = set()  # keys another request is writing right now

    def create_record(self, record, *, contact_ids, idempotency: IdempotencyEntry | None, now: int, correlation_id=None) -> None:
        self.requests += 1
        company = record["company_id"]
        if idempotency is not None:
            key = (company, idempotency.key_hash)
            if key in self.in_flight:
                raise CreateRejected(in_progress=True)
            live = self.entries.get(key)
            if live is not None and live.expires_at > now:
                raise CreateRejected(replay=live)
        missing = [c for c in contact_ids if (company, c) not in self.contacts]
        if missing:
            raise CreateRejected(missing_contacts=missing)
        self.records[(company, record["type"], record["id"])] = copy.deepcopy(dict(record))
        if idempotency is not None:
            self.entries[(company, idempotency.key_hash)] = idempotency

    def remembered(self, company_id, key_hash, *, now):
        self.requests += 1
        entry = self.entries.get((company_id, key_hash))
        return entry if entry and entry.expires_at > now else None

    def get_record(self, company_id, record_type, record_id):
        self.requests += 1
        found = self.records.get((company_id, record_type, record_id))
        return copy.deepcopy(found) if found else None

    def replace_record(self, record, *, expected_version, new_contact_ids, correlation_id=None):
        self.requests += 1
        key = (record["company_id"], record["type"], record["id"])
        current = self.records.get(key)
        if current is None or current["version"] != expected_version:
            raise VersionMismatch()
        missing = [c for c in new_contact_ids if (record["company_id"], c) not in self.contacts]
        if missing:
            raise CreateRejected(missing_contacts=missing)
        self.records[key] = copy.deepcopy(dict(record))

    def delete_record(self, company_id, record_type, record_id):
        self.requests += 1
        return self.records.pop((company_id, record_type, record_id), None) is not None

    def company_for_api_key(self, key_hash):
        return None if key_hash in self.revoked else self.api_keys.get(key_hash)

    def api_key_owner(self, key_hash):
        company = self.company_for_api_key(key_hash)
        return (company, self.roles.get(key_hash)) if company else None

    def put_token(self, token_hash, company_id, *, sso_id, expires_at, key_hash=None, role=None):
        self.tokens[token_hash] = Token(company_id, expires_at, key_hash, role, sso_id)

    def token(self, token_hash):
        return self.tokens.get(token_hash)

    def add_contact(self, company_id: str, contact_id: str) -> None:
        self.contacts[(company_id, contact_id)] = {"id": contact_id, "company_id": company_id}


class FakeTrustStore:
    """The trust table's activity log: the lines written, each once (a redelivery writes nothing)."""

    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def write_line(self, line, contribution) -> bool:
        if any(kept["id"] == line["id"] for kept in self.lines):
            return False
        self.lines.append(dict(line))
        return True


class Ctx:
    """The Lambda context a handler is invoked with."""

    function_name = "parity-unit"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:parity-unit"
    aws_request_id = "req-unit"


def send(client: Any, method: str, target: Any, **options: Any) -> Any:
    """``parity.core.outbound.stream`` with the answer's body read to its end (so the connection goes
    back to the pool), for the tests that look at the status, the headers and the pool."""
    from parity.core import outbound

    with outbound.stream(client, method, target, **options) as response:
        for _ in response.stream(64 * 1024, decode_content=False):
            pass
    return response
