"""The `mtls-conformance` command: `certs init|show` and `serve`.

Errors the user can fix print one line, "mtls-conformance: error: ...", and exit 2 (as
argparse does for bad usage); never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from . import __version__
from .errors import MtlsConformanceError
from .kit import P12_PASSWORD, ROLES, Kit, create_kit, load_kit

PROG = "mtls-conformance"
SERVE_MODULE = "mtls_conformance.reference.serve"

Handler = Callable[[argparse.Namespace], int]


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    try:
        # serve's module (and what it imports) loads only when asked for, so `certs`
        # works on its own and stays fast.
        serve = _serve_module() if _subcommand(args_list) == "serve" else None
        parser = build_parser(serve)
        try:
            args = parser.parse_args(args_list)
        except SystemExit as stop:  # --help, --version, usage errors: argparse printed
            return stop.code if isinstance(stop.code, int) else int(stop.code is not None)
        handler: Handler = args.handler
        return handler(args)
    except MtlsConformanceError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`certs show | head`): stop quietly, and keep Python's
        # final flush of stdout from failing again with a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def build_parser(serve: ModuleType | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Conformance suite for load balancers that terminate mutual TLS"
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"%(prog)s {__version__}",
        help="Print the version and exit",
    )
    commands = parser.add_subparsers(title="commands", dest="command", required=True)

    certs = commands.add_parser("certs", help="Make or inspect a client certificate kit")
    certs_commands = certs.add_subparsers(title="certs commands", dest="certs_command")
    certs_commands.required = True

    init = certs_commands.add_parser(
        "init",
        help="Make a cert kit in DIR",
        description="Make a cert kit: the truststore and CRL to upload, one client per role",
    )
    init.add_argument("dir", metavar="DIR", type=Path, help="Directory for the kit")
    init.add_argument("--force", action="store_true", help="Replace a kit already in DIR")
    init.add_argument(
        "--key-type",
        choices=("ecdsa", "rsa"),
        default="ecdsa",
        help="Key algorithm: ecdsa (P-256, the default) or rsa (2048 bits)",
    )
    init.set_defaults(handler=_certs_init)

    show = certs_commands.add_parser(
        "show",
        help="List the kit's roles and what to upload",
        description="List every client role of the kit in DIR and what to upload",
    )
    show.add_argument("dir", metavar="DIR", type=Path, help="Directory of the kit")
    show.set_defaults(handler=_certs_show)

    serve_parser = commands.add_parser(
        "serve",
        help="Run the embedded reference DLB",
        description="Run the embedded reference DLB (nginx semantics) until interrupted",
    )
    if serve is not None:
        serve.add_arguments(serve_parser)
        serve_parser.set_defaults(handler=serve.run)
    return parser


def _subcommand(argv: list[str]) -> str | None:
    # The top level has only flags without values (-h, --version), so the first word
    # that is not a flag names the command.
    return next((arg for arg in argv if not arg.startswith("-")), None)


def _serve_module() -> ModuleType:
    try:
        return importlib.import_module(SERVE_MODULE)
    except ModuleNotFoundError as e:
        if e.name and SERVE_MODULE.startswith(e.name):
            raise MtlsConformanceError(
                f"serve: the reference server is not part of this install ({SERVE_MODULE})"
            ) from None
        raise


def _certs_init(args: argparse.Namespace) -> int:
    kit = create_kit(args.dir, force=args.force, key_type=args.key_type)
    print(f"Made a cert kit in {kit.directory}: {len(kit.clients)} client roles ({args.key_type})")
    print(_upload_hint(kit))
    print(f"List the roles with: {PROG} certs show {kit.directory}")
    return 0


def _certs_show(args: argparse.Namespace) -> int:
    kit = load_kit(args.dir)
    print(f"Cert kit in {kit.directory}")
    for role in ROLES:
        client = kit.client(role)
        print()
        print(role)
        for label, value in (
            ("Subject", client.subject),
            ("Issuer", client.issuer),
            ("Serial", format(client.serial, "X")),
            (
                "Valid",
                f"{client.not_before:%Y-%m-%d %H:%M:%S} UTC"
                f" to {client.not_after:%Y-%m-%d %H:%M:%S} UTC",
            ),
            ("Purpose", client.purpose),
            ("Files", f"{client.cert}, {client.key}, {client.p12}"),
        ):
            print(f"  {label + ':':<9} {value}")
    print()
    print(
        f"Test servers: {kit.server_cert} with {kit.server_key}, "
        f"signed by {kit.server_ca} (clients verify the server with it)"
    )
    print(_upload_hint(kit))
    return 0


def _upload_hint(kit: Kit) -> str:
    return (
        f"Upload {kit.truststore} as the DLB truststore (Client Certificate Validation),"
        f" {kit.crl} as the CRL; import {kit.directory / 'clients'}/<role>.p12 into Postman"
        f" (password {P12_PASSWORD})"
    )
