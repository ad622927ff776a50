"""What a cert kit holds and where: roles, their purpose, file names inside the kit dir.

Shared by kit_create (writes) and kit (reads), so both agree on one layout.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import PurePosixPath
from typing import Literal, TypeAlias

ROLES: tuple[str, ...] = (
    "ca-signed",
    "self-signed-trusted",
    "intermediate-signed",
    "expired",
    "not-yet-valid",
    "untrusted",
    "self-signed-untrusted",
    "revoked",
    "wrong-eku",
)

# Documented, not secret: Postman refuses a .p12 without a password on some OSes.
P12_PASSWORD = "mtls-conformance"

FORMAT = 1

PURPOSES: dict[str, str] = {
    "ca-signed": "Signed by the trusted kit CA for client authentication, so it must be accepted.",
    "self-signed-trusted": (
        "Self-signed and itself listed in truststore.pem, so it must be accepted."
    ),
    "intermediate-signed": (
        "Signed by an intermediate CA that is not in the truststore and sent by the client,"
        " so it must be accepted (the target builds the chain from what the client sends)."
    ),
    "expired": "Signed by the trusted CA but expired a year ago, so it must be rejected.",
    "not-yet-valid": (
        "Signed by the trusted CA but valid only once the kit's other certificates expire,"
        " so it must be rejected."
    ),
    "untrusted": "Signed by a CA that is not in the truststore, so it must be rejected.",
    "self-signed-untrusted": "Self-signed and not in the truststore, so it must be rejected.",
    "revoked": (
        "Signed by the trusted CA and listed in crl.pem, so it must be rejected once the"
        " CRL is loaded (and is accepted without it)."
    ),
    "wrong-eku": (
        "Signed by the trusted CA but meant for servers only (extended key usage serverAuth),"
        " so it must be rejected."
    ),
}

Issuer: TypeAlias = Literal["trusted", "intermediate", "untrusted", "self"]
Validity: TypeAlias = Literal["valid", "expired", "not-yet-valid"]

# role -> (who signs it, its validity window, whether its EKU is serverAuth only)
ROLE_SPECS: dict[str, tuple[Issuer, Validity, bool]] = {
    "ca-signed": ("trusted", "valid", False),
    "self-signed-trusted": ("self", "valid", False),
    "intermediate-signed": ("intermediate", "valid", False),
    "expired": ("trusted", "expired", False),
    "not-yet-valid": ("trusted", "not-yet-valid", False),
    "untrusted": ("untrusted", "valid", False),
    "self-signed-untrusted": ("self", "valid", False),
    "revoked": ("trusted", "valid", False),
    "wrong-eku": ("trusted", "valid", True),
}

# Validity windows, relative to the moment the kit is made. A day of slack before "now"
# absorbs clock skew with the target. Valid certs (and the CRLs) last ten years so a kit
# uploaded once keeps working; not-yet-valid starts only when they end, so it stays
# "not yet valid" for the whole life of the kit (a start "in a year" would silently turn
# it into a valid certificate a year later).
VALID_FOR = timedelta(days=3650)
WINDOWS: dict[Validity, tuple[timedelta, timedelta]] = {
    "valid": (timedelta(days=-1), VALID_FOR),
    "expired": (timedelta(days=-730), timedelta(days=-365)),
    "not-yet-valid": (VALID_FOR, 2 * VALID_FOR),
}

MANIFEST = "manifest.json"
TRUSTSTORE = "truststore.pem"
CRL = "crl.pem"
SERVER_CA = "server/ca.pem"
SERVER_CERT = "server/cert.pem"
SERVER_KEY = "server/key.pem"
CA_CERTS: dict[str, str] = {
    "trusted": "ca/trusted-ca.pem",
    "intermediate": "ca/intermediate-ca.pem",
    "untrusted": "ca/untrusted-ca.pem",
}
# Anything here means the dir already holds (part of) a kit: never overwrite unasked.
TOP_LEVEL = (MANIFEST, TRUSTSTORE, CRL, "clients", "server", "ca")


def client_files(role: str) -> tuple[str, str, str]:
    """The role's cert chain, key and PKCS#12, relative to the kit dir."""
    base = PurePosixPath("clients") / role
    return f"{base}.pem", f"{base}.key", f"{base}.p12"
