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

# Not a kit role: the intermediate-signed leaf presented without the intermediate it needs.
LEAF_WITHOUT_CHAIN = "intermediate-signed-without-chain"

# Roles that must never count as verified, and the X509 verify error OpenSSL (so nginx and
# the DLB) reports for each: the text after FAILED: in X-SSL-Client-Verify. The first spelling
# is OpenSSL 3's; the others are older releases' ("self signed", "unsupported ... purpose").
INVALID_ROLE_REASONS: dict[str, tuple[str, ...]] = {
    "expired": ("certificate has expired",),
    "not-yet-valid": ("certificate is not yet valid",),
    "untrusted": ("unable to verify the first certificate",),
    "self-signed-untrusted": ("self-signed certificate", "self signed certificate"),
    "revoked": ("certificate revoked",),
    "wrong-eku": ("unsuitable certificate purpose", "unsupported certificate purpose"),
    LEAF_WITHOUT_CHAIN: ("unable to verify the first certificate",),
}

# With a CRL loaded, OpenSSL also wants a CRL from every issuer in the chain; a self-signed
# certificate outside the truststore is its own issuer and has none, and since the callback
# lets verification go on, the last error wins (measured on nginx 1.22 / OpenSSL 3.0).
CRL_LOADED_REASONS: dict[str, tuple[str, ...]] = {
    "self-signed-untrusted": ("unable to get certificate CRL",),
}


def failure_reasons(case: str, *, crl_loaded: bool) -> tuple[str, ...]:
    """What OpenSSL reports when verifying an invalid role's certificate."""
    if crl_loaded and case in CRL_LOADED_REASONS:
        return CRL_LOADED_REASONS[case]
    return INVALID_ROLE_REASONS[case]


CASES: tuple[str, ...] = (NO_CERTIFICATE, *sorted(TRUSTED_ROLES), *INVALID_ROLE_REASONS)


def is_trusted(case: str) -> bool:
    return case in TRUSTED_ROLES
