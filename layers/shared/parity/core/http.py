"""The HTTP edge shared by every API function: the router, JSON bodies, the caller's company,
and the single place where domain errors become DESIGN.md error bodies.

The router is ours, not powertools' ``APIGatewayHttpResolver``: importing
``aws_lambda_powertools.event_handler`` pulls in every resolver it ships (AppSync, Bedrock, VPC
Lattice, ALB …) and asyncio, ≈ 30–55 ms of every API function's cold start and most of the
handler CPU above a bare handler (docs/performance.md). What we used of it — ``<param>`` routes on
one HTTP API (payload 2.0) event, one error shape, the company checked before any route code runs —
is below.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from parity.core import jsonio
from parity.core.errors import InvalidJson, NotFound, ParityError, PayloadTooLarge, Unauthorized, UnsupportedMediaType
from parity.core.observability import bind, logger
from parity.core.settings import MAX_BODY_BYTES

JSON = "application/json"
_PARAM = re.compile(r"<(\w+)>")


@dataclass(frozen=True)
class ApiResult:
    """A use case's answer, already serialized: the status and the JSON text to send, whether it is a replay, and the
    ids it concerns (for the log line; empty for a replay)."""

    status: int
    body: str
    replayed: bool = False
    ids: Mapping[str, str | None] = field(default_factory=dict)


@dataclass
class Response:
    """What a route answers; ``body`` is already serialized (``json_response`` does that)."""

    status_code: int
    body: str = ""
    content_type: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def as_payload(self) -> dict[str, Any]:
        """The HTTP API payload-2.0 response."""
        headers = {"Content-Type": self.content_type} if self.content_type else {}
        headers.update(self.headers)
        return {"statusCode": self.status_code, "headers": headers, "body": self.body, "isBase64Encoded": False, "cookies": []}


class Request:
    """The HTTP API (payload 2.0) event of the invocation being served, read-only."""

    __slots__ = ("event", "headers")

    def __init__(self, event: Mapping[str, Any]) -> None:
        self.event = event
        # API Gateway lower-cases header names; a hand-made event may not have.
        self.headers: dict[str, str] = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}

    @property
    def method(self) -> str:
        return str(((self.event.get("requestContext") or {}).get("http") or {}).get("method") or "").upper()

    @property
    def path(self) -> str:
        return str(self.event.get("rawPath") or "/")

    @property
    def query(self) -> dict[str, str]:
        return dict(self.event.get("queryStringParameters") or {})

    @property
    def body(self) -> str | None:
        return self.event.get("body")

    @property
    def is_base64_encoded(self) -> bool:
        return bool(self.event.get("isBase64Encoded"))

    @property
    def decoded_body(self) -> str | None:
        """The body as text, base64-decoded when API Gateway encoded it; 400 when it is not UTF-8."""
        if not self.is_base64_encoded or not self.body:
            return self.body
        try:
            return base64.b64decode(self.body, validate=True).decode("utf-8")
        except ValueError as exc:  # binascii.Error and UnicodeDecodeError are ValueErrors
            raise InvalidJson("the body is not valid base64-encoded UTF-8 text") from exc

    @property
    def authorizer(self) -> dict[str, Any]:
        """The Lambda authorizer's context (``company_id`` or ``auth_error``); {} without one."""
        authorizer = (self.event.get("requestContext") or {}).get("authorizer") or {}
        return dict(authorizer.get("lambda") or {})


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # as registered: ``/api/v3.1/rooms/<room_id>/preview``
    pattern: re.Pattern[str]
    view: Callable[..., Response]


class Router:
    """Routes one HTTP API's events to views by method and ``<param>`` path.

    A view gets the path parameters as keyword arguments (URL-encoded, as API Gateway passes them)
    and returns a ``Response``. Every error leaves as the DESIGN.md body: a ``ParityError`` with its
    status, an unknown route 404, anything unexpected a logged 500 that names nothing internal.
    With ``require_company`` a matched route first checks that the authorizer resolved the bearer
    token to a company; otherwise the request ends in a 401 before any route code runs.
    """

    def __init__(self, *, require_company: bool = True) -> None:
        self.require_company = require_company
        self.routes: list[Route] = []
        self._local = threading.local()  # the local stack serves several invocations in threads

    def route(self, method: str, path: str) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
        pattern = re.compile("^" + _PARAM.sub(r"(?P<\1>[^/]+)", re.escape(path)) + "$")

        def register(view: Callable[..., Response]) -> Callable[..., Response]:
            self.routes.append(Route(method.upper(), path, pattern, view))
            return view

        return register

    def get(self, path: str):
        return self.route("GET", path)

    def post(self, path: str):
        return self.route("POST", path)

    def patch(self, path: str):
        return self.route("PATCH", path)

    def delete(self, path: str):
        return self.route("DELETE", path)

    @property
    def current_event(self) -> Request:
        request = getattr(self._local, "request", None)
        if request is None:
            raise RuntimeError("no request is being served")
        return request

    def resolve(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """The payload-2.0 answer to one HTTP API event."""
        request = Request(event)
        self._local.request = request
        try:
            return self._dispatch(request).as_payload()
        finally:
            self._local.request = None

    def _dispatch(self, request: Request) -> Response:
        try:
            for route in self.routes:
                if route.method != request.method:
                    continue
                matched = route.pattern.match(request.path)
                if matched is None:
                    continue
                if self.require_company:
                    bind(company_id=caller_company(self))
                return route.view(**matched.groupdict())
            raise NotFound("no such route")
        except ParityError as exc:
            return error_response(exc)
        except Exception:
            logger.exception("unhandled error")
            return error_response(ParityError("internal error"))


def caller_company(app: Router) -> str:
    """The company the authorizer resolved the bearer token to; 401 when it could not."""
    context = app.current_event.authorizer
    company = context.get("company_id")
    if not company:
        reason = context.get("auth_error") or "invalid_token"
        raise Unauthorized(
            "the bearer token is missing, unknown or expired",
            headers={"WWW-Authenticate": f'Bearer error="{reason}"'},
        )
    return str(company)


def body_bytes(app: Router) -> bytes:
    """The request body's bytes exactly as sent (base64-decoded when API Gateway encoded them);
    over ``MAX_BODY_BYTES`` → 413, undecodable base64 → 400."""
    event = app.current_event
    raw = event.body or ""
    if event.is_base64_encoded:
        try:
            raw_bytes = base64.b64decode(raw, validate=True)
        except ValueError as exc:
            raise InvalidJson("the body is not valid base64") from exc
    else:
        raw_bytes = raw.encode("utf-8", "surrogatepass")
    if len(raw_bytes) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is over {MAX_BODY_BYTES} bytes")
    return raw_bytes


def json_body(app: Router) -> Any:
    """The request body as JSON (numbers with a fraction as Decimal, exact for DynamoDB).

    Oversized → 413, a non-JSON content type → 415, empty or malformed JSON → 400.
    """
    event = app.current_event
    content_type = (event.headers.get("content-type") or JSON).split(";")[0].strip().lower()
    if content_type != JSON and not content_type.endswith("+json"):
        raise UnsupportedMediaType(f"send {JSON}, not {content_type}")
    raw_bytes = body_bytes(app)
    if not raw_bytes.strip():
        raise InvalidJson("a JSON body is required", details=[{"field": "body", "message": "required", "type": "missing"}])
    try:
        return jsonio.loads(raw_bytes.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise InvalidJson("the body is not valid JSON", details=[{"field": "body", "message": _json_problem(exc), "type": "json_invalid"}]) from exc


def _json_problem(exc: Exception) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8"
    return str(exc).split(":")[0] if isinstance(exc, json.JSONDecodeError) else str(exc)


def header(app: Router, name: str) -> str | None:
    return app.current_event.headers.get(name.lower())


def result_response(result: ApiResult) -> Response:
    headers = {"Idempotent-Replayed": "true"} if result.replayed else {}
    return Response(status_code=result.status, content_type=JSON, body=result.body, headers=headers)


def json_response(status: int, payload: Any) -> Response:
    return Response(status_code=status, content_type=JSON, body=jsonio.dumps(payload))


def error_response(exc: ParityError) -> Response:
    error: dict[str, Any] = {"code": exc.code, "message": exc.message, "details": exc.details}
    return Response(status_code=exc.status, content_type=JSON, body=jsonio.dumps({"error": error}), headers=exc.headers)
