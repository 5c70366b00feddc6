"""One record's trail on moto: the correlation id from the create request through the stream,
both queues, the sender, the receiver and the timeline note, with the company, room and record on
every line; and each hop's RFC metric as an EMF line (issue 6, "Observability"). Read from the
functions' own logs, as CloudWatch would hold them: what their workers wrote to stdout."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def trail(runtime) -> Iterator[Any]:
    """``trail()``: the functions' log lines and EMF lines since the last call (every function, every worker)."""
    with runtime.captured_logs() as logs:

        def read() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            lines = logs.json()
            logs.clear()
            return [line for line in lines if "_aws" not in line], [line for line in lines if "_aws" in line]

        yield read


def totals(metric_lines: list[dict[str, Any]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in metric_lines:
        for metric in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            out[metric["Name"]] = out.get(metric["Name"], 0) + sum(line[metric["Name"]])
    return out


def test_one_correlation_id_follows_a_bot_deal_through_every_hop(wired, company, trail, stack):
    made = company()
    auth = wired.login(made.api_key)
    trail()  # forget the login's lines
    # GIVEN a bot creates a deal in a room, naming its own correlation id
    correlation = f"flow-7-run-{made.id}"
    response = wired.gateway.invoke("POST", "/api/v3.1/deals", headers={**auth, "X-Correlation-Id": correlation},
                                    json={"name": "Budi", "channel_integration_room_id": "room-123", "creator_flag": "bot"})
    assert response.status == 201 and response.headers["x-correlation-id"] == correlation
    deal = response.json()["data"]
    # WHEN the pipeline runs (stream → router → queues → sender → receiver, and → note)
    wired.drain()
    assert wired.preview(auth, "room-123")["deal"]["id"] == deal["id"]
    logs, metric_lines = trail()
    # THEN every hop logged under the same id, naming the company, room and record
    mine = [line for line in logs if line.get("correlation_id") == correlation]
    hops = {line["message"] for line in mine}
    assert {"deal created", "event queued", "webhook delivered", "webhook received", "timeline note"} <= hops
    for line in mine:
        assert (line.get("company_id"), line.get("room_id"), line.get("record_id")) == (made.id, "room-123", deal["id"]), line
    # AND the id is stored with the record for the stream, but is not part of the record's API shape
    item = wired.aws.client("dynamodb").get_item(TableName=stack.outputs["CrmTableName"], Key={"pk": {"S": f"COMPANY#{made.id}"}, "sk": {"S": f"DEAL#{deal['id']}"}})["Item"]
    assert item["correlation_id"]["S"] == correlation and item["room_key"]["S"] == f"{made.id}#room-123"
    assert "correlation_id" not in deal and "room_key" not in deal
    # AND each hop counted its metric: the create (router), the delivery with its latency, the note, the preview shown
    counted = totals(metric_lines)
    assert counted["bot_deal_created"] == 1 and counted["webhook_delivered"] >= 1 and counted["timeline_log_created"] == 1
    assert counted["deal_preview_displayed"] == 1 and 0 < counted["webhook_delivery_latency"] < 15_000


def test_without_a_producer_id_api_gateways_request_id_is_the_trail(wired, company, trail):
    made = company()
    auth = wired.login(made.api_key)
    response = wired.gateway.invoke("POST", "/api/v3.1/tickets", headers=auth, json={"name": "Refund", "channel_integration_room_id": "room-456", "creator_flag": "agentic_ai"})
    correlation = response.headers["x-correlation-id"]
    wired.drain()
    logs, metric_lines = trail()
    hops = {line["message"] for line in logs if line.get("correlation_id") == correlation}
    assert {"ticket created", "event queued", "webhook delivered", "webhook received", "timeline note"} <= hops
    assert totals(metric_lines)["ai_ticket_created"] == 1


def test_failed_deliveries_and_notes_without_preview_are_counted(wired, company, trail):
    made = company()
    auth = wired.login(made.api_key)
    trail()
    # GIVEN the receiver and the hub are both unreachable
    with wired.setting(OMNICHANNEL_WEBHOOK_URL="http://127.0.0.1:9/webhooks/qontak-crm", HUB_API_BASE_URL="http://127.0.0.1:9"):
        deal = wired.create(auth)
        wired.drain()
    logs, metric_lines = trail()
    counted = totals(metric_lines)
    # THEN each failed attempt counts (3 attempts, then the DLQ), and the note is written without preview
    assert counted["webhook_delivery_failed"] == 3 and "webhook_delivered" not in counted
    assert counted["timeline_log_created"] == 1 and counted["timeline_preview_unavailable"] == 1
    dead = [line for line in logs if line["message"] == "webhook dead-lettered"]
    assert dead and dead[-1]["record_id"] == deal["id"]
