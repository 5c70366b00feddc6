"""API Gateway HTTP API, emulated: routes and Lambda authorizers of the deployed template.

Behaviour follows the HTTP API with Lambda proxy integrations, payload format 2.0: route selection
on the percent-decoded path (most specific route wins, unknown routes and unknown methods are 404;
``rawPath`` and ``pathParameters`` carry the path decoded once, so ``%2F`` separates segments as
``/`` does: see ``decoded_path``), Lambda REQUEST authorizers
(identity source missing → 401 without calling the authorizer, denied → 403, broken → 500),
the 2.0 event and response formats, the 10 MB request limit, and the stage's route throttling (a token
bucket per route: over it, 429 before the authorizer or the function runs). The same ``Gateway`` serves
in-process calls (functional tests) and a real HTTP server (the local stack).
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
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote, urlencode

from parity_dev.aws import ACCOUNT_ID, REGION
from parity_dev.lambdas import FunctionError

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Mapping, Sequence

    from parity_dev.lambdas import LambdaRuntime
    from parity_dev.stack import Authorizer, DeployedStack, Route, Throttle

log = logging.getLogger("parity_dev.gateway")

MAX_BODY_BYTES = 10 * 1024 * 1024  # HTTP API payload limit
_UNSET: Any = object()
# Request content types API Gateway passes as text; every other body (and a body without a
# content type) reaches the function base64-encoded with isBase64Encoded true.
_TEXT_TYPES = re.compile(r"^(text/.*|application/(json|xml|javascript|.*\+json|.*\+xml))$")


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


def _pattern(path: str) -> tuple[re.Pattern[str], int, int]:
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


def _compile(route: Route) -> _CompiledRoute:
    if route.path == "$default":
        return _CompiledRoute(route, re.compile(r".*"), (1, 0, 0, 0))
    pattern, greedy, params = _pattern(route.path)
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

    def handle(
        self,
        method: str,
        raw_path: str,
        raw_query: str,
        header_pairs: Sequence[tuple[str, str]],
        body: bytes,
        *,
        source_ip: str = "127.0.0.1",
        protocol: str = "HTTP/1.1",
    ) -> Response:
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

    def _handle(
        self,
        method: str,
        raw_path: str,
        raw_query: str,
        header_pairs: Sequence[tuple[str, str]],
        body: bytes,
        source_ip: str,
        protocol: str,
        request_id: str,
    ) -> Response:
        found = self.match(method, raw_path)
        if found is None:
            return _error(404, "Not Found")
        route, path_parameters = found
        bucket = self._buckets.get((route.api, route.route_key))
        if bucket is not None and not bucket.take():
            return _error(429, "Too Many Requests")  # before the authorizer and the function, as API Gateway
        headers = _joined_headers(header_pairs)
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
        pattern, _, _ = _pattern(route_key.split(" ", 1)[1])
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


def _joined_headers(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
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


# --- HTTP server ----------------------------------------------------------------------------------


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "parity-local"
    server: _GatewayServer

    def _serve(self) -> None:
        raw_path, _, raw_query = self.path.partition("?")
        body, too_large = self._read_body()
        mounted = None if too_large else self._mounted(raw_path, raw_query, body)
        if too_large:
            response = _error(413, "Request Entity Too Large")
            self.close_connection = True
        elif mounted is not None:
            response = mounted
        else:
            try:
                response = self.server.gateway.handle(
                    self.command,
                    raw_path,
                    raw_query,
                    list(self.headers.items()),
                    body,
                    source_ip=self.client_address[0],
                    protocol=self.request_version,
                )
            except Exception:  # a bug of the emulation itself: still answer, as API Gateway would
                log.exception("gateway failure on %s %s", self.command, self.path)
                response = _error(500, "Internal Server Error")
        self.send_response(response.status)
        for name, value in response.headers.items():
            if name not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        for cookie in response.cookies:
            self.send_header("set-cookie", cookie)
        self.send_header("content-length", str(len(response.body)))
        if self.close_connection:
            self.send_header("connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _mounted(self, raw_path: str, raw_query: str, body: bytes) -> Response | None:
        """A dev-only service mounted beside the API (the fake providers, the seeded channels, the stack's own info)."""
        for mount in self.server.mounts:
            answer = mount(self.command, raw_path, raw_query, list(self.headers.items()), body)
            if answer is not None:
                status, headers, payload = answer
                return Response(status, {k.lower(): v for k, v in headers.items()}, payload if isinstance(payload, bytes) else payload.encode())
        return None

    def _read_body(self) -> tuple[bytes, bool]:
        limit = self.server.gateway.max_body_bytes
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            chunks, size = [], 0
            while True:
                length = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if length == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks), False
                size += length
                if size > limit:
                    return b"", True
                chunks.append(self.rfile.read(length))
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        if length > limit:
            return b"", True
        return self.rfile.read(length) if length else b"", False

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def __getattr__(self, name: str) -> Any:
        # Any other method (TRACE, PROPFIND, …) is routed like the rest: API Gateway answers an
        # unknown method with 404, where the stdlib would answer 501 (a 5xx the API never gives).
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        # The gateway already logs one line per request; keep only the server's own errors.
        if args and str(args[0]).startswith(("code ", "Request timed out")):
            log.warning("%s - %s", self.client_address[0], format % args)


#: A service mounted beside the API: ``(method, raw_path, raw_query, header_pairs, body)`` →
#: ``(status, headers, body)``, or None when the path is not its own.
Mount = Callable[[str, str, str, list[tuple[str, str]], bytes], "tuple[int, Mapping[str, str], bytes | str] | None"]


class _GatewayServer(ThreadingHTTPServer):
    daemon_threads = True
    gateway: Gateway
    mounts: list[Mount]


def make_server(gateway: Gateway | None, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """An HTTP server for ``gateway`` bound to ``host:port`` (0 = a free port); call ``serve_forever()``.

    ``gateway`` may be set later (``server.gateway = ...``) but before serving: binding first tells
    the caller its port, which the deployed configuration may need (e.g. a webhook URL).
    """
    server = _GatewayServer((host, port), _RequestHandler)
    server.gateway = gateway  # type: ignore[assignment]
    server.mounts = []
    return server
