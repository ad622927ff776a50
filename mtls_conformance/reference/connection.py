"""One client connection: handshake, one request, nginx's answer, close.

The reference always answers `Connection: close` (nginx would keep a 200 or 421 connection
alive for an HTTP/1.1 client); every probe uses a fresh connection per request anyway.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from OpenSSL import SSL

from mtls_conformance.reference import crl30, ossl, pages, policy, upstream
from mtls_conformance.reference.config import ListenerConfig
from mtls_conformance.reference.request import BadRequest, Reader, read_request, validate_host
from mtls_conformance.reference.stream import TlsStream

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
PLAIN_HTTP = 497


@dataclass(frozen=True)
class Site:
    """What every connection of one listener shares."""

    config: ListenerConfig
    context: SSL.Context
    server_names: tuple[str, ...]
    backend: tuple[str, int]
    timeout: float
    crls: tuple[x509.CertificateRevocationList, ...] = ()  # config.crl, for crl30


def serve_connection(site: Site, stream: TlsStream) -> None:
    """Answer one request on stream like nginx; client-side failures raise SSL.Error/OSError.

    The caller closes the stream, whatever happens here.
    """
    if not stream.is_tls():
        _plain_http(stream)
        return
    stream.handshake()
    cert, facts = _tls_facts(site, stream.connection)
    try:
        request = read_request(Reader(stream.recv), on_continue=lambda: stream.sendall(_CONTINUE))
    except BadRequest as error:
        stream.sendall(pages.error_page(error.code))
        return
    if request is None:
        return
    refused = policy.refusal(site.config, site.server_names, facts, request)
    if refused is not None:
        stream.sendall(pages.error_page(refused))
        return
    identity = upstream.Identity(cert, facts.verify_result)
    headers = upstream.identity_headers(site.config, identity)
    payload = upstream.upstream_request(site.config, request, headers, site.backend)
    head_only = request.method == "HEAD"
    stream.sendall(upstream.proxy(payload, site.backend, site.timeout, head_only))


def _plain_http(stream: TlsStream) -> None:
    # nginx reads a plain-HTTP request on its TLS port, then answers 497 ("400 The plain
    # HTTP request was sent to HTTPS port"), or 400 when the request itself is bad.
    try:
        request = read_request(Reader(stream.plain_recv), on_continue=lambda: None)
    except BadRequest as error:
        stream.plain_sendall(pages.error_page(error.code))
        return
    if request is not None:
        stream.plain_sendall(pages.error_page(PLAIN_HTTP))


def accept_stream(site: Site, sock: socket.socket) -> TlsStream:
    return TlsStream(site.context, sock, site.timeout)


def _tls_facts(
    site: Site, connection: SSL.Connection
) -> tuple[x509.Certificate | None, policy.TlsFacts]:
    peer: Any = connection.get_peer_certificate()
    cert = peer.to_cryptography() if peer is not None else None
    raw_sni = connection.get_servername()
    sni = validate_host(raw_sni.decode("ascii", "replace")) if raw_sni else None
    result = ossl.verify_result(connection)
    if site.config.crl is not None and cert is not None:
        chain: Any = connection.get_verified_chain()
        top = chain[-1].to_cryptography() if chain else cert
        result = crl30.as_openssl_30(result, top, site.crls, datetime.now(UTC))
    return cert, policy.TlsFacts(sni, cert is not None, result)
