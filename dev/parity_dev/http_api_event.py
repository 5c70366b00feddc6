"""The HTTP API's payload format 2.0 event, as API Gateway hands it to a Lambda integration, and the
path rules it rests on (decoded once; route patterns): built here once for the emulated gateway
(``parity_dev.gateway``), the bench and the tests."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, unquote

from parity_dev.aws import ACCOUNT_ID, REGION

# Request content types API Gateway passes as text; every other body (and a body without a
# content type) reaches the function base64-encoded with isBase64Encoded true.
_TEXT_TYPES = re.compile(r"^(text/.*|application/(json|xml|javascript|.*\+json|.*\+xml))$")


def decoded_path(raw_path: str) -> str:
    """The request path as API Gateway's HTTP API hands it on: percent-decoded once, before route
    selection. ``rawPath`` is that decoded path and ``pathParameters`` are its segments, so an encoded
    slash (``a%2Fb``) separates segments like ``/`` and ``%252F`` reaches the function as ``%2F``.

    Observed on deployed HTTP APIs, not written in AWS's reference: a payload-2.0 event for
    ``GET /a%2Fb`` carries ``"rawPath": "/a/b"`` (fastify/aws-lambda-fastify#169, honojs/hono#2156);
    ``/{example}/thing`` does not match ``/a%2Fb/thing`` (404). REST APIs and Function URLs keep the
    encoding; this is the HTTP API's behaviour only.
    """
    return unquote(raw_path)


def route_pattern(path: str) -> tuple[re.Pattern[str], int, int]:
    """A route path (``/deals/{id}``, ``/files/{key+}``) as a regex over the decoded path, with its
    counts of greedy and single-segment parameters."""
    parts, params, greedy = [], 0, 0
    for segment in path.strip("/").split("/"):
        match = re.fullmatch(r"\{(\w+)(\+?)\}", segment)
        if match and match.group(2):
            parts.append(f"(?P<{match.group(1)}>.+)")
            greedy += 1
        elif match:
            parts.append(f"(?P<{match.group(1)}>[^/]+)")
            params += 1
        else:
            parts.append(re.escape(segment))
    pattern = re.compile("/" + "/".join(parts)) if path != "/" else re.compile("/")
    return pattern, greedy, params


def http_api_event(
    method: str,
    raw_path: str,
    *,
    raw_query: str = "",
    headers: Mapping[str, str] | None = None,
    body: bytes | str | None = None,
    route_key: str | None = None,
    path_parameters: Mapping[str, str] | None = None,
    source_ip: str = "127.0.0.1",
    protocol: str = "HTTP/1.1",
    request_id: str = "local-request",
    api_id: str = "localapi",
    authorizer: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An HTTP API payload-format 2.0 event, as API Gateway hands it to a Lambda integration.

    The one definition of that shape: the gateway builds every invocation with it, and tests and the
    bench use it to call a handler directly. ``raw_path`` is the path as the client sent it
    (percent-encoded); ``rawPath`` is it decoded once (``decoded_path``). ``route_key`` is the route
    API Gateway matched, as template.yaml spells it (``"GET /api/v3.1/deals/{id}"``; default: the
    literal route ``"METHOD /path"``); without ``path_parameters`` they are read off the path by that
    route, as the gateway would (a path the route does not match is a ``ValueError``).
    ``headers`` are lower-cased (``Cookie`` becomes ``cookies``); a body with a text content type
    travels as text, any other base64-encoded; ``authorizer`` is a Lambda authorizer's context.
    """
    path = decoded_path(raw_path)
    if route_key is None:
        route_key = f"{method} {path}"
    elif path_parameters is None:
        pattern, _, _ = route_pattern(route_key.split(" ", 1)[1])
        found = pattern.fullmatch(path)
        if found is None:
            raise ValueError(f"{raw_path} is not a path of {route_key}")
        path_parameters = found.groupdict()
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    cookies = [c.strip() for c in headers.pop("cookie", "").split(";") if c.strip()]
    query = _joined_query(raw_query)
    now = datetime.now(timezone.utc)
    request_context: dict[str, Any] = {
        "accountId": ACCOUNT_ID,
        "apiId": api_id,
        "domainName": headers.get("host", f"{api_id}.execute-api.{REGION}.amazonaws.com"),
        "domainPrefix": headers.get("host", api_id).split(".")[0],
        "http": {
            "method": method,
            "path": path,
            "protocol": protocol,
            "sourceIp": source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": "$default",
        "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now.timestamp() * 1000),
    }
    if authorizer is not None:
        request_context["authorizer"] = {"lambda": dict(authorizer)}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": request_context,
        "isBase64Encoded": False,
    }
    # API Gateway leaves these keys out entirely when there is nothing to put in them.
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    payload = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    if payload:
        if _TEXT_TYPES.match(headers.get("content-type", "").split(";")[0].strip().lower()):
            event["body"] = payload.decode("utf-8", errors="replace")
        else:
            event["body"] = base64.b64encode(payload).decode()
            event["isBase64Encoded"] = True
    return event


def joined_headers(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Lower-cased header names; repeated headers comma-joined, as in payload format 2.0."""
    headers: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    return headers


def _joined_query(raw_query: str) -> dict[str, str]:
    """Decoded query parameters; repeated ones comma-joined, as in payload format 2.0."""
    query: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    return query
