"""Every AWS client the service builds has a connect and read timeout, a bounded retry and keeps
its connections; no request is made by building one."""

from __future__ import annotations

import pytest
from parity.core import dynamodb, queues
from parity.outbox import secrets


@pytest.fixture(autouse=True)
def _region(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.mark.parametrize(
    ("make", "service", "read", "attempts"),
    [(dynamodb.new_client, "dynamodb", 3, 3), (queues.new_client, "sqs", 3, 3), (secrets.new_client, "ssm", 2, 2)],
)
def test_each_client_is_bounded_in_time_and_attempts(make, service, read, attempts):
    # GIVEN an adapter's client / WHEN built / THEN its configuration bounds every call it makes
    client = make()
    config = client.meta.config
    assert client.meta.service_model.service_name == service
    assert (config.connect_timeout, config.read_timeout) == (1, read)
    assert config.retries == {"mode": "standard", "total_max_attempts": attempts}
    assert config.tcp_keepalive is True


@pytest.mark.parametrize("make", [dynamodb.new_client, queues.new_client, secrets.new_client])
def test_requests_are_not_revalidated_client_side(make):
    # GIVEN an adapter's client whose requests never leave (answered in before-send)
    from botocore.awsrequest import AWSResponse

    client = make()
    sent = []

    def answer(request, **_):
        sent.append(request)
        return AWSResponse(request.url, 400, {}, None)

    client.meta.events.register("before-send", answer)
    operation, params = {
        "dynamodb": ("get_item", {"TableName": "t", "Key": {"pk": {"S": 5}}}),
        "sqs": ("get_queue_url", {"QueueName": 5}),
        "ssm": ("get_parameter", {"Name": 5}),
    }[client.meta.service_model.service_name]
    # WHEN a request is made with a value of the wrong type (botocore's validation would refuse
    # it before sending: ParamValidationError)
    with pytest.raises(Exception) as raised:
        getattr(client, operation)(**params)
    # THEN it was serialized and sent: the service, not botocore, is the judge (the adapters build
    # every request from values pydantic validated at the edge)
    assert type(raised.value).__name__ != "ParamValidationError", raised.value
    assert len(sent) == 1, repr(raised.value)
