"""Figure 5: modelled cost per million bot creates and per million inbound messages, end to end, from
the counted requests.

PRICES: us-east-1 list prices, on-demand, no free tier. Table of 2026-11-23, re-checked 2026-11-29
(issue 17) against the sources in ``SOURCES``: DynamoDB on-demand throughput was halved on
2024-11-01 (WRU $1.25 → $0.625, RRU $0.25 → $0.125 per million), which this table already had;
Lambda arm64 duration is 20 % under x86 ($0.0000133334 vs $0.0000166667 per GB-s, first tier).
Check https://aws.amazon.com/<service>/pricing/ before trusting a cent.
"""

from __future__ import annotations

from typing import Any

PRICES_DATE = "2026-11-29"
PRICES = {
    "apigw_http_request": 1.00 / 1e6,  # HTTP API, first 300 M requests/month
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second": 0.0000166667,  # x86, first 6 B GB-s/month
    "lambda_gb_second_arm64": 0.0000133334,  # arm64 (Graviton), first 7.5 B GB-s/month
    "eventbridge_event": 1.00 / 1e6,  # custom events, per 64 KB chunk
    "ssm_higher_throughput_request": 0.05 / 1e4,  # GetParameter with higher throughput on; standard throughput: no charge (40 TPS)
    "kms_request": 0.03 / 1e4,  # a SecureString read decrypts with KMS
    "sqs_request": 0.40 / 1e6,  # standard queue, per 64 KB chunk
    "dynamodb_wru": 0.625 / 1e6,  # on-demand write request unit
    "dynamodb_rru": 0.125 / 1e6,  # on-demand read request unit
    "logs_ingested_gb": 0.50,  # CloudWatch Logs standard ingestion
}
SOURCES = {
    "dynamodb": "aws.amazon.com/dynamodb/pricing/on-demand; the 2024-11-01 reduction as reported e.g. by airbyte.com/data-engineering-resources/dynamodb-pricing (2025-07-21)",
    "lambda": "aws.amazon.com/lambda/pricing; x86 and arm64 duration rates as tabulated e.g. by cloudchipr.com/blog/aws-lambda-pricing",
    "eventbridge": "aws.amazon.com/eventbridge/pricing (custom events $1.00/M, 64 KB chunks)",
    "ssm": "aws.amazon.com/systems-manager/pricing (standard parameters, standard throughput: no API charge; higher throughput $0.05 per 10,000)",
    "kms": "aws.amazon.com/kms/pricing ($0.03 per 10,000 requests)",
    "sqs": "aws.amazon.com/sqs/pricing (standard, $0.40/M after 1 M free)",
    "apigateway": "aws.amazon.com/api-gateway/pricing (HTTP APIs $1.00/M for the first 300 M)",
    "logs": "aws.amazon.com/cloudwatch/pricing (Standard log ingestion $0.50/GB)",
}
#: Lambda's own START/END/REPORT lines per invocation (not our output, ingested when the functions'
#: SystemLogLevel is INFO or DEBUG: ``platform_log_bytes``).
PLATFORM_LOG_BYTES = 350
#: Assumed network wait per AWS request and per outbound HTTP call, added to the measured (stubbed)
#: durations: the bench does not wait on a real network.
AWS_REQUEST_MS = 10.0
HTTP_CALL_MS = 50.0


def model(ops: dict[str, dict[str, Any]], memory_mb: dict[str, int], *, sender_ms: float, sender_log_bytes: float, queued_bytes: float, arch: str = "x86_64",
          receive_batch: int = 1, stream_batch: int = 1, platform_bytes: float = PLATFORM_LOG_BYTES) -> dict[str, Any]:
    """Dollars per million creates. ``ops``: per operation ``requests``, ``ms``, ``log_bytes`` and
    ``write_units`` (wru/rru) per invocation; ``memory_mb``: the function's configured MemorySize;
    ``sender_ms`` and ``sender_log_bytes``: per message, measured by figure 7.

    One create = authorizer (cached token) + create + router + sender + receiver + timeline note:
    six invocations, two HTTP API requests (the create and the receiver's webhook), the router's
    SendMessageBatch per queue plus the Lambda pollers' receive and delete per message (batches
    of one at low traffic: the conservative case).

    ``receive_batch``: messages per SQS receive for the sender and the note (their BatchSize is 5:
    at volume a receive and a delete serve 5 messages, and one invocation does); ``stream_batch``:
    stream records per router invocation. Both 1 by default (the conservative case).
    ``platform_bytes``: Lambda's own log bytes per invocation (``platform_log_bytes`` of the template).
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
    per_invocation = {"router": 1 / stream_batch, "note": 1 / receive_batch}
    for label, (op, fn) in invocations.items():
        o = ops[op]
        ms = o["ms"] + AWS_REQUEST_MS * o["requests"] + (HTTP_CALL_MS if op == "timeline_note" else 0)
        gb_s += memory_mb[fn] / 1024 * max(1.0, round(ms)) / 1000
        log_bytes += o["log_bytes"] + platform_bytes * per_invocation.get(label, 1)
        wru += o["write_units"]["wru"]
        rru += o["write_units"]["rru"]
        sqs += o["calls"].get("sqs:SendMessageBatch", 0) + o["calls"].get("sqs:SendMessage", 0)
    # The sender: its measured wall time against the delayed receiver already includes the HTTP wait.
    gb_s += memory_mb["webhook_sender"] / 1024 * sender_ms / 1000
    log_bytes += sender_log_bytes + platform_bytes / receive_batch
    queues = 2  # webhook + timeline queue
    sqs += queues * 2 * max(1, -(-int(queued_bytes / queues) // 65536)) / receive_batch  # receive + delete per message (per batch)
    invocations_per_create = 3 + 1 / stream_batch + 2 / receive_batch
    # Keys-only RoomRecords index: one standard write per record write.
    wru += 1
    lines = {
        "api_gateway": 2 * PRICES["apigw_http_request"],
        "lambda_requests": invocations_per_create * PRICES["lambda_request"],
        "lambda_compute": gb_s * gb_second_price(arch),
        "sqs": sqs * PRICES["sqs_request"],
        "dynamodb": wru * PRICES["dynamodb_wru"] + rru * PRICES["dynamodb_rru"],
        "logs": log_bytes / 1024**3 * PRICES["logs_ingested_gb"],
    }
    per_million = {k: v * 1e6 for k, v in lines.items()}
    return {
        "per_million_usd": per_million,
        "total_usd": sum(per_million.values()),
        "units_per_create": {"gb_s": gb_s, "sqs_requests": sqs, "wru": wru, "rru": rru, "log_bytes": log_bytes, "lambda_invocations": invocations_per_create, "http_api_requests": 2},
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


def platform_log_bytes(template: dict[str, Any]) -> float:
    """Lambda's own log bytes per invocation the deployed functions ingest: its START, END and REPORT
    lines are INFO, so none when the template's SystemLogLevel (Globals; a parameter's default) is WARN."""
    level = (template.get("Globals", {}).get("Function", {}).get("LoggingConfig") or {}).get("SystemLogLevel", "INFO")
    if isinstance(level, dict) and "Ref" in level:
        level = template.get("Parameters", {}).get(level["Ref"], {}).get("Default", "INFO")
    return PLATFORM_LOG_BYTES if level in ("DEBUG", "INFO") else 0.0


def gb_second_price(arch: str) -> float:
    return PRICES["lambda_gb_second_arm64"] if arch == "arm64" else PRICES["lambda_gb_second"]


def architecture(template: dict[str, Any]) -> str:
    """The functions' architecture (Globals), "x86_64" unless the template says arm64."""
    archs = template.get("Globals", {}).get("Function", {}).get("Architectures") or ["x86_64"]
    return str(archs[0])


#: A warm container reads a channel's signing secret from SSM at most once a minute
#: (``parity.conversations.secrets.CACHE_SECONDS``). How many messages share one read depends on
#: traffic per channel and container; the model assumes one read per 100 messages (a channel with
#: ≥ 100 messages a minute per warm container) and prints the line so its weight is visible.
SSM_READS_PER_MESSAGE = 0.01


def model_inbound(counts: dict[str, Any], memory_mb: dict[str, int], *, arch: str, platform_bytes: float = PLATFORM_LOG_BYTES) -> dict[str, Any]:
    """Dollars per million inbound messages from ``counts`` (``inbound_counts``): per message, the
    AWS requests each function made, its invocations (batches of one: the conservative case), its
    measured duration per invocation on the local stack (moto round trips included) and its log
    bytes; one HTTP API request (the provider's webhook)."""
    per = counts["per_message"]
    gb_s = sum(memory_mb[fn] / 1024 * max(1.0, f["ms_per_invocation"]) / 1000 * f["invocations"] for fn, f in per["functions"].items())
    invocations = sum(f["invocations"] for f in per["functions"].values())
    log_bytes = sum((f["log_bytes_per_invocation"] + platform_bytes) * f["invocations"] for f in per["functions"].values())
    sqs_sends = per["calls"].get("sqs:SendMessage", 0) + per["calls"].get("sqs:SendMessageBatch", 0)
    sqs = sqs_sends * 3  # send, then the poller's receive and delete (batches of one)
    lines = {
        "api_gateway": PRICES["apigw_http_request"],
        "lambda_requests": invocations * PRICES["lambda_request"],
        "lambda_compute": gb_s * gb_second_price(arch),
        "sqs": sqs * PRICES["sqs_request"],
        "dynamodb": per["wru"] * PRICES["dynamodb_wru"] + per["rru"] * PRICES["dynamodb_rru"],
        "eventbridge": per["events"] * PRICES["eventbridge_event"],
        "ssm_kms": SSM_READS_PER_MESSAGE * (PRICES["ssm_higher_throughput_request"] + PRICES["kms_request"]),
        "logs": log_bytes / 1024**3 * PRICES["logs_ingested_gb"],
    }
    per_million = {k: v * 1e6 for k, v in lines.items()}
    return {"per_million_usd": per_million, "total_usd": sum(per_million.values()),
            "units_per_message": {"gb_s": gb_s, "lambda_invocations": invocations, "sqs_requests": sqs, "wru": per["wru"], "rru": per["rru"],
                                  "events": per["events"], "log_bytes": log_bytes, "http_api_requests": 1, "ssm_reads": SSM_READS_PER_MESSAGE}}


def inbound_counts(root: Any, *, customers: int = 5, messages_each: int = 6) -> dict[str, Any]:
    """Inbound messages through the local stack (webhook → ingest → conversation outbox), counted:
    every AWS request at the edge by the function that signed it, every invocation's REPORT line
    (duration) and the bytes each function logged. The customers' first messages (new contact, new
    conversation) are sent and drained first, unmeasured: the figure is a message in a running
    conversation, the common case. DynamoDB units from the requests' items (the GSI writes a
    conversation update causes are added: ``ByActivity`` projects ALL, and its key moves)."""
    import time
    from collections import Counter, defaultdict
    from datetime import datetime, timezone

    from parity_dev import simulate
    from parity_dev.bench.awsstub import item_size, read_units, write_units
    from parity_dev.bench.handlers import silenced
    from parity_dev.local_stack import LocalStack

    stack = LocalStack(root / "template.yaml", port=0)
    with silenced():
        stack.start([("cost-co", "cost-key")])
    try:
        gw = stack.gateway
        token = gw.invoke("POST", "/api/v3.1/teams/company_token", headers={"X-Crm-Api-Key": "cost-key"}, json={"sso_id": "cost"}).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        secret = "cost-meta-app-secret"
        channel = gw.invoke("POST", "/api/v3.1/channels", headers=auth, json={"type": "whatsapp", "name": "cost line", "secret": secret, "api_token": "cost-token-1234",
                                                                               "account_id": "106540352242922", "verify_token": "v", "default_region": "ID"}).json()["data"]

        def send(i: int, n: int) -> None:
            payload = simulate.whatsapp(sender=f"628120000{i:04d}", text=f"pesan {n} tentang pesanan saya", name=f"Budi {i}", at=datetime.now(timezone.utc))
            body, headers = simulate.signed("whatsapp", payload, secret)
            answer = gw.invoke("POST", f"/channels/whatsapp/{channel['id']}", headers=headers, body=body)
            if answer.status != 200:
                raise RuntimeError(f"webhook answered {answer.status}")

        def drained() -> None:
            sqs = stack.clients.client("sqs")
            for _ in range(200):
                depth = sum(int(v) for url in (stack.deployed.outputs["IngestQueueUrl"], stack.deployed.outputs["DeliveryQueueUrl"])
                            for v in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"].values())
                if depth == 0:
                    time.sleep(1.5)  # the stream records that follow
                    return
                time.sleep(0.2)

        with silenced():
            for i in range(customers):
                send(i, 0)
            drained()
            lines: dict[str, list[str]] = defaultdict(list)
            with stack.edge.recording() as calls, stack.runtime.captured_logs() as logs:
                tap = lambda fn, line: lines[fn].append(line)  # noqa: E731
                stack.runtime._taps.append(tap)
                try:
                    for n in range(1, messages_each + 1):
                        for i in range(customers):
                            send(i, n)
                            time.sleep(0.05)  # one message at a time: batches of one, as the model assumes
                    drained()
                finally:
                    stack.runtime._taps.remove(tap)
        del logs
        total = customers * messages_each
        names = {lid: spec.code_dir.name for lid, spec in stack.deployed.functions.items() if spec.code_dir is not None}
        mine = [c for c in calls if c.function is not None]
        functions: dict[str, Any] = {}
        for lid, fn_lines in lines.items():
            reports = [ln for ln in fn_lines if ln.startswith("REPORT RequestId:")]
            own = [ln for ln in fn_lines if not ln.startswith(("START RequestId:", "END RequestId:", "REPORT RequestId:", "INIT_"))]
            durations = [float(ln.split("Duration: ", 1)[1].split(" ms", 1)[0]) for ln in reports]
            if not reports or lid == "AuthorizerFunction":
                continue
            functions[names[lid]] = {"invocations": len(reports) / total, "ms_per_invocation": sum(durations) / len(durations),
                                     "log_bytes_per_invocation": sum(len(ln.encode()) + 1 for ln in own) / len(reports)}
        conversation_items = [i for i in stack.clients.client("dynamodb").scan(TableName=stack.deployed.outputs["ConversationTableName"])["Items"] if i.get("entity", {}).get("S") == "conversation"]
        conversation_kb = max(1, -(-max(item_size(i) for i in conversation_items) // 1024)) if conversation_items else 1
        wru = rru = 0.0
        events = 0
        for c in mine:
            if c.service == "dynamodb":
                if c.operation == "UpdateItem":
                    wru += conversation_kb + 2 * conversation_kb  # the item, and its ByActivity entry moved (delete + put)
                else:
                    wru += write_units(c.operation, c.params)
                rru += read_units(c.operation, c.params)
            if c.service == "events" and c.operation == "PutEvents":
                events += len(c.params.get("Entries", []))
        per_call = Counter(f"{c.service}:{c.operation}" for c in mine)
        by_function = Counter(f"{names.get(c.function, c.function)} {c.service}:{c.operation}" for c in mine)
        return {"messages": total, "conversation_item_kb": conversation_kb, "per_message": {
            "functions": functions, "calls": {k: v / total for k, v in per_call.items()}, "by_function": {k: v / total for k, v in sorted(by_function.items())},
            "wru": wru / total, "rru": rru / total, "events": events / total}}
    finally:
        with silenced():
            stack.stop()
