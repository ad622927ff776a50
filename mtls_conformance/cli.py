"""The `mtls-conformance` command: `certs init|import|show|bundle` and `serve`.

Errors the user can fix print one line, "mtls-conformance: error: ...", and exit 2 (as
argparse does for bad usage); never a traceback.
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import os
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

from cryptography.hazmat.primitives import hashes

from . import __version__
from . import certfiles as cf
from . import kit_import as ki
from . import truststore as ts
from .errors import InputError, MtlsConformanceError
from .kit import P12_PASSWORD, ROLES, Kit, create_kit, load_kit
from .kit_create import KitFile, write_file

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

    _add_import(certs_commands)

    show = certs_commands.add_parser(
        "show",
        help="List a kit's roles, or every certificate in a PEM/DER file",
        description=(
            "DIR: list every client role of the kit and what to upload. FILE: list every"
            " certificate in it (the DLB shows only the first) and any problem; exit 1 if"
            " it has one"
        ),
    )
    show.add_argument(
        "dir", metavar="DIR|FILE", type=Path, help="A kit directory, or a truststore file"
    )
    show.set_defaults(handler=_certs_show)

    bundle = certs_commands.add_parser(
        "bundle",
        help="Concatenate certificates into a truststore, refusing anything unsound",
        description=(
            "Write the certificates of FILE... (PEM or DER) to OUT as PEM, one after another,"
            " the way the DLB wants its truststore. Refuses private and public keys, CSRs,"
            " damaged or duplicate certificates, certificates not valid today, and"
            " certificates whose issuer is missing from the bundle"
        ),
    )
    bundle.add_argument("files", metavar="FILE", nargs="+", type=Path, help="Certificate files")
    bundle.add_argument(
        "-o", "--output", metavar="OUT", type=Path, required=True, help="The truststore to write"
    )
    bundle.add_argument("--force", action="store_true", help="Replace OUT if it exists")
    bundle.set_defaults(handler=_certs_bundle)

    serve_parser = commands.add_parser(
        "serve",
        help="Run the embedded reference DLB",
        description="Run the embedded reference DLB (nginx semantics) until interrupted",
    )
    if serve is not None:
        serve.add_arguments(serve_parser)
        serve_parser.set_defaults(handler=serve.run)
    return parser


def _add_import(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "import",
        help="Make a cert kit around your own client certificates",
        description=(
            "Make a cert kit whose trusted roles are your own certificates: a CA-signed"
            " client certificate, a self-signed one, and the CA that issued yours."
            " Passwords come from environment variables you name, or a prompt; never"
            " from the command line. Roles only your CA can issue (expired, not-yet-valid,"
            " revoked, wrong-eku, intermediate-signed) need --client-ca-key; without it they"
            " are marked unavailable and their scenarios skip"
        ),
    )
    parser.add_argument("dir", metavar="DIR", type=Path, help="Directory for the kit")
    for role, what, chain in (
        ("ca-signed", "CA-signed", " (its chain may follow it)"),
        ("self-signed", "self-signed", ""),
    ):
        group = parser.add_mutually_exclusive_group()
        group.add_argument(
            f"--{role}",
            metavar="CERT",
            type=Path,
            help=f"Your {what} client certificate, PEM or DER" + chain,
        )
        group.add_argument(
            f"--{role}-p12",
            metavar="FILE",
            type=Path,
            help=f"Your {what} client certificate and key in PKCS#12 (.p12/.pfx)",
        )
        parser.add_argument(
            f"--{role}-key",
            metavar="KEY",
            type=Path,
            help=f"The private key of --{role}, PEM (may be encrypted) or DER",
        )
    parser.add_argument(
        "--client-ca",
        metavar="CERT",
        type=Path,
        help=(
            "The CA certificate(s) that issued your CA-signed certificate; default: the"
            " chain inside --ca-signed-p12 or after the certificate in --ca-signed"
        ),
    )
    parser.add_argument(
        "--client-ca-key",
        metavar="KEY",
        type=Path,
        help="That CA's private key (a test CA only): the kit then issues every role under it",
    )
    for option, what, default in (
        ("--key-password-env", "an encrypted --ca-signed-key / --self-signed-key", "a prompt"),
        ("--p12-password-env", "the PKCS#12 files", "a prompt"),
        (
            "--client-ca-key-password-env",
            "an encrypted --client-ca-key",
            "the variable of --key-password-env, else a prompt",
        ),
    ):
        parser.add_argument(
            option,
            metavar="NAME",
            help=f"Environment variable holding the password of {what}; default: {default}",
        )
    parser.add_argument(
        "--key-type",
        choices=("ecdsa", "rsa"),
        default="ecdsa",
        help="Key algorithm of the generated roles: ecdsa (P-256, the default) or rsa",
    )
    parser.add_argument("--force", action="store_true", help="Replace a kit already in DIR")
    parser.set_defaults(handler=_certs_import)


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
    if args.dir.is_file():
        return _show_file(args.dir)
    kit = load_kit(args.dir)
    print(f"Cert kit in {kit.directory}")
    for role in ROLES:
        print()
        print(role)
        if role in kit.unavailable:
            print(f"  Unavailable: {kit.unavailable[role]}")
            continue
        client = kit.client(role)
        source = () if client.source is None else (("Source", str(client.source)),)
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
            *source,
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
    postman = (
        f"import {kit.directory / 'clients'}/<role>.p12 into Postman (password {P12_PASSWORD})"
    )
    if kit.crl_incomplete is not None:
        return (
            f"Upload {kit.truststore} as the DLB truststore (Client Certificate Validation);"
            f" do not upload {kit.crl}: {kit.crl_incomplete}; {postman}"
        )
    return (
        f"Upload {kit.truststore} as the DLB truststore (Client Certificate Validation),"
        f" {kit.crl} as the CRL; {postman}"
    )


# -- certs import ------------------------------------------------------------------------


def _certs_import(args: argparse.Namespace) -> int:
    ca_signed = _credential(args, "ca-signed")
    self_signed = _credential(args, "self-signed")
    result = ki.import_kit(
        args.dir,
        ca_signed=ca_signed,
        self_signed=self_signed,
        client_ca=args.client_ca,
        client_ca_key=args.client_ca_key,
        passwords=_password_source(args),
        key_type=args.key_type,
        force=args.force,
        remake=_remake_options(args),
    )
    for warning in result.warnings:
        print(f"{PROG}: warning: {warning}", file=sys.stderr)
    kit = result.kit
    print(
        f"Made a cert kit in {kit.directory} around your certificates:"
        f" {len(kit.clients)} client roles ({args.key_type} for the generated ones)"
    )
    for role, client in kit.clients.items():
        if client.source is not None:
            print(f"  {role}: yours, from {client.source}")
    by_reason: dict[str, list[str]] = {}
    for role, reason in kit.unavailable.items():
        by_reason.setdefault(reason, []).append(role)
    for reason, roles in by_reason.items():
        print(f"  unavailable, their scenarios skip: {', '.join(roles)}: {reason}")
    print(_upload_hint(kit))
    print(f"List the roles with: {PROG} certs show {kit.directory}")
    return 0


def _credential(args: argparse.Namespace, role: str) -> ki.Credential | None:
    attr = role.replace("-", "_")
    cert: Path | None = getattr(args, attr)
    p12: Path | None = getattr(args, f"{attr}_p12")
    key: Path | None = getattr(args, f"{attr}_key")
    if key is not None and cert is None:
        raise InputError(f"--{role}-key: goes with --{role} CERT (a .p12 holds its own key)")
    if p12 is not None:
        return ki.P12Credential(p12, f"--{role}-p12")
    if cert is not None:
        return ki.PemCredential(cert, key, f"--{role}", f"--{role}-key")
    return None


_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")


def _password_source(args: argparse.Namespace) -> ki.PasswordSource:
    options = {
        "key": ("--key-password-env", args.key_password_env),
        "p12": ("--p12-password-env", args.p12_password_env),
        "ca-key": ("--client-ca-key-password-env", args.client_ca_key_password_env),
    }
    if options["ca-key"][1] is None:
        options["ca-key"] = options["key"]

    def password(kind: ki.PasswordKind, what: str) -> tuple[bytes, str]:
        option, variable = options[kind]
        if variable is not None:
            value = os.environ.get(variable)
            if value is None:
                # Echo the name only if it looks like one: a password typed here by
                # mistake must not end up in a CI log as well.
                named = f" {variable}" if _ENV_NAME.fullmatch(variable) else ""
                raise InputError(
                    f"{option}: the environment variable{named} is not set (it should hold"
                    f" the password of {what})"
                )
            named = variable if _ENV_NAME.fullmatch(variable) else f"named by {option}"
            return value.encode(), f"from environment variable {named}"
        if not sys.stdin.isatty():
            raise InputError(
                f"{what}: protected by a password: name an environment variable that holds"
                f" it with {option} NAME (no terminal to ask on)"
            )
        try:
            typed = getpass.getpass(f"Password for {what}: ")
        except EOFError:
            raise InputError(f"{what}: no password typed") from None
        return typed.encode(), "typed at the prompt"

    return password


def _remake_options(args: argparse.Namespace) -> list[str]:
    """The import's options with absolute paths: stored in the manifest, no secrets."""
    options: list[str] = []
    for option in (
        "ca_signed",
        "ca_signed_key",
        "ca_signed_p12",
        "self_signed",
        "self_signed_key",
        "self_signed_p12",
        "client_ca",
        "client_ca_key",
    ):
        value = getattr(args, option)
        if value is not None:
            options += [f"--{option.replace('_', '-')}", str(Path(value).absolute())]
    for option in ("key_password_env", "p12_password_env", "client_ca_key_password_env"):
        value = getattr(args, option)
        if value is not None and _ENV_NAME.fullmatch(value):
            options += [f"--{option.replace('_', '-')}", value]
    if args.key_type != "ecdsa":
        options += ["--key-type", args.key_type]
    return options


# -- certs bundle / show FILE -----------------------------------------------------------


def _certs_bundle(args: argparse.Namespace) -> int:
    out: Path = args.output
    if out.is_dir():
        raise InputError(f"-o {out}: is a directory; name the truststore file to write")
    if out.exists() and not args.force:
        raise InputError(f"-o {out}: already exists; pass --force to replace it")
    result = ts.bundle(args.files)
    try:
        write_file(out, KitFile(result.pem()))
    except OSError as e:
        raise InputError(f"-o {out}: cannot write ({e.strerror or e})") from None
    print(f"Wrote {out}: {len(result.certs)} certificates, in this order")
    for number, entry in enumerate(result.certs, start=1):
        assert entry.cert is not None
        print(f"  {number}. {cf.dn(entry.cert)} ({cf.kind(entry.cert)}) from {entry.where}")
    for note in result.notes:
        print(f"Note: {note}")
    print(f"Upload {out} as the DLB truststore; list it with: {PROG} certs show {out}")
    return 0


def _show_file(path: Path) -> int:
    now = datetime.now(UTC)
    entries = ts.examine([path], now)
    certs = sum(entry.cert is not None for entry in entries)
    der = " (DER)" if entries and entries[0].block is None else ""
    print(f"{path}: {certs} certificate{'s' if certs != 1 else ''}{der}")
    problems = 0
    for entry in entries:
        print()
        label = f"block {entry.block}" if entry.block is not None else "certificate"
        print(f"{label}: {cf.dn(entry.cert) if entry.cert is not None else entry.label}")
        lines: list[tuple[str, str]] = []
        if entry.cert is not None:
            cert = entry.cert
            lines += [
                ("Issuer", cert.issuer.rfc4514_string()),
                ("Serial", format(cert.serial_number, "X")),
                (
                    "Valid",
                    f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M:%S} UTC"
                    f" to {cert.not_valid_after_utc:%Y-%m-%d %H:%M:%S} UTC",
                ),
                ("Type", cf.kind(cert)),
                ("SHA-256", cert.fingerprint(hashes.SHA256()).hex(":").upper()),
            ]
        problem = entry.problem or (entry.note if entry.block is None else None)
        if problem is not None:
            problems += 1
            lines.append(("Problem", problem))
        elif entry.cert is not None and (soon := ts.expiry_note(entry.cert, now)):
            lines.append(("Note", soon))
        for name, value in lines:
            print(f"  {name + ':':<9} {value}")
    print()
    if problems:
        print(
            f"{problems} problem{'s' if problems != 1 else ''}: not fit to upload as a truststore"
        )
        return 1
    print("Fit to upload as a truststore: the DLB takes every certificate, its UI shows the first")
    return 0
