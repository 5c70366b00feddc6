"""The use cases over an in-memory store: idempotency, contact links, optimistic updates."""

import json
from datetime import datetime, timedelta, timezone
from itertools import count

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from parity.core.errors import (
    Conflict,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    NotFound,
    Unauthorized,
    ValidationFailed,
)
from parity.crm import service
from parity.crm.credentials import hash_secret

from .fakes import FakeStore

URL = "https://crm.example.com/{type}s/{id}"
T0 = datetime(2026, 11, 23, tzinfo=timezone.utc)


_IDS = count(1)  # ids unique across the whole test module, as real ids are


def clock(start=T0):
    ids = _IDS
    moments = count(0)
    return service.Clock(now=lambda: start + timedelta(milliseconds=next(moments)), make_id=lambda _now: f"id{next(ids)}")


def create(store, body, *, key=None, company="c1", record_type="deal", clk=None):
    return service.create_record(store, company, record_type, body, url_template=URL, idempotency_key=key, request_target=f"POST /{record_type}s", clock=clk or clock())


def test_create_costs_one_store_request_on_the_happy_path():
    store = FakeStore()
    store.add_contact("c1", "p1")
    result = create(store, {"name": "Deal", "contact_id": "p1", "creator_flag": "bot"}, key="k1")
    assert result.status == 201 and not result.replayed
    assert store.requests == 1
    data = json.loads(result.body)["data"]
    assert data["contact_ids"] == ["p1"] and data["creator_label"] == "Bot"


def test_replay_returns_the_first_response_and_creates_nothing_more():
    # GIVEN a create with a key / WHEN the same body is sent again with the key
    store = FakeStore()
    first = create(store, {"name": "Deal"}, key="k1")
    store.requests = 0
    again = create(store, {"name": "Deal"}, key="k1")
    # THEN the first response comes back, marked replayed, at the cost of one request
    assert (again.status, again.body, again.replayed) == (201, first.body, True)
    assert len(store.records) == 1
    assert store.requests == 1


def test_replay_matches_whatever_the_json_key_order():
    store = FakeStore()
    first = create(store, {"name": "Deal", "stage": "New"}, key="k1")
    assert create(store, {"stage": "New", "name": "Deal"}, key="k1").body == first.body


def test_same_key_other_body_is_a_422():
    store = FakeStore()
    create(store, {"name": "Deal"}, key="k1")
    with pytest.raises(IdempotencyKeyReused) as caught:
        create(store, {"name": "Other"}, key="k1")
    assert caught.value.status == 422 and len(store.records) == 1


def test_same_key_on_another_route_is_a_422():
    store = FakeStore()
    create(store, {"name": "Deal"}, key="k1")
    with pytest.raises(IdempotencyKeyReused):
        create(store, {"name": "Deal"}, key="k1", record_type="ticket")


def test_keys_are_scoped_per_company():
    store = FakeStore()
    a = create(store, {"name": "Deal"}, key="k1", company="A")
    b = create(store, {"name": "Deal"}, key="k1", company="B")
    assert not b.replayed and json.loads(a.body)["data"]["id"] != json.loads(b.body)["data"]["id"]


def test_key_still_being_processed_is_a_409():
    store = FakeStore()
    store.in_flight.add(("c1", hash_secret("k1")))
    with pytest.raises(IdempotencyInProgress) as caught:
        create(store, {"name": "Deal"}, key="k1")
    assert caught.value.status == 409 and caught.value.headers["Retry-After"]
    assert store.records == {}


def test_expired_key_is_forgotten():
    store = FakeStore()
    create(store, {"name": "Deal"}, key="k1")
    later = create(store, {"name": "Other"}, key="k1", clk=clock(T0 + timedelta(hours=24, seconds=1)))
    assert not later.replayed and len(store.records) == 2


@pytest.mark.parametrize("key", ["", "  ", "k" * 256])
def test_bad_idempotency_key_is_a_422_naming_the_header(key):
    with pytest.raises(ValidationFailed) as caught:
        create(FakeStore(), {"name": "Deal"}, key=key)
    assert caught.value.details[0]["field"] == "Idempotency-Key"


def test_unknown_contacts_are_dropped_with_warnings_and_the_record_still_created():
    store = FakeStore()
    store.add_contact("c1", "known")
    store.add_contact("B", "theirs")  # another company's contact is unknown to c1
    result = create(store, {"name": "Deal", "contact_id": "theirs", "crm_lead_ids": ["known", "ghost"]})
    body = json.loads(result.body)
    assert body["data"]["contact_ids"] == ["known"]
    assert sorted(w["field"] for w in body["warnings"]) == ["contact_id", "crm_lead_ids[1]"]
    assert {w["code"] for w in body["warnings"]} == {"unknown_contact"}


def test_replay_of_a_create_with_warnings_repeats_the_warnings():
    store = FakeStore()
    first = create(store, {"name": "Deal", "contact_id": "ghost", "creator_flag": "robot"}, key="k")
    again = create(store, {"name": "Deal", "contact_id": "ghost", "creator_flag": "robot"}, key="k")
    assert again.body == first.body and len(json.loads(again.body)["warnings"]) == 2


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["k1", "k2", None]), st.sampled_from(["A", "B"])), min_size=1, max_size=12))
def test_any_sequence_of_keyed_creates_makes_one_record_per_key(calls):
    # For any sequence of creates: a key makes exactly one record; its later uses replay the first
    # response when the body matches and are refused otherwise; keyless creates always create.
    store = FakeStore()
    first_by_key: dict[str, tuple[str, str]] = {}
    keyless = 0
    for key, name in calls:
        if key is None:
            create(store, {"name": name})
            keyless += 1
            continue
        if key in first_by_key and first_by_key[key][0] != name:
            with pytest.raises(IdempotencyKeyReused):
                create(store, {"name": name}, key=key)
            continue
        result = create(store, {"name": name}, key=key)
        if key in first_by_key:
            assert result.replayed and result.body == first_by_key[key][1]
        else:
            first_by_key[key] = (name, result.body)
    assert len(store.records) == keyless + len(first_by_key)


def test_get_of_another_companys_record_is_not_found():
    store = FakeStore()
    deal_id = json.loads(create(store, {"name": "Deal"}, company="A").body)["data"]["id"]
    assert service.get_record(store, "A", "deal", deal_id, url_template=URL)["data"]["id"] == deal_id
    with pytest.raises(NotFound):
        service.get_record(store, "B", "deal", deal_id, url_template=URL)
    with pytest.raises(NotFound):
        service.delete_record(store, "B", "deal", deal_id)


def test_update_retries_when_the_record_moved_on():
    # GIVEN a record that another writer changes between our read and our write
    store = FakeStore()
    deal_id = json.loads(create(store, {"name": "Deal"}).body)["data"]["id"]
    real_get = store.get_record
    raced = []

    def racing_get(*args):
        found = real_get(*args)
        if not raced:
            raced.append(True)
            key = ("c1", "deal", deal_id)
            store.records[key] = dict(store.records[key], version=2, status="Open")
        return found

    store.get_record = racing_get
    # WHEN we patch / THEN our change lands on top of theirs, as version 3
    data = service.update_record(store, "c1", "deal", deal_id, {"stage": "Won"}, url_template=URL, clock=clock())["data"]
    assert (data["stage"], data["status"], data["version"]) == ("Won", "Open", 3)


def test_update_gives_up_with_a_409_under_endless_races():
    store = FakeStore()
    deal_id = json.loads(create(store, {"name": "Deal"}).body)["data"]["id"]

    def always_moved(*_a, **_k):
        raise service.VersionMismatch()

    store.replace_record = always_moved
    with pytest.raises(Conflict):
        service.update_record(store, "c1", "deal", deal_id, {"stage": "Won"}, url_template=URL)


def test_update_of_missing_record_is_not_found():
    with pytest.raises(NotFound):
        service.update_record(FakeStore(), "c1", "deal", "nope", {"stage": "Won"}, url_template=URL)


def test_update_refuses_null_name():
    store = FakeStore()
    deal_id = json.loads(create(store, {"name": "Deal"}).body)["data"]["id"]
    with pytest.raises(ValidationFailed) as caught:
        service.update_record(store, "c1", "deal", deal_id, {"name": None}, url_template=URL)
    assert caught.value.details[0]["field"] == "name"


def test_exchange_api_key_issues_an_expiring_token():
    store = FakeStore()
    store.api_keys[hash_secret("key-a")] = "A"
    token = service.exchange_api_key(store, "key-a", {"sso_id": "sso-1"}, ttl_seconds=600, clock=clock())
    assert token["company_id"] == "A" and token["token_type"] == "Bearer" and token["expires_in"] == 600
    assert hash_secret(token["access_token"]) in store.tokens  # stored only as a hash
    assert token["access_token"] not in repr(store.tokens)
    now = T0.timestamp()
    assert service.company_for_token(store, token["access_token"], now=now) == "A"
    assert service.company_for_token(store, token["access_token"], now=now + 601) is None
    assert service.company_for_token(store, "forged", now=now) is None


@pytest.mark.parametrize(("key", "body", "error"), [("wrong", {"sso_id": "s"}, Unauthorized), (None, {"sso_id": "s"}, Unauthorized), ("key-a", {}, ValidationFailed), ("key-a", {"sso_id": ""}, ValidationFailed)])
def test_exchange_refusals(key, body, error):
    store = FakeStore()
    store.api_keys[hash_secret("key-a")] = "A"
    with pytest.raises(error):
        service.exchange_api_key(store, key, body, ttl_seconds=600)
    assert store.tokens == {}


@pytest.mark.parametrize(("phone", "digits"), [("+62 812-3456-7890", "6281234567890"), ("(021) 555 01", "02155501")])
def test_phone_normalisation(phone, digits):
    assert service.normalise_phone(phone) == digits


@pytest.mark.parametrize(("stored", "answered"), [("admin", "admin"), ("approver", "approver"), ("producer", "producer"), (None, "producer"), ("root", "producer")])
def test_the_token_carries_the_keys_role_and_the_sso_id(stored, answered):
    # GIVEN a key with a role (or none: a key from before roles, or a hand-edited unknown one)
    store = FakeStore()
    store.api_keys[hash_secret("key-a")] = "A"
    if stored:
        store.roles[hash_secret("key-a")] = stored
    # WHEN it is exchanged
    token = service.exchange_api_key(store, "key-a", {"sso_id": "ana@a"}, ttl_seconds=600, clock=clock())
    # THEN the answer names the role, and the token carries it and who it was issued for (never more than a producer by default)
    assert token["role"] == answered
    kept = store.tokens[hash_secret(token["access_token"])]
    assert (kept.role, kept.sso_id) == (answered, "ana@a")
