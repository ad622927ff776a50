"""Certificates as a user would bring them: made here with cryptography and the openssl CLI,
independently of the kit's own builders, so import and bundle are tested on foreign input."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
    pkcs12,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

Key = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


@dataclass(frozen=True)
class Made:
    cert: x509.Certificate
    key: Key

    @property
    def dn(self) -> str:
        return self.cert.subject.rfc4514_string()


def name(common: str, org: str = "Acme Corp") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def make(
    common: str,
    issuer: Made | None = None,
    *,
    ca: bool = False,
    path_length: int | None = None,
    eku: Sequence[x509.ObjectIdentifier] | None = (ExtendedKeyUsageOID.CLIENT_AUTH,),
    start: timedelta = timedelta(days=-1),
    end: timedelta = timedelta(days=365),
    key: Key | None = None,
) -> Made:
    """A certificate valid from now+start to now+end, signed by issuer (self if None)."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    subject = name(common)
    signer_key = issuer.key if issuer is not None else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer is not None else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + start)
        .not_valid_after(now + end)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=False,
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
    elif eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    algorithm = None if isinstance(signer_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return Made(builder.sign(signer_key, algorithm), key)


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(Encoding.PEM) for c in certs)


def key_pem(key: Key, password: str | None = None) -> bytes:
    encryption = BestAvailableEncryption(password.encode()) if password else NoEncryption()
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, encryption)


def p12(made: Made, chain: Sequence[x509.Certificate], password: str) -> bytes:
    assert not isinstance(made.key, ed25519.Ed25519PrivateKey)
    return pkcs12.serialize_key_and_certificates(
        b"user",
        made.key,
        made.cert,
        list(chain) or None,
        BestAvailableEncryption(password.encode()),
    )


def write(path: Path, data: bytes, *, secret: bool = False) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o644)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return path


def openssl(*args: str | Path, env: dict[str, str] | None = None) -> bytes:
    """Run the system openssl; its stdout."""
    result = subprocess.run(
        ["openssl", *map(str, args)],
        capture_output=True,
        check=True,
        env={**os.environ, **(env or {})},
    )
    return result.stdout
