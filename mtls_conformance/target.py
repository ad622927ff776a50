"""Where a probe goes and how the target's own certificate is checked."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

TlsVersion = Literal["1.2", "1.3"]

TLS_VERSIONS: dict[TlsVersion, ssl.TLSVersion] = {
    "1.2": ssl.TLSVersion.TLSv1_2,
    "1.3": ssl.TLSVersion.TLSv1_3,
}


@dataclass(frozen=True)
class Target:
    """One TLS endpoint under test.

    ``host`` is what the client believes it talks to (SNI, Host header, certificate check);
    ``connect_to`` is where the TCP connection really goes, like curl's ``--resolve``.
    """

    host: str
    port: int = 443
    connect_to: str | None = None
    server_ca: Path | None = None
    insecure: bool = False
    timeout: float = 10.0
    tls_version: TlsVersion | None = None
    # What to send as SNI instead of ``host`` ("" sends none); the server certificate is
    # still checked against ``host``. For probing SNI / Host mismatches.
    sni: str | None = None

    @property
    def server_name(self) -> str | None:
        """The SNI this target's probes send (None: no SNI at all)."""
        if self.sni is None:
            return self.host
        return self.sni or None

    @property
    def sni_overridden(self) -> bool:
        return self.sni is not None and self.sni != self.host

    @property
    def address(self) -> str:
        """The address the TCP connection goes to."""
        return self.connect_to or self.host

    @property
    def authority(self) -> str:
        """``host[:port]`` as it belongs in a Host header or URL (port omitted when 443)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == 443 else f"{host}:{self.port}"

    @property
    def label(self) -> str:
        """``host:port`` as shown in messages."""
        return f"{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return f"https://{self.authority}{path}"

    def server_context(
        self, context_class: type[ssl.SSLContext] = ssl.SSLContext
    ) -> ssl.SSLContext:
        """A client context that checks the server the way the user asked, and nothing more.

        Built by hand so no environment variable (``REQUESTS_CA_BUNDLE``, ``SSL_CERT_FILE`` via
        certifi) can swap the trust the user chose on the command line.
        """
        context = context_class(ssl.PROTOCOL_TLS_CLIENT)
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif self.server_ca is not None:
            context.load_verify_locations(cafile=str(self.server_ca))
        else:
            context.load_default_certs(ssl.Purpose.SERVER_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.tls_version is not None:
            context.minimum_version = TLS_VERSIONS[self.tls_version]
            context.maximum_version = TLS_VERSIONS[self.tls_version]
        return context
