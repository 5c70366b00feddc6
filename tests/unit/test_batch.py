"""parity.core.batch: the partial batch response the SQS and stream consumers return (issue #7 replaced the
powertools batch utility on their cold path; the contract is the same)."""

from decimal import Decimal

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from parity.core.batch import DynamoDBRecord, SQSRecord, process_partial_response


def sqs(*bodies):
    return {"Records": [{"messageId": f"m{i}", "receiptHandle": f"r{i}", "body": b, "attributes": {"ApproximateReceiveCount": "2"}} for i, b in enumerate(bodies)]}


def test_failed_sqs_records_are_reported_by_message_id():
    seen = []

    def handle(record):
        seen.append((record.message_id, record.receipt_handle, record.attributes.approximate_receive_count))
        if record.body == "bad":
            raise ValueError("no")

    assert process_partial_response(sqs("ok", "bad", "ok"), handle, SQSRecord) == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert seen == [("m0", "r0", "2"), ("m1", "r1", "2"), ("m2", "r2", "2")]
    assert process_partial_response(sqs("ok"), lambda r: None, SQSRecord) == {"batchItemFailures": []}
    assert process_partial_response({"Records": []}, lambda r: None, SQSRecord) == {"batchItemFailures": []}


def test_a_batch_whose_every_record_failed_fails_whole():
    def fail(record):
        raise RuntimeError("down")

    with pytest.raises(BatchProcessingError, match="All records failed processing. 2"):
        process_partial_response(sqs("a", "b"), fail, SQSRecord)


def test_stream_records_are_deserialized_and_reported_by_sequence_number():
    event = {"Records": [
        {"eventID": "e1", "eventName": "INSERT", "dynamodb": {"NewImage": {"id": {"S": "d1"}, "amount": {"N": "12.5"}, "tags": {"L": [{"S": "x"}]}}, "SequenceNumber": "101"}},
        {"eventID": "e2", "eventName": "REMOVE", "dynamodb": {"OldImage": {"id": {"S": "d2"}}, "SequenceNumber": "102"}},
    ]}
    seen = []

    def handle(record):
        seen.append((record.event_id, record.dynamodb.old_image, record.dynamodb.new_image))
        if record.event_id == "e2":
            raise ValueError("no")

    assert process_partial_response(event, handle, DynamoDBRecord) == {"batchItemFailures": [{"itemIdentifier": "102"}]}
    assert seen == [("e1", {}, {"id": "d1", "amount": Decimal("12.5"), "tags": ["x"]}), ("e2", {"id": "d2"}, {})]


def test_not_a_batch_event_is_refused():
    with pytest.raises(ValueError, match="Records"):
        process_partial_response({"body": "x"}, lambda r: None, SQSRecord)


def test_the_local_stack_finds_the_makefile_built_layer_sources(tmp_path):
    from parity_dev.stack import local_layer_dirs

    template = {"Resources": {
        "SharedLayer": {"Type": "AWS::Serverless::LayerVersion", "Properties": {"ContentUri": "layers/shared"}, "Metadata": {"BuildMethod": "makefile"}},
        "Other": {"Type": "AWS::Serverless::LayerVersion", "Properties": {"ContentUri": "layers/node"}, "Metadata": {"BuildMethod": "nodejs20.x"}},
    }}
    assert local_layer_dirs(template, tmp_path) == [(tmp_path / "layers" / "shared").resolve()]
