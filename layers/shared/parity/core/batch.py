"""Partial batch responses for the SQS and DynamoDB-stream consumers, without the powertools batch
utility on the cold path.

``aws_lambda_powertools.utilities.batch`` (with its data classes and asyncio) costs ≈ 80–120 ms of
cold import for a loop of a dozen lines (issue #7, figure 1). This is that loop, with the same
contract: each record goes to ``record_handler``; the ones that raise are reported in
``batchItemFailures`` (SQS: ``messageId``, DynamoDB streams: ``SequenceNumber``); a batch
whose every record failed raises powertools' ``BatchProcessingError`` (imported on that path only),
so the whole batch is retried. Records are thin read-only views with the attribute names of the
powertools data classes the handlers used (``SQSRecord``, ``DynamoDBRecord``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any


class SQSRecordAttributes:
    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw_event = raw

    @property
    def approximate_receive_count(self) -> str:
        return self.raw_event["ApproximateReceiveCount"]


class SQSRecord:
    """One SQS message, as ``aws_lambda_powertools...sqs_event.SQSRecord`` exposes it."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw_event = raw

    @property
    def message_id(self) -> str:
        return self.raw_event["messageId"]

    @property
    def receipt_handle(self) -> str:
        return self.raw_event["receiptHandle"]

    @property
    def body(self) -> str:
        return self.raw_event["body"]

    @property
    def attributes(self) -> SQSRecordAttributes:
        return SQSRecordAttributes(self.raw_event["attributes"])

    @property
    def item_identifier(self) -> str:
        return self.message_id


class StreamRecord:
    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw_event = raw

    def _image(self, key: str) -> dict[str, Any]:
        from aws_lambda_powertools.shared.dynamodb_deserializer import TypeDeserializer

        deserializer = TypeDeserializer()
        return {k: deserializer.deserialize(v) for k, v in (self.raw_event.get(key) or {}).items()}

    @cached_property
    def new_image(self) -> dict[str, Any]:
        return self._image("NewImage")

    @cached_property
    def old_image(self) -> dict[str, Any]:
        return self._image("OldImage")

    @property
    def sequence_number(self) -> str | None:
        return self.raw_event.get("SequenceNumber")


class DynamoDBRecord:
    """One DynamoDB stream record, as ``aws_lambda_powertools...DynamoDBRecord`` exposes it."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw_event = raw

    @property
    def event_id(self) -> str | None:
        return self.raw_event.get("eventID")

    @property
    def event_name(self) -> str | None:
        return self.raw_event.get("eventName")

    @cached_property
    def dynamodb(self) -> StreamRecord | None:
        stream = self.raw_event.get("dynamodb")
        return None if stream is None else StreamRecord(stream)

    @property
    def item_identifier(self) -> str | None:
        return self.dynamodb.sequence_number if self.dynamodb else None


def process_partial_response(event: Mapping[str, Any], record_handler: Callable[[Any], Any], record_type: type[SQSRecord] | type[DynamoDBRecord]) -> dict[str, Any]:
    """Run ``record_handler`` on each record; the Lambda partial batch response."""
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(records, list):
        raise ValueError(f"Invalid event format: a batch event with a Records list is expected ({record_type.__name__})")
    failures: list[dict[str, Any]] = []
    errors: list[Any] = []
    for raw in records:
        record = record_type(raw)
        try:
            record_handler(record)
        except Exception:
            errors.append(sys.exc_info())  # the handlers log their own failures
            failures.append({"itemIdentifier": record.item_identifier})
    if records and len(errors) == len(records):
        from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

        raise BatchProcessingError(
            msg=f"All records failed processing. {len(errors)} individual errors logged separately below.",
            child_exceptions=errors,
        )
    return {"batchItemFailures": failures}
