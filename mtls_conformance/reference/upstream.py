"""proxy_pass to the echo backend the way nginx 1.22 does (measured with the configs in
examples/nginx/).

Upstream request: HTTP/1.0; first the proxy_set_header headers in config order, where an
empty value (no certificate: $ssl_client_s_dn is "") omits the header; then
`Host: <backend addr:port>` and `Connection: close`; then the client's headers in order,
except every name we set (whatever the case, every duplicate) and the hop-by-hop ones nginx
replaces. Response: nginx's status line, Server and Date, the upstream's other headers.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509

from mtls_conformance.reference import nginx_vars, pages
from mtls_conformance.reference.config import ListenerConfig
from mtls_conformance.reference.request import Request

VERIFY, DN, ISSUER, SERIAL, CERT = (
    "X-SSL-Client-Verify",
    "X-SSL-Client-DN",
    "X-SSL-Issuer",
    "X-SSL-Client-Serial",
    "X-SSL-Client-Cert",
)
IDENTITY_HEADERS: tuple[str, ...] = (VERIFY, DN, ISSUER, SERIAL, CERT)
# nginx's own proxy_set_header defaults (Host, Connection, Content-Length, Transfer-Encoding,
# and "" for the rest): the client's copies never go upstream.
_REPLACED = frozenset(
    {"host", "connection", "content-length", "transfer-encoding", "keep-alive", "expect"}
    | {"upgrade", "te"}
)
# Upstream response headers nginx drops or replaces with its own.
_HIDDEN = frozenset(
    {"server", "date", "connection", "keep-alive", "transfer-encoding", "content-length"}
    | {"content-type", "x-accel-redirect", "x-accel-buffering", "x-accel-expires"}
)
MAX_RESPONSE = 16 * 1024 * 1024


@dataclass(frozen=True)
class Identity:
    """The client certificate as nginx's variables describe it."""

    cert: x509.Certificate | None
    verify_result: int


def identity_headers(config: ListenerConfig, identity: Identity) -> list[tuple[str, str]]:
    """proxy_set_header X-SSL-* lines of examples/nginx/dlb-*.conf, empty ones omitted."""
    cert = identity.cert
    values = [
        (VERIFY, nginx_vars.verify_value(cert is not None, identity.verify_result)),
        (DN, nginx_vars.rfc2253(cert.subject) if cert else ""),
        (ISSUER, nginx_vars.rfc2253(cert.issuer) if cert else ""),
        (SERIAL, nginx_vars.serial_hex(cert) if cert else ""),
        (CERT, nginx_vars.escaped_pem(cert) if cert and config.forward_client_cert else ""),
    ]
    if not config.forward_verify_header:  # as if `proxy_set_header X-SSL-Client-Verify "";`
        values[0] = (VERIFY, "")
    return [(name, value) for name, value in values if value]


def upstream_request(
    config: ListenerConfig,
    request: Request,
    identity: Sequence[tuple[str, str]],
    backend: tuple[str, int],
) -> bytes:
    dropped = set(_REPLACED)
    if not config.pass_client_identity_headers:
        dropped |= {name.lower() for name in IDENTITY_HEADERS}
    lines = [f"{request.method} {request.target} HTTP/1.0"]
    lines += [f"{name}: {value}" for name, value in identity]
    lines += [f"Host: {_authority(backend)}", "Connection: close"]
    # $proxy_internal_body_length: only when the client framed a body itself.
    if request.header("content-length") or request.header("transfer-encoding"):
        lines.append(f"Content-Length: {len(request.body)}")
    lines += [f"{name}: {value}" for name, value in request.headers if name.lower() not in dropped]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + request.body


def proxy(payload: bytes, backend: tuple[str, int], timeout: float, head_only: bool) -> bytes:
    """Send payload to the backend; nginx's response to the client (502/504 pages on failure)."""
    try:
        with socket.create_connection(backend, timeout=timeout) as upstream:
            upstream.sendall(payload)
            raw = _read_all(upstream)
    except TimeoutError:
        return pages.error_page(504)
    except OSError:
        return pages.error_page(502)
    head, sep, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if not sep or len(parts) < 2 or not parts[1].isdigit():
        return pages.error_page(502)
    first: list[tuple[str, str]] = []
    rest: list[tuple[str, str]] = []
    for line in header_lines:
        name, _, value = line.partition(":")
        if name.lower() == "content-type":
            first.append((name, value.strip()))
        elif name.lower() not in _HIDDEN:
            rest.append((name, value.strip()))
    response = pages.response_head(int(parts[1]), first, len(body), rest)
    return response if head_only else response + body


def _read_all(sock: socket.socket) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := sock.recv(65536):
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_RESPONSE:
            raise OSError("upstream response too large")
    return b"".join(chunks)


def _authority(backend: tuple[str, int]) -> str:
    host, port = backend
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
