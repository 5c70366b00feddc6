"""The embedded AWS tells the local pollers when a queue or a stream has work
(``parity_dev.moto_fixes.signal_work``, heard across ``parity_dev.aws_process``'s pipe), counts a queue's
messages only when a count is asked for, and finds a request's backend without listing moto's
package on every request. The signals are heard from the session's stack (its AWS in a process of
its own); moto's objects are looked at in a server of this process (``aws_here``)."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def work(local_stack):
    return local_stack.moto.work


@pytest.fixture
def queue(aws) -> tuple[str, str]:
    name = f"work-{uuid.uuid4().hex[:8]}"
    return name, aws.client("sqs").create_queue(QueueName=name, Attributes={"VisibilityTimeout": "1"})["QueueUrl"]


def _table(aws) -> str:
    name = f"work-{uuid.uuid4().hex[:8]}"
    aws.client("dynamodb").create_table(
        TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return name


def test_a_message_sent_is_work_at_once_and_a_delayed_one_when_its_delay_ends(aws, work, queue):
    name, url = queue
    sqs = aws.client("sqs")
    # GIVEN a poller that looked at the queue / WHEN a message is sent
    seen = work.seen(f"sqs:{name}")
    sqs.send_message(QueueUrl=url, MessageBody="now")
    # THEN the poller has work at once
    assert work.wait(f"sqs:{name}", seen, timeout=2) is True
    # GIVEN it polled again / WHEN a message delayed by 1 s is sent
    seen = work.seen(f"sqs:{name}")
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=1)
    # THEN there is no work until the delay ends, then there is, and the message can be received
    assert work.wait(f"sqs:{name}", seen, timeout=0.3) is False
    assert work.wait(f"sqs:{name}", seen, timeout=5) is True
    bodies = {m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]}
    assert bodies == {"now", "later"}


def test_a_received_message_not_deleted_is_work_again_when_its_visibility_timeout_ends(aws, work, queue):
    name, url = queue
    sqs = aws.client("sqs")
    sqs.send_message(QueueUrl=url, MessageBody="retry me")
    # GIVEN a poller received the message (visibility timeout 1 s) and its function failed
    assert len(sqs.receive_message(QueueUrl=url)["Messages"]) == 1
    seen = work.seen(f"sqs:{name}")
    # THEN the queue has work again only once the message is visible again, and it is
    assert work.wait(f"sqs:{name}", seen, timeout=0.3) is False
    assert work.wait(f"sqs:{name}", seen, timeout=5) is True
    (again,) = sqs.receive_message(QueueUrl=url, VisibilityTimeout=30)["Messages"]
    assert again["Body"] == "retry me"
    # WHEN its function puts off the retry to 1 s from now (ChangeMessageVisibility: a backoff)
    seen = work.seen(f"sqs:{name}")
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"], VisibilityTimeout=1)
    # THEN the queue has work when that second ends, not 30 s later
    assert work.wait(f"sqs:{name}", seen, timeout=0.3) is False
    assert work.wait(f"sqs:{name}", seen, timeout=5) is True


def test_a_message_an_eventbridge_rule_delivers_is_work_for_its_queue(aws, work, queue):
    name, url = queue
    events, sqs = aws.client("events"), aws.client("sqs")
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = f"work-{uuid.uuid4().hex[:8]}"
    events.create_event_bus(Name=rule)
    events.put_rule(Name=rule, EventBusName=rule, EventPattern=json.dumps({"source": [rule]}))
    events.put_targets(Rule=rule, EventBusName=rule, Targets=[{"Id": "q", "Arn": arn}])
    seen = work.seen(f"sqs:{name}")
    # WHEN an event matching the rule is put (moto sends to the queue itself, not through the edge)
    events.put_events(Entries=[{"Source": rule, "DetailType": "t", "Detail": "{}", "EventBusName": rule}])
    # THEN the queue's poller has work, and the message is there
    assert work.wait(f"sqs:{name}", seen, timeout=2) is True
    assert len(sqs.receive_message(QueueUrl=url)["Messages"]) == 1


def test_a_write_is_work_for_its_tables_stream_and_a_failed_condition_is_not(aws, work):
    name = _table(aws)
    dynamodb = aws.client("dynamodb")
    source = f"dynamodb:{name}"
    # WHEN an item is written, THEN the stream has work
    seen = work.seen(source)
    dynamodb.put_item(TableName=name, Item={"pk": {"S": "a"}})
    assert work.wait(source, seen, timeout=2) is True
    # WHEN a write fails its condition (no stream record), THEN there is none, and nor for a read
    seen = work.seen(source)
    with pytest.raises(ClientError):
        dynamodb.put_item(TableName=name, Item={"pk": {"S": "a"}}, ConditionExpression="attribute_not_exists(pk)")
    dynamodb.get_item(TableName=name, Key={"pk": {"S": "a"}})
    assert work.wait(source, seen, timeout=0.3) is False
    # AND a write to another table is no work for this one
    dynamodb.put_item(TableName=_table(aws), Item={"pk": {"S": "b"}})
    assert work.wait(source, seen, timeout=0.3) is False


def test_a_queues_counts_are_moto_own_though_taken_only_when_read(aws_here):
    from moto.sqs.models import sqs_backends

    sqs = aws_here.client("sqs")
    name = f"work-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    # GIVEN two visible messages, one in flight and one delayed
    for body in ("a", "b", "c"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=30)
    sqs.send_message(QueueUrl=url, MessageBody="d", DelaySeconds=60)
    # WHEN all attributes, and a few, are asked for
    every = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    some = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible", "VisibilityTimeout"])["Attributes"]
    # THEN the counts are the queue's
    assert (every["ApproximateNumberOfMessages"], every["ApproximateNumberOfMessagesNotVisible"], every["ApproximateNumberOfMessagesDelayed"]) == ("2", "1", "1")
    assert some == {"ApproximateNumberOfMessagesNotVisible": "1", "VisibilityTimeout": "1"}
    # AND the attributes are those moto's own code builds
    moto_queue = sqs_backends["123456789012"]["us-east-1"].queues[name]
    built = type(moto_queue).attributes.fget.__wrapped__(moto_queue)
    assert dict(moto_queue.attributes) == built
    assert {k: str(v) for k, v in built.items() if v is not None} == every


def test_the_backend_of_a_request_is_found_without_listing_motos_package(aws_here, monkeypatch):
    from moto import backends

    listed = []
    real = backends.list_of_moto_modules
    monkeypatch.setattr(backends, "list_of_moto_modules", lambda: listed.append(1) or real())
    # GIVEN the server has served DynamoDB and SQS before (the session has)
    aws_here.client("dynamodb").list_tables()
    aws_here.client("sqs").list_queues()
    listed.clear()
    # WHEN it serves them again
    for _ in range(3):
        aws_here.client("dynamodb").list_tables()
        aws_here.client("sqs").list_queues()
    # THEN moto's package was not listed again
    assert listed == []
