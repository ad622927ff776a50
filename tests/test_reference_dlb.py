"""Self-tests of the embedded reference DLB, driven with Python's ssl, raw sockets and curl.

The expected strings were measured on nginx 1.22.1 / OpenSSL 3.0 configured with
examples/nginx/dlb-*.conf (see mtls_conformance/reference/ for the notes).
"""

from __future__ import annotations

import json
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from OpenSSL import SSL

from mtls_conformance.errors import InputError
from mtls_conformance.kit import Kit, create_kit
from mtls_conformance.reference import ListenerConfig, ReferenceDLB, ReferenceServerError
from mtls_conformance.reference import listener as listener_module
from mtls_conformance.reference.nginx_vars import rfc2253, serial_hex
from mtls_conformance.reference.request import validate_host

pytestmark = pytest.mark.selftest

REPO = Path(__file__).resolve().parents[1]
NO_CERT = "no-certificate"
TRUSTED = ("ca-signed", "self-signed-trusted", "intermediate-signed")
# X-SSL-Client-Verify on DLB-style Optional, measured with the kit's crl.pem loaded.
FAILED_WITH_CRL = {
    "expired": "FAILED:certificate has expired",
    "not-yet-valid": "FAILED:certificate is not yet valid",
    "untrusted": "FAILED:unable to verify the first certificate",
    "self-signed-untrusted": "FAILED:unable to get certificate CRL",
    "revoked": "FAILED:certificate revoked",
    "wrong-eku": "FAILED:unsuitable certificate purpose",
}
CASES = (NO_CERT, *TRUSTED, *FAILED_WITH_CRL)
NO_CERT_TITLE = "400 No required SSL certificate was sent"
CERT_ERROR_TITLE = "400 The SSL certificate error"

# nginx 1.22.1 with server_tokens off, byte for byte (Date masked).
NGINX_NO_CERT_PAGE = (
    b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nDate: *\r\nContent-Type: text/html\r\n"
    b"Content-Length: 230\r\nConnection: close\r\n\r\n<html>\r\n"
    b"<head><title>400 No required SSL certificate was sent</title></head>\r\n<body>\r\n"
    b"<center><h1>400 Bad Request</h1></center>\r\n"
    b"<center>No required SSL certificate was sent</center>\r\n"
    b"<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
NGINX_CERT_ERROR_PAGE = (
    b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nDate: *\r\nContent-Type: text/html\r\n"
    b"Content-Length: 208\r\nConnection: close\r\n\r\n<html>\r\n"
    b"<head><title>400 The SSL certificate error</title></head>\r\n<body>\r\n"
    b"<center><h1>400 Bad Request</h1></center>\r\n"
    b"<center>The SSL certificate error</center>\r\n"
    b"<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
NGINX_421_PAGE = (
    b"HTTP/1.1 421 Misdirected Request\r\nServer: nginx\r\nDate: *\r\n"
    b"Content-Type: text/html\r\nContent-Length: 166\r\nConnection: close\r\n\r\n<html>\r\n"
    b"<head><title>421 Misdirected Request</title></head>\r\n<body>\r\n"
    b"<center><h1>421 Misdirected Request</h1></center>\r\n"
    b"<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
# $ssl_client_s_dn of a subject full of RFC 2253 specials, as nginx printed it.
TRICKY_DN = (
    r"OU=\#lead,L=tab\09here\7Fdel,DC=example,1.2.3.4.5=#0C03756E6B,"
    r"UID=uid1+CN=\ #sp \C3\A9\ ,emailAddress=a@b.c,O=Ex\, Inc. \+\"q\"\;\<x\>\\=,C=DE"
)
SPOOFS = (
    ("X-SSL-Client-Verify", "SUCCESS"),
    ("x-ssl-client-verify", "SUCCESS"),
    ("X-SSL-CLIENT-DN", "CN=admin"),
    ("X-Ssl-Issuer", "CN=evil CA"),
    ("X-SSL-Client-Serial", "01"),
    ("X-SSL-Client-Cert", "forged"),
    ("X_SSL_Client_Verify", "SUCCESS"),
)


# -- a client that speaks raw HTTP/1.1 over Python's ssl --------------------------------


@dataclass(frozen=True)
class Reply:
    raw: bytes
    status: int
    head: str
    body: bytes
    echoed: dict[str, str] = field(default_factory=dict)  # what the backend received

    @property
    def title(self) -> str | None:
        match = re.search(rb"<title>(.*?)</title>", self.body)
        return match.group(1).decode() if match else None

    @property
    def verify(self) -> str | None:
        return self.echoed.get("X-SSL-Client-Verify")

    def masked(self) -> bytes:
        return re.sub(rb"Date: [^\r]*", b"Date: *", self.raw)


@dataclass(frozen=True)
class Client:
    server_ca: Path
    identities: dict[str, tuple[Path, Path]]  # role -> (cert chain, key)

    def request(
        self,
        port: int,
        role: str = NO_CERT,
        *,
        tls: str = "TLSv1.3",
        sni: str | None = "localhost",
        host: str | None = "localhost",
        headers: Sequence[tuple[str, str]] = (),
        path: str = "/anything",
        raw: bytes | None = None,
    ) -> Reply:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(self.server_ca)
        context.check_hostname = False  # SNI stays whatever the test asks for
        context.minimum_version = context.maximum_version = ssl.TLSVersion[tls.replace(".", "_")]
        if role != NO_CERT:
            cert, key = self.identities[role]
            context.load_cert_chain(cert, key)
        if raw is None:
            lines = [f"GET {path} HTTP/1.1"]
            lines += [f"Host: {host}"] if host is not None else []
            lines += ["Connection: close", *(f"{k}: {v}" for k, v in headers)]
            raw = ("\r\n".join(lines) + "\r\n\r\n").encode()
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as sock,
            context.wrap_socket(sock, server_hostname=sni) as tls_sock,
        ):
            tls_sock.sendall(raw)
            data = _read_to_eof(tls_sock)
        return parse(data)


def _read_to_eof(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def parse(data: bytes) -> Reply:
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    text = head.decode("latin-1")
    echoed: dict[str, str] = {}
    if "application/json" in text:
        document = json.loads(body)
        if isinstance(document, dict):
            echoed = document["headers"]
    return Reply(data, status, text, body, echoed)


# -- certificates -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    return create_kit(tmp_path_factory.mktemp("reference") / "kit")


@pytest.fixture(scope="module")
def client(kit: Kit) -> Client:
    ids = {role: (c.cert, c.key) for role, c in kit.clients.items()}
    return Client(kit.server_ca, ids)


@dataclass(frozen=True)
class Extras:
    """A second small PKI for format details the kit does not exercise."""

    directory: Path
    truststore: Path
    server_cert: Path
    server_key: Path
    client: Client


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _cert(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    serial: int | None = None,
    eku: x509.ObjectIdentifier = ExtendedKeyUsageOID.CLIENT_AUTH,
    dns: Sequence[str] = (),
) -> x509.Certificate:
    now = datetime.now(UTC)
    signer_name, signer_key = (issuer[0].subject, issuer[1]) if issuer else (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(signer_name)
        .public_key(key.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
    if dns:
        names = [x509.DNSName(name) for name in dns]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(signer_key, hashes.SHA256())


def _write(directory: Path, name: str, cert: x509.Certificate, key: Any) -> tuple[Path, Path]:
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@pytest.fixture(scope="module")
def extras(tmp_path_factory: pytest.TempPathFactory) -> Extras:
    directory = tmp_path_factory.mktemp("extras")
    ca_key = _key()
    ca = _cert(_name("Extras CA"), ca_key, None, ca=True)
    ca_path, _ = _write(directory, "ca", ca, ca_key)
    server_key = _key()
    server = _cert(
        _name("localhost"),
        server_key,
        (ca, ca_key),
        eku=ExtendedKeyUsageOID.SERVER_AUTH,
        dns=("localhost", "dlb.example.test"),
    )
    server_paths = _write(directory, "server", server, server_key)

    rdn = x509.RelativeDistinguishedName
    attr = x509.NameAttribute
    tricky = x509.Name(
        [
            rdn([attr(NameOID.COUNTRY_NAME, "DE")]),
            rdn([attr(NameOID.ORGANIZATION_NAME, 'Ex, Inc. +"q";<x>\\=')]),
            rdn([attr(NameOID.EMAIL_ADDRESS, "a@b.c")]),
            rdn([attr(NameOID.COMMON_NAME, " #sp é "), attr(NameOID.USER_ID, "uid1")]),
            rdn([attr(x509.ObjectIdentifier("1.2.3.4.5"), "unk")]),
            rdn([attr(NameOID.DOMAIN_COMPONENT, "example")]),
            rdn([attr(NameOID.LOCALITY_NAME, "tab\there\x7fdel")]),
            rdn([attr(NameOID.ORGANIZATIONAL_UNIT_NAME, "#lead")]),
        ]
    )
    ids: dict[str, tuple[Path, Path]] = {}
    for role, subject, serial in (
        ("tricky", tricky, None),
        ("serial-0a1b2c", _name("serial-0a1b2c"), 0x0A1B2C),
        ("serial-80ff", _name("serial-80ff"), 0x80FF),
        ("serial-1", _name("serial-1"), 1),
    ):
        key = _key()
        ids[role] = _write(directory, role, _cert(subject, key, (ca, ca_key), serial=serial), key)
    return Extras(directory, ca_path, *server_paths, Client(ca_path, ids))


# -- the reference under test -----------------------------------------------------------


def listeners_for(kit: Kit, **overrides: Any) -> dict[str, ListenerConfig]:
    mandatory = ListenerConfig(
        mode="mandatory",
        server_cert=kit.server_cert,
        server_key=kit.server_key,
        truststore=kit.truststore,
        crl=kit.crl,
        **overrides,
    )
    return {
        "mandatory": mandatory,
        "optional": replace(mandatory, mode="optional"),
        "plain-optional": replace(mandatory, mode="optional", forward_invalid=False),
        "optional-no-crl": replace(mandatory, mode="optional", crl=None),
    }


@pytest.fixture(scope="module")
def dlb(kit: Kit) -> Iterator[ReferenceDLB]:
    with ReferenceDLB(list(listeners_for(kit).values())) as server:
        yield server


LISTENER_INDEX = {"mandatory": 0, "optional": 1, "plain-optional": 2, "optional-no-crl": 3}


def port_of(dlb: ReferenceDLB, listener: str) -> int:
    return dlb.port(LISTENER_INDEX[listener])


# -- DESIGN.md's reference table: every row, both modes, TLS 1.2 and 1.3 ----------------

TLS_VERSIONS = ("TLSv1.2", "TLSv1.3")


def expected(listener: str, case: str) -> tuple[int, str | None, str | None]:
    """(status, page title, X-SSL-Client-Verify) measured on nginx with the kit's CRL."""
    if case == NO_CERT:
        return (400, NO_CERT_TITLE, None) if listener == "mandatory" else (200, None, "NONE")
    if case in TRUSTED:
        return 200, None, "SUCCESS"
    if listener == "optional-no-crl":
        if case == "revoked":
            return 200, None, "SUCCESS"
        if case == "self-signed-untrusted":
            return 200, None, "FAILED:self-signed certificate"
    if listener in ("mandatory", "plain-optional"):
        return 400, CERT_ERROR_TITLE, None
    return 200, None, FAILED_WITH_CRL[case]


@pytest.mark.parametrize("tls", TLS_VERSIONS)
@pytest.mark.parametrize("listener", list(LISTENER_INDEX))
@pytest.mark.parametrize("case", CASES)
def test_reference_table(
    dlb: ReferenceDLB, client: Client, case: str, listener: str, tls: str
) -> None:
    """Each certificate case gets nginx's status, page title and X-SSL-Client-Verify."""
    reply = client.request(port_of(dlb, listener), case, tls=tls)
    assert (reply.status, reply.title, reply.verify) == expected(listener, case)


@pytest.mark.parametrize(
    ("listener", "case", "page"),
    [
        ("mandatory", NO_CERT, NGINX_NO_CERT_PAGE),
        ("mandatory", "expired", NGINX_CERT_ERROR_PAGE),
        ("plain-optional", "untrusted", NGINX_CERT_ERROR_PAGE),
    ],
)
def test_refusal_pages_are_nginx_bytes(
    dlb: ReferenceDLB, client: Client, listener: str, case: str, page: bytes
) -> None:
    """A refusal is nginx's response byte for byte, Server, Connection: close and all."""
    assert client.request(port_of(dlb, listener), case).masked() == page


# -- identity headers -------------------------------------------------------------------


def test_identity_headers_in_nginx_formats(dlb: ReferenceDLB, client: Client, kit: Kit) -> None:
    """DN and issuer are RFC 2253 as nginx prints them, the serial uppercase hex."""
    reply = client.request(port_of(dlb, "optional"), "intermediate-signed")
    leaf = x509.load_pem_x509_certificate(kit.client("intermediate-signed").cert.read_bytes())
    assert reply.echoed["X-SSL-Client-DN"] == kit.client("intermediate-signed").subject
    assert reply.echoed["X-SSL-Issuer"] == kit.client("intermediate-signed").issuer
    digits = format(leaf.serial_number, "X")
    assert reply.echoed["X-SSL-Client-Serial"] == digits.zfill(len(digits) + len(digits) % 2)
    assert "X-SSL-Client-Cert" not in reply.echoed


def test_failed_certificate_still_describes_the_client(dlb: ReferenceDLB, client: Client) -> None:
    """A forwarded invalid certificate still carries its DN, issuer and serial, like nginx."""
    reply = client.request(port_of(dlb, "optional"), "expired")
    assert reply.verify == "FAILED:certificate has expired"
    assert reply.echoed["X-SSL-Client-DN"].startswith("CN=expired")
    assert {"X-SSL-Issuer", "X-SSL-Client-Serial"} <= reply.echoed.keys()


def test_empty_identity_headers_are_omitted(dlb: ReferenceDLB, client: Client) -> None:
    """Without a certificate only X-SSL-Client-Verify: NONE goes upstream (nginx omits "")."""
    reply = client.request(port_of(dlb, "optional"))
    assert {k: v for k, v in reply.echoed.items() if k.lower().startswith("x-ssl")} == {
        "X-SSL-Client-Verify": "NONE"
    }


@pytest.fixture(scope="module")
def extras_dlb(extras: Extras) -> Iterator[ReferenceDLB]:
    config = ListenerConfig(
        mode="optional",
        server_cert=extras.server_cert,
        server_key=extras.server_key,
        truststore=extras.truststore,
        forward_client_cert=True,
    )
    with ReferenceDLB([config]) as server:
        yield server


def test_dn_escaping_matches_nginx(extras_dlb: ReferenceDLB, extras: Extras) -> None:
    """Specials, leading '#', edge spaces, UTF-8, controls, multi-valued RDNs, unknown OIDs."""
    reply = extras.client.request(extras_dlb.port(0), "tricky")
    assert reply.verify == "SUCCESS"
    assert reply.echoed["X-SSL-Client-DN"] == TRICKY_DN
    assert reply.echoed["X-SSL-Issuer"] == "CN=Extras CA"


@pytest.mark.parametrize(
    ("role", "serial"), [("serial-0a1b2c", "0A1B2C"), ("serial-80ff", "80FF"), ("serial-1", "01")]
)
def test_serial_keeps_the_leading_zero(
    extras_dlb: ReferenceDLB, extras: Extras, role: str, serial: str
) -> None:
    """$ssl_client_serial prints whole bytes: 0x0A1B2C is 0A1B2C, 1 is 01, no sign byte."""
    reply = extras.client.request(extras_dlb.port(0), role)
    assert reply.echoed["X-SSL-Client-Serial"] == serial


def test_client_cert_forwarded_url_escaped_when_enabled(
    extras_dlb: ReferenceDLB, extras: Extras
) -> None:
    """forward_client_cert sends $ssl_client_escaped_cert: the PEM, URL-escaped."""
    reply = extras.client.request(extras_dlb.port(0), "serial-1")
    escaped = reply.echoed["X-SSL-Client-Cert"]
    assert escaped.startswith("-----BEGIN%20CERTIFICATE-----%0AMII")
    assert escaped.endswith("%0A-----END%20CERTIFICATE-----%0A")
    assert not set(escaped) & set("/+= \n")


def test_rfc2253_and_serial_helpers_match_openssl(extras: Extras) -> None:
    """The Python port of X509_NAME_print_ex agrees with `openssl x509 -nameopt RFC2253`."""
    path = extras.directory / "tricky.pem"
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    shown = subprocess.run(
        ["openssl", "x509", "-noout", "-subject", "-serial", "-nameopt", "RFC2253", "-in", path],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert shown[0] == f"subject={rfc2253(cert.subject)}" == f"subject={TRICKY_DN}"
    assert shown[1] == f"serial={serial_hex(cert)}"


# -- spoofed identity headers -----------------------------------------------------------


@pytest.mark.parametrize(
    ("listener", "case"),
    [
        ("optional", NO_CERT),
        ("optional", "ca-signed"),
        ("optional", "expired"),
        ("mandatory", "ca-signed"),
    ],
)
def test_client_copies_of_identity_headers_never_reach_the_backend(
    dlb: ReferenceDLB, client: Client, listener: str, case: str
) -> None:
    """X-SSL-* sent by the client, in any case, repeated or with underscores, are dropped."""
    headers = [*SPOOFS, ("X-Other", "kept")]
    reply = client.request(port_of(dlb, listener), case, headers=headers)
    assert reply.status == 200
    echoed = {k.lower(): v for k, v in reply.echoed.items()}
    assert echoed["x-other"] == "kept"
    assert not any("_" in name for name in echoed)
    assert "CN=admin" not in echoed.get("x-ssl-client-dn", "")
    assert echoed.get("x-ssl-issuer") != "CN=evil CA"
    assert "x-ssl-client-cert" not in echoed
    assert echoed["x-ssl-client-verify"] == expected(listener, case)[2]


# -- SNI versus Host --------------------------------------------------------------------


@pytest.mark.parametrize("listener", ["mandatory", "optional"])
@pytest.mark.parametrize("case", [NO_CERT, "ca-signed"])
def test_host_other_than_sni_is_misdirected(
    dlb: ReferenceDLB, client: Client, listener: str, case: str
) -> None:
    """SNI localhost with Host elsewhere is nginx's 421, before any certificate check."""
    reply = client.request(port_of(dlb, listener), case, sni="localhost", host="dlb.example")
    assert reply.masked() == NGINX_421_PAGE


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST", "localhost:8443", "localhost."])
def test_host_matching_sni_after_normalisation_is_served(
    dlb: ReferenceDLB, client: Client, host: str
) -> None:
    """nginx compares the host case-insensitively, without port or trailing dot."""
    assert client.request(port_of(dlb, "mandatory"), "ca-signed", host=host).status == 200


@pytest.mark.parametrize(
    ("sni", "host", "status"),
    [
        (None, "dlb.example", 200),  # no SNI: nothing to compare
        ("unknown.example", "dlb.example", 200),  # SNI names no server of ours
        ("localhost", None, 421),  # HTTP/1.1 without Host: 421 wins over its 400
        (None, None, 400),
    ],
)
def test_sni_host_edge_cases(
    dlb: ReferenceDLB, client: Client, sni: str | None, host: str | None, status: int
) -> None:
    """421 needs an SNI naming one of our server names; a missing Host counts as different."""
    reply = client.request(port_of(dlb, "mandatory"), "ca-signed", sni=sni, host=host)
    assert reply.status == status


def test_absolute_form_target_host_wins_over_host_header(dlb: ReferenceDLB, client: Client) -> None:
    """Like nginx, `GET https://other/...` is checked against SNI, not the Host header."""
    raw = b"GET https://dlb.example/anything HTTP/1.1\r\nHost: localhost\r\n\r\n"
    assert client.request(port_of(dlb, "optional"), "ca-signed", raw=raw).status == 421


# -- CRL, TLS versions, CA names --------------------------------------------------------


def test_revoked_rejected_only_with_the_crl(dlb: ReferenceDLB, client: Client) -> None:
    """The revoked role is a 400 once the CRL is loaded, and accepted without it."""
    assert client.request(port_of(dlb, "mandatory"), "revoked").title == CERT_ERROR_TITLE
    assert client.request(port_of(dlb, "optional-no-crl"), "revoked").verify == "SUCCESS"


def test_tls_range_is_configurable(kit: Kit, client: Client) -> None:
    """max_tls TLSv1.2 refuses a TLS 1.3-only client and serves TLS 1.2."""
    config = listeners_for(kit, max_tls="TLSv1.2")["mandatory"]
    with ReferenceDLB([config]) as server:
        assert client.request(server.port(0), "ca-signed", tls="TLSv1.2").status == 200
        with pytest.raises(ssl.SSLError):
            client.request(server.port(0), "ca-signed", tls="TLSv1.3")


@pytest.mark.parametrize("tls", [SSL.TLS1_2_VERSION, SSL.TLS1_3_VERSION])
def test_certificate_request_names_the_truststore_subjects(
    dlb: ReferenceDLB, kit: Kit, tls: int
) -> None:
    """The CertificateRequest names the truststore's subjects, in file order."""
    context = SSL.Context(SSL.TLS_METHOD)
    context.set_min_proto_version(tls)
    context.set_max_proto_version(tls)
    with socket.create_connection(("127.0.0.1", port_of(dlb, "mandatory")), timeout=5) as sock:
        sock.settimeout(None)  # pyOpenSSL wants a blocking socket
        connection = SSL.Connection(context, sock)
        connection.set_connect_state()
        connection.set_tlsext_host_name(b"localhost")
        connection.do_handshake()
        offered = [name.der() for name in connection.get_client_ca_list()]
    pem = kit.truststore.read_bytes()
    subjects = [c.subject.public_bytes() for c in x509.load_pem_x509_certificates(pem)]
    assert offered == subjects


@pytest.mark.parametrize("tls_max", ["1.2", "1.3"])
def test_curl_sees_the_same_answers(dlb: ReferenceDLB, kit: Kit, tls_max: str) -> None:
    """curl gets the 400 page on Mandatory and FAILED:<reason> through Optional."""

    def curl(listener: str, role: str | None) -> str:
        words = ["curl", "-sS", "--tls-max", tls_max, "--cacert", str(kit.server_ca)]
        if role:
            words += ["--cert", str(kit.client(role).cert), "--key", str(kit.client(role).key)]
        url = f"https://localhost:{port_of(dlb, listener)}/anything"
        return subprocess.run([*words, url], capture_output=True, text=True, check=True).stdout

    assert f"<title>{NO_CERT_TITLE}</title>" in curl("mandatory", None)
    echoed = json.loads(curl("optional", "not-yet-valid"))["headers"]
    assert echoed["X-SSL-Client-Verify"] == "FAILED:certificate is not yet valid"


# -- the echo backend and the proxying --------------------------------------------------


def test_echo_backend_answers_httpbin_style_and_products(dlb: ReferenceDLB, client: Client) -> None:
    """/anything echoes method, path, args, headers and body; other paths list products."""
    raw = (
        b"POST /anything/x?a=1 HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    )
    reply = client.request(port_of(dlb, "optional"), "ca-signed", raw=raw)
    document = json.loads(reply.body)
    assert (document["method"], document["path"]) == ("POST", "/anything/x")
    assert document["args"] == {"a": ["1"]}
    assert document["body"] == "hello"
    assert document["headers"]["Content-Length"] == "5"
    assert "Transfer-Encoding" not in document["headers"]
    products = client.request(port_of(dlb, "optional"), path="/dev-portal-xapi/products")
    assert [p["id"] for p in json.loads(products.body)] == ["P-1001", "P-1002", "P-1003"]


def test_keep_alive_request_gets_connection_close(dlb: ReferenceDLB, client: Client) -> None:
    """A keep-alive request is answered with Connection: close and the socket closes."""
    raw = b"GET /anything HTTP/1.1\r\nHost: localhost\r\n\r\n"
    reply = client.request(port_of(dlb, "optional"), raw=raw)
    assert reply.status == 200
    assert "\r\nConnection: close" in reply.head


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"HELLO\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: localhost\r\nHost: localhost\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: localhost\r\nX-A: " + b"a" * 9000 + b"\r\n\r\n", 400),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n", 414),
        (b"GET / HTTP/2.0\r\nHost: localhost\r\n\r\n", 505),
    ],
)
def test_malformed_requests_get_nginx_statuses(
    dlb: ReferenceDLB, client: Client, raw: bytes, status: int
) -> None:
    """Requests nginx refuses are refused with the same status, before certificate checks."""
    assert client.request(port_of(dlb, "mandatory"), raw=raw).status == status


@pytest.mark.parametrize(
    ("raw", "host"),
    [
        ("LocalHost:443", "localhost"),
        ("localhost.", "localhost"),
        ("[::1]:8443", "[::1]"),
        ("a..b", None),
        ("", None),
        ("x/y", None),
    ],
)
def test_validate_host_like_nginx(raw: str, host: str | None) -> None:
    """ngx_http_validate_host: lower-case, port and trailing dot dropped, '..' and '/' refused."""
    assert validate_host(raw) == host


# -- misconfigurations: each flag flips exactly its own behaviour ------------------------

PROBES = ("no-cert", "ca-signed", "expired", "spoof", "sni-mismatch", "verify-header")


def fingerprint(server: ReferenceDLB, client: Client) -> dict[str, Any]:
    """The observable answers the negative controls compare, per listener."""
    result: dict[str, Any] = {}
    for index, config in enumerate(server.configs):
        port = server.port(index)
        spoofed = client.request(port, "ca-signed", headers=[("X-SSL-Client-DN", "CN=admin")])
        for probe, reply in (
            ("no-cert", client.request(port)),
            ("ca-signed", client.request(port, "ca-signed")),
            ("expired", client.request(port, "expired")),
            ("sni-mismatch", client.request(port, "ca-signed", host="dlb.example")),
        ):
            result[f"{config.mode}/{probe}"] = (reply.status, reply.title, reply.verify)
        result[f"{config.mode}/spoof"] = "CN=admin" in spoofed.echoed.get("X-SSL-Client-DN", "")
        result[f"{config.mode}/verify-header"] = "X-SSL-Client-Verify" in spoofed.echoed
    return result


@pytest.fixture(scope="module")
def baseline(kit: Kit, client: Client) -> dict[str, Any]:
    configs = listeners_for(kit)
    with ReferenceDLB([configs["mandatory"], configs["optional"]]) as server:
        return fingerprint(server, client)


MISCONFIGURATIONS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "mandatory_behaves_optional": (
        {"mandatory_behaves_optional": True},
        {
            "mandatory/no-cert": (200, None, "NONE"),
            "mandatory/expired": (200, None, "FAILED:certificate has expired"),
        },
    ),
    "pass_client_identity_headers": (
        {"pass_client_identity_headers": True},
        {"mandatory/spoof": True, "optional/spoof": True},
    ),
    "forward_verify_header": (
        {"forward_verify_header": False},
        {
            "mandatory/ca-signed": (200, None, None),
            "optional/no-cert": (200, None, None),
            "optional/ca-signed": (200, None, None),
            "optional/expired": (200, None, None),
            "mandatory/verify-header": False,
            "optional/verify-header": False,
        },
    ),
    "ignore_sni_host_mismatch": (
        {"ignore_sni_host_mismatch": True},
        {
            "mandatory/sni-mismatch": (200, None, "SUCCESS"),
            "optional/sni-mismatch": (200, None, "SUCCESS"),
        },
    ),
    "swallow_errors": (
        {"swallow_errors": True},
        {"mandatory/expired": (200, None, "FAILED:certificate has expired")},
    ),
}


@pytest.mark.parametrize("flag", list(MISCONFIGURATIONS))
def test_each_misconfiguration_changes_only_its_own_behaviour(
    kit: Kit, client: Client, baseline: dict[str, Any], flag: str
) -> None:
    """A negative control differs from the correct DLB in exactly the answers it should."""
    overrides, changes = MISCONFIGURATIONS[flag]
    configs = listeners_for(kit, **overrides)
    with ReferenceDLB([configs["mandatory"], configs["optional"]]) as server:
        observed = fingerprint(server, client)
    assert observed.keys() == baseline.keys()
    assert {k: v for k, v in observed.items() if v != baseline[k]} == changes


# -- lifecycle --------------------------------------------------------------------------


def test_start_twice_is_an_error(kit: Kit) -> None:
    """A ReferenceDLB starts once, like pytest-httpserver's server."""
    server = ReferenceDLB([listeners_for(kit)["mandatory"]])
    server.start()
    try:
        with pytest.raises(ReferenceServerError, match="already started"):
            server.start()
    finally:
        server.stop()


def test_ports_are_os_chosen_and_distinct(kit: Kit) -> None:
    """Every listener of every instance gets its own port; none is fixed."""
    configs = list(listeners_for(kit).values())
    with ReferenceDLB(configs) as one, ReferenceDLB(configs) as two:
        ports = [s.port(i) for s in (one, two) for i in range(len(configs))]
        ports += [one.backend_address[1], two.backend_address[1]]
    assert len(set(ports)) == len(ports)


def test_port_lookup_by_mode_and_index(dlb: ReferenceDLB) -> None:
    """port() takes a mode (its first listener) or an index; url() builds on it."""
    assert dlb.port("mandatory") == dlb.port(0)
    assert dlb.port("optional") == dlb.port(1)
    assert dlb.url("optional", "/anything") == f"https://127.0.0.1:{dlb.port(1)}/anything"
    assert dlb.echo_path == "/anything"
    with pytest.raises(IndexError):
        dlb.port(9)


def test_port_before_start_is_an_error(kit: Kit) -> None:
    """Asking for a port of a server that is not running says so."""
    with pytest.raises(ReferenceServerError, match="not running"):
        ReferenceDLB([listeners_for(kit)["mandatory"]]).port(0)


def test_start_is_cheap_and_stop_joins_every_thread(kit: Kit, client: Client) -> None:
    """start() takes milliseconds; after stop() no server thread is left."""
    server = ReferenceDLB(list(listeners_for(kit).values()))
    before = set(threading.enumerate())
    began = time.perf_counter()
    server.start()
    elapsed = time.perf_counter() - began
    assert len(set(threading.enumerate()) - before) == 1 + len(server.configs)
    client.request(server.port(0), "ca-signed")
    server.stop()
    assert elapsed < 0.25, f"start took {elapsed * 1000:.0f} ms"
    assert set(threading.enumerate()) - before == set()


def test_stop_cuts_idle_connections(kit: Kit) -> None:
    """A client that connects and says nothing does not keep stop() waiting."""
    with ReferenceDLB([listeners_for(kit)["mandatory"]]) as server:
        idle = socket.create_connection(("127.0.0.1", server.port(0)))
        time.sleep(0.05)
        began = time.perf_counter()
    assert time.perf_counter() - began < 1
    idle.close()


def test_idle_client_times_out(kit: Kit) -> None:
    """The server hangs up on a client that stays silent past the timeout."""
    with ReferenceDLB([listeners_for(kit)["mandatory"]], timeout=0.2) as server:
        idle = socket.create_connection(("127.0.0.1", server.port(0)), timeout=5)
        with idle:
            assert idle.recv(1) == b""


def test_errors_in_server_threads_are_raised_on_stop(
    kit: Kit, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug inside a connection thread is not swallowed: stop() raises it."""

    def broken(*args: object) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(listener_module, "serve_connection", broken)
    server = ReferenceDLB([listeners_for(kit)["mandatory"]])
    server.start()
    with socket.create_connection(("127.0.0.1", server.port(0)), timeout=5) as sock:
        assert sock.recv(1) == b""  # the worker failed and hung up
    with pytest.raises(ReferenceServerError, match="boom") as raised:
        server.stop()
    assert isinstance(raised.value.__cause__, ZeroDivisionError)


def test_plain_http_on_the_tls_port_gets_nginx_497_page(dlb: ReferenceDLB) -> None:
    """Plain HTTP gets "400 The plain HTTP request was sent to HTTPS port", as nginx sends."""
    with socket.create_connection(("127.0.0.1", port_of(dlb, "mandatory")), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = parse(_read_to_eof(sock))
    assert (reply.status, reply.title) == (400, "400 The plain HTTP request was sent to HTTPS port")
    assert "Content-Length: 248" in reply.head


def test_client_misbehaviour_is_not_a_server_error(kit: Kit) -> None:
    """Plain HTTP on the TLS port, or a hang-up mid-handshake, is routine: stop() is quiet."""
    with ReferenceDLB([listeners_for(kit)["mandatory"]]) as server:
        with socket.create_connection(("127.0.0.1", server.port(0)), timeout=5) as sock:
            sock.sendall(b"\x16\x03\x01\x00\x05hello")
        socket.create_connection(("127.0.0.1", server.port(0))).close()
        with socket.create_connection(("127.0.0.1", server.port(0)), timeout=5) as sock:
            sock.sendall(b"GARBAGE\r\n\r\n")
            assert b"400 Bad Request" in _read_to_eof(sock)
        time.sleep(0.05)
    assert server.errors == []


def test_exception_in_the_with_block_is_not_masked(kit: Kit) -> None:
    """Leaving the context manager with an error stops the server and keeps that error."""
    with pytest.raises(KeyError), ReferenceDLB([listeners_for(kit)["mandatory"]]):
        raise KeyError("mine")


def test_many_concurrent_clients(dlb: ReferenceDLB, client: Client) -> None:
    """Forty simultaneous connections are all answered."""
    with ThreadPoolExecutor(max_workers=40) as pool:
        replies = list(
            pool.map(lambda _: client.request(port_of(dlb, "optional"), "ca-signed"), range(40))
        )
    assert {r.verify for r in replies} == {"SUCCESS"}


def test_bad_files_are_one_line_input_errors(kit: Kit, tmp_path: Path) -> None:
    """A missing truststore or CRL is an InputError naming the file, raised by start()."""
    config = listeners_for(kit)["mandatory"]
    for broken in (
        replace(config, truststore=tmp_path / "nope.pem"),
        replace(config, crl=tmp_path / "nope.pem"),
    ):
        with pytest.raises(InputError, match=r"nope\.pem"):
            ReferenceDLB([broken]).start()
    with pytest.raises(InputError, match="min_tls"):
        replace(config, min_tls="TLSv1.3", max_tls="TLSv1.2")


# -- mtls-conformance serve ---------------------------------------------------------------


def test_serve_prints_urls_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    """serve makes a kit, prints both URLs and curl lines, and Ctrl-C ends it in one line."""
    kit_dir = tmp_path / "kit"
    process = subprocess.Popen(
        [sys.executable, "-m", "mtls_conformance", "serve", "--certs", str(kit_dir)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]
        deadline = time.monotonic() + 20
        while "Ctrl-C stops." not in lines[-1] and time.monotonic() < deadline:
            lines.append(process.stdout.readline())
        mandatory = re.search(r"Mandatory\s+https://localhost:(\d+)/", "".join(lines))
        assert mandatory is not None
        curl_lines = [line for line in lines if line.startswith("curl ")]
        assert any("--cert" in line and "ca-signed" in line for line in curl_lines)
        assert str(kit_dir / "server" / "ca.pem") in "".join(curl_lines)
        ids = {"ca-signed": (kit_dir / "clients/ca-signed.pem", kit_dir / "clients/ca-signed.key")}
        reply = Client(kit_dir / "server" / "ca.pem", ids).request(int(mandatory[1]), "ca-signed")
        assert reply.verify == "SUCCESS"
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=10)
    assert process.returncode == 130
    assert err.splitlines()[-1] == "mtls-conformance: interrupted"
    assert "Traceback" not in err
