"""API Gateway HTTP API, emulated: routes and Lambda authorizers of the deployed template.

Behaviour follows the HTTP API with Lambda proxy integrations, payload format 2.0: route selection
on the percent-decoded path (most specific route wins, unknown routes and unknown methods are 404;
``rawPath`` and ``pathParameters`` carry the path decoded once, so ``%2F`` separates segments as
``/`` does: see ``parity_dev.http_api_event.decoded_path``), Lambda REQUEST authorizers
(identity source missing → 401 without calling the authorizer, denied → 403, broken → 500),
the 2.0 event and response formats, the 10 MB request limit, and the stage's route throttling (a token
bucket per route: over it, 429 before the authorizer or the function runs). The same ``Gateway`` serves
in-process calls (functional tests) and a real HTTP server (the local stack's,
``parity_dev.gateway_server``).
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json as jsonlib
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from parity_dev.aws import ACCOUNT_ID, REGION
from parity_dev.http_api_event import decoded_path, http_api_event, joined_headers, route_pattern
from parity_dev.lambdas import FunctionError

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Mapping, Sequence

    from parity_dev.declared import Authorizer, Route, Throttle
    from parity_dev.lambdas import LambdaRuntime
    from parity_dev.stack import DeployedStack

log = logging.getLogger("parity_dev.gateway")

MAX_BODY_BYTES = 10 * 1024 * 1024  # HTTP API payload limit
_UNSET: Any = object()


@dataclass
class Response:
    """What the client receives: status, headers (lower-case names), body bytes and Set-Cookie values."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    cookies: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return jsonlib.loads(self.body)


def _error(status: int, message: str) -> Response:
    return Response(status, {"content-type": "application/json"}, jsonlib.dumps({"message": message}).encode())


@dataclass(frozen=True)
class _CompiledRoute:
    route: Route
    pattern: re.Pattern[str]
    specificity: tuple[int, int, int, int]  # sorts most specific first


def _compile(route: Route) -> _CompiledRoute:
    if route.path == "$default":
        return _CompiledRoute(route, re.compile(r".*"), (1, 0, 0, 0))
    pattern, greedy, params = route_pattern(route.path)
    return _CompiledRoute(route, pattern, (0, greedy, params, int(route.method == "ANY")))


class _TokenBucket:
    """API Gateway's throttling algorithm: ``burst_limit`` tokens, refilled at ``rate_limit`` per second;
    a request takes one token or is refused. Thread-safe (the HTTP server serves requests in threads)."""

    def __init__(self, throttle: Throttle, clock: Callable[[], float]) -> None:
        self.rate, self.capacity, self.clock = throttle.rate_limit, float(throttle.burst_limit), clock
        self.tokens, self.updated = self.capacity, clock()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = self.clock()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens < 1:
                return False
            self.tokens -= 1
            return True


class Gateway:
    """The HTTP API(s) of one deployed stack, invoking functions through a ``LambdaRuntime``.

    ``clock`` (seconds, monotonic) drives the throttling buckets; tests pass their own.
    """

    def __init__(
        self,
        stack: DeployedStack,
        runtime: LambdaRuntime,
        *,
        max_body_bytes: int = MAX_BODY_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stack = stack
        self.runtime = runtime
        self.max_body_bytes = max_body_bytes
        self._routes = sorted((_compile(r) for r in stack.routes), key=lambda c: c.specificity)
        # One bucket per route of the stage, filled at start, as a freshly deployed stage is.
        self._buckets = {(r.api, r.route_key): _TokenBucket(r.throttle, clock) for r in stack.routes if r.throttle is not None}

    def api_id(self, api_logical_id: str) -> str:
        """A stable stand-in for the API id moto cannot give us (it creates no ApiGatewayV2 resources)."""
        return hashlib.sha1(f"{self.stack.stack_name}/{api_logical_id}".encode()).hexdigest()[:10]

    def match(self, method: str, raw_path: str) -> tuple[Route, dict[str, str]] | None:
        """The route API Gateway would select for ``method`` ``raw_path`` (percent-encoded, as sent),
        with its path parameters (decoded once: ``decoded_path``)."""
        path = decoded_path(raw_path)
        for compiled in self._routes:
            route = compiled.route
            if route.method not in ("ANY", method.upper()):
                continue
            found = compiled.pattern.fullmatch(path)
            if found:
                return route, found.groupdict()
        return None

    def invoke(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | str | None = None,
        json: Any = _UNSET,
        query: Mapping[str, str | Sequence[str]] | None = None,
        source_ip: str = "127.0.0.1",
    ) -> Response:
        """Send one request through the gateway in-process (no socket); ``json=`` encodes a JSON body."""
        header_pairs = [(k, str(v)) for k, v in (headers or {}).items()]
        if json is not _UNSET:
            body = jsonlib.dumps(json)
            if not any(k.lower() == "content-type" for k, _ in header_pairs):
                header_pairs.append(("content-type", "application/json"))
        payload = body.encode() if isinstance(body, str) else (body or b"")
        if len(payload) > self.max_body_bytes:
            return _error(413, "Request Entity Too Large")
        raw_path, _, raw_query = quote(path, safe="/%?=&+:@!$'()*,;~").partition("?")
        if query:
            extra = urlencode([(k, v) for k, vs in query.items() for v in ([vs] if isinstance(vs, str) else vs)])
            raw_query = f"{raw_query}&{extra}" if raw_query else extra
        if payload and not any(k.lower() == "content-length" for k, _ in header_pairs):
            header_pairs.append(("content-length", str(len(payload))))
        return self.handle(method, raw_path, raw_query, header_pairs, payload, source_ip=source_ip)

    def handle(self, method: str, raw_path: str, raw_query: str, header_pairs: Sequence[tuple[str, str]], body: bytes, *,
               source_ip: str = "127.0.0.1", protocol: str = "HTTP/1.1") -> Response:
        """Route one request (path still percent-encoded) and produce the client's response."""
        request_id = base64.b64encode(os.urandom(12)).decode()[:16]
        started = time.monotonic()
        response = self._handle(method.upper(), raw_path, raw_query, header_pairs, body, source_ip, protocol, request_id)
        response.headers.setdefault("apigw-requestid", request_id)
        log.info(
            "%s %s %s%s %d %.1fms",
            source_ip, method.upper(), raw_path, f"?{raw_query}" if raw_query else "",
            response.status, (time.monotonic() - started) * 1000,
        )
        return response

    def _handle(self, method: str, raw_path: str, raw_query: str, header_pairs: Sequence[tuple[str, str]], body: bytes,
                source_ip: str, protocol: str, request_id: str) -> Response:
        found = self.match(method, raw_path)
        if found is None:
            return _error(404, "Not Found")
        route, path_parameters = found
        bucket = self._buckets.get((route.api, route.route_key))
        if bucket is not None and not bucket.take():
            return _error(429, "Too Many Requests")  # before the authorizer and the function, as API Gateway
        headers = joined_headers(header_pairs)
        headers.setdefault("x-forwarded-for", source_ip)
        headers.setdefault("x-forwarded-proto", "http")
        headers.setdefault("x-amzn-trace-id", f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}")
        api_id = self.api_id(route.api)
        event = http_api_event(
            method, raw_path, raw_query=raw_query, headers=headers, body=body, route_key=route.route_key,
            path_parameters=path_parameters, source_ip=source_ip, protocol=protocol, request_id=request_id, api_id=api_id,
        )
        request_context = event["requestContext"]

        if route.authorizer is not None:
            denied, authorizer_context = self._authorize(route, event, api_id, raw_path)
            if denied is not None:
                return denied
            request_context["authorizer"] = {"lambda": authorizer_context}
        try:
            result = self.runtime.invoke(route.function, event)
        except FunctionError:
            return _error(500, "Internal Server Error")
        return _integration_response(route, result)

    def _authorize(self, route: Route, event: dict[str, Any], api_id: str, raw_path: str) -> tuple[Response | None, dict[str, Any]]:
        """Run the route's authorizer as API Gateway does; returns (error response or None, context)."""
        authorizer: Authorizer = route.authorizer  # type: ignore[assignment]
        identity = []
        for source in authorizer.identity_source:
            kind, _, name = source.removeprefix("$request.").partition(".")
            value = event["headers"].get(name.lower()) if kind == "header" else event.get("queryStringParameters", {}).get(name)
            if not value:  # missing or empty: rejected before the authorizer runs
                return _error(401, "Unauthorized"), {}
            identity.append(value)
        # Like execute-api ARNs in IAM: the request's method and actual path, not the route template.
        method = event["requestContext"]["http"]["method"]
        route_arn = f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{api_id}/$default/{method}{raw_path}"
        request = {
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": route_arn,
            "identitySource": identity,
            "routeKey": route.route_key,
            "rawPath": event["rawPath"],
            "rawQueryString": event["rawQueryString"],
            "headers": event["headers"],
            "requestContext": event["requestContext"],
        }
        for key in ("cookies", "queryStringParameters", "pathParameters"):
            if key in event:
                request[key] = event[key]
        try:
            result = self.runtime.invoke(authorizer.function, request)
        except FunctionError:
            return _error(500, "Internal Server Error"), {}
        if authorizer.simple_responses:
            if not isinstance(result, dict) or not isinstance(result.get("isAuthorized"), bool):
                log.error("authorizer %s returned no boolean isAuthorized: %r", authorizer.function, result)
                return _error(500, "Internal Server Error"), {}
            allowed = result["isAuthorized"]
        else:
            if not isinstance(result, dict) or not isinstance(result.get("policyDocument"), dict):
                log.error("authorizer %s returned no IAM policy: %r", authorizer.function, result)
                return _error(500, "Internal Server Error"), {}
            allowed = _policy_allows(result["policyDocument"], route_arn)
        if not allowed:
            return _error(403, "Forbidden"), {}
        context = result.get("context") or {}
        return None, dict(context) if isinstance(context, dict) else {}


def _policy_allows(policy: dict[str, Any], route_arn: str) -> bool:
    """IAM evaluation for an authorizer policy: an explicit Deny wins, else some Allow must match."""
    allowed = False
    statements = policy.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        actions = statement.get("Action", [])
        resources = statement.get("Resource", [])
        actions = [actions] if isinstance(actions, str) else actions
        resources = [resources] if isinstance(resources, str) else resources
        if not any(fnmatch.fnmatchcase("execute-api:Invoke", a) for a in actions):
            continue
        if not any(fnmatch.fnmatchcase(route_arn, r) for r in resources):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def _integration_response(route: Route, result: Any) -> Response:
    """Map a function's result to the client's response (payload format 2.0 rules)."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # "If your function returns valid JSON without a statusCode, API Gateway assumes 200 and a JSON body."
        return Response(200, {"content-type": "application/json"}, jsonlib.dumps(result).encode())
    status, body, headers = result["statusCode"], result.get("body"), result.get("headers") or {}
    cookies = result.get("cookies") or []
    valid = (
        isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599
        and (body is None or isinstance(body, str))
        and isinstance(headers, dict)
        and isinstance(cookies, list)
    )
    if not valid:
        log.error("%s returned a malformed response: %r", route.function, result)
        return _error(500, "Internal Server Error")
    if result.get("isBase64Encoded"):
        try:
            payload = base64.b64decode(body or "", validate=True)
        except ValueError:
            log.error("%s returned isBase64Encoded with a body that is not base64", route.function)
            return _error(500, "Internal Server Error")
    else:
        payload = (body or "").encode("utf-8")
    response_headers = {str(k).lower(): str(v) for k, v in headers.items()}
    response_headers.setdefault("content-type", "text/plain; charset=utf-8")
    return Response(status, response_headers, payload, [str(c) for c in cookies])
