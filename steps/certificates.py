"""Given steps: which certificate the client presents."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pytest_bdd import given, parsers

from fixtures.suite import Suite
from mtls_conformance.cases import NO_CERTIFICATE
from mtls_conformance.verdict import Identity

NO_CERTIFICATE_STEP = parsers.string("the client presents no certificate")
ROLE_STEP = parsers.parse('the client presents the "{role}" certificate')


@dataclass(frozen=True)
class Presented:
    """The certificate situation of one scenario: a kit role, or no certificate at all."""

    case: str
    client_cert: tuple[Path, Path] | None = None
    identity: Identity | None = None


def presented_for(suite: Suite, step_text: str) -> Presented | None:
    """What a Given step with this text presents (None: not a certificate step)."""
    if NO_CERTIFICATE_STEP.is_matching(step_text):
        return Presented(case=NO_CERTIFICATE)
    if ROLE_STEP.is_matching(step_text):
        return role_certificate(suite, ROLE_STEP.parse_arguments(step_text)["role"])
    return None


def role_certificate(suite: Suite, role: str) -> Presented:
    client = suite.kit.client(role)
    return Presented(
        case=role,
        client_cert=(client.cert, client.key),
        identity=Identity(subject=client.subject, issuer=client.issuer, serial=client.serial),
    )


@given(NO_CERTIFICATE_STEP, target_fixture="presented")
def no_certificate() -> Presented:
    return Presented(case=NO_CERTIFICATE)


@given(ROLE_STEP, target_fixture="presented")
def kit_certificate(role: str, suite: Suite) -> Presented:
    return role_certificate(suite, role)
