"""The HTTP edge: body limits, JSON parsing, the caller's company, one error shape."""

import base64
import json

import pytest

from parity_dev.gateway import http_api_event

from parity.http import build_resolver, caller_company, json_body, json_response
from parity.settings import MAX_BODY_BYTES

app = build_resolver()


@app.post("/echo")
def echo():
    return json_response(200, {"company": caller_company(app), "body": json_body(app)})


@app.get("/boom")
def boom():
    raise RuntimeError("secret internals")


class Ctx:
    function_name = "f"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:f"
    aws_request_id = "req-1"


def call(body=None, *, path="/echo", method="POST", headers=None, auth=None, b64=False):
    event = http_api_event(
        method, path, headers={"content-type": "application/json", **(headers or {})},
        authorizer={"company_id": "c1"} if auth is None else auth,
    )
    # the body exactly as given (even empty or already base64), to exercise the edge's own parsing
    event.update(body=body, isBase64Encoded=b64)
    response = app.resolve(event, Ctx())
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
