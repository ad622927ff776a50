"""When steps: one fresh connection and one request to the target."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from pytest_bdd import when

from fixtures.evidence import note
from fixtures.suite import Suite
from mtls_conformance.cases import Mode
from mtls_conformance.diagnose import Situation
from mtls_conformance.forgery import forged_headers
from mtls_conformance.outcome import Outcome
from mtls_conformance.probe import probe
from mtls_conformance.target import Target
from steps.certificates import Presented


@dataclass(frozen=True)
class Exchange:
    """One probe and the situation it was made in: what the Then steps judge."""

    situation: Situation
    outcome: Outcome
    sent_headers: dict[str, str]


def _call(
    request: pytest.FixtureRequest,
    suite: Suite,
    mode: Mode,
    target: Target,
    presented: Presented,
    path: str,
    *,
    echo: bool,
    headers: dict[str, str] | None = None,
) -> Exchange:
    outcome = probe(target, path, client_cert=presented.client_cert, headers=headers, echo=echo)
    situation = Situation(
        mode=mode,
        case=presented.case,
        target=target,
        path=path,
        client_cert=presented.client_cert,
        headers=suite.profile.headers,
    )
    note(request, f"{target.label}{path} ({mode}, {presented.case}): {outcome.summary()}")
    return Exchange(situation, outcome, dict(headers or {}))


def _echo_path(suite: Suite) -> str:
    if suite.echo_path is None:
        pytest.skip("needs --echo-path: an endpoint that echoes the headers the backend got")
    return suite.echo_path


@when("the client calls the API", target_fixture="exchange")
def call_api(
    request: pytest.FixtureRequest, suite: Suite, mode: Mode, target: Target, presented: Presented
) -> Exchange:
    return _call(request, suite, mode, target, presented, suite.path, echo=False)


@when("the client calls the echo endpoint", target_fixture="exchange")
def call_echo(
    request: pytest.FixtureRequest, suite: Suite, mode: Mode, target: Target, presented: Presented
) -> Exchange:
    return _call(request, suite, mode, target, presented, _echo_path(suite), echo=True)


@when("the client calls the echo endpoint with forged identity headers", target_fixture="exchange")
def call_echo_forged(
    request: pytest.FixtureRequest, suite: Suite, mode: Mode, target: Target, presented: Presented
) -> Exchange:
    headers = forged_headers(suite.profile.headers)
    return _call(
        request, suite, mode, target, presented, _echo_path(suite), echo=True, headers=headers
    )
