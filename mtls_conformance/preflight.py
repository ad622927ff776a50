"""Can the target be tested at all? One probe before the scenarios, so a typo in --host costs
one clear line instead of a page of identical failures."""

from __future__ import annotations

from mtls_conformance.errors import TargetUnreachable
from mtls_conformance.probe import probe
from mtls_conformance.target import Target


def ensure_testable(target: Target, path: str) -> None:
    """Raise TargetUnreachable unless the target completes a TLS exchange with us.

    A refusal (HTTP error, TLS alert, reset after the handshake) is fine: that is a result.
    """
    outcome = probe(target, path)
    if outcome.untestable:
        raise TargetUnreachable(
            target.host, target.port, _what(outcome.kind, outcome.detail, target)
        )
    if outcome.kind == "timeout":
        raise TargetUnreachable(
            target.host, target.port, f"no answer within {target.timeout:g} s (--timeout)"
        )


def _what(kind: str, detail: str, target: Target) -> str:
    where = f" (connecting to {target.connect_to})" if target.connect_to else ""
    if kind == "dns":
        return f"the host name does not resolve{where}"
    if kind == "refused":
        return f"connection refused{where}: nothing listens on port {target.port}"
    if kind == "not-tls":
        return f"the port does not speak TLS (plain HTTP?){where}"
    if kind == "server-cert":
        if "mismatch, certificate is not valid for" in detail:
            # Python's words for a host name or IP address the certificate does not list:
            # the chain verified, so another --server-ca would not help.
            hint = "a --host the certificate names (--connect-to ADDR keeps the address)"
        elif target.server_ca is None:
            hint = "--server-ca FILE"
        else:
            hint = "a --server-ca that signs it"
        return (
            f"the server certificate was rejected: {detail.rstrip('.')}; pass {hint}, "
            "or --insecure to skip the check"
        )
    return detail
