"""Outbound HTTP with a guard against server-side request forgery.

Every call the service makes to a URL it was configured with (the omnichannel webhook, the
chat-history hub) goes through here: the host is resolved once, every address it resolves to
must be public (not private, loopback, link-local such as the metadata address 169.254.169.254,
CGNAT, multicast or reserved), and the connection then goes to that checked address, with the
original name kept for the Host header and TLS (SNI and certificate), so DNS rebinding between
the check and the connection cannot redirect it. Numeric hosts in any spelling the resolver
accepts (``2130706433``, ``0x7f.1``, ``0177.0.0.1``) resolve to the address they mean and are
judged by it. Redirects are never followed.
"""

from __future__ import annotations

import ipaddress
import socket
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import httpx


class BlockedTarget(Exception):
    """The URL is not one we will connect to; no connection was made."""


@dataclass(frozen=True)
class Target:
    url: str  # what to connect to (the checked address when pinned)
    host: str  # the name to present (Host header, SNI)
    pinned: bool


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve(url: str, *, allow_private: bool, resolver=socket.getaddrinfo) -> Target:
    """Check ``url`` and pin it to a vetted address. Raises ``BlockedTarget`` without connecting."""
    import httpx

    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise BlockedTarget(f"not a valid URL: {exc}") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise BlockedTarget("only http(s) URLs with a host are allowed")
    if parsed.userinfo:
        raise BlockedTarget("credentials in the URL are not allowed")
    if allow_private:
        return Target(url=str(parsed), host=parsed.host, pinned=False)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        infos = resolver(parsed.host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise BlockedTarget(f"cannot resolve {parsed.host}") from exc
    addresses = sorted({info[4][0] for info in infos})
    if not addresses:
        raise BlockedTarget(f"{parsed.host} resolves to nothing")
    blocked = [a for a in addresses if not is_public(a)]
    if blocked:
        raise BlockedTarget(f"{parsed.host} resolves to a non-public address")
    return Target(url=str(parsed.copy_with(host=addresses[0])), host=parsed.host, pinned=True)


def send(client: httpx.Client, method: str, target: Target, **kwargs) -> httpx.Response:
    """Make the request to the pinned address, presenting the original host name."""
    headers, extensions = _presented(target, kwargs)
    return client.request(method, target.url, headers=headers, extensions=extensions, follow_redirects=False, **kwargs)


def stream(client: httpx.Client, method: str, target: Target, **kwargs) -> AbstractContextManager[httpx.Response]:
    """Like ``send``, but the body is left unread: the caller reads it in chunks (to cap its size
    and its time) inside the ``with`` block, which closes the response."""
    headers, extensions = _presented(target, kwargs)
    return client.stream(method, target.url, headers=headers, extensions=extensions, follow_redirects=False, **kwargs)


def _presented(target: Target, kwargs: dict) -> tuple[dict, dict]:
    headers = dict(kwargs.pop("headers", None) or {})
    extensions = dict(kwargs.pop("extensions", None) or {})
    if target.pinned:
        headers["Host"] = target.host
        extensions["sni_hostname"] = target.host
    return headers, extensions


def new_client(*, connect: float, read: float, total_pool: int = 10) -> httpx.Client:
    """A keep-alive client with explicit timeouts; one per warm container."""
    import httpx

    timeout = httpx.Timeout(connect=connect, read=read, write=read, pool=connect)
    limits = httpx.Limits(max_connections=total_pool, max_keepalive_connections=total_pool)
    return httpx.Client(timeout=timeout, limits=limits, follow_redirects=False, trust_env=False)
