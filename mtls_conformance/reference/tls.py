"""The server-side TLS context of one listener, set up as nginx 1.22 sets up its SSL_CTX.

ssl_client_certificate -> SSL_CTX_load_verify_locations + SSL_CTX_set_client_CA_list of the
file's subjects, in file order (measured: that is the CertificateRequest's CA list);
ssl_verify_client on|optional -> SSL_VERIFY_PEER with a callback that always continues
(the handshake completes in TLS 1.2 and 1.3 alike; rejection happens in HTTP);
ssl_crl -> X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL; ssl_ciphers default.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from OpenSSL import SSL

from mtls_conformance.errors import InputError
from mtls_conformance.reference import ossl
from mtls_conformance.reference.config import ListenerConfig

_VERSIONS = {"TLSv1.2": SSL.TLS1_2_VERSION, "TLSv1.3": SSL.TLS1_3_VERSION}
_NGINX_CIPHERS = b"HIGH:!aNULL:!MD5"  # nginx's ssl_ciphers default
# ngx_http_ssl_alpn_select without http2: the first of these the client offers.
_ALPN = (b"http/1.1", b"http/1.0", b"http/0.9")


def server_context(config: ListenerConfig) -> SSL.Context:
    """The SSL_CTX for config; InputError naming the file that nginx would refuse."""
    context = SSL.Context(SSL.TLS_METHOD)
    context.set_min_proto_version(_VERSIONS[config.min_tls])
    context.set_max_proto_version(_VERSIONS[config.max_tls])
    context.set_cipher_list(_NGINX_CIPHERS)
    _load(config.server_cert, "server certificate", context.use_certificate_chain_file)
    _load(config.server_key, "server key", context.use_privatekey_file)
    try:
        context.check_privatekey()
    except SSL.Error:
        raise InputError(f"{config.server_key}: does not match {config.server_cert}") from None
    _load(config.truststore, "truststore", context.load_verify_locations)
    _load(config.truststore, "truststore", lambda path: context.load_client_ca(path.encode()))
    ossl.verify_like_nginx(context, config.verify_depth)
    if config.crl is not None:
        ossl.load_crl_file(context, config.crl)
    # Needed for session resumption once a client certificate was requested (nginx sets one).
    context.set_session_id(b"mtls-conformance-reference")
    context.set_alpn_select_callback(_select_alpn)
    return context


def server_names(config: ListenerConfig) -> tuple[str, ...]:
    """config.server_names, or the DNS names of the server certificate."""
    if config.server_names is not None:
        return tuple(name.lower() for name in config.server_names)
    leaf = x509.load_pem_x509_certificate(config.server_cert.read_bytes())
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    return tuple(name.lower() for name in san.get_values_for_type(x509.DNSName))


def _select_alpn(connection: SSL.Connection, offered: list[bytes]) -> bytes:
    for protocol in _ALPN:
        if protocol in offered:
            return protocol
    # nginx sends a fatal no_application_protocol alert here; pyOpenSSL can only decline.
    return SSL.NO_OVERLAPPING_PROTOCOLS  # type: ignore[return-value]


def _load(path: Path, what: str, load: Callable[[str], object]) -> None:
    try:
        load(str(path))
    except (SSL.Error, OSError) as error:
        raise InputError(f"{path}: cannot load the {what} ({_first(error)})") from None


def _first(error: Exception) -> str:
    if isinstance(error, SSL.Error) and error.args and isinstance(error.args[0], list):
        reasons = [entry[2] for entry in error.args[0] if len(entry) > 2]
        if reasons:
            return str(reasons[-1])
    return str(error) or type(error).__name__
