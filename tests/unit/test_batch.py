"""The three batch consumers (event_router on the stream, webhook_sender and timeline_note on SQS)
report partial batch failures: a record that fails is reported alone, by the id Lambda expects
(``SequenceNumber`` / ``messageId``), its neighbours are processed and not retried, and a batch
whose every record failed fails whole. The loop is powertools' ``BatchProcessor``; what is ours,
and tested here, is each record handler's verdict. Fakes stand in for the stores and queues."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from parity.core.queues import QueueError
from parity.core.settings import get_settings
from parity.crm import flags
from parity.outbox.sender import Reply
from parity_dev.lambdas import load_handler

from .fakes import Ctx, FakeTrustStore

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
SECRET = "whsec_" + "cGFyaXR5LXVuaXQtdGVzdHMtc2VjcmV0LWtleSEhIQ=="


def app(name: str) -> Any:
    return sys.modules[load_handler(FUNCTIONS / name, "app.handler").__module__]


@pytest.fixture(autouse=True)
def env(monkeypatch) -> Iterator[None]:
    for name, value in {
        "WEBHOOK_QUEUE_URL": "https://sqs.example/q", "WEBHOOK_DLQ_URL": "https://sqs.example/dlq",
        "TIMELINE_QUEUE_URL": "https://sqs.example/t", "OMNICHANNEL_WEBHOOK_URL": "https://chat.example.com/hook",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    flags.forget()
    yield
    get_settings.cache_clear()
    flags.forget()


def sqs(*bodies: str) -> dict[str, Any]:
    return {"Records": [
        {"messageId": f"m{i}", "receiptHandle": f"r{i}", "body": body, "attributes": {"ApproximateReceiveCount": "1"},
         "messageAttributes": {}, "eventSource": "aws:sqs"}
        for i, body in enumerate(bodies)
    ]}


def event(record_id: str, company: str = "c1") -> str:
    return json.dumps({"eventType": "qontak.crm.deal.create", "event_id": f"evt_{record_id}", "company_id": company, "occurred_at": "2026-01-01T00:00:00.000Z",
                       "data": {"id": record_id, "type": "deal", "channel_integration_room_id": "room-1", "creator_flag": "bot", "creator_label": "Bot", "created_at": "2026-01-01T00:00:00.000Z"}})


# ---- the router on the stream ----------------------------------------------------------------------------
def insert(company: str, record_id: str, sequence: str) -> dict[str, Any]:
    image = {"pk": {"S": f"COMPANY#{company}"}, "sk": {"S": f"DEAL#{record_id}"}, "entity": {"S": "record"}, "id": {"S": record_id}, "type": {"S": "deal"},
             "company_id": {"S": company}, "name": {"S": "n"}, "amount": {"N": "12.5"}, "creator_flag": {"S": "bot"}, "channel_integration_room_id": {"S": "room-1"},
             "created_at": {"S": "2026-01-01T00:00:00.000Z"}, "updated_at": {"S": "2026-01-01T00:00:00.000Z"}, "version": {"N": "1"}}
    return {"eventID": f"e-{record_id}", "eventName": "INSERT", "eventSource": "aws:dynamodb",
            "dynamodb": {"NewImage": image, "SequenceNumber": sequence, "StreamViewType": "NEW_AND_OLD_IMAGES"}}


@pytest.fixture
def router(monkeypatch) -> tuple[Any, list[dict[str, Any]]]:
    """The router with a queue that refuses every event of company "down"."""
    module = app("event_router")
    published: list[dict[str, Any]] = []

    class Queues:
        def publish(self, url, messages, *, attributes=None):
            if any(m["company_id"] == "down" for m in messages):
                raise QueueError("refused")
            published.extend(m for m in messages if url.endswith("/q"))

    class Crm:
        def company_parity(self, company_id):
            return True

    trust = FakeTrustStore()
    monkeypatch.setattr(module, "queues", lambda: Queues())
    monkeypatch.setattr(module, "crm_store", lambda: Crm())
    monkeypatch.setattr(module, "trust_store", lambda: trust)
    monkeypatch.setattr(module, "activity_lines", trust.lines, raising=False)  # for the assertions
    return module, published


def test_a_stream_record_that_cannot_be_queued_is_reported_by_its_sequence_number(router):
    module, published = router
    # GIVEN a batch whose middle record cannot be queued
    batch = {"Records": [insert("c1", "d1", "101"), insert("down", "d2", "102"), insert("c1", "d3", "103")]}
    # WHEN the router handles it / THEN only that record is reported, from which Lambda resumes
    assert module.handler(batch, Ctx()) == {"batchItemFailures": [{"itemIdentifier": "102"}]}
    # AND its neighbours were routed, their images read as the record (numbers exact)
    assert [(m["data"]["id"], m["data"]["amount"]) for m in published] == [("d1", Decimal("12.5")), ("d3", Decimal("12.5"))]
    # AND each of them is a line of the activity log (the failed one's comes with its retry)
    assert [(line["record_id"], line["action"], line["status"]) for line in module.activity_lines] == [("d1", "create", "success"), ("d3", "create", "success")]


def test_a_stream_batch_whose_every_record_failed_fails_whole(router):
    module, _ = router
    with pytest.raises(BatchProcessingError, match="All records failed processing. 2"):
        module.handler({"Records": [insert("down", "d1", "101"), insert("down", "d2", "102")]}, Ctx())


# ---- the sender on its queue -----------------------------------------------------------------------------
@pytest.fixture
def sender(monkeypatch) -> tuple[Any, list[str], list[str]]:
    """The sender, whose receiver answers 500 to record "bad" and 410 to record "gone"."""
    module = app("webhook_sender")
    postponed: list[str] = []
    parked: list[str] = []

    class Queues:
        def postpone(self, url, handle, seconds):
            postponed.append(handle)

        def dead_letter(self, url, body, *, reason, attempts, source, attributes=None):
            parked.append(json.loads(body)["data"]["id"])

    class Secrets:
        def current(self):
            return [SECRET]

    def post(body, headers):
        record_id = json.loads(body)["data"]["id"]
        return Reply({"bad": 500, "gone": 410}.get(record_id, 200))

    monkeypatch.setattr(module, "queues", lambda: Queues())
    monkeypatch.setattr(module, "signing_secrets", lambda: Secrets())
    monkeypatch.setattr(module, "_post", post)
    return module, postponed, parked


def test_an_attempt_that_failed_is_reported_alone_and_one_given_up_on_is_not(sender):
    module, postponed, parked = sender
    # GIVEN a batch with a delivery, one the receiver fails, and one it says is gone
    result = module.handler(sqs(event("ok"), event("bad"), event("gone")), Ctx())
    # THEN the failed one is reported (hidden until its retry), the gone one left the queue for the DLQ
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert postponed == ["r1"] and parked == ["gone"]


def test_a_sender_batch_whose_every_attempt_failed_fails_whole(sender):
    module, _, _ = sender
    with pytest.raises(BatchProcessingError):
        module.handler(sqs(event("bad"), event("bad")), Ctx())


# ---- the note writer on its queue ------------------------------------------------------------------------
def test_a_message_whose_note_cannot_be_written_is_reported_alone(monkeypatch):
    module = app("timeline_note")
    written: list[str] = []

    class Notes:
        def put_note(self, company_id, note):
            written.append(note["record_id"])
            return True

    class Records:
        def get_record(self, company_id, record_type, record_id, **kwargs):
            return {"id": record_id, "type": record_type, "company_id": company_id}

    class Hub:
        def chat_history(self, room_id):
            from parity.timeline.excerpt import ChatHistory

            return ChatHistory((), "", 1)

    monkeypatch.setattr(module, "note_table", lambda: Notes())
    monkeypatch.setattr(module, "crm_store", lambda: Records())
    monkeypatch.setattr(module, "hub", lambda: Hub())
    # GIVEN a batch whose second message is not an event
    result = module.handler(sqs(event("d1"), "not json", event("d3")), Ctx())
    # THEN it alone is reported (the queue retries it, then parks it in TimelineDLQ); the others have their notes
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert written == ["d1", "d3"]
    with pytest.raises(BatchProcessingError):
        module.handler(sqs("not json", "{}"), Ctx())
