"""The probe against real TLS servers on loopback: what it records, which alerts it names,
how it recovers a TLS 1.3 alert, when a target cannot be tested, and whose trust it uses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from tls_servers import (
    LOOPBACK,
    HttpsServer,
    OpensslServer,
    Page,
    PlainHttpServer,
    ScriptedTLSServer,
    SilentListener,
    Step,
    closed_port,
)
from urllib3.exceptions import InsecureRequestWarning

from mtls_conformance.errors import TargetUnreachable
from mtls_conformance.kit import Kit, create_kit
from mtls_conformance.preflight import ensure_testable
from mtls_conformance.probe import ClientCert, probe
from mtls_conformance.target import Target, TlsVersion

pytestmark = pytest.mark.selftest

DLB_HOST = "dlb.example.test"  # .test never resolves (RFC 2606): only connect_to reaches it
SHORT = 0.5  # Target.timeout where the test waits for nothing to happen

PAGES = {
    "/denied": Page(403, "<html><head><title>403  Forbidden\n</title></head><body>x</body></html>"),
    "/plain": Page(200, "hello, no title here", "text/plain"),
    "/bad-request": Page(400, "<html><head><title>400 Bad Request</title></head></html>"),
    "/echo-list": Page(
        200,
        json.dumps(
            {
                "headers": {
                    "X-Forwarded-For": ["10.0.0.1", "10.0.0.2"],
                    "X-SSL-Client-Verify": "SUCCESS",
                    "x-ssl-client-verify": "FAILED:forged",
                }
            }
        ),
        "application/json",
    ),
    "/json-without-headers": Page(200, '{"args": {}}', "application/json"),
}


@dataclass(frozen=True)
class ServerCerts:
    """A server certificate, its key, and the CA that signed it (PEM files)."""

    ca: Path
    cert: Path
    key: Path


def issue_server_certs(directory: Path, *names: str) -> ServerCerts:
    ca = trustme.CA()
    leaf = ca.issue_cert(*names)
    certs = ServerCerts(directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
    ca.cert_pem.write_to_path(str(certs.ca))
    leaf.cert_chain_pems[0].write_to_path(str(certs.cert))
    leaf.private_key_pem.write_to_path(str(certs.key))
    return certs


@pytest.fixture(scope="session")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    """Client roles, their truststore, and a localhost server certificate under its own CA."""
    return create_kit(tmp_path_factory.mktemp("probe-kit") / "certs")


@pytest.fixture(scope="session")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> ServerCerts:
    """A localhost server certificate signed by a CA the user did not name."""
    return issue_server_certs(tmp_path_factory.mktemp("stranger"), "localhost", LOOPBACK)


@pytest.fixture(scope="session")
def dlb_certs(tmp_path_factory: pytest.TempPathFactory) -> ServerCerts:
    """A server certificate for dlb.example.test only (not for localhost or 127.0.0.1)."""
    return issue_server_certs(tmp_path_factory.mktemp("dlb"), DLB_HOST)


@pytest.fixture
def https(kit: Kit) -> Iterator[HttpsServer]:
    """The kit's localhost server, asking (optionally) for a client cert of the truststore."""
    with HttpsServer(kit.server_cert, kit.server_key, client_ca=kit.truststore, pages=PAGES) as s:
        yield s


def local(
    kit: Kit,
    port: int,
    *,
    server_ca: Path | None = None,
    insecure: bool = False,
    timeout: float = 5.0,
    tls_version: TlsVersion | None = None,
) -> Target:
    """localhost:port, its server certificate checked against the kit's server CA."""
    return Target(
        host="localhost",
        port=port,
        server_ca=server_ca or kit.server_ca,
        insecure=insecure,
        timeout=timeout,
        tls_version=tls_version,
    )


def client(kit: Kit, role: str) -> ClientCert:
    identity = kit.client(role)
    return identity.cert, identity.key


def der(pem: Path) -> bytes:
    return x509.load_pem_x509_certificate(pem.read_bytes()).public_bytes(Encoding.DER)


def unreachable(target: Target) -> str:
    """The message preflight stops the run with for `target` (fails if it does not stop)."""
    with pytest.raises(TargetUnreachable) as raised:
        ensure_testable(target, "/")
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"{target.host}:{target.port} -> ")
    return message


# -- 1. the HTTP outcome -------------------------------------------------------------------


def test_http_outcome_records_status_body_and_page_title(kit: Kit, https: HttpsServer) -> None:
    """A response's status, body and whitespace-normalised <title> are recorded as sent."""
    outcome = probe(local(kit, https.port), "/denied")
    assert outcome.kind == "http"
    assert outcome.status == 403
    assert outcome.body == PAGES["/denied"].body
    assert outcome.page_title == "403 Forbidden"
    assert outcome.response_headers["Content-Type"] == "text/html"
    untitled = probe(local(kit, https.port), "/plain")
    assert (untitled.status, untitled.body) == (200, "hello, no title here")
    assert untitled.page_title is None


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_tls_version_is_the_one_pinned_and_negotiated(
    kit: Kit, https: HttpsServer, version: TlsVersion
) -> None:
    """With Target.tls_version the handshake uses exactly that version, and the outcome says so."""
    outcome = probe(local(kit, https.port, tls_version=version), "/plain")
    assert outcome.kind == "http"
    assert outcome.tls_version == version
    assert [seen.tls_version for seen in https.connections] == [version]


def test_tls_version_pin_is_not_negotiated_away(kit: Kit) -> None:
    """A TLS 1.3 pin against a TLS 1.2-only server fails the handshake instead of falling back."""
    with HttpsServer(kit.server_cert, kit.server_key, tls_version="1.2", pages=PAGES) as server:
        assert probe(local(kit, server.port, tls_version="1.2"), "/plain").tls_version == "1.2"
        outcome = probe(local(kit, server.port, tls_version="1.3"), "/plain")
    assert outcome.kind == "alert"
    assert outcome.alert == "protocol_version"
    assert outcome.tls_version is None
    assert [seen.tls_version for seen in server.connections] == ["1.2", None]


def test_echoed_headers_are_what_the_backend_received(kit: Kit, https: HttpsServer) -> None:
    """An httpbin-style echo is parsed into lowercased names: Host, User-Agent, extra headers."""
    target = local(kit, https.port)
    outcome = probe(target, "/echo", headers={"X-Probe-Case": "Mixed Value"}, echo=True)
    assert outcome.kind == "http"
    assert outcome.echoed_headers is not None
    assert all(name == name.lower() for name in outcome.echoed_headers)
    assert outcome.echoed_headers["x-probe-case"] == "Mixed Value"
    assert outcome.echoed("X-PROBE-CASE") == "Mixed Value"
    assert outcome.echoed("host") == target.authority == f"localhost:{https.port}"
    assert outcome.echoed("user-agent") == "mtls-conformance"
    assert outcome.echoed("x-not-sent") is None


def test_echoed_list_values_and_case_variants_are_comma_joined(
    kit: Kit, https: HttpsServer
) -> None:
    """A list value, and the same name in two spellings, each read as one comma-joined value."""
    outcome = probe(local(kit, https.port), "/echo-list", echo=True)
    assert outcome.echoed_headers == {
        "x-forwarded-for": "10.0.0.1, 10.0.0.2",
        "x-ssl-client-verify": "SUCCESS, FAILED:forged",
    }


@pytest.mark.parametrize(
    ("path", "echo"),
    [("/echo", False), ("/denied", True), ("/json-without-headers", True)],
    ids=["echo-not-asked", "html-body", "json-without-headers"],
)
def test_no_echoed_headers_without_an_echo_body(
    kit: Kit, https: HttpsServer, path: str, echo: bool
) -> None:
    """echoed_headers is None unless asked for and the body is a {"headers": {...}} document."""
    outcome = probe(local(kit, https.port), path, echo=echo)
    assert outcome.kind == "http"
    assert outcome.echoed_headers is None
    assert outcome.echoed("host") is None


@pytest.mark.parametrize("host", ["localhost", LOOPBACK])
def test_host_header_and_sni_follow_the_target_host(
    kit: Kit, https: HttpsServer, host: str
) -> None:
    """The server gets exactly one Host header, target.authority, and SNI for a name (not an IP)."""
    target = Target(host=host, port=https.port, server_ca=kit.server_ca, timeout=5)
    assert probe(target, "/plain").kind == "http"
    [seen] = https.connections
    assert [request.values("Host") for request in seen.requests] == [[f"{host}:{https.port}"]]
    assert seen.sni == (None if host == LOOPBACK else host)


def test_every_probe_opens_a_fresh_connection(kit: Kit, https: HttpsServer) -> None:
    """N probes are N TLS connections of one request each; a pooled requests.Session is not."""
    for _ in range(3):
        assert probe(local(kit, https.port), "/plain").status == 200
    assert [len(seen.requests) for seen in https.connections] == [1, 1, 1]
    # Negative control: the server can tell reuse apart; plain requests keeps one connection.
    with requests.Session() as session:
        session.trust_env, session.verify = False, str(kit.server_ca)
        for _ in range(3):
            assert session.get(f"https://localhost:{https.port}/plain").status_code == 200
    assert [len(seen.requests) for seen in https.connections] == [1, 1, 1, 3]


def test_each_probe_is_verified_with_its_own_client_certificate(
    kit: Kit, https: HttpsServer
) -> None:
    """Consecutive probes with different client certs (or none) each present their own anew."""
    roles = ["ca-signed", "self-signed-trusted", None, "ca-signed"]
    for role in roles:
        cert = client(kit, role) if role else None
        assert probe(local(kit, https.port), "/plain", client_cert=cert).status == 200
    presented = [seen.peer_cert for seen in https.connections]
    assert presented == [der(kit.client(role).cert) if role else None for role in roles]
    assert presented[0] != presented[1]


# -- 2. alerts from openssl s_server -Verify 1 -verify_return_error --------------------------


@pytest.fixture(scope="module")
def s_server(kit: Kit) -> Iterator[OpensslServer]:
    """openssl s_server demanding a client certificate of the kit's truststore, TLS 1.2 and 1.3."""
    with OpensslServer(
        "-cert", str(kit.server_cert), "-key", str(kit.server_key),
        "-CAfile", str(kit.truststore), "-Verify", "1", "-verify_return_error",
    ) as server:  # fmt: skip
        yield server


# What s_server (OpenSSL 3.0) sends, measured: a missing certificate is handshake_failure in
# TLS 1.2 but certificate_required in TLS 1.3 (RFC 8446 4.4.2.4); the rest are the same.
ALERTS = [
    ("1.2", None, "handshake_failure"),
    ("1.3", None, "certificate_required"),
    ("1.2", "untrusted", "unknown_ca"),
    ("1.3", "untrusted", "unknown_ca"),
    ("1.2", "expired", "certificate_expired"),
    ("1.3", "expired", "certificate_expired"),
]


@pytest.mark.realserver
@pytest.mark.parametrize(("version", "role", "alert"), ALERTS)
def test_s_server_refusal_is_named_as_its_alert(
    kit: Kit, s_server: OpensslServer, version: TlsVersion, role: str | None, alert: str
) -> None:
    """A client cert refused inside TLS comes out as kind "alert" with the alert s_server sent."""
    cert = client(kit, role) if role else None
    outcome = probe(local(kit, s_server.port, tls_version=version), "/", client_cert=cert)
    assert (outcome.kind, outcome.alert) == ("alert", alert)
    # TLS 1.2 refuses inside the handshake; TLS 1.3 only after the client finished it.
    assert outcome.tls_version == (None if version == "1.2" else "1.3")


@pytest.mark.realserver
@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_s_server_accepts_a_trusted_client_certificate(
    kit: Kit, s_server: OpensslServer, version: TlsVersion
) -> None:
    """Negative control of the alerts: the same s_server answers HTTP 200 to a trusted cert."""
    target = local(kit, s_server.port, tls_version=version)
    outcome = probe(target, "/", client_cert=client(kit, "ca-signed"))
    assert (outcome.kind, outcome.status, outcome.alert) == ("http", 200, None)
    assert outcome.tls_version == version


@pytest.mark.realserver
@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_an_accepted_certificate_does_not_carry_over_to_the_next_probe(
    kit: Kit, s_server: OpensslServer, version: TlsVersion
) -> None:
    """Accepted, then refused, then accepted: no session or connection outlives its probe."""
    target = local(kit, s_server.port, tls_version=version)
    seen = [
        probe(target, "/", client_cert=client(kit, role) if role else None)
        for role in ("ca-signed", "expired", "ca-signed", None)
    ]
    assert [outcome.status or outcome.alert for outcome in seen] == [
        200,
        "certificate_expired",
        200,
        "handshake_failure" if version == "1.2" else "certificate_required",
    ]


# -- 3. recovering an alert that requests saw as a bare close --------------------------------


def scripted(kit: Kit, steps: list[Step], version: TlsVersion) -> ScriptedTLSServer:
    return ScriptedTLSServer(
        kit.server_cert, kit.server_key, kit.truststore, steps, tls_version=version
    )


@pytest.mark.parametrize("first", ["reset-after-request", "close-after-request"])
@pytest.mark.parametrize(
    ("version", "alert"), [("1.3", "certificate_required"), ("1.2", "handshake_failure")]
)
def test_alert_hidden_behind_a_bare_close_is_recovered(
    kit: Kit, first: Step, version: TlsVersion, alert: str
) -> None:
    """After a close with no alert, a reconnect that reads without writing gets the real alert."""
    with scripted(kit, [first, "refuse-without-cert"], version) as server:
        outcome = probe(local(kit, server.port, tls_version=version), "/")
    assert outcome.kind == "alert"
    assert outcome.alert == alert
    assert outcome.alert_recovered is True
    assert outcome.tls_version == (None if version == "1.2" else "1.3")
    assert "read after the connection seemed to close" in outcome.summary()
    requested, recovered = server.connections
    assert [request.path for request in requested.requests] == ["/"]
    assert recovered.requests == []  # the recovery connection wrote nothing
    assert recovered.error == "handshake: PEER_DID_NOT_RETURN_A_CERTIFICATE"


@pytest.mark.parametrize("then", ["reset-after-handshake", "silent-after-handshake"])
def test_close_without_any_alert_stays_a_close(kit: Kit, then: Step) -> None:
    """Negative control: a server that never sends an alert leaves an unrecovered EOF."""
    with scripted(kit, ["reset-after-request", then], "1.3") as server:
        outcome = probe(local(kit, server.port, timeout=SHORT), "/")
    assert outcome.kind == "eof"
    assert outcome.alert is None
    assert outcome.alert_recovered is False
    assert outcome.tls_version == "1.3"
    requested, recovery = server.connections
    assert len(requested.requests) == 1
    assert (recovery.requests, recovery.received) == ([], b"")  # the recovery only reads
    # The client hung up first: its recovery read is bounded by Target.timeout, not by the
    # server (which would note a TimeoutError after its own 10 s).
    assert recovery.error is None


@pytest.mark.parametrize(
    ("steps", "kind"),
    [
        (["close-after-request"], "eof"),
        (["reset-after-request"], "eof"),  # Python's ssl reads a RST after the handshake as EOF
        (["reset-before-handshake"], "reset"),
    ],
    ids=["fin-after-request", "rst-after-request", "rst-in-handshake"],
)
def test_close_and_reset_are_told_apart(kit: Kit, steps: list[Step], kind: str) -> None:
    """A close without a response is "eof"; only a reset the socket reports as one is "reset"."""
    with scripted(kit, steps, "1.3") as server:
        outcome = probe(local(kit, server.port, timeout=SHORT), "/")
    assert (outcome.kind, outcome.alert, outcome.alert_recovered) == (kind, None, False)
    assert len(server.connections) == 2  # the probe and its recovery attempt


# -- 4. targets that cannot be tested -------------------------------------------------------


def test_closed_port_is_refused() -> None:
    """A port nobody listens on is kind "refused", and preflight names host:port and the cause."""
    with closed_port() as sock:
        port = sock.getsockname()[1]
        target = Target(host=LOOPBACK, port=port, timeout=5)
        outcome = probe(target, "/")
        message = unreachable(target)
    assert outcome.kind == "refused"
    assert outcome.untestable
    assert message == f"{LOOPBACK}:{port} -> connection refused: nothing listens on port {port}"


def test_unresolvable_name_is_dns() -> None:
    """A name that cannot resolve is kind "dns", and preflight says so."""
    target = Target(host="nonexistent.invalid", port=443, timeout=5)
    assert probe(target, "/").kind == "dns"
    assert unreachable(target) == "nonexistent.invalid:443 -> the host name does not resolve"


def test_plain_http_port_is_not_tls(kit: Kit) -> None:
    """An HTTP server answering the ClientHello with text is kind "not-tls", not an HTTP 400."""
    with PlainHttpServer() as server:
        target = local(kit, server.port)
        outcome = probe(target, "/")
        message = unreachable(target)
    assert (outcome.kind, outcome.status) == ("not-tls", None)
    assert message == f"localhost:{server.port} -> the port does not speak TLS (plain HTTP?)"


def test_server_certificate_from_another_ca_is_rejected(kit: Kit, stranger: ServerCerts) -> None:
    """A server cert not signed by --server-ca is kind "server-cert"; --insecure accepts it."""
    with HttpsServer(stranger.cert, stranger.key, pages=PAGES) as server:
        target = local(kit, server.port)
        outcome = probe(target, "/plain")
        message = unreachable(target)
        insecure = local(kit, server.port, insecure=True)
        with pytest.warns(InsecureRequestWarning):
            accepted = probe(insecure, "/plain")
        assert accepted.status == 200
        assert probe(local(kit, server.port, server_ca=stranger.ca), "/plain").status == 200
    assert outcome.kind == "server-cert"
    assert outcome.detail == "unable to get local issuer certificate"
    assert message == (
        f"localhost:{server.port} -> the server certificate was rejected: unable to get local "
        "issuer certificate; pass a --server-ca that signs it, or --insecure to skip the check"
    )


def test_server_certificate_for_another_name_is_rejected(kit: Kit, https: HttpsServer) -> None:
    """A host the server cert does not list is kind "server-cert"; --insecure accepts it."""
    target = Target(
        host="other.example.test", port=https.port, connect_to=LOOPBACK, server_ca=kit.server_ca
    )
    outcome = probe(target, "/plain")
    message = unreachable(target)
    assert outcome.kind == "server-cert"
    assert outcome.detail == "Hostname mismatch, certificate is not valid for 'other.example.test'."
    assert message == (  # the CA is right, so the hint must be about the name, not --server-ca
        f"other.example.test:{https.port} -> the server certificate was rejected: Hostname "
        "mismatch, certificate is not valid for 'other.example.test'; pass a --host the "
        "certificate names (--connect-to ADDR keeps the address), or --insecure to skip the check"
    )
    insecure = Target(
        host="other.example.test", port=https.port, connect_to=LOOPBACK, insecure=True
    )
    with pytest.warns(InsecureRequestWarning):
        accepted = probe(insecure, "/plain")
    assert accepted.status == 200
    assert [seen.sni for seen in https.connections] == ["other.example.test"] * 3


def test_silent_port_is_a_timeout() -> None:
    """A port that accepts TCP but never answers is kind "timeout" after Target.timeout."""
    listener = SilentListener()
    try:
        target = Target(host=LOOPBACK, port=listener.port, timeout=SHORT)
        outcome = probe(target, "/")
        message = unreachable(target)
    finally:
        listener.close()
    assert outcome.kind == "timeout"
    assert message == f"{LOOPBACK}:{listener.port} -> no answer within 0.5 s (--timeout)"


@pytest.mark.realserver
def test_refusal_by_alert_is_testable(kit: Kit, s_server: OpensslServer) -> None:
    """Preflight lets through a target that refuses us with a TLS alert: that is a result."""
    target = local(kit, s_server.port, tls_version="1.2")
    assert probe(target, "/").kind == "alert"
    ensure_testable(target, "/")


def test_refusal_by_http_400_or_bare_close_is_testable(kit: Kit, https: HttpsServer) -> None:
    """Preflight lets through an HTTP 400 and a close after the handshake: both are results."""
    ensure_testable(local(kit, https.port), "/bad-request")
    assert probe(local(kit, https.port), "/bad-request").status == 400
    with scripted(kit, ["close-after-request"], "1.3") as server:
        ensure_testable(local(kit, server.port, timeout=SHORT), "/")


# -- 5. the environment cannot change whose certificates are trusted -------------------------

TRUST_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")


def point_trust_at(monkeypatch: pytest.MonkeyPatch, bundle: Path) -> None:
    for name in TRUST_VARIABLES:
        monkeypatch.setenv(name, str(bundle))
    monkeypatch.setenv("SSL_CERT_DIR", str(bundle.parent))


def test_environment_cannot_make_a_wrong_server_trusted(
    kit: Kit, stranger: ServerCerts, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the trust variables naming the wrong server's CA, --server-ca still rejects it."""
    point_trust_at(monkeypatch, stranger.ca)
    with HttpsServer(stranger.cert, stranger.key, pages=PAGES) as server:
        outcome = probe(local(kit, server.port), "/plain")
        # Negative control: plain requests does take the environment's word for it.
        url = f"https://localhost:{server.port}/plain"
        assert requests.get(url, timeout=5).status_code == 200
    assert outcome.kind == "server-cert"


@pytest.mark.parametrize("bundle", ["stranger-ca", "missing-file"])
def test_environment_cannot_make_the_right_server_untrusted(
    kit: Kit,
    stranger: ServerCerts,
    https: HttpsServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    bundle: str,
) -> None:
    """With the trust variables naming another CA or no file, --server-ca still accepts."""
    wrong = stranger.ca if bundle == "stranger-ca" else tmp_path / "no.pem"
    point_trust_at(monkeypatch, wrong)
    outcome = probe(local(kit, https.port), "/plain", client_cert=client(kit, "ca-signed"))
    assert (outcome.kind, outcome.status) == ("http", 200)
    # Negative control: plain requests is misled by the same environment.
    misled = requests.exceptions.SSLError if wrong.exists() else OSError
    with pytest.raises(misled, match=r"certificate verify failed|invalid path"):
        requests.get(f"https://localhost:{https.port}/plain", timeout=5)


# -- 6. connect_to: one address on the wire, the host name everywhere else -------------------


def test_connect_to_keeps_the_host_for_sni_host_and_verification(dlb_certs: ServerCerts) -> None:
    """Via connect_to, SNI, Host and the certificate check all use the host, not the address."""
    with HttpsServer(dlb_certs.cert, dlb_certs.key, pages=PAGES) as server:
        target = Target(
            host=DLB_HOST, port=server.port, connect_to=LOOPBACK, server_ca=dlb_certs.ca, timeout=5
        )
        outcome = probe(target, "/echo", echo=True)
        # Negative controls: the address alone fails the certificate check, the name alone DNS.
        by_address = probe(Target(host=LOOPBACK, port=server.port, server_ca=dlb_certs.ca), "/")
        by_name = probe(Target(host=DLB_HOST, port=server.port, server_ca=dlb_certs.ca), "/")
    assert (outcome.kind, outcome.status) == ("http", 200)
    assert outcome.echoed("host") == f"{DLB_HOST}:{server.port}"
    first = server.connections[0]
    assert first.sni == DLB_HOST
    assert [request.values("Host") for request in first.requests] == [[f"{DLB_HOST}:{server.port}"]]
    assert by_address.kind == "server-cert"
    assert LOOPBACK in by_address.detail
    assert by_name.kind == "dns"
    assert unreachable(Target(host=DLB_HOST, port=server.port, server_ca=dlb_certs.ca)).endswith(
        "the host name does not resolve"
    )


def test_chosen_sni_is_sent_while_the_certificate_is_checked_against_the_host(
    kit: Kit, https: HttpsServer
) -> None:
    """Target.sni changes only the SNI sent ("" sends none); Host and verification keep --host."""
    for sni in ("other.example.test", ""):
        target = Target(host="localhost", port=https.port, server_ca=kit.server_ca, sni=sni)
        outcome = probe(target, "/echo", echo=True)
        assert (outcome.kind, outcome.echoed("host")) == ("http", f"localhost:{https.port}")
    # Negative control: an SNI the certificate names does not excuse a --host it does not name.
    renamed = Target(
        host="other.example.test",
        port=https.port,
        connect_to=LOOPBACK,
        server_ca=kit.server_ca,
        sni="localhost",
    )
    refused = probe(renamed, "/plain")
    assert refused.kind == "server-cert"
    assert "other.example.test" in refused.detail
    assert [seen.sni for seen in https.connections] == ["other.example.test", None, "localhost"]
