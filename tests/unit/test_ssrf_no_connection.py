"""SSRF targets are refused before any connection: a listening socket on loopback never sees an
accept, and no socket connect is attempted at all."""

from __future__ import annotations

import socket

import httpx
import pytest

from parity.adapters import outbound


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
    with pytest.raises(outbound.BlockedTarget), httpx.Client() as client:
        target = outbound.resolve(url, allow_private=False, resolver=_resolver_to("127.0.0.1"))
        outbound.send(client, "POST", target, content=b"{}")
    # THEN nothing connected anywhere: no connect call, and the listener has nobody to accept
    assert connects == []
    with pytest.raises(BlockingIOError):
        listener.accept()
