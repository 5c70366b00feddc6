"""SSRF targets are refused before any connection: a listening socket on loopback never sees an
accept, and no socket connect is attempted at all."""

from __future__ import annotations

import socket

import pytest
from parity.core import outbound
from urllib3.exceptions import HTTPError

from .fakes import send


@pytest.fixture
def listener():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    yield server
    server.close()


@pytest.fixture
def connects(monkeypatch):
    attempted = []
    original = socket.socket.connect

    def spy(self, address):
        attempted.append(address)
        return original(self, address)

    monkeypatch.setattr(socket.socket, "connect", spy)
    monkeypatch.setattr(socket.socket, "connect_ex", lambda self, address: attempted.append(address) or 111)
    return attempted


def _resolver_to(address):
    def resolve(host, port, type=None):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    return resolve


@pytest.mark.parametrize(
    "template",
    [
        "http://127.0.0.1:{port}/hook",  # loopback
        "http://2130706433:{port}/hook",  # 127.0.0.1, decimal-encoded
        "http://0x7f000001:{port}/hook",  # 127.0.0.1, hex-encoded
        "http://0x7f.1:{port}/hook",  # 127.0.0.1, hex and short form
        "http://0177.0.0.1:{port}/hook",  # 127.0.0.1, octal
        "http://[::ffff:127.0.0.1]:{port}/hook",  # loopback, IPv4-mapped IPv6
        "http://10.0.0.1:{port}/hook",  # private range
        "http://192.168.1.1:{port}/hook",
        "http://172.16.0.1:{port}/hook",
        "http://169.254.169.254:{port}/latest/meta-data/",  # link-local metadata address
        "http://hooks.attacker.example:{port}/hook",  # a name resolving to loopback
    ],
)
def test_ssrf_targets_are_refused_and_no_connection_is_made(listener, connects, template):
    # GIVEN a server listening on loopback and a URL aimed at a non-public address
    port = listener.getsockname()[1]
    url = template.format(port=port)
    # WHEN the outbound guard is asked to deliver there (names resolve to the listener's address)
    client = outbound.new_client(connect=0.5, read=0.5)
    with pytest.raises(outbound.BlockedTarget):
        target = outbound.resolve(url, allow_private=False, resolver=_resolver_to("127.0.0.1"))
        send(client, "POST", target, body=b"{}")
    # THEN nothing connected anywhere: no connect call, and the listener has nobody to accept
    assert connects == []
    with pytest.raises(BlockingIOError):
        listener.accept()


def test_the_harness_sees_a_connection_when_the_guard_is_opted_out(listener, connects):
    # GIVEN the same listener, and private targets explicitly allowed (the local stack only)
    port = listener.getsockname()[1]
    client = outbound.new_client(connect=0.5, read=0.3)
    target = outbound.resolve(f"http://127.0.0.1:{port}/hook", allow_private=True)
    # WHEN a delivery is attempted (the listener accepts but never answers)
    with pytest.raises(HTTPError) as raised:
        send(client, "POST", target, body=b"{}")
    # THEN the spy saw the connect and the listener has it: the checks above can fail
    assert outbound.timed_out(raised.value)
    assert connects == [("127.0.0.1", port)]
    listener.accept()[0].close()
