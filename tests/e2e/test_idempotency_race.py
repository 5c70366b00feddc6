"""One Idempotency-Key raced by concurrent producers on the local stack (real HTTP, server threads)."""

from __future__ import annotations

import uuid

import httpx

from ..racing import at_once


def test_concurrent_creates_with_one_key_on_the_local_stack_make_one_record(local_stack: str, companies):
    # GIVEN company a's token and ten producers holding the same create and the same Idempotency-Key
    with httpx.Client(base_url=local_stack, timeout=10) as http:
        token = http.post("/api/v3.1/teams/company_token", headers={"X-Crm-Api-Key": companies["a"]}, json={"sso_id": "race"}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": f"race-{uuid.uuid4().hex}"}
    body = {"name": f"raced {uuid.uuid4().hex}", "creator_flag": "agentic_ai"}
    def send() -> httpx.Response:
        with httpx.Client(base_url=local_stack, timeout=10) as client:
            return client.post("/api/v3.1/deals", headers=headers, json=body)

    answers = at_once([send] * 10)
    # WHEN the answers are compared
    created = [a for a in answers if a.status_code == 201]
    # THEN each is the first 201, a replay of it, or a 409; exactly one record exists
    assert len(answers) == 10 and {a.status_code for a in answers} <= {201, 409}, [(a.status_code, a.text) for a in answers]
    assert len({a.json()["data"]["id"] for a in created}) == 1
    assert sum(1 for a in created if a.headers.get("idempotent-replayed") != "true") == 1
