"""The embedded reference DLB: an mTLS terminator with nginx 1.22 semantics plus an echo backend.

The MuleSoft CloudHub Dedicated Load Balancer is nginx underneath; examples/nginx/ holds the
nginx configs this package was measured against (nginx 1.22.1, OpenSSL 3.0), one per mode.
Compared byte for byte with those configs (Date aside): every kit role x mode x TLS 1.2/1.3,
with and without a CRL, plus SNI/Host and malformed-request cases: no difference.

Measured facts worth knowing (each mirrored here):
- The handshake always completes; refusal is an HTTP 400 page with `Connection: close`.
- An empty proxy_set_header value omits the header; the client's copies are dropped anyway
  (any case, duplicates); header names with '_' never pass (ignore_invalid_headers).
- 421 needs SNI naming one of the port's server names and more than one server block on
  the port; with a single server block nginx never answers 421.
- With a CRL, OpenSSL 3.0 checks every certificate of the chain, a self-signed top
  included (see crl30.py); wrong EKU reads "unsuitable certificate purpose".
- ssl_verify_depth's default 1 already admits one client-sent intermediate.

Deviations, on purpose: every answer closes the connection (nginx keeps 200 and 421 alive
for HTTP/1.1); an ALPN offer without http/1.x is declined instead of alerted; the idle
timeout defaults to 10 s (nginx: 60 s); MSIE padding of error pages is not reproduced.
"""

from mtls_conformance.reference.config import ListenerConfig, ListenerMode
from mtls_conformance.reference.echo import ECHO_PATH
from mtls_conformance.reference.server import ReferenceDLB, ReferenceServerError

__all__ = ["ECHO_PATH", "ListenerConfig", "ListenerMode", "ReferenceDLB", "ReferenceServerError"]
