"""Real nginx configured like the DLB (or deliberately wrong), for end-to-end self-tests.

The configuration mirrors what the DLB does with an admin's settings: the uploaded truststore
becomes ssl_client_certificate, Mandatory is ``ssl_verify_client on``, Optional is
``optional`` with nginx's 495 error forwarded to the backend, and the identity headers are
set with proxy_set_header (which replaces any copy the client sent).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from realservers import NginxServer

from mtls_conformance.kit import Kit

IDENTITY_HEADERS = {
    "X-SSL-Client-Verify": "$ssl_client_verify",
    "X-SSL-Client-DN": "$ssl_client_s_dn",
    "X-SSL-Issuer": "$ssl_client_i_dn",
    "X-SSL-Client-Serial": "$ssl_client_serial",
}


@dataclass(frozen=True)
class DlbNginx:
    """One listener's settings; each field that differs from the default is a mistake."""

    mode: str  # "mandatory" | "optional"
    verify_client: str | None = None  # None: what the mode implies
    truststore: Path | None = None  # None: the kit's truststore.pem
    crl: bool = True
    forwarded: tuple[str, ...] = tuple(IDENTITY_HEADERS)
    forward_invalid: bool | None = None  # None: what the mode implies (Optional forwards)
    verify_depth: int = 3
    protocols: str = "TLSv1.2 TLSv1.3"
    ciphers: str | None = None
    # Verified against, but not advertised (ssl_trusted_certificate): what is not uploaded
    # into the advertised list still gets accepted.
    trusted_unadvertised: Path | None = None
    # A default site on the same port that asks for no client certificate and proxies to the
    # same backend: the SNI / Host bypass.
    fallback_site: bool = False
    server_cert: tuple[Path, Path] | None = None  # (cert, key); None: the kit's

    def wrong(self, **changes: object) -> DlbNginx:
        return replace(self, **changes)  # type: ignore[arg-type]

    def server_block(self, kit: Kit, port: str, backend_port: int) -> str:
        verify = self.verify_client or ("on" if self.mode == "mandatory" else "optional")
        forward_invalid = (
            (self.mode == "optional") if self.forward_invalid is None else self.forward_invalid
        )
        headers = "".join(
            f"        proxy_set_header {name} {IDENTITY_HEADERS[name]};\n"
            for name in self.forwarded
        )
        crl = f"    ssl_crl {kit.crl};\n" if self.crl else ""
        forward = "    error_page 495 = @forward;\n" if forward_invalid else ""
        cert, key = self.server_cert or (kit.server_cert, kit.server_key)
        tls = (
            f"    ssl_certificate {cert};\n"
            f"    ssl_certificate_key {key};\n"
            f"    ssl_protocols {self.protocols};\n"
            + (f"    ssl_ciphers {self.ciphers};\n" if self.ciphers else "")
        )
        trusted = (
            f"    ssl_trusted_certificate {self.trusted_unadvertised};\n"
            if self.trusted_unadvertised
            else ""
        )
        fallback = (
            (
                "server {\n"
                f"    listen 127.0.0.1:{port} ssl default_server;\n"
                "    server_name _;\n"
                f"{tls}"
                f"    location / {{ proxy_pass http://127.0.0.1:{backend_port}; }}\n"
                "}\n"
            )
            if self.fallback_site
            else ""
        )
        return fallback + (
            "server {\n"
            f"    listen 127.0.0.1:{port} ssl;\n"
            "    server_name localhost;\n"
            f"{tls}{trusted}"
            f"    ssl_client_certificate {self.truststore or kit.truststore};\n"
            f"    ssl_verify_client {verify};\n"
            f"    ssl_verify_depth {self.verify_depth};\n"
            f"{crl}{forward}"
            "    location / { try_files /nonexistent @forward; }\n"
            "    location @forward {\n"
            f"        proxy_pass http://127.0.0.1:{backend_port};\n"
            f"{headers}"
            "    }\n"
            "}\n"
        )


def dlb_nginx(kit: Kit, listener: DlbNginx, backend_port: int) -> NginxServer:
    """nginx with one listener on an OS-chosen port; start it with ``with``."""
    return NginxServer(listener.server_block(kit, "@port@", backend_port))
