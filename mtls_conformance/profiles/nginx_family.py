"""nginx and the MuleSoft DLB (nginx underneath): the handshake completes, refusal is HTTP 400."""

from __future__ import annotations

from dataclasses import dataclass

from mtls_conformance.cases import NO_CERTIFICATE, Mode, failure_reasons, is_trusted
from mtls_conformance.profiles.base import Expectation, Profile

NO_CERT_TITLE = "400 No required SSL certificate was sent"
CERT_ERROR_TITLE = "400 The SSL certificate error"


def failed_values(reasons: tuple[str, ...]) -> frozenset[str]:
    return frozenset(f"FAILED:{reason}" for reason in reasons)


@dataclass(frozen=True)
class NginxFamily(Profile):
    """``ssl_verify_client on`` for Mandatory; ``optional`` for Optional.

    ``optional_forwards_invalid`` is the DLB's Optional mode: nginx's 495 error is routed to the
    backend (``error_page 495 = @forward``) with ``X-SSL-Client-Verify: FAILED:<reason>``.
    """

    optional_forwards_invalid: bool = True

    def expect(self, mode: Mode, case: str, *, crl_loaded: bool) -> Expectation:
        if is_trusted(case):
            return Expectation(
                accepted=True, verify_values=frozenset({self.verify_success}), identity=True
            )
        if case == NO_CERTIFICATE:
            if mode == "optional":
                return Expectation(accepted=True, verify_values=frozenset({self.verify_none}))
            return Expectation(accepted=False, statuses=frozenset({400}), page_title=NO_CERT_TITLE)
        reasons = failure_reasons(case, crl_loaded=crl_loaded)
        if mode == "optional" and self.optional_forwards_invalid:
            return Expectation(accepted=True, verify_values=failed_values(reasons))
        return Expectation(
            accepted=False,
            statuses=frozenset({400}),
            page_title=CERT_ERROR_TITLE,
            note=f"nginx logs: {reasons[0]}",
        )


MULESOFT_DLB = NginxFamily(
    name="mulesoft-dlb",
    summary="MuleSoft CloudHub Dedicated Load Balancer (nginx): refusal is HTTP 400; "
    "Optional forwards invalid certificates with FAILED:<reason>",
)

NGINX = NginxFamily(
    name="nginx",
    summary="nginx with ssl_verify_client on / optional: refusal is HTTP 400 in both modes",
    optional_forwards_invalid=False,
)
