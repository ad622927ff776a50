"""The embedded reference DLB: an mTLS terminator with nginx 1.22 semantics plus an echo backend.

The MuleSoft CloudHub Dedicated Load Balancer is nginx underneath; examples/nginx/ holds the
nginx configs this package was measured against, one per validation mode.
"""

from mtls_conformance.reference.config import ListenerConfig, ListenerMode
from mtls_conformance.reference.echo import ECHO_PATH
from mtls_conformance.reference.server import ReferenceDLB, ReferenceServerError

__all__ = ["ECHO_PATH", "ListenerConfig", "ListenerMode", "ReferenceDLB", "ReferenceServerError"]
