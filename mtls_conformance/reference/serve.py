"""`mtls-conformance serve`: the reference DLB in both modes until Ctrl-C.

cli.py owns the command; this module adds its options and runs it. Ctrl-C (or SIGTERM)
stops the servers cleanly and re-raises KeyboardInterrupt, which cli.py turns into one
line and exit status 130.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import shlex
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import TextIO

from mtls_conformance.kit import Kit, create_kit, load_kit
from mtls_conformance.reference.config import ListenerConfig
from mtls_conformance.reference.server import ReferenceDLB

# (role, what the mandatory listener answers, what the optional one forwards)
_TRY: tuple[tuple[str | None, str, str], ...] = (
    ("ca-signed", "200", "SUCCESS"),
    (None, "400 No required SSL certificate was sent", "NONE"),
    ("expired", "400 The SSL certificate error", "FAILED:certificate has expired"),
    ("untrusted", "400 The SSL certificate error", "FAILED:unable to verify the first certificate"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--certs",
        metavar="DIR",
        type=Path,
        help="Cert kit to serve with; made there if DIR is missing or empty"
        " (default: the kit cached for the embedded target)",
    )
    parser.add_argument("--bind", metavar="ADDR", default="127.0.0.1", help="Address to listen on")
    parser.add_argument(
        "--without-crl",
        action="store_true",
        help="Do not load the kit's crl.pem (the revoked certificate is then accepted)",
    )


def run(args: argparse.Namespace) -> int:
    kit = _kit(args.certs)
    crl = None if args.without_crl else kit.crl
    mandatory = ListenerConfig(
        mode="mandatory",
        server_cert=kit.server_cert,
        server_key=kit.server_key,
        truststore=kit.truststore,
        crl=crl,
    )
    listeners = [mandatory, dataclasses.replace(mandatory, mode="optional")]
    with ReferenceDLB(listeners, host=args.bind) as dlb, _sigterm_as_interrupt():
        describe(dlb, kit, crl is not None, sys.stdout)
        sys.stdout.flush()
        threading.Event().wait()  # until Ctrl-C; the servers run in daemon threads
    return 0


def describe(dlb: ReferenceDLB, kit: Kit, crl_loaded: bool, out: TextIO) -> None:
    """What is listening where, the kit files, and curl lines to paste."""
    mandatory, optional = (f"https://localhost:{dlb.port(m)}" for m in ("mandatory", "optional"))
    crl_note = "" if crl_loaded else "  (not loaded: --without-crl)"
    lines = [
        f"Reference DLB (nginx 1.22 semantics) on {dlb.host}, cert kit {kit.directory}",
        f"  Mandatory  {mandatory}/",
        f"  Optional   {optional}/  (invalid certificates forwarded as FAILED:<reason>)",
        f"  Echo path  {dlb.echo_path}  (answers the headers the backend received)",
        f"  Truststore {kit.truststore}",
        f"  CRL        {kit.crl}{crl_note}",
        f"  Server CA  {kit.server_ca}  (pass it to curl --cacert)",
        "",
    ]
    print("\n".join(lines), file=out)
    for role, refused, forwarded in _TRY:
        who = role or "no certificate"
        print(f"# {who}: Mandatory -> {refused}; Optional -> {forwarded}", file=out)
        for base in (mandatory, optional):
            print(_curl(kit, role, f"{base}{dlb.echo_path}"), file=out)
    print(file=out)
    print("Ctrl-C stops.", file=out)


def _curl(kit: Kit, role: str | None, url: str) -> str:
    words = ["curl", "--cacert", str(kit.server_ca)]
    if role is not None:
        client = kit.client(role)
        words += ["--cert", str(client.cert), "--key", str(client.key)]
    return shlex.join([*words, url])


def _kit(directory: Path | None) -> Kit:
    if directory is None:
        from mtls_conformance.kit_cache import cached_kit

        return cached_kit()
    if not directory.exists() or (directory.is_dir() and not any(directory.iterdir())):
        kit = create_kit(directory)
        print(f"Made a cert kit in {kit.directory}", file=sys.stderr)
        return kit
    return load_kit(directory)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    # `kill` (CI, process managers) should stop as cleanly as Ctrl-C does.
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
