"""The HTTP edge: routes by route key, body limits, JSON parsing, the caller's company, one error shape."""

import base64
import json

import pytest
from parity.core.http import Request, Response, Router, json_response
from parity.core.settings import MAX_BODY_BYTES
from parity_dev.http_api_event import http_api_event

app = Router()


@app.route("POST /echo")
def echo(request: Request) -> Response:
    return json_response(200, {"company": request.company, "body": request.json()})


@app.route("GET /boom")
def boom(request: Request) -> Response:
    raise RuntimeError("secret internals")


def call(body=None, *, path="/echo", method="POST", headers=None, auth=None, b64=False, route_key=None):
    event = http_api_event(
        method, path, headers={"content-type": "application/json", **(headers or {})},
        authorizer={"company_id": "c1"} if auth is None else auth, route_key=route_key,
    )
    # the body exactly as given (even empty or already base64), to exercise the edge's own parsing
    event.update(body=body, isBase64Encoded=b64)
    response = app.resolve(event)
    return response["statusCode"], json.loads(response["body"]) if response["body"] else None, response["headers"]


def test_valid_json_reaches_the_route_with_the_company():
    status, body, _ = call('{"a": 1.5, "b": [1, "x"]}')
    assert status == 200 and body == {"company": "c1", "body": {"a": 1.5, "b": [1, "x"]}}


def test_base64_body_is_decoded():
    status, body, _ = call(base64.b64encode(b'{"a": 1}').decode(), b64=True)
    assert status == 200 and body["body"] == {"a": 1}


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        ("{", 400, "invalid_json"),
        ("", 400, "invalid_json"),
        (None, 400, "invalid_json"),
        ('{"a": NaN}', 400, "invalid_json"),
        ('{"a": Infinity}', 400, "invalid_json"),
        ("[" * 100_00 + "]" * 100_00, 400, "invalid_json"),
        ('{"a": "' + "x" * MAX_BODY_BYTES + '"}', 413, "payload_too_large"),
    ],
)
def test_bad_bodies_get_a_4xx_in_the_error_shape(raw, status, code):
    got_status, body, _ = call(raw)
    assert got_status == status
    assert body["error"]["code"] == code
    assert set(body["error"]) == {"code", "message", "details"}


def test_wrong_content_type_is_a_415():
    status, body, _ = call("a=1", headers={"content-type": "application/x-www-form-urlencoded"})
    assert status == 415 and body["error"]["code"] == "unsupported_media_type"


def test_json_with_charset_is_accepted():
    assert call('{"a": 1}', headers={"content-type": "application/json; charset=utf-8"})[0] == 200


@pytest.mark.parametrize("auth", [{}, {"auth_error": "invalid_token"}, {"company_id": ""}])
def test_no_company_from_the_authorizer_is_a_401_before_the_route(auth):
    status, body, headers = call('{"a": 1}', auth=auth)
    assert status == 401 and body["error"]["code"] == "unauthorized"
    assert headers["WWW-Authenticate"].startswith("Bearer")


def test_unknown_route_is_a_404_in_the_error_shape():
    status, body, _ = call(None, path="/nope", method="GET")
    assert status == 404 and body["error"]["code"] == "not_found"


def test_unexpected_error_is_a_500_that_leaks_nothing():
    status, body, _ = call(None, path="/boom", method="GET")
    assert status == 500 and body["error"]["code"] == "internal_error"
    assert "secret" not in json.dumps(body)


# ---- the router itself (parity.core.http.Router) ---------------------------------------------------------
seen: dict = {}
THING = "GET /rooms/{room_id}/things/{thing_id}"


@app.route(THING)
def thing(request: Request, room_id: str, thing_id: str) -> Response:
    seen["params"] = (room_id, thing_id)
    return json_response(200, {"room": room_id, "thing": thing_id})


@app.route("DELETE /rooms/{room_id}/things/{thing_id}")
def drop_thing(request: Request, room_id: str, thing_id: str) -> Response:
    return Response(status_code=204)


def test_the_view_gets_the_path_parameters_api_gateway_decoded_and_decodes_nothing_again():
    # GIVEN a route with two parameters, and a room id whose encoding API Gateway has undone once
    # ("r%252F1" sent, "r%2F1" passed on)
    event = http_api_event("GET", "/rooms/r%252F1/things/t.2", route_key=THING, authorizer={"company_id": "c1"})
    assert event["pathParameters"] == {"room_id": "r%2F1", "thing_id": "t.2"}
    # WHEN it is resolved
    response = app.resolve(event)
    # THEN the view gets the parameters exactly as the event carries them
    assert response["statusCode"] == 200 and json.loads(response["body"]) == {"room": "r%2F1", "thing": "t.2"}


def test_dispatch_is_by_route_key_not_by_path():
    # GIVEN an event whose routeKey names a route, whatever its rawPath says
    event = http_api_event("GET", "/rooms/a/things/b", route_key=THING, authorizer={"company_id": "c1"})
    event["rawPath"] = "/somewhere/else"
    # THEN that route's view answers
    assert json.loads(app.resolve(event)["body"]) == {"room": "a", "thing": "b"}
    # AND a route key the function does not serve is a 404, even when the path looks like one of its routes
    event["routeKey"] = "GET /rooms/{room_id}/other/{thing_id}"
    assert app.resolve(event)["statusCode"] == 404


def test_the_method_is_part_of_the_route_key():
    assert call(None, path="/rooms/a/things/t", method="DELETE", route_key="DELETE /rooms/{room_id}/things/{thing_id}")[0] == 204
    assert call(None, path="/rooms/a/things/t", method="PATCH", route_key="PATCH /rooms/{room_id}/things/{thing_id}")[0] == 404


@pytest.mark.parametrize("parameters", [None, {}, {"room_id": "a"}, {"room_id": "a", "thing_id": ""}])
def test_an_event_without_the_routes_parameters_is_a_404(parameters):
    # GIVEN an event for a route with parameters that it does not carry (API Gateway never sends one)
    event = http_api_event("GET", "/rooms/a/things/b", route_key=THING, path_parameters=parameters or {}, authorizer={"company_id": "c1"})
    if parameters is None:
        event.pop("pathParameters", None)
    # THEN 404 in the error shape, and no view ran
    seen.clear()
    response = app.resolve(event)
    assert response["statusCode"] == 404 and json.loads(response["body"])["error"]["code"] == "not_found"
    assert seen == {}


def test_route_keys_are_checked_when_registered():
    router = Router()
    with pytest.raises(ValueError):
        router.route("/no/method")
    with pytest.raises(ValueError):
        router.route("GET /x/{id}", path={"other": {"type": "string"}})
    router.route("GET /x")(lambda request: Response(200))
    with pytest.raises(ValueError):
        router.route("GET /x")(lambda request: Response(200))


def test_an_unknown_route_is_a_404_even_without_a_company():
    # GIVEN no company from the authorizer; WHEN the route does not exist; THEN 404, not 401
    assert call(None, path="/nope", method="GET", auth={})[0] == 404


def test_a_public_route_runs_without_a_company():
    # GIVEN a public route (the token exchange, the signed receiver) and no company from the authorizer
    router = Router()

    @router.route("POST /open", public=True)
    def open_route(request: Request) -> Response:
        return json_response(200, {"authorizer": request.authorizer})

    # THEN its view runs; a company route of the same router still answers 401
    @router.route("POST /closed")
    def closed(request: Request) -> Response:
        return json_response(200, {})

    assert router.resolve(http_api_event("POST", "/open"))["statusCode"] == 200
    assert router.resolve(http_api_event("POST", "/closed"))["statusCode"] == 401


def test_fixed_arguments_let_one_view_serve_several_route_keys():
    router = Router()

    @router.route("GET /deals/{id}", args={"kind": "deal"})
    @router.route("GET /tickets/{id}", args={"kind": "ticket"})
    def get(request: Request, id: str, kind: str) -> Response:
        return json_response(200, {"kind": kind, "id": id})

    answer = router.resolve(http_api_event("GET", "/tickets/7", route_key="GET /tickets/{id}", authorizer={"company_id": "c"}))
    assert json.loads(answer["body"]) == {"kind": "ticket", "id": "7"}


def test_the_answer_is_an_http_api_payload_2_response():
    response = app.resolve(http_api_event("GET", "/rooms/a/things/b", route_key=THING, authorizer={"company_id": "c1"}))
    assert response["statusCode"] == 200 and response["isBase64Encoded"] is False
    assert response["headers"]["Content-Type"] == "application/json" and response["cookies"] == []
    assert json.loads(response["body"]) == {"room": "a", "thing": "b"}


def test_the_router_keeps_no_request_state():
    # GIVEN a router that has served a request
    app.resolve(http_api_event("GET", "/rooms/a/things/b", route_key=THING, authorizer={"company_id": "c1"}))
    # THEN nothing of it stays on the router: the request was the view's argument
    assert set(vars(app)) == {"routes"}


def test_header_lookup_ignores_case():
    request = Request(http_api_event("GET", "/x", headers={"Idempotency-Key": "k1"}))
    assert request.header("idempotency-key") == request.header("IDEMPOTENCY-KEY") == "k1"
    assert request.header("missing") is None


@pytest.mark.parametrize(("body", "encoded"), [("aGVsbG8=", True), ("hello", False)])
def test_decoded_body_undoes_api_gateways_base64(body, encoded):
    event = http_api_event("POST", "/x")
    event.update(body=body, isBase64Encoded=encoded)
    assert Request(event).decoded_body == "hello"


@pytest.mark.parametrize("body", ["not base64!", base64.b64encode(b"\xff\xfe").decode()])
def test_a_body_that_is_not_base64_utf8_is_a_400(body):
    from parity.core.errors import InvalidJson

    event = http_api_event("POST", "/x")
    event.update(body=body, isBase64Encoded=True)
    with pytest.raises(InvalidJson):
        Request(event).decoded_body
