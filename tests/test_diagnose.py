"""The reproduction lines in every failure really reproduce what the probe saw, run as is."""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from mtls_conformance.diagnose import Situation, curl_line, openssl_line
from mtls_conformance.kit import Kit, create_kit
from mtls_conformance.probe import probe
from mtls_conformance.profiles import get_profile
from mtls_conformance.reference import ListenerConfig, ReferenceDLB
from mtls_conformance.target import Target

pytestmark = [
    pytest.mark.selftest,
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
]


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    return create_kit(tmp_path_factory.mktemp("diagnose") / "certs")


@pytest.fixture(scope="module")
def mandatory(kit: Kit) -> Iterator[Target]:
    listener = ListenerConfig(
        mode="mandatory",
        server_cert=kit.server_cert,
        server_key=kit.server_key,
        truststore=kit.truststore,
        crl=kit.crl,
    )
    with ReferenceDLB([listener]) as dlb:
        yield Target("localhost", dlb.port(0), connect_to="127.0.0.1", server_ca=kit.server_ca)


def situation(kit: Kit, target: Target, role: str | None) -> Situation:
    client = kit.client(role) if role else None
    return Situation(
        mode="mandatory",
        case=role or "no-certificate",
        target=target,
        path="/anything",
        client_cert=(client.cert, client.key) if client else None,
        headers=get_profile("mulesoft-dlb").headers,
    )


def curl_status(line: str) -> int:
    done = subprocess.run(
        [*shlex.split(line), "-o", "/dev/null", "-w", "%{http_code}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return int(done.stdout.strip()[-3:])


@pytest.mark.parametrize("role", [None, "ca-signed", "expired", "self-signed-trusted"])
@pytest.mark.parametrize("tls", [None, "1.2"])
def test_curl_line_gets_the_status_the_probe_got(
    kit: Kit, mandatory: Target, role: str | None, tls: str | None
) -> None:
    """Run verbatim, the curl line answers with the same HTTP status as the probe."""
    target = replace(mandatory, tls_version=tls)
    outcome = probe(target, "/anything", client_cert=situation(kit, target, role).client_cert)
    assert outcome.kind == "http"
    assert curl_status(curl_line(situation(kit, target, role))) == outcome.status


@pytest.mark.parametrize("sni", ["", "sni-mismatch.invalid"])
def test_curl_line_keeps_a_chosen_sni_and_the_host(kit: Kit, mandatory: Target, sni: str) -> None:
    """For the SNI scenarios the curl line sends that SNI (or none) with the protected Host,
    and gets the probe's status."""
    target = replace(mandatory, sni=sni, insecure=True)
    line = curl_line(situation(kit, target, None))
    assert f"Host: {target.authority}" in line
    assert curl_status(line) == probe(target, "/anything").status


def test_openssl_line_verifies_the_server_and_presents_the_certificate(
    kit: Kit, mandatory: Target, tmp_path: Path
) -> None:
    """openssl s_client with the line's words completes the handshake with the server
    verified (return code 0) and the kit's client certificate sent."""
    line = openssl_line(situation(kit, mandatory, "ca-signed"))
    done = subprocess.run(
        shlex.split(line), input="", capture_output=True, text=True, timeout=30, check=False
    )
    assert "Verify return code: 0 (ok)" in done.stdout
    assert done.returncode == 0, done.stderr
    without_ca = openssl_line(situation(kit, replace(mandatory, server_ca=None), "ca-signed"))
    assert "-CAfile" not in without_ca  # the control: trust comes only from the target
