"""One fresh TLS connection plus one HTTP request, presented with a chosen client certificate.

requests drives the HTTP; the TLS side is pinned down by hand because three defaults would
quietly falsify a verdict:
- connection pooling would reuse a session that was authenticated with another certificate,
  so every probe gets its own Session and adapter with a pool of one, closed afterwards;
- ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` override ``Session.verify``, so the environment
  is ignored (``trust_env = False``) and the SSLContext carries the server trust we chose;
- under TLS 1.3 the client's Finished ends the handshake before the server has looked at the
  client certificate, so a refusal arrives as an alert on the first read, and requests often
  reports it as a bare EOF or reset: we then recover the alert with a read of our own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import socket
import ssl
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPSConnectionPool
from urllib3.util.ssl_match_hostname import CertificateError as HostnameMismatch

from mtls_conformance.alerts import alert_from_error
from mtls_conformance.outcome import Outcome
from mtls_conformance.target import Target

ClientCert = tuple[Path, Path]  # (certificate chain PEM, private key PEM)

# A read of this long after the handshake is enough for a refusing server's alert to arrive;
# a server that accepted us waits for a request instead, and we stop waiting.
_RECOVERY_READ_SECONDS = 2.0


class _PinnedTLSAdapter(HTTPAdapter):
    """An adapter whose TLS settings come only from our SSLContext, never from requests."""

    def __init__(self, context: ssl.SSLContext, target: Target) -> None:
        self._context = context
        self._target = target
        super().__init__(pool_connections=1, pool_maxsize=1, max_retries=0)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        if self._target.sni_overridden and not self._target.insecure:
            # The SNI is not the name to verify: urllib3 checks the certificate against
            # --host itself (assert_hostname) and the context sends the SNI we chose.
            pool_kwargs["assert_hostname"] = self._target.host
        super().init_poolmanager(
            connections,
            maxsize,
            block,
            ssl_context=self._context,
            server_hostname=self._target.host,
            **pool_kwargs,
        )

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        # Server verification is configured in the context; requests must not add certifi or
        # an environment bundle to it, nor switch it off.
        if isinstance(conn, HTTPSConnectionPool):
            conn.cert_reqs = (
                "CERT_NONE" if self._context.verify_mode == ssl.CERT_NONE else "CERT_REQUIRED"
            )
            conn.ca_certs = None
            conn.ca_cert_dir = None


class _ServerNameContext(ssl.SSLContext):
    """A context that sends a chosen SNI (or none) whatever name its caller passes."""

    sni: str | None = None

    def wrap_socket(
        self,
        sock: socket.socket,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLSocket:
        return super().wrap_socket(
            sock, server_side, do_handshake_on_connect, suppress_ragged_eofs, self.sni, session
        )


def client_context(target: Target, client_cert: ClientCert | None) -> ssl.SSLContext:
    """The target's server-checking context, presenting ``client_cert`` when given."""
    if target.sni_overridden:
        context = target.server_context(_ServerNameContext)
        context.check_hostname = False  # checked against --host separately
        context.sni = target.server_name  # type: ignore[attr-defined]
    else:
        context = target.server_context()
    if client_cert is not None:
        certificate, key = client_cert
        context.load_cert_chain(certfile=str(certificate), keyfile=str(key))
    return context


def _record_handshakes(context: ssl.SSLContext) -> list[str]:
    """Make ``context`` note the TLS version of each handshake it completes.

    http.client drops its socket as soon as a ``Connection: close`` response arrives, so the
    version has to be caught at handshake time.
    """
    versions: list[str] = []

    class _RecordingSocket(ssl.SSLSocket):
        def do_handshake(self, block: bool = False) -> None:
            super().do_handshake(block)
            versions.append((self.version() or "").removeprefix("TLSv"))

    context.sslsocket_class = _RecordingSocket
    return versions


def probe(
    target: Target,
    path: str,
    *,
    client_cert: ClientCert | None = None,
    headers: Mapping[str, str] | None = None,
    echo: bool = False,
) -> Outcome:
    """Open one new connection to ``target``, send ``GET path``, and describe what happened.

    ``echo`` asks to read the body as an echo endpoint's ``{"headers": {...}}``.
    Never raises for anything the network or the target does: that is the outcome.
    """
    context = client_context(target, client_cert)
    versions = _record_handshakes(context)
    address = f"[{target.address}]" if ":" in target.address else target.address
    url = f"https://{address}:{target.port}{path}"
    request_headers = {
        "Host": target.authority,
        "Connection": "close",
        "User-Agent": "mtls-conformance",
    }
    request_headers.update(headers or {})
    started = time.monotonic()
    with requests.Session() as session:
        session.trust_env = False
        session.mount("https://", _PinnedTLSAdapter(context, target))
        try:
            response = session.get(
                url,
                headers=request_headers,
                timeout=target.timeout,
                stream=True,
                allow_redirects=False,
            )
            with response:
                body = response.content.decode("utf-8", errors="replace")
                elapsed = time.monotonic() - started
                return Outcome(
                    kind="http",
                    status=response.status_code,
                    body=body,
                    response_headers=dict(response.headers),
                    echoed_headers=_echoed_headers(body) if echo else None,
                    echo_requested=echo,
                    tls_version=versions[-1] if versions else None,
                    elapsed=elapsed,
                )
        except requests.RequestException as error:
            outcome = _classify(error, time.monotonic() - started)
    if versions and outcome.tls_version is None:
        outcome = dataclasses.replace(outcome, tls_version=versions[-1])
    if outcome.kind in ("eof", "reset"):
        return _recover_alert(target, context, outcome)
    return outcome


def _echoed_headers(body: str) -> dict[str, str] | None:
    """httpbin-style ``{"headers": {...}}``: names lowercased, repeated headers comma-joined."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    raw = document.get("headers") if isinstance(document, dict) else None
    if not isinstance(raw, dict):
        return None
    echoed: dict[str, str] = {}
    for name, value in raw.items():
        values = value if isinstance(value, list) else [value]
        key = str(name).lower()
        joined = ", ".join(str(v) for v in values)
        echoed[key] = f"{echoed[key]}, {joined}" if key in echoed else joined
    return echoed


def _causes(error: BaseException) -> Iterator[BaseException]:
    """Every exception behind ``error``: requests and urllib3 wrap the real one two deep."""
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for attribute in ("reason", "__cause__", "__context__"):
            inner = getattr(current, attribute, None)
            if isinstance(inner, BaseException):
                pending.append(inner)
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))


def _classify(error: BaseException, elapsed: float) -> Outcome:
    causes = list(_causes(error))
    for cause in causes:
        if isinstance(cause, ssl.SSLCertVerificationError | HostnameMismatch):
            detail = getattr(cause, "verify_message", None) or str(cause)
            return Outcome(kind="server-cert", detail=detail, elapsed=elapsed)
    for cause in causes:
        alert = alert_from_error(cause)
        if alert is not None:
            return Outcome(kind="alert", alert=alert, detail=str(cause), elapsed=elapsed)
    kind = _kind_of(causes, error)
    return Outcome(kind=kind, detail=_short(_innermost(causes)), elapsed=elapsed)


def _kind_of(causes: list[BaseException], error: BaseException) -> Any:
    for cause in causes:
        if isinstance(cause, socket.gaierror):
            return "dns"
        if isinstance(cause, ConnectionRefusedError):
            return "refused"
        if isinstance(cause, ssl.SSLError) and _looks_like_plain_text(cause):
            return "not-tls"
    if isinstance(error, requests.Timeout) or any(
        isinstance(cause, TimeoutError | socket.timeout) for cause in causes
    ):
        return "timeout"
    # http.client's RemoteDisconnected ("closed connection without response") subclasses
    # ConnectionResetError, but it means the peer closed: Python's ssl also reports a reset
    # after the handshake as a plain EOF, so that is all we can honestly say.
    if any(isinstance(cause, http.client.RemoteDisconnected) for cause in causes):
        return "eof"
    for cause in causes:
        if isinstance(cause, ConnectionResetError | BrokenPipeError):
            return "reset"
        if isinstance(cause, ssl.SSLEOFError | ssl.SSLZeroReturnError):
            return "eof"
    text = " ".join(str(cause) for cause in causes)
    if "RemoteDisconnected" in text or "without response" in text or "EOF" in text:
        return "eof"
    return "error"


def _looks_like_plain_text(error: ssl.SSLError) -> bool:
    # What OpenSSL says when the first bytes back are not a TLS record (e.g. an HTTP reply).
    return (getattr(error, "reason", None) or "") in {
        "WRONG_VERSION_NUMBER",
        "RECORD_LAYER_FAILURE",
        "PACKET_LENGTH_TOO_LONG",
        "HTTP_REQUEST",
        "UNKNOWN_PROTOCOL",
    }


def _innermost(causes: list[BaseException]) -> BaseException:
    """The cause furthest from requests' wrappers: the one that says what really happened."""
    for cause in reversed(causes):
        if isinstance(cause, OSError) and not isinstance(cause, requests.RequestException):
            return cause
    return causes[-1]


def _short(error: BaseException) -> str:
    return " ".join(str(error).split())[:300] or type(error).__name__


def _recover_alert(target: Target, context: ssl.SSLContext, observed: Outcome) -> Outcome:
    """Reconnect, finish the handshake, and read without writing: a refusal is then an alert.

    Writing the request first is what loses the alert: the server closes with our request
    unread, its kernel answers with a reset, and the reset overtakes the alert.
    """
    started = time.monotonic()

    def recovered(error: ssl.SSLError, version: str | None = None) -> Outcome | None:
        alert = alert_from_error(error)
        if alert is None:
            return None
        return Outcome(
            kind="alert",
            alert=alert,
            alert_recovered=True,
            detail=str(error),
            tls_version=version,
            elapsed=observed.elapsed + time.monotonic() - started,
        )

    try:
        with _handshake(target, context) as tls:
            tls.settimeout(min(target.timeout, _RECOVERY_READ_SECONDS))
            version = (tls.version() or "").removeprefix("TLSv") or None
            try:
                tls.recv(1)
            except ssl.SSLError as error:  # the alert, on the first read (TLS 1.3)
                return recovered(error, version) or observed
            except OSError:
                pass
    except ssl.SSLError as error:  # the alert, inside the handshake (TLS 1.2)
        return recovered(error) or observed
    except OSError:
        pass
    return observed


@contextlib.contextmanager
def _handshake(target: Target, context: ssl.SSLContext) -> Iterator[ssl.SSLSocket]:
    raw = socket.create_connection((target.address, target.port), timeout=target.timeout)
    try:
        tls = context.wrap_socket(raw, server_hostname=target.server_name)
    except BaseException:
        raw.close()
        raise
    with tls:
        yield tls
