"""The AWS edge (``parity_dev.aws_edge``): a scripted fault reaches botocore exactly as AWS's own
error would, lasts across the SDK's retries unless told otherwise, writes nothing, and the recording
sees every attempt. Driven here with a client of this process; the functions' clients meet the same."""

from __future__ import annotations

import uuid

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError


@pytest.fixture
def dynamodb(aws):
    """A DynamoDB client retrying as the functions' do (standard mode, 3 attempts)."""
    return aws.session.client(
        "dynamodb", region_name=aws.region, endpoint_url=aws.endpoint_url,
        config=Config(retries={"mode": "standard", "total_max_attempts": 3}, account_id_endpoint_mode="disabled"),
    )


@pytest.fixture
def table(stack) -> str:
    return stack.outputs["PreviewTableName"]


def _key() -> dict:
    return {"pk": {"S": f"EDGE#{uuid.uuid4().hex}"}, "sk": {"S": "x"}}


def test_a_throttle_lasts_across_the_sdks_retries_and_writes_nothing(edge, dynamodb, table) -> None:
    key = _key()
    # GIVEN every PutItem throttled / WHEN one is sent
    with edge.fail("dynamodb", {"PutItem"}, "ProvisionedThroughputExceededException", message="Rate exceeded"), edge.recording() as calls:
        with pytest.raises(ClientError) as raised:
            dynamodb.put_item(TableName=table, Item=key)
    # THEN botocore raises DynamoDB's own error after its 3 attempts, each one answered by the fault
    assert raised.value.response["Error"] == {"Code": "ProvisionedThroughputExceededException", "Message": "Rate exceeded"}
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert [(c.operation, c.error) for c in calls.of("dynamodb")] == [("PutItem", "ProvisionedThroughputExceededException")] * 3
    # AND nothing was written; with the fault gone the table answers again
    assert "Item" not in dynamodb.get_item(TableName=table, Key=key)


def test_a_fault_for_one_attempt_is_retried_through(edge, dynamodb, table) -> None:
    key = _key()
    with edge.fail("dynamodb", {"PutItem"}, "ThrottlingException", times=1), edge.recording() as calls:
        dynamodb.put_item(TableName=table, Item=key)
    assert [c.error for c in calls.of("dynamodb", operations={"PutItem"})] == ["ThrottlingException", None]
    assert "Item" in dynamodb.get_item(TableName=table, Key=key)


def test_a_failed_condition_of_a_transaction_names_each_item(edge, dynamodb, table) -> None:
    items = [{"Put": {"TableName": table, "Item": _key()}} for _ in range(3)]
    with edge.fail_conditions({"TransactWriteItems", "PutItem"}):
        with pytest.raises(ClientError) as transaction:
            dynamodb.transact_write_items(TransactItems=items)
        with pytest.raises(ClientError) as single:
            dynamodb.put_item(TableName=table, Item=_key())
    assert transaction.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert [r["Code"] for r in transaction.value.response["CancellationReasons"]] == ["ConditionalCheckFailed"] * 3
    assert single.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert all("Item" not in dynamodb.get_item(TableName=table, Key=i["Put"]["Item"]) for i in items)


def test_an_action_runs_once_the_request_was_served(edge, dynamodb, aws, table) -> None:
    key = _key()
    seen = []
    edge.after("dynamodb", {"PutItem"}, lambda call: seen.append("Item" in aws.client("dynamodb").get_item(TableName=table, Key=key)))
    dynamodb.put_item(TableName=table, Item=key)
    dynamodb.put_item(TableName=table, Item=_key())
    assert seen == [True]  # the write was applied before the action ran, and the action ran once


def test_a_recording_names_the_service_operation_and_parameters_and_who_sent_it(edge, dynamodb, table) -> None:
    key = _key()
    with edge.recording() as calls:
        dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)
    (call,) = calls
    assert (call.service, call.operation, call.params["TableName"], call.params["ConsistentRead"]) == ("dynamodb", "GetItem", table, True)
    assert call.function is None and call.access_key == "testing"  # this process, not a function's worker


def test_recordings_nest_and_each_ends_as_its_own(edge, dynamodb, table) -> None:
    # GIVEN a recording, and inside it another begun before any request (the two lists are equal)
    with edge.recording() as outer:
        with edge.recording() as inner:
            dynamodb.get_item(TableName=table, Key=_key())
        # WHEN the inner one ends, THEN the outer one still records
        dynamodb.get_item(TableName=table, Key=_key())
    # THEN each saw its own requests, and both ended without error
    assert (len(inner), len(outer)) == (1, 2)


def test_a_fault_on_one_table_leaves_the_others_and_transactions_elsewhere_alone(edge, dynamodb, stack) -> None:
    # GIVEN reads of one table failing (as the demo takes the conversation table down for one function)
    down, up = stack.outputs["ConversationTableName"], stack.outputs["PreviewTableName"]
    with edge.fail("dynamodb", {"GetItem", "TransactWriteItems"}, "InternalServerError", status=500, table=down):
        # WHEN the same operations reach each table
        with pytest.raises(ClientError) as raised:
            dynamodb.get_item(TableName=down, Key=_key())
        assert "Item" not in dynamodb.get_item(TableName=up, Key=_key())
        with pytest.raises(ClientError):
            dynamodb.transact_write_items(TransactItems=[{"Put": {"TableName": up, "Item": _key()}}, {"Put": {"TableName": down, "Item": _key()}}])
        dynamodb.transact_write_items(TransactItems=[{"Put": {"TableName": up, "Item": _key()}}])
    # THEN only the requests on that table fail (a transaction when one of its items is on it)
    assert raised.value.response["Error"]["Code"] == "InternalServerError"
