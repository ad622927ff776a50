"""Certificate building blocks for the cert kit, in memory only (kit.py writes the files).

CAs and the server certificate come from trustme as is. Client leaves, self-signed
clients, CRLs and PKCS#12 need what trustme does not offer (EKU of our choice, no SAN,
no issuer, revocation lists), so they are built here with cryptography, starting from
trustme's own builder: same name order (O, OU, CN), SKI on every cert, AKI from the
issuer's SKI, SHA-256 signatures.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeAlias

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
    pkcs12,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KeyType: TypeAlias = Literal["ecdsa", "rsa"]
PrivateKey: TypeAlias = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

ORGANIZATION = "Example Org"
CLIENT_UNIT = "mtls-conformance"

_TRUSTME_KEY_TYPES = {"ecdsa": trustme.KeyType.ECDSA, "rsa": trustme.KeyType.RSA}


def new_key(key_type: KeyType) -> PrivateKey:
    """A fresh key: ECDSA P-256 (fast) or RSA 2048, the sizes trustme uses."""
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def random_serial() -> int:
    """A random positive 128-bit serial whose hex form is unambiguous.

    The top nibble is 1..7: positive without a DER sign byte, and no leading zero, so
    format(serial, "X") is exactly what nginx prints in $ssl_client_serial (OpenSSL prints
    whole bytes). At least one digit is a letter, so upper- and lowercase forms differ.
    """
    while True:
        serial = int.from_bytes(os.urandom(16), "big")
        text = format(serial, "X")
        if len(text) == 32 and text[0] in "1234567" and any(c in "ABCDEF" for c in text):
            return serial


def client_name(role: str) -> x509.Name:
    """CN=<role> client,OU=mtls-conformance,O=Example Org: readable, and three
    attributes so a forwarded DN shows whether the target kept RFC 2253 order."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, CLIENT_UNIT),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{role} client"),
        ]
    )


@dataclass(frozen=True)
class Signer:
    """A certificate and the key that signs with it (a CA, or a self-signed client)."""

    cert: x509.Certificate
    key: PrivateKey

    @classmethod
    def from_trustme(cls, ca: trustme.CA) -> Signer:
        key = load_pem_private_key(ca.private_key_pem.bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise TypeError(f"trustme made a {type(key).__name__}, expected ECDSA or RSA")
        return cls(x509.load_pem_x509_certificate(ca.cert_pem.bytes()), key)

    def key_identifier(self) -> x509.AuthorityKeyIdentifier:
        try:
            ski = self.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        except x509.ExtensionNotFound:  # a user's CA may lack one: derive it from the key
            return x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key())
        return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski.value)


def new_ca(
    unit: str, key_type: KeyType, *, parent: trustme.CA | None = None, org: str = ORGANIZATION
) -> trustme.CA:
    """A trustme CA named OU=<unit>,O=<org>; an intermediate gets path length 0."""
    return trustme.CA(
        parent_cert=parent,
        path_length=0 if parent is not None else 9,
        organization_name=org,
        organization_unit_name=unit,
        key_type=_TRUSTME_KEY_TYPES[key_type],
    )


def intermediate_ca(
    parent: Signer, unit: str, key_type: KeyType, not_before: datetime, not_after: datetime
) -> Signer:
    """An intermediate CA (path length 0) under a CA given as cert and key, such as a
    user's own CA, which trustme cannot take as a parent."""
    key = new_key(key_type)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(parent.cert.subject)
        .public_key(key.public_key())
        .serial_number(random_serial())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(parent.key_identifier(), critical=False)
        .sign(parent.key, hashes.SHA256())
    )
    return Signer(cert, key)


def server_leaf(
    ca: trustme.CA, key_type: KeyType, not_before: datetime, not_after: datetime
) -> trustme.LeafCert:
    """The test server's certificate: localhost and both loopback addresses."""
    return ca.issue_cert(
        "localhost",
        "127.0.0.1",
        "::1",
        common_name="localhost",
        organization_name=ORGANIZATION,
        organization_unit_name="mtls-conformance server",
        not_before=not_before,
        not_after=not_after,
        key_type=_TRUSTME_KEY_TYPES[key_type],
    )


def client_cert(
    name: x509.Name,
    key: PrivateKey,
    issuer: Signer | None,
    *,
    not_before: datetime,
    not_after: datetime,
    eku: Sequence[x509.ObjectIdentifier] = (ExtendedKeyUsageOID.CLIENT_AUTH,),
) -> x509.Certificate:
    """A client leaf signed by issuer, or self-signed when issuer is None.

    No SAN: a client needs none, and trustme's would be critical. A self-signed client
    gets no keyUsage at all: OpenSSL 1.1 treats a cert as self-signed only if keyUsage is
    absent or has keyCertSign, and accepts it as a CRL signer only if absent or cRLSign;
    keyCertSign on a CA:FALSE cert would break RFC 5280, so absent is the one safe form.
    """
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    if issuer is None:
        issuer_name, sign_key = name, key
        aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
    else:
        issuer_name, sign_key = issuer.cert.subject, issuer.key
        aki = issuer.key_identifier()
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(random_serial())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(aki, critical=False)
        .add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(_DIGITAL_SIGNATURE_ONLY, critical=True)
    return builder.sign(sign_key, hashes.SHA256())


_DIGITAL_SIGNATURE_ONLY = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)


def crl(
    signer: Signer, revoked: Sequence[int], *, this_update: datetime, next_update: datetime
) -> x509.CertificateRevocationList:
    """A v2 CRL (CRL number, AKI) by signer listing the revoked serials.

    next_update lies as far ahead as the valid certificates: OpenSSL rejects a chain
    whose CRL has passed its next update ("CRL has expired").
    """
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(signer.cert.subject)
        .last_update(this_update)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(1), critical=False)
        .add_extension(signer.key_identifier(), critical=False)
    )
    for serial in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(this_update)
            .build()
        )
    return builder.sign(signer.key, hashes.SHA256())


def cert_pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(Encoding.PEM) for c in certs)


def crl_pem(*crls: x509.CertificateRevocationList) -> bytes:
    return b"".join(c.public_bytes(Encoding.PEM) for c in crls)


def key_pem(key: PrivateKey) -> bytes:
    """Unencrypted PKCS#8: what curl, nginx, Postman and Java tools all read."""
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())


def p12(
    friendly_name: str,
    key: PrivateKey,
    cert: x509.Certificate,
    chain: Sequence[x509.Certificate],
    password: str,
) -> bytes:
    """PKCS#12 with key, leaf and the chain the client must send.

    Encrypted with the best available scheme (PBES2, AES-256): OpenSSL 3, and so
    Postman and curl, read it; ancient readers that only know 3DES do not.
    """
    return pkcs12.serialize_key_and_certificates(
        friendly_name.encode(),
        key,
        cert,
        list(chain) or None,
        BestAvailableEncryption(password.encode()),
    )
