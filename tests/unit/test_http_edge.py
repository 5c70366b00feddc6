"""The HTTP edge: body limits, JSON parsing, the caller's company, one error shape."""

import base64
import json

import pytest

from parity_dev.gateway import http_api_event

from parity.core.http import Request, Response, Router, caller_company, json_body, json_response
from parity.core.settings import MAX_BODY_BYTES

app = Router()


@app.post("/echo")
def echo():
    return json_response(200, {"company": caller_company(app), "body": json_body(app)})


@app.get("/boom")
def boom():
    raise RuntimeError("secret internals")


def call(body=None, *, path="/echo", method="POST", headers=None, auth=None, b64=False):
    event = http_api_event(
        method, path, headers={"content-type": "application/json", **(headers or {})},
        authorizer={"company_id": "c1"} if auth is None else auth,
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


@app.get("/rooms/<room_id>/things/<thing_id>")
def thing(room_id, thing_id):
    seen["params"] = (room_id, thing_id)
    return json_response(200, {"room": room_id, "thing": thing_id})


@app.delete("/rooms/<room_id>/things/<thing_id>")
def drop_thing(room_id, thing_id):
    return Response(status_code=204)


def test_path_parameters_reach_the_view_as_sent_url_encoded():
    # GIVEN a route with two parameters and a room id with a slash encoded twice (API Gateway decodes
    # the path once: a slash encoded once would separate segments)
    # WHEN it is requested
    status, body, _ = call(None, path="/rooms/r%252F1/things/t.2", method="GET")
    # THEN the view gets both segments as API Gateway passed them (the view decides about decoding)
    assert status == 200 and body == {"room": "r%2F1", "thing": "t.2"}


def test_a_parameter_never_spans_a_slash_and_the_whole_path_must_match():
    assert call(None, path="/rooms/a/b/things/t", method="GET")[0] == 404
    assert call(None, path="/rooms/a/things/t/extra", method="GET")[0] == 404
    assert call(None, path="/rooms//things/t", method="GET")[0] == 404


def test_the_method_picks_the_view_and_an_unrouted_method_is_a_404():
    assert call(None, path="/rooms/a/things/t", method="DELETE")[0] == 204
    assert call(None, path="/rooms/a/things/t", method="PATCH")[0] == 404


def test_a_dot_in_a_registered_path_is_literal():
    # GIVEN "/api/v3.1/x" registered; WHEN a path differs only where a regex "." would match; THEN no match
    router = Router(require_company=False)

    @router.get("/api/v3.1/x")
    def x():
        return json_response(200, {})

    event = http_api_event("GET", "/api/v3x1/x")
    assert router.resolve(event)["statusCode"] == 404
    assert router.resolve(http_api_event("GET", "/api/v3.1/x"))["statusCode"] == 200


def test_an_unknown_route_is_a_404_even_without_a_company():
    # GIVEN no company from the authorizer; WHEN the route does not exist; THEN 404, not 401
    assert call(None, path="/nope", method="GET", auth={})[0] == 404


def test_the_answer_is_an_http_api_payload_2_response():
    response = app.resolve(http_api_event("GET", "/rooms/a/things/b", authorizer={"company_id": "c1"}))
    assert response["statusCode"] == 200 and response["isBase64Encoded"] is False
    assert response["headers"]["Content-Type"] == "application/json" and response["cookies"] == []
    assert json.loads(response["body"]) == {"room": "a", "thing": "b"}


def test_current_event_is_per_thread_and_gone_after_the_request():
    # GIVEN two threads each resolving a request while the other is mid-request
    import threading

    router = Router(require_company=False)
    barrier = threading.Barrier(2)
    got = {}

    @router.get("/who/<name>")
    def who(name):
        barrier.wait(timeout=5)  # both requests are in flight here
        got[name] = router.current_event.path
        return json_response(200, {})

    threads = [threading.Thread(target=router.resolve, args=(http_api_event("GET", f"/who/{n}"),)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=5)
    # THEN each view saw its own request, and none is left bound afterwards
    assert got == {"a": "/who/a", "b": "/who/b"}
    with pytest.raises(RuntimeError):
        router.current_event


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
