"""The one CRL rule where nginx's OpenSSL 3.0 and pyOpenSSL's newer OpenSSL disagree.

With X509_V_FLAG_CRL_CHECK_ALL, OpenSSL 3.0 also checks the revocation of the top of the
chain when that certificate is self-signed (a trusted self-signed client certificate, or an
untrusted one that is its own chain); the OpenSSL bundled with pyOpenSSL (4.0) skips it.
Measured on nginx 1.22 with a CRL loaded:

    self-signed, not in truststore  -> FAILED:unable to get certificate CRL   (4.0: self-signed
                                                                               certificate)
    self-signed, trusted, no CRL    -> FAILED:unable to get certificate CRL   (4.0: SUCCESS)
    ... its CRL, keyUsage lacking cRLSign -> FAILED:key usage does not include CRL signing

OpenSSL 3.0 checks revocation before the signature and validity pass (internal_verify), and
the verify callback lets it go on, so an error from that pass still has the last word.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import cast

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPublicKeyTypes

UNABLE_TO_GET_CRL = 3
CRL_SIGNATURE_FAILURE = 8
CRL_NOT_YET_VALID = 11
CRL_HAS_EXPIRED = 12
CERT_REVOKED = 23
KEYUSAGE_NO_CRL_SIGN = 35
# Errors OpenSSL 3.0 raises after check_revocation (internal_verify, check_policy).
_LATER_STAGE = frozenset({6, 7, 9, 10, 13, 14, 21, 42, 43})
_CRL_BLOCK = re.compile(rb"-----BEGIN X509 CRL-----.+?-----END X509 CRL-----", re.S)


def load_crls(path: Path) -> list[x509.CertificateRevocationList]:
    return [x509.load_pem_x509_crl(block) for block in _CRL_BLOCK.findall(path.read_bytes())]


def as_openssl_30(
    result: int,
    top: x509.Certificate | None,
    crls: Sequence[x509.CertificateRevocationList],
    now: datetime,
) -> int:
    """The verify result OpenSSL 3.0 would leave, given the newer OpenSSL's result."""
    if top is None or not _self_signed(top) or result in _LATER_STAGE:
        return result
    error = _check_self_issued(top, crls, now)
    return error if error is not None else result


def _check_self_issued(
    cert: x509.Certificate, crls: Sequence[x509.CertificateRevocationList], now: datetime
) -> int | None:
    # check_cert() -> get_crl_delta() -> check_crl() -> cert_crl() for a self-issued cert.
    mine = [crl for crl in crls if crl.issuer == cert.subject]
    if not mine:
        return UNABLE_TO_GET_CRL
    timely = [crl for crl in mine if _crl_time_error(crl, now) is None]
    crl = (timely or mine)[0]
    error: int | None = None
    usage = _key_usage(cert)
    if usage is not None and not usage.crl_sign:
        error = KEYUSAGE_NO_CRL_SIGN
    error = _crl_time_error(crl, now) or error
    if not _signed_by(crl, cert):
        error = CRL_SIGNATURE_FAILURE
    if crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
        error = CERT_REVOKED
    return error


def _self_signed(cert: x509.Certificate) -> bool:
    # X509_self_signed(cert, 0): names match and, when both are present, AKID = SKID.
    if cert.subject != cert.issuer:
        return False
    try:
        akid = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        skid = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return True
    return akid.key_identifier is None or akid.key_identifier == skid.digest


def _key_usage(cert: x509.Certificate) -> x509.KeyUsage | None:
    try:
        return cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None


def _crl_time_error(crl: x509.CertificateRevocationList, now: datetime) -> int | None:
    if crl.last_update_utc > now:
        return CRL_NOT_YET_VALID
    if crl.next_update_utc is not None and crl.next_update_utc < now:
        return CRL_HAS_EXPIRED
    return None


def _signed_by(crl: x509.CertificateRevocationList, cert: x509.Certificate) -> bool:
    key = cast(CertificateIssuerPublicKeyTypes, cert.public_key())
    try:
        return crl.is_signature_valid(key)
    except (TypeError, ValueError):  # a key type that cannot sign (X25519, ML-KEM)
        return False
