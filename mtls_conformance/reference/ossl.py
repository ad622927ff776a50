"""The few OpenSSL calls nginx makes that pyOpenSSL does not expose the nginx way.

pyOpenSSL's verify-callback wrapper resets the X509 error to OK whenever the Python callback
returns True, so SSL_get_verify_result() would always say OK. nginx's callback returns 1 and
leaves the error in place; we install such a callback directly through the FFI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from OpenSSL import SSL
from OpenSSL._util import ffi as _ffi_untyped
from OpenSSL._util import lib as _lib_untyped

from mtls_conformance.errors import InputError

_ffi: Any = _ffi_untyped
_lib: Any = _lib_untyped


def _keep_going(preverify_ok: int, store_ctx: Any) -> int:
    # ngx_http_ssl_verify_callback: log and return 1; the request handler decides later.
    return 1


# Module level: cffi callbacks must outlive every context that points at them.
_NGINX_VERIFY_CALLBACK: Any = _ffi.callback("int (*)(int, X509_STORE_CTX *)", _keep_going)


def verify_like_nginx(context: SSL.Context, depth: int) -> None:
    """ssl_verify_client on|optional: ask for a certificate, never fail the handshake on it."""
    _lib.SSL_CTX_set_verify(_raw(context), _lib.SSL_VERIFY_PEER, _NGINX_VERIFY_CALLBACK)
    context.set_verify_depth(depth)


def load_crl_file(context: SSL.Context, crl: Path) -> None:
    """ssl_crl: load every CRL (and certificate) in the file, check the whole chain."""
    store = _lib.SSL_CTX_get_cert_store(_raw(context))
    if _lib.X509_STORE_load_locations(store, str(crl).encode(), _ffi.NULL) != 1:
        _lib.ERR_clear_error()
        raise InputError(f"{crl}: not a readable PEM CRL file")
    _lib.X509_STORE_set_flags(store, _lib.X509_V_FLAG_CRL_CHECK | _lib.X509_V_FLAG_CRL_CHECK_ALL)


def verify_result(connection: SSL.Connection) -> int:
    """SSL_get_verify_result(): the last X509 error of the handshake, 0 when none (or no cert)."""
    return int(_lib.SSL_get_verify_result(_raw(connection)))


def verify_error_string(code: int) -> str:
    """X509_verify_cert_error_string() of the OpenSSL pyOpenSSL runs on."""
    return str(_ffi.string(_lib.X509_verify_cert_error_string(code)).decode())


def short_name(dotted_oid: str) -> str | None:
    """OBJ_nid2sn() for an OID, or None when OpenSSL does not know it (NID_undef)."""
    nid = _lib.OBJ_txt2nid(dotted_oid.encode())
    if nid == 0:
        return None
    return str(_ffi.string(_lib.OBJ_nid2sn(nid)).decode())


def _raw(obj: SSL.Context | SSL.Connection) -> Any:
    # The C pointer pyOpenSSL wraps; private, but stable across many pyOpenSSL releases.
    attr = "_context" if isinstance(obj, SSL.Context) else "_ssl"
    return getattr(obj, attr)
