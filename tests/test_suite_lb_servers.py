"""The whole suite, as a user runs it, against real HAProxy, Apache and Caddy.

Each example configuration passes every scenario of its mode under its profile; for each
server, deliberately wrong copies make the suite exit 1 on the scenario that covers the
mistake, with the likely cause in the message. The HAProxy crt-list case is the SNI bypass
the SNI / Host scenarios exist for (nginx is not open to it: see test_suite_nginx.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from echo import EchoServer
from lb_servers import APACHE, CADDY, HAPROXY, Edit, ServerKind
from suite_runner import SuiteRun, run_suite

from mtls_conformance.cases import Mode
from mtls_conformance.kit import Kit, create_kit

pytestmark = [pytest.mark.selftest, pytest.mark.realserver]


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    return create_kit(tmp_path_factory.mktemp("lb-suite") / "certs")


@pytest.fixture(scope="module")
def backend() -> Iterator[EchoServer]:
    with EchoServer() as server:
        yield server


def suite_against(
    kit: Kit,
    backend: EchoServer,
    kind: ServerKind,
    mode: Mode,
    work: Path,
    edits: tuple[Edit, ...] = (),
    *extra: str,
) -> SuiteRun:
    server = kind.server(kit, work, backend.port, mode, edits)
    crl = [] if kind is CADDY else ["--with-crl"]  # Caddy 2.6 cannot load a CRL
    with server:
        return run_suite(
            "--host",
            "localhost",
            "--connect-to",
            "127.0.0.1",
            "--port",
            str(server.port),
            "--certs",
            str(kit.directory),
            "--server-ca",
            str(kit.server_ca),
            "--mode",
            mode,
            "--profile",
            kind.name,
            "--path",
            "/products",
            "--echo-path",
            "/anything",
            *crl,
            *extra,
            reports=work / "reports",
        )


REFERENCES = [
    (kind, mode) for kind in (HAPROXY, APACHE, CADDY) for mode in ("mandatory", "optional")
]


@pytest.mark.parametrize(
    ("kind", "mode"), REFERENCES, ids=[f"{kind.name}-{mode}" for kind, mode in REFERENCES]
)
def test_example_config_passes_the_whole_suite(
    kit: Kit, backend: EchoServer, tmp_path: Path, kind: ServerKind, mode: Mode
) -> None:
    """The example a user copies passes every scenario of its mode under its profile."""
    run = suite_against(kit, backend, kind, mode, tmp_path)
    assert run.exit_code == 0, run.output
    results = run.scenarios()
    assert "failed" not in results.values()
    assert list(results.values()).count("passed") >= 10


HA_BIND = (
    "bind :8443 ssl crt /etc/haproxy/mtls/server.pem ca-file "
    "/etc/haproxy/mtls/truststore.pem crl-file /etc/haproxy/mtls/crl.pem verify required"
)

MISTAKES = [
    pytest.param(
        HAPROXY,
        "mandatory",
        (("verify required", "verify optional"),),
        "A request without a client certificate is refused",
        "looks set to Optional",
        id="haproxy-verify-optional",
    ),
    pytest.param(
        HAPROXY,
        "mandatory",
        (("verify required", "verify required ca-ignore-err all crt-ignore-err all"),),
        "An invalid client certificate is refused: expired",
        "accepted the expired certificate",
        id="haproxy-errors-ignored",
    ),
    pytest.param(
        HAPROXY,
        "mandatory",
        (
            ("    http-request del-header X-SSL-Client-DN\n", ""),
            ("http-request set-header X-SSL-Client-DN", "http-request add-header X-SSL-Client-DN"),
        ),
        "Forged identity headers are dropped for a verified client",
        "passes identity headers sent by the client",
        id="haproxy-forged-kept",
    ),
    pytest.param(
        APACHE,
        "mandatory",
        (("SSLVerifyClient require", "SSLVerifyClient optional"),),
        "A request without a client certificate is refused",
        "looks set to Optional",
        id="apache-verify-optional",
    ),
    pytest.param(
        APACHE,
        "mandatory",
        (("/etc/apache2/mtls/truststore.pem", "@ca_only@"),),
        "A trusted client certificate is accepted: self-signed-trusted",
        "does not hold the self-signed client certificate",
        id="apache-truststore-partial",
    ),
    pytest.param(
        APACHE,
        "mandatory",
        (("    SSLCARevocationCheck chain\n", ""),),
        "A revoked client certificate is refused when the CRL is loaded",
        "does not check revocation",
        id="apache-crl-ignored",
    ),
    pytest.param(
        CADDY,
        "mandatory",
        (("mode require_and_verify", "mode verify_if_given"),),
        "A request without a client certificate is refused",
        "looks set to Optional",
        id="caddy-verify-if-given",
    ),
    pytest.param(
        CADDY,
        "mandatory",
        (
            ("/etc/caddy/mtls/truststore-0.pem", "@truststore@"),
            ("\t\t\ttrusted_ca_cert_file /etc/caddy/mtls/truststore-1.pem\n", ""),
        ),
        "A trusted client certificate is accepted: self-signed-trusted",
        "does not hold the self-signed client certificate",
        id="caddy-truststore-one-file",
    ),
    pytest.param(
        CADDY,
        "mandatory",
        (("mode require_and_verify", "mode require"),),
        "An invalid client certificate is refused: expired",
        "accepted the expired certificate",
        id="caddy-require-without-verify",
    ),
]


@pytest.mark.parametrize(("kind", "mode", "edits", "scenario", "cause"), MISTAKES)
def test_wrong_config_fails_the_covering_scenario(
    kit: Kit,
    backend: EchoServer,
    tmp_path: Path,
    kind: ServerKind,
    mode: Mode,
    edits: tuple[Edit, ...],
    scenario: str,
    cause: str,
) -> None:
    """Each mistake makes the suite exit 1 on its scenario, naming the likely cause."""
    run = suite_against(kit, backend, kind, mode, tmp_path, edits)
    assert run.exit_code == 1, run.output
    assert scenario in run.failed(), run.scenarios()
    assert cause in run.error_messages()[scenario]


def test_haproxy_crt_list_sni_bypass_is_caught(
    kit: Kit, backend: EchoServer, tmp_path: Path
) -> None:
    """HAProxy picks TLS settings per SNI from a crt-list and routes HTTP regardless of it:
    with an unverified first (default) entry, a request without SNI reaches the backend
    without a certificate. The SNI scenario catches it; the verified-SNI scenarios pass."""
    combined = tmp_path / "haproxy-server.pem"  # written by lb_servers for the example
    crt_list = tmp_path / "crt-list.txt"
    crt_list.write_text(
        f"{combined} [verify none] fallback.invalid\n"
        f"{combined} [ca-file {kit.truststore} crl-file {kit.crl} verify required] localhost\n"
    )
    run = suite_against(
        kit,
        backend,
        HAPROXY,
        "mandatory",
        tmp_path,
        ((HA_BIND, f"bind :8443 ssl crt-list {crt_list}"),),
    )
    assert run.exit_code == 1, run.output
    results = run.scenarios()
    bypass = "A request without SNI and without a certificate does not reach the backend"
    assert results[bypass] == "failed"
    assert (
        "require client certificates on the default / fallback site" in run.error_messages()[bypass]
    )
    assert results["A request without a client certificate is refused"] == "passed"
