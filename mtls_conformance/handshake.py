"""Facts about the target's side of the TLS handshake, read without sending a request.

- which CA names it advertises in its CertificateRequest (pyOpenSSL, since Python's ssl module
  does not expose them): the DLB's UI shows only the first certificate of an uploaded bundle,
  so this is how to see what was really loaded;
- its own certificate chain as our client verified it;
- whether it still accepts a legacy protocol version.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from OpenSSL import SSL

from mtls_conformance.alerts import alert_from_error
from mtls_conformance.target import Target

LegacyVersion = Literal["1.0", "1.1"]
_LEGACY: dict[LegacyVersion, ssl.TLSVersion] = {
    "1.0": ssl.TLSVersion.TLSv1,
    "1.1": ssl.TLSVersion.TLSv1_1,
}


@dataclass(frozen=True)
class CaNames:
    """The CA distinguished names a target asked the client to choose a certificate from."""

    names: tuple[str, ...]  # OpenSSL slash form, most general first: /O=Example Org/CN=...
    error: str | None = None  # the handshake went wrong before we could read them


def advertised_ca_names(target: Target, client_cert: tuple[Path, Path] | None = None) -> CaNames:
    """Run a handshake (optionally presenting ``client_cert``) and read the CA name list.

    Server verification is skipped here: it is checked by its own scenario, and a target
    that fails it should still show what it advertises.
    """
    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    context.set_verify(SSL.VERIFY_NONE)
    if target.tls_version == "1.2":
        context.set_max_proto_version(SSL.TLS1_2_VERSION)
    if client_cert is not None:
        context.use_certificate_chain_file(str(client_cert[0]))
        context.use_privatekey_file(str(client_cert[1]))
    error: str | None = None
    with _tcp(target) as sock:
        connection = SSL.Connection(context, sock)
        if not _is_ip(target.host):
            connection.set_tlsext_host_name(target.host.encode("idna"))
        connection.set_connect_state()
        try:
            _handshake_within(connection, sock, target.timeout)
        except (SSL.Error, OSError) as failure:
            # A refusal after the CertificateRequest still leaves the names readable.
            error = str(failure) or type(failure).__name__
        names = tuple(_slash_form(name) for name in connection.get_client_ca_list())
    return CaNames(names=names, error=error if not names else None)


def _handshake_within(connection: SSL.Connection, sock: socket.socket, timeout: float) -> None:
    """pyOpenSSL on a socket with a timeout is non-blocking: wait for readiness ourselves."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            connection.do_handshake()
            return
        except (SSL.WantReadError, SSL.WantWriteError) as want:
            remaining = deadline - time.monotonic()
            reading = isinstance(want, SSL.WantReadError)
            ready = select.select(
                [sock] if reading else [], [] if reading else [sock], [], max(remaining, 0)
            )
            if remaining <= 0 or not any(ready):
                raise TimeoutError(f"no TLS handshake within {timeout:g} s") from None


def _slash_form(name: object) -> str:
    components = name.get_components()  # type: ignore[attr-defined]
    return "".join(
        f"/{key.decode()}={value.decode('utf-8', 'replace')}" for key, value in components
    )


@dataclass(frozen=True)
class ServerCertificate:
    """The target's leaf certificate, verified for ``target.host`` the way the probes verify."""

    certificate: x509.Certificate | None
    error: str | None = None


def server_certificate(target: Target) -> ServerCertificate:
    context = target.server_context()
    try:
        with _tcp(target) as sock, context.wrap_socket(sock, server_hostname=target.host) as tls:
            der = tls.getpeercert(binary_form=True)
    except ssl.SSLCertVerificationError as error:
        return ServerCertificate(None, error.verify_message or str(error))
    except (OSError, ssl.SSLError) as error:
        # A client-certificate refusal happens after the server showed its certificate,
        # but Python gives us no certificate then: report rather than guess.
        alert = alert_from_error(error)
        text = f"TLS alert {alert}" if alert else str(error)
        return ServerCertificate(None, f"the handshake did not complete: {text}")
    if der is None:
        return ServerCertificate(None, "the target sent no certificate")
    return ServerCertificate(x509.load_der_x509_certificate(der))


@dataclass(frozen=True)
class LegacyAttempt:
    version: LegacyVersion
    accepted: bool
    detail: str


def try_legacy_protocol(target: Target, version: LegacyVersion) -> LegacyAttempt:
    """Offer only TLS ``version``; accepted means the server completed that handshake."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    # OpenSSL 3 refuses to even offer TLS 1.0 / 1.1 at its default security level.
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():
        # Deprecated on purpose: offering them is the whole point of this check.
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = _LEGACY[version]
        context.maximum_version = _LEGACY[version]
    try:
        with (
            _tcp(target) as sock,
            context.wrap_socket(
                sock, server_hostname=None if _is_ip(target.host) else target.host
            ) as tls,
        ):
            return LegacyAttempt(version, True, f"the target completed a {tls.version()} handshake")
    except ssl.SSLError as error:
        alert = alert_from_error(error)
        return LegacyAttempt(
            version, False, f"refused with TLS alert {alert}" if alert else str(error)
        )
    except OSError as error:
        return LegacyAttempt(version, False, f"connection ended: {error}")


@contextlib.contextmanager
def _tcp(target: Target) -> Iterator[socket.socket]:
    sock = socket.create_connection((target.address, target.port), timeout=target.timeout)
    try:
        yield sock
    finally:
        sock.close()


def _is_ip(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except OSError:
        return False
    return True
