"""Observability over fakes, through the functions' own handlers: the correlation id and the
company/room/record ids on every log line, no secret or chat text in any log, and the RFC's
metrics emitted (as EMF) by the hop that knows about them. No AWS: the handlers' store, queue,
hub and secret factories are replaced by fakes. Over 400 lines: the fakes are shared by every
handler's test, and the RFC's metrics are checked hop by hop in one place."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from parity.core import observability
from parity.core.errors import ServiceUnavailable
from parity.core.observability import logger
from parity.core.settings import get_settings
from parity.crm import create_route, flags
from parity.crm.credentials import hash_secret
from parity.inbox.sidebar import Entry
from parity.outbox import signing
from parity.outbox.sender import Reply
from parity.timeline.excerpt import ChatHistory, ChatMessage
from parity_dev.http_api_event import http_api_event
from parity_dev.lambdas import load_handler

from .fakes import Ctx, FakeStore, FakeTrustStore

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
API_KEY = "pk_unit-test-api-key-that-must-never-be-logged"
CHAT_TEXT = "my card PIN is 4321 and the plan is secret"
SECRET = "whsec_" + "dW5pdC10ZXN0cy1zaWduaW5nLXNlY3JldC0xMjM0NQ=="
METRICS_OF_THE_RFC = {
    "bot_deal_created", "ai_deal_created", "bot_ticket_created", "ai_ticket_created",
    "deal_preview_displayed", "ticket_preview_displayed", "webhook_delivered", "webhook_delivery_failed",
    "timeline_log_created", "timeline_log_creation_failed", "timeline_preview_unavailable",
}


def app(name: str) -> Any:
    """A function's app module, loaded as the local runtime loads it."""
    handler = load_handler(FUNCTIONS / name, "app.handler")
    return sys.modules[handler.__module__]


@pytest.fixture
def captured(capsys) -> Iterator[dict[str, Any]]:
    """Everything the functions write: log lines (our Logger) and EMF metric lines (stdout)."""
    buffer = io.StringIO()
    handler = logger.registered_handler
    previous_stream = handler.setStream(buffer)
    previous_level = logger.log_level
    logger.setLevel("DEBUG")  # even debug lines must hold no secret
    out: dict[str, Any] = {}

    def read() -> dict[str, Any]:
        printed = capsys.readouterr().out
        lines = [json.loads(line) for line in (buffer.getvalue() + printed).splitlines() if line.startswith("{")]
        out["logs"] = [line for line in lines if "_aws" not in line]
        out["metrics"] = [line for line in lines if "_aws" in line]
        out["text"] = buffer.getvalue() + printed
        return out

    out["read"] = read
    try:
        yield out
    finally:
        handler.setStream(previous_stream)
        logger.setLevel(previous_level)


@pytest.fixture
def env(monkeypatch) -> Iterator[Any]:
    """Set function environment variables (the settings are re-read)."""

    def set_(**variables: str) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    get_settings.cache_clear()
    flags.forget()
    yield set_
    get_settings.cache_clear()
    flags.forget()


def emitted(metric_lines: list[dict[str, Any]]) -> dict[str, float]:
    """Metric name → total value over the captured EMF lines (checking the EMF envelope)."""
    totals: dict[str, float] = {}
    for line in metric_lines:
        (directive,) = line["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "Parity" and directive["Dimensions"] == [["service"]]
        assert line["service"] == "parity"
        for metric in directive["Metrics"]:
            totals[metric["Name"]] = totals.get(metric["Name"], 0) + sum(line[metric["Name"]])
    return totals


def http_event(
    method: str, path: str, body: Any = None, *, company: str | None = "c1", headers: dict[str, str] | None = None, route_key: str | None = None,
) -> dict[str, Any]:
    return http_api_event(
        method, path, headers={"content-type": "application/json", **(headers or {})},
        body=json.dumps(body) if body is not None else None, request_id="apigw-request-1",
        authorizer={"company_id": company} if company else {}, route_key=route_key,
    )


PREVIEW = "GET /api/v3.1/rooms/{room_id}/preview"


def sqs_event(body: str, *, correlation_id: str | None = None, receive_count: int = 1) -> dict[str, Any]:
    attributes = {"correlation_id": {"stringValue": correlation_id, "dataType": "String"}} if correlation_id else {}
    return {"Records": [{
        "messageId": "m-1", "receiptHandle": "rh-1", "body": body,
        "attributes": {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": "0"},
        "messageAttributes": attributes, "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1",
    }]}


def create_event(record: dict[str, Any], company: str = "c1") -> str:
    return json.dumps({"eventType": f"qontak.crm.{record['type']}.create", "event_id": "evt_unit_1", "company_id": company,
                       "occurred_at": record["created_at"], "data": record})


class NoteStore:
    def __init__(self, *, failing: bool = False) -> None:
        self.notes: list[dict[str, Any]] = []
        self.failing = failing

    def put_note(self, company_id: str, note: dict[str, Any]) -> bool:
        if self.failing:
            raise ServiceUnavailable("the CRM table is busy; retry shortly")
        self.notes.append(note)
        return True

    def get_record(self, company_id: str, record_type: str, record_id: str) -> dict[str, Any] | None:
        return {"id": record_id, "type": record_type}  # the record is live: its note is due


class Hub:
    def __init__(self, history: ChatHistory) -> None:
        self.history = history

    def chat_history(self, room_id: str) -> ChatHistory:
        return self.history


def no_policy() -> Any:
    """The approval policy's gate of a company that never set one (nothing is held), without a table."""
    from parity.approvals.gate import Gate
    from parity.approvals.policy import PolicyCache

    return Gate(None, PolicyCache(lambda company_id: None))  # type: ignore[arg-type]


class Secrets:
    def current(self) -> list[str]:
        return [SECRET]


HISTORY = ChatHistory((ChatMessage("m1", "room-9", "customer", "Sari", CHAT_TEXT, datetime.now(timezone.utc)),), attempts=1)


# ---- names and ids ------------------------------------------------------------------------------------
def test_the_metric_names_are_the_rfcs():
    for name in METRICS_OF_THE_RFC:
        assert getattr(observability, name.upper()) == name
    assert observability.created_metric("bot", "deal") == "bot_deal_created"
    assert observability.created_metric("agentic_ai", "ticket") == "ai_ticket_created"
    assert observability.created_metric(None, "deal") is None and observability.created_metric("human", "deal") is None


@pytest.mark.parametrize(("header", "expected"), [("flow-7:run-42", "flow-7:run-42"), ("has space", "apigw-request-1"), ("x" * 129, "apigw-request-1"), ("evil\ninjected", "apigw-request-1"), (None, "apigw-request-1")])
def test_the_correlation_id_is_the_producers_when_sane_else_api_gateways(header, expected):
    event = http_event("GET", "/x", headers={"x-correlation-id": header} if header else {})
    assert observability.http_correlation_id(event) == expected


# ---- the create: correlation id stored, named in the answer, on the log line ----------------------------
def test_a_create_logs_ids_under_the_producers_correlation_id_and_stores_it(captured, monkeypatch, env):
    env()
    store = FakeStore()
    seen: list[str | None] = []
    original = store.create_record

    def create_record(record, **kwargs):
        seen.append(kwargs.get("correlation_id"))
        return original(record, **kwargs)

    store.create_record = create_record  # type: ignore[method-assign]
    module = app("create_deal")
    monkeypatch.setattr(create_route, "crm_store", lambda: store)  # the body both create routes share
    monkeypatch.setattr(create_route, "gate", no_policy)
    # GIVEN a bot's create with its own correlation id / WHEN handled
    response = module.handler(http_event("POST", "/api/v3.1/deals", {"name": "Budi", "channel_integration_room_id": "room-9", "creator_flag": "bot"}, headers={"x-correlation-id": "flow-7-run-42"}), Ctx())
    # THEN the id is stored with the record and named in the answer
    assert response["statusCode"] == 201 and response["headers"]["X-Correlation-Id"] == "flow-7-run-42"
    assert seen == ["flow-7-run-42"]
    record_id = json.loads(response["body"])["data"]["id"]
    # AND the log line carries it with the company, room and record
    (line,) = [log for log in captured["read"]()["logs"] if log["message"] == "deal created"]
    assert (line["correlation_id"], line["company_id"], line["room_id"], line["record_id"]) == ("flow-7-run-42", "c1", "room-9", record_id)


def test_keys_of_one_invocation_never_reach_the_next(captured, monkeypatch, env):
    env()
    module = app("company_token")
    store = FakeStore()
    store.api_keys[hash_secret(API_KEY)] = "c1"
    monkeypatch.setattr(module, "crm_store", lambda: store)
    module.handler(http_event("POST", "/api/v3.1/teams/company_token", {"sso_id": "s"}, company=None, headers={"x-crm-api-key": API_KEY}), Ctx())
    module.handler(http_event("POST", "/api/v3.1/teams/company_token", {"sso_id": "s"}, company=None, headers={"x-crm-api-key": "wrong"}), Ctx())
    logs = captured["read"]()["logs"]
    issued = [log for log in logs if log["message"] == "token issued"]
    assert len(issued) == 1 and issued[0]["company_id"] == "c1"
    assert all("company_id" not in log for log in logs if log is not issued[0])


def test_each_line_names_the_function_and_request_and_only_the_first_invocation_is_cold(captured, monkeypatch, env):
    # GIVEN a wrapped handler that logs one line per invocation, in a fresh container
    env()
    monkeypatch.setattr(observability, "_cold_start", True)
    handler = observability.instrumented(lambda event, context: logger.info("work"))
    # WHEN it is invoked twice
    handler({}, Ctx())
    handler({}, Ctx())
    first, second = [log for log in captured["read"]()["logs"] if log["message"] == "work"]
    # THEN both lines name the function and the request; only the first says cold_start
    assert (first["function_name"], first["function_request_id"]) == ("parity-unit", "req-unit")
    assert (second["function_name"], second["function_request_id"]) == ("parity-unit", "req-unit")
    assert first.get("cold_start") is True and "cold_start" not in second
    # AND what the log group and REPORT line already say is not repeated on every line
    assert not {"function_arn", "function_memory_size"} & (set(first) | set(second))


# ---- nothing secret in any log -----------------------------------------------------------------------
def test_no_api_key_token_signing_secret_or_chat_text_in_any_log(captured, monkeypatch, env):
    env(WEBHOOK_QUEUE_URL="https://sqs.example/q", TIMELINE_QUEUE_URL="https://sqs.example/t")
    store = FakeStore()
    store.api_keys[hash_secret(API_KEY)] = "c1"
    # GIVEN the token exchange, a bot create, its timeline note (whose chat holds a secret text),
    # and its signed delivery to the receiver
    token_app, create_app, note_app, receiver_app = app("company_token"), app("create_deal"), app("timeline_note"), app("webhook_receiver")
    monkeypatch.setattr(token_app, "crm_store", lambda: store)
    monkeypatch.setattr(create_route, "crm_store", lambda: store)
    monkeypatch.setattr(create_route, "gate", no_policy)
    notes_store = NoteStore()
    monkeypatch.setattr(note_app, "crm_store", lambda: notes_store)
    monkeypatch.setattr(note_app, "note_table", lambda: notes_store)
    monkeypatch.setattr(note_app, "hub", lambda: Hub(HISTORY))
    applied: list[Entry] = []

    class Previews:
        def apply(self, company_id, entry, *, webhook_id, body=None):
            applied.append(entry)
            return "applied"

    monkeypatch.setattr(receiver_app, "preview_store", lambda: Previews())
    monkeypatch.setattr(receiver_app, "signing_secrets", lambda: Secrets())

    token = json.loads(token_app.handler(http_event("POST", "/api/v3.1/teams/company_token", {"sso_id": "flow"}, company=None, headers={"x-crm-api-key": API_KEY}), Ctx())["body"])["access_token"]
    created = create_app.handler(http_event("POST", "/api/v3.1/deals", {"name": "Budi", "channel_integration_room_id": "room-9", "creator_flag": "bot"}, headers={"authorization": f"Bearer {token}"}), Ctx())
    record = json.loads(created["body"])["data"]
    body = create_event(record)
    assert note_app.handler(sqs_event(body, correlation_id="apigw-request-1"), Ctx()) == {"batchItemFailures": []}
    signed = signing.sign("evt_unit_1", body, [SECRET], now=datetime.now(timezone.utc))
    received = receiver_app.handler(http_event("POST", "/webhooks/qontak-crm", None, company=None, headers=signed) | {"body": body}, Ctx())
    # WHEN every log line they wrote (debug included) is read
    assert received["statusCode"] == 200 and notes_store.notes and applied
    text = captured["read"]()["text"]
    # THEN none holds the API key, the token, the signing secret or the chat text; the ids are there
    for secret in (API_KEY, token, SECRET, SECRET.removeprefix("whsec_"), CHAT_TEXT, "4321"):
        assert secret not in text
    assert record["id"] in text and "room-9" in text


# ---- metrics per hop -----------------------------------------------------------------------------------
def test_the_router_counts_bot_creates_of_companies_with_the_flag_on_and_forwards_the_correlation_id(captured, monkeypatch, env):
    env(WEBHOOK_QUEUE_URL="https://sqs.example/q", TIMELINE_QUEUE_URL="https://sqs.example/t")
    module = app("event_router")
    published: list[tuple[str, list[dict], dict]] = []

    class Queues:
        def publish(self, url, messages, *, attributes=None):
            published.append((url, messages, attributes))

    class Crm:
        def company_parity(self, company_id):
            return company_id == "on"

    trust = FakeTrustStore()
    monkeypatch.setattr(module, "queues", lambda: Queues())
    monkeypatch.setattr(module, "crm_store", lambda: Crm())
    monkeypatch.setattr(module, "trust_store", lambda: trust)

    def insert(company: str, record_id: str, flag: str = "bot", room: str | None = "room-9") -> dict[str, Any]:
        image = {"pk": {"S": f"COMPANY#{company}"}, "sk": {"S": f"DEAL#{record_id}"}, "entity": {"S": "record"}, "id": {"S": record_id}, "type": {"S": "deal"},
                 "company_id": {"S": company}, "name": {"S": "n"}, "creator_flag": {"S": flag}, "created_at": {"S": "2026-11-23T00:00:00.000Z"},
                 "updated_at": {"S": "2026-11-23T00:00:00.000Z"}, "version": {"N": "1"}, "correlation_id": {"S": f"corr-{record_id}"}}
        if room:
            image["channel_integration_room_id"] = {"S": room}
        return {"eventID": f"e-{record_id}", "eventName": "INSERT", "eventSource": "aws:dynamodb", "dynamodb": {"NewImage": image, "SequenceNumber": str(len(record_id)), "StreamViewType": "NEW_AND_OLD_IMAGES"}}

    # GIVEN bot/AI creates of a company with the flag on (one without a room) and one with it off
    result = module.handler({"Records": [insert("on", "d1"), insert("on", "d2", "agentic_ai", room=None), insert("off", "d3")]}, Ctx())
    assert result == {"batchItemFailures": []}
    out = captured["read"]()
    # THEN only the flag-on creates count, the roomless one included
    assert emitted(out["metrics"]) == {"bot_deal_created": 1, "ai_deal_created": 1}
    # AND the routed event travels with the record's correlation id, to both queues
    assert [(url, [m["data"]["id"] for m in msgs], attrs) for url, msgs, attrs in published] == [
        ("https://sqs.example/q", ["d1"], {"correlation_id": "corr-d1"}),
        ("https://sqs.example/t", ["d1"], {"correlation_id": "corr-d1"}),
    ]
    (queued,) = [log for log in out["logs"] if log["message"] == "event queued"]
    assert (queued["correlation_id"], queued["company_id"], queued["record_id"], queued["room_id"]) == ("corr-d1", "on", "d1", "room-9")
    # AND every one of them is a line of the activity log, whatever the flag, with its correlation id
    assert [(line["record_id"], line["correlation_id"]) for line in trust.lines] == [("d1", "corr-d1"), ("d2", "corr-d2"), ("d3", "corr-d3")]


def test_the_sender_counts_deliveries_with_latency_and_failed_attempts_and_sends_the_correlation_id(captured, monkeypatch, env):
    env(WEBHOOK_QUEUE_URL="https://sqs.example/q", WEBHOOK_DLQ_URL="https://sqs.example/dlq", OMNICHANNEL_WEBHOOK_URL="https://chat.example.com/hook")
    module = app("webhook_sender")
    sent_headers: list[dict[str, str]] = []
    answers = iter([Reply(200), Reply(500)])

    def post(body, headers):
        sent_headers.append(headers)
        return next(answers)

    postponed: list[int] = []

    class Queues:
        def postpone(self, url, handle, seconds):
            postponed.append(seconds)

    monkeypatch.setattr(module, "_post", post)
    monkeypatch.setattr(module, "queues", lambda: Queues())
    monkeypatch.setattr(module, "signing_secrets", lambda: Secrets())
    occurred = (datetime.now(timezone.utc) - timedelta(seconds=2)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    record = {"id": "d1", "type": "deal", "channel_integration_room_id": "room-9", "created_at": occurred}
    body = json.dumps({"eventType": "qontak.crm.deal.create", "event_id": "evt_1", "company_id": "c1", "occurred_at": occurred, "data": record})
    # WHEN one delivery succeeds and the next attempt is refused with a 500
    assert module.handler(sqs_event(body, correlation_id="corr-1"), Ctx()) == {"batchItemFailures": []}
    with pytest.raises(BatchProcessingError):  # a batch whose every record failed fails whole
        module.handler(sqs_event(body, correlation_id="corr-1"), Ctx())
    out = captured["read"]()
    # THEN one delivered (latency ~2 s from occurred_at) and one failed attempt are counted
    totals = emitted(out["metrics"])
    assert totals["webhook_delivered"] == 1 and totals["webhook_delivery_failed"] == 1
    assert 1500 < totals["webhook_delivery_latency"] < 60_000
    # AND both attempts carried the correlation id to the receiver, and logged it with the ids
    assert [h["X-Correlation-Id"] for h in sent_headers] == ["corr-1", "corr-1"] and postponed
    delivered = next(log for log in out["logs"] if log["message"] == "webhook delivered")
    assert (delivered["correlation_id"], delivered["company_id"], delivered["record_id"], delivered["room_id"]) == ("corr-1", "c1", "d1", "room-9")


@pytest.mark.parametrize(
    ("history", "failing", "expected"),
    [
        (HISTORY, False, {"timeline_log_created": 1}),
        (ChatHistory(None, "answered 500", 1), False, {"timeline_log_created": 1, "timeline_preview_unavailable": 1}),
        (HISTORY, True, {"timeline_log_creation_failed": 1}),
    ],
    ids=["note", "note-without-preview", "write-failed"],
)
def test_the_note_writer_counts_notes_notes_without_preview_and_failed_writes(captured, monkeypatch, env, history, failing, expected):
    env()
    module = app("timeline_note")
    store = NoteStore(failing=failing)
    monkeypatch.setattr(module, "crm_store", lambda: store)
    monkeypatch.setattr(module, "note_table", lambda: store)
    monkeypatch.setattr(module, "hub", lambda: Hub(history))
    record = {"id": "d1", "type": "deal", "channel_integration_room_id": "room-9", "creator_flag": "bot", "creator_label": "Bot", "created_at": "2026-11-23T00:00:00.000Z"}
    if failing:
        with pytest.raises(BatchProcessingError):  # the queue gets the message back, then dead-letters it
            module.handler(sqs_event(create_event(record), correlation_id="corr-9"), Ctx())
    else:
        assert module.handler(sqs_event(create_event(record), correlation_id="corr-9"), Ctx()) == {"batchItemFailures": []}
    out = captured["read"]()
    assert emitted(out["metrics"]) == expected
    assert all(log.get("correlation_id") == "corr-9" and log.get("record_id") == "d1" for log in out["logs"] if "timeline note" in log["message"])


def test_the_preview_counts_each_slot_it_shows(captured, monkeypatch, env):
    env()
    module = app("room_preview")
    deal = Entry("deal", "d1", "2026-11-23T00:00:00.000Z", 1, "live", {"id": "d1", "type": "deal"})

    class Previews:
        def __init__(self, entries):
            self._entries = entries

        def entries(self, company_id, room_id):
            return self._entries

    monkeypatch.setattr(module, "preview_store", lambda: Previews([deal]))
    module.handler(http_event("GET", "/api/v3.1/rooms/room-9/preview", route_key=PREVIEW), Ctx())
    monkeypatch.setattr(module, "preview_store", lambda: Previews([]))
    module.handler(http_event("GET", "/api/v3.1/rooms/room-8/preview", route_key=PREVIEW), Ctx())
    assert emitted(captured["read"]()["metrics"]) == {"deal_preview_displayed": 1}


def test_no_metric_line_and_no_warning_when_an_invocation_counts_nothing(captured, monkeypatch, env, recwarn):
    env()
    module = app("room_preview")

    class Previews:
        def entries(self, company_id, room_id):
            return []

    monkeypatch.setattr(module, "preview_store", lambda: Previews())
    module.handler(http_event("GET", "/api/v3.1/rooms/room-8/preview", route_key=PREVIEW), Ctx())
    assert captured["read"]()["metrics"] == [] and not [w for w in recwarn if "metrics" in str(w.message)]


# ---- the tracer stays off (and unimported) unless switched on --------------------------------------------
def test_the_tracer_is_off_by_default(monkeypatch):
    observability.tracer.cache_clear()
    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED", raising=False)
    try:
        assert observability.tracer() is None
        monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
        observability.tracer.cache_clear()
        assert observability.tracer() is None
    finally:
        observability.tracer.cache_clear()
