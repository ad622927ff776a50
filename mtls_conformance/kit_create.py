"""Make a cert kit: build every file in memory, then write them (keys 0600 from birth).

A kit is generated whole (`certs init`) or around certificates the user brought (`certs
import`, see kit_import): the user's client certificates take the trusted roles, the user's
client CA takes the place of the kit's trusted CA, and every other role is generated. A role
that must be issued by a trusted CA whose key the kit does not have cannot be made: it is
listed under "unavailable" in the manifest, with the reason, instead of being faked.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID

from . import __version__
from . import kit_build as b
from . import kit_layout as lay
from .errors import InputError, KitError
from .kit_verify import openssl_verdict


@dataclass(frozen=True)
class KitFile:
    data: bytes
    secret: bool = False  # private key material: created with mode 0600


@dataclass(frozen=True)
class Supplied:
    """A client identity the user brought, for ca-signed or self-signed-trusted."""

    cert: x509.Certificate
    key: b.PrivateKey
    chain: tuple[x509.Certificate, ...]  # what the client sends after the leaf
    source: str  # the user's file, recorded in the manifest


@dataclass(frozen=True)
class UserCA:
    """The user's client CA: what the target trusts instead of the kit's own CA."""

    certs: tuple[x509.Certificate, ...]  # all of them go into truststore.pem
    issuer: x509.Certificate  # issues ca-signed (and, given its key, the other roles)
    key: b.PrivateKey | None
    chain: tuple[x509.Certificate, ...]  # sent after a leaf of issuer (intermediates)
    source: str


@dataclass(frozen=True)
class Imports:
    ca_signed: Supplied | None = None
    self_signed: Supplied | None = None
    ca: UserCA | None = None
    remake: tuple[str, ...] = field(default=())  # `certs import` options that remake the kit


@dataclass(frozen=True)
class _Client:
    cert: x509.Certificate
    key: b.PrivateKey
    chain: tuple[x509.Certificate, ...]
    source: str | None = None
    purpose: str = ""


# Roles whose certificate only the trusted CA can issue (and still mean what they say).
_ISSUED_BY_TRUSTED = (
    "ca-signed",
    "intermediate-signed",
    "expired",
    "not-yet-valid",
    "revoked",
    "wrong-eku",
)
TRUSTED_ROLES = ("ca-signed", "self-signed-trusted", "intermediate-signed")


def build(
    key_type: b.KeyType, now: datetime | None = None, imports: Imports | None = None
) -> dict[str, KitFile]:
    """Every file of a kit, by path relative to the kit dir, manifest included."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    imported = imports is not None
    imports = imports or Imports()

    def window(validity: lay.Validity) -> tuple[datetime, datetime]:
        start, end = lay.WINDOWS[validity]
        return now + start, now + end

    untrusted = b.Signer.from_trustme(
        b.new_ca("mtls-conformance untrusted CA", key_type, org="Other Org")
    )
    unavailable: dict[str, str] = {}
    trusted: b.Signer | None
    intermediate: b.Signer | None = None
    intermediate_chain: tuple[x509.Certificate, ...] = ()
    user_ca = imports.ca
    if user_ca is None:
        trusted_ca = b.new_ca("mtls-conformance trusted client CA", key_type)
        trusted = b.Signer.from_trustme(trusted_ca)
        anchors: tuple[x509.Certificate, ...] = (trusted.cert,)
        intermediate = b.Signer.from_trustme(
            b.new_ca("mtls-conformance intermediate client CA", key_type, parent=trusted_ca)
        )
        trusted_chain: tuple[x509.Certificate, ...] = ()
    else:
        anchors, trusted_chain = user_ca.certs, user_ca.chain
        trusted = b.Signer(user_ca.issuer, user_ca.key) if user_ca.key is not None else None
        ca_name = user_ca.issuer.subject.rfc4514_string()
        if trusted is None:
            for role in _ISSUED_BY_TRUSTED:
                unavailable[role] = (
                    f"only your client CA ({ca_name}) can issue this certificate so that the"
                    " target trusts it, and the kit does not have that CA's private key"
                    " (give it with --client-ca-key)"
                )
        elif _path_length(user_ca.issuer) == 0:
            unavailable["intermediate-signed"] = (
                f"needs an intermediate CA under your client CA ({ca_name}), whose path"
                " length constraint (0) forbids one"
            )
        else:
            intermediate = b.intermediate_ca(
                trusted, "mtls-conformance intermediate client CA", key_type, *window("valid")
            )
    if intermediate is not None:
        intermediate_chain = (intermediate.cert, *trusted_chain)
    if imports.ca_signed is not None:
        unavailable.pop("ca-signed", None)

    clients: dict[str, _Client] = {}
    for role in lay.ROLES:
        given = {"ca-signed": imports.ca_signed, "self-signed-trusted": imports.self_signed}
        supplied = given.get(role)
        if supplied is not None:
            clients[role] = _Client(
                supplied.cert,
                supplied.key,
                supplied.chain,
                supplied.source,
                _supplied_purpose(role, supplied),
            )
            continue
        if role in unavailable:
            continue
        issuer_name, validity, server_only = lay.ROLE_SPECS[role]
        issuer = {"trusted": trusted, "intermediate": intermediate, "untrusted": untrusted}.get(
            issuer_name
        )
        # The intermediate is not in the truststore: the client must send it.
        chain = {"trusted": trusted_chain, "intermediate": intermediate_chain}.get(issuer_name, ())
        key = b.new_key(key_type)
        not_before, not_after = window(validity)
        eku = [ExtendedKeyUsageOID.SERVER_AUTH if server_only else ExtendedKeyUsageOID.CLIENT_AUTH]
        cert = b.client_cert(
            b.client_name(role), key, issuer, not_before=not_before, not_after=not_after, eku=eku
        )
        purpose = lay.PURPOSES[role]
        if role == "ca-signed" and user_ca is not None:
            purpose = (
                "Signed by your client CA (in truststore.pem) for client authentication,"
                " so it must be accepted."
            )
        clients[role] = _Client(cert, key, chain, purpose=purpose)

    pinned = b.Signer(clients["self-signed-trusted"].cert, clients["self-signed-trusted"].key)
    truststore = _unique(*anchors, pinned.cert)
    # nginx checks revocation of every cert in the chain once a CRL is loaded, and an
    # issuer without a CRL fails the whole chain ("unable to get certificate CRL"): one
    # CRL per issuer a trusted chain passes through, the self-signed client included.
    this_update, next_update = window("valid")
    dates = {"this_update": this_update, "next_update": next_update}
    crls = []
    if trusted is not None:
        revoked = [clients["revoked"].cert.serial_number] if "revoked" in clients else []
        crls.append(b.crl(trusted, revoked, **dates))
    if intermediate is not None:
        crls.append(b.crl(intermediate, [], **dates))
    crls.append(b.crl(pinned, [], **dates))

    crl_incomplete = None
    if imported:
        crl_incomplete = _check_imported(truststore, clients, crls, unavailable, user_ca)

    files: dict[str, KitFile] = {
        lay.CA_CERTS["trusted"]: KitFile(b.cert_pem(*anchors)),
        lay.CA_CERTS["untrusted"]: KitFile(b.cert_pem(untrusted.cert)),
    }
    if intermediate is not None:
        files[lay.CA_CERTS["intermediate"]] = KitFile(b.cert_pem(intermediate.cert))
    manifest_clients: dict[str, dict[str, str]] = {}
    for role, client in clients.items():
        pem_path, key_path, p12_path = lay.client_files(role)
        files[pem_path] = KitFile(b.cert_pem(client.cert, *client.chain))
        files[key_path] = KitFile(b.key_pem(client.key), secret=True)
        files[p12_path] = KitFile(
            b.p12(
                f"mtls-conformance {role}", client.key, client.cert, client.chain, lay.P12_PASSWORD
            ),
            secret=True,
        )
        manifest_clients[role] = _describe(client.cert) | {
            "cert": pem_path,
            "key": key_path,
            "p12": p12_path,
            "purpose": client.purpose,
        }
        if client.source is not None:
            manifest_clients[role]["source"] = client.source

    files[lay.TRUSTSTORE] = KitFile(b.cert_pem(*truststore))
    files[lay.CRL] = KitFile(b.crl_pem(*crls))

    server_ca = b.new_ca("mtls-conformance server CA", key_type)
    server = b.server_leaf(server_ca, key_type, this_update, next_update)
    files[lay.SERVER_CA] = KitFile(server_ca.cert_pem.bytes())
    files[lay.SERVER_CERT] = KitFile(b"".join(blob.bytes() for blob in server.cert_chain_pems))
    files[lay.SERVER_KEY] = KitFile(server.private_key_pem.bytes(), secret=True)

    cas = {
        "trusted": anchors[0] if user_ca is None else user_ca.issuer,
        "untrusted": untrusted.cert,
    }
    if intermediate is not None:
        cas["intermediate"] = intermediate.cert
    manifest = _manifest(now, key_type, manifest_clients, cas)
    if imported:
        manifest["origin"] = "import"
        manifest["remake"] = list(imports.remake)
        if user_ca is not None:
            manifest["cas"]["trusted"]["source"] = user_ca.source
        manifest["unavailable"] = {
            role: unavailable[role] for role in lay.ROLES if role in unavailable
        }
        manifest["crl_incomplete"] = crl_incomplete
        if crl_incomplete is not None:
            manifest["upload"]["how"] = (
                f"Upload {lay.TRUSTSTORE} as the DLB truststore (Client Certificate"
                f" Validation); do not upload {lay.CRL}: {crl_incomplete}"
            )
    files[lay.MANIFEST] = KitFile(json.dumps(manifest, indent=2).encode() + b"\n")
    return files


def _path_length(cert: x509.Certificate) -> int | None:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length
    except x509.ExtensionNotFound:
        return None


def _unique(*certs: x509.Certificate) -> tuple[x509.Certificate, ...]:
    seen: list[bytes] = []
    kept = []
    for cert in certs:
        fingerprint = cert.fingerprint(hashes.SHA256())
        if fingerprint not in seen:
            seen.append(fingerprint)
            kept.append(cert)
    return tuple(kept)


def _supplied_purpose(role: str, supplied: Supplied) -> str:
    if role == "ca-signed":
        return (
            f"Your client certificate ({supplied.source}), issued by"
            f" {supplied.cert.issuer.rfc4514_string()}, which truststore.pem trusts,"
            " so it must be accepted."
        )
    return (
        f"Your self-signed client certificate ({supplied.source}), listed in truststore.pem,"
        " so it must be accepted."
    )


def _check_imported(
    truststore: tuple[x509.Certificate, ...],
    clients: dict[str, _Client],
    crls: list[x509.CertificateRevocationList],
    unavailable: dict[str, str],
    user_ca: UserCA | None,
) -> str | None:
    """Prove with OpenSSL that the truststore accepts every trusted role; say whether crl.pem
    is complete (and drop the revoked role when it is not). Returns why crl.pem must not be
    loaded on a target, or None."""
    for role in TRUSTED_ROLES:
        if role not in clients:
            continue
        client = clients[role]
        error = openssl_verdict(truststore, client.cert, client.chain)
        if error is not None:
            where = client.source or f"the generated {role} certificate"
            raise InputError(
                f"{where}: OpenSSL (as the DLB) refuses it with this truststore:"
                f" '{error}'; check that --client-ca holds the CA chain that issued it"
            )
    if user_ca is not None and user_ca.key is None:
        return (
            f"it has no CRL from your client CA ({user_ca.issuer.subject.rfc4514_string()}),"
            " so a target that loads it refuses ca-signed ('unable to get certificate CRL');"
            " load your CA's own CRL there instead"
        )
    for role in TRUSTED_ROLES:
        if role in clients:
            client = clients[role]
            error = openssl_verdict(truststore, client.cert, client.chain, crls)
            if error is not None:
                reason = f"with it loaded, OpenSSL refuses {role} ('{error}')"
                unavailable["revoked"] = f"needs a complete crl.pem, and {reason}"
                clients.pop("revoked", None)
                return reason
    return None


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
    cas: dict[str, x509.Certificate],
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
            name: _describe(cas[name]) | {"cert": path}
            for name, path in lay.CA_CERTS.items()
            if name in cas
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
            write_file(path, files[rel])
        except OSError as e:
            raise KitError(f"{path}: cannot write ({e.strerror or e})") from None


def write_file(path: Path, file: KitFile) -> None:
    """Write one file: mode set at creation, atomically replacing what was there."""
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
