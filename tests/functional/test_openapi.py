"""The OpenAPI document is generated from the functions' route tables and matches template.yaml's routes
both ways: the same route keys, each served by the function the template wires it to, public exactly
where the template turns the authorizer off."""

from __future__ import annotations

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
    assert set(operations["POST /api/v3.1/deals"]["responses"]) == {"201", "default"}
    assert set(operations["DELETE /api/v3.1/tickets/{id}"]["responses"]) == {"204", "default"}
    # AND the record an answer shows is the declared record view, field for field
    record = operations["GET /api/v3.1/tickets/{id}"]["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["data"]
    from parity.crm.fields import view_fields

    assert record["required"] == [f.name for f in view_fields("ticket")]
