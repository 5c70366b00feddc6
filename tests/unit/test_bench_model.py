"""The bench's arithmetic and request counter (no timing assertions: budgets are checked by `make bench`)."""

from parity_dev.bench import awsstub, cost


def test_transactional_writes_cost_two_units_per_kb_per_item():
    small = {"pk": {"S": "a"}, "sk": {"S": "b"}}
    big = {"pk": {"S": "a"}, "blob": {"S": "x" * 1500}}
    params = {"TransactItems": [{"Put": {"Item": small}}, {"Put": {"Item": big}}, {"ConditionCheck": {"Key": small}}]}
    assert awsstub.write_units("TransactWriteItems", params) == 2 * 1 + 2 * 2 + 2
    assert awsstub.write_units("PutItem", {"Item": big}) == 2
    assert awsstub.read_units("GetItem", {}) == 0.5


def test_cost_model_adds_up():
    op = {"requests": 1, "ms": 0.0, "log_bytes": 0.0, "calls": {}, "write_units": {"wru": 0.0, "rru": 0.0}}
    ops = {k: dict(op) for k in ("authorizer_cached", "create", "router_per_create", "receiver_apply", "timeline_note")}
    mem = {k: 1024 for k in ("authorizer", "create_deal", "event_router", "webhook_receiver", "timeline_note", "webhook_sender")}
    out = cost.model(ops, mem, sender_ms=0.0, sender_log_bytes=0.0, queued_bytes=1000)
    per = out["per_million_usd"]
    assert round(per["api_gateway"], 6) == 2.0
    assert round(per["lambda_requests"], 6) == 1.2
    assert round(per["sqs"], 6) == round(4 * 0.40, 6)  # receive + delete on two queues
    assert round(per["dynamodb"], 6) == 0.625  # the index write only
    assert abs(out["total_usd"] - sum(per.values())) < 1e-9


def test_counter_counts_each_request_once():
    import boto3

    with awsstub.AwsStub() as stub:
        client = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
        client.put_item(TableName="t", Item={"pk": {"S": "a"}})
        client.get_item(TableName="t", Key={"pk": {"S": "a"}})
    assert stub.calls == {"dynamodb:PutItem": 1, "dynamodb:GetItem": 1}


def test_measured_log_bytes_are_priced_per_gb_with_the_platform_lines():
    # GIVEN every hop logging nothing but the sender 1 KiB per message
    op = {"requests": 0, "ms": 0.0, "log_bytes": 0.0, "calls": {}, "write_units": {"wru": 0.0, "rru": 0.0}}
    ops = {k: dict(op) for k in ("authorizer_cached", "create", "router_per_create", "receiver_apply", "timeline_note")}
    mem = {k: 128 for k in ("authorizer", "create_deal", "event_router", "webhook_receiver", "timeline_note", "webhook_sender")}
    quiet = cost.model(ops, mem, sender_ms=0.0, sender_log_bytes=0.0, queued_bytes=0)
    chatty = cost.model(ops, mem, sender_ms=0.0, sender_log_bytes=1024.0, queued_bytes=0)
    # THEN the extra KiB per create costs KiB/GiB x the ingestion price per million creates
    extra = chatty["per_million_usd"]["logs"] - quiet["per_million_usd"]["logs"]
    assert abs(extra - 1e6 * cost.PRICES["logs_ingested_gb"] / 1024**2) < 1e-9
    # AND the platform lines of six invocations are counted even when we log nothing
    assert quiet["units_per_create"]["log_bytes"] == 6 * cost.PLATFORM_LOG_BYTES
