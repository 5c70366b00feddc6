"""The HTTP API as an OpenAPI 3.1 document, generated from the code (dev only, never deployed).

Paths and methods come from the routes each function's router registered (the ``parity.core.http.Router``
``app`` of ``functions/<name>/app.py``, found through the template's ``CodeUri``); request bodies
are the pydantic models' JSON schemas (``parity.crm.models``). A route with a ``<collection>``
segment is expanded over the module's ``_TYPES`` (the records function serves deals and tickets).
Served by the local stack at ``GET /openapi.json``; ``tests/functional/test_openapi.py`` checks it
against template.yaml's HttpApi routes in both directions.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Any

from parity.crm.models import ContactCreate, DealCreate, DealUpdate, TicketCreate, TicketUpdate, TokenRequest

ROOT = Path(__file__).resolve().parents[2]
_PARAM = re.compile(r"<(\w+)>")

#: Request body model of each operation that takes a JSON body (keyed "METHOD /path").
REQUEST_MODELS: dict[str, type] = {
    "POST /api/v3.1/teams/company_token": TokenRequest,
    "POST /api/v3.1/contacts": ContactCreate,
    "POST /api/v3.1/deals": DealCreate,
    "POST /api/v3.1/tickets": TicketCreate,
    "PATCH /api/v3.1/deals/{record_id}": DealUpdate,
    "PATCH /api/v3.1/tickets/{record_id}": TicketUpdate,
}
#: Routes without a company bearer token (the token exchange; the receiver checks signatures).
PUBLIC = {"POST /api/v3.1/teams/company_token", "POST /webhooks/qontak-crm"}

_SUCCESS = {"GET": "200", "PATCH": "200", "DELETE": "204"}
_CREATED = {"POST /api/v3.1/contacts", "POST /api/v3.1/deals", "POST /api/v3.1/tickets"}

_ERROR = {
    "description": "An error: ours (DESIGN.md shape) or API Gateway's own (no route, no token).",
    "content": {"application/json": {"schema": {"anyOf": [
        {"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["code", "message", "details"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "details": {"type": "array"}},
        }}},
        {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}},
    ]}}},
}
_RECORD = {"type": "object", "required": ["id", "type", "name", "version", "created_at"], "properties": {
    "id": {"type": "string"}, "type": {"enum": ["deal", "ticket"]}, "name": {"type": "string"},
    "version": {"type": "integer", "minimum": 1}, "created_at": {"type": "string"},
    "contact_ids": {"type": "array", "items": {"type": "string"}},
}}
_CONTACT = {"type": "object", "required": ["id", "name"], "properties": {"id": {"type": "string"}, "name": {"type": "string"}}}


def _response_schema(key: str) -> dict[str, Any] | None:
    """The success body of an operation, as the code shapes it (service.py, rooms.py, notes.py)."""
    method, path = key.split(" ", 1)
    if key == "POST /api/v3.1/teams/company_token":
        return {"type": "object", "required": ["access_token", "token_type", "expires_in", "company_id"], "properties": {
            "access_token": {"type": "string"}, "token_type": {"const": "Bearer"}, "expires_in": {"type": "integer"}, "company_id": {"type": "string"}}}
    if key == "POST /api/v3.1/contacts":
        return {"type": "object", "required": ["data"], "properties": {"data": _CONTACT}}
    if key == "GET /api/v3.1/contacts":
        return {"type": "object", "required": ["data"], "properties": {"data": {"type": "array", "items": _CONTACT}}}
    if path.endswith("/timeline"):
        return {"type": "object", "required": ["data"], "properties": {"data": {"type": "array", "items": {"type": "object"}}}}
    if path.endswith("/preview"):
        nullable_record = {"anyOf": [{"type": "null"}, {"type": "object", "required": ["id"]}]}
        return {"type": "object", "required": ["room_id", "deal", "ticket"], "properties": {
            "room_id": {"type": "string"}, "deal": nullable_record, "ticket": nullable_record}}
    if path.startswith("/webhooks/"):
        return {"type": "object"}
    if method == "DELETE":
        return None
    return {"type": "object", "required": ["data"], "properties": {"data": _RECORD, "warnings": {"type": "array"}}}


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


def code_routes(template_path: Path = ROOT / "template.yaml") -> dict[str, str]:
    """``"METHOD /path/{param}"`` → the function's logical id, for every route a router registered."""
    routes: dict[str, str] = {}
    for logical_id, code_dir in sorted(code_dirs(template_path).items()):
        module = _load_app(code_dir)
        app = getattr(module, "app", None)
        if app is None or not hasattr(app, "routes"):
            continue
        for route in app.routes:
            for path in _expand(route.path, module):
                routes[route.method.upper() + " " + _PARAM.sub(r"{\1}", path)] = logical_id
    return routes


def _expand(path: str, module: Any) -> list[str]:
    if "<collection>" not in path:
        return [path]
    return [path.replace("<collection>", collection) for collection in getattr(module, "_TYPES")]


def _operation(key: str) -> dict[str, Any]:
    method, path = key.split(" ", 1)
    params = re.findall(r"{(\w+)}", path)
    operation: dict[str, Any] = {"operationId": re.sub(r"\W+", "_", key.lower()).strip("_")}
    parameters = [{"name": p, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1, "maxLength": 128}} for p in params]
    if key == "GET /api/v3.1/contacts":
        parameters += [{"name": q, "in": "query", "required": False, "schema": {"type": "string", "maxLength": 254}} for q in ("phone", "email")]
    if method == "POST" and path in ("/api/v3.1/deals", "/api/v3.1/tickets"):
        parameters.append({"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"}})
    if key == "POST /api/v3.1/teams/company_token":
        parameters.append({"name": "X-Crm-Api-Key", "in": "header", "required": True, "schema": {"type": "string"}})
    if parameters:
        operation["parameters"] = parameters
    model = REQUEST_MODELS.get(key)
    if model is not None:
        schema = model.model_json_schema()
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
    elif key == "POST /webhooks/qontak-crm":
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}
    success = "201" if key in _CREATED else _SUCCESS.get(method, "200")
    body = _response_schema(key)
    ok: dict[str, Any] = {"description": "Success"}
    if body is not None:
        ok["content"] = {"application/json": {"schema": body}}
    operation["responses"] = {success: ok, "default": copy.deepcopy(_ERROR)}
    if key in PUBLIC:
        operation["security"] = []
    return operation


def build(template_path: Path = ROOT / "template.yaml") -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route the functions serve."""
    paths: dict[str, dict[str, Any]] = {}
    for key in sorted(code_routes(template_path)):
        method, path = key.split(" ", 1)
        paths.setdefault(path, {})[method.lower()] = _operation(key)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Parity", "version": "3.1", "description": "Generated from the functions' routers and parity.crm.models."},
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
