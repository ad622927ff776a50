"""Make a cert kit: build every file in memory, then write them (keys 0600 from birth)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from . import __version__
from . import kit_build as b
from . import kit_layout as lay
from .errors import KitError


@dataclass(frozen=True)
class KitFile:
    data: bytes
    secret: bool = False  # private key material: created with mode 0600


def build(key_type: b.KeyType, now: datetime | None = None) -> dict[str, KitFile]:
    """Every file of a kit, by path relative to the kit dir, manifest included."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)

    def window(validity: lay.Validity) -> tuple[datetime, datetime]:
        start, end = lay.WINDOWS[validity]
        return now + start, now + end

    trusted_ca = b.new_ca("mtls-conformance trusted client CA", key_type)
    cas = {
        "trusted": trusted_ca,
        "intermediate": b.new_ca(
            "mtls-conformance intermediate client CA", key_type, parent=trusted_ca
        ),
        "untrusted": b.new_ca("mtls-conformance untrusted CA", key_type, org="Other Org"),
    }
    signers = {name: b.Signer.from_trustme(ca) for name, ca in cas.items()}
    files: dict[str, KitFile] = {
        path: KitFile(b.cert_pem(signers[name].cert)) for name, path in lay.CA_CERTS.items()
    }
    manifest_clients: dict[str, dict[str, str]] = {}
    leaves: dict[str, b.Signer] = {}

    for role in lay.ROLES:
        issuer_name, validity, server_only = lay.ROLE_SPECS[role]
        key = b.new_key(key_type)
        not_before, not_after = window(validity)
        eku = [ExtendedKeyUsageOID.SERVER_AUTH if server_only else ExtendedKeyUsageOID.CLIENT_AUTH]
        issuer = None if issuer_name == "self" else signers[issuer_name]
        cert = b.client_cert(
            b.client_name(role), key, issuer, not_before=not_before, not_after=not_after, eku=eku
        )
        leaves[role] = b.Signer(cert, key)
        # The intermediate is not in the truststore: the client must send it.
        chain = [signers["intermediate"].cert] if issuer_name == "intermediate" else []
        pem_path, key_path, p12_path = lay.client_files(role)
        files[pem_path] = KitFile(b.cert_pem(cert, *chain))
        files[key_path] = KitFile(b.key_pem(key), secret=True)
        files[p12_path] = KitFile(
            b.p12(f"mtls-conformance {role}", key, cert, chain, lay.P12_PASSWORD), secret=True
        )
        manifest_clients[role] = _describe(cert) | {
            "cert": pem_path,
            "key": key_path,
            "p12": p12_path,
            "purpose": lay.PURPOSES[role],
        }

    files[lay.TRUSTSTORE] = KitFile(
        b.cert_pem(signers["trusted"].cert, leaves["self-signed-trusted"].cert)
    )
    # nginx checks revocation of every cert in the chain once a CRL is loaded, and an
    # issuer without a CRL fails the whole chain ("unable to get certificate CRL"): one
    # CRL per issuer a trusted chain passes through, the self-signed client included.
    this_update, next_update = window("valid")
    dates = {"this_update": this_update, "next_update": next_update}
    crls = [
        b.crl(signers["trusted"], [leaves["revoked"].cert.serial_number], **dates),
        b.crl(signers["intermediate"], [], **dates),
        b.crl(leaves["self-signed-trusted"], [], **dates),
    ]
    files[lay.CRL] = KitFile(b.crl_pem(*crls))

    server_ca = b.new_ca("mtls-conformance server CA", key_type)
    server = b.server_leaf(server_ca, key_type, this_update, next_update)
    files[lay.SERVER_CA] = KitFile(server_ca.cert_pem.bytes())
    files[lay.SERVER_CERT] = KitFile(b"".join(blob.bytes() for blob in server.cert_chain_pems))
    files[lay.SERVER_KEY] = KitFile(server.private_key_pem.bytes(), secret=True)

    manifest = _manifest(now, key_type, manifest_clients, signers)
    files[lay.MANIFEST] = KitFile(json.dumps(manifest, indent=2).encode() + b"\n")
    return files


def _describe(cert: x509.Certificate) -> dict[str, str]:
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": format(cert.serial_number, "X"),
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
    }


def _manifest(
    now: datetime,
    key_type: str,
    clients: dict[str, dict[str, str]],
    signers: dict[str, b.Signer],
) -> dict[str, Any]:
    return {
        "format": lay.FORMAT,
        "generator": f"mtls-conformance {__version__}",
        "created": now.isoformat(),
        "key_type": key_type,
        "upload": {
            "truststore": lay.TRUSTSTORE,
            "crl": lay.CRL,
            "how": (
                f"Upload {lay.TRUSTSTORE} as the DLB truststore (Client Certificate"
                f" Validation) and {lay.CRL} as its CRL"
            ),
        },
        "p12_password": lay.P12_PASSWORD,
        "clients": clients,
        "cas": {
            name: _describe(signers[name].cert) | {"cert": path}
            for name, path in lay.CA_CERTS.items()
        },
        "server": {"ca": lay.SERVER_CA, "cert": lay.SERVER_CERT, "key": lay.SERVER_KEY},
    }


def existing_kit_files(directory: Path) -> list[Path]:
    return [directory / name for name in lay.TOP_LEVEL if (directory / name).exists()]


def write(directory: Path, files: dict[str, KitFile]) -> None:
    """Write files under directory, the manifest last (a kit without one is unfinished)."""
    order = sorted(files, key=lambda rel: rel == lay.MANIFEST)
    for rel in order:
        path = directory / rel
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_file(path, files[rel])
        except OSError as e:
            raise KitError(f"{path}: cannot write ({e.strerror or e})") from None


def _write_file(path: Path, file: KitFile) -> None:
    # Written to a fresh temp name and renamed: the mode is set at creation (a key is
    # never readable by others, not even for a moment, and an old file's mode does not
    # carry over), and a symlink planted at the target name is replaced, not followed.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, 0o600 if file.secret else 0o644)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(file.data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
