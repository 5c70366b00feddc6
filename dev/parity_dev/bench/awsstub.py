"""AWS stubbed at the botocore level: a ``before-send`` hook answers every request with a canned
``AWSResponse``, so parameter validation, serialization, signing and response parsing all still
run; only the network is skipped. The same hook counts the requests per operation.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


class _Raw:
    """The smallest raw body ``AWSResponse.content`` reads from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any):
        yield self._body


def _response(request: Any, status: int, payload: dict[str, Any]) -> Any:
    from botocore.awsrequest import AWSResponse

    body = json.dumps(payload).encode()
    headers = {"x-amzn-RequestId": uuid.uuid4().hex, "Content-Type": "application/x-amz-json-1.0", "Content-Length": str(len(body))}
    return AWSResponse(request.url, status, headers, _Raw(body))


def _operation(request: Any) -> tuple[str, str]:
    target = (request.headers.get("X-Amz-Target") or b"")
    target = target.decode() if isinstance(target, bytes) else str(target)
    prefix, _, op = target.rpartition(".")
    service = "dynamodb" if prefix.startswith("DynamoDB") else "sqs" if prefix.startswith("AmazonSQS") else "ssm" if prefix.startswith("AmazonSSM") else prefix or request.url
    return service, op


Answer = Callable[[str, str, dict[str, Any]], "tuple[int, dict[str, Any]] | None"]


class AwsStub:
    """Install with ``with AwsStub(): ...``; clients must be created inside (they copy the session's
    event hooks when built). ``answer(service, operation, params)`` may override the canned reply."""

    def __init__(self, answer: Answer | None = None) -> None:
        self.calls: Counter[str] = Counter()
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.answer = answer
        self.keep_requests = True

    def reset(self) -> None:
        self.calls.clear()
        self.requests.clear()

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def __call__(self, request: Any, **_: Any) -> Any:
        service, op = _operation(request)
        params = json.loads(request.body or b"{}") if request.body else {}
        self.calls[f"{service}:{op}"] += 1
        if self.keep_requests:
            self.requests.append((op, params))
        custom = self.answer(service, op, params) if self.answer else None
        status, payload = custom if custom is not None else (200, default_payload(service, op, params))
        return _response(request, status, payload)

    def __enter__(self) -> AwsStub:
        import boto3

        boto3.setup_default_session(**{k: v for k, v in {"region_name": "us-east-1"}.items()})
        boto3.DEFAULT_SESSION.events.register("before-send", self)
        return self

    def __exit__(self, *exc: Any) -> None:
        import boto3

        boto3.DEFAULT_SESSION.events.unregister("before-send", self)


def default_payload(service: str, op: str, params: dict[str, Any]) -> dict[str, Any]:
    if op == "SendMessageBatch":
        return {
            "Successful": [
                {"Id": e["Id"], "MessageId": str(uuid.uuid4()), "MD5OfMessageBody": hashlib.md5(e["MessageBody"].encode()).hexdigest()}
                for e in params.get("Entries", [])
            ],
            "Failed": [],
        }
    if op == "SendMessage":
        return {"MessageId": str(uuid.uuid4()), "MD5OfMessageBody": hashlib.md5(params.get("MessageBody", "").encode()).hexdigest()}
    if op == "Query":
        return {"Items": [], "Count": 0, "ScannedCount": 0}
    return {}


# ---- DynamoDB item sizes and request units (for the cost model) -----------------------------------
def attribute_size(value: dict[str, Any]) -> int:
    """Approximate stored size of one low-level attribute value (DynamoDB's documented rules)."""
    (kind, v), = value.items()
    if kind in ("S",):
        return len(v.encode())
    if kind == "B":
        return len(v) * 3 // 4
    if kind == "N":
        return len(str(v).lstrip("-").replace(".", "")) // 2 + 2
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(len(str(x)) for x in v) + 3
    if kind == "M":
        return 3 + sum(len(k.encode()) + attribute_size(x) + 1 for k, x in v.items())
    if kind == "L":
        return 3 + sum(attribute_size(x) + 1 for x in v)
    return 0


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


def write_units(op: str, params: dict[str, Any]) -> float:
    """Write request units of one request: 1 per KB per item, 2 per KB per item in a transaction."""
    kb = lambda item: max(1, -(-item_size(item) // 1024))  # noqa: E731
    if op == "PutItem":
        return kb(params["Item"])
    if op == "TransactWriteItems":
        units = 0
        for entry in params["TransactItems"]:
            if "Put" in entry:
                units += 2 * kb(entry["Put"]["Item"])
            else:  # ConditionCheck / Update / Delete: at least one KB each
                units += 2
        return units
    if op in ("DeleteItem", "UpdateItem"):
        return 1
    return 0


def read_units(op: str, params: dict[str, Any]) -> float:
    """Read request units (strongly consistent 1 per 4 KB; items here are small)."""
    if op == "GetItem":
        return 1 if params.get("ConsistentRead") else 0.5
    if op == "Query":
        return 1
    return 0
