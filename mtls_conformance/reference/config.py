"""One TLS listener of the reference DLB, described the way an nginx admin would configure it.

Each field maps to one nginx directive (see examples/nginx/dlb-*.conf); each misconfiguration
flag flips exactly one mistake people make, so a negative control can prove the suite notices.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mtls_conformance.errors import InputError

ListenerMode = Literal["mandatory", "optional"]
TLS_VERSIONS: tuple[str, ...] = ("TLSv1.2", "TLSv1.3")


@dataclass(frozen=True)
class ListenerConfig:
    """One TLS listener (one nginx `server` block) in front of the echo backend."""

    mode: ListenerMode  # ssl_verify_client on | optional
    server_cert: Path  # ssl_certificate (leaf first, then its chain)
    server_key: Path  # ssl_certificate_key
    truststore: Path  # ssl_client_certificate: verifies clients and names the CAs we ask for
    crl: Path | None = None  # ssl_crl: every CRL in the file, checked for the whole chain
    # DLB-style Optional (`error_page 495 = @forward`): invalid certificates reach the backend
    # with FAILED:<reason>. False is plain nginx `optional`, which answers them with a 400.
    forward_invalid: bool = True
    # ssl_verify_depth. nginx defaults to 1, which (measured) already admits one intermediate
    # sent by the client; 3 leaves room for deeper client PKIs.
    verify_depth: int = 3
    min_tls: str = "TLSv1.2"  # ssl_protocols, lowest
    max_tls: str = "TLSv1.3"  # ssl_protocols, highest
    # server_name: with SNI equal to one of these, a Host naming anything else gets 421.
    # None: the DNS names of server_cert. nginx only checks this when the port has more than
    # one server block (measured); a DLB serves many names, so the reference always checks.
    server_names: tuple[str, ...] | None = None
    forward_client_cert: bool = False  # proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert

    # Misconfigurations (negative controls). Each is one nginx config mistake.
    mandatory_behaves_optional: bool = False  # admin left Client Certificate Validation Optional
    pass_client_identity_headers: bool = False  # client X-SSL-* copies reach the backend
    forward_verify_header: bool = True  # False: no X-SSL-Client-Verify (client copies dropped)
    ignore_sni_host_mismatch: bool = False  # no 421 (e.g. one server block on the port)
    swallow_errors: bool = False  # `error_page 495 = @forward` copied into a Mandatory server

    def __post_init__(self) -> None:
        if self.mode not in ("mandatory", "optional"):
            raise InputError(f"listener mode {self.mode!r}: choose mandatory or optional")
        for name in ("min_tls", "max_tls"):
            value = getattr(self, name)
            if value not in TLS_VERSIONS:
                raise InputError(f"{name} {value!r}: choose one of {', '.join(TLS_VERSIONS)}")
        if TLS_VERSIONS.index(self.min_tls) > TLS_VERSIONS.index(self.max_tls):
            raise InputError(f"min_tls {self.min_tls} is above max_tls {self.max_tls}")
        if self.verify_depth < 0:
            raise InputError(f"verify_depth {self.verify_depth}: must be 0 or more")

    @property
    def forwards_invalid(self) -> bool:
        """Whether a certificate that fails verification is forwarded (FAILED:...) or gets 400."""
        if self.mode == "mandatory" and self.mandatory_behaves_optional:
            return True
        if self.mode == "optional" and self.forward_invalid:
            return True
        return self.swallow_errors

    @property
    def requires_certificate(self) -> bool:
        """Whether a request without a client certificate gets nginx's 400 (496)."""
        return self.mode == "mandatory" and not self.mandatory_behaves_optional
