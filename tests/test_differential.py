"""Differential check: the reference DLB and a real nginx configured like the DLB must agree.

For every certificate case x mode x TLS version (and with and without the CRL), both answer
the same probe; the status, the error page's title and the identity headers the backend got
must be equal. Any divergence is a bug in the reference DLB.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from dlb_nginx import DlbNginx, dlb_nginx
from echo import EchoServer
from realservers import NginxServer

from mtls_conformance.cases import CASES, LEAF_WITHOUT_CHAIN, NO_CERTIFICATE, Mode
from mtls_conformance.kit import Kit, create_kit
from mtls_conformance.outcome import Outcome
from mtls_conformance.probe import probe
from mtls_conformance.reference import ListenerConfig, ReferenceDLB
from mtls_conformance.target import Target, TlsVersion

pytestmark = [pytest.mark.selftest, pytest.mark.realserver]

MODES: tuple[Mode, ...] = ("mandatory", "optional")
HEADERS = ("x-ssl-client-verify", "x-ssl-client-dn", "x-ssl-issuer", "x-ssl-client-serial")


@dataclass(frozen=True)
class Observed:
    """What both implementations must agree on."""

    kind: str
    status: int | None
    title: str | None
    headers: tuple[tuple[str, str | None], ...]

    @classmethod
    def of(cls, outcome: Outcome) -> Observed:
        return cls(
            outcome.kind,
            outcome.status,
            outcome.page_title,
            tuple((name, outcome.echoed(name)) for name in HEADERS),
        )


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    return create_kit(tmp_path_factory.mktemp("differential") / "certs")


@pytest.fixture(scope="module")
def leaf_only(kit: Kit, tmp_path_factory: pytest.TempPathFactory) -> Path:
    end = "-----END CERTIFICATE-----"
    path = tmp_path_factory.mktemp("leaf") / "leaf.pem"
    chain = kit.client("intermediate-signed").cert.read_text()
    path.write_text(chain[: chain.index(end) + len(end)] + "\n")
    return path


@pytest.fixture(scope="module")
def backend() -> Iterator[EchoServer]:
    with EchoServer() as server:
        yield server


@dataclass(frozen=True)
class Pair:
    reference: int
    nginx: int


@pytest.fixture(scope="module", params=[True, False], ids=["crl", "no-crl"])
def pairs(
    request: pytest.FixtureRequest, kit: Kit, backend: EchoServer
) -> Iterator[dict[Mode, Pair]]:
    """Both modes, twice each: the reference DLB and nginx, with or without the kit's CRL."""
    crl: bool = request.param
    listeners = [
        ListenerConfig(
            mode=mode,
            server_cert=kit.server_cert,
            server_key=kit.server_key,
            truststore=kit.truststore,
            crl=kit.crl if crl else None,
        )
        for mode in MODES
    ]
    servers: list[NginxServer] = [
        dlb_nginx(kit, DlbNginx(mode, crl=crl), backend.port) for mode in MODES
    ]
    with ReferenceDLB(listeners) as dlb, servers[0], servers[1]:
        yield {
            mode: Pair(dlb.port(mode), server.port)
            for mode, server in zip(MODES, servers, strict=True)
        }


def _presented(kit: Kit, case: str, leaf_only: Path) -> tuple[Path, Path] | None:
    if case == NO_CERTIFICATE:
        return None
    if case == LEAF_WITHOUT_CHAIN:
        return leaf_only, kit.client("intermediate-signed").key
    client = kit.client(case)
    return client.cert, client.key


@pytest.mark.parametrize("version", ["1.2", "1.3"])
@pytest.mark.parametrize("mode", MODES)
def test_reference_dlb_answers_like_nginx(
    kit: Kit, leaf_only: Path, pairs: dict[Mode, Pair], mode: Mode, version: TlsVersion
) -> None:
    """Every case gets the same status, page title and forwarded identity headers from the
    reference DLB as from real nginx 1.22 configured like the DLB."""
    diverging: list[str] = []
    for case in CASES:
        client_cert = _presented(kit, case, leaf_only)
        seen = {}
        for name, port in (("reference", pairs[mode].reference), ("nginx", pairs[mode].nginx)):
            target = Target(
                "localhost",
                port,
                connect_to="127.0.0.1",
                server_ca=kit.server_ca,
                tls_version=version,
                timeout=5,
            )
            seen[name] = Observed.of(probe(target, "/anything", client_cert=client_cert, echo=True))
        if seen["reference"] != seen["nginx"]:
            diverging.append(f"{case}: reference {seen['reference']} != nginx {seen['nginx']}")
    assert diverging == []


def test_the_comparison_sees_a_difference(
    kit: Kit, leaf_only: Path, pairs: dict[Mode, Pair]
) -> None:
    """Negative control: the Mandatory reference and the Optional nginx do differ (so equal
    observations above are not an artefact of comparing nothing)."""
    reference = Target(
        "localhost", pairs["mandatory"].reference, connect_to="127.0.0.1", server_ca=kit.server_ca
    )
    nginx = Target(
        "localhost", pairs["optional"].nginx, connect_to="127.0.0.1", server_ca=kit.server_ca
    )
    assert Observed.of(probe(reference, "/anything", echo=True)) != Observed.of(
        probe(nginx, "/anything", echo=True)
    )
