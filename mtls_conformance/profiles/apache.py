"""Apache httpd mod_ssl (`SSLVerifyClient require` / `optional`): refusal is a TLS alert.

Measured on Apache 2.4 / OpenSSL 3.0 with examples/apache/: the same alerts as HAProxy
(both are OpenSSL's mapping of the verify error). `SSLVerifyClient optional` lets a request
without a certificate through but refuses an invalid one in the handshake. The verify header
is mod_ssl's SSL_CLIENT_VERIFY: SUCCESS or NONE (GENEROUS and FAILED:<reason> only appear
with the lenient optional_no_ca, which the reference configuration does not use).
"""

from __future__ import annotations

from mtls_conformance.profiles.base import HeaderNames
from mtls_conformance.profiles.handshake_refusal import HandshakeRefusal
from mtls_conformance.profiles.haproxy import (
    OPENSSL_NO_CERTIFICATE,
    OPENSSL_REFUSALS,
    OPENSSL_REVOKED,
)

APACHE = HandshakeRefusal(
    name="apache",
    summary="Apache httpd with SSLVerifyClient require / optional: refusal is a TLS alert "
    "(as HAProxy); X-SSL-Client-Verify is SSL_CLIENT_VERIFY (SUCCESS / NONE)",
    headers=HeaderNames(),
    no_certificate_alerts=OPENSSL_NO_CERTIFICATE,
    refusals=OPENSSL_REFUSALS,
    crl_alerts=OPENSSL_REVOKED,
)
