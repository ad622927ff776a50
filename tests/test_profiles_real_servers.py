"""The haproxy, apache and caddy profiles against the real servers run from examples/.

Each example configuration, in each mode, must meet its profile's expectation for every
certificate case over TLS 1.2 and 1.3, with forged identity headers sent along that must
never reach the backend. Each deliberately wrong copy of an example must break the
expectation of the case that covers its mistake (the reference run is the negative control:
the same case passes there).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from lb_servers import APACHE, CADDY, HAPROXY, KINDS, Edit, ServerKind, echo_backend
from lb_servers import identity as identity_of
from lb_servers import presented as presented_in
from realservers import RealServer

from mtls_conformance.cases import CASES, NO_CERTIFICATE, Mode
from mtls_conformance.forgery import forged_headers, leaked
from mtls_conformance.kit import Kit, create_kit
from mtls_conformance.outcome import Outcome
from mtls_conformance.probe import probe
from mtls_conformance.profiles import get_profile
from mtls_conformance.target import Target, TlsVersion
from mtls_conformance.verdict import differences

pytestmark = [pytest.mark.selftest, pytest.mark.realserver]

TLS_VERSIONS: tuple[TlsVersion, ...] = ("1.2", "1.3")
ECHO = "/anything"
REFERENCES = [
    (kind, mode) for kind in (HAPROXY, APACHE, CADDY) for mode in ("mandatory", "optional")
]


def crl_loaded(kind: ServerKind) -> bool:
    """Whether the example loads the kit's crl.pem (Caddy cannot)."""
    return kind is not CADDY


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    return create_kit(tmp_path_factory.mktemp("kit"))


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lb-work")


@pytest.fixture(scope="module")
def backend() -> Iterator[int]:
    with echo_backend() as port:
        yield port


def need(kind: ServerKind) -> None:
    if not kind.launcher.available():
        pytest.fail(
            f"{kind.launcher.executable} is not installed: apt-get install "
            f"{kind.launcher.executable}, or use -m 'not realserver'"
        )


@dataclass(frozen=True)
class Running:
    kind: ServerKind
    mode: Mode
    server: RealServer


@pytest.fixture(
    scope="module", params=REFERENCES, ids=[f"{kind.name}-{mode}" for kind, mode in REFERENCES]
)
def reference(
    request: pytest.FixtureRequest, kit: Kit, work: Path, backend: int
) -> Iterator[Running]:
    kind, mode = request.param
    need(kind)
    with kind.server(kit, work, backend, mode) as server:
        yield Running(kind, mode, server)


def target(kit: Kit, server: RealServer, version: TlsVersion) -> Target:
    return Target(
        host="localhost",
        port=server.port,
        connect_to="127.0.0.1",
        server_ca=kit.server_ca,
        tls_version=version,
        timeout=5,
    )


def probe_case(
    kit: Kit, work: Path, kind: ServerKind, server: RealServer, case: str, version: TlsVersion
) -> Outcome:
    """One probe of the echo endpoint presenting `case`, with forged identity headers."""
    return probe(
        target(kit, server, version),
        ECHO,
        client_cert=presented_in(kit, case, work),
        headers=forged_headers(get_profile(kind.name).headers),
        echo=True,
    )


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    differences: list[str]  # verdict.differences(): what contradicts the profile
    leaked: dict[str, str]  # forged headers that reached the backend

    def problems(self, case: str) -> list[str]:
        found = self.differences + [f"forged {name} reached the backend" for name in self.leaked]
        return [f"{case}: {problem} ({self.outcome.summary()})" for problem in found]


def judge(
    kit: Kit, work: Path, running: Running, case: str, version: TlsVersion, *, crl: bool
) -> Verdict:
    """Probe `case` and compare the outcome with the profile's expectation for it."""
    profile = get_profile(running.kind.name)
    outcome = probe_case(kit, work, running.kind, running.server, case, version)
    expectation = profile.expect(running.mode, case, crl_loaded=crl)
    return Verdict(
        outcome,
        differences(expectation, outcome, profile.headers, identity_of(kit, case)),
        leaked(dict(outcome.echoed_headers or {})),
    )


@pytest.mark.parametrize("version", TLS_VERSIONS)
def test_reference_config_meets_its_profile(
    kit: Kit, work: Path, reference: Running, version: TlsVersion
) -> None:
    """Every case against the example config matches the profile, and no forged header leaks."""
    crl = crl_loaded(reference.kind)
    found = [
        problem
        for case in CASES
        for problem in judge(kit, work, reference, case, version, crl=crl).problems(case)
    ]
    assert found == []


def test_refusals_are_tls_alerts_and_nothing_else(kit: Kit, work: Path, reference: Running) -> None:
    """A refused case is a TLS alert the probe read (recovered under 1.3 where needed)."""
    profile = get_profile(reference.kind.name)
    crl = crl_loaded(reference.kind)
    refused = [c for c in CASES if not profile.expect(reference.mode, c, crl_loaded=crl).accepted]
    assert refused, "every mode refuses some case"
    kinds = {
        probe_case(kit, work, reference.kind, reference.server, case, "1.3").kind
        for case in refused
    }
    assert kinds == {"alert"}


@dataclass(frozen=True)
class Mistake:
    """A wrong copy of an example and the case whose expectation it must break."""

    kind: ServerKind
    mode: Mode
    name: str
    edits: tuple[Edit, ...]
    case: str
    crl: bool = True  # the kit's CRL counts as loaded when judging

    @property
    def id(self) -> str:
        return f"{self.kind.name}-{self.name}"


HA_VERIFY = "verify required"
MISTAKES = [
    Mistake(HAPROXY, "mandatory", "optional-instead-of-required",
            ((HA_VERIFY, "verify optional"),), NO_CERTIFICATE),
    Mistake(HAPROXY, "mandatory", "truststore-without-self-signed",
            (("/etc/haproxy/mtls/truststore.pem", "@ca_only@"),), "self-signed-trusted"),
    Mistake(HAPROXY, "mandatory", "crl-not-loaded",
            ((" crl-file /etc/haproxy/mtls/crl.pem", ""),), "revoked"),
    Mistake(HAPROXY, "mandatory", "verify-errors-ignored",
            ((HA_VERIFY, f"{HA_VERIFY} ca-ignore-err all crt-ignore-err all"),), "expired"),
    Mistake(HAPROXY, "mandatory", "client-copy-kept-add-header",
            (("    http-request del-header X-SSL-Client-Verify\n", ""),
             ("set-header X-SSL-Client-Verify", "add-header X-SSL-Client-Verify")),
            "ca-signed"),
    Mistake(APACHE, "mandatory", "optional-instead-of-require",
            (("SSLVerifyClient require", "SSLVerifyClient optional"),), NO_CERTIFICATE),
    Mistake(APACHE, "mandatory", "truststore-without-self-signed",
            (("/etc/apache2/mtls/truststore.pem", "@ca_only@"),), "self-signed-trusted"),
    Mistake(APACHE, "mandatory", "crl-file-without-revocation-check",
            (("    SSLCARevocationCheck chain\n", ""),), "revoked"),
    Mistake(APACHE, "mandatory", "client-copy-kept-add",
            (("RequestHeader set X-SSL-Client-Verify", "RequestHeader add X-SSL-Client-Verify"),),
            "ca-signed"),
    Mistake(APACHE, "optional", "optional-no-ca-without-crl",
            (("SSLVerifyClient optional", "SSLVerifyClient optional_no_ca"),
             ("    SSLCARevocationFile /etc/apache2/mtls/crl.pem\n", ""),
             ("    SSLCARevocationCheck chain\n", "")),
            "untrusted", crl=False),
    Mistake(CADDY, "mandatory", "verify-if-given-instead-of-require",
            (("mode require_and_verify", "mode verify_if_given"),), NO_CERTIFICATE),
    Mistake(CADDY, "mandatory", "whole-truststore-in-one-file",
            (("/etc/caddy/mtls/truststore-0.pem", "@truststore@"),
             ("\t\t\ttrusted_ca_cert_file /etc/caddy/mtls/truststore-1.pem\n", "")),
            "self-signed-trusted", crl=False),
    Mistake(CADDY, "mandatory", "require-without-verify",
            (("mode require_and_verify", "mode require"),), "expired", crl=False),
    Mistake(CADDY, "mandatory", "identity-headers-not-forwarded",
            (("\t\theader_up X-SSL-Client-DN {http.request.tls.client.subject}\n", ""),
             ("\t\theader_up X-SSL-Issuer {http.request.tls.client.issuer}\n", ""),
             ("\t\theader_up X-SSL-Client-Serial {http.request.tls.client.serial}\n", "")),
            "ca-signed", crl=False),
]  # fmt: skip


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.id for m in MISTAKES])
def test_wrong_config_breaks_the_case_that_covers_it(
    kit: Kit, work: Path, backend: int, mistake: Mistake
) -> None:
    """The mistaken config contradicts the profile for its case, over TLS 1.2 and 1.3."""
    need(mistake.kind)
    server = mistake.kind.server(kit, work, backend, mistake.mode, mistake.edits)
    with server:
        running = Running(mistake.kind, mistake.mode, server)
        for version in TLS_VERSIONS:
            verdict = judge(kit, work, running, mistake.case, version, crl=mistake.crl)
            assert verdict.differences, (
                f"{mistake.id} over TLS {version}: {mistake.case} still conforms "
                f"({verdict.outcome.summary()})"
            )


def test_every_profile_case_has_a_measured_expectation() -> None:
    """Each new profile answers for every case in both modes, with and without the CRL."""
    for name in KINDS:
        profile = get_profile(name)
        for mode in ("mandatory", "optional"):
            for case in CASES:
                for crl in (True, False):
                    expectation = profile.expect(mode, case, crl_loaded=crl)
                    assert expectation.accepted or expectation.alerts, (name, mode, case, crl)
