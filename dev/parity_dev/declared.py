"""What the translated template declares that moto does not run, read from it: the HTTP API's
routes, authorizers and throttling (moto has no ``AWS::ApiGatewayV2::Api``), the event source
mappings (kept out of moto on purpose: ``parity_dev.pollers`` runs them) and the schedules that
invoke functions (``parity_dev.schedules`` runs them). Pure: a template in, frozen records out.

Split from ``parity_dev.stack`` (which deploys the rest into moto) so each stays one concern.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from parity_dev.aws import ACCOUNT_ID, REGION

_HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
_ANY_METHOD = "x-amazon-apigateway-any-method"
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")
# API Gateway's default account-level throttling per Region: what a route without a limit of its own gets.
ACCOUNT_RATE_LIMIT = 10_000
ACCOUNT_BURST_LIMIT = 5_000


@dataclass(frozen=True)
class Authorizer:
    """A Lambda REQUEST authorizer of an HTTP API (payload format 2.0)."""

    api: str  # logical id of the AWS::ApiGatewayV2::Api
    name: str
    function: str  # logical id of the authorizer function
    identity_source: tuple[str, ...]  # e.g. ("$request.header.Authorization",)
    payload_format_version: str
    simple_responses: bool
    result_ttl_seconds: int


@dataclass(frozen=True)
class Throttle:
    """A route's throttling on the ``$default`` stage: a token bucket of ``burst_limit`` tokens refilled
    at ``rate_limit`` per second (``ThrottlingRateLimit`` / ``ThrottlingBurstLimit``)."""

    rate_limit: float
    burst_limit: int


@dataclass(frozen=True)
class Route:
    """One route of an HTTP API: ``method`` is upper-case or ``ANY``; ``path`` may hold ``{param}``."""

    api: str
    method: str
    path: str
    function: str  # logical id of the integration function
    authorizer: Authorizer | None
    payload_format_version: str = "2.0"
    throttle: Throttle | None = None  # None: only the account-level limit applies (not emulated)

    @property
    def route_key(self) -> str:
        """The route key API Gateway puts in events: ``"POST /deals/{id}"`` or ``"$default"``."""
        return self.path if self.path == "$default" else f"{self.method} {self.path}"


@dataclass(frozen=True)
class EventSourceMapping:
    """An ``AWS::Lambda::EventSourceMapping`` of the template, resolved to physical ARNs."""

    logical_id: str
    function: str  # logical id
    source_kind: str  # "sqs" | "dynamodb"
    source_arn: str
    batch_size: int
    function_response_types: tuple[str, ...] = ()
    maximum_batching_window_seconds: int = 0
    starting_position: str | None = None
    enabled: bool = True
    maximum_retry_attempts: int = -1  # streams only; -1 = until the record expires
    on_failure_arn: str | None = None  # streams only
    filter_patterns: tuple[str, ...] = ()

    @property
    def reports_batch_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in self.function_response_types


@dataclass(frozen=True)
class ScheduleSource:
    """A schedule of the template that invokes a function: an ``AWS::Events::Rule`` with a
    ``ScheduleExpression`` (SAM's ``Schedule`` event) or an ``AWS::Scheduler::Schedule`` (SAM's
    ``ScheduleV2``). ``parity_dev.schedules`` runs it."""

    logical_id: str
    function: str  # logical id of the target function
    expression: str  # "rate(1 minute)", "cron(0 * * * ? *)", "at(2026-01-01T00:00:00)"
    kind: str  # "events" (an EventBridge rule) | "scheduler" (EventBridge Scheduler)
    arn: str  # the rule's or schedule's ARN, as its events name it in ``resources``
    input: str | None = None  # the target's ``Input`` (JSON text); None: the service's default event
    timezone: str = "UTC"  # ``ScheduleExpressionTimezone`` (Scheduler only; rules are UTC)
    enabled: bool = True


# --- reading the translated template ----------------------------------------------------------


def _referenced_ids(expression: Any) -> list[str]:
    """Logical ids an intrinsic-function expression refers to (Ref, Fn::GetAtt, Fn::Sub), in order."""
    if isinstance(expression, list):
        return [ref for item in expression for ref in _referenced_ids(item)]
    if not isinstance(expression, dict):
        return []
    if "Ref" in expression:
        return [expression["Ref"]]
    if "Fn::GetAtt" in expression:
        target = expression["Fn::GetAtt"]
        return [target.split(".")[0] if isinstance(target, str) else target[0]]
    if "Fn::Sub" in expression:
        sub = expression["Fn::Sub"]
        text, variables = (sub, {}) if isinstance(sub, str) else (sub[0], sub[1])
        refs = []
        for name in _SUB_VARIABLE.findall(text):
            refs += _referenced_ids(variables[name]) if name in variables else [name.split(".")[0]]
        return refs
    return [ref for value in expression.values() for ref in _referenced_ids(value)]


def _function_id(expression: Any, resources: dict[str, Any]) -> str:
    """The logical id of the Lambda function an expression (ARN, name, alias) designates."""
    for ref in _referenced_ids(expression):
        resource_type = resources.get(ref, {}).get("Type")
        if resource_type == "AWS::Lambda::Function":
            return ref
        if resource_type in ("AWS::Lambda::Alias", "AWS::Lambda::Version"):
            return _function_id(resources[ref]["Properties"]["FunctionName"], resources)
    raise ValueError(f"expression designates no Lambda function of the template: {json.dumps(expression)}")


def parse_http_apis(template: dict[str, Any]) -> tuple[list[Route], dict[str, Authorizer]]:
    """Routes and authorizers of every ``AWS::ApiGatewayV2::Api`` whose OpenAPI ``Body`` SAM generated."""
    resources = template["Resources"]
    routes: list[Route] = []
    authorizers: dict[str, Authorizer] = {}
    for api_id, resource in resources.items():
        if resource["Type"] != "AWS::ApiGatewayV2::Api":
            continue
        body = resource.get("Properties", {}).get("Body")
        if body is None:
            raise NotImplementedError(f"{api_id}: only HTTP APIs with an inline OpenAPI Body are emulated")
        schemes = body.get("components", {}).get("securitySchemes", {})
        api_authorizers = {
            name: _authorizer(api_id, name, scheme["x-amazon-apigateway-authorizer"], resources)
            for name, scheme in schemes.items()
            if "x-amazon-apigateway-authorizer" in scheme
        }
        authorizers.update({f"{api_id}.{name}": a for name, a in api_authorizers.items()})
        for path, item in body.get("paths", {}).items():
            for method, operation in item.items():
                if method not in _HTTP_METHODS and method != _ANY_METHOD:
                    continue
                integration = operation.get("x-amazon-apigateway-integration", {})
                if integration.get("type", "aws_proxy").lower() != "aws_proxy":
                    raise NotImplementedError(f"{api_id} {method} {path}: only Lambda proxy integrations are emulated")
                version = str(integration.get("payloadFormatVersion", "2.0"))
                if version != "2.0":
                    raise NotImplementedError(f"{api_id} {method} {path}: payload format {version} is not emulated")
                routes.append(
                    Route(
                        api=api_id,
                        method="ANY" if method == _ANY_METHOD else method.upper(),
                        path=path,
                        function=_function_id(integration["uri"], resources),
                        authorizer=_route_authorizer(operation.get("security", body.get("security")), api_authorizers, api_id, path),
                        payload_format_version=version,
                    )
                )
    keys = [(r.method, r.path) for r in routes]
    duplicates = {k for k in keys if keys.count(k) > 1}
    if duplicates:
        raise ValueError(f"the local gateway serves every API on one port; routes defined twice: {sorted(duplicates)}")
    return _throttled(routes, resources), authorizers


def _throttled(routes: list[Route], resources: dict[str, Any]) -> list[Route]:
    """``routes`` with the throttling of their API's ``$default`` stage, as API Gateway applies it.

    A route with an entry in ``RouteSettings`` takes that entry alone: a limit it leaves out is the
    account's, not ``DefaultRouteSettings``' (so a route entry should set both limits). Every other
    route takes ``DefaultRouteSettings``. A ``RouteSettings`` key naming no route of the API is refused,
    as API Gateway refuses it ("Unable to find Route by key ... within the provided RouteSettings").
    """
    stages: dict[str, dict[str, Any]] = {}
    for stage_id, resource in resources.items():
        if resource["Type"] != "AWS::ApiGatewayV2::Stage":
            continue
        properties = resource.get("Properties", {})
        if properties.get("StageName") != "$default":
            if properties.get("DefaultRouteSettings") or properties.get("RouteSettings"):
                raise NotImplementedError(f"{stage_id}: route settings of a stage other than $default are not emulated")
            continue
        for api_id in _referenced_ids(properties.get("ApiId"))[:1]:
            stages[api_id] = properties
    for api_id, properties in stages.items():
        unknown = sorted(set(properties.get("RouteSettings") or {}) - {r.route_key for r in routes if r.api == api_id})
        if unknown:
            raise ValueError(f"{api_id}: RouteSettings name no route of the API: {unknown}")
    throttled = []
    for route in routes:
        properties = stages.get(route.api, {})
        own = (properties.get("RouteSettings") or {}).get(route.route_key)
        settings = own if own is not None else properties.get("DefaultRouteSettings") or {}
        rate, burst = settings.get("ThrottlingRateLimit"), settings.get("ThrottlingBurstLimit")
        if rate is None and burst is None:
            throttled.append(route)
            continue
        try:
            throttle = Throttle(
                rate_limit=float(ACCOUNT_RATE_LIMIT if rate is None else rate),
                burst_limit=int(ACCOUNT_BURST_LIMIT if burst is None else burst),
            )
        except (TypeError, ValueError):  # e.g. a !Ref to a parameter: resolve it in the template first
            raise NotImplementedError(f"{route.api} {route.route_key}: throttling limits must be numbers, got rate {rate!r}, burst {burst!r}") from None
        if throttle.rate_limit < 0 or throttle.burst_limit < 0:
            raise ValueError(f"{route.api} {route.route_key}: throttling limits must be >= 0, got rate {rate!r}, burst {burst!r}")
        throttled.append(replace(route, throttle=throttle))
    return throttled


def _authorizer(api_id: str, name: str, spec: dict[str, Any], resources: dict[str, Any]) -> Authorizer:
    if spec.get("type", "request").lower() != "request":
        raise NotImplementedError(f"{api_id} authorizer {name}: only Lambda REQUEST authorizers are emulated")
    version = str(spec.get("authorizerPayloadFormatVersion", "2.0"))
    if version != "2.0":
        raise NotImplementedError(f"{api_id} authorizer {name}: payload format {version} is not emulated")
    identity_source = spec.get("identitySource", [])
    if isinstance(identity_source, str):  # the API accepts a comma-separated string too
        identity_source = [s.strip() for s in identity_source.split(",") if s.strip()]
    for source in identity_source:
        if not source.startswith(("$request.header.", "$request.querystring.")):
            raise NotImplementedError(f"{api_id} authorizer {name}: identity source {source} is not emulated")
    return Authorizer(
        api=api_id,
        name=name,
        function=_function_id(spec["authorizerUri"], resources),
        identity_source=tuple(identity_source),
        payload_format_version=version,
        simple_responses=bool(spec.get("enableSimpleResponses", False)),
        result_ttl_seconds=int(spec.get("authorizerResultTtlInSeconds", 0)),
    )


def _route_authorizer(
    security: list[dict[str, Any]] | None, authorizers: dict[str, Authorizer], api_id: str, path: str
) -> Authorizer | None:
    for requirement in security or []:
        for name in requirement:
            if name == "NONE":
                continue
            if name not in authorizers:
                raise NotImplementedError(f"{api_id} {path}: authorization {name!r} is not emulated")
            return authorizers[name]
    return None


def parse_event_source_mappings(
    template: dict[str, Any], resolved: dict[str, dict[str, str]]
) -> list[EventSourceMapping]:
    """The template's event source mappings; ``resolved`` holds each one's physical ARNs by property."""
    resources = template["Resources"]
    mappings = []
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Lambda::EventSourceMapping":
            continue
        properties = resource.get("Properties", {})
        source_arn = resolved[logical_id]["EventSourceArn"]
        if source_arn.startswith("arn:aws:sqs:"):
            kind, default_batch = "sqs", 10
        elif source_arn.startswith("arn:aws:dynamodb:") and "/stream/" in source_arn:
            kind, default_batch = "dynamodb", 100
        else:
            raise NotImplementedError(f"{logical_id}: event source {source_arn} is not emulated")
        filters = properties.get("FilterCriteria", {}).get("Filters", [])
        mappings.append(
            EventSourceMapping(
                logical_id=logical_id,
                function=_function_id(properties["FunctionName"], resources),
                source_kind=kind,
                source_arn=source_arn,
                batch_size=int(properties.get("BatchSize", default_batch)),
                function_response_types=tuple(properties.get("FunctionResponseTypes", [])),
                maximum_batching_window_seconds=int(properties.get("MaximumBatchingWindowInSeconds", 0)),
                starting_position=properties.get("StartingPosition"),
                enabled=properties.get("Enabled", True) not in (False, "false", "False"),
                maximum_retry_attempts=int(properties.get("MaximumRetryAttempts", -1)),
                on_failure_arn=resolved[logical_id].get("OnFailure"),
                filter_patterns=tuple(f["Pattern"] for f in filters if "Pattern" in f),
            )
        )
    return mappings


def parse_schedules(template: dict[str, Any], physical_ids: Mapping[str, str] | None = None) -> list[ScheduleSource]:
    """The template's schedules that invoke a function, one per (rule or schedule, target).

    EventBridge rules with an ``EventPattern`` only are not schedules (nothing to run on a clock).
    A schedule whose target is not a function of the template, or whose input is shaped by
    ``InputPath`` / ``InputTransformer``, is refused: it would silently never run here.
    """
    resources = template["Resources"]
    physical_ids = physical_ids or {}
    schedules = []
    for logical_id, resource in resources.items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Events::Rule" and "ScheduleExpression" in properties:
            name = physical_ids.get(logical_id) or properties.get("Name") or logical_id
            enabled = str(properties.get("State", "ENABLED")).upper() == "ENABLED"
            for target in properties.get("Targets", []):
                unsupported = sorted({"InputPath", "InputTransformer"} & set(target))
                if unsupported:
                    raise NotImplementedError(f"{logical_id}: a schedule target with {', '.join(unsupported)} is not emulated")
                schedules.append(ScheduleSource(
                    logical_id=logical_id, function=_schedule_target(logical_id, target.get("Arn"), resources),
                    expression=str(properties["ScheduleExpression"]).strip(), kind="events",
                    arn=f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{name}", input=target.get("Input"), enabled=enabled,
                ))
        elif resource["Type"] == "AWS::Scheduler::Schedule":
            target = properties.get("Target", {})
            name = properties.get("Name") or logical_id
            group = properties.get("GroupName") or "default"
            schedules.append(ScheduleSource(
                logical_id=logical_id, function=_schedule_target(logical_id, target.get("Arn"), resources),
                expression=str(properties.get("ScheduleExpression", "")).strip(), kind="scheduler",
                arn=f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule/{group}/{name}", input=target.get("Input"),
                timezone=str(properties.get("ScheduleExpressionTimezone") or "UTC"),
                enabled=str(properties.get("State", "ENABLED")).upper() == "ENABLED",
            ))
    return schedules


def _schedule_target(logical_id: str, expression: Any, resources: dict[str, Any]) -> str:
    try:
        return _function_id(expression, resources)
    except ValueError:
        raise NotImplementedError(f"{logical_id}: only schedules that invoke a Lambda function of the template are emulated") from None
