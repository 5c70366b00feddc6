"""The HTTP API as an OpenAPI 3.1 document, generated from the code (dev only, never deployed).

It only walks the route tables: each function's ``parity.core.http.Router`` (the ``app`` of
``functions/<name>/app.py``, found through the template's ``CodeUri``) registers its route keys as
template.yaml spells them, and each registration declares what the document says about it: public or
not, the request body's model, the query and header parameters, the success status and the answer's
schema (lazy ``"module:NAME"`` references, loaded here). Nothing about a route is kept in this module.
Served by the local stack at ``GET /openapi.json``; ``tests/functional/test_openapi.py`` checks it
against template.yaml's HttpApi routes in both directions.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Any

from parity.core.http import ERROR_SCHEMA, Param, Route, Router, load

ROOT = Path(__file__).resolve().parents[2]
#: A path parameter a route does not describe: a non-empty string (API Gateway never matches an empty segment).
_ANY_SEGMENT = {"type": "string", "minLength": 1}
_ERROR = {
    "description": "An error: ours (DESIGN.md shape) or API Gateway's own (no route, no token).",
    "content": {"application/json": {"schema": ERROR_SCHEMA}},
}


def _load_app(code_dir: Path) -> Any:
    name = f"parity_openapi_{code_dir.name}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, code_dir / "app.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[name] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def code_dirs(template_path: Path = ROOT / "template.yaml") -> dict[str, Path]:
    """Logical id → code directory of every function in the template."""
    from parity_dev.stack import load_template

    template = load_template(template_path)
    return {
        logical_id: (template_path.parent / resource["Properties"]["CodeUri"]).resolve()
        for logical_id, resource in template["Resources"].items()
        if resource.get("Type") == "AWS::Serverless::Function" and isinstance(resource["Properties"].get("CodeUri"), str)
    }


def routes(template_path: Path = ROOT / "template.yaml") -> dict[str, tuple[str, Route]]:
    """Route key → (the function's logical id, its route), for every route a router registered."""
    found: dict[str, tuple[str, Route]] = {}
    for logical_id, code_dir in sorted(code_dirs(template_path).items()):
        app = getattr(_load_app(code_dir), "app", None)
        if isinstance(app, Router):
            for key, route in app.routes.items():
                found[key] = (logical_id, route)
    return found


def code_routes(template_path: Path = ROOT / "template.yaml") -> dict[str, str]:
    """``"METHOD /path/{param}"`` → the function's logical id, for every route a router registered."""
    return {key: logical_id for key, (logical_id, _) in routes(template_path).items()}


def _schema(reference: Any) -> dict[str, Any]:
    """A declared schema: a pydantic model's JSON schema, or a JSON schema as it is."""
    loaded = load(reference)
    return loaded.model_json_schema() if hasattr(loaded, "model_json_schema") else dict(loaded)


def _query_schema(param: Param) -> dict[str, Any]:
    """An optional query parameter given empty (``?until=``) is not given: every route reads it so
    (``limit_of``, ``checks.moment``, ``… or None``), and the document says so."""
    schema = _schema(param.schema)
    return schema if param.required else {"anyOf": [schema, {"const": ""}]}


def _operation(route: Route) -> dict[str, Any]:
    operation: dict[str, Any] = {"operationId": re.sub(r"\W+", "_", route.key.lower()).strip("_")}
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": _schema(route.path.get(name, _ANY_SEGMENT))} for name in route.params
    ]
    parameters += [{"name": name, "in": "query", "required": p.required, "schema": _query_schema(p)} for name, p in route.query.items()]
    parameters += [{"name": name, "in": "header", "required": p.required, "schema": _schema(p.schema)} for name, p in route.headers.items()]
    if parameters:
        operation["parameters"] = parameters
    if route.body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": _schema(route.body)}}}
    ok: dict[str, Any] = {"description": "Success"}
    if route.answer is not None:
        ok["content"] = {"application/json": {"schema": _schema(route.answer)}}
    operation["responses"] = {str(route.status): ok}
    for status, schema in route.also.items():
        operation["responses"][str(status)] = {"description": "Success", "content": {"application/json": {"schema": _schema(schema)}}}
    operation["responses"]["default"] = json.loads(json.dumps(_ERROR))
    if route.public:
        operation["security"] = []
    return operation


def build(template_path: Path = ROOT / "template.yaml") -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route the functions serve."""
    paths: dict[str, dict[str, Any]] = {}
    for key, (_, route) in sorted(routes(template_path).items()):
        paths.setdefault(route.path_template, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Parity", "version": "3.1", "description": "Generated from the functions' route tables (parity.core.http.Router)."},
        "paths": paths,
        "components": {"securitySchemes": {"company_token": {"type": "http", "scheme": "bearer"}}},
        "security": [{"company_token": []}],
    }


def mount(template_path: Path = ROOT / "template.yaml"):
    """``GET /openapi.json`` beside the API on the local server."""
    document = json.dumps(build(template_path)).encode()

    def handle(method, raw_path, raw_query, headers, body):
        if raw_path != "/openapi.json":
            return None
        if method != "GET":
            return 405, {"content-type": "application/json"}, b'{"message":"Method Not Allowed"}'
        return 200, {"content-type": "application/json"}, document

    return handle
