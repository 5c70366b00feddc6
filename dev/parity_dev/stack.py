"""Deploy template.yaml into moto and describe what came out.

The SAM template is translated by samtranslator (the same code ``sam deploy`` runs server-side), the
result is created by moto's CloudFormation, and everything moto cannot do for us is read back from
the translated template by ``parity_dev.declared``: HTTP API routes and authorizers, event source
mappings (kept out of moto on purpose, see ``_moto_template``) and the schedules that invoke
functions.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from parity_dev.aws import Clients, default_clients
from parity_dev.declared import (
    Authorizer,
    EventSourceMapping,
    Route,
    ScheduleSource,
    parse_event_source_mappings,
    parse_http_apis,
    parse_schedules,
)

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
#: The LoggingConfig properties the runtime acts on (as Lambda: the variables a worker sees).
LOGGING_PROPERTIES = ("LogFormat", "ApplicationLogLevel", "SystemLogLevel")


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
    #: Its LoggingConfig's levels and format, resolved (``LogFormat``, ``ApplicationLogLevel``,
    #: ``SystemLogLevel``); moto keeps no LoggingConfig, so they come from the template.
    logging: dict[str, str] = field(default_factory=dict)


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
    than re-implementing intrinsic functions. The functions' LoggingConfig levels (``!Ref LogLevel``)
    are resolved the same way: moto keeps no LoggingConfig.
    """
    template = copy.deepcopy(translated)
    resources = template["Resources"]
    outputs = template.setdefault("Outputs", {})
    resolved: dict[str, tuple[str, str]] = {}

    def resolve_later(logical_id: str, prop: str, expression: Any) -> None:
        key = f"{_OUTPUT_PREFIX}{len(resolved)}"
        outputs[key] = {"Value": expression}
        resolved[key] = (logical_id, prop)

    for logical_id in [k for k, v in resources.items() if v["Type"] == "AWS::Lambda::EventSourceMapping"]:
        properties = resources.pop(logical_id).get("Properties", {})
        expressions = {
            "EventSourceArn": properties.get("EventSourceArn"),
            "OnFailure": properties.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"),
        }
        for prop, expression in expressions.items():
            if expression is not None:
                resolve_later(logical_id, prop, expression)
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::Lambda::Function":
            for prop, expression in (resource.get("Properties", {}).get("LoggingConfig") or {}).items():
                if prop in LOGGING_PROPERTIES:
                    resolve_later(logical_id, prop, expression)
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
        functions=_functions(resources, physical_ids, local_code_uris(original), template_path.parent, clients, resolved_values),
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
    resolved: Mapping[str, Mapping[str, str]],
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
            logging={k: v for k, v in resolved.get(logical_id, {}).items() if k in LOGGING_PROPERTIES},
        )
    return functions


def _as_env_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)
