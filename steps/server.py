"""Steps about the target's own side of TLS: its certificate, its protocols, its CA names."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from typing import Any

import pytest
from pytest_bdd import parsers, then, when

from fixtures.evidence import note
from fixtures.reporting import VerdictMismatch
from fixtures.suite import Suite
from mtls_conformance.cases import Mode
from mtls_conformance.diagnose import s_client_line
from mtls_conformance.handshake import (
    CaNames,
    LegacyAttempt,
    LegacyVersion,
    ServerCertificate,
)
from mtls_conformance.prober import (
    CaNamesRequest,
    LegacyRequest,
    Request,
    ServerCertificateRequest,
)
from mtls_conformance.target import Target
from mtls_conformance.values import same_dn
from mtls_conformance.x509names import certificates_in, slash_form


class CertificateExpiresSoon(UserWarning):
    """The target's server certificate is inside the warning period."""


def _fail(expected: str, observed: str, cause: str, reproduce: str) -> None:
    __tracebackhide__ = True
    raise VerdictMismatch(
        f"expected: {expected}\nobserved: {observed}\nlikely cause: {cause}"
        f"\nreproduce:\n  {reproduce}"
    )


def _s_client(target: Target, *extra: str) -> str:
    """An openssl s_client line that shows the same thing by hand."""
    return s_client_line(target, *extra) + " </dev/null"


CA_NAMES_STEP = parsers.string("the client reads the CA names the target advertises")
SERVER_CERT_STEP = parsers.string("the client checks the target's server certificate")
LEGACY_STEP = parsers.parse("the client offers only TLS {version}")


def server_request(suite: Suite, mode: Mode, step_text: str) -> Request[Any] | None:
    """The handshake a When step with this text makes (None: not one of this module's)."""
    target = suite.targets[mode]
    if CA_NAMES_STEP.is_matching(step_text):
        return CaNamesRequest(target)
    if SERVER_CERT_STEP.is_matching(step_text):
        return ServerCertificateRequest(target)
    if LEGACY_STEP.is_matching(step_text):
        version = _legacy_version(LEGACY_STEP.parse_arguments(step_text)["version"])
        return LegacyRequest(target, version) if version is not None else None
    return None


def _legacy_version(version: str) -> LegacyVersion | None:
    return "1.0" if version == "1.0" else "1.1" if version == "1.1" else None


@when(CA_NAMES_STEP, target_fixture="ca_names")
def read_ca_names(request: pytest.FixtureRequest, suite: Suite, mode: Mode) -> CaNames:
    target = suite.targets[mode]
    names = suite.prober.outcome(request.node.nodeid, CaNamesRequest(target))
    note(
        request,
        f"{target.label} advertises {len(names.names)} CA name(s): " + "; ".join(names.names),
    )
    return names


@then("every certificate of the kit's truststore is among them")
def truststore_advertised(
    request: pytest.FixtureRequest, suite: Suite, mode: Mode, ca_names: CaNames
) -> None:
    __tracebackhide__ = True
    reproduce = _s_client(suite.targets[mode]) + "  # shows Acceptable client certificate CA names"
    uploaded = [slash_form(cert.subject) for cert in certificates_in(suite.kit.truststore)]
    missing = [name for name in uploaded if not any(same_dn(seen, name) for seen in ca_names.names)]
    extra = [seen for seen in ca_names.names if not any(same_dn(seen, name) for name in uploaded)]
    if extra:
        note(request, "also advertised (not in the kit's truststore): " + "; ".join(extra))
    if ca_names.error is not None:
        _fail(
            "the CA names of " + str(suite.kit.truststore),
            f"no names ({ca_names.error})",
            "the handshake failed before the certificate request could be read",
            reproduce,
        )
    if missing:
        _fail(
            f"all {len(uploaded)} certificates of truststore.pem advertised",
            f"missing: {'; '.join(missing)}",
            "the target did not load every certificate of the uploaded bundle (only the "
            "first one, or an older truststore): upload the kit's truststore.pem again",
            reproduce,
        )


def _verify_line(target: Target) -> str:
    trust = ["-CAfile", str(target.server_ca)] if target.server_ca else []
    return _s_client(target, *trust, "-verify_return_error", "-verify_hostname", target.host)


@when(SERVER_CERT_STEP, target_fixture="server_cert")
def check_server_certificate(
    request: pytest.FixtureRequest, suite: Suite, mode: Mode
) -> ServerCertificate:
    target = suite.targets[mode]
    found = suite.prober.outcome(request.node.nodeid, ServerCertificateRequest(target))
    if found.certificate is not None:
        note(
            request,
            f"{target.label} presents {found.certificate.subject.rfc4514_string()}, "
            f"valid until {found.certificate.not_valid_after_utc:%Y-%m-%d}",
        )
    return found


@then("it is valid for the host name and chains to the trusted CA")
def server_cert_valid(suite: Suite, mode: Mode, server_cert: ServerCertificate) -> None:
    __tracebackhide__ = True
    if server_cert.certificate is None:
        _fail(
            "a server certificate valid for the host and trusted by the client",
            server_cert.error or "none",
            "the certificate does not match the host name or chains to another CA "
            "(--server-ca names the CA clients should trust)",
            _verify_line(suite.targets[mode]),
        )


@then("it does not expire within the warning period")
def server_cert_not_expiring(
    request: pytest.FixtureRequest, suite: Suite, mode: Mode, server_cert: ServerCertificate
) -> None:
    __tracebackhide__ = True
    certificate = server_cert.certificate
    if certificate is None:
        return  # judged by the previous step
    days = (certificate.not_valid_after_utc - datetime.now(UTC)).days
    settings = suite.settings
    note(
        request,
        f"expires in {days} days (warn under {settings.cert_warn_days}, fail under "
        f"{settings.cert_fail_days})",
    )
    if days < settings.cert_fail_days:
        _fail(
            f"at least {settings.cert_fail_days} days of validity left",
            f"{days} days (until {certificate.not_valid_after_utc:%Y-%m-%d})",
            "the load balancer's certificate is about to expire: renew it now",
            _verify_line(suite.targets[mode]) + " | openssl x509 -noout -enddate",
        )
    if days < settings.cert_warn_days:
        warnings.warn(
            CertificateExpiresSoon(
                f"{suite.label}: server certificate expires in {days} days "
                f"({certificate.not_valid_after_utc:%Y-%m-%d})"
            ),
            stacklevel=1,
        )


@when(LEGACY_STEP, target_fixture="legacy_attempt")
def offer_legacy(
    request: pytest.FixtureRequest, suite: Suite, mode: Mode, version: str
) -> LegacyAttempt:
    legacy = _legacy_version(version)
    if legacy is None:
        raise ValueError(f"TLS {version} is not a legacy version")
    attempt = suite.prober.outcome(request.node.nodeid, LegacyRequest(suite.targets[mode], legacy))
    note(request, f"TLS {version} only: {attempt.detail}")
    return attempt


@then("the handshake is refused")
def legacy_refused(suite: Suite, mode: Mode, legacy_attempt: LegacyAttempt) -> None:
    __tracebackhide__ = True
    if legacy_attempt.accepted:
        flag = "-tls1" if legacy_attempt.version == "1.0" else "-tls1_1"
        _fail(
            "the legacy handshake refused",
            legacy_attempt.detail,
            "the target still offers a deprecated TLS version (RFC 8996): restrict it to "
            "TLS 1.2 and 1.3 (nginx: ssl_protocols TLSv1.2 TLSv1.3)",
            _s_client(suite.targets[mode], flag, "-cipher", "DEFAULT@SECLEVEL=0"),
        )
