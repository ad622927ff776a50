"""Read certificate files the user brings: PEM blocks of any kind, DER, PKCS#12 sniffing.

Every problem is a one-line InputError that names the file (and the PEM block, counted from
1 over every block in the file, whatever its type), says what is wrong, and how to fix it.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm

from .errors import InputError

_BEGIN = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----")
# A block's body may not hold another BEGIN: a block without its END stays unmatched.
_BLOCK = re.compile(
    rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(?:(?!-----BEGIN ).)*?-----END \1-----", re.S
)

CERTIFICATE = "CERTIFICATE"
PRIVATE_KEY_TYPES = (
    "PRIVATE KEY",
    "RSA PRIVATE KEY",
    "EC PRIVATE KEY",
    "ENCRYPTED PRIVATE KEY",
    "DSA PRIVATE KEY",
    "OPENSSH PRIVATE KEY",
)


@dataclass(frozen=True)
class PemBlock:
    number: int  # 1-based, over every block of the file
    label: str  # what follows BEGIN: "CERTIFICATE", "PRIVATE KEY", ...
    data: bytes  # the whole block, BEGIN and END lines included


@dataclass(frozen=True)
class Located:
    """A certificate and where it came from, for messages ("a.pem block 2")."""

    cert: x509.Certificate
    path: Path
    block: int | None  # None: the file is one DER certificate

    @property
    def where(self) -> str:
        return f"{self.path}" if self.block is None else f"{self.path} block {self.block}"


def read_bytes(path: Path, option: str = "") -> bytes:
    """The file's bytes; missing, unreadable, a directory or empty is one line."""
    name = f"{option} {path}" if option else str(path)
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise InputError(f"{name}: is a directory, not a file") from None
    except OSError as e:
        raise InputError(f"{name}: cannot read ({e.strerror or e})") from None
    if not data.strip():
        raise InputError(f"{name}: empty file")
    return data


def is_pem(data: bytes) -> bool:
    return _BEGIN.search(data) is not None


def pem_blocks(data: bytes, name: str) -> list[PemBlock]:
    """Every PEM block in data, text around them ignored (openssl's "Bag Attributes", say)."""
    blocks = []
    for number, begin in enumerate(_BEGIN.finditer(data), start=1):
        match = _BLOCK.match(data, begin.start())
        label = begin.group(1).decode()
        if match is None:
            raise InputError(
                f"{name}: block {number} ({label}) has no matching '-----END {label}-----'"
                " line: the file is cut short or was edited"
            )
        blocks.append(PemBlock(number, label, match.group(0)))
    return blocks


def looks_like_pkcs12(data: bytes) -> bool:
    """DER SEQUENCE whose first element is INTEGER 3: the PFX version of PKCS#12."""
    if len(data) < 8 or data[0] != 0x30:
        return False
    length_octets = data[1] & 0x7F if data[1] & 0x80 else 0
    start = 2 + length_octets
    return data[start : start + 3] == b"\x02\x01\x03"


def not_a_certificate(label: str, path: Path) -> str:
    """Why a PEM block of this type has no place where certificates are expected."""
    if label in PRIVATE_KEY_TYPES:
        return (
            f"holds a private key ({label}), not a certificate: never put a private key in a"
            " truststore (whoever reads it can act as that client); remove it"
        )
    if label in ("PUBLIC KEY", "RSA PUBLIC KEY"):
        return (
            f"holds a public key ({label}), not a certificate: a truststore needs the"
            " certificate ('BEGIN CERTIFICATE') that holds this key"
        )
    if label in ("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"):
        return (
            f"holds a certificate signing request ({label}), not a certificate: use the"
            " certificate the CA issued for it"
        )
    if label == "X509 CRL":
        return (
            f"holds a CRL ({label}), not a certificate: upload CRLs as the DLB's CRL file,"
            " not in the truststore"
        )
    if label == "PKCS7":
        return (
            f"holds a PKCS#7 bundle ({label}): extract its certificates with:"
            f" openssl pkcs7 -print_certs -in {_q(path)} -out {_q(path)}.pem"
        )
    if label == "TRUSTED CERTIFICATE":
        return (
            f"holds an OpenSSL certificate with trust settings ({label}): convert it with:"
            f" openssl x509 -in {_q(path)} -out {_q(path)}.pem"
        )
    return f"holds '{label}', not a certificate"


def der_conversion(path: Path) -> str:
    """The exact command that writes path's DER certificate as PEM next to it."""
    return f"openssl x509 -inform der -in {_q(path)} -out {_q(path)}.pem"


def _q(path: Path) -> str:
    return shlex.quote(str(path))


def read_certificates(path: Path, option: str = "") -> list[Located]:
    """Every certificate of a PEM file (refusing any other block) or of a DER file."""
    name = f"{option} {path}" if option else str(path)
    data = read_bytes(path, option)
    if not is_pem(data):
        return [Located(_der_certificate(data, name, path), path, None)]
    found = []
    for block in pem_blocks(data, name):
        if block.label != CERTIFICATE:
            raise InputError(f"{name}: block {block.number} {not_a_certificate(block.label, path)}")
        found.append(Located(parse_pem_block(block, name), path, block.number))
    return found


def parse_pem_block(block: PemBlock, name: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(block.data)
    except ValueError:
        raise InputError(
            f"{name}: block {block.number} (CERTIFICATE) is damaged: its content is not a"
            " readable certificate"
        ) from None


def _der_certificate(data: bytes, name: str, path: Path) -> x509.Certificate:
    if looks_like_pkcs12(data):
        raise InputError(
            f"{name}: a PKCS#12 (.p12/.pfx) file, not a certificate: take the certificates out"
            f" with: openssl pkcs12 -in {_q(path)} -nokeys -out {_q(path)}.pem"
        )
    try:
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise InputError(
            f"{name}: not a certificate (neither PEM 'BEGIN CERTIFICATE' nor DER)"
        ) from None


def is_self_signed(cert: x509.Certificate) -> bool:
    """Issuer equals subject and the certificate's own key verifies its signature."""
    return cert.issuer == cert.subject and issued_by(cert, cert)


def issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def kind(cert: x509.Certificate) -> str:
    """What the certificate is, as `certs show` prints it."""
    role = "CA" if is_ca(cert) else "leaf"
    if is_self_signed(cert):
        return f"{role}, self-signed" + (" (a root)" if role == "CA" else "")
    return role


def dn(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string() or "(empty subject)"


def validity_problem(cert: x509.Certificate, now: datetime) -> str | None:
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    if now > end:
        return f"expired on {end:%Y-%m-%d}"
    if now < start:
        return f"not valid until {start:%Y-%m-%d}"
    return None
