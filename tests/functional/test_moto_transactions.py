"""The embedded DynamoDB keeps a cancelled TransactWriteItems out of the table's stream, as DynamoDB
does (``parity_dev.moto_fixes.atomic_moto_transactions``): otherwise an idempotent replay, or a create with an
unknown contact, leaks a phantom record into the outbox and silences every later write."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError
from parity_dev.moto_fixes import atomic_moto_transactions


def _stream_keys(streams, arn: str, iterator: str) -> list[str]:
    records = streams.get_records(ShardIterator=iterator)["Records"]
    return [r["dynamodb"]["Keys"]["pk"]["S"] for r in records]


def test_a_cancelled_transaction_leaves_no_stream_record_and_later_writes_still_stream(aws):
    # (the stack's AWS, in its own process, made its transactions atomic when it started)
    dynamodb, streams = aws.client("dynamodb"), aws.client("dynamodbstreams")
    name = f"tx-{uuid.uuid4().hex[:8]}"
    table = dynamodb.create_table(
        TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    arn = table["LatestStreamArn"]
    # GIVEN an idempotency entry already there, and a stream reader positioned after it
    dynamodb.put_item(TableName=name, Item={"pk": {"S": "IDEMPOTENCY#k"}})
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")["ShardIterator"]
    # WHEN a create's transaction (new record + the same idempotency entry) is cancelled
    with pytest.raises(ClientError) as cancelled:
        dynamodb.transact_write_items(TransactItems=[
            {"Put": {"TableName": name, "Item": {"pk": {"S": "DEAL#phantom"}}, "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Put": {"TableName": name, "Item": {"pk": {"S": "IDEMPOTENCY#k"}}, "ConditionExpression": "attribute_not_exists(pk)"}},
        ])
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    # ... and a later write succeeds
    dynamodb.put_item(TableName=name, Item={"pk": {"S": "DEAL#real"}})
    # THEN the table and its stream hold the later write only, and the same reader sees it
    assert "Item" not in dynamodb.get_item(TableName=name, Key={"pk": {"S": "DEAL#phantom"}})
    assert _stream_keys(streams, arn, iterator) == ["DEAL#real"]


def test_a_cancelled_transaction_puts_back_every_item_it_changed_and_keeps_the_others(aws):
    dynamodb = aws.client("dynamodb")
    name = f"tx-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )

    def key(sk: str) -> dict:
        return {"pk": {"S": "p"}, "sk": {"S": sk}}

    # GIVEN items a transaction will update and delete, and one it does not name
    dynamodb.put_item(TableName=name, Item={**key("updated"), "n": {"N": "1"}})
    dynamodb.put_item(TableName=name, Item={**key("deleted"), "n": {"N": "1"}})
    dynamodb.put_item(TableName=name, Item={**key("other"), "n": {"N": "1"}})
    # WHEN a transaction puts a new item, updates one, deletes one, and then fails a condition
    with pytest.raises(ClientError) as cancelled:
        dynamodb.transact_write_items(TransactItems=[
            {"Put": {"TableName": name, "Item": {**key("new"), "n": {"N": "1"}}}},
            {"Update": {"TableName": name, "Key": key("updated"), "UpdateExpression": "SET n = :two, extra = :x",
                        "ExpressionAttributeValues": {":two": {"N": "2"}, ":x": {"S": "x"}}}},
            {"Delete": {"TableName": name, "Key": key("deleted")}},
            {"ConditionCheck": {"TableName": name, "Key": key("other"), "ConditionExpression": "n = :nine",
                                "ExpressionAttributeValues": {":nine": {"N": "9"}}}},
        ])
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    # THEN the table is as it was: no new item, the updated one unchanged, the deleted one back
    items = dynamodb.scan(TableName=name, ConsistentRead=True)["Items"]
    assert sorted((i["sk"]["S"], i["n"]["N"], "extra" in i) for i in items) == [("deleted", "1", False), ("other", "1", False), ("updated", "1", False)]
    # AND the table still takes writes
    dynamodb.put_item(TableName=name, Item={**key("after"), "n": {"N": "1"}})
    assert "Item" in dynamodb.get_item(TableName=name, Key=key("after"))


def test_the_embedded_dynamodb_frees_what_its_transactions_and_queries_copied(aws_here):
    import gc

    from moto.dynamodb.models.table import Table

    atomic_moto_transactions()
    dynamodb = aws_here.client("dynamodb")
    name = f"tx-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    dynamodb.put_item(TableName=name, Item={"pk": {"S": "taken"}})
    gc.collect()
    before = sum(1 for o in gc.get_objects() if isinstance(o, Table))
    # GIVEN transactions that commit and ones that are cancelled, and queries (moto deep-copies the
    # table for each transaction's undo, and the items a query returns)
    for n in range(20):
        dynamodb.transact_write_items(TransactItems=[{"Put": {"TableName": name, "Item": {"pk": {"S": f"k{n}"}}}}])
        with pytest.raises(ClientError):
            dynamodb.transact_write_items(TransactItems=[{"Put": {"TableName": name, "Item": {"pk": {"S": "taken"}}, "ConditionExpression": "attribute_not_exists(pk)"}}])
        dynamodb.query(TableName=name, KeyConditionExpression="pk = :k", ExpressionAttributeValues={":k": {"S": f"k{n}"}})
    # WHEN the garbage is collected
    gc.collect()
    # THEN no copy of the table is left alive (moto's model tracking kept every one: the stack grew
    # by a copy of each table per transaction)
    assert sum(1 for o in gc.get_objects() if isinstance(o, Table)) == before
