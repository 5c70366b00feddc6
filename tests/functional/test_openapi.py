"""The OpenAPI document is generated from the code and matches template.yaml's routes both ways."""

from __future__ import annotations

import re

from parity_dev import openapi
from parity_dev.stack import load_template

from tests.functional.conftest import TEMPLATE


def _shape(key: str) -> str:
    """``GET /deals/{id}`` and ``GET /deals/{record_id}`` are the same route."""
    return re.sub(r"{\w+}", "{}", key)


def _template_routes() -> dict[str, str]:
    routes = {}
    for logical_id, resource in load_template(TEMPLATE)["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event in (resource["Properties"].get("Events") or {}).values():
            if event.get("Type") == "HttpApi":
                props = event["Properties"]
                routes[_shape(f"{props['Method'].upper()} {props['Path']}")] = logical_id
    return routes


def test_every_template_route_is_in_the_document_and_served_by_its_function():
    # GIVEN the HttpApi routes template.yaml declares and the routes the functions' resolvers register
    declared = _template_routes()
    generated = {_shape(k): v for k, v in openapi.code_routes(TEMPLATE).items()}
    # WHEN both are compared
    # THEN no route is missing from either side, and each is served by the function the template wires it to
    assert sorted(set(declared) - set(generated)) == [], "declared in template.yaml but no resolver serves it"
    assert sorted(set(generated) - set(declared)) == [], "served by a resolver but unreachable through template.yaml"
    assert generated == declared


def test_the_document_lists_exactly_those_routes_with_request_schemas_from_the_models():
    # GIVEN the generated document
    document = openapi.build(TEMPLATE)
    # WHEN its operations are listed
    operations = {_shape(f"{m.upper()} {p}") for p, ops in document["paths"].items() for m in ops}
    # THEN they are the template's routes, and every body-taking route carries its pydantic model's schema
    assert document["openapi"].startswith("3.")
    assert operations == set(_template_routes())
    deal = document["paths"]["/api/v3.1/deals"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert deal["required"] == ["name"] and deal["additionalProperties"] is False
    for key in openapi.REQUEST_MODELS:
        method, path = key.split(" ", 1)
        assert "requestBody" in document["paths"][path][method.lower()], key
    public = {f"{m.upper()} {p}" for p, ops in document["paths"].items() for m, op in ops.items() if op.get("security") == []}
    assert public == openapi.PUBLIC
