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

CADDY = HandshakeRefusal(
    name="caddy",
    summary="Caddy with client_auth require_and_verify / verify_if_given: refusal is TLS alert "
    "bad_certificate; no verify header, decimal serial; no CRL support",
    headers=HeaderNames(verify=None),
    no_certificate_alerts=BAD_CERTIFICATE,
    refusals={case: BAD_CERTIFICATE for case in INVALID_ROLE_REASONS if case != REVOKED},
    crl_alerts=None,
    unchecked_revocation_alerts=BAD_CERTIFICATE,
)
