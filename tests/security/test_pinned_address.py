"""A request connects to the very address that was checked, whatever DNS answers after the
check, and TLS still proves the host's name there: the name goes in SNI and in Host, and a
certificate for another name is refused before the API key is sent.

The test plays the internet for one public address: a connection to PUBLIC_ADDRESS:443
reaches a local TLS server whose certificate a test authority signed (the client trusts that
authority, as it trusts the public ones); every address a socket connects to is noted."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from connectors.base import ConnectorError, HttpClient

from .conftest import REMOTE_NAME

PUBLIC_ADDRESS = "8.8.8.8"
API_KEY = "the-tenants-plexxis-key"


class _Authority:
    """A certificate authority of the test's own, and certificates it signs."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test authority")])
        public = self.key.public_key()
        self.certificate = (
            self._builder(name, public, name)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        self.bundle = folder / "authority.pem"
        self.bundle.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))

    def _builder(self, subject: x509.Name, public, issuer: x509.Name) -> x509.CertificateBuilder:
        now = datetime.datetime.now(datetime.UTC)
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
                .public_key(public).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=1)))

    def server_files(self, host_name: str) -> tuple[Path, Path]:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host_name)])
        certificate = (
            self._builder(subject, key.public_key(), self.certificate.subject)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host_name)]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.OID_SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        cert_file, key_file = self.folder / f"{host_name}.pem", self.folder / f"{host_name}.key"
        cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        return cert_file, key_file


class TlsRemote(ThreadingHTTPServer):
    """A remote answering over TLS with a certificate for `host_name`; it notes the name each
    client asked for (SNI) and the headers of each request it got."""

    daemon_threads = True

    def __init__(self, authority: _Authority, host_name: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.server_names: list[str | None] = []
        self.requests: list[dict[str, str]] = []
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*authority.server_files(host_name))
        context.sni_callback = lambda _socket, name, _context: self.server_names.append(name)
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    def handle_error(self, request, client_address) -> None:
        pass  # a client refusing our certificate ends its handshake: expected here

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join()


class _Handler(BaseHTTPRequestHandler):
    server: TlsRemote

    def do_GET(self) -> None:
        self.server.requests.append(dict(self.headers.items()))
        body = b'{"data": [], "next_page": null}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def authority(tmp_path, monkeypatch) -> _Authority:
    """The test's authority, the only one the client trusts (requests reads its bundle from
    the environment)."""
    authority = _Authority(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(authority.bundle))
    return authority


@pytest.fixture
def internet(monkeypatch) -> tuple[list[tuple], dict[str, int]]:
    """(every address a socket connected to, routes): a connection to an address in `routes`
    reaches that local port instead."""
    connected: list[tuple] = []
    routes: dict[str, int] = {}
    real_connect = socket.socket.connect

    def connect(sock: socket.socket, address):
        connected.append(address[:2])
        if address[0] in routes and address[1] == 443:
            address = ("127.0.0.1", routes[address[0]])
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return connected, routes


def remote(authority: _Authority, host_name: str, routes: dict[str, int]) -> TlsRemote:
    server = TlsRemote(authority, host_name)
    routes[PUBLIC_ADDRESS] = server.server_address[1]
    return server


def client() -> HttpClient:
    return HttpClient(base_url=f"https://{REMOTE_NAME}/api/v1", system="Plexxis",
                      headers={"X-API-Key": API_KEY}, read_retries=0)


def test_the_connection_goes_to_the_address_checked_though_dns_answers_otherwise_after(
    resolver, internet, authority
):
    connected, routes = internet
    server = remote(authority, REMOTE_NAME, routes)
    # Public when asked first; any later lookup would lead to our own machine.
    resolver[REMOTE_NAME] = [PUBLIC_ADDRESS, "127.0.0.1"]
    try:
        client().request("GET", "/employees")
    finally:
        server.stop()

    assert connected == [(PUBLIC_ADDRESS, 443)]


def test_tls_names_the_host_and_the_request_carries_its_name(resolver, internet, authority):
    _, routes = internet
    server = remote(authority, REMOTE_NAME, routes)
    resolver[REMOTE_NAME] = PUBLIC_ADDRESS
    try:
        client().request("GET", "/employees")
    finally:
        server.stop()

    assert server.server_names == [REMOTE_NAME]
    assert server.requests[0]["Host"] == REMOTE_NAME


def test_a_certificate_for_another_name_at_the_address_is_refused_before_the_key_is_sent(
    resolver, internet, authority
):
    _, routes = internet
    server = remote(authority, "other.example.com", routes)
    resolver[REMOTE_NAME] = PUBLIC_ADDRESS
    try:
        with pytest.raises(ConnectorError):
            client().request("GET", "/employees")
    finally:
        server.stop()

    assert server.requests == []
