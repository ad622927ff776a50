"""Verify a client chain as nginx (so the DLB) does, with OpenSSL's own verifier.

nginx hands the uploaded truststore to OpenSSL as the trust store, adds the chain the client
sent as untrusted certificates, and, once a CRL is loaded, checks revocation for the whole
chain (CRL_CHECK | CRL_CHECK_ALL). OpenSSL is reached through pyOpenSSL. What pyOpenSSL cannot
set, the sslclient purpose, is checked by `purpose_problem` in plain Python.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from OpenSSL import crypto

from .certfiles import is_ca


def openssl_verdict(
    trusted: Sequence[x509.Certificate],
    leaf: x509.Certificate,
    chain: Sequence[x509.Certificate] = (),
    crls: Sequence[x509.CertificateRevocationList] | None = None,
) -> str | None:
    """None if OpenSSL accepts leaf (sent with chain) against trusted, else its error text."""
    store = crypto.X509Store()
    for cert in trusted:
        store.add_cert(crypto.X509.from_cryptography(cert))
    if crls is not None:
        for crl in crls:
            store.add_crl(crl)
        store.set_flags(crypto.X509StoreFlags.CRL_CHECK | crypto.X509StoreFlags.CRL_CHECK_ALL)
    context = crypto.X509StoreContext(
        store,
        crypto.X509.from_cryptography(leaf),
        [crypto.X509.from_cryptography(cert) for cert in chain],
    )
    try:
        context.verify_certificate()
    except crypto.X509StoreContextError as error:
        return str(error)
    return None


def purpose_problem(cert: x509.Certificate) -> str | None:
    """Why OpenSSL's sslclient purpose check (which nginx applies) refuses cert, if it does.

    Extended key usage, when present, must allow clientAuth (for the client certificate
    and every CA above it); key usage, when present on a client, must allow
    digitalSignature or keyAgreement.
    """
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        eku = None
    if eku is not None and not {
        ExtendedKeyUsageOID.CLIENT_AUTH,
        ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
    } & set(eku):
        names = ", ".join(getattr(oid, "_name", oid.dotted_string) for oid in eku)
        return (
            f"its extended key usage ({names}) does not allow client authentication"
            " (clientAuth): OpenSSL refuses it as 'unsuitable certificate purpose'"
        )
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None
    if not is_ca(cert) and not (ku.digital_signature or ku.key_agreement):
        return (
            "its key usage allows neither digitalSignature nor keyAgreement: OpenSSL refuses"
            " it as a client certificate ('unsuitable certificate purpose')"
        )
    return None
