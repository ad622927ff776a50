"""When steps: one fresh connection and one request to the target.

All probes of a run are planned up front from the scenarios' own step texts and started
together (see mtls_conformance.prober); each When step then collects its scenario's outcome.
A step the planner did not foresee simply probes on the spot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Literal

import pytest
from pytest_bdd import parsers, when

from fixtures.evidence import note
from fixtures.scenarios import rendered_scenario
from fixtures.suite import UNREACHABLE_KEY, Suite, endpoint_index, scenario_mode
from mtls_conformance.cases import Mode
from mtls_conformance.diagnose import Situation
from mtls_conformance.forgery import forged_headers
from mtls_conformance.outcome import Outcome
from mtls_conformance.prober import ProbeRequest, Request
from steps.certificates import Presented, presented_for

CallKind = Literal["api", "echo", "forged", "no-sni", "other-sni"]

# What follows "the client calls " in a When step, and the kind of probe it makes.
CALLS: dict[str, CallKind] = {
    "the API": "api",
    "the echo endpoint": "echo",
    "the echo endpoint with forged identity headers": "forged",
    "the API without SNI": "no-sni",
    "the API with SNI naming another host": "other-sni",
}
CALL_STEP = parsers.re(
    "the client calls (?P<call>" + "|".join(re.escape(call) for call in CALLS) + ")$"
)

# A name no load balancer serves: whatever site answers it is the fallback one.
OTHER_SNI = "sni-mismatch.mtls-conformance.invalid"


@dataclass(frozen=True)
class Exchange:
    """One probe and the situation it was made in: what the Then steps judge."""

    situation: Situation
    outcome: Outcome
    sent_headers: dict[str, str]


def probe_request(
    suite: Suite, mode: Mode, presented: Presented, kind: CallKind
) -> ProbeRequest | None:
    """The probe a When step of ``kind`` makes (None: it needs an echo path there is not)."""
    echo = kind in ("echo", "forged")
    path = suite.echo_path if echo else suite.path
    if path is None:
        return None
    headers = forged_headers(suite.profile.headers) if kind == "forged" else {}
    target = suite.targets[mode]
    if kind in ("no-sni", "other-sni"):
        # The fallback site may present another certificate; what matters here is whether
        # the request gets through, so this probe does not verify the server.
        target = replace(target, sni="" if kind == "no-sni" else OTHER_SNI, insecure=True)
    return ProbeRequest(
        target=target,
        path=path,
        client_cert=presented.client_cert,
        headers=tuple(sorted(headers.items())),
        echo=echo,
    )


def _call(
    request: pytest.FixtureRequest, suite: Suite, mode: Mode, presented: Presented, kind: CallKind
) -> Exchange:
    planned = probe_request(suite, mode, presented, kind)
    if planned is None:
        pytest.skip("needs --echo-path: an endpoint that echoes the headers the backend got")
    outcome = suite.prober.outcome(request.node.nodeid, planned)
    situation = Situation(
        mode=mode,
        case=presented.case,
        target=planned.target,
        path=planned.path,
        client_cert=presented.client_cert,
        headers=suite.profile.headers,
    )
    note(
        request,
        f"{planned.target.label}{planned.path} ({mode}, {presented.case}): {outcome.summary()}",
    )
    return Exchange(situation, outcome, dict(planned.headers))


@when(CALL_STEP, target_fixture="exchange")
def call_target(
    request: pytest.FixtureRequest, suite: Suite, mode: Mode, presented: Presented, call: str
) -> Exchange:
    return _call(request, suite, mode, presented, CALLS[call])


# --- planning: every scenario's probe, started before the first scenario runs


def planned_request(suite: Suite, item: pytest.Item) -> Request[Any] | None:
    """The probe ``item``'s When step will make, read from its rendered Gherkin steps."""
    # Imported here: steps.server is a plugin of its own, which pytest must import itself
    # (importing it at the top of this module would keep pytest from rewriting its asserts).
    from steps.server import server_request

    scenario = rendered_scenario(item)
    mode = scenario_mode(item) or suite.default_mode
    if scenario is None or mode not in suite.targets:
        return None
    presented: Presented | None = None
    for step in scenario.steps:
        handshake = server_request(suite, mode, step.name)
        if handshake is not None:
            return handshake
        presented = presented_for(suite, step.name) or presented
        arguments = CALL_STEP.parse_arguments(step.name)
        if presented is not None and arguments is not None:
            return probe_request(suite, mode, presented, CALLS[arguments["call"]])
    return None


@pytest.fixture(scope="session", autouse=True)
def _start_all_probes(request: pytest.FixtureRequest, suites: list[Suite]) -> None:
    """Submit every selected scenario's probe to the pool at once, for every target."""
    unreachable = request.config.stash.get(UNREACHABLE_KEY, {})
    for item in request.session.items:
        index = endpoint_index(item)
        if item.get_closest_marker("skip") is not None or index in unreachable:
            continue
        suite = suites[index]
        planned = planned_request(suite, item)
        if planned is not None:
            suite.prober.submit(item.nodeid, planned)
