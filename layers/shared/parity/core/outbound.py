"""Outbound HTTP with a guard against server-side request forgery.

Every call the service makes to a URL it was configured with (the omnichannel webhook, the
chat-history hub) goes through here: the host is resolved once, every address it resolves to
must be public (not private, loopback, link-local such as the metadata address 169.254.169.254,
CGNAT, multicast or reserved), and the connection then goes to that checked address, with the
original name kept for the Host header and TLS (SNI and certificate), so DNS rebinding between
the check and the connection cannot redirect it. Numeric hosts in any spelling the resolver
accepts (``2130706433``, ``0x7f.1``, ``0177.0.0.1``) resolve to the address they mean and are
judged by it. Redirects are never followed.

The HTTP library is urllib3, not a richer client: botocore already imports it in every function,
so it adds nothing to a cold start. Its API used here is the part common to urllib3 1.26 and 2.x
(the Lambda runtime's botocore may bundle either): a ``PoolManager`` whose connection pools are
keyed by the vetted address, port, scheme and the name presented over TLS, so consecutive calls
in a warm container reuse one keep-alive connection; ``retries=False`` and ``redirect=False``; an
explicit ``Timeout`` on every call; HTTPS certificates verified against the CA bundle the AWS SDK
uses (``botocore.httpsession.where()``: certifi when present, else botocore's own). Errors are
urllib3's: ``urllib3.exceptions.HTTPError`` and its subclasses, sorted by ``timed_out``.

A target is *refused* (``BlockedTarget``: not a valid URL, or an address that is not public) or
*unresolvable* (``Unresolvable``: the resolver failed, EAI_AGAIN included, or found nothing). The
two are different outcomes on purpose: a refusal is about the configured URL and no retry changes
it; a resolution failure is a failed attempt like a timeout, worth trying again.

An IPv6 address that carries an IPv4 address is judged by the IPv4 address it leads to, not by
the IPv6 tables (``ipaddress`` calls NAT64 and 6to4 addresses global whatever they carry): IPv4-
mapped ``::ffff:0:0/96``, IPv4-compatible ``::/96``, NAT64 ``64:ff9b::/96`` and 6to4 ``2002::/16``
are public exactly when their IPv4 address is; a Teredo address (``2001::/32``) is refused when its
server or its client address is not public (and the rest of ``2001::/23`` is not global anyway);
the local-use NAT64 prefix ``64:ff9b:1::/48`` is refused whole (where its IPv4 address sits depends
on the operator's prefix length, and it is not globally reachable by definition, RFC 8215).

Deadlines: ``within(deadline, attempt)`` runs one attempt in a worker thread and stops waiting at
``deadline``. Per-operation socket timeouts alone cannot bound an attempt: a server that sends its
headers or body a byte at a time resets them with every byte. At the deadline the caller gets
``Expired`` and everything the attempt opened through this module is cut off (its connection's
socket shut down, before or after the answer's headers; ``abort`` for the answer), so the abandoned
worker ends at once too. The chat-history hub and the webhook sender both use it.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

import urllib3  # already imported by botocore: free at cold start
from urllib3.exceptions import NewConnectionError
from urllib3.exceptions import TimeoutError as _UrllibTimeout

# The deadline machinery is this module's too: ``outbound.within``, ``outbound.Expired``, ``outbound.abort``.
from parity.core.deadline import Expired, TrackedHTTPPool, TrackedHTTPSPool, abort, running_call, within  # noqa: F401

_DEFAULT_PORTS = {"http": 80, "https": 443}
_CHUNK = 64 * 1024
# Characters kept as they are in the request target; anything else (spaces, non-ASCII…) is
# percent-encoded, and existing %XX escapes are left alone.
_PATH_SAFE = "/%:@!$&'()*+,;=~"
_QUERY_SAFE = _PATH_SAFE + "?"


class BlockedTarget(Exception):
    """The URL is not one we will connect to (not a valid URL, or not a public address); no
    connection was made, and trying again will not change that."""


class Unresolvable(Exception):
    """The host name could not be resolved now (a resolver error, EAI_AGAIN included, or no
    address at all); no connection was made. A failed attempt like any other: worth a retry."""


@dataclass(frozen=True)
class Target:
    scheme: str  # "http" or "https"
    host: str  # the name to present (Host header, SNI, certificate check); IPv6 without brackets
    port: int
    address: str  # what to connect to: the checked address when pinned, else ``host``
    path: str  # the request target: path and query
    pinned: bool

    @property
    def url(self) -> str:
        """What is connected to, as a URL (the checked address when pinned)."""
        return f"{self.scheme}://{_authority(self.address, self.port, self.scheme)}{self.path}"

    @property
    def host_header(self) -> str:
        """The ``Host`` header: the original name, with the port when it is not the default."""
        return _authority(self.host, self.port, self.scheme)


def _authority(host: str, port: int, scheme: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port == _DEFAULT_PORTS[scheme] else f"{shown}:{port}"


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052, the well-known prefix
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215, local use
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated (RFC 4291), ``::a.b.c.d``


def is_public(address: str) -> bool:
    """Whether ``address`` (IPv4 or IPv6, a zone id ignored) may be connected to: globally
    routable and not multicast, and for an IPv6 address carrying an IPv4 address, that IPv4
    address too (see the module docstring)."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL:
            return False
        carried = _carried_ipv4(ip)
        if carried is not None:
            return _public(carried)
        if ip.teredo is not None and not all(_public(embedded) for embedded in ip.teredo):
            return False
    return _public(ip)


def _public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return ip.is_global and not ip.is_multicast


def _carried_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address a connection to ``ip`` leads to, when ``ip`` is one that carries it."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or ip in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def resolve(url: str, *, allow_private: bool, resolver=socket.getaddrinfo) -> Target:
    """Check ``url`` and pin it to a vetted address, without connecting. Raises ``BlockedTarget``
    when the URL or an address it resolves to is refused, ``Unresolvable`` when the name cannot be
    resolved now."""
    if not isinstance(url, str):
        raise BlockedTarget("not a valid URL: not a string")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise BlockedTarget("not a valid URL: control characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError as exc:
        raise BlockedTarget(f"not a valid URL: {exc}") from exc
    if " " in parts.netloc or url != url.strip():
        raise BlockedTarget("not a valid URL: spaces in or around the host")
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not host:
        raise BlockedTarget("only http(s) URLs with a host are allowed")
    if "@" in parts.netloc:
        raise BlockedTarget("credentials in the URL are not allowed")
    if port == 0:
        raise BlockedTarget("not a valid URL: port 0")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise BlockedTarget("not a valid URL: the host name cannot be encoded") from exc
    port = port or _DEFAULT_PORTS[scheme]
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    if parts.query:
        path += "?" + quote(parts.query, safe=_QUERY_SAFE)
    if allow_private:
        return Target(scheme=scheme, host=host, port=port, address=host, path=path, pinned=False)
    try:
        infos = resolver(host, port, type=socket.SOCK_STREAM)
    except UnicodeError as exc:  # a label the resolver cannot encode (empty, over 63 characters)
        raise BlockedTarget(f"not a valid URL: the host name cannot be encoded ({exc})") from exc
    except OSError as exc:  # socket.gaierror included: EAI_AGAIN, EAI_NONAME, EAI_FAIL…
        raise Unresolvable(f"cannot resolve {host} ({exc})") from exc
    addresses = sorted({info[4][0] for info in infos})
    if not addresses:
        raise Unresolvable(f"{host} resolves to nothing")
    blocked = [a for a in addresses if not is_public(a)]
    if blocked:
        raise BlockedTarget(f"{host} resolves to a non-public address")
    return Target(scheme=scheme, host=host, port=port, address=addresses[0], path=path, pinned=True)


def new_client(*, connect: float, read: float, total_pool: int = 10, ca_certs: str | None = None) -> urllib3.PoolManager:
    """A keep-alive client with explicit timeouts; one per warm container. ``ca_certs`` defaults to
    the AWS SDK's bundle (tests pass their own)."""
    if ca_certs is None:
        from botocore.httpsession import where  # loaded already by any boto3 client

        ca_certs = where()
    client = urllib3.PoolManager(
        num_pools=total_pool,
        maxsize=total_pool,
        block=False,
        timeout=urllib3.Timeout(connect=connect, read=read),
        retries=False,
        cert_reqs="CERT_REQUIRED",
        ca_certs=ca_certs,
    )
    # Connections that tell a running ``within`` attempt which socket it is on (an instance
    # attribute read by PoolManager._new_pool, in urllib3 1.26 and 2.x alike).
    client.pool_classes_by_scheme = {"http": TrackedHTTPPool, "https": TrackedHTTPSPool}
    return client


@contextmanager
def stream(
    client: urllib3.PoolManager,
    method: str,
    target: Target,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float | urllib3.Timeout | None = None,
) -> Iterator[urllib3.HTTPResponse]:
    """Make the request to the pinned address, presenting the original host name, and leave the
    answer's body unread: the caller reads it in chunks (to cap its size and its time;
    ``response.stream(n, decode_content=False)`` gives the raw bytes) inside the ``with`` block.
    Leaving the block returns the connection to the pool when the body was read to its end, and
    closes it otherwise."""
    if isinstance(timeout, (int, float)):
        timeout = urllib3.Timeout(connect=timeout, read=timeout)
    if target.scheme == "https":
        pool = client.connection_from_host(
            target.address, target.port, "https", pool_kwargs={"server_hostname": target.host, "assert_hostname": target.host}
        )
    else:
        pool = client.connection_from_host(target.address, target.port, "http")
    call = running_call()
    try:
        response = pool.urlopen(
            method,
            target.path,
            body=body,
            headers={**{k: v for k, v in (headers or {}).items() if k.lower() != "host"}, "Host": target.host_header},
            retries=False,
            redirect=False,
            assert_same_host=False,
            preload_content=False,
            decode_content=False,
            release_conn=False,
            **({} if timeout is None else {"timeout": timeout}),
        )
    except BaseException:
        if call is not None:
            call.let_go()
        raise
    try:
        if call is not None:
            call.hold(response)
        yield response
    finally:
        if call is not None:
            call.let_go()  # before the connection can go back to the pool and serve another call
        if not response.closed:  # the body was not read to its end: the connection cannot be reused
            response.close()
        response.release_conn()


def timed_out(exc: BaseException) -> bool:
    """Whether a urllib3 error is a timeout (connect or read). urllib3 files a refused or
    unreachable connection (``NewConnectionError``) under its timeout errors too; it is not one."""
    return isinstance(exc, _UrllibTimeout) and not isinstance(exc, NewConnectionError)


@dataclass(frozen=True)
class Exchange:
    """One request's outcome: the answer's ``status``, ``headers`` and (capped) ``body``; or
    ``status`` None and the ``problem`` (timed out, refused connection…). ``refused``: the target
    itself is not allowed (never retried); an unresolvable name is a plain failure (retried)."""

    status: int | None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    problem: str = ""
    refused: bool = False


def exchange(
    client: urllib3.PoolManager,
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    allow_private: bool,
    deadline_seconds: float,
    connect_seconds: float = 2.0,
    read_seconds: float | None = None,
    max_answer_bytes: int = 256 * 1024,
    name: str = "outbound",
) -> Exchange:
    """Make one request with everything bounded: the target vetted (SSRF guard), the connect
    time, a silence (``read_seconds``), a total deadline (``within``: resolution, connect, request,
    the answer's headers and body together), the answer's size. Never raises for the far side."""
    deadline = time.monotonic() + deadline_seconds

    def attempt() -> Exchange:
        try:
            target = resolve(url, allow_private=allow_private)
        except BlockedTarget as exc:
            return Exchange(None, problem=str(exc), refused=True)
        except Unresolvable as exc:
            return Exchange(None, problem=str(exc))
        left = deadline - time.monotonic()
        if left <= 0:
            return Exchange(None, problem="timed out")
        timeout = urllib3.Timeout(connect=min(connect_seconds, left), read=min(read_seconds or left, left))
        try:
            with stream(client, method, target, body=body, headers=headers, timeout=timeout) as response:
                received = bytearray()
                for chunk in response.stream(_CHUNK, decode_content=True):
                    received += chunk
                    if len(received) > max_answer_bytes:
                        return Exchange(response.status, dict(response.headers), bytes(received[:max_answer_bytes]), problem="answer cut at its size limit")
                return Exchange(response.status, dict(response.headers), bytes(received))
        except urllib3.exceptions.HTTPError as exc:
            return Exchange(None, problem="timed out" if timed_out(exc) else f"connection failed ({type(exc).__name__})")

    try:
        return within(deadline, attempt, name=name)
    except Expired:
        return Exchange(None, problem="timed out")


class Poster:
    """A warm container's POST to one provider's API: one keep-alive client made on first use, every
    call bounded as ``exchange`` bounds it, private targets refused unless the stack allows them
    (``ALLOW_PRIVATE_TARGETS``). ``name`` labels the call in logs and the deadline's thread."""

    def __init__(self, name: str, *, connect: float, read: float, deadline_seconds: float) -> None:
        self.name, self.connect, self.read, self.deadline_seconds = name, connect, read, deadline_seconds
        self._client: urllib3.PoolManager | None = None

    def __call__(self, url: str, headers: Mapping[str, str], body: bytes) -> Exchange:
        from parity.core.settings import settings

        if self._client is None:
            self._client = new_client(connect=self.connect, read=self.read)
        return exchange(self._client, "POST", url, body=body, headers=headers, allow_private=settings().allow_private_targets,
                        deadline_seconds=self.deadline_seconds, name=self.name)
