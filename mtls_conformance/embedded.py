"""The embedded target: the reference DLB in both modes, configured from a kit as an admin would."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from mtls_conformance.kit import Kit
from mtls_conformance.reference import ListenerConfig, ReferenceDLB

EMBEDDED_ECHO_PATH = "/anything"


def dlb_listeners(kit: Kit) -> list[ListenerConfig]:
    """Mandatory and DLB-style Optional, both with the kit's truststore and CRL uploaded."""
    return [
        ListenerConfig(
            mode=mode,
            server_cert=kit.server_cert,
            server_key=kit.server_key,
            truststore=kit.truststore,
            # An imported kit may lack a CRL for an issuer; loading it would refuse that
            # issuer's clients ("unable to get certificate CRL").
            crl=kit.crl if kit.crl_incomplete is None else None,
            forward_invalid=True,
        )
        for mode in ("mandatory", "optional")
    ]


@contextlib.contextmanager
def embedded_dlb(kit: Kit) -> Iterator[ReferenceDLB]:
    with ReferenceDLB(dlb_listeners(kit)) as dlb:
        yield dlb
