"""HAProxy (`verify required` / `verify optional`, ca-file + crl-file): refusal is a TLS alert.

Measured on HAProxy 2.6 / OpenSSL 3.0 with examples/haproxy/: the alerts are OpenSSL's own
mapping of the verify error, in TLS 1.2 and 1.3 alike, except for a missing certificate
(handshake_failure in 1.2, certificate_required in 1.3). `verify optional` lets a request
without a certificate through but still refuses an invalid one in the handshake.
X-SSL-Client-Verify is not an HAProxy variable: examples/haproxy/ builds it from ssl_c_used
and ssl_c_verify (which is 0 both for success and for no certificate) as SUCCESS / NONE.
"""

from __future__ import annotations

from mtls_conformance.cases import LEAF_WITHOUT_CHAIN
from mtls_conformance.profiles.base import HeaderNames
from mtls_conformance.profiles.handshake_refusal import HandshakeRefusal

# The alerts OpenSSL 3.0 sends for each kit case (ssl_verify_alarm_type); HAProxy and
# Apache httpd share them.
OPENSSL_REFUSALS: dict[str, frozenset[str]] = {
    "expired": frozenset({"certificate_expired"}),
    "not-yet-valid": frozenset({"bad_certificate"}),
    "untrusted": frozenset({"unknown_ca"}),
    # with or without the CRL ("unable to get certificate CRL" maps to unknown_ca too)
    "self-signed-untrusted": frozenset({"unknown_ca"}),
    "wrong-eku": frozenset({"unsupported_certificate"}),
    LEAF_WITHOUT_CHAIN: frozenset({"unknown_ca"}),
}
OPENSSL_NO_CERTIFICATE = frozenset({"handshake_failure", "certificate_required"})  # 1.2, 1.3
OPENSSL_REVOKED = frozenset({"certificate_revoked"})

HAPROXY = HandshakeRefusal(
    name="haproxy",
    summary="HAProxy with verify required / optional: refusal is a TLS alert "
    "(certificate_required or handshake_failure, certificate_expired, unknown_ca, ...); "
    "X-SSL-Client-Verify SUCCESS / NONE built from ssl_c_used + ssl_c_verify",
    headers=HeaderNames(),
    no_certificate_alerts=OPENSSL_NO_CERTIFICATE,
    refusals=OPENSSL_REFUSALS,
    crl_alerts=OPENSSL_REVOKED,
)
