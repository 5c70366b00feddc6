"""DynamoDB plumbing shared by every table adapter: the client, keys, item (de)serialisation and the
one place where DynamoDB's errors become ours.

``ClientError`` never leaves an adapter: a busy or failing table is ``ServiceUnavailable`` (a 503
the caller may retry, written once here), a failed condition is re-raised only to a method that
asked to interpret it.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from boto3.dynamodb.types import DYNAMODB_CONTEXT, TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from parity.core.errors import ServiceUnavailable

if TYPE_CHECKING:  # pragma: no cover
    from mypy_boto3_dynamodb import DynamoDBClient

_SER = TypeSerializer()
_DESER = TypeDeserializer()
#: Errors after botocore's own bounded retries that mean "try again later", never "your fault".
RETRYABLE = {
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
}

def new_client() -> DynamoDBClient:
    """A DynamoDB client: 1 s connect, 3 s read, 3 attempts (``parity.core.aws``)."""
    from parity.core.aws import client

    return client("dynamodb", read_timeout=3, attempts=3)


def key(*parts: str) -> str:
    """A key made of ``parts`` joined by "#", each part escaped ("%" → "%25", "#" → "%23") so that
    no value, whatever characters it holds, can reach into the next part: two different part
    lists never make one key, and a prefix ``key(a, "")`` matches exactly the keys whose first
    part is ``a``. Every key of every table is built with it (issue 12: a company id holding "#"
    read another company's room)."""
    return "#".join(part.replace("%", "%25").replace("#", "%23") for part in parts)


def images(record: Any) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """A stream record's (powertools' ``DynamoDBRecord``) old and new images, None where it has none
    (an insert has no old image, a removal no new one)."""
    stream = record.dynamodb
    return (stream.old_image if stream else None) or None, (stream.new_image if stream else None) or None


def keyed(prefix: str) -> Callable[..., str]:
    """The key builder of one kind of item: ``keyed("APR")("apr_1")`` is ``key("APR", "apr_1")``."""
    return functools.partial(key, prefix)


class TableAdapter:
    """One DynamoDB table; its client is built on first use (or injected, e.g. in tests)."""

    def __init__(self, table_name: str, *, client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            self._client = new_client()
        return self._client

    #: How the table is named in errors ("the CRM table is busy").
    label = "the table"

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        resp = self._call("get_item", TableName=self.table_name, Key=dump_item({"pk": pk, "sk": sk}), ConsistentRead=True)
        item = resp.get("Item")
        return load_item(item) if item else None

    def _call(self, operation: str, _raise_cancel: bool = False, _raise_conditional: bool = False, **kwargs: Any) -> dict[str, Any]:
        """One DynamoDB request. Throttling and outages become ``ServiceUnavailable`` (a 503 the
        caller may retry); a cancelled transaction or failed condition is re-raised for the
        method to interpret when it asked for that."""
        try:
            return getattr(self.client, operation)(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "TransactionCanceledException" and _raise_cancel:
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons") or []]
                if any(r in RETRYABLE or r in {"ThrottlingError", "ProvisionedThroughputExceeded"} for r in reasons):
                    raise ServiceUnavailable(f"{self.label} is busy; retry shortly") from exc
                raise
            if code == "ConditionalCheckFailedException" and _raise_conditional:
                raise
            if code in RETRYABLE:
                raise ServiceUnavailable(f"{self.label} is busy; retry shortly") from exc
            if code in ("ConditionalCheckFailedException", "TransactionCanceledException"):
                # A condition the method did not ask to interpret (an id or contact written by a
                # racing request): nothing was written, and the same request retried succeeds.
                raise ServiceUnavailable(f"{self.label} changed under this request; retry shortly") from exc
            raise
        except BotoCoreError as exc:  # timeouts, connection errors after the bounded retries
            raise ServiceUnavailable(f"{self.label} did not answer; retry shortly") from exc

    def _pages(self, operation: str = "query", **request: Any) -> Iterator[dict[str, Any]]:
        """Every item of a Query (or Scan), page after page, loaded."""
        while True:
            resp = self._call(operation, **request)
            yield from (load_item(item) for item in resp.get("Items", []))
            if not resp.get("LastEvaluatedKey"):
                return
            request["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def _page(self, *, partition: tuple[str, str], limit: int, cursor: str | None, **request: Any) -> Page:
        """One page of a Query (``limit`` items at most) from ``cursor`` (the ``next_cursor`` of
        the page before), and the cursor of the next page, or None at the end. ``partition`` is the
        queried partition key (attribute, value): a cursor that points elsewhere (another company's
        items) is refused as ``BadCursor``, never followed."""
        if cursor:
            request["ExclusiveStartKey"] = decode_cursor(cursor, partition)
        resp = self._call("query", Limit=limit, **request)
        items = [load_item(item) for item in resp.get("Items", [])]
        last = resp.get("LastEvaluatedKey")
        return Page(items, encode_cursor(last) if last else None)


class Page(NamedTuple):
    items: list[dict[str, Any]]
    next_cursor: str | None


class BadCursor(ValueError):
    """A cursor that is not one of ours, or not for this list."""


def encode_cursor(last_evaluated_key: Mapping[str, Any]) -> str:
    """An opaque cursor for DynamoDB's ``LastEvaluatedKey`` (base64url JSON of the typed key)."""
    return base64.urlsafe_b64encode(json.dumps(last_evaluated_key, separators=(",", ":"), sort_keys=True).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, partition: tuple[str, str]) -> dict[str, Any]:
    """The ``ExclusiveStartKey`` of a cursor, checked to point into ``partition``."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError):
        raise BadCursor("not a cursor of this list") from None
    attribute, value = partition
    if (
        not isinstance(raw, dict)
        or len(cursor) > 2048
        or not all(isinstance(v, dict) and len(v) == 1 and isinstance(next(iter(v.values())), str) for v in raw.values())
        or raw.get(attribute) != {"S": value}
    ):
        raise BadCursor("not a cursor of this list")
    return raw


def dump_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """A Python item as DynamoDB attribute values, exactly as boto3's ``TypeSerializer`` writes it."""
    return {k: dump_value(v) for k, v in item.items()}


#: Integers this short are exact in DynamoDB's number context (38 digits): no rounding check needed.
_SAFE_INT = 10**37
_SMALLEST = Decimal("1E-130")
_TOO_BIG = Decimal("1E+126")


def storable_number(value: Any) -> bool:
    """Whether DynamoDB can hold ``value`` exactly: an int or a finite Decimal that boto3's number
    context takes without rounding (38 significant digits), of magnitude 0 or 1E-130 up to below
    1E+126 (boto3 lets 1E-131 through; DynamoDB refuses it). Floats are never stored."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        return False
    try:
        number = DYNAMODB_CONTEXT.create_decimal(value)
    except (ArithmeticError, TypeError, ValueError):
        return False
    return number.is_finite() and (not number or _SMALLEST <= abs(number) < _TOO_BIG)


def dump_value(value: Any) -> dict[str, Any]:
    """One value. Strings, booleans, small integers, None, maps and lists (what our items are made
    of) take a direct path; everything else (Decimals, sets, bytes, …) and every refusal (floats,
    empty sets, inexact numbers) is ``TypeSerializer``'s. Same output, ≈ 4× faster per item: its
    generic type probing was ~12 % of the handler CPU of a create (docs/performance.md)."""
    kind = type(value)
    if kind is str:
        return {"S": value}
    if kind is bool:
        return {"BOOL": value}
    if kind is int and -_SAFE_INT < value < _SAFE_INT:
        return {"N": str(value)}
    if value is None:
        return {"NULL": True}
    if kind is dict:
        return {"M": {k: dump_value(v) for k, v in value.items()}}
    if kind is list:
        return {"L": [dump_value(v) for v in value]}
    return _SER.serialize(value)


def load_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _DESER.deserialize(v) for k, v in item.items()}


