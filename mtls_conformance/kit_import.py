"""Make a cert kit around certificates the user already has (`mtls-conformance certs import`).

The user's CA-signed client certificate becomes the ca-signed role, the user's self-signed
client certificate the self-signed-trusted role, and the user's client CA (from --client-ca,
or the chain inside the .p12 / PEM file) goes into truststore.pem instead of the kit's CA.
What the user does not bring is generated as `certs init` does. Roles that must be issued by
the user's CA (expired, not-yet-valid, revoked, wrong-eku, intermediate-signed) are generated
under it only when its key is given (--client-ca-key); otherwise they are recorded as
unavailable, with the reason, because the same certificates from another CA would only test
"untrusted" again under a misleading name.

Every problem is one line naming the option and the file. Passwords come from a
PasswordSource (the CLI: an environment variable named by an option, or a prompt); they are
never part of a message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, TypeAlias

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import (
    load_der_private_key,
    load_pem_private_key,
    pkcs12,
)

from . import certfiles as cf
from . import kit_build as b
from . import kit_create
from .errors import InputError, KitError
from .kit import Kit, load_kit
from .kit_verify import purpose_problem
from .truststore import expiry_note

PasswordKind: TypeAlias = Literal["key", "p12", "ca-key"]
# (kind, "--option file") -> (password, where it came from, e.g. "from environment variable X")
PasswordSource: TypeAlias = Callable[[PasswordKind, str], tuple[bytes, str]]


@dataclass(frozen=True)
class PemCredential:
    """A certificate file (PEM or DER) and its private key (in key, or in the cert file)."""

    cert: Path
    key: Path | None
    cert_option: str  # "--ca-signed"
    key_option: str  # "--ca-signed-key"


@dataclass(frozen=True)
class P12Credential:
    path: Path
    option: str  # "--ca-signed-p12"


Credential: TypeAlias = PemCredential | P12Credential


@dataclass(frozen=True)
class Imported:
    kit: Kit
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class _Loaded:
    cert: x509.Certificate
    key: b.PrivateKey
    others: tuple[x509.Certificate, ...]  # the file's other certificates (the chain)
    name: str  # "--ca-signed-p12 /path/client.p12"
    source: Path


def import_kit(
    directory: Path,
    *,
    ca_signed: Credential | None = None,
    self_signed: Credential | None = None,
    client_ca: Path | None = None,
    client_ca_key: Path | None = None,
    passwords: PasswordSource,
    key_type: b.KeyType = "ecdsa",
    force: bool = False,
    remake: Sequence[str] = (),
    now: datetime | None = None,
) -> Imported:
    """Check the user's files, build the kit around them, write it, and return it loaded."""
    directory = Path(directory)
    now = now or datetime.now(UTC)
    if ca_signed is None and self_signed is None and client_ca is None:
        raise InputError(
            "certs import: give your certificates: --ca-signed/--ca-signed-p12,"
            " --self-signed/--self-signed-p12 and/or --client-ca with --client-ca-key"
            " (for a kit of generated certificates only, use certs init)"
        )
    if client_ca_key is not None and client_ca is None and ca_signed is None:
        raise InputError("--client-ca-key: give the CA's certificate too, with --client-ca")
    if directory.exists() and not directory.is_dir():
        raise KitError(f"{directory}: not a directory")
    existing = kit_create.existing_kit_files(directory)
    if existing and not force:
        raise KitError(
            f"{directory}: already holds a cert kit ({existing[0].name});"
            " pass --force to replace it"
        )

    warnings: list[str] = []
    leaf = _load(ca_signed, passwords) if ca_signed is not None else None
    pinned = _load(self_signed, passwords) if self_signed is not None else None
    if leaf is not None:
        if cf.is_self_signed(leaf.cert):
            raise InputError(
                f"{leaf.name}: the certificate ({cf.dn(leaf.cert)}) is self-signed:"
                " give it with --self-signed / --self-signed-p12"
            )
        _check_client(leaf, now, "ca-signed", warnings)
    if pinned is not None:
        if not cf.is_self_signed(pinned.cert):
            raise InputError(
                f"{pinned.name}: the certificate ({cf.dn(pinned.cert)}) is not self-signed"
                f" (issued by {pinned.cert.issuer.rfc4514_string()}):"
                " give it with --ca-signed / --ca-signed-p12"
            )
        _check_client(pinned, now, "self-signed-trusted", warnings)

    user_ca = None
    if client_ca is not None or leaf is not None:
        user_ca = _user_ca(leaf, client_ca, client_ca_key, passwords, now, warnings)

    imports = kit_create.Imports(
        ca_signed=_supplied(leaf, user_ca.chain if user_ca else ()) if leaf else None,
        self_signed=_supplied(pinned, ()) if pinned else None,
        ca=user_ca,
        remake=tuple(remake),
    )
    files = kit_create.build(key_type, now, imports)
    kit_create.write(directory, files)
    return Imported(load_kit(directory), tuple(warnings))


def _supplied(loaded: _Loaded, chain: tuple[x509.Certificate, ...]) -> kit_create.Supplied:
    return kit_create.Supplied(loaded.cert, loaded.key, chain, str(loaded.source))


def _check_client(loaded: _Loaded, now: datetime, role: str, warnings: list[str]) -> None:
    cert = loaded.cert
    problem = cf.validity_problem(cert, now)
    if problem is not None:
        raise InputError(
            f"{loaded.name}: the certificate ({cf.dn(cert)}) {_is(problem)}: the DLB refuses it,"
            f" so it cannot be the {role} client (renew it, or check this machine's clock)"
        )
    purpose = purpose_problem(cert)
    if purpose is not None:
        raise InputError(f"{loaded.name}: the certificate ({cf.dn(cert)}): {purpose}")
    soon = expiry_note(cert, now)
    if soon is not None:
        warnings.append(f"{loaded.name}: the certificate {soon}; the kit stops loading then")


def _is(problem: str) -> str:
    # validity_problem says "expired on ..." / "not valid until ...": make it a sentence.
    return problem if problem.startswith("expired") else f"is {problem}"


def _user_ca(
    leaf: _Loaded | None,
    client_ca: Path | None,
    client_ca_key: Path | None,
    passwords: PasswordSource,
    now: datetime,
    warnings: list[str],
) -> kit_create.UserCA:
    """The CA certificates to trust, which of them issues, its key if given, and the
    chain a client of it sends."""
    if client_ca is not None:
        name = f"--client-ca {client_ca}"
        located = cf.read_certificates(client_ca, "--client-ca")
        anchors = tuple(item.cert for item in located)
        for number, item in enumerate(located, start=1):
            if not cf.is_ca(item.cert):
                raise InputError(
                    f"{name}: certificate {number} ({cf.dn(item.cert)}) is not a CA"
                    " (basicConstraints CA:FALSE): give the CA that issued your client"
                    " certificate"
                )
        source = client_ca
    else:
        assert leaf is not None  # import_kit asks for --client-ca otherwise
        anchors = tuple(cert for cert in leaf.others if cf.is_ca(cert))
        if not anchors:
            raise InputError(
                f"{leaf.name}: no CA certificate comes with it, so the kit cannot tell the DLB"
                f" whom to trust: give the CA that issued it"
                f" ({leaf.cert.issuer.rfc4514_string()}) with --client-ca"
            )
        name, source = leaf.name, leaf.source
    for number, cert in enumerate(anchors, start=1):
        problem = cf.validity_problem(cert, now)
        if problem is not None:
            raise InputError(
                f"{name}: CA certificate {number} ({cf.dn(cert)}) {_is(problem)}: the DLB"
                " refuses every client it vouches for"
            )
        purpose = purpose_problem(cert)
        if purpose is not None:
            raise InputError(f"{name}: CA certificate {number} ({cf.dn(cert)}): {purpose}")
        soon = expiry_note(cert, now)
        if soon is not None:
            warnings.append(f"{name}: CA certificate {number} ({cf.dn(cert)}) {soon}")

    # A client sends its intermediates: whatever came with its certificate that is not a
    # self-signed root.
    chain = tuple(c for c in leaf.others if not cf.is_self_signed(c)) if leaf else ()
    key = None
    if leaf is not None:
        issuer = next((c for c in (*anchors, *chain) if cf.issued_by(leaf.cert, c)), None)
        if issuer is None:
            raise InputError(
                f"{leaf.name}: issued by {leaf.cert.issuer.rfc4514_string()}, which is not"
                f" among the CA certificates given ({name}): give the CA that issued it"
                " with --client-ca"
            )
        if client_ca_key is not None:
            key = _private_key(client_ca_key, "--client-ca-key", "ca-key", passwords)
            if key.public_key() != issuer.public_key():
                raise InputError(
                    f"--client-ca-key {client_ca_key}: does not match the CA that issued your"
                    f" client certificate ({cf.dn(issuer)})"
                )
    else:
        if client_ca_key is None:
            raise InputError(
                f"{name}: with no client certificate of yours (--ca-signed), the kit needs"
                " this CA's key to issue one: give it with --client-ca-key"
            )
        key = _private_key(client_ca_key, "--client-ca-key", "ca-key", passwords)
        issuer = next((c for c in anchors if c.public_key() == key.public_key()), None)
        if issuer is None:
            raise InputError(
                f"--client-ca-key {client_ca_key}: matches none of the CA certificates in {name}"
            )
    return kit_create.UserCA(anchors, issuer, key, chain, str(Path(source).absolute()))


# -- reading the user's files ---------------------------------------------------------------


def _load(credential: Credential, passwords: PasswordSource) -> _Loaded:
    if isinstance(credential, P12Credential):
        return _load_p12(credential, passwords)
    return _load_pem(credential, passwords)


def _load_pem(credential: PemCredential, passwords: PasswordSource) -> _Loaded:
    cert_name = f"{credential.cert_option} {credential.cert}"
    data = cf.read_bytes(credential.cert, credential.cert_option)
    certs: list[x509.Certificate] = []
    key_block = None
    if cf.is_pem(data):
        for block in cf.pem_blocks(data, cert_name):
            if block.label == cf.CERTIFICATE:
                certs.append(cf.parse_pem_block(block, cert_name))
            elif block.label in cf.PRIVATE_KEY_TYPES:
                key_block = block.data
            else:
                problem = cf.not_a_certificate(block.label, credential.cert)
                raise InputError(f"{cert_name}: block {block.number} {problem}")
        if not certs:
            raise InputError(f"{cert_name}: holds no certificate ('BEGIN CERTIFICATE')")
    else:
        certs = [
            item.cert for item in cf.read_certificates(credential.cert, credential.cert_option)
        ]
    if credential.key is not None:
        key = _private_key(credential.key, credential.key_option, "key", passwords)
        key_name = f"{credential.key_option} {credential.key}"
    elif key_block is not None:
        key = _decrypt(key_block, cert_name, "key", passwords, pem=True)
        key_name = cert_name
    else:
        raise InputError(
            f"{cert_name}: holds no private key: give it with {credential.key_option} KEY"
            f" (or give a .p12 with {credential.cert_option}-p12)"
        )
    return _pick_leaf(certs, key, key_name, cert_name, credential.cert)


def _pick_leaf(
    certs: list[x509.Certificate], key: b.PrivateKey, key_name: str, cert_name: str, source: Path
) -> _Loaded:
    """The certificate of key (the client's), and the others (its chain)."""
    for index, cert in enumerate(certs):
        if cert.public_key() == key.public_key():
            others = tuple(certs[:index] + certs[index + 1 :])
            return _Loaded(cert, key, others, cert_name, source.absolute())
    of = "the certificate" if len(certs) == 1 else f"any of the {len(certs)} certificates"
    raise InputError(f"{key_name}: does not match {of} in {cert_name}")


def _private_key(
    path: Path, option: str, kind: PasswordKind, passwords: PasswordSource
) -> b.PrivateKey:
    name = f"{option} {path}"
    data = cf.read_bytes(path, option)
    if not cf.is_pem(data):
        return _decrypt(data, name, kind, passwords, pem=False)
    keys = []
    for block in cf.pem_blocks(data, name):
        if block.label in cf.PRIVATE_KEY_TYPES:
            keys.append(block.data)
        elif block.label in ("PUBLIC KEY", "RSA PUBLIC KEY"):
            raise InputError(
                f"{name}: block {block.number} holds a public key ({block.label}):"
                " the private key is needed"
            )
    if len(keys) != 1:
        raise InputError(
            f"{name}: holds {'no' if not keys else len(keys)} private keys"
            " ('BEGIN PRIVATE KEY'); give exactly one"
        )
    return _decrypt(keys[0], name, kind, passwords, pem=True)


def _decrypt(
    data: bytes, name: str, kind: PasswordKind, passwords: PasswordSource, *, pem: bool
) -> b.PrivateKey:
    load = load_pem_private_key if pem else load_der_private_key
    try:
        key = load(data, password=None)
    except TypeError:  # encrypted: ask for the password
        password, origin = passwords(kind, name)
        try:
            key = load(data, password=password)
        except ValueError:
            raise InputError(f"{name}: wrong password ({origin})") from None
        except (TypeError, UnsupportedAlgorithm):
            raise InputError(f"{name}: not a readable private key (PEM or DER)") from None
    except (ValueError, UnsupportedAlgorithm):
        raise InputError(f"{name}: not a readable private key (PEM or DER)") from None
    return _supported(key, name)


def _supported(key: object, name: str) -> b.PrivateKey:
    if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        return key
    kind = type(key).__name__.removeprefix("_").replace("PrivateKey", "")
    raise InputError(f"{name}: {kind} keys are not supported; use RSA or EC (ECDSA)")


def _load_p12(credential: P12Credential, passwords: PasswordSource) -> _Loaded:
    name = f"{credential.option} {credential.path}"
    data = cf.read_bytes(credential.path, credential.option)
    if not cf.looks_like_pkcs12(data):
        hint = ""
        if cf.is_pem(data):
            plain = credential.option.removesuffix("-p12")
            hint = f": it is PEM; give it with {plain} (and {plain}-key)"
        raise InputError(f"{name}: not a PKCS#12 (.p12/.pfx) file{hint}")
    try:
        bundle = pkcs12.load_pkcs12(data, None)
    except ValueError as error:
        if "deserialize" in str(error):  # cut short or mangled before any password matters
            raise InputError(f"{name}: damaged: not a readable PKCS#12 file") from None
        password, origin = passwords("p12", name)  # protected by a password
        try:
            bundle = pkcs12.load_pkcs12(data, password)
        except ValueError:
            raise InputError(f"{name}: wrong password ({origin})") from None
    if bundle.key is None:
        raise InputError(f"{name}: holds no private key (a .p12 of certificates only)")
    if bundle.cert is None:
        raise InputError(f"{name}: holds no certificate for its private key")
    key = _supported(bundle.key, name)
    certs = [bundle.cert.certificate] + [c.certificate for c in bundle.additional_certs]
    return _pick_leaf(certs, key, name, name, credential.path)
