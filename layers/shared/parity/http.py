"""The HTTP edge shared by every API function: the resolver, JSON bodies, the caller's company,
and the single place where domain errors become DESIGN.md error bodies."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from parity.errors import InvalidJson, NotFound, ParityError, PayloadTooLarge, Unauthorized, UnsupportedMediaType
from parity.observability import bind, logger
from parity.service import ApiResult, to_json
from parity.settings import MAX_BODY_BYTES

JSON = "application/json"


def build_resolver(*, require_company: bool = True) -> APIGatewayHttpResolver:
    """An HTTP API resolver whose errors all have the DESIGN.md shape.

    With ``require_company`` every route first checks that the authorizer resolved the bearer
    token to a company; otherwise the request ends in a 401 before any route code runs.
    """
    app = APIGatewayHttpResolver(serializer=to_json)

    @app.exception_handler(ParityError)
    def _domain_error(exc: ParityError) -> Response:
        return error_response(exc)

    @app.not_found
    def _no_route(_exc: Exception) -> Response:
        return error_response(NotFound("no such route"))

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        logger.exception("unhandled error")
        return error_response(ParityError("internal error"))

    if require_company:
        app.use(middlewares=[_require_company])
    return app


def _require_company(app: APIGatewayHttpResolver, next_middleware: Any) -> Response:
    company = caller_company(app)
    bind(company_id=company)
    return next_middleware(app)


def caller_company(app: APIGatewayHttpResolver) -> str:
    """The company the authorizer resolved the bearer token to; 401 when it could not."""
    context = app.current_event.request_context.authorizer.get_lambda or {}
    company = context.get("company_id")
    if not company:
        reason = context.get("auth_error") or "invalid_token"
        raise Unauthorized(
            "the bearer token is missing, unknown or expired",
            headers={"WWW-Authenticate": f'Bearer error="{reason}"'},
        )
    return str(company)


def json_body(app: APIGatewayHttpResolver) -> Any:
    """The request body as JSON (numbers with a fraction as Decimal, exact for DynamoDB).

    Oversized → 413, a non-JSON content type → 415, empty or malformed JSON → 400.
    """
    event = app.current_event
    content_type = (event.headers.get("content-type") or JSON).split(";")[0].strip().lower()
    if content_type != JSON and not content_type.endswith("+json"):
        raise UnsupportedMediaType(f"send {JSON}, not {content_type}")
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
    if not raw_bytes.strip():
        raise InvalidJson("a JSON body is required", details=[{"field": "body", "message": "required", "type": "missing"}])
    try:
        return json.loads(raw_bytes.decode("utf-8"), parse_float=Decimal, parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:
        raise InvalidJson("the body is not valid JSON", details=[{"field": "body", "message": _json_problem(exc), "type": "json_invalid"}]) from exc


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _json_problem(exc: Exception) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8"
    return str(exc).split(":")[0] if isinstance(exc, json.JSONDecodeError) else str(exc)


def header(app: APIGatewayHttpResolver, name: str) -> str | None:
    return app.current_event.headers.get(name.lower())


def result_response(result: ApiResult) -> Response:
    headers = {"Idempotent-Replayed": "true"} if result.replayed else {}
    return Response(status_code=result.status, content_type=JSON, body=result.body, headers=headers)


def json_response(status: int, payload: Any) -> Response:
    return Response(status_code=status, content_type=JSON, body=to_json(payload))


def error_response(exc: ParityError) -> Response:
    error: dict[str, Any] = {"code": exc.code, "message": exc.message, "details": exc.details}
    return Response(status_code=exc.status, content_type=JSON, body=to_json({"error": error}), headers=exc.headers)
