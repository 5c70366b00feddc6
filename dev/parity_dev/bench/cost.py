"""Figure 5: modelled cost per million bot creates, end to end, from the counted requests.

PRICES: us-east-1 list prices, x86, on-demand, no free tier, as published on 2026-11-23 (the date
this table was written; check https://aws.amazon.com/<service>/pricing/ before trusting a cent).
"""

from __future__ import annotations

from typing import Any

PRICES = {
    "apigw_http_request": 1.00 / 1e6,  # HTTP API, first 300 M requests/month
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second": 0.0000166667,  # x86
    "sqs_request": 0.40 / 1e6,  # standard queue, per 64 KB chunk
    "dynamodb_wru": 0.625 / 1e6,  # on-demand write request unit
    "dynamodb_rru": 0.125 / 1e6,  # on-demand read request unit
    "logs_ingested_gb": 0.50,  # CloudWatch Logs standard ingestion
}
#: Lambda's own START/END/REPORT lines per invocation (not our output, still ingested).
PLATFORM_LOG_BYTES = 350
#: Assumed network wait per AWS request and per outbound HTTP call, added to the measured (stubbed)
#: durations: the bench does not wait on a real network.
AWS_REQUEST_MS = 10.0
HTTP_CALL_MS = 50.0


def model(ops: dict[str, dict[str, Any]], memory_mb: dict[str, int], *, sender_ms: float, sender_log_bytes: float, queued_bytes: float) -> dict[str, Any]:
    """Dollars per million creates. ``ops``: per operation ``requests``, ``ms``, ``log_bytes`` and
    ``write_units`` (wru/rru) per invocation; ``memory_mb``: the function's configured MemorySize;
    ``sender_ms`` and ``sender_log_bytes``: per message, measured by figure 7.

    One create = authorizer (cached token) + create + router + sender + receiver + timeline note:
    six invocations, two HTTP API requests (the create and the receiver's webhook), the router's
    SendMessageBatch per queue plus the Lambda pollers' receive and delete per message (batches
    of one at low traffic: the conservative case).
    """
    invocations = {
        "authorizer": ("authorizer_cached", "authorizer"),
        "create": ("create", "create_deal"),
        "router": ("router_per_create", "event_router"),
        "receiver": ("receiver_apply", "webhook_receiver"),
        "note": ("timeline_note", "timeline_note"),
    }
    gb_s = 0.0
    log_bytes = 0.0
    wru = rru = 0.0
    sqs = 0.0
    for _label, (op, fn) in invocations.items():
        o = ops[op]
        ms = o["ms"] + AWS_REQUEST_MS * o["requests"] + (HTTP_CALL_MS if op == "timeline_note" else 0)
        gb_s += memory_mb[fn] / 1024 * max(1.0, round(ms)) / 1000
        log_bytes += o["log_bytes"] + PLATFORM_LOG_BYTES
        wru += o["write_units"]["wru"]
        rru += o["write_units"]["rru"]
        sqs += o["calls"].get("sqs:SendMessageBatch", 0) + o["calls"].get("sqs:SendMessage", 0)
    # The sender: its measured wall time against the delayed receiver already includes the HTTP wait.
    gb_s += memory_mb["webhook_sender"] / 1024 * sender_ms / 1000
    log_bytes += sender_log_bytes + PLATFORM_LOG_BYTES
    queues = 2  # webhook + timeline queue
    sqs += queues * 2 * max(1, -(-int(queued_bytes / queues) // 65536))  # receive + delete per message
    # Keys-only RoomRecords index: one standard write per record write.
    wru += 1
    lines = {
        "api_gateway": 2 * PRICES["apigw_http_request"],
        "lambda_requests": 6 * PRICES["lambda_request"],
        "lambda_compute": gb_s * PRICES["lambda_gb_second"],
        "sqs": sqs * PRICES["sqs_request"],
        "dynamodb": wru * PRICES["dynamodb_wru"] + rru * PRICES["dynamodb_rru"],
        "logs": log_bytes / 1024**3 * PRICES["logs_ingested_gb"],
    }
    per_million = {k: v * 1e6 for k, v in lines.items()}
    return {
        "per_million_usd": per_million,
        "total_usd": sum(per_million.values()),
        "units_per_create": {"gb_s": gb_s, "sqs_requests": sqs, "wru": wru, "rru": rru, "log_bytes": log_bytes, "lambda_invocations": 6, "http_api_requests": 2},
    }


def memory_sizes(template: dict[str, Any]) -> dict[str, int]:
    """Function directory name → MemorySize (Globals applied)."""
    default = int(template.get("Globals", {}).get("Function", {}).get("MemorySize", 128))
    sizes = {}
    for res in template.get("Resources", {}).values():
        if res.get("Type") == "AWS::Serverless::Function":
            props = res.get("Properties", {})
            sizes[str(props.get("CodeUri", "")).rstrip("/").rsplit("/", 1)[-1]] = int(props.get("MemorySize", default))
    return sizes
