"""The suite end to end against a real nginx set up like the DLB: green when the setup is
right, and for each classic mistake, red on the scenario that covers it, with the right cause.

Every run is a real ``pytest --host ...`` in a child process, read back from its reports.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trustme
from dlb_nginx import DlbNginx, dlb_nginx
from echo import EchoServer
from suite_runner import SuiteRun, run_suite

from mtls_conformance.kit import Kit, create_kit

pytestmark = [pytest.mark.selftest, pytest.mark.realserver]


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    return create_kit(tmp_path_factory.mktemp("e2e") / "certs")


@pytest.fixture(scope="module")
def backend() -> Iterator[EchoServer]:
    with EchoServer() as server:
        yield server


def suite_against(
    kit: Kit, backend: EchoServer, listener: DlbNginx, reports: Path, *extra: str
) -> SuiteRun:
    with dlb_nginx(kit, listener, backend.port) as nginx:
        return run_suite(
            "--host",
            "localhost",
            "--connect-to",
            "127.0.0.1",
            "--port",
            str(nginx.port),
            "--certs",
            str(kit.directory),
            "--server-ca",
            str(kit.server_ca),
            "--mode",
            listener.mode,
            "--path",
            "/products",
            "--echo-path",
            "/anything",
            "--with-crl",
            *extra,
            reports=reports,
        )


@pytest.mark.parametrize("tls", ["auto", "1.2", "1.3"])
@pytest.mark.parametrize("mode", ["mandatory", "optional"])
def test_suite_passes_against_nginx_configured_like_the_dlb(
    kit: Kit, backend: EchoServer, tmp_path: Path, mode: str, tls: str
) -> None:
    """With the kit uploaded and the DLB's settings, every scenario of the mode passes."""
    run = suite_against(kit, backend, DlbNginx(mode), tmp_path, "--tls-version", tls)
    assert run.exit_code == 0, run.output
    results = run.scenarios()
    assert set(results.values()) == {"passed"}, results
    assert len(results) >= 9
    other = "@optional" if mode == "mandatory" else "@mandatory"
    for feature in run.cucumber:
        feature_tags = {tag["name"] for tag in feature["tags"]}
        for element in feature["elements"]:
            assert other not in feature_tags | {tag["name"] for tag in element["tags"]}


MISTAKES = [
    pytest.param(
        DlbNginx("mandatory", verify_client="optional"),
        (),
        "A request without a client certificate is refused",
        "Client Certificate Validation looks set to Optional",
        id="optional-where-mandatory",
    ),
    pytest.param(
        DlbNginx("mandatory"),
        ("truststore", "ca-only"),
        "A trusted client certificate is accepted: self-signed-trusted",
        "does not hold the self-signed client certificate",
        id="truststore-without-self-signed",
    ),
    pytest.param(
        DlbNginx("mandatory"),
        ("truststore", "self-signed-only"),
        "A trusted client certificate is accepted: ca-signed",
        "does not hold the kit's client CA",
        id="truststore-without-ca",
    ),
    pytest.param(
        DlbNginx("mandatory", crl=False),
        (),
        "A revoked client certificate is refused when the CRL is loaded",
        "does not check revocation",
        id="crl-not-loaded",
    ),
    pytest.param(
        DlbNginx("mandatory", forward_invalid=True),
        (),
        "An invalid client certificate is refused: expired",
        "an error page swallows the rejection",
        id="errors-swallowed-in-mandatory",
    ),
    pytest.param(
        DlbNginx("mandatory", forwarded=("X-SSL-Client-DN", "X-SSL-Issuer", "X-SSL-Client-Serial")),
        (),
        "The backend learns who the verified client is: ca-signed",
        "does not forward X-SSL-Client-Verify",
        id="verify-header-missing",
    ),
    pytest.param(
        DlbNginx("mandatory", forwarded=("X-SSL-Client-Verify",)),
        (),
        "Forged identity headers are dropped for a verified client",
        "passes identity headers sent by the client",
        id="forged-headers-pass",
    ),
    pytest.param(
        DlbNginx("optional", forward_invalid=False),
        (),
        "An invalid certificate is never passed off as verified: expired",
        "refuses invalid certificates in Optional mode",
        id="optional-without-495-forward",
    ),
    pytest.param(
        DlbNginx("mandatory", verify_depth=0),
        (),
        "A leaf under an intermediate CA is accepted when the client sends the chain",
        "verify depth too small",
        id="verify-depth-zero",
    ),
    pytest.param(
        DlbNginx(
            "mandatory",
            protocols="TLSv1 TLSv1.1 TLSv1.2 TLSv1.3",
            ciphers="DEFAULT:@SECLEVEL=0",
        ),
        (),
        "TLS 1.0 is refused",
        "still offers a deprecated TLS version",
        id="tls-1.0-enabled",
    ),
    pytest.param(
        DlbNginx("optional", verify_client="on"),
        (),
        "A request without a client certificate is accepted",
        "Client Certificate Validation looks set to Mandatory",
        id="mandatory-where-optional",
    ),
]


def _truststore(kit: Kit, variant: tuple[str, ...], tmp_path: Path) -> Path | None:
    if not variant:
        return None
    blocks = kit.truststore.read_text().split("-----END CERTIFICATE-----")
    ca, self_signed = (b + "-----END CERTIFICATE-----\n" for b in blocks[:2])
    path = tmp_path / "truststore-wrong.pem"
    path.write_text(ca if variant[1] == "ca-only" else self_signed.lstrip())
    return path


@pytest.mark.parametrize(("listener", "truststore", "scenario", "cause"), MISTAKES)
def test_each_mistake_fails_the_scenario_that_covers_it(
    kit: Kit,
    backend: EchoServer,
    tmp_path: Path,
    listener: DlbNginx,
    truststore: tuple[str, ...],
    scenario: str,
    cause: str,
) -> None:
    """A deliberately wrong nginx makes the suite exit 1, failing the right scenario for the
    right reason, and reproduction lines come with it."""
    wrong = listener.wrong(truststore=_truststore(kit, truststore, tmp_path))
    run = suite_against(kit, backend, wrong, tmp_path / "reports")
    assert run.exit_code == 1, run.output
    assert scenario in run.failed(), run.scenarios()
    message = run.error_messages()[scenario]
    assert cause in message
    assert "reproduce:" in message
    assert "openssl s_client" in message


def test_plain_nginx_optional_passes_with_the_nginx_profile(
    kit: Kit, backend: EchoServer, tmp_path: Path
) -> None:
    """The Optional setup without the 495 forward is right for --profile nginx: the same
    server that fails the DLB profile passes there (the control of the mistake above)."""
    run = suite_against(
        kit, backend, DlbNginx("optional", forward_invalid=False), tmp_path, "--profile", "nginx"
    )
    assert run.exit_code == 0, run.output
    assert set(run.scenarios().values()) == {"passed"}


def test_nginx_fallback_site_opens_no_sni_bypass(
    kit: Kit, backend: EchoServer, tmp_path: Path
) -> None:
    """Measured: nginx applies the Host-selected site's ssl_verify_client even when the SNI
    picked a default site that asks for no certificate, so the SNI scenarios pass there
    (no false alarm). The bypass itself is caught on HAProxy, whose crt-list can do it."""
    run = suite_against(kit, backend, DlbNginx("mandatory", fallback_site=True), tmp_path)
    assert run.exit_code == 0, run.output
    results = run.scenarios()
    assert (
        results["A request without SNI and without a certificate does not reach the backend"]
        == "passed"
    )


def test_truststore_loaded_only_in_part_is_caught(
    kit: Kit, backend: EchoServer, tmp_path: Path
) -> None:
    """nginx verifying with the whole truststore (ssl_trusted_certificate) but advertising
    only the CA (ssl_client_certificate) accepts both trusted roles, yet the CA-names
    scenario shows the self-signed certificate is not among the advertised names."""
    listener = DlbNginx(
        "mandatory",
        truststore=_truststore(kit, ("truststore", "ca-only"), tmp_path),
        trusted_unadvertised=kit.truststore,
    )
    run = suite_against(kit, backend, listener, tmp_path / "reports")
    assert run.exit_code == 1, run.output
    results = run.scenarios()
    name = "Every certificate of the uploaded truststore is advertised to clients"
    assert results[name] == "failed"
    message = run.error_messages()[name]
    assert "self-signed-trusted client" in message
    assert "did not load every certificate" in message
    assert results["A trusted client certificate is accepted: self-signed-trusted"] == "passed"


def _server_cert_valid_for(days: int, directory: Path) -> tuple[Path, Path, Path]:
    """A server certificate for localhost that expires in ``days`` days, and its CA."""
    ca = trustme.CA()
    leaf = ca.issue_cert(
        "localhost", "127.0.0.1", not_after=datetime.now(UTC) + timedelta(days=days, hours=1)
    )
    cert, key, ca_file = directory / "server.pem", directory / "server.key", directory / "ca.pem"
    leaf.cert_chain_pems[0].write_to_path(cert)
    leaf.private_key_pem.write_to_path(key)
    ca.cert_pem.write_to_path(ca_file)
    return cert, key, ca_file


@pytest.mark.parametrize(
    ("days", "exit_code", "status", "warned"),
    [(5, 1, "failed", False), (20, 0, "passed", True), (400, 0, "passed", False)],
)
def test_server_certificate_expiry_warns_then_fails(
    kit: Kit,
    backend: EchoServer,
    tmp_path: Path,
    days: int,
    exit_code: int,
    status: str,
    warned: bool,
) -> None:
    """A server certificate with 5 days left fails the scenario (renew now), with 20 days
    it passes with a warning, with 400 days it passes silently."""
    cert, key, ca = _server_cert_valid_for(days, tmp_path)
    listener = DlbNginx("mandatory", server_cert=(cert, key))
    with dlb_nginx(kit, listener, backend.port) as nginx:
        run = run_suite(
            "--host",
            "localhost",
            "--connect-to",
            "127.0.0.1",
            "--port",
            str(nginx.port),
            "--certs",
            str(kit.directory),
            "--server-ca",
            str(ca),
            "--mode",
            "mandatory",
            "--path",
            "/products",
            "--echo-path",
            "/anything",
            "--with-crl",
            reports=tmp_path / "reports",
        )
    assert run.exit_code == exit_code, run.output
    name = "The server certificate is valid for the host and not about to expire"
    assert run.scenarios()[name] == status
    assert ("CertificateExpiresSoon" in run.output) == warned
    if status == "failed":
        assert "about to expire: renew it now" in run.error_messages()[name]


def test_an_echo_path_that_does_not_echo_fails_the_header_scenarios(
    kit: Kit, backend: EchoServer, tmp_path: Path
) -> None:
    """--echo-path naming an endpoint that answers something else (the product list) fails
    every header scenario with that reason, rather than passing them unchecked."""
    run = suite_against(kit, backend, DlbNginx("mandatory"), tmp_path, "--echo-path", "/products")
    assert run.exit_code == 1, run.output
    messages = run.error_messages()
    for scenario in (
        "The backend learns who the verified client is: ca-signed",
        "Forged identity headers are dropped for a verified client",
    ):
        assert "is not an echo endpoint" in messages[scenario], messages.get(scenario)
    assert run.scenarios()["A trusted client certificate is accepted: ca-signed"] == "passed"
