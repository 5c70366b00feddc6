"""The HTTP edge shared by every API function: the route table, the request, JSON bodies, the
caller's company, and the single place where domain errors become DESIGN.md error bodies.

A function registers a view per route key, spelled exactly as template.yaml's ``Method`` and ``Path``
(``"GET /api/v3.1/deals/{id}"``): API Gateway has already chosen the route, so the router looks the
event's ``routeKey`` up and passes the view the request and the event's ``pathParameters``
(decoded once, by API Gateway, for every route: a view never decodes them again). The router keeps
no per-request state: the request is an argument.

Each registration also says what the API's document needs (``parity_dev.openapi`` only walks the
routers): whether the route is public (no company bearer token), its request body model, its query
and header parameters, its success status and answer schema. Models and schemas are named lazily
(``"parity.crm.models:DealCreate"``): pydantic and the schemas load only where a body is parsed or
the document is built, never on a function's cold import (docs/performance.md).

The router is ours, not powertools' ``APIGatewayHttpResolver``: importing
``aws_lambda_powertools.event_handler`` pulls in every resolver it ships (AppSync, Bedrock, VPC
Lattice, ALB …) and asyncio, ≈ 30–55 ms of every API function's cold start and most of the
handler CPU above a bare handler (docs/performance.md).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from parity.core import jsonio
from parity.core.errors import InvalidJson, NotFound, ParityError, PayloadTooLarge, Unauthorized, UnsupportedMediaType, ValidationFailed
from parity.core.observability import bind, logger
from parity.core.settings import MAX_BODY_BYTES

JSON = "application/json"
#: The methods of a route key as template.yaml and API Gateway spell it: ``METHOD /path/{param}``.
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"})
_PARAM = re.compile(r"{(\w+)}")

#: A JSON schema: a dict, or ``"package.module:NAME"`` naming one (loaded by ``load``, lazily).
Schema = Mapping[str, Any] | str


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
    """The HTTP API (payload 2.0) event of one invocation, read-only, with the helpers views use."""

    __slots__ = ("event", "headers")

    def __init__(self, event: Mapping[str, Any]) -> None:
        self.event = event
        # API Gateway lower-cases header names; a hand-made event may not have.
        self.headers: dict[str, str] = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}

    @property
    def route_key(self) -> str:
        """The route API Gateway matched (``"GET /api/v3.1/deals/{id}"``), as template.yaml spells it."""
        return str(self.event.get("routeKey") or "")

    @property
    def path_parameters(self) -> Mapping[str, str]:
        """The route's parameters, already URL-decoded by API Gateway (once: never decode them again)."""
        return self.event.get("pathParameters") or {}

    @property
    def method(self) -> str:
        return str(((self.event.get("requestContext") or {}).get("http") or {}).get("method") or "").upper()

    @property
    def path(self) -> str:
        return str(self.event.get("rawPath") or "/")

    @property
    def query(self) -> dict[str, str]:
        """Query parameters, decoded; a repeated one comma-joined (payload 2.0)."""
        return dict(self.event.get("queryStringParameters") or {})

    @property
    def body(self) -> str | None:
        return self.event.get("body")

    @property
    def request_id(self) -> str:
        """API Gateway's id of this request (unique per request, unlike a caller's correlation id)."""
        return str((self.event.get("requestContext") or {}).get("requestId") or "")

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

    @property
    def internal(self) -> bool:
        """Whether the authorizer recognised the internal token (a Parity service, not a company)."""
        return self.authorizer.get("internal") == "true"

    @property
    def company(self) -> str:
        """The company the authorizer resolved the bearer token to; 401 when it could not."""
        context = self.authorizer
        company = context.get("company_id")
        if not company:
            reason = context.get("auth_error") or "invalid_token"
            raise Unauthorized(
                "the bearer token is missing, unknown or expired",
                headers={"WWW-Authenticate": f'Bearer error="{reason}"'},
            )
        return str(company)

    def header(self, name: str) -> str | None:
        """A request header's value, whatever the case of ``name``."""
        return self.headers.get(name.lower())

    def body_bytes(self) -> bytes:
        """The request body's bytes exactly as sent (base64-decoded when API Gateway encoded them);
        over ``MAX_BODY_BYTES`` → 413, undecodable base64 → 400."""
        raw = self.body or ""
        if self.is_base64_encoded:
            try:
                raw_bytes = base64.b64decode(raw, validate=True)
            except ValueError as exc:
                raise InvalidJson("the body is not valid base64") from exc
        else:
            raw_bytes = raw.encode("utf-8", "surrogatepass")
        if len(raw_bytes) > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"the body is over {MAX_BODY_BYTES} bytes")
        return raw_bytes

    def json(self) -> Any:
        """The request body as JSON (numbers with a fraction as Decimal, exact for DynamoDB).

        Oversized → 413, a non-JSON content type → 415, empty or malformed JSON → 400.
        """
        content_type = (self.headers.get("content-type") or JSON).split(";")[0].strip().lower()
        if content_type != JSON and not content_type.endswith("+json"):
            raise UnsupportedMediaType(f"send {JSON}, not {content_type}")
        raw_bytes = self.body_bytes()
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


View = Callable[..., Response]


class Param:
    """A query or header parameter a route reads, as its document shows it."""

    __slots__ = ("schema", "required")

    def __init__(self, schema: Schema, *, required: bool = False) -> None:
        self.schema = schema
        self.required = required


class Route:
    """One route key a function serves, its view, and what the API's document says about it.

    ``key`` is exactly as template.yaml spells it; ``params`` its path parameters in path order;
    ``args`` fixed keyword arguments of the view; ``public`` routes take no company bearer token (the
    authorizer does not run); ``internal`` routes also take the internal token the authorizer
    recognises (``request.internal``: no company); ``status`` is the success status; ``body`` names the request body's model
    (pydantic) or JSON schema, ``answer`` the success body's schema (None: no body, a 204); ``path``,
    ``query`` and ``headers`` describe the parameters (a path parameter without one: a non-empty string).
    """

    # A plain slotted class, not a dataclass: building a dataclass costs ≈ 0.7 ms of every cold start.
    __slots__ = ("key", "view", "params", "args", "public", "internal", "status", "body", "answer", "path", "query", "headers")

    def __init__(
        self,
        key: str,
        view: View,
        params: tuple[str, ...],
        *,
        args: Mapping[str, Any],
        public: bool,
        status: int,
        internal: bool = False,
        body: str | None,
        answer: Schema | None,
        path: Mapping[str, Schema],
        query: Mapping[str, Param],
        headers: Mapping[str, Param],
    ) -> None:
        self.key, self.view, self.params, self.args, self.public, self.status = key, view, params, args, public, status
        self.internal = internal
        self.body, self.answer, self.path, self.query, self.headers = body, answer, path, query, headers

    @property
    def method(self) -> str:
        return self.key.split(" ", 1)[0]

    @property
    def path_template(self) -> str:
        return self.key.split(" ", 1)[1]

    def __repr__(self) -> str:
        return f"Route({self.key!r})"


class Router:
    """One function's routes: a view per route key, found by the event's ``routeKey``.

    A view is called as ``view(request, **path_parameters, **args)`` and returns a ``Response``.
    Every error leaves as the DESIGN.md body: a ``ParityError`` with its status, a route key the
    function does not serve 404, anything unexpected a logged 500 that names nothing internal.
    A route that is not ``public`` first checks that the authorizer resolved the bearer token to a
    company; otherwise the request ends in a 401 before any route code runs.
    """

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}

    def route(
        self,
        key: str,
        *,
        args: Mapping[str, Any] | None = None,
        public: bool = False,
        internal: bool = False,
        status: int = 200,
        body: str | None = None,
        answer: Schema | None = None,
        path: Mapping[str, Schema] | None = None,
        query: Mapping[str, Param] | None = None,
        headers: Mapping[str, Param] | None = None,
    ) -> Callable[[View], View]:
        """Register the decorated view for ``key`` (stack decorators for a view serving several)."""
        method, _, route_path = key.partition(" ")
        if method not in _METHODS or not route_path.startswith("/") or any(c.isspace() for c in route_path):
            raise ValueError(f"not a route key (METHOD /path): {key!r}")
        params = tuple(_PARAM.findall(route_path))
        if set(path or {}) - set(params):
            raise ValueError(f"{key}: schemas for parameters it does not have: {sorted(set(path or {}) - set(params))}")

        def register(view: View) -> View:
            if key in self.routes:
                raise ValueError(f"{key} is registered twice")
            self.routes[key] = Route(
                key, view, params, args=dict(args or {}), public=public, internal=internal, status=status, body=body, answer=answer,
                path=dict(path or {}), query=dict(query or {}), headers=dict(headers or {}),
            )
            return view

        return register

    def resolve(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """The payload-2.0 answer to one HTTP API event."""
        return self._dispatch(Request(event)).as_payload()

    def _dispatch(self, request: Request) -> Response:
        try:
            route = self.routes.get(request.route_key)
            if route is None:
                raise NotFound("no such route")
            kwargs = route.args
            if route.params:
                given, kwargs = request.path_parameters, dict(kwargs)
                for name in route.params:
                    value = given.get(name)
                    if not value:  # API Gateway never matches an empty segment
                        raise NotFound("no such route")
                    kwargs[name] = value
            if not route.public and not (route.internal and request.internal):
                bind(company_id=request.company)
            if not route.public:
                _refuse_unknown_query(request.query, route.query)
            return route.view(request, **kwargs)
        except ParityError as exc:
            return error_response(exc)
        except Exception:
            logger.exception("unhandled error")
            return error_response(ParityError("internal error"))


def _refuse_unknown_query(query: Mapping[str, str], declared: Mapping[str, Any]) -> None:
    """A query parameter the route does not read is the caller's mistake (a misspelt filter would
    otherwise silently list everything): a 422 naming each, as an unknown body field is."""
    unknown = [name for name in query if name not in declared]
    if unknown:
        raise ValidationFailed(
            "unknown query parameter",
            details=[{"field": name[:64], "message": "not a parameter of this route", "type": "extra_forbidden"} for name in unknown[:10]],
        )


def load(reference: Any) -> Any:
    """What a lazy ``"package.module:NAME"`` reference names (anything else is returned as is).
    Only whoever documents the API calls this: a function's cold import never does."""
    if not isinstance(reference, str):
        return reference
    module, _, name = reference.partition(":")
    import importlib

    return getattr(importlib.import_module(module), name)


def result_response(result: ApiResult) -> Response:
    headers = {"Idempotent-Replayed": "true"} if result.replayed else {}
    return Response(status_code=result.status, content_type=JSON, body=result.body, headers=headers)


def json_response(status: int, payload: Any) -> Response:
    return Response(status_code=status, content_type=JSON, body=jsonio.dumps(payload))


def error_response(exc: ParityError) -> Response:
    error: dict[str, Any] = {"code": exc.code, "message": exc.message, "details": exc.details}
    return Response(status_code=exc.status, content_type=JSON, body=jsonio.dumps({"error": error}), headers=exc.headers)


#: What ``error_response`` answers, and what API Gateway answers itself (no route, no token, throttled).
ERROR_SCHEMA: dict[str, Any] = {"anyOf": [
    {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message", "details"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "details": {"type": "array"}},
    }}},
    {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}},
]}
