"""The local stack's AWS emulation: HTTP API gateway semantics and event source pollers.
(Over 400 lines on purpose: one deploy of the throwaway templates below serves every test, and each
behaviour of API Gateway and Lambda's pollers is one short test beside its neighbours.)

Gateway and pollers are exercised on small throwaway SAM templates whose functions live in tmp
dirs (so every behaviour, including the authorizer's, is under the test's control), deployed into
the session's embedded AWS and run by runtimes of their own (worker processes, as the local stack's);
what a function saw is read back from what it printed to its log. The gateway is exercised once more
on the real template.yaml (routing only: the functions' contracts are tested by their own suites).
Names read GIVEN_..._WHEN_..._THEN_... where the scenario is not obvious.
"""

from __future__ import annotations

import copy
import json
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest
from parity_dev.aws import Clients
from parity_dev.declared import Throttle, parse_http_apis
from parity_dev.gateway import MAX_BODY_BYTES, Gateway
from parity_dev.gateway_server import make_server
from parity_dev.lambda_process import FunctionLogs
from parity_dev.lambdas import LambdaRuntime
from parity_dev.pollers import Pollers
from parity_dev.stack import DeployedStack, deploy

# --- a throwaway HTTP API --------------------------------------------------------------------------

def _echo_template(events: str, *, api_settings: str = "") -> str:
    """A template of one HTTP API guarded by the ``Gate`` authorizer and one echo function with ``events``."""
    return f"""
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {{Runtime: python3.12, Handler: app.handler, Timeout: 3, MemorySize: 192}}
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:{api_settings}
      Auth:
        DefaultAuthorizer: Gate
        Authorizers:
          Gate:
            FunctionArn: !GetAtt GateFunction.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            EnableSimpleResponses: true
            Identity: {{Headers: [Authorization], ReauthorizeEvery: 0}}
  GateFunction:
    Type: AWS::Serverless::Function
    Properties: {{CodeUri: gate}}
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: echo
      Events:{events}
"""


HTTP_TEMPLATE = _echo_template("""
        Thing: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: GET, Path: "/things/{id}"}}
        Special: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: GET, Path: /things/special}}
        Create: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: POST, Path: /things}}
        Open: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: GET, Path: /open, Auth: {Authorizer: NONE}}}
        Upload: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: POST, Path: /open, Auth: {Authorizer: NONE}}}
        Boom: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: GET, Path: /boom, Auth: {Authorizer: NONE}}}
        Plain: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: GET, Path: /plain, Auth: {Authorizer: NONE}}}
        Malformed: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: GET, Path: /malformed, Auth: {Authorizer: NONE}}}""")

GATE_CODE = """
import json

def handler(event, context):
    print("CALL " + json.dumps(event))
    token = event["headers"].get("authorization", "")
    if token == "Bearer deny":
        return {"isAuthorized": False}
    if token == "Bearer boom":
        raise RuntimeError("the authorizer broke")
    if token == "Bearer garbled":
        return {"allowed": "yes"}
    return {"isAuthorized": True, "context": {"who": token.removeprefix("Bearer ")}}
"""

ECHO_CODE = """
import json

def handler(event, context):
    path = event["rawPath"]
    if path == "/boom":
        raise ValueError("the function broke")
    if path == "/plain":
        return {"plain": True}
    if path == "/malformed":
        return {"statusCode": 200, "body": {"not": "a string"}}
    seen_context = {
        "function_name": context.function_name,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "remaining": context.get_remaining_time_in_millis(),
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
    }
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json", "X-Echo": "1"},
        "cookies": ["a=1", "b=2; Path=/"],
        "body": json.dumps({"event": event, "context": seen_context}),
    }
"""


def _write_app(directory: Path, code: str) -> Path:
    directory.mkdir(parents=True)
    (directory / "app.py").write_text(textwrap.dedent(code))
    return directory


def _deploy_echo(aws: Clients, root: Path, template: str, name: str) -> DeployedStack:
    """``template`` deployed from ``root`` with the gate and echo functions' code beside it."""
    _write_app(root / "gate", GATE_CODE)
    _write_app(root / "echo", ECHO_CODE)
    (root / "template.yaml").write_text(template)
    return deploy(root / "template.yaml", stack_name=f"{name}-{uuid.uuid4().hex[:8]}", clients=aws)


def _printed(logs: FunctionLogs, function: str, tag: str) -> list[Any]:
    """What ``function`` printed as ``<tag> <json>`` lines, parsed, in order."""
    return [json.loads(line[len(tag) + 1:]) for line in logs.lines(function) if line.startswith(f"{tag} ")]


@pytest.fixture(scope="module")
def runtime_for(local_stack: Any) -> Iterator[Any]:
    """``runtime_for(stack)``: a runtime for a throwaway stack on the session's AWS, stopped after the module."""
    made: list[LambdaRuntime] = []

    def make(stack: DeployedStack) -> LambdaRuntime:
        made.append(LambdaRuntime(stack, endpoint_url=local_stack.moto.endpoint_url))
        return made[-1]

    yield make
    for runtime in made:
        runtime.stop()


@pytest.fixture(scope="module")
def http_stack(aws: Clients, tmp_path_factory: pytest.TempPathFactory) -> DeployedStack:
    return _deploy_echo(aws, tmp_path_factory.mktemp("http-api"), HTTP_TEMPLATE, "gateway-test")


@pytest.fixture(scope="module")
def http_runtime(http_stack: DeployedStack, runtime_for: Any) -> LambdaRuntime:
    return runtime_for(http_stack)


@pytest.fixture(scope="module")
def api(http_stack: DeployedStack, http_runtime: LambdaRuntime) -> Gateway:
    return Gateway(http_stack, http_runtime)


@pytest.fixture
def authorizer_calls(http_runtime: LambdaRuntime) -> Iterator[Any]:
    """``authorizer_calls()``: the events the authorizer received during the test (it prints each)."""
    with http_runtime.captured_logs() as logs:
        yield lambda: _printed(logs, "GateFunction", "CALL")


def test_routes_and_authorizer_come_from_the_translated_template(http_stack: DeployedStack) -> None:
    routes = {(r.method, r.path): r for r in http_stack.routes}
    assert set(routes) == {
        ("GET", "/things/{id}"), ("GET", "/things/special"), ("POST", "/things"),
        ("GET", "/open"), ("POST", "/open"), ("GET", "/boom"), ("GET", "/plain"), ("GET", "/malformed"),
    }
    assert routes["GET", "/open"].authorizer is None
    gate = routes["GET", "/things/{id}"].authorizer
    assert gate is not None
    assert (gate.function, gate.identity_source, gate.simple_responses) == ("GateFunction", ("$request.header.Authorization",), True)
    assert routes["POST", "/things"].function == "EchoFunction"


def test_unknown_route_is_404_not_found(api: Gateway) -> None:
    response = api.invoke("GET", "/nothing/here")
    assert (response.status, response.json()) == (404, {"message": "Not Found"})
    assert response.headers["content-type"] == "application/json"


def test_known_path_with_another_method_is_404_like_http_api_without_an_any_route(api: Gateway, authorizer_calls: Any) -> None:
    response = api.invoke("DELETE", "/things/1", headers={"Authorization": "Bearer ok"})
    assert (response.status, response.json()) == (404, {"message": "Not Found"})
    assert authorizer_calls() == []


def test_GIVEN_no_identity_header_WHEN_protected_route_THEN_401_and_the_authorizer_never_runs(api: Gateway, authorizer_calls: Any) -> None:
    response = api.invoke("GET", "/things/1")
    assert (response.status, response.json()) == (401, {"message": "Unauthorized"})
    assert authorizer_calls() == []


def test_GIVEN_an_empty_identity_header_THEN_401_without_the_authorizer(api: Gateway, authorizer_calls: Any) -> None:
    response = api.invoke("GET", "/things/1", headers={"Authorization": ""})
    assert response.status == 401
    assert authorizer_calls() == []


def test_GIVEN_the_authorizer_denies_THEN_403_forbidden(api: Gateway, authorizer_calls: Any) -> None:
    response = api.invoke("GET", "/things/1", headers={"Authorization": "Bearer deny"})
    assert (response.status, response.json()) == (403, {"message": "Forbidden"})
    assert len(authorizer_calls()) == 1


@pytest.mark.parametrize("token", ["Bearer boom", "Bearer garbled"])
def test_GIVEN_the_authorizer_raises_or_answers_garbage_THEN_500(api: Gateway, token: str) -> None:
    response = api.invoke("GET", "/things/1", headers={"Authorization": token})
    assert (response.status, response.json()) == (500, {"message": "Internal Server Error"})


def test_the_authorizer_gets_the_request_v2_event(api: Gateway, authorizer_calls: Any) -> None:
    api.invoke("GET", "/things/a%20b", headers={"Authorization": "Bearer ok"}, query={"x": ["1", "2"]})
    (event,) = authorizer_calls()
    assert event["version"] == "2.0" and event["type"] == "REQUEST"
    assert event["identitySource"] == ["Bearer ok"]
    assert event["routeKey"] == "GET /things/{id}"
    assert event["rawPath"] == "/things/a b"  # decoded once, as an HTTP API does
    assert event["rawQueryString"] == "x=1&x=2"
    assert event["queryStringParameters"] == {"x": "1,2"}
    assert event["pathParameters"] == {"id": "a b"}
    assert event["routeArn"].startswith("arn:aws:execute-api:us-east-1:123456789012:")
    assert event["routeArn"].endswith("/$default/GET/things/a%20b")
    assert event["requestContext"]["http"]["method"] == "GET"
    assert "body" not in event


def test_GIVEN_authorized_THEN_the_integration_gets_a_v2_event_with_the_authorizer_context(api: Gateway) -> None:
    response = api.invoke(
        "GET", "/things/a%20b?x=1&x=2&empty=",
        headers={"Authorization": "Bearer alice", "X-Multi": "1", "Cookie": "c1=v1; c2=v2", "User-Agent": "tests/1.0"},
    )
    assert response.status == 200
    assert response.headers["x-echo"] == "1"
    assert response.cookies == ["a=1", "b=2; Path=/"]
    event = response.json()["event"]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /things/{id}"
    assert event["rawPath"] == "/things/a b"  # decoded once, as an HTTP API does
    assert event["pathParameters"] == {"id": "a b"}
    assert event["queryStringParameters"] == {"x": "1,2", "empty": ""}
    assert event["headers"]["authorization"] == "Bearer alice"  # names lower-cased
    assert "cookie" not in event["headers"] and event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["isBase64Encoded"] is False and "body" not in event
    context = event["requestContext"]
    assert context["authorizer"] == {"lambda": {"who": "alice"}}
    assert context["stage"] == "$default" and context["routeKey"] == "GET /things/{id}"
    assert context["http"] == {
        "method": "GET", "path": "/things/a b", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "tests/1.0",
    }
    assert context["requestId"] == response.headers["apigw-requestid"]
    assert abs(context["timeEpoch"] / 1000 - time.time()) < 60


def test_the_handler_gets_a_lambda_context(api: Gateway, http_stack: DeployedStack) -> None:
    seen = api.invoke("GET", "/open").json()["context"]
    spec = http_stack.functions["EchoFunction"]
    assert seen["function_name"] == spec.name and seen["invoked_function_arn"] == spec.arn
    assert seen["memory_limit_in_mb"] == "192"
    assert 0 < seen["remaining"] <= 3000
    assert seen["log_group_name"] == f"/aws/lambda/{spec.name}"
    assert len(seen["aws_request_id"]) == 36


def test_a_literal_path_wins_over_a_path_parameter(api: Gateway) -> None:
    route, parameters = api.match("GET", "/things/special")  # type: ignore[misc]
    assert (route.path, parameters) == ("/things/special", {})
    route, parameters = api.match("GET", "/things/other")  # type: ignore[misc]
    assert (route.path, parameters) == ("/things/{id}", {"id": "other"})
    assert api.match("GET", "/things/a/b") is None  # {id} is one segment


def test_route_without_authorization_skips_the_authorizer(api: Gateway, authorizer_calls: Any) -> None:
    event = api.invoke("GET", "/open").json()["event"]
    assert authorizer_calls() == [] and "authorizer" not in event["requestContext"]


def test_json_body_arrives_as_text_and_binary_body_base64(api: Gateway) -> None:
    text_event = api.invoke("POST", "/open", json={"a": 1}).json()["event"]
    assert (text_event["body"], text_event["isBase64Encoded"]) == ('{"a": 1}', False)
    binary_event = api.invoke("POST", "/open", body=b"\x00\xff", headers={"Content-Type": "application/octet-stream"}).json()["event"]
    assert (binary_event["body"], binary_event["isBase64Encoded"]) == ("AP8=", True)


def test_GIVEN_the_function_raises_THEN_500_and_the_traceback_is_logged(api: Gateway, http_runtime: LambdaRuntime, caplog: pytest.LogCaptureFixture) -> None:
    with http_runtime.captured_logs() as logs:
        response = api.invoke("GET", "/boom")
    assert (response.status, response.json()) == (500, {"message": "Internal Server Error"})
    # THEN the function's log holds the traceback (as the Python runtime writes it), and the runtime names the error
    logged = "\n".join(logs.lines("EchoFunction"))
    assert "[ERROR] ValueError: the function broke" in logged and "Traceback (most recent call last)" in logged and 'raise ValueError("the function broke")' in logged
    assert "EchoFunction: ValueError: the function broke; RequestId: " in caplog.text


def test_a_result_without_statusCode_is_200_json(api: Gateway) -> None:
    response = api.invoke("GET", "/plain")
    assert (response.status, response.headers["content-type"], response.json()) == (200, "application/json", {"plain": True})


def test_a_malformed_function_response_is_500(api: Gateway) -> None:
    assert api.invoke("GET", "/malformed").status == 500


def test_a_body_over_10_MB_is_413(api: Gateway) -> None:
    assert api.invoke("POST", "/open", body=b"x" * (MAX_BODY_BYTES + 1)).status == 413


# --- the same gateway behind a real HTTP server ----------------------------------------------------


@pytest.fixture(scope="module")
def api_url(api: Gateway) -> Iterator[str]:
    server = make_server(api, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_over_http_headers_are_comma_joined_and_cookies_set(api_url: str) -> None:
    response = httpx.get(
        f"{api_url}/things/7?q=1",
        headers=[("Authorization", "Bearer bob"), ("X-Multi", "1"), ("X-Multi", "2")],
    )
    assert response.status_code == 200
    assert response.headers.get_list("set-cookie") == ["a=1", "b=2; Path=/"]
    event = response.json()["event"]
    assert event["headers"]["x-multi"] == "1,2"
    assert event["pathParameters"] == {"id": "7"} and event["queryStringParameters"] == {"q": "1"}
    assert event["requestContext"]["authorizer"] == {"lambda": {"who": "bob"}}


def test_over_http_errors_are_api_gateway_json(api_url: str) -> None:
    assert httpx.get(f"{api_url}/nothing").json() == {"message": "Not Found"}
    assert httpx.get(f"{api_url}/things/1").status_code == 401
    assert httpx.post(f"{api_url}/open", content=b"x" * (MAX_BODY_BYTES + 1)).status_code == 413


# --- the real template.yaml ------------------------------------------------------------------------


def test_every_protected_route_of_the_template_rejects_a_missing_token(gateway: Gateway, stack: DeployedStack) -> None:
    protected = [r for r in stack.routes if r.authorizer is not None]
    assert protected, "template.yaml should have routes behind the company-token authorizer"
    for route in protected:
        response = gateway.invoke(route.method, route.path.replace("{", "").replace("}", ""))
        assert (response.status, response.json()) == (401, {"message": "Unauthorized"}), route.route_key


def test_every_open_route_of_the_template_reaches_its_function(gateway: Gateway, stack: DeployedStack) -> None:
    for route in [r for r in stack.routes if r.authorizer is None]:
        response = gateway.invoke(route.method, route.path.replace("{", "").replace("}", ""), json={})
        assert response.body != b'{"message": "Not Found"}', route.route_key
        assert response.status < 500, (route.route_key, response.body)


def test_the_path_is_decoded_once_before_the_route_is_chosen(api: Gateway) -> None:
    # GIVEN a route with one single-segment parameter (an HTTP API decodes the path, then routes it)
    # WHEN a slash is sent encoded, THEN it separates segments as "/" does: no route
    assert api.match("GET", "/things/a%2Fb") is None
    # WHEN it is sent encoded twice, THEN the parameter holds it encoded once: decoded once, never twice
    route, parameters = api.match("GET", "/things/a%252Fb")  # type: ignore[misc]
    assert route.route_key == "GET /things/{id}" and parameters == {"id": "a%2Fb"}


def test_path_parameters_of_the_template_routes_are_decoded(gateway: Gateway, stack: DeployedStack) -> None:
    for route in [r for r in stack.routes if "{" in r.path]:
        path = "/".join("caf%C3%A9" if s.startswith("{") else s for s in route.path.split("/"))
        matched, parameters = gateway.match(route.method, path)  # type: ignore[misc]
        assert matched == route and set(parameters.values()) == {"café"}


def test_GIVEN_a_provisioned_company_WHEN_its_key_is_exchanged_THEN_the_token_opens_protected_routes(gateway: Gateway, company: Any) -> None:
    acme = company()
    token = gateway.invoke("POST", "/api/v3.1/teams/company_token", headers={"X-Crm-Api-Key": acme.api_key}, json={"sso_id": "s"})
    assert token.status == 200 and token.json()["company_id"] == acme.id
    response = gateway.invoke("GET", "/api/v3.1/deals/unknown", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
    assert response.status == 404 and response.json() != {"message": "Not Found"}  # the function's 404, past the gateway


def test_event_source_mappings_of_the_template_resolve_to_physical_arns(stack: DeployedStack, aws: Clients) -> None:
    for mapping in stack.event_source_mappings:
        assert mapping.function in stack.functions
        if mapping.source_kind == "sqs":
            queue_arns = {aws.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"] for url in stack.queues.values()}
            assert mapping.source_arn in queue_arns
        else:
            stream_arns = {aws.client("dynamodb").describe_table(TableName=t)["Table"].get("LatestStreamArn") for t in stack.tables.values()}
            assert mapping.source_arn in stream_arns


# --- throttling: the stage's token buckets -------------------------------------------------------

THROTTLED_TEMPLATE = _echo_template("""
        Loose: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: GET, Path: /loose}}
        Tight: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: POST, Path: /tight, Auth: {Authorizer: NONE}}}""", api_settings="""
      DefaultRouteSettings: {ThrottlingRateLimit: 2, ThrottlingBurstLimit: 3}
      RouteSettings:
        "POST /tight": {ThrottlingRateLimit: 0.5, ThrottlingBurstLimit: 1}""")


class _Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _CountingRuntime:
    """The stack's runtime, recording which functions (authorizer included) each request ran."""

    def __init__(self, runtime: LambdaRuntime) -> None:
        self.runtime, self.invoked = runtime, []

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        self.invoked.append(function)
        return self.runtime.invoke(function, event)


class _Deployed(NamedTuple):
    stack: DeployedStack
    runtime: LambdaRuntime


@pytest.fixture(scope="module")
def throttled(aws: Clients, tmp_path_factory: pytest.TempPathFactory, runtime_for: Any) -> _Deployed:
    """An API whose stage allows 2 requests/s (burst 3) and whose ``POST /tight`` route 0.5/s (burst 1), and its runtime."""
    stack = _deploy_echo(aws, tmp_path_factory.mktemp("throttled-api"), THROTTLED_TEMPLATE, "throttle-test")
    return _Deployed(stack, runtime_for(stack))


def _fresh_gateway(stack: DeployedStack, runtime: LambdaRuntime) -> tuple[Gateway, _Clock, _CountingRuntime]:
    """A gateway with full buckets (as a freshly deployed stage), on a clock the test moves."""
    clock, counting = _Clock(), _CountingRuntime(runtime)
    return Gateway(stack, counting, clock=clock), clock, counting  # type: ignore[arg-type]


def test_each_route_gets_its_route_settings_over_the_stage_defaults(throttled: _Deployed) -> None:
    throttles = {r.route_key: r.throttle for r in throttled.stack.routes}
    assert throttles == {"GET /loose": Throttle(rate_limit=2, burst_limit=3), "POST /tight": Throttle(rate_limit=0.5, burst_limit=1)}


def test_GIVEN_a_burst_of_3_WHEN_4_immediate_requests_THEN_the_4th_is_429_and_neither_authorizer_nor_function_ran(
    throttled: _Deployed,
) -> None:
    api, clock, runtime = _fresh_gateway(throttled.stack, throttled.runtime)
    # GIVEN GET /loose at 2 requests/s with bursts of 3, and a full bucket
    served = [api.invoke("GET", "/loose", headers={"Authorization": "Bearer ok"}).status for _ in range(3)]
    assert served == [200, 200, 200]
    assert runtime.invoked == ["GateFunction", "EchoFunction"] * 3
    runtime.invoked.clear()
    # WHEN a 4th request comes at the same instant (with a token or without one)
    fourth = api.invoke("GET", "/loose", headers={"Authorization": "Bearer ok"})
    unauthenticated = api.invoke("GET", "/loose")
    # THEN both are API Gateway's 429, before the authorizer: nothing ran
    assert (fourth.status, fourth.json()) == (429, {"message": "Too Many Requests"})
    assert fourth.headers["content-type"] == "application/json"
    assert unauthenticated.status == 429  # not 401: throttling comes before authorization
    assert runtime.invoked == []


def test_GIVEN_an_empty_bucket_WHEN_the_refill_interval_passed_THEN_one_more_request_is_served(throttled: _Deployed) -> None:
    api, clock, runtime = _fresh_gateway(throttled.stack, throttled.runtime)
    # GIVEN POST /tight (0.5 requests/s, bursts of 1) with its one token spent
    assert api.invoke("POST", "/tight", json={}).status == 200
    assert api.invoke("POST", "/tight", json={}).status == 429
    # WHEN less than the refill interval (2 s) has passed THEN still 429
    clock.now += 1.5
    assert api.invoke("POST", "/tight", json={}).status == 429
    # WHEN the interval has passed THEN one request is served, and the next one is 429 again
    clock.now += 0.5
    assert api.invoke("POST", "/tight", json={}).status == 200
    assert api.invoke("POST", "/tight", json={}).status == 429
    # AND a long pause refills no more than the burst
    clock.now += 60
    assert [api.invoke("POST", "/tight", json={}).status for _ in range(2)] == [200, 429]
    assert runtime.invoked == ["EchoFunction"] * 3


def test_GIVEN_one_route_throttled_THEN_the_other_routes_are_still_served(throttled: _Deployed) -> None:
    api, _, _ = _fresh_gateway(throttled.stack, throttled.runtime)
    # GIVEN POST /tight out of tokens
    api.invoke("POST", "/tight", json={})
    assert api.invoke("POST", "/tight", json={}).status == 429
    # THEN GET /loose has its own bucket
    assert api.invoke("GET", "/loose", headers={"Authorization": "Bearer ok"}).status == 200


def test_over_http_a_throttled_request_is_a_429_json_answer(throttled: _Deployed) -> None:
    # GIVEN the real server and the real clock: POST /tight refills one token every 2 s
    server = make_server(Gateway(throttled.stack, throttled.runtime), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/tight"
        # WHEN two requests follow each other at once THEN the second is throttled
        assert httpx.post(url, json={}).status_code == 200
        second = httpx.post(url, json={})
        assert (second.status_code, second.json()) == (429, {"message": "Too Many Requests"})
    finally:
        server.shutdown()
        server.server_close()


def _with_route_settings(stack: DeployedStack, route_settings: dict[str, Any]) -> dict[str, Any]:
    """The stack's translated template with other ``RouteSettings`` on its stage."""
    template = copy.deepcopy(stack.template)
    (stage,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Stage"]
    stage["Properties"]["RouteSettings"] = route_settings
    return template


def test_GIVEN_route_settings_for_a_route_the_api_lacks_THEN_the_template_is_refused(throttled: _Deployed) -> None:
    # GIVEN a route key that is off by one character (no route has it)
    template = _with_route_settings(throttled.stack, {"POST /tight/": {"ThrottlingRateLimit": 1, "ThrottlingBurstLimit": 1}})
    # THEN it is refused, as API Gateway refuses it, instead of leaving the route silently unthrottled
    with pytest.raises(ValueError, match="RouteSettings name no route"):
        parse_http_apis(template)


def test_GIVEN_a_route_entry_with_a_rate_only_THEN_its_burst_is_the_accounts_not_the_stage_default(throttled: _Deployed) -> None:
    # GIVEN POST /tight's own entry sets a rate but no burst (the stage default has a burst of 3)
    template = _with_route_settings(throttled.stack, {"POST /tight": {"ThrottlingRateLimit": 1}})
    routes, _ = parse_http_apis(template)
    throttles = {r.route_key: r.throttle for r in routes}
    # THEN the entry replaces the defaults as a whole, as API Gateway applies it; other routes keep them
    assert throttles["POST /tight"] == Throttle(rate_limit=1, burst_limit=5_000)
    assert throttles["GET /loose"] == Throttle(rate_limit=2, burst_limit=3)


def test_GIVEN_the_template_WHEN_keys_are_exchanged_at_once_THEN_the_burst_is_served_and_the_next_is_429_unrun(
    gateway: Gateway, stack: DeployedStack, runtime: LambdaRuntime,
) -> None:
    # GIVEN template.yaml's stage, freshly deployed (its own buckets, not the shared gateway's)
    (route,) = [r for r in stack.routes if r.route_key == "POST /api/v3.1/teams/company_token"]
    assert route.throttle is not None
    api, _, counting = _fresh_gateway(stack, runtime)
    # WHEN a burst of exchanges with guessed keys arrives at one instant
    answers = [
        api.invoke("POST", route.path, headers={"X-Crm-Api-Key": f"guess-{i}"}, json={"sso_id": "s"}).status
        for i in range(route.throttle.burst_limit + 1)
    ]
    # THEN the burst reaches the function (a 401 each) and the one after it is a 429 that ran nothing
    assert answers == [401] * route.throttle.burst_limit + [429]
    assert counting.invoked == ["CompanyTokenFunction"] * route.throttle.burst_limit


# --- pollers on a throwaway template ---------------------------------------------------------------

EVENTS_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Runtime: python3.12, Handler: app.handler, Timeout: 1}
Resources:
  DeadLetters:
    Type: AWS::SQS::Queue
  Work:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 1
      RedrivePolicy: {deadLetterTargetArn: !GetAtt DeadLetters.Arn, maxReceiveCount: 2}
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}
  WorkerFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: worker
      Events:
        Jobs:
          Type: SQS
          Properties: {Queue: !GetAtt Work.Arn, BatchSize: 10, FunctionResponseTypes: [ReportBatchItemFailures]}
  StreamFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: streamer
      Events:
        Changes:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Table.StreamArn
            StartingPosition: TRIM_HORIZON
            BatchSize: 10
            FunctionResponseTypes: [ReportBatchItemFailures]
            FilterCriteria:
              Filters:
                - Pattern: '{"dynamodb": {"NewImage": {"kind": {"S": ["keep"]}}}}'
"""

WORKER_CODE = """
import json

def handler(event, context):
    print("SEEN " + json.dumps(event["Records"]))
    if any(r["body"].startswith("boom") for r in event["Records"]):
        raise RuntimeError("the worker broke")
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"].startswith("fail")]}
"""

STREAMER_CODE = """
import json

FAILED_ONCE = set()  # a warm worker remembers, as a warm container does

def handler(event, context):
    print("DELIVERY " + json.dumps(event["Records"]))
    failures = []
    for record in event["Records"]:
        key = record["dynamodb"]["Keys"]["pk"]["S"]
        if key.startswith("fail-once") and key not in FAILED_ONCE:
            FAILED_ONCE.add(key)
            failures.append({"itemIdentifier": record["dynamodb"]["SequenceNumber"]})
    return {"batchItemFailures": failures}
"""


@pytest.fixture(scope="module")
def events_stack(aws: Clients, tmp_path_factory: pytest.TempPathFactory) -> DeployedStack:
    root = tmp_path_factory.mktemp("event-sources")
    _write_app(root / "worker", WORKER_CODE)
    _write_app(root / "streamer", STREAMER_CODE)
    (root / "template.yaml").write_text(EVENTS_TEMPLATE)
    return deploy(root / "template.yaml", stack_name=f"pollers-test-{uuid.uuid4().hex[:8]}", clients=aws)


@pytest.fixture(scope="module")
def events_runtime(events_stack: DeployedStack, runtime_for: Any) -> LambdaRuntime:
    return runtime_for(events_stack)


def _take_all(aws: Clients, queue_url: str) -> list[str]:
    """Receive and delete every visible message (SQS allows one PurgeQueue a minute); their sorted bodies."""
    sqs, bodies = aws.client("sqs"), []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return sorted(bodies)


def _waiting(aws: Clients, queue_url: str) -> int:
    attributes = aws.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_event_source_mappings_are_parsed_from_the_translated_template(events_stack: DeployedStack) -> None:
    by_function = {m.function: m for m in events_stack.event_source_mappings}
    jobs, changes = by_function["WorkerFunction"], by_function["StreamFunction"]
    assert (jobs.source_kind, jobs.batch_size, jobs.reports_batch_item_failures) == ("sqs", 10, True)
    assert jobs.source_arn.startswith("arn:aws:sqs:us-east-1:123456789012:")
    assert (changes.source_kind, changes.starting_position) == ("dynamodb", "TRIM_HORIZON")
    assert "/stream/" in changes.source_arn and len(changes.filter_patterns) == 1


def test_GIVEN_a_batch_item_failure_WHEN_polled_THEN_only_the_success_is_deleted_and_the_failure_ends_in_the_dlq(
    events_stack: DeployedStack, events_runtime: LambdaRuntime, aws: Clients
) -> None:
    sqs = aws.client("sqs")
    work, dead_letters = events_stack.queues["Work"], events_stack.queues["DeadLetters"]
    _take_all(aws, dead_letters)
    sqs.send_message(QueueUrl=work, MessageBody="ok", MessageAttributes={"kind": {"DataType": "String", "StringValue": "test"}})
    sqs.send_message(QueueUrl=work, MessageBody="fail")

    with events_runtime.captured_logs() as logs:
        pollers = Pollers(events_stack, events_runtime, aws).start()  # background threads, as in `parity local`
        try:
            # Two failed receives, then the third receive (after the visibility timeout) moves it to the DLQ.
            deadline = time.monotonic() + 10
            while _waiting(aws, dead_letters) < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            pollers.stop()
    seen = [record for batch in _printed(logs, "WorkerFunction", "SEEN") for record in batch]

    assert [r["body"] for r in seen].count("ok") == 1  # deleted after the first success
    fail_receives = [r["attributes"]["ApproximateReceiveCount"] for r in seen if r["body"] == "fail"]
    assert fail_receives == ["1", "2"]  # maxReceiveCount 2
    assert _take_all(aws, work) == []
    assert _take_all(aws, dead_letters) == ["fail"]
    record = next(r for r in seen if r["body"] == "ok")
    assert record["eventSource"] == "aws:sqs" and record["awsRegion"] == "us-east-1"
    assert record["eventSourceARN"] == next(m.source_arn for m in events_stack.event_source_mappings if m.source_kind == "sqs")
    assert record["messageAttributes"] == {"kind": {"stringValue": "test", "stringListValues": [], "binaryListValues": [], "dataType": "String"}}
    assert {"messageId", "receiptHandle", "md5OfBody"} <= set(record)
    assert {"SentTimestamp", "ApproximateFirstReceiveTimestamp", "SenderId"} <= set(record["attributes"])


def test_GIVEN_the_function_raises_THEN_the_whole_batch_is_redelivered_then_dead_lettered(
    events_stack: DeployedStack, events_runtime: LambdaRuntime, aws: Clients
) -> None:
    sqs = aws.client("sqs")
    work, dead_letters = events_stack.queues["Work"], events_stack.queues["DeadLetters"]
    _take_all(aws, dead_letters)  # the DLQ is shared with the previous test
    sqs.send_message_batch(QueueUrl=work, Entries=[{"Id": "1", "MessageBody": "boom"}, {"Id": "2", "MessageBody": "bystander"}])

    with events_runtime.captured_logs() as logs:
        Pollers(events_stack, events_runtime, aws).drain(timeout=10)  # waits out visibility timeouts
    seen = [record for batch in _printed(logs, "WorkerFunction", "SEEN") for record in batch]

    assert sorted(r["body"] for r in seen) == ["boom", "boom", "bystander", "bystander"]
    assert _take_all(aws, dead_letters) == ["boom", "bystander"]


def test_GIVEN_stream_records_WHEN_one_fails_once_THEN_the_batch_resumes_from_it_and_filtered_records_never_arrive(
    events_stack: DeployedStack, events_runtime: LambdaRuntime, aws: Clients
) -> None:
    pollers = Pollers(events_stack, events_runtime, aws)  # TRIM_HORIZON, as the mapping says
    table = events_stack.tables["Table"]
    for key, kind in [("a", "keep"), ("fail-once-b", "keep"), ("c", "other"), ("d", "keep")]:
        aws.client("dynamodb").put_item(TableName=table, Item={"pk": {"S": key}, "kind": {"S": kind}})

    with events_runtime.captured_logs() as logs:
        pollers.drain(timeout=10)
    deliveries = _printed(logs, "StreamFunction", "DELIVERY")

    keys = [[r["dynamodb"]["Keys"]["pk"]["S"] for r in batch] for batch in deliveries]
    assert keys == [["a", "fail-once-b", "d"], ["fail-once-b", "d"]]
    record = deliveries[0][0]
    assert (record["eventName"], record["eventSource"], record["awsRegion"]) == ("INSERT", "aws:dynamodb", "us-east-1")
    assert record["eventSourceARN"] == next(m.source_arn for m in events_stack.event_source_mappings if m.source_kind == "dynamodb")
    assert record["dynamodb"]["NewImage"] == {"pk": {"S": "a"}, "kind": {"S": "keep"}}
    assert record["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], int)
    assert json.dumps(deliveries)  # the event is plain JSON, as Lambda delivers it
