"""Caddy (`client_auth` require_and_verify / verify_if_given): refusal is a TLS alert.

Measured on Caddy 2.6 (Go crypto/tls) with examples/caddy/: every refusal, a missing
certificate included, is bad_certificate in TLS 1.2 and 1.3 alike. Caddy cannot load a CRL,
so a revoked certificate is accepted and the revocation scenario (--with-crl) fails. Caddy
has no placeholder for the verify result, so no verify header is checked; the serial it
forwards is decimal.
"""

from __future__ import annotations

from mtls_conformance.cases import INVALID_ROLE_REASONS
from mtls_conformance.profiles.base import HeaderNames
from mtls_conformance.profiles.handshake_refusal import REVOKED, HandshakeRefusal

BAD_CERTIFICATE = frozenset({"bad_certificate"})

# Measured: Caddy 2.6 (Go 1.19) says bad_certificate for everything. Later Go releases
# (Caddy 2.7+) name the problem instead: certificate_required when none was sent under
# TLS 1.3, unknown_ca, certificate_expired (also for not yet valid) and
# unsupported_certificate. Not measured here; accepted so a correct newer Caddy is not
# reported as refusing "differently". Either way it is a refusal, so no mistake can pass.
_NEWER_GO: dict[str, frozenset[str]] = {
    "no-certificate": frozenset({"certificate_required"}),
    "expired": frozenset({"certificate_expired"}),
    "not-yet-valid": frozenset({"certificate_expired"}),
    "untrusted": frozenset({"unknown_ca"}),
    "self-signed-untrusted": frozenset({"unknown_ca"}),
    "intermediate-signed-without-chain": frozenset({"unknown_ca"}),
    "wrong-eku": frozenset({"unsupported_certificate"}),
}

CADDY = HandshakeRefusal(
    name="caddy",
    summary="Caddy with client_auth require_and_verify / verify_if_given: refusal is TLS alert "
    "bad_certificate; no verify header, decimal serial; no CRL support",
    headers=HeaderNames(verify=None),
    no_certificate_alerts=BAD_CERTIFICATE | _NEWER_GO["no-certificate"],
    refusals={
        case: BAD_CERTIFICATE | _NEWER_GO.get(case, frozenset())
        for case in INVALID_ROLE_REASONS
        if case != REVOKED
    },
    crl_alerts=None,
    unchecked_revocation_alerts=BAD_CERTIFICATE,
)
