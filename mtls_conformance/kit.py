"""The cert kit: a CA-backed set of client identities, one per certificate situation.

`create_kit` writes one (see kit_create), `load_kit` reads and checks one. Layout and
roles live in kit_layout; what each role proves is `ClientIdentity.purpose`.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key, pkcs12

from . import kit_layout as lay
from .errors import InputError, KitError

ROLES = lay.ROLES
P12_PASSWORD = lay.P12_PASSWORD

__all__ = ["P12_PASSWORD", "ROLES", "ClientIdentity", "Kit", "create_kit", "load_kit"]


@dataclass(frozen=True)
class ClientIdentity:
    """One client certificate of the kit, with what a target should see of it."""

    role: str
    cert: Path  # PEM: leaf first, then the chain the client must send
    key: Path  # PEM private key, unencrypted, mode 0600
    p12: Path  # PKCS#12 with leaf, chain and key; password P12_PASSWORD; mode 0600
    subject: str  # RFC 2253, as nginx's $ssl_client_s_dn prints it
    issuer: str  # RFC 2253, as nginx's $ssl_client_i_dn prints it
    serial: int  # format(serial, "X") is what nginx's $ssl_client_serial prints
    not_before: datetime
    not_after: datetime
    purpose: str
    source: Path | None = None  # the user's file it was imported from; None: generated


@dataclass(frozen=True)
class Kit:
    """A cert kit on disk. truststore and crl are exactly the files an admin uploads."""

    directory: Path
    truststore: Path  # the trusted CA, then the self-signed-trusted client cert
    crl: Path  # one CRL per issuer of a trusted chain
    server_ca: Path  # a separate CA that signed server_cert
    server_cert: Path  # for localhost, 127.0.0.1 and ::1
    server_key: Path
    clients: Mapping[str, ClientIdentity]  # every role of ROLES not in unavailable
    # role -> why this kit cannot offer it (an imported kit without the client CA's key
    # cannot make an expired certificate the target trusts, say). Empty for `certs init`.
    unavailable: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # Why crl.pem must not be loaded on a target (it lacks a CRL from an issuer of a
    # trusted chain, so the target would refuse that chain); None: load it freely.
    crl_incomplete: str | None = None

    def client(self, role: str) -> ClientIdentity:
        if role in self.unavailable:
            raise KitError(
                f"{self.directory}: this kit has no {role!r} certificate: {self.unavailable[role]}"
            )
        try:
            return self.clients[role]
        except KeyError:
            raise KitError(
                f"{self.directory}: no certificate role {role!r}; known roles: {', '.join(ROLES)}"
            ) from None


def create_kit(
    directory: Path, *, force: bool = False, key_type: Literal["ecdsa", "rsa"] = "ecdsa"
) -> Kit:
    """Make a fresh kit in directory (created if needed) and return it loaded."""
    # Imported here: a run that only loads a kit never needs trustme and the builders.
    from . import kit_create

    directory = Path(directory)
    if key_type not in ("ecdsa", "rsa"):
        raise InputError(f"key type {key_type!r}: choose ecdsa or rsa")
    if directory.exists() and not directory.is_dir():
        raise KitError(f"{directory}: not a directory")
    existing = kit_create.existing_kit_files(directory)
    if existing and not force:
        raise KitError(
            f"{directory}: already holds a cert kit ({existing[0].name});"
            " pass --force to replace it"
        )
    kit_create.write(directory, kit_create.build(key_type))
    return load_kit(directory)


def load_kit(directory: Path) -> Kit:
    """Read directory's kit; every file must exist, parse, and still fit its role today."""
    directory = Path(directory)
    manifest_path = directory / lay.MANIFEST
    if not manifest_path.exists():
        raise KitError(
            f"{manifest_path}: missing; make a kit with: mtls-conformance certs init {directory}"
        )
    remake = f"remake the kit with: mtls-conformance certs init --force {directory}"
    manifest = _Reader(remake).manifest(manifest_path)
    remake_options = manifest.get("remake")
    if isinstance(remake_options, list) and all(isinstance(o, str) for o in remake_options):
        command = shlex.join(["mtls-conformance", "certs", "import", "--force", str(directory)])
        remake = f"remake the kit with: {command} {shlex.join(remake_options)}".rstrip()
    reader = _Reader(remake)
    listed = manifest.get("clients")
    unavailable = _strings(manifest.get("unavailable"))
    crl_incomplete = manifest.get("crl_incomplete")
    if crl_incomplete is not None and not isinstance(crl_incomplete, str):
        raise KitError(f"{manifest_path}: 'crl_incomplete' is not text; {remake}")
    now = datetime.now(UTC)

    truststore, crl = directory / lay.TRUSTSTORE, directory / lay.CRL
    reader.certs(truststore)
    for one_crl in reader.crls(crl):
        if one_crl.next_update_utc is not None and one_crl.next_update_utc < now:
            raise KitError(
                f"{crl}: a CRL in it expired on {one_crl.next_update_utc:%Y-%m-%d}; {remake}"
            )
    server_ca, server_cert, server_key = (
        directory / rel for rel in (lay.SERVER_CA, lay.SERVER_CERT, lay.SERVER_KEY)
    )
    reader.certs(server_ca)
    reader.key_pair(server_cert, server_key)

    clients: dict[str, ClientIdentity] = {}
    for role in ROLES:
        if role in unavailable:
            continue
        if not isinstance(listed, dict) or role not in listed:
            raise KitError(f"{manifest_path}: no {role!r} client in it; {remake}")
        entry = listed[role] if isinstance(listed[role], dict) else {}
        cert_path, key_path, p12_path = (directory / rel for rel in lay.client_files(role))
        leaf = reader.key_pair(cert_path, key_path)
        reader.p12(p12_path)
        _check_validity(role, leaf, cert_path, now, remake)
        purpose, source = entry.get("purpose"), entry.get("source")
        clients[role] = ClientIdentity(
            role=role,
            cert=cert_path,
            key=key_path,
            p12=p12_path,
            subject=leaf.subject.rfc4514_string(),
            issuer=leaf.issuer.rfc4514_string(),
            serial=leaf.serial_number,
            not_before=leaf.not_valid_before_utc,
            not_after=leaf.not_valid_after_utc,
            purpose=purpose if isinstance(purpose, str) and purpose else lay.PURPOSES[role],
            source=Path(source) if isinstance(source, str) else None,
        )
    return Kit(
        directory=directory,
        truststore=truststore,
        crl=crl,
        server_ca=server_ca,
        server_cert=server_cert,
        server_key=server_key,
        clients=MappingProxyType(clients),
        unavailable=MappingProxyType(unavailable),
        crl_incomplete=crl_incomplete,
    )


def _strings(value: object) -> dict[str, str]:
    """The manifest's "unavailable" map, known roles only; absent in kits from certs init."""
    if not isinstance(value, dict):
        return {}
    return {role: str(value[role]) for role in ROLES if role in value}


def _check_validity(
    role: str, leaf: x509.Certificate, path: Path, now: datetime, remake: str
) -> None:
    # A kit lives for years: say so when time has made a role stop meaning what it says.
    start, end = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    validity = lay.ROLE_SPECS[role][1]
    if validity == "valid" and not start <= now <= end:
        problem = f"valid only from {start:%Y-%m-%d} to {end:%Y-%m-%d}"
    elif validity == "expired" and now <= end:
        problem = f"should be expired but is valid until {end:%Y-%m-%d}"
    elif validity == "not-yet-valid" and now >= start:
        problem = f"should not be valid yet but is since {start:%Y-%m-%d}"
    else:
        return
    raise KitError(f"{path}: {problem}; {remake}")


_CRL_BLOCK = re.compile(rb"-----BEGIN X509 CRL-----.+?-----END X509 CRL-----", re.S)


@dataclass(frozen=True)
class _Reader:
    """Reads kit files; every failure is a one-line KitError naming the file."""

    remake: str

    def _bytes(self, path: Path) -> bytes:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise KitError(f"{path}: missing; {self.remake}") from None
        except OSError as e:
            raise KitError(f"{path}: cannot read ({e.strerror or e})") from None

    def _bad(self, path: Path, what: str) -> KitError:
        return KitError(f"{path}: {what}; {self.remake}")

    def manifest(self, path: Path) -> dict[str, object]:
        raw = self._bytes(path)  # before the try: KitError is a ValueError too
        try:
            data = json.loads(raw)
        except ValueError as e:
            raise self._bad(path, f"not valid JSON ({e})") from None
        if not isinstance(data, dict) or data.get("format") != lay.FORMAT:
            found = data.get("format") if isinstance(data, dict) else None
            raise self._bad(path, f"kit format {found!r}, this version reads {lay.FORMAT}")
        return data

    def certs(self, path: Path) -> list[x509.Certificate]:
        raw = self._bytes(path)
        try:
            return x509.load_pem_x509_certificates(raw)
        except ValueError:
            raise self._bad(path, "no readable PEM certificate in it") from None

    def crls(self, path: Path) -> list[x509.CertificateRevocationList]:
        blocks = _CRL_BLOCK.findall(self._bytes(path))
        try:
            if blocks:
                return [x509.load_pem_x509_crl(block) for block in blocks]
        except ValueError:
            pass
        raise self._bad(path, "no readable PEM CRL in it")

    def key_pair(self, cert_path: Path, key_path: Path) -> x509.Certificate:
        """The leaf of cert_path, after checking key_path holds its private key."""
        leaf = self.certs(cert_path)[0]
        raw = self._bytes(key_path)
        try:
            key = load_pem_private_key(raw, password=None)
        except (ValueError, TypeError):
            raise self._bad(key_path, "not an unencrypted PEM private key") from None
        if key.public_key() != leaf.public_key():
            raise self._bad(key_path, f"does not match the certificate in {cert_path.name}")
        return leaf

    def p12(self, path: Path) -> None:
        raw = self._bytes(path)
        try:
            bundle = pkcs12.load_pkcs12(raw, P12_PASSWORD.encode())
        except ValueError:
            raise self._bad(path, f"not PKCS#12 with password {P12_PASSWORD!r}") from None
        if bundle.key is None or bundle.cert is None:
            raise self._bad(path, "holds no private key or no certificate")
