"""Build and inspect truststore bundles: PEM certificates, one after another, as the DLB wants.

`examine` reads files and says, per PEM block, what it is and what (if anything) would break
or weaken a truststore. `certs bundle` refuses at the first problem; `certs show FILE` lists
every entry with its problems. A truststore is only sound if every certificate in it is valid
today and chains, inside the bundle, to a self-signed certificate: nginx (so the DLB) trusts
a client only through such a chain (it does not set OpenSSL's partial-chain flag).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from . import certfiles as cf
from .errors import InputError

SOON = timedelta(days=30)


@dataclass(frozen=True)
class Entry:
    """One PEM block of a file (or the one certificate of a DER file)."""

    path: Path
    block: int | None  # None: a DER file
    label: str  # "CERTIFICATE", "PRIVATE KEY", ...
    cert: x509.Certificate | None
    problem: str | None = None  # why a truststore must not hold it as is
    note: str | None = None  # worth knowing, not a problem

    @property
    def where(self) -> str:
        return str(self.path) if self.block is None else f"{self.path} block {self.block}"

    @property
    def refusal(self) -> str:
        if self.cert is None:  # "a.pem block 2 is a PRIVATE KEY, ..."
            return f"{self.where} {self.problem}"
        return f"{self.where} ({cf.dn(self.cert)}): {self.problem}"


def examine(paths: Sequence[Path], now: datetime | None = None) -> list[Entry]:
    """Every entry of every file, in order, each with its first problem.

    A file that cannot be read at all (missing, empty, neither PEM nor DER, PKCS#12, a PEM
    block cut short) is an InputError here: there is nothing to list.
    """
    now = now or datetime.now(UTC)
    entries: list[Entry] = []
    for path in paths:
        entries += _read(path, now)
    seen: dict[bytes, Entry] = {}
    certs = [e.cert for e in entries if e.cert is not None]
    for index, entry in enumerate(entries):
        if entry.cert is None or entry.problem is not None:
            continue
        fingerprint = entry.cert.fingerprint(hashes.SHA256())
        problem = None
        if fingerprint in seen:
            problem = f"the same certificate as {seen[fingerprint].where}; list it once"
        elif not cf.is_self_signed(entry.cert) and not any(
            cf.issued_by(entry.cert, other) for other in certs
        ):
            problem = (
                f"issued by {entry.cert.issuer.rfc4514_string()}, which is not in the bundle:"
                " the DLB (nginx) trusts a client only through a chain that ends at a"
                " self-signed certificate in the truststore; add its issuer"
            )
        seen.setdefault(fingerprint, entry)
        if problem is not None:
            entries[index] = Entry(entry.path, entry.block, entry.label, entry.cert, problem)
    return entries


def _read(path: Path, now: datetime) -> list[Entry]:
    data = cf.read_bytes(path)
    if not cf.is_pem(data):
        (located,) = cf.read_certificates(path)  # DER: exactly one certificate, or an error
        problem = _validity(located.cert, now)
        note = f"DER-encoded; the DLB needs PEM: convert with: {cf.der_conversion(path)}"
        return [Entry(path, None, cf.CERTIFICATE, located.cert, problem, note)]
    entries = []
    for block in cf.pem_blocks(data, str(path)):
        if block.label != cf.CERTIFICATE:
            problem = cf.not_a_certificate(block.label, path)
            entries.append(Entry(path, block.number, block.label, None, problem))
            continue
        try:
            cert = cf.parse_pem_block(block, str(path))
        except InputError:
            problem = "is damaged: its content is not a readable certificate"
            entries.append(Entry(path, block.number, block.label, None, problem))
            continue
        entries.append(Entry(path, block.number, block.label, cert, _validity(cert, now)))
    return entries


def _validity(cert: x509.Certificate, now: datetime) -> str | None:
    problem = cf.validity_problem(cert, now)
    if problem is None:
        return None
    return f"{problem}; a truststore must hold only certificates valid today"


def expiry_note(cert: x509.Certificate, now: datetime) -> str | None:
    left = cert.not_valid_after_utc - now
    if timedelta(0) <= left < SOON:
        return f"expires on {cert.not_valid_after_utc:%Y-%m-%d}, in {left.days} days"
    return None


@dataclass(frozen=True)
class Bundle:
    certs: tuple[Entry, ...]
    notes: tuple[str, ...]

    def pem(self) -> bytes:
        """Each certificate in PEM, newline-terminated, one after another."""
        return b"".join(e.cert.public_bytes(Encoding.PEM) for e in self.certs if e.cert)


def bundle(paths: Sequence[Path], now: datetime | None = None) -> Bundle:
    """The certificates of paths, in order; InputError at the first problem."""
    now = now or datetime.now(UTC)
    entries = examine(paths, now)
    notes = []
    for entry in entries:
        if entry.problem is not None:
            raise InputError(entry.refusal)
        if entry.block is None:
            notes.append(f"{entry.path}: DER-encoded, converted to PEM")
        if entry.cert is not None and (soon := expiry_note(entry.cert, now)):
            notes.append(f"{entry.where} ({cf.dn(entry.cert)}): {soon}")
    return Bundle(tuple(entries), tuple(notes))
