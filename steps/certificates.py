"""Given steps: which certificate the client presents."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_bdd import given, parsers

from fixtures.suite import Suite
from mtls_conformance.cases import LEAF_WITHOUT_CHAIN, NO_CERTIFICATE
from mtls_conformance.verdict import Identity

NO_CERTIFICATE_STEP = parsers.string("the client presents no certificate")
ROLE_STEP = parsers.parse('the client presents the "{role}" certificate')
LEAF_ONLY_STEP = parsers.parse(
    'the client presents the "{role}" certificate without its intermediate'
)


@dataclass(frozen=True)
class Presented:
    """The certificate situation of one scenario: a kit role, or no certificate at all."""

    case: str
    client_cert: tuple[Path, Path] | None = None
    identity: Identity | None = None


def presented_for(suite: Suite, step_text: str) -> Presented | None:
    """What a Given step with this text presents (None: not a certificate step, or a role
    this kit does not have, whose scenario the step itself will skip)."""
    if NO_CERTIFICATE_STEP.is_matching(step_text):
        return Presented(case=NO_CERTIFICATE)
    for parser, present in ((ROLE_STEP, role_certificate), (LEAF_ONLY_STEP, leaf_only_certificate)):
        if parser.is_matching(step_text):
            role = parser.parse_arguments(step_text)["role"]
            return None if role in suite.kit.unavailable else present(suite, role)
    return None


def _skip_if_unavailable(suite: Suite, role: str) -> None:
    """A kit imported from the user's own certificates may lack roles only their CA can make."""
    reason = suite.kit.unavailable.get(role)
    if reason is not None:
        pytest.skip(f"the kit has no {role!r} certificate: {reason}")


def role_certificate(suite: Suite, role: str) -> Presented:
    client = suite.kit.client(role)
    return Presented(
        case=role,
        client_cert=(client.cert, client.key),
        identity=Identity(subject=client.subject, issuer=client.issuer, serial=client.serial),
    )


def leaf_only_certificate(suite: Suite, role: str) -> Presented:
    """The role's leaf alone: what a client sends when its chain file lacks the intermediate."""
    full = role_certificate(suite, role)
    if full.client_cert is None:
        raise ValueError(f"role {role} has no certificate")
    certificate, key = full.client_cert
    leaf = leaf_only_file(certificate)
    return Presented(case=LEAF_WITHOUT_CHAIN, client_cert=(leaf, key), identity=full.identity)


def leaf_only_file(chain: Path) -> Path:
    """A PEM file holding the first certificate of ``chain`` only, named by its content so
    concurrent runs with different kits never overwrite each other's."""
    text = chain.read_text()
    end = "-----END CERTIFICATE-----"
    leaf = text[: text.index(end) + len(end)] + "\n"
    digest = hashlib.sha256(leaf.encode()).hexdigest()[:20]
    target = Path(tempfile.gettempdir()) / "mtls-conformance-leaf-only" / f"{digest}.pem"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_suffix(f".{os.getpid()}.tmp")
        staging.write_text(leaf)
        os.replace(staging, target)
    return target


@given(NO_CERTIFICATE_STEP, target_fixture="presented")
def no_certificate() -> Presented:
    return Presented(case=NO_CERTIFICATE)


@given(ROLE_STEP, target_fixture="presented")
def kit_certificate(role: str, suite: Suite) -> Presented:
    _skip_if_unavailable(suite, role)
    return role_certificate(suite, role)


@given(LEAF_ONLY_STEP, target_fixture="presented")
def kit_certificate_without_chain(role: str, suite: Suite) -> Presented:
    _skip_if_unavailable(suite, role)
    return leaf_only_certificate(suite, role)
