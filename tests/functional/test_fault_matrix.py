"""Fault matrix on the functional tier (the functions in their workers, through the emulated gateway):
one Idempotency-Key raced, a crash between the record write and the event, DynamoDB throttling and
failed conditions on every write path, and hostile bodies on every route. The faults are scripted at
the AWS edge the functions' SDKs talk to (``parity_dev.aws_edge.AwsEdge``). Referenced from docs/reliability.md."""

from __future__ import annotations

import uuid

import pytest

from ..racing import at_once
from .conftest import DYNAMODB_WRITES as WRITE_OPERATIONS
from .conftest import new_room


def _login(gateway, api_key):
    response = gateway.invoke("POST", "/api/v3.1/teams/company_token", headers={"X-Crm-Api-Key": api_key}, json={"sso_id": "faults"})
    assert response.status == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _listing(gateway, auth, record):
    return gateway.invoke("GET", f"/api/v3.1/{record['type']}s/{record['id']}", headers=auth)


def test_concurrent_creates_with_one_idempotency_key_make_one_record(gateway, company):
    # GIVEN eight producers sending the same create with the same Idempotency-Key at once
    auth = _login(gateway, company().api_key)
    key, body = f"race-{uuid.uuid4().hex}", {"name": "raced deal", "creator_flag": "bot"}
    answers = at_once([lambda: gateway.invoke("POST", "/api/v3.1/deals", headers={**auth, "Idempotency-Key": key}, json=body)] * 8)
    # WHEN the answers are compared
    created = [a for a in answers if a.status == 201]
    # THEN every answer is a 201 (first or replay) or a 409 (still in progress), and all 201s name one record
    assert {a.status for a in answers} <= {201, 409}, [(a.status, a.text) for a in answers]
    assert created and len({a.json()["data"]["id"] for a in created}) == 1
    assert sum(1 for a in created if a.headers.get("idempotent-replayed") != "true") == 1
    # AND a replay after the race still names that one record
    again = gateway.invoke("POST", "/api/v3.1/deals", headers={**auth, "Idempotency-Key": key}, json=body)
    assert again.status == 201 and again.json()["data"]["id"] == created[0].json()["data"]["id"]


def test_a_crash_after_the_record_write_still_sends_the_event(wired, company, edge):
    # GIVEN a create whose worker process is killed right after its record write is applied (before any answer)
    made = company()
    auth = wired.login(made.api_key)
    room = new_room()
    written = []

    def crash(call):
        written.append(call)
        wired.runtime.kill_worker(call.worker)

    edge.after("dynamodb", {"PutItem", "TransactWriteItems"}, crash, function="CreateDealFunction")
    answer = wired.gateway.invoke("POST", "/api/v3.1/deals", headers=auth, json={"name": "orphan?", "creator_flag": "bot", "channel_integration_room_id": room})
    # THEN the producer got API Gateway's 500 (the function never answered), yet the record is stored
    assert answer.status == 500 and len(written) == 1
    params = written[0].params
    puts = [params["Item"]] if "Item" in params else [item["Put"]["Item"] for item in params["TransactItems"] if "Put" in item]
    (record_id,) = [put["id"]["S"] for put in puts if put.get("entity") == {"S": "record"}]
    assert wired.gateway.invoke("GET", f"/api/v3.1/deals/{record_id}", headers=auth).status == 200
    # WHEN the stream consumers run afterwards (the stream is the outbox: nothing else was sent)
    wired.drain()
    # THEN the event was still delivered: the room's preview shows the record
    assert (wired.preview(auth, room)["deal"] or {}).get("id") == record_id


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "ThrottlingException"])
@pytest.mark.parametrize(
    "method,path,body",
    [
        ("POST", "/api/v3.1/deals", {"name": "throttled", "creator_flag": "bot"}),
        ("POST", "/api/v3.1/tickets", {"name": "throttled", "creator_flag": "agentic_ai"}),
        ("POST", "/api/v3.1/contacts", {"name": "Budi", "phone": "+62811000111"}),
        ("PATCH", "/api/v3.1/deals/{deal}", {"stage": "won"}),
        ("DELETE", "/api/v3.1/deals/{deal}", None),
        ("POST", "/api/v3.1/teams/company_token", {"sso_id": "x"}),
    ],
)
def test_dynamodb_throttling_on_every_write_path_is_a_retryable_503_and_nothing_partial(gateway, company, edge, method, path, body, code):
    # GIVEN a company with one deal, and then a table that throttles every write (each SDK retry too)
    made = company()
    auth = _login(gateway, made.api_key)
    deal = gateway.invoke("POST", "/api/v3.1/deals", headers=auth, json={"name": "before", "stage": "new"}).json()["data"]
    headers = {**auth, "X-Crm-Api-Key": made.api_key}
    # WHEN the write is attempted
    with edge.fail("dynamodb", WRITE_OPERATIONS, code, message="Rate exceeded"), edge.recording() as calls:
        answer = gateway.invoke(method, path.format(deal=deal["id"]), headers=headers, json=body) if body is not None else gateway.invoke(method, path.format(deal=deal["id"]), headers=headers)
    # THEN it is a 503 the client may retry, with Retry-After, in our error shape
    assert [c for c in calls.of("dynamodb", function="*") if c.error == code], "no write reached DynamoDB"
    assert answer.status == 503, answer.text
    assert int(answer.headers["retry-after"]) > 0
    assert answer.json()["error"]["code"] == "temporarily_unavailable"
    # AND nothing changed: the deal is as it was
    after = _listing(gateway, auth, deal)
    assert after.status == 200 and after.json()["data"]["version"] == 1 and after.json()["data"]["stage"] == "new"


HOSTILE = {
    "malformed": b'{"name": ',
    "oversized": b'{"name": "' + b"x" * (1024 * 1024) + b'"}',
    "deeply nested": b'{"name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "nul byte": b'{"name": "a\\u0000b", "sso_id": "a\\u0000b", "phone": "1\\u0000"}',
    "lone surrogate": b'{"name": "\\ud800", "sso_id": "\\udfff", "email": "\\ud800@x"}',
    # (Bytes that are not UTF-8 in a JSON body reach a function as U+FFFD through API Gateway, a
    # valid character; base64-encoded ones are refused by parity.core.http, tests/unit/test_http_edge.py.)
    "not an object": b'["name"]',
}
BODY_ROUTES = [
    ("POST", "/api/v3.1/deals"),
    ("POST", "/api/v3.1/tickets"),
    ("POST", "/api/v3.1/contacts"),
    ("PATCH", "/api/v3.1/deals/{deal}"),
    ("PATCH", "/api/v3.1/tickets/{ticket}"),
    ("POST", "/api/v3.1/teams/company_token"),
    ("POST", "/webhooks/qontak-crm"),
]


@pytest.mark.parametrize("kind", sorted(HOSTILE))
@pytest.mark.parametrize("method,path", BODY_ROUTES)
def test_hostile_bodies_on_every_body_route_are_4xx_and_store_nothing(gateway, company, edge, method, path, kind):
    # GIVEN a company with a deal and a ticket, and every DynamoDB request recorded
    made = company()
    auth = _login(gateway, made.api_key)
    deal = gateway.invoke("POST", "/api/v3.1/deals", headers=auth, json={"name": "d"}).json()["data"]
    ticket = gateway.invoke("POST", "/api/v3.1/tickets", headers=auth, json={"name": "t"}).json()["data"]
    # WHEN the hostile body is sent
    with edge.recording() as calls:
        answer = gateway.invoke(method, path.format(deal=deal["id"], ticket=ticket["id"]), headers={**auth, "X-Crm-Api-Key": made.api_key, "content-type": "application/json"}, body=HOSTILE[kind])
    # THEN it is refused with a 4xx and nothing was written
    assert 400 <= answer.status < 500, (answer.status, answer.text[:300])
    assert calls.of("dynamodb", operations=WRITE_OPERATIONS) == []
    for record in (deal, ticket):
        assert _listing(gateway, auth, record).json()["data"]["version"] == 1


@pytest.mark.parametrize(
    "method,path,body,expected",
    [
        # a condition nobody explains (an id or contact written by a racing request): retry the same request
        ("POST", "/api/v3.1/deals", {"name": "raced", "creator_flag": "bot"}, 503),
        ("POST", "/api/v3.1/tickets", {"name": "raced"}, 503),
        ("POST", "/api/v3.1/contacts", {"name": "Budi", "phone": "+62811000222"}, 503),
        ("POST", "/api/v3.1/teams/company_token", {"sso_id": "x"}, 503),
        # the record keeps changing under a PATCH: the IETF-style conflict, retry
        ("PATCH", "/api/v3.1/deals/{deal}", {"stage": "won"}, 409),
    ],
)
def test_conditional_check_failures_on_every_write_path_are_retryable_and_nothing_partial(gateway, company, edge, method, path, body, expected):
    # GIVEN a company with one deal, and then every conditional write failing its condition
    made = company()
    auth = _login(gateway, made.api_key)
    deal = gateway.invoke("POST", "/api/v3.1/deals", headers=auth, json={"name": "before", "stage": "new"}).json()["data"]
    # WHEN the write is attempted
    with edge.fail_conditions(WRITE_OPERATIONS), edge.recording() as calls:
        answer = gateway.invoke(method, path.format(deal=deal["id"]), headers={**auth, "X-Crm-Api-Key": made.api_key}, json=body)
    # THEN it is a retryable answer in our error shape (503 with Retry-After, or 409), never a 500
    assert [c for c in calls.of("dynamodb", function="*") if c.error], "no write reached DynamoDB"
    assert answer.status == expected, answer.text
    assert answer.json()["error"]["code"] in {"temporarily_unavailable", "conflict"}
    if expected == 503:
        assert int(answer.headers["retry-after"]) > 0
    # AND nothing changed
    after = _listing(gateway, auth, deal).json()["data"]
    assert after["version"] == 1 and after["stage"] == "new"
