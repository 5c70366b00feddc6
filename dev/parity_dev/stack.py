"""Deploy template.yaml into moto and describe what came out.

The SAM template is translated by samtranslator (the same code ``sam deploy`` runs server-side), the
result is created by moto's CloudFormation, and everything moto cannot do for us is read back from
the translated template: HTTP API routes and authorizers (moto has no ``AWS::ApiGatewayV2::Api``),
event source mappings (kept out of moto on purpose, see ``_moto_template``) and the schedules that
invoke functions (moto keeps rules but runs nothing; ``parity_dev.schedules`` runs them).
"""

from __future__ import annotations

import copy
import io
import json
import logging
import re
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from parity_dev.aws import ACCOUNT_ID, REGION, Clients, default_clients

log = logging.getLogger("parity_dev.stack")


class _KnownGapFilter(logging.Filter):
    """Drops moto's complaints about resources it cannot create: the HTTP API (we emulate it ourselves),
    EventBridge Scheduler schedules (``parity_dev.schedules`` runs them from the translated template),
    CloudWatch alarms (nothing evaluates them locally; tests read them from the translated template)
    and SQS queue policies (moto's bus delivers to its queues without asking them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(gap in message for gap in ("AWS::ApiGatewayV2::", "AWS::Scheduler::Schedule", "AWS::CloudWatch::Alarm", "AWS::SQS::QueuePolicy"))


logging.getLogger("moto").addFilter(_KnownGapFilter())  # moto.cloudformation logs on the "moto" logger
warnings.filterwarnings("ignore", message=r"Tried to parse AWS::(ApiGatewayV2::|Scheduler::Schedule|SQS::QueuePolicy)", category=UserWarning)

ARTIFACT_BUCKET = "parity-dev-artifacts"
ARTIFACT_KEY = "placeholder.zip"
_ARTIFACT_URI = f"s3://{ARTIFACT_BUCKET}/{ARTIFACT_KEY}"
# Outputs we add to resolve intrinsic functions through moto; removed again from DeployedStack.outputs.
_OUTPUT_PREFIX = "ParityDevResolved"
_HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
_ANY_METHOD = "x-amazon-apigateway-any-method"
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")
# API Gateway's default account-level throttling per Region: what a route without a limit of its own gets.
ACCOUNT_RATE_LIMIT = 10_000
ACCOUNT_BURST_LIMIT = 5_000


@dataclass(frozen=True)
class FunctionSpec:
    """One deployed Lambda function, as the runtime (``parity_dev.lambdas``) needs it."""

    logical_id: str
    name: str  # physical FunctionName
    arn: str
    code_dir: Path | None  # local CodeUri; None if the template gives no local code
    handler: str
    environment: dict[str, str]
    timeout: int
    memory_size: int
    runtime: str | None = None


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


@dataclass
class DeployedStack:
    """What a deploy produced: physical ids, functions, tables, routes, event sources."""

    stack_name: str
    stack_id: str
    template: dict[str, Any]  # the translated (plain CloudFormation) template
    physical_ids: dict[str, str]  # logical id -> physical id
    resource_types: dict[str, str]  # logical id -> resource type
    outputs: dict[str, str]
    functions: dict[str, FunctionSpec]  # by logical id
    tables: dict[str, str]  # logical id -> table name
    queues: dict[str, str]  # logical id -> queue URL
    routes: list[Route] = field(default_factory=list)
    authorizers: dict[str, Authorizer] = field(default_factory=dict)  # "<api>.<name>" -> authorizer
    event_source_mappings: list[EventSourceMapping] = field(default_factory=list)
    schedules: list[ScheduleSource] = field(default_factory=list)
    layer_dirs: list[Path] = field(default_factory=list)  # local Python layer sources

    def function_by_name(self, name_or_arn: str) -> FunctionSpec:
        """Find a function by physical name or ARN (what events and other AWS calls carry)."""
        for spec in self.functions.values():
            if name_or_arn in (spec.name, spec.arn) or name_or_arn.startswith(spec.arn + ":"):
                return spec
        raise KeyError(name_or_arn)


# --- template loading and translation ---------------------------------------------------------


def load_template(path: str | Path) -> dict[str, Any]:
    """Parse a (SAM or CloudFormation) YAML/JSON template into plain dicts, short-form tags expanded."""
    from cfnlint.decode import decode_str

    text = Path(path).read_text(encoding="utf-8")
    template, errors = decode_str(text)
    if errors or template is None:
        raise ValueError(f"{path}: cannot parse template: {errors}")
    # cfn-lint returns its own dict/str subclasses (with line marks); a JSON round trip gives plain ones.
    return json.loads(json.dumps(template, default=str))


def local_code_uris(template: dict[str, Any]) -> dict[str, str]:
    """Logical id -> local ``CodeUri`` of each ``AWS::Serverless::Function`` (Globals applied)."""
    default = template.get("Globals", {}).get("Function", {}).get("CodeUri")
    uris = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") == "AWS::Serverless::Function":
            uri = resource.get("Properties", {}).get("CodeUri", default)
            if isinstance(uri, str) and not uri.startswith("s3://"):
                uris[logical_id] = uri
    return uris


def parameter_variables(template: dict[str, Any]) -> dict[str, list[str]]:
    """Template parameter -> the environment variables it feeds directly (``VAR: !Ref Param``)."""
    declared = template.get("Parameters", {})
    blocks = [template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})]
    blocks += [
        r.get("Properties", {}).get("Environment", {}).get("Variables", {})
        for r in template.get("Resources", {}).values()
        if r.get("Type") in ("AWS::Serverless::Function", "AWS::Lambda::Function")
    ]
    feeds: dict[str, list[str]] = {}
    for block in blocks:
        for variable, expression in block.items():
            if isinstance(expression, dict) and list(expression) == ["Ref"] and expression["Ref"] in declared:
                if variable not in feeds.setdefault(expression["Ref"], []):
                    feeds[expression["Ref"]].append(variable)
    return feeds


def parameters_for(template: dict[str, Any], variables: Mapping[str, str]) -> dict[str, str]:
    """Values for the template parameters that feed environment variables (``VAR: !Ref Param``).

    The local stack is configured by environment variable names (DESIGN.md "Configuration"); this
    maps them back onto the template's parameters so the deployed functions resolve them as AWS would.
    """
    return {
        parameter: variables[variable]
        for parameter, fed in parameter_variables(template).items()
        for variable in fed
        if variable in variables
    }


def _check_required_parameters(template: dict[str, Any], parameters: Mapping[str, Any]) -> None:
    """Fail early, naming the variable to set, when a parameter without a Default has no value."""
    feeds = parameter_variables(template)
    missing = [
        f"{name} (environment variable {' / '.join(feeds[name])})" if feeds.get(name) else name
        for name, declaration in template.get("Parameters", {}).items()
        if "Default" not in declaration and name not in parameters
    ]
    if missing:
        raise ValueError(f"template parameters without a default need a value: {', '.join(missing)}")


def local_layer_dirs(template: dict[str, Any], template_dir: Path) -> list[Path]:
    """Local ``ContentUri`` directories of the template's Python layers (for sys.path when not installed)."""
    dirs = []
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") != "AWS::Serverless::LayerVersion":
            continue
        uri = resource.get("Properties", {}).get("ContentUri")
        build = resource.get("Metadata", {}).get("BuildMethod", "python")
        # makefile: layers/shared/Makefile installs the same directory's sources (plus bytecode).
        if isinstance(uri, str) and not uri.startswith("s3://") and (str(build).startswith("python") or build == "makefile"):
            dirs.append((template_dir / uri).resolve())
    return dirs


_translations: dict[tuple[str, int, str], dict[str, Any]] = {}


def translate(template_path: str | Path, parameters: dict[str, Any] | None, clients: Clients) -> dict[str, Any]:
    """Translate the SAM template to plain CloudFormation, with every code location on a placeholder S3 object.

    Cached per template path, modification time and parameters: translation is pure apart from the
    managed-policy lookups, which moto answers identically in every account.
    """
    path = Path(template_path).resolve()
    key = (str(path), path.stat().st_mtime_ns, json.dumps(parameters or {}, sort_keys=True, default=str))
    if key not in _translations:
        _translations[key] = _translate(path, parameters or {}, clients)
    return copy.deepcopy(_translations[key])


def _translate(path: Path, parameters: dict[str, Any], clients: Clients) -> dict[str, Any]:
    from samtranslator.public.translator import ManagedPolicyLoader
    from samtranslator.translator.transform import transform

    template = load_template(path)
    if "Transform" not in template:
        return template  # already plain CloudFormation
    for resource in template.get("Resources", {}).values():
        properties = resource.setdefault("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function":
            properties["CodeUri"] = _ARTIFACT_URI
        elif resource.get("Type") == "AWS::Serverless::LayerVersion":
            properties["ContentUri"] = _ARTIFACT_URI
    if "CodeUri" in template.get("Globals", {}).get("Function", {}):
        template["Globals"]["Function"]["CodeUri"] = _ARTIFACT_URI
    return transform(template, dict(parameters), ManagedPolicyLoader(clients.client("iam")))


def _upload_placeholder_artifact(clients: Clients) -> None:
    """moto's Lambda fetches function and layer code from S3, so the placeholder zip must exist."""
    s3 = clients.client("s3")
    try:
        s3.head_bucket(Bucket=ARTIFACT_BUCKET)
    except s3.exceptions.ClientError:
        s3.create_bucket(Bucket=ARTIFACT_BUCKET)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "Placeholder: the local stack runs the code from the working tree.\n")
    s3.put_object(Bucket=ARTIFACT_BUCKET, Key=ARTIFACT_KEY, Body=buffer.getvalue())


def _moto_template(translated: dict[str, Any]) -> tuple[dict[str, Any], dict[str, tuple[str, str]]]:
    """The template handed to moto, plus which added output resolves which (mapping, property).

    Event source mappings are left out: moto would "invoke" the function itself (through Docker) on
    every stream record or queue message and consume them. We keep them to our pollers instead,
    and ask moto to resolve their ARNs (``!GetAtt Table.StreamArn`` …) through stack outputs rather
    than re-implementing intrinsic functions.
    """
    template = copy.deepcopy(translated)
    resources = template["Resources"]
    outputs = template.setdefault("Outputs", {})
    resolved: dict[str, tuple[str, str]] = {}
    for logical_id in [k for k, v in resources.items() if v["Type"] == "AWS::Lambda::EventSourceMapping"]:
        properties = resources.pop(logical_id).get("Properties", {})
        expressions = {
            "EventSourceArn": properties.get("EventSourceArn"),
            "OnFailure": properties.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"),
        }
        for prop, expression in expressions.items():
            if expression is not None:
                key = f"{_OUTPUT_PREFIX}{len(resolved)}"
                outputs[key] = {"Value": expression}
                resolved[key] = (logical_id, prop)
    for resource in resources.values():  # nothing may depend on what we removed
        depends = resource.get("DependsOn")
        if isinstance(depends, list):
            resource["DependsOn"] = [d for d in depends if d in resources]
        elif isinstance(depends, str) and depends not in resources:
            del resource["DependsOn"]
    if not outputs:
        del template["Outputs"]
    return template, resolved


# --- deploy -------------------------------------------------------------------------------------


def deploy(
    template_path: str | Path,
    *,
    stack_name: str = "parity",
    parameters: dict[str, Any] | None = None,
    clients: Clients | None = None,
) -> DeployedStack:
    """Deploy ``template_path`` as CloudFormation stack ``stack_name`` into whatever AWS ``clients`` reach.

    ``clients`` defaults to the default credential chain (inside ``moto.mock_aws``: the in-process
    mock); pass ``Clients(endpoint_url=...)`` for a moto server. Raises ``ValueError`` when a
    parameter without a default has no value, ``RuntimeError`` when the stack does not reach
    CREATE_COMPLETE.
    """
    clients = clients or default_clients()
    template_path = Path(template_path).resolve()
    original = load_template(template_path)
    _check_required_parameters(original, parameters or {})
    translated = translate(template_path, parameters, clients)
    moto_template, resolved = _moto_template(translated)
    _upload_placeholder_artifact(clients)

    cfn = clients.client("cloudformation")
    cfn.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(moto_template),
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        Parameters=[{"ParameterKey": k, "ParameterValue": str(v)} for k, v in (parameters or {}).items()],
    )
    description = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    if description["StackStatus"] != "CREATE_COMPLETE":
        raise RuntimeError(
            f"stack {stack_name}: {description['StackStatus']} {description.get('StackStatusReason', '')}"
        )
    summaries = [
        summary
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack_name)
        for summary in page["StackResourceSummaries"]
    ]
    # moto 5.2 also lists one summary without a logical id (for a resource type it cannot create).
    physical_ids = {s["LogicalResourceId"]: s.get("PhysicalResourceId", "") for s in summaries if s.get("LogicalResourceId")}
    all_outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in description.get("Outputs", [])}
    resolved_values: dict[str, dict[str, str]] = {}
    for key, (logical_id, prop) in resolved.items():
        resolved_values.setdefault(logical_id, {})[prop] = all_outputs.pop(key)

    resources = translated["Resources"]
    stack = DeployedStack(
        stack_name=stack_name,
        stack_id=description["StackId"],
        template=translated,
        physical_ids=physical_ids,
        resource_types={k: v["Type"] for k, v in resources.items()},
        outputs=all_outputs,
        functions=_functions(resources, physical_ids, local_code_uris(original), template_path.parent, clients),
        tables=_physical_of_type(resources, physical_ids, "AWS::DynamoDB::Table"),
        queues=_physical_of_type(resources, physical_ids, "AWS::SQS::Queue"),
        layer_dirs=local_layer_dirs(original, template_path.parent),
    )
    stack.routes, stack.authorizers = parse_http_apis(translated)
    stack.event_source_mappings = parse_event_source_mappings(translated, resolved_values)
    stack.schedules = parse_schedules(translated, physical_ids)
    return stack


def _physical_of_type(resources: dict[str, Any], physical_ids: dict[str, str], resource_type: str) -> dict[str, str]:
    return {k: physical_ids[k] for k, v in resources.items() if v["Type"] == resource_type and k in physical_ids}


def _functions(
    resources: dict[str, Any],
    physical_ids: dict[str, str],
    code_uris: dict[str, str],
    template_dir: Path,
    clients: Clients,
) -> dict[str, FunctionSpec]:
    lambda_client = clients.client("lambda")
    functions = {}
    for logical_id, name in _physical_of_type(resources, physical_ids, "AWS::Lambda::Function").items():
        config = lambda_client.get_function_configuration(FunctionName=name)
        variables = config.get("Environment", {}).get("Variables", {})
        uri = code_uris.get(logical_id)
        functions[logical_id] = FunctionSpec(
            logical_id=logical_id,
            name=config["FunctionName"],
            arn=config["FunctionArn"],
            code_dir=(template_dir / uri).resolve() if uri else None,
            handler=config.get("Handler", ""),
            # moto keeps CloudFormation's types (a Number parameter stays an int); Lambda only has strings.
            environment={k: _as_env_string(v) for k, v in variables.items()},
            timeout=int(config.get("Timeout", 3)),
            memory_size=int(config.get("MemorySize", 128)),
            runtime=config.get("Runtime"),
        )
    return functions


def _as_env_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


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
