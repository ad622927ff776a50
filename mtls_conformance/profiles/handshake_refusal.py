"""Targets that refuse inside the TLS handshake with an alert (HAProxy, Apache, Caddy).

Such a target never answers HTTP to a client it refuses: under TLS 1.2 the alert ends the
handshake, under TLS 1.3 it arrives on the client's first read after the handshake. Which
alert depends on the TLS library and the certificate's problem; each profile lists what
was measured on the real server.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mtls_conformance.cases import NO_CERTIFICATE, Mode, is_trusted
from mtls_conformance.profiles.base import Expectation, Profile

REVOKED = "revoked"


@dataclass(frozen=True)
class HandshakeRefusal(Profile):
    """Mandatory refuses a missing or invalid certificate, Optional only an invalid one.

    ``refusals`` maps each invalid case to the alerts the target sends for it;
    ``crl_alerts`` is the revoked case's once a CRL is loaded (``None``: the target cannot
    load one, so with ``--with-crl`` a revoked certificate is still expected to be refused,
    by the alerts of ``unchecked_revocation_alerts``, and the target fails that scenario).
    """

    no_certificate_alerts: frozenset[str] = frozenset()
    refusals: Mapping[str, frozenset[str]] = field(default_factory=dict, compare=False)
    crl_alerts: frozenset[str] | None = None
    unchecked_revocation_alerts: frozenset[str] = frozenset()

    def _verify_values(self, value: str) -> frozenset[str]:
        return frozenset({value}) if self.headers.verify is not None else frozenset()

    def expect(self, mode: Mode, case: str, *, crl_loaded: bool) -> Expectation:
        verified = Expectation(
            accepted=True, verify_values=self._verify_values(self.verify_success), identity=True
        )
        if is_trusted(case):
            return verified
        if case == NO_CERTIFICATE:
            if mode == "optional":
                return Expectation(
                    accepted=True, verify_values=self._verify_values(self.verify_none)
                )
            return Expectation(accepted=False, alerts=self.no_certificate_alerts)
        if case == REVOKED:
            if not crl_loaded:
                return Expectation(
                    accepted=True,
                    verify_values=verified.verify_values,
                    identity=True,
                    note="without a CRL a revoked certificate verifies like any other",
                )
            if self.crl_alerts is None:
                return Expectation(
                    accepted=False,
                    alerts=self.unchecked_revocation_alerts,
                    note=f"{self.name} cannot load a CRL: it accepts revoked certificates",
                )
            return Expectation(accepted=False, alerts=self.crl_alerts)
        try:
            alerts = self.refusals[case]
        except KeyError:
            raise ValueError(f"profile {self.name}: no measured refusal for {case!r}") from None
        return Expectation(accepted=False, alerts=alerts)
