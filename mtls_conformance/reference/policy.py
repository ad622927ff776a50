"""What nginx 1.22 does with a parsed request on a client-verifying server, in its order.

1. ngx_http_set_virtual_server: SNI named one of our server names and the request's host
   differs (case-insensitively, port and trailing dot ignored; no host at all counts as
   different) -> 421. Checked while reading headers, so it wins over everything below,
   even over the 400 for an HTTP/1.1 request without Host (measured).
2. ngx_http_process_request: SSL_get_verify_result() is not OK -> 495, sent as
   `400 The SSL certificate error`, unless `error_page 495` forwards it (DLB-style Optional).
3. `ssl_verify_client on` and no certificate -> 496, `400 No required SSL certificate was sent`.
4. Otherwise proxy to the backend with the identity headers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mtls_conformance.reference.config import ListenerConfig
from mtls_conformance.reference.request import Request

BAD_REQUEST = 400
MISDIRECTED = 421
CERT_ERROR = 495
NO_CERT = 496


@dataclass(frozen=True)
class TlsFacts:
    """What the handshake established, as nginx sees it when the request arrives."""

    sni: str | None  # SSL_get_servername(), lower-cased like nginx does
    has_cert: bool  # SSL_get_peer_certificate() != NULL
    verify_result: int  # SSL_get_verify_result(); 0 (OK) when there is no certificate


def refusal(
    config: ListenerConfig, server_names: Sequence[str], facts: TlsFacts, request: Request
) -> int | None:
    """The nginx status code that refuses this request, or None to forward it."""
    if (
        not config.ignore_sni_host_mismatch
        and facts.sni is not None
        and any(_matches(name, facts.sni) for name in server_names)
        and request.host != facts.sni
    ):
        return MISDIRECTED
    if request.missing_host:
        return BAD_REQUEST
    if facts.verify_result != 0 and not config.forwards_invalid:
        return CERT_ERROR
    if not facts.has_cert and config.requires_certificate:
        return NO_CERT
    return None


def _matches(server_name: str, sni: str) -> bool:
    # nginx server_name: exact, or a leading wildcard label ("*.example.com").
    name = server_name.lower()
    return name == sni or (name.startswith("*.") and sni.endswith(name[1:]))
