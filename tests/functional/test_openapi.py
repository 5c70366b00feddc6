"""The OpenAPI document is generated from the functions' route tables and matches template.yaml's routes
both ways: the same route keys, each served by the function the template wires it to, public exactly
where the template turns the authorizer off."""

from __future__ import annotations

import pytest
from parity_dev import openapi
from parity_dev.stack import load_template

from tests.functional.conftest import TEMPLATE


def _template_routes() -> dict[str, tuple[str, bool]]:
    """Route key → (logical id of its function, whether the route is public: ``Auth.Authorizer: NONE``)."""
    routes = {}
    for logical_id, resource in load_template(TEMPLATE)["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event in (resource["Properties"].get("Events") or {}).values():
            if event.get("Type") == "HttpApi":
                props = event["Properties"]
                public = (props.get("Auth") or {}).get("Authorizer") == "NONE"
                routes[f"{props['Method'].upper()} {props['Path']}"] = (logical_id, public)
    return routes


def test_every_template_route_is_in_the_document_and_served_by_its_function():
    # GIVEN the HttpApi routes template.yaml declares and the route keys the functions' routers register
    declared = {key: logical_id for key, (logical_id, _) in _template_routes().items()}
    generated = openapi.code_routes(TEMPLATE)
    # WHEN both are compared
    # THEN no route is missing from either side, and each is served by the function the template wires it to
    assert sorted(set(declared) - set(generated)) == [], "declared in template.yaml but no router serves it"
    assert sorted(set(generated) - set(declared)) == [], "registered by a router but unreachable through template.yaml"
    assert generated == declared


def test_a_route_is_public_exactly_where_the_template_has_no_authorizer():
    # GIVEN the routes' own declarations (a public route runs without a company) and the template's auth
    registered = {key: route.public for key, (_, route) in openapi.routes(TEMPLATE).items()}
    # THEN they agree route by route: no company route is left open, no open route demands a token
    assert registered == {key: public for key, (_, public) in _template_routes().items()}


def test_the_document_lists_exactly_those_routes_with_what_each_route_declares():
    # GIVEN the generated document
    document = openapi.build(TEMPLATE)
    routes = openapi.routes(TEMPLATE)
    # WHEN its operations are listed
    operations = {f"{m.upper()} {p}": op for p, ops in document["paths"].items() for m, op in ops.items()}
    # THEN they are the template's routes
    assert document["openapi"].startswith("3.")
    assert set(operations) == set(_template_routes())
    # AND each carries what its route declared: body model, success status, public or not
    for key, (_, route) in routes.items():
        operation = operations[key]
        assert ("requestBody" in operation) == (route.body is not None), key
        assert str(route.status) in operation["responses"], key
        assert (operation.get("security") == []) == route.public, key
        assert [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"] == list(route.params), key
    deal = operations["POST /api/v3.1/deals"]["requestBody"]["content"]["application/json"]["schema"]
    assert deal["required"] == ["name"] and deal["additionalProperties"] is False
    assert set(operations["POST /api/v3.1/deals"]["responses"]) == {"201", "202", "default"}  # 202: held for approval
    assert set(operations["DELETE /api/v3.1/tickets/{id}"]["responses"]) == {"204", "default"}
    # AND the record an answer shows is the declared record view, field for field
    record = operations["GET /api/v3.1/tickets/{id}"]["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["data"]
    from parity.crm.fields import view_fields

    assert record["required"] == [f.name for f in view_fields("ticket")]


def test_an_optional_query_parameter_given_empty_is_documented_as_not_given():
    import jsonschema

    # GIVEN the generated document's query parameters
    document = openapi.build(TEMPLATE)
    query = [(path, p) for path, ops in document["paths"].items() for op in ops.values() for p in op.get("parameters", []) if p["in"] == "query"]
    assert query
    # THEN each optional one admits an empty value (every route reads `?x=` as no x), a required one does not change
    for path, parameter in query:
        admits_empty = jsonschema.Draft202012Validator(parameter["schema"]).is_valid("")
        assert admits_empty or parameter["required"], (path, parameter["name"])


def test_an_id_field_is_documented_as_the_string_or_integer_it_accepts():
    # GIVEN a create's body as documented (older producers send contact ids as integers, kept as text)
    body = openapi.build(TEMPLATE)["paths"]["/api/v3.1/deals"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    lead_ids = body["properties"]["crm_lead_ids"]["anyOf"][0]
    # THEN the items admit both
    assert lead_ids["items"]["type"] == ["string", "integer"]


def _get_routes_with_optional_query() -> list[tuple[str, list[str]]]:
    return sorted(
        (route.path_template, [name for name, p in route.query.items() if not p.required])
        for _, route in openapi.routes(TEMPLATE).values()
        if route.method == "GET" and not route.params and not route.public and any(not p.required for p in route.query.values())
    )


@pytest.mark.parametrize(("path", "names"), _get_routes_with_optional_query(), ids=lambda v: v if isinstance(v, str) else None)
def test_every_optional_query_parameter_given_empty_is_answered_as_not_given(gateway, company, path, names):
    # GIVEN a company's admin token and a route's optional query parameters, each given empty
    made = company()
    token = gateway.invoke("POST", "/api/v3.1/teams/company_token", headers={"X-Crm-Api-Key": made.api_key}, json={"sso_id": "openapi"}).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    # WHEN the route is read with them empty and without them
    empty = gateway.invoke("GET", path, headers=auth, query=dict.fromkeys(names, ""))
    without = gateway.invoke("GET", path, headers=auth)
    # THEN both answers are the same
    assert (empty.status, empty.json()) == (without.status, without.json())


def test_every_idempotency_key_header_is_documented_by_the_one_schema_the_code_checks():
    from parity.core.idempotency import HEADER_SCHEMA

    document = openapi.build(TEMPLATE)
    headers = [(path, p["schema"]) for path, ops in document["paths"].items() for op in ops.values() for p in op.get("parameters", [])
               if p["in"] == "header" and p["name"] == "Idempotency-Key"]
    assert len(headers) >= 3  # deals, tickets, feedback, replies
    assert all(schema == HEADER_SCHEMA for _, schema in headers), headers
