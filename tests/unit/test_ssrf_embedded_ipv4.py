"""IPv6 addresses that carry an IPv4 address (NAT64, 6to4, IPv4-compatible, IPv4-mapped, Teredo)
are judged by the IPv4 address they lead to: ``ipaddress`` calls NAT64 and 6to4 addresses global
whatever they carry, so ``is_global`` alone would let ``64:ff9b::a9fe:a9fe`` (the metadata address
through NAT64) through. Refused targets get no connection at all."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st
from parity.core import outbound

from .fakes import send

LOOPBACK, PRIVATE, METADATA, CGNAT, PUBLIC, OTHER_PUBLIC = "127.0.0.1", "10.1.2.3", "169.254.169.254", "100.64.0.1", "93.184.216.34", "8.8.8.8"


def v4(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


def nat64(a: int) -> str:
    return str(ipaddress.IPv6Address((0x0064FF9B << 96) | a))


def sixtofour(a: int, rest: int = 0) -> str:
    return str(ipaddress.IPv6Address((0x2002 << 112) | (a << 80) | rest))


def compatible(a: int) -> str:
    return str(ipaddress.IPv6Address(a))


def mapped(a: int) -> str:
    return str(ipaddress.IPv6Address((0xFFFF << 32) | a))


def teredo(server: int, client: int, flags: int = 0, port: int = 0) -> str:
    # 2001:0000:<server>:<flags>:<port ^ 0xffff>:<client ^ 0xffffffff> (RFC 4380)
    return str(ipaddress.IPv6Address((0x20010000 << 96) | (server << 64) | (flags << 48) | ((port ^ 0xFFFF) << 32) | (client ^ 0xFFFFFFFF)))


def local_nat64(a: int) -> str:
    # 64:ff9b:1::/48 with the IPv4 address in the low 32 bits (a /96 inside the local-use /48)
    return str(ipaddress.IPv6Address((0x0064FF9B0001 << 80) | a))


CARRYING_A_NON_PUBLIC_IPV4 = {
    f"{name}({inner})": build(v4(inner))
    for name, build in [("nat64", nat64), ("6to4", sixtofour), ("compatible", compatible), ("mapped", mapped)]
    for inner in (LOOPBACK, PRIVATE, METADATA, CGNAT)
}
CARRYING_A_NON_PUBLIC_IPV4.update({
    f"teredo(server={LOOPBACK})": teredo(v4(LOOPBACK), v4(PUBLIC)),
    f"teredo(client={METADATA})": teredo(v4(PUBLIC), v4(METADATA)),
    f"teredo(client={PRIVATE})": teredo(v4(OTHER_PUBLIC), v4(PRIVATE)),
    f"local-nat64({METADATA})": local_nat64(v4(METADATA)),
    f"local-nat64({PUBLIC})": local_nat64(v4(PUBLIC)),  # the local-use prefix is refused whole
})


@pytest.fixture
def connects(monkeypatch):
    attempted = []
    monkeypatch.setattr(socket.socket, "connect", lambda self, address: attempted.append(address))
    monkeypatch.setattr(socket.socket, "connect_ex", lambda self, address: attempted.append(address) or 111)
    return attempted


def resolver_to(address: str):
    def resolve(host, port, type=None):
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))]

    return resolve


@pytest.mark.parametrize("address", list(CARRYING_A_NON_PUBLIC_IPV4.values()), ids=list(CARRYING_A_NON_PUBLIC_IPV4))
def test_an_ipv6_address_carrying_a_non_public_ipv4_address_is_refused_without_connecting(address, connects):
    # GIVEN an IPv6 address that leads to loopback, a private range, the metadata address or CGNAT
    assert not outbound.is_public(address)
    # WHEN it is the URL's host, or what the URL's name resolves to
    client = outbound.new_client(connect=0.5, read=0.5)
    for url, resolver in [(f"http://[{address}]:8080/hook", socket.getaddrinfo), ("http://hooks.example.com/hook", resolver_to(address))]:
        # THEN the target is refused for what it is, and nothing connects anywhere
        with pytest.raises(outbound.BlockedTarget, match="non-public"):
            send(client, "POST", outbound.resolve(url, allow_private=False, resolver=resolver), body=b"{}")
    assert connects == []


@pytest.mark.parametrize("build", [nat64, sixtofour, compatible, mapped], ids=["nat64", "6to4", "compatible", "mapped"])
@pytest.mark.parametrize("inner", [PUBLIC, OTHER_PUBLIC])
def test_an_ipv6_address_carrying_a_public_ipv4_address_is_allowed(build, inner):
    address = build(v4(inner))
    assert outbound.is_public(address)
    target = outbound.resolve("https://hooks.example.com/in", allow_private=False, resolver=resolver_to(address))
    assert target.pinned and target.address == address


@given(a=st.integers(0, 2**32 - 1), rest=st.integers(0, 2**80 - 1))
def test_a_translated_address_is_public_exactly_when_the_ipv4_address_it_carries_is(a, rest):
    public = outbound.is_public(str(ipaddress.IPv4Address(a)))
    for address in (nat64(a), sixtofour(a, rest), compatible(a), mapped(a)):
        assert outbound.is_public(address) is public, address


@given(server=st.integers(0, 2**32 - 1), client=st.integers(0, 2**32 - 1), flags=st.integers(0, 2**16 - 1), port=st.integers(0, 2**16 - 1))
def test_a_teredo_address_with_a_non_public_server_or_client_is_refused(server, client, flags, port):
    if not (outbound.is_public(str(ipaddress.IPv4Address(server))) and outbound.is_public(str(ipaddress.IPv4Address(client)))):
        assert not outbound.is_public(teredo(server, client, flags, port))


@given(a=st.integers(0, 2**32 - 1), low=st.integers(0, 2**80 - 1))
def test_the_local_use_nat64_prefix_is_refused_whole(a, low):
    assert not outbound.is_public(str(ipaddress.IPv6Address((0x0064FF9B0001 << 80) | low)))
    assert not outbound.is_public(local_nat64(a))


@pytest.mark.parametrize("address", ["2606:4700:4700::1111", "2a00:1450:4001:80e::200e", PUBLIC])
def test_ordinary_public_addresses_stay_public(address):
    assert outbound.is_public(address)
