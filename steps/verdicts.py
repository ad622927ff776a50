"""Then steps: compare what the target did with what the profile says it should do."""

from __future__ import annotations

import pytest
from pytest_bdd import then

from fixtures.evidence import note
from fixtures.reporting import VerdictMismatch
from fixtures.suite import Suite
from mtls_conformance.diagnose import diagnose
from mtls_conformance.forgery import leaked
from mtls_conformance.profiles.base import Expectation
from mtls_conformance.verdict import ECHO_MISSING, differences, is_accepted
from steps.calls import Exchange
from steps.certificates import Presented


def _expectation(suite: Suite, exchange: Exchange) -> Expectation:
    situation = exchange.situation
    return suite.profile.expect(situation.mode, situation.case, crl_loaded=suite.crl_loaded)


def _fail(suite: Suite, exchange: Exchange, expectation: Expectation, problems: list[str]) -> None:
    __tracebackhide__ = True
    diagnosis = diagnose(exchange.situation, expectation, exchange.outcome, problems)
    raise VerdictMismatch(f"[profile {suite.profile.name}] " + diagnosis.render())


def _judge(
    request: pytest.FixtureRequest,
    suite: Suite,
    exchange: Exchange,
    presented: Presented,
    *,
    accepted: bool | None,
) -> None:
    """The full comparison; ``accepted`` is what the step's wording promises, if anything."""
    __tracebackhide__ = True
    expectation = _expectation(suite, exchange)
    if accepted is not None and expectation.accepted != accepted:
        situation = exchange.situation
        raise pytest.UsageError(
            f"profile {suite.profile.name} expects the {situation.case} case in "
            f"{situation.mode} mode to be {expectation.describe()}, which contradicts this "
            "scenario's wording: the scenario does not fit this profile"
        )
    note(request, f"expected ({suite.profile.name}): {expectation.describe()}")
    problems = differences(expectation, exchange.outcome, suite.profile.headers, presented.identity)
    if problems:
        _fail(suite, exchange, expectation, problems)


@then("the request is refused")
def request_refused(
    request: pytest.FixtureRequest, suite: Suite, exchange: Exchange, presented: Presented
) -> None:
    __tracebackhide__ = True
    _judge(request, suite, exchange, presented, accepted=False)


@then("the request is accepted")
def request_accepted(
    request: pytest.FixtureRequest, suite: Suite, exchange: Exchange, presented: Presented
) -> None:
    __tracebackhide__ = True
    _judge(request, suite, exchange, presented, accepted=True)


@then("the request is not treated as verified")
def not_verified(
    request: pytest.FixtureRequest, suite: Suite, exchange: Exchange, presented: Presented
) -> None:
    """Refused, or forwarded with a verify value that is not success: the profile says which."""
    __tracebackhide__ = True
    _judge(request, suite, exchange, presented, accepted=None)


def _verify_value_is(suite: Suite, exchange: Exchange, wanted: str) -> None:
    __tracebackhide__ = True
    name = suite.profile.headers.verify
    if name is None:
        return  # this kind of target forwards no verify header; acceptance was judged already
    value = exchange.outcome.echoed(name)
    if value != wanted:
        shown = "no such header" if value is None else value
        expectation = Expectation(accepted=True, verify_values=frozenset({wanted}))
        _fail(
            suite,
            exchange,
            expectation,
            [f"the backend received {name}: {shown} (expected {wanted})"],
        )


@then("the backend is told the certificate was verified")
def told_verified(suite: Suite, exchange: Exchange) -> None:
    __tracebackhide__ = True
    _verify_value_is(suite, exchange, suite.profile.verify_success)


@then("the backend is told no certificate was presented")
def told_no_certificate(suite: Suite, exchange: Exchange) -> None:
    __tracebackhide__ = True
    _verify_value_is(suite, exchange, suite.profile.verify_none)


@then("the backend receives the certificate's subject, issuer and serial")
def told_identity(suite: Suite, exchange: Exchange, presented: Presented) -> None:
    __tracebackhide__ = True
    expectation = Expectation(accepted=True, identity=True)
    problems = differences(expectation, exchange.outcome, suite.profile.headers, presented.identity)
    if problems:
        _fail(suite, exchange, expectation, problems)


@then("none of the forged header values reach the backend")
def forged_headers_dropped(suite: Suite, exchange: Exchange) -> None:
    __tracebackhide__ = True
    if exchange.outcome.echo_missing:
        _fail(suite, exchange, Expectation(accepted=True), [ECHO_MISSING])
    passed = leaked(dict(exchange.outcome.echoed_headers or {}))
    if passed:
        expectation = Expectation(accepted=True)
        _fail(
            suite,
            exchange,
            expectation,
            [
                f"the backend received the client's forged {name}: {value}"
                for name, value in sorted(passed.items())
            ],
        )


@then("the request does not reach the backend")
def not_forwarded(request: pytest.FixtureRequest, suite: Suite, exchange: Exchange) -> None:
    """Any refusal counts (an HTTP error, a TLS alert, a closed connection)."""
    __tracebackhide__ = True
    outcome = exchange.outcome
    note(request, "expected: any refusal (HTTP 4xx/5xx, TLS alert, closed connection)")
    if is_accepted(outcome):
        expectation = Expectation(accepted=False, statuses=frozenset({400, 403, 421}))
        _fail(
            suite,
            exchange,
            expectation,
            ["the request reached the backend without a client certificate"],
        )
    if outcome.untestable or outcome.kind == "timeout":
        expectation = Expectation(accepted=False)
        _fail(suite, exchange, expectation, [f"could not tell: {outcome.summary()}"])
