"""Given steps: which certificate the client presents."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pytest_bdd import given, parsers

from fixtures.suite import Suite
from mtls_conformance.cases import NO_CERTIFICATE
from mtls_conformance.verdict import Identity


@dataclass(frozen=True)
class Presented:
    """The certificate situation of one scenario: a kit role, or no certificate at all."""

    case: str
    client_cert: tuple[Path, Path] | None = None
    identity: Identity | None = None


@given("the client presents no certificate", target_fixture="presented")
def no_certificate() -> Presented:
    return Presented(case=NO_CERTIFICATE)


@given(parsers.parse('the client presents the "{role}" certificate'), target_fixture="presented")
def kit_certificate(role: str, suite: Suite) -> Presented:
    client = suite.kit.client(role)
    return Presented(
        case=role,
        client_cert=(client.cert, client.key),
        identity=Identity(subject=client.subject, issuer=client.issuer, serial=client.serial),
    )
