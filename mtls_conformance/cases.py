"""The certificate situations a scenario can put the client in, and what each one is."""

from __future__ import annotations

from typing import Literal

Mode = Literal["mandatory", "optional"]
MODES: tuple[Mode, ...] = ("mandatory", "optional")

NO_CERTIFICATE = "no-certificate"

# Roles a correctly configured target must accept: they chain to the uploaded truststore.
TRUSTED_ROLES: frozenset[str] = frozenset(
    {"ca-signed", "self-signed-trusted", "intermediate-signed"}
)

# Roles that must never count as verified, and the X509 verify error OpenSSL (so nginx and
# the DLB) reports for each: the text after FAILED: in X-SSL-Client-Verify.
INVALID_ROLE_REASONS: dict[str, str] = {
    "expired": "certificate has expired",
    "not-yet-valid": "certificate is not yet valid",
    "untrusted": "unable to verify the first certificate",
    "self-signed-untrusted": "self-signed certificate",
    "revoked": "certificate revoked",
    "wrong-eku": "unsupported certificate purpose",
}

CASES: tuple[str, ...] = (NO_CERTIFICATE, *sorted(TRUSTED_ROLES), *INVALID_ROLE_REASONS)


def is_trusted(case: str) -> bool:
    return case in TRUSTED_ROLES
