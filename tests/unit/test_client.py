"""The producer client (``parity_client``) against an in-memory fake of the API (httpx.MockTransport):
token exchange and the one refresh on 401, idempotent creates under retries, bounded retries, typed
errors, timeouts. No network."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from parity_client import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    ParityClient,
    ServiceUnavailableError,
    TransportError,
    ValidationError,
)

BASE = "http://parity.test"
KEY = "key-demo"


def _deal(record_id: str, name: str = "Deal", **extra: Any) -> dict[str, Any]:
    return {"id": record_id, "type": "deal", "name": name, "channel_integration_room_id": "room-1", "contact_ids": [],
            "creator_flag": "bot", "creator_label": "Bot", "created_at": "2026-11-23T01:00:00.000Z", "version": 1, **extra}


class FakeApi:
    """A fake Parity API: issues tokens, creates deals (remembering Idempotency-Keys), and lets a
    test script faults in front of any route (``faults`` is a list of callables consumed in order)."""

    def __init__(self, *, expires_in: int = 3600) -> None:
        self.expires_in = expires_in
        self.refuse_every_token = False
        self.valid_tokens: set[str] = set()
        self.exchanges = 0
        self.requests: list[httpx.Request] = []
        self.deals: dict[str, dict[str, Any]] = {}
        self.by_key: dict[str, dict[str, Any]] = {}
        self.faults: list[Callable[[httpx.Request], httpx.Response | None]] = []
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(request)
            fault = self.faults.pop(0) if self.faults else None
        if fault is not None:
            answer = fault(request)
            if answer is not None:
                return answer
        return self.route(request)

    def route(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/api/v3.1/teams/company_token":
            if request.headers.get("x-crm-api-key") != KEY:
                return error(401, "unauthorized", "unknown or revoked API key")
            with self.lock:
                self.exchanges += 1
                token = f"tok-{self.exchanges}"
                self.valid_tokens.add(token)
            return httpx.Response(200, json={"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in, "company_id": "demo"})
        if self.refuse_every_token or request.headers.get("authorization", "").removeprefix("Bearer ") not in self.valid_tokens:
            return error(401, "unauthorized", "the bearer token is missing, unknown or expired")
        if path == "/api/v3.1/deals" and request.method == "POST":
            return self.create(request)
        if path.startswith("/api/v3.1/deals/") and request.method == "GET":
            found = self.deals.get(path.rsplit("/", 1)[1])
            return httpx.Response(200, json={"data": found}) if found else error(404, "not_found", "deal not found")
        if path.startswith("/api/v3.1/deals/") and request.method == "PATCH":
            deal = self.deals[path.rsplit("/", 1)[1]]
            deal.update(json.loads(request.content), version=deal["version"] + 1)
            return httpx.Response(200, json={"data": deal})
        return error(404, "not_found", "no such route")

    def create(self, request: httpx.Request) -> httpx.Response:
        key = request.headers.get("idempotency-key")
        with self.lock:
            if key in self.by_key:
                return httpx.Response(201, json=self.by_key[key], headers={"Idempotent-Replayed": "true"})
            body = json.loads(request.content)
            deal = _deal(f"d{len(self.deals) + 1}", body["name"])
            self.deals[deal["id"]] = deal
            answer = {"data": deal, "warnings": []}
            if key:
                self.by_key[key] = answer
        return httpx.Response(201, json=answer)

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == path]


def error(status: int, code: str, message: str, details: list | None = None, **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message, "details": details or []}}, headers=headers)


def lost_answer(api: FakeApi) -> Callable[[httpx.Request], None]:
    """The server does the work, then the answer never arrives (the caller sees a read timeout)."""
    def fault(request: httpx.Request) -> None:
        api.route(request)
        raise httpx.ReadTimeout("answer lost", request=request)
    return fault


def refused(request: httpx.Request) -> None:
    raise httpx.ConnectError("connection refused", request=request)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(api: FakeApi, sleeps: list[float]):
    with ParityClient(BASE, KEY, transport=httpx.MockTransport(api), sleep=sleeps.append, timeout=4.0) as made:
        yield made


# ---- token ------------------------------------------------------------------------------------
def test_the_token_is_fetched_lazily_once_and_reused(api, client):
    # GIVEN a new client THEN it has not called the API yet
    assert api.requests == []
    # WHEN it makes two calls
    client.create_deal("One")
    client.create_deal("Two")
    # THEN it exchanged its API key once, and both calls carried that token
    assert (api.exchanges, client.token_exchanges) == (1, 1)
    assert {r.headers["authorization"] for r in api.sent("POST", "/api/v3.1/deals")} == {"Bearer tok-1"}
    exchange = api.sent("POST", "/api/v3.1/teams/company_token")[0]
    assert exchange.headers["x-crm-api-key"] == KEY and json.loads(exchange.content) == {"sso_id": "parity-client"}


def test_the_token_is_renewed_shortly_before_it_expires(api, sleeps):
    # GIVEN tokens living 60 s and a clock we control
    api.expires_in, clock = 60, FakeClock()
    with ParityClient(BASE, KEY, transport=httpx.MockTransport(api), clock=clock, sleep=sleeps.append) as client:
        client.create_deal("One")
        # WHEN 20 s pass THEN the token is reused
        clock.now += 20
        client.create_deal("Two")
        assert api.exchanges == 1
        # WHEN 31 s more pass (inside the renewal margin, before expiry) THEN a new token is fetched first
        clock.now += 31
        client.create_deal("Three")
    assert api.exchanges == 2
    assert [r.headers["authorization"] for r in api.sent("POST", "/api/v3.1/deals")] == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]


def test_a_401_refreshes_the_token_exactly_once_and_the_call_succeeds(api, client):
    # GIVEN a client whose token the server has since expired
    client.create_deal("Before")
    api.valid_tokens.clear()
    # WHEN it creates a deal
    created = client.create_deal("After")
    # THEN it refreshed once, retried the same create with the new token and the same key, and got the deal
    assert api.exchanges == 2
    attempts = api.sent("POST", "/api/v3.1/deals")[1:]
    assert [r.headers["authorization"] for r in attempts] == ["Bearer tok-1", "Bearer tok-2"]
    assert len({r.headers["idempotency-key"] for r in attempts}) == 1
    assert created.record.name == "After" and len(api.deals) == 2


def test_a_second_401_is_an_authentication_error_after_one_refresh_only(api, client):
    # GIVEN a server that refuses every token, even a fresh one
    api.refuse_every_token = True
    # WHEN the client calls THEN it raises AuthenticationError with the API's body, having refreshed once
    with pytest.raises(AuthenticationError) as raised:
        client.get("deal", "d1")
    assert (raised.value.status, raised.value.code) == (401, "unauthorized") and "expired" in raised.value.message
    assert api.exchanges == 2 and len(api.sent("GET", "/api/v3.1/deals/d1")) == 2


def test_a_refused_api_key_is_an_authentication_error_and_nothing_is_created(api, sleeps):
    with ParityClient(BASE, "wrong-key", transport=httpx.MockTransport(api), sleep=sleeps.append) as client:
        with pytest.raises(AuthenticationError) as raised:
            client.create_deal("Never")
    assert "API key was refused" in str(raised.value) and api.deals == {}
    assert api.sent("POST", "/api/v3.1/deals") == []


def test_threads_hitting_401_together_share_one_refresh(api, client):
    # GIVEN eight threads on one client whose token has just expired
    client.create_deal("Warm-up")
    api.valid_tokens.clear()
    barrier, failures = threading.Barrier(8), []
    # ... and a server that answers the eight stale-token requests only once all eight have arrived
    in_flight = threading.Barrier(8, timeout=5)

    def stale_together(request: httpx.Request) -> None:
        if request.headers["authorization"] == "Bearer tok-1":
            in_flight.wait()
    api.faults = [stale_together] * 8

    def work(n: int) -> None:
        barrier.wait()
        try:
            client.create_deal(f"Thread {n}")
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    # WHEN they all call at once
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # THEN all succeed on one refreshed token: one exchange beyond the first
    assert failures == [] and len(api.deals) == 9
    assert api.exchanges == 2


# ---- creates never double ---------------------------------------------------------------------
def test_a_lost_answer_is_retried_with_the_same_key_and_creates_once(api, client, sleeps):
    # GIVEN the server creates the deal but its answer is lost
    client.authenticate()
    api.faults = [lost_answer(api)]
    # WHEN the client creates
    created = client.create_deal("Budi - 2 units", room_id="room-1", creator_flag="bot")
    # THEN it retried with the same Idempotency-Key, got the first deal back as a replay, and only one exists
    attempts = api.sent("POST", "/api/v3.1/deals")
    assert len(attempts) == 2 and attempts[0].headers["idempotency-key"] == attempts[1].headers["idempotency-key"] == created.idempotency_key
    assert created.replayed and len(api.deals) == 1 and len(sleeps) == 1
    assert json.loads(attempts[0].content) == {"name": "Budi - 2 units", "channel_integration_room_id": "room-1", "creator_flag": "bot"}


def test_each_create_call_is_its_own_logical_create(api, client):
    first, second = client.create_deal("Same"), client.create_deal("Same")
    assert first.idempotency_key != second.idempotency_key
    assert first.record.id != second.record.id and not first.replayed and not second.replayed


def test_an_explicit_key_repeats_the_same_logical_create(api, client):
    first = client.create_deal("Flow 7", idempotency_key="flow-7-run-42")
    again = client.create_deal("Flow 7", idempotency_key="flow-7-run-42")
    assert again.replayed and again.record.id == first.record.id and len(api.deals) == 1


# ---- what a create sends, and a held create -----------------------------------------------------
def test_a_create_sends_the_options_under_their_api_names(api, client):
    # WHEN an AI agent creates a ticket with its room, confidence and agent
    api.faults = [None, lambda r: httpx.Response(201, json={"data": _deal("t1", type="ticket", name="Refund"), "warnings": []})]
    client.create_ticket("Refund", category="billing", room_id="room-9", creator_flag="agentic_ai", confidence=Decimal("0.65"), agent_id="triage-ai")
    # THEN the body names the room as the API does, the confidence as a JSON number, and nothing unset
    (sent,) = api.sent("POST", "/api/v3.1/tickets")
    assert json.loads(sent.content) == {"name": "Refund", "category": "billing", "channel_integration_room_id": "room-9",
                                        "creator_flag": "agentic_ai", "confidence": 0.65, "agent_id": "triage-ai"}


def test_an_unknown_option_is_refused_before_anything_is_sent(api, client):
    with pytest.raises(TypeError, match="confidance"):
        client.create_deal("Typo", confidance=0.9)  # type: ignore[call-arg]
    assert api.sent("POST", "/api/v3.1/deals") == []


def test_a_create_the_policy_holds_comes_back_held_with_its_approval_and_no_record(api, client):
    # GIVEN a company whose policy holds the create (202)
    approval = {"id": "apr_1", "kind": "create", "status": "pending", "record_type": "deal", "record_id": None, "proposed": {"name": "Big"},
                "confidence": 0.4, "agent_id": "sales-ai", "created_at": "2026-11-23T01:00:00.000Z", "expires_at": "2026-11-24T01:00:00.000Z"}
    api.faults = [None, lambda r: httpx.Response(202, json={"data": {"approval": approval}})]
    # WHEN the agent creates
    created = client.create_deal("Big", confidence=0.4, agent_id="sales-ai")
    # THEN it is held: the approval a person decides, and no record yet
    assert created.held and created.record is None
    assert created.approval is not None and created.approval.id == "apr_1" and created.approval.status == "pending"
    assert created.approval.confidence == Decimal("0.4") and created.approval.proposed == {"name": "Big"}
    # AND an ordinary create is not held
    assert not client.create_deal("Small").held


def test_503_honours_retry_after_and_409_in_progress_is_waited_out_with_the_same_key(api, client, sleeps):
    client.authenticate()
    api.faults = [
        lambda r: error(503, "temporarily_unavailable", "busy", **{"Retry-After": "2"}),
        lambda r: error(409, "idempotency_request_in_progress", "still running"),
    ]
    created = client.create_deal("Patient")
    assert sleeps[0] == 2.0 and len(sleeps) == 2
    keys = {r.headers["idempotency-key"] for r in api.sent("POST", "/api/v3.1/deals")}
    assert keys == {created.idempotency_key} and len(api.deals) == 1


def test_retries_are_bounded_and_back_off(api, sleeps):
    with ParityClient(BASE, KEY, transport=httpx.MockTransport(api), sleep=sleeps.append, max_retries=3, backoff=0.2, max_backoff=5) as client:
        client.authenticate()
        api.faults = [lambda r: error(503, "temporarily_unavailable", "down")] * 10
        with pytest.raises(ServiceUnavailableError) as raised:
            client.create_deal("Never")
    assert len(api.sent("POST", "/api/v3.1/deals")) == 4 and len(sleeps) == 3
    assert 0.1 <= sleeps[0] <= 0.2 and 0.4 <= sleeps[2] <= 0.8  # exponential with jitter
    assert raised.value.code == "temporarily_unavailable" and raised.value.idempotency_key


def test_connection_refused_is_retried_then_a_transport_error_carrying_the_key(api, client, sleeps):
    client.authenticate()
    api.faults = [refused] * 10
    with pytest.raises(TransportError) as raised:
        client.create_deal("Unreachable")
    assert raised.value.idempotency_key and len(sleeps) == 3


def test_an_update_whose_answer_is_lost_is_not_sent_twice(api, client):
    # GIVEN a deal, and a PATCH whose answer the network loses after the server applied it
    deal = client.create_deal("Original").record
    api.faults = [lost_answer(api)]
    # WHEN the client updates THEN it reports the loss instead of applying the change twice
    with pytest.raises(TransportError):
        client.update("deal", deal.id, name="Renamed")
    assert len(api.sent("PATCH", f"/api/v3.1/deals/{deal.id}")) == 1 and api.deals[deal.id]["version"] == 2


def test_a_read_whose_answer_is_lost_is_retried(api, client):
    deal = client.create_deal("Readable").record
    api.faults = [lost_answer(api)]
    assert client.get("deal", deal.id).name == "Readable"
    assert len(api.sent("GET", f"/api/v3.1/deals/{deal.id}")) == 2


def test_a_refused_connection_is_retried_even_for_an_update(api, client):
    deal = client.create_deal("Original").record
    api.faults = [refused]
    assert client.update("deal", deal.id, name="Renamed").version == 2


# ---- errors and timeouts ----------------------------------------------------------------------
def test_errors_are_typed_and_carry_the_api_error_body(api, client):
    client.authenticate()
    api.faults = [lambda r: error(422, "validation_error", "bad", [{"field": "name", "message": "required", "type": "missing"}, {"field": "amount", "message": "must be a number", "type": "value_error"}])]
    with pytest.raises(ValidationError) as raised:
        client.create_deal("x", amount=1)
    assert raised.value.fields == ["name", "amount"] and raised.value.status == 422
    with pytest.raises(NotFoundError) as missing:
        client.get("deal", "nope")
    assert missing.value.code == "not_found"
    api.faults = [lambda r: error(409, "conflict", "busy")] * 10
    with pytest.raises(ConflictError):
        client.get("deal", "nope")


def test_a_body_that_is_not_the_api_shape_still_gives_a_typed_error(api, client):
    client.authenticate()
    api.faults = [lambda r: httpx.Response(403, json={"message": "Forbidden"})]
    with pytest.raises(Exception) as raised:
        client.get("deal", "d1")
    assert (raised.value.status, raised.value.code, raised.value.message) == (403, "http_403", "Forbidden")


def test_every_request_has_a_timeout(api, client):
    # GIVEN a client built with timeout=4 WHEN it exchanges its key and creates THEN both requests carry it
    client.create_deal("Timed")
    timeouts = {tuple(r.extensions["timeout"].values()) for r in api.requests}
    assert timeouts == {(4.0, 4.0, 4.0, 4.0)}


def test_paths_are_quoted_and_amounts_are_json_numbers(api, client):
    from decimal import Decimal

    client.authenticate()
    api.faults = [lambda r: httpx.Response(200, json={"room_id": "room 1/x", "deal": None, "ticket": None})]
    preview = client.room_preview("room 1/x")
    assert api.requests[-1].url.raw_path == b"/api/v3.1/rooms/room%201%2Fx/preview"
    assert preview.deal is None and preview.ticket is None
    client.create_deal("Priced", amount=Decimal("1500000"))
    client.create_deal("Cents", amount=Decimal("12.5"))
    amounts = [json.loads(r.content)["amount"] for r in api.sent("POST", "/api/v3.1/deals")]
    assert amounts == [1500000, 12.5] and isinstance(amounts[0], int)


def test_an_amount_is_read_exactly_not_through_a_float(api: FakeApi, client: ParityClient):
    from decimal import Decimal

    # GIVEN a deal the API answers with an amount a float cannot hold (17 significant digits)
    api.deals["big"] = _deal("big")
    api.faults.append(lambda request: None)  # the token exchange goes through
    api.faults.append(lambda request: httpx.Response(200, content=b'{"data": ' + json.dumps(_deal("big")).encode()[:-1] + b', "amount": 999999999999999.99}}'))
    # WHEN the client reads it
    deal = client.get("deal", "big")
    # THEN the amount is the one the API sent, to the cent
    assert deal.amount == Decimal("999999999999999.99")
