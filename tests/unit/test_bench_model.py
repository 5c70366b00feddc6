"""The bench's arithmetic and request counter (no timing assertions: budgets are checked by `make bench`)."""

from pathlib import Path

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


def test_batches_at_volume_divide_receives_deletes_and_invocations():
    op = {"requests": 0, "ms": 0.0, "log_bytes": 0.0, "calls": {}, "write_units": {"wru": 0.0, "rru": 0.0}}
    ops = {k: dict(op) for k in ("authorizer_cached", "create", "router_per_create", "receiver_apply", "timeline_note")}
    mem = {k: 256 for k in ("authorizer", "create_deal", "event_router", "webhook_receiver", "timeline_note", "webhook_sender")}
    one = cost.model(ops, mem, sender_ms=0.0, sender_log_bytes=0.0, queued_bytes=1000, arch="arm64")
    five = cost.model(ops, mem, sender_ms=0.0, sender_log_bytes=0.0, queued_bytes=1000, arch="arm64", receive_batch=5, stream_batch=50)
    assert round(one["per_million_usd"]["sqs"], 6) == round(4 * 0.40, 6)
    assert round(five["per_million_usd"]["sqs"], 6) == round(4 * 0.40 / 5, 6)
    assert one["units_per_create"]["lambda_invocations"] == 6
    assert abs(five["units_per_create"]["lambda_invocations"] - (3 + 1 / 50 + 2 / 5)) < 1e-9


def test_inbound_model_prices_every_counted_line():
    counts = {"per_message": {"functions": {"channel_webhook": {"invocations": 1, "ms_per_invocation": 20.0, "log_bytes_per_invocation": 0.0}},
                              "calls": {"sqs:SendMessage": 1.0}, "wru": 2.0, "rru": 1.0, "events": 1.0}}
    out = cost.model_inbound(counts, {"channel_webhook": 1024}, arch="arm64")
    per = out["per_million_usd"]
    assert round(per["api_gateway"], 6) == 1.0 and round(per["eventbridge"], 6) == 1.0
    assert round(per["sqs"], 6) == round(3 * 0.40, 6)  # send, receive, delete
    assert round(per["dynamodb"], 6) == round(2 * 0.625 + 0.125, 6)
    assert round(per["lambda_compute"], 6) == round(0.02 * cost.PRICES["lambda_gb_second_arm64"] * 1e6, 6)


def test_lambdas_own_lines_are_priced_only_when_the_template_lets_them_through():
    # GIVEN the template's SystemLogLevel, given as a parameter (its default) or written out
    def template(level, default=None):
        params = {"PlatformLogLevel": {"Type": "String", "Default": default}} if default else {}
        return {"Parameters": params, "Globals": {"Function": {"LoggingConfig": {"LogFormat": "JSON", "SystemLogLevel": level}}}}

    # THEN START/END/REPORT are counted at INFO or DEBUG, and not at WARN (nor with no LoggingConfig: Lambda's default is INFO)
    assert cost.platform_log_bytes(template({"Ref": "PlatformLogLevel"}, "WARN")) == 0
    assert cost.platform_log_bytes(template({"Ref": "PlatformLogLevel"}, "INFO")) == cost.PLATFORM_LOG_BYTES
    assert cost.platform_log_bytes(template("DEBUG")) == cost.PLATFORM_LOG_BYTES
    assert cost.platform_log_bytes({"Globals": {"Function": {}}}) == cost.PLATFORM_LOG_BYTES
    # AND the repository's template drops them
    from parity_dev.stack import load_template

    assert cost.platform_log_bytes(load_template(Path(__file__).resolve().parents[2] / "template.yaml")) == 0
    # AND a model without them is cheaper by exactly their bytes
    op = {"requests": 0, "ms": 0.0, "log_bytes": 0.0, "calls": {}, "write_units": {"wru": 0.0, "rru": 0.0}}
    ops = {k: dict(op) for k in ("authorizer_cached", "create", "router_per_create", "receiver_apply", "timeline_note")}
    mem = {k: 128 for k in ("authorizer", "create_deal", "event_router", "webhook_receiver", "timeline_note", "webhook_sender")}
    assert cost.model(ops, mem, sender_ms=0.0, sender_log_bytes=0.0, queued_bytes=0, platform_bytes=0)["units_per_create"]["log_bytes"] == 0
