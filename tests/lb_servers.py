"""HAProxy, Apache and Caddy started from the repository's example configs, or wrong copies.

An example file is what a user copies, so it names real-looking paths and ports
(`/etc/haproxy/mtls/truststore.pem`, `:8443`, backend `127.0.0.1:8080`). `render` swaps
exactly those literals for the kit's files, an OS-chosen loopback port and the echo
backend; every literal must be present, so an edited example cannot silently stop being
the one under test. A deliberate mistake is a list of further (old, new) edits.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from echo import EchoServer
from realservers import ApacheServer, CaddyServer, HAProxyServer, RealServer

from mtls_conformance.cases import LEAF_WITHOUT_CHAIN, NO_CERTIFICATE, Mode
from mtls_conformance.kit import Kit
from mtls_conformance.probe import ClientCert
from mtls_conformance.verdict import Identity

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
ECHO_PATH = "/anything"

Edit = tuple[str, str]


@contextmanager
def echo_backend() -> Iterator[int]:
    """The reference DLB's echo backend on a loopback port (yielded) until the block ends."""
    with EchoServer() as server:
        yield server.port


def apply(text: str, edits: Sequence[Edit], *, strict: bool = True) -> str:
    """Each (old, new) replaced everywhere; with `strict`, a missing `old` is an error."""
    for old, new in edits:
        if strict and old not in text:
            raise ValueError(f"edit target not in config: {old!r}")
        text = text.replace(old, new)
    return text


_BEGIN = "-----BEGIN CERTIFICATE-----"
_END = "-----END CERTIFICATE-----"


def split_pem(bundle: Path, work: Path) -> list[Path]:
    """One file per certificate of `bundle` (truststore-0.pem, ...), as Caddy 2.6 needs."""
    blocks = [_BEGIN + block for block in bundle.read_text().split(_BEGIN)[1:]]
    paths = [work / f"truststore-{index}.pem" for index in range(len(blocks))]
    for path, block in zip(paths, blocks, strict=True):
        path.write_text(block)
    return paths


def _role(case: str) -> str:
    return "intermediate-signed" if case == LEAF_WITHOUT_CHAIN else case


def presented(kit: Kit, case: str, work: Path) -> ClientCert | None:
    """What the client presents in `case`: nothing, a kit role, or a leaf without its chain."""
    if case == NO_CERTIFICATE:
        return None
    client = kit.client(_role(case))
    if case != LEAF_WITHOUT_CHAIN:
        return client.cert, client.key
    leaf = work / "leaf-without-chain.pem"
    leaf.write_text(client.cert.read_text().split(_END)[0] + _END + "\n")
    return leaf, client.key


def identity(kit: Kit, case: str) -> Identity | None:
    """What the certificate presented in `case` says about itself."""
    if case == NO_CERTIFICATE:
        return None
    client = kit.client(_role(case))
    return Identity(subject=client.subject, issuer=client.issuer, serial=client.serial)


@dataclass(frozen=True)
class ServerKind:
    """One kind of server: its launcher, example files per mode, and how to render them."""

    name: str  # also the profile's name
    launcher: type[RealServer]
    examples: dict[Mode, str]  # path under examples/

    def example(self, mode: Mode) -> str:
        return (EXAMPLES / self.examples[mode]).read_text()

    def local_edits(self, kit: Kit, work: Path, backend_port: int) -> list[Edit]:
        """The literals of the example files, pointed at this machine's files and ports."""
        backend = f"127.0.0.1:{backend_port}"
        if self.name == "haproxy":
            combined = work / "haproxy-server.pem"  # HAProxy wants certificate + key in one
            combined.write_text(kit.server_cert.read_text() + kit.server_key.read_text())
            combined.chmod(0o600)
            return [
                ("bind :8443 ", "bind 127.0.0.1:@port@ "),
                ("/etc/haproxy/mtls/server.pem", str(combined)),
                ("/etc/haproxy/mtls/truststore.pem", str(kit.truststore)),
                ("/etc/haproxy/mtls/crl.pem", str(kit.crl)),
                ("127.0.0.1:8080", backend),
            ]
        if self.name == "apache":
            return [
                ("Listen 8443", "Listen 127.0.0.1:@port@"),
                ("<VirtualHost *:8443>", "<VirtualHost 127.0.0.1:@port@>"),
                ("/etc/apache2/mtls/server.pem", str(kit.server_cert)),
                ("/etc/apache2/mtls/server.key", str(kit.server_key)),
                ("/etc/apache2/mtls/truststore.pem", str(kit.truststore)),
                ("/etc/apache2/mtls/crl.pem", str(kit.crl)),
                ("127.0.0.1:8080", backend),
            ]
        if self.name == "caddy":
            first, second = split_pem(kit.truststore, work)  # as the example's csplit line
            return [
                ("https://localhost:8443 {", "https://localhost:@port@ {\n\tbind 127.0.0.1"),
                ("/etc/caddy/mtls/server.pem", str(kit.server_cert)),
                ("/etc/caddy/mtls/server.key", str(kit.server_key)),
                ("/etc/caddy/mtls/truststore-0.pem", str(first)),
                ("/etc/caddy/mtls/truststore-1.pem", str(second)),
                ("127.0.0.1:8080", backend),
            ]
        raise ValueError(self.name)

    def server(
        self,
        kit: Kit,
        work: Path,
        backend_port: int,
        mode: Mode,
        mistakes: Sequence[Edit] = (),
    ) -> RealServer:
        """The example for `mode`, with `mistakes` applied, ready to start().

        A mistake may name `@truststore@` (the kit's truststore.pem) and `@ca_only@`: a
        truststore with the kit's CA but without the trusted self-signed client certificate
        (the classic half-uploaded truststore).
        """
        example = self.example(mode)
        local = self.local_edits(kit, work, backend_port)
        apply(example, local)  # every literal is in the example as shipped...
        # ...but a mistake may have removed one (a CRL line, say).
        text = apply(apply(example, mistakes), local, strict=False)
        ca_only = work / "truststore-ca-only.pem"
        ca_only.write_text(kit.truststore.read_text().split(_END)[0] + _END + "\n")
        return self.launcher(text, values={"ca_only": ca_only, "truststore": kit.truststore})


HAPROXY = ServerKind(
    "haproxy",
    HAProxyServer,
    {"mandatory": "haproxy/haproxy-mandatory.cfg", "optional": "haproxy/haproxy-optional.cfg"},
)
APACHE = ServerKind(
    "apache",
    ApacheServer,
    {"mandatory": "apache/mtls-mandatory.conf", "optional": "apache/mtls-optional.conf"},
)
CADDY = ServerKind(
    "caddy",
    CaddyServer,
    {"mandatory": "caddy/Caddyfile-mandatory", "optional": "caddy/Caddyfile-optional"},
)
KINDS = {kind.name: kind for kind in (HAPROXY, APACHE, CADDY)}
