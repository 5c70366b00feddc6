"""Timeline notes on moto with the resources deployed from template.yaml: the timeline_note
function fed SQS events (by hand and through the template's queue mapping), the chat history of a
room Parity does not host from the session's stand-in external hub (or a failing one on loopback),
and GET …/{id}/timeline through the emulated HTTP API (RFC CDTC-S04, CDTC-S05, ERR-1, ERR-2, NEG-2;
DESIGN "Timeline note")."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from parity.timeline.store import NoteTable
from parity_dev.pollers import SqsPoller

FUNCTION = "TimelineNoteFunction"


# ---- fixtures ------------------------------------------------------------------------------------
@pytest.fixture
def token(gateway, company):
    def make():
        made = company()
        response = gateway.invoke("POST", "/api/v3.1/teams/company_token", headers={"X-Crm-Api-Key": made.api_key}, json={"sso_id": "flow-7"})
        assert response.status == 200, response.text
        return made, {"Authorization": f"Bearer {response.json()['access_token']}"}

    return make


def serve(answer: Callable[[BaseHTTPRequestHandler], None]) -> tuple[str, Callable[[], None]]:
    """A loopback HTTP server calling ``answer`` per GET; returns its URL and a stopper."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            try:
                answer(self)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return f"http://127.0.0.1:{server.server_port}", stop


@pytest.fixture
def hub_at(runtime) -> Iterator[Callable[[str], None]]:
    """Point the note function's chat-history client at ``url`` for this test (by default it reads the
    session's stand-in external hub): a configuration change, so its next invocation runs in a new worker."""
    before = runtime.environment(FUNCTION)["HUB_API_BASE_URL"]

    def point(url: str) -> None:
        runtime.update_environment(FUNCTION, {"HUB_API_BASE_URL": url})

    yield point
    if runtime.environment(FUNCTION)["HUB_API_BASE_URL"] != before:
        runtime.update_environment(FUNCTION, {"HUB_API_BASE_URL": before})


@pytest.fixture
def notes_of(stack, aws) -> Callable[[str, dict], list]:
    """The notes stored for a record, read from the table."""
    table = NoteTable(stack.outputs["CrmTableName"], client=aws.client("dynamodb"))
    return lambda company_id, record: table.notes(company_id, record["type"], record["id"])


def create(gateway, auth, *, kind="deals", **fields) -> dict:
    body = {"name": "Budi - 2 units", "channel_integration_room_id": "room-123", "creator_flag": "bot", **fields}
    response = gateway.invoke("POST", f"/api/v3.1/{kind}", headers=auth, json=body)
    assert response.status == 201, response.text
    return response.json()["data"]


def create_event(company_id: str, record: dict) -> str:
    """The message the event router queues for a create (DESIGN "Events")."""
    return json.dumps({"eventType": f"qontak.crm.{record['type']}.create", "event_id": f"evt_{uuid.uuid4().hex}", "company_id": company_id, "occurred_at": record["created_at"], "data": record})


def sqs_event(stack, *bodies: str) -> dict:
    arn = next(m.source_arn for m in stack.event_source_mappings if m.function == FUNCTION)
    return {
        "Records": [
            {
                "messageId": f"msg-{i}-{uuid.uuid4().hex[:8]}",
                "receiptHandle": f"rh-{i}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": str(int(time.time() * 1000))},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": "us-east-1",
            }
            for i, body in enumerate(bodies)
        ]
    }


def timeline(gateway, auth, record, kind="deals"):
    return gateway.invoke("GET", f"/api/v3.1/{kind}/{record['id']}/timeline", headers=auth)


# ---- the note ------------------------------------------------------------------------------------
def test_a_bot_deal_gets_one_masked_note_with_the_room_link(gateway, token, runtime, stack):
    # GIVEN a bot deal created in room-123, a room Parity does not host, whose chat the external hub holds
    made, auth = token()
    deal = create(gateway, auth)
    body = create_event(made.id, deal)
    # WHEN its create event is handled, and handled again (a redelivery)
    assert runtime.invoke(FUNCTION, sqs_event(stack, body)) == {"batchItemFailures": []}
    assert runtime.invoke(FUNCTION, sqs_event(stack, body)) == {"batchItemFailures": []}
    # THEN its timeline holds exactly one note: last messages masked, label, link back to the room
    response = timeline(gateway, auth, deal)
    assert response.status == 200, response.text
    (note,) = response.json()["data"]
    assert note["type"] == "chat_history" and note["record_id"] == deal["id"] and note["room_id"] == "room-123"
    assert note["creator_label"] == "Bot" and note["preview_status"] == "ok"
    assert note["deeplink"] == "https://chat.example.com/inbox/room-123"
    assert len(note["preview"]) == 5
    texts = " ".join(m["text"] for m in note["preview"])
    assert "b***@example.com" in texts and "+** ***-****-*890" in texts
    assert "budi.santoso@" not in texts and "3456-7890" not in texts
    assert "ttl" not in note and note["expires_at"] > note["created_at"]


def test_the_note_expires_after_365_days_through_ttl(gateway, token, runtime, stack, aws):
    made, auth = token()
    deal = create(gateway, auth)
    runtime.invoke(FUNCTION, sqs_event(stack, create_event(made.id, deal)))
    items = aws.client("dynamodb").query(
        TableName=stack.outputs["CrmTableName"],
        KeyConditionExpression="pk = :pk AND begins_with(sk, :note)",
        ExpressionAttributeValues={":pk": {"S": f"COMPANY#{made.id}"}, ":note": {"S": "NOTE#"}},
    )["Items"]
    (item,) = items
    assert item["entity"]["S"] == "note"
    assert abs(int(item["ttl"]["N"]) - (time.time() + 365 * 24 * 3600)) < 120
    # AND the table expires items by that attribute (moto's CloudFormation does not apply it: read the template)
    assert stack.template["Resources"]["CrmTable"]["Properties"]["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}


@pytest.mark.parametrize("mode", ["500", "hang"])
def test_a_failing_or_hung_hub_still_gives_the_note_without_preview(gateway, token, runtime, stack, hub_at, mode):
    # GIVEN a hub that answers 500, or never answers
    stop_event = threading.Event()

    def answer(handler):
        if mode == "hang":
            stop_event.wait(30)
            return
        handler.send_response(500)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    url, stop = serve(answer)
    try:
        hub_at(url)
        made, auth = token()
        ticket = create(gateway, auth, kind="tickets", creator_flag="agentic_ai")
        # WHEN the create event is handled
        started = time.monotonic()
        result = runtime.invoke(FUNCTION, sqs_event(stack, create_event(made.id, ticket)))
        elapsed = time.monotonic() - started
    finally:
        stop_event.set()
        stop()
    # THEN the note is there within the budget (ERR-2): link and label, preview null
    assert result == {"batchItemFailures": []} and elapsed < 5, elapsed
    (note,) = timeline(gateway, auth, ticket, "tickets").json()["data"]
    assert note["preview"] is None and note["preview_status"] == "unavailable"
    assert note["creator_label"] == "AI" and note["deeplink"].endswith("/room-123")


def test_no_room_or_a_manual_record_gets_no_note(gateway, token, runtime, stack):
    made, auth = token()
    roomless = create(gateway, auth, channel_integration_room_id=None)
    manual = create(gateway, auth, creator_flag=None)
    result = runtime.invoke(FUNCTION, sqs_event(stack, create_event(made.id, roomless), create_event(made.id, manual)))
    assert result == {"batchItemFailures": []}
    assert timeline(gateway, auth, roomless).json() == {"data": []}
    assert timeline(gateway, auth, manual).json() == {"data": []}


def test_a_record_deleted_before_the_worker_runs_gets_no_note(gateway, token, runtime, stack, notes_of):
    # GIVEN a bot deal created in room-123, then deleted before its queued create event is handled
    made, auth = token()
    deal = create(gateway, auth)
    assert gateway.invoke("DELETE", f"/api/v3.1/deals/{deal['id']}", headers=auth).status == 204
    # WHEN the note worker runs on the create event
    result = runtime.invoke(FUNCTION, sqs_event(stack, create_event(made.id, deal)))
    # THEN the message succeeds (nothing to retry or dead-letter) and the table holds no note
    assert result == {"batchItemFailures": []}
    assert notes_of(made.id, deal) == []


def test_the_existence_check_costs_one_consistent_read_and_no_transaction(gateway, token, runtime, stack, edge, notes_of):
    # GIVEN a live bot deal / WHEN its note is written, every DynamoDB request recorded
    made, auth = token()
    deal = create(gateway, auth)
    with edge.recording() as calls:
        assert runtime.invoke(FUNCTION, sqs_event(stack, create_event(made.id, deal))) == {"batchItemFailures": []}
    # THEN: one strongly consistent GetItem of the record (1 read unit) and the note's one PutItem;
    # no transaction (it would double the write units of every note)
    assert [(c.operation, c.params.get("ConsistentRead")) for c in calls.of("dynamodb", function=FUNCTION)] == [("GetItem", True), ("PutItem", None)]
    assert len(notes_of(made.id, deal)) == 1


def test_an_unreadable_message_fails_alone(gateway, token, runtime, stack):
    # GIVEN a batch with one good message and one that is not an event
    made, auth = token()
    deal = create(gateway, auth)
    event = sqs_event(stack, "not an event", create_event(made.id, deal))
    # WHEN handled / THEN only the bad one is reported failed (the queue retries it, then dead-letters it)
    result = runtime.invoke(FUNCTION, event)
    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert len(timeline(gateway, auth, deal).json()["data"]) == 1


def test_the_queue_mapping_delivers_to_the_function(gateway, token, runtime, stack, aws):
    # GIVEN a create event on the template's TimelineQueue
    made, auth = token()
    deal = create(gateway, auth)
    aws.client("sqs").send_message(QueueUrl=stack.queues["TimelineQueue"], MessageBody=create_event(made.id, deal))
    mapping = next(m for m in stack.event_source_mappings if m.function == FUNCTION)
    poller = SqsPoller(mapping, runtime, aws)
    # WHEN Lambda's poller runs it / THEN the note appears (other tests' messages may share the batch)
    deadline = time.monotonic() + 20
    while not timeline(gateway, auth, deal).json()["data"] and time.monotonic() < deadline:
        poller.poll_once()
    assert len(timeline(gateway, auth, deal).json()["data"]) == 1


# ---- the queue ---------------------------------------------------------------------------------------
def test_timeline_queue_retries_then_dead_letters(stack, aws):
    sqs = aws.client("sqs")
    queue = sqs.get_queue_attributes(QueueUrl=stack.queues["TimelineQueue"], AttributeNames=["All"])["Attributes"]
    dlq = sqs.get_queue_attributes(QueueUrl=stack.queues["TimelineDLQ"], AttributeNames=["All"])["Attributes"]
    redrive = json.loads(queue["RedrivePolicy"])
    function_timeout = stack.functions[FUNCTION].timeout
    mapping = next(m for m in stack.event_source_mappings if m.function == FUNCTION)
    assert redrive["deadLetterTargetArn"] == dlq["QueueArn"] and 1 < int(redrive["maxReceiveCount"]) <= 10
    assert int(queue["VisibilityTimeout"]) >= 6 * function_timeout
    assert int(dlq["MessageRetentionPeriod"]) == 14 * 24 * 3600
    assert mapping.reports_batch_item_failures
    # A batch at the hub's worst (every message waits its full budget) fits in the timeout.
    assert mapping.batch_size * 3.5 < function_timeout


# ---- the route ---------------------------------------------------------------------------------------
def test_another_companys_timeline_is_404(gateway, token, runtime, stack):
    made, auth = token()
    deal = create(gateway, auth)
    runtime.invoke(FUNCTION, sqs_event(stack, create_event(made.id, deal)))
    _, other = token()
    response = timeline(gateway, other, deal)
    assert response.status == 404 and response.json()["error"]["code"] == "not_found"
    assert gateway.invoke("GET", "/api/v3.1/deals/no-such-deal/timeline", headers=auth).status == 404
    assert gateway.invoke("GET", f"/api/v3.1/tickets/{deal['id']}/timeline", headers=auth).status == 404
    assert gateway.invoke("GET", f"/api/v3.1/deals/{deal['id']}/timeline").status == 401
