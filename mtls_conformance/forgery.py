"""Identity headers a malicious client sends itself, hoping the load balancer passes them on."""

from __future__ import annotations

from mtls_conformance.profiles.base import HeaderNames

# Values no real certificate produces, so any of them reaching the backend is proof.
FORGED_MARK = "forged-by-client"


def forged_headers(names: HeaderNames) -> dict[str, str]:
    """One forged copy of every identity header, in a letter case the load balancer may not
    expect: a proxy that strips ``X-SSL-Client-Verify`` case-sensitively lets
    ``x-ssl-client-verify`` through.

    (requests folds headers case-insensitively, so one name is sent once.)
    """
    forged: dict[str, str] = {}
    for index, name in enumerate(names.all()):
        spelled = (name.lower(), name.upper(), name)[index % 3]
        forged[spelled] = f"SUCCESS {FORGED_MARK}" if name == names.verify else FORGED_MARK
    return forged


def leaked(echoed: dict[str, str] | None) -> dict[str, str]:
    """Headers the backend received that carry a forged value."""
    if echoed is None:
        return {}
    return {name: value for name, value in echoed.items() if FORGED_MARK in value}
