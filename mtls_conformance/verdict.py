"""Compare an outcome with a profile's expectation: a list of plain-language differences."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from mtls_conformance.outcome import Outcome
from mtls_conformance.profiles.base import Expectation, HeaderNames
from mtls_conformance.values import same_dn, same_serial


@dataclass(frozen=True)
class Identity:
    """What the presented client certificate says about itself."""

    subject: str
    issuer: str
    serial: int


def is_accepted(outcome: Outcome) -> bool:
    """The target let the request through to the backend (a redirect counts, an error does not)."""
    return outcome.kind == "http" and outcome.status is not None and 200 <= outcome.status < 400


def refusal_matches(expectation: Expectation, outcome: Outcome) -> bool:
    if outcome.kind == "http":
        if outcome.status not in expectation.statuses:
            return False
        return expectation.page_title is None or outcome.page_title == expectation.page_title
    return outcome.kind == "alert" and outcome.alert in expectation.alerts


ECHO_MISSING = (
    'the echo endpoint did not answer with {"headers": {...}}, so what the backend received '
    "cannot be checked (is --echo-path right?)"
)


def differences(
    expectation: Expectation,
    outcome: Outcome,
    headers: HeaderNames,
    identity: Identity | None,
) -> list[str]:
    """Everything in ``outcome`` that contradicts ``expectation``; empty when it conforms."""
    if not expectation.accepted:
        if refusal_matches(expectation, outcome):
            return []
        if is_accepted(outcome):
            return ["the request was accepted"]
        return [f"refused differently: {outcome.summary()}"]
    if not is_accepted(outcome):
        return [f"the request was not accepted: {outcome.summary()}"]
    if outcome.echo_missing and (expectation.verify_values or expectation.identity):
        return [ECHO_MISSING]
    problems: list[str] = []
    if expectation.verify_values and headers.verify is not None:
        problems.extend(_verify_header_problems(expectation, outcome, headers.verify))
    if expectation.identity and identity is not None and outcome.echoed_headers is not None:
        problems.extend(_identity_problems(outcome, headers, identity))
    return problems


def _verify_header_problems(expectation: Expectation, outcome: Outcome, name: str) -> list[str]:
    if outcome.echoed_headers is None:
        return []  # status-only endpoint: the verify header cannot be seen
    value = outcome.echoed(name)
    wanted = " or ".join(sorted(expectation.verify_values))
    if value is None:
        return [f"the backend received no {name} header (expected {wanted})"]
    if value not in expectation.verify_values:
        return [f"the backend received {name}: {value} (expected {wanted})"]
    return []


def _identity_problems(outcome: Outcome, headers: HeaderNames, identity: Identity) -> list[str]:
    problems: list[str] = []
    checks: tuple[tuple[str | None, Callable[[str], bool], str], ...] = (
        (headers.subject, partial(_dn_matches, identity.subject), identity.subject),
        (headers.issuer, partial(_dn_matches, identity.issuer), identity.issuer),
        (headers.serial, partial(_serial_matches, identity.serial), f"{identity.serial:X} (hex)"),
    )
    for name, matches, wanted in checks:
        if name is None:
            continue
        value = outcome.echoed(name)
        if value is None:
            problems.append(f"the backend received no {name} header (expected {wanted})")
        elif not matches(value):
            problems.append(f"the backend received {name}: {value} (expected {wanted})")
    return problems


def _dn_matches(expected: str, observed: str) -> bool:
    return same_dn(observed, expected)


def _serial_matches(expected: int, observed: str) -> bool:
    return same_serial(observed, expected)
