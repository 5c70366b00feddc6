"""The outbound client on the wire, against real servers on 127.0.0.1: a pinned call connects to the
vetted address but presents the original name (Host header; over TLS, SNI and the certificate check,
which is against the name, never the address); consecutive calls share one keep-alive connection; a
body left unread closes its connection instead of poisoning the next call; ``abort`` unblocks a read
from another thread; ``within`` ends a call at its deadline and the client stays usable.

Loopback is not public, so to pin to it these tests let ``is_public`` pass every address; the guard
itself is tested in test_delivery_routing.py, test_ssrf_no_connection.py and test_ssrf_embedded_ipv4.py."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from parity.core import outbound
from urllib3.exceptions import HTTPError, SSLError

from .fakes import send

NAME = "hooks.example.com"


@dataclass
class Server:
    port: int
    seen: list[tuple[str, str]] = field(default_factory=list)  # (path, Host header) per request
    sni: list[str | None] = field(default_factory=list)  # server name per TLS handshake
    connections: int = 0
    hung_up: threading.Event = field(default_factory=threading.Event)  # a client closed its connection


def _to_loopback(host, port, type=None):
    return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]


@pytest.fixture
def pin_to_loopback(monkeypatch):
    monkeypatch.setattr(outbound, "is_public", lambda address: True)
    return _to_loopback


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A CA, and a server certificate it signed for NAME only (no IP address in it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "parity test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NAME)])).issuer_name(ca_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(NAME)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "server.pem").write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return folder / "ca.pem", folder / "server.pem"


def _serve(tls: Path | None) -> Iterator[Server]:
    state: dict[str, Server] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive

        def _answer(self) -> None:
            server = state["server"]
            server.seen.append((self.path, self.headers.get("Host", "")))
            self.rfile.read(int(self.headers.get("content-length") or 0))
            body = b"x" * 200_000 if self.path.startswith("/big") else b'{"ok":true}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                if self.path.startswith("/drip"):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(3)
                else:
                    self.wfile.write(body)
            except OSError:
                pass

        do_GET = do_POST = _answer  # noqa: N815

        def finish(self) -> None:
            state["server"].hung_up.set()
            super().finish()

        def log_message(self, *args) -> None:
            pass

    class Counting(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address) -> None:
            pass  # a client that hung up or refused the certificate: expected here

        def get_request(self):
            request = super().get_request()
            state["server"].connections += 1
            return request

    httpd = Counting(("127.0.0.1", 0), Handler)
    state["server"] = Server(port=httpd.server_port)
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls)
        context.sni_callback = lambda sslobj, name, ctx: state["server"].sni.append(name)
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield state["server"]
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def http_server() -> Iterator[Server]:
    yield from _serve(None)


@pytest.fixture
def https_server(certificate) -> Iterator[Server]:
    yield from _serve(certificate[1])


def test_a_pinned_http_call_goes_to_the_address_with_the_original_host_header(http_server, pin_to_loopback):
    target = outbound.resolve(f"http://{NAME}:{http_server.port}/in?x=1", allow_private=False, resolver=pin_to_loopback)
    assert target.pinned and target.address == "127.0.0.1"
    response = send(outbound.new_client(connect=2, read=2), "POST", target, body=b"{}", headers={"content-type": "application/json"})
    assert response.status == 200
    assert http_server.seen == [("/in?x=1", f"{NAME}:{http_server.port}")]


def test_a_pinned_https_call_presents_the_name_in_sni_and_is_verified_against_it(https_server, pin_to_loopback, certificate):
    # GIVEN a TLS server whose certificate names NAME only (not 127.0.0.1)
    target = outbound.resolve(f"https://{NAME}:{https_server.port}/in", allow_private=False, resolver=pin_to_loopback)
    client = outbound.new_client(connect=2, read=2, ca_certs=str(certificate[0]))
    # WHEN a pinned call is made to it (connecting to 127.0.0.1)
    response = send(client, "POST", target, body=b"{}")
    # THEN it succeeded: the certificate was checked against the name; SNI and Host carried the name
    assert response.status == 200
    assert https_server.sni == [NAME]
    assert https_server.seen == [("/in", f"{NAME}:{https_server.port}")]


def test_a_certificate_for_another_name_is_refused(https_server, pin_to_loopback, certificate):
    # GIVEN the same server, reached under a name its certificate does not carry
    target = outbound.resolve(f"https://other.example.com:{https_server.port}/in", allow_private=False, resolver=pin_to_loopback)
    client = outbound.new_client(connect=2, read=2, ca_certs=str(certificate[0]))
    # THEN the handshake fails and no request is made
    with pytest.raises(SSLError):
        send(client, "POST", target, body=b"{}")
    assert https_server.sni == ["other.example.com"] and https_server.seen == []


def test_an_untrusted_certificate_is_refused(https_server, pin_to_loopback):
    # The default trust (the AWS SDK's bundle) does not include the test CA.
    target = outbound.resolve(f"https://{NAME}:{https_server.port}/in", allow_private=False, resolver=pin_to_loopback)
    with pytest.raises(SSLError):
        send(outbound.new_client(connect=2, read=2), "POST", target, body=b"{}")
    assert https_server.seen == []


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_consecutive_pinned_calls_share_one_keep_alive_connection(request, scheme, pin_to_loopback, certificate):
    server = request.getfixturevalue(f"{scheme}_server")
    client = outbound.new_client(connect=2, read=2, ca_certs=str(certificate[0]))
    for n in range(5):
        target = outbound.resolve(f"{scheme}://{NAME}:{server.port}/in/{n}", allow_private=False, resolver=pin_to_loopback)
        assert send(client, "POST", target, body=b"{}").status == 200
    assert server.connections == 1 and len(server.seen) == 5


def test_a_body_left_unread_closes_its_connection_and_the_next_call_still_works(http_server):
    client = outbound.new_client(connect=2, read=2)
    with outbound.stream(client, "GET", outbound.resolve(f"http://127.0.0.1:{http_server.port}/big", allow_private=True)) as response:
        assert response.status == 200
        next(response.stream(1024, decode_content=False))  # most of the 200 kB stays unread
    assert http_server.hung_up.wait(2.0)  # closed on leaving the block, not left in the pool
    again = send(client, "GET", outbound.resolve(f"http://127.0.0.1:{http_server.port}/small", allow_private=True))
    assert again.status == 200 and http_server.connections == 2


def test_abort_unblocks_a_read_from_another_thread(http_server):
    # GIVEN a server that sends one byte of a 200 kB body and then stalls for 3 s
    client = outbound.new_client(connect=2, read=5)
    ended: list[float] = []
    with outbound.stream(client, "GET", outbound.resolve(f"http://127.0.0.1:{http_server.port}/drip", allow_private=True)) as response:
        # WHEN another thread aborts the response while this one is reading
        threading.Timer(0.3, outbound.abort, args=(response,)).start()
        started = time.monotonic()
        try:  # urllib3 2.x raises on the short body; 1.26 (no length enforcement) just ends it
            for _ in response.stream(64 * 1024, decode_content=False):
                pass
        except HTTPError:
            pass
        ended.append(time.monotonic() - started)
    # THEN the read ended at the abort, not at the stall's end or the 5 s read timeout
    assert ended[0] < 1.5, ended


def test_within_gives_the_attempts_result_or_what_it_raised_or_expired_at_the_deadline():
    assert outbound.within(time.monotonic() + 2, lambda: 42) == 42
    with pytest.raises(ZeroDivisionError):
        outbound.within(time.monotonic() + 2, lambda: 1 / 0)
    started = time.monotonic()
    with pytest.raises(outbound.Expired):
        outbound.within(started + 0.3, lambda: time.sleep(3))
    assert 0.25 <= time.monotonic() - started < 1.0


def test_an_answer_cut_off_at_the_deadline_leaves_the_client_usable(http_server):
    # GIVEN a client, and a server that sends one byte of a 200 kB body and then stalls for 3 s
    client = outbound.new_client(connect=2, read=5)
    drip = outbound.resolve(f"http://127.0.0.1:{http_server.port}/drip", allow_private=True)
    # WHEN a call to it is given 0.3 s
    started = time.monotonic()
    with pytest.raises(outbound.Expired):
        outbound.within(started + 0.3, lambda: send(client, "GET", drip))
    # THEN it ends then, and the next call on the client works, on a new connection (the cut one
    # did not go back to the pool)
    assert time.monotonic() - started < 1.0
    again = send(client, "GET", outbound.resolve(f"http://127.0.0.1:{http_server.port}/small", allow_private=True))
    assert again.status == 200 and http_server.connections == 2
