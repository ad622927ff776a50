"""The `mtls-conformance` command: certs init / show, serve delegation, errors and exit codes."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from mtls_conformance import cli
from mtls_conformance.kit import P12_PASSWORD, ROLES, Kit, load_kit

pytestmark = pytest.mark.selftest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Kit, int, str]:
    """A kit made through `certs init`, with the exit code and what it printed."""
    directory = tmp_path_factory.mktemp("cli") / "certs"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(["certs", "init", str(directory)])
    return load_kit(directory), code, out.getvalue()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_init_makes_a_kit_and_says_what_to_upload(made: tuple[Kit, int, str]) -> None:
    """certs init exits 0, and names the truststore, the CRL and the .p12 password."""
    kit, code, out = made
    assert code == 0
    assert f"Made a cert kit in {kit.directory}: 9 client roles (ecdsa)" in out
    assert f"Upload {kit.truststore} as the DLB truststore" in out
    assert f"{kit.crl} as the CRL" in out
    assert f"(password {P12_PASSWORD})" in out


def test_init_refuses_an_existing_kit(
    made: tuple[Kit, int, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A second init into the same dir exits 2 with one line that says to pass --force."""
    kit = made[0]
    code, out, err = run(capsys, "certs", "init", str(kit.directory))
    assert (code, out) == (2, "")
    assert err == (
        f"mtls-conformance: error: {kit.directory}: already holds a cert kit"
        " (manifest.json); pass --force to replace it\n"
    )


def test_init_force_with_rsa_replaces_the_kit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--force replaces a kit, and --key-type rsa makes RSA keys."""
    assert run(capsys, "certs", "init", str(tmp_path))[0] == 0
    code, out, _ = run(capsys, "certs", "init", "--force", "--key-type", "rsa", str(tmp_path))
    assert code == 0
    assert "(rsa)" in out
    key = load_pem_private_key((tmp_path / "clients/ca-signed.key").read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)


def test_show_lists_every_role_and_what_to_upload(
    made: tuple[Kit, int, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """certs show prints subject, issuer, uppercase serial, validity and purpose per role."""
    kit = made[0]
    code, out, err = run(capsys, "certs", "show", str(kit.directory))
    assert (code, err) == (0, "")
    for role in ROLES:
        client = kit.client(role)
        assert f"\n{role}\n" in out
        assert f"Subject:  {client.subject}\n" in out
        assert f"Issuer:   {client.issuer}\n" in out
        assert f"Serial:   {client.serial:X}\n" in out
        assert f"Valid:    {client.not_before:%Y-%m-%d %H:%M:%S} UTC to " in out
        assert f"Purpose:  {client.purpose}\n" in out
    assert out.rstrip().splitlines()[-1] == (
        f"Upload {kit.truststore} as the DLB truststore (Client Certificate Validation),"
        f" {kit.crl} as the CRL; import {kit.directory}/clients/<role>.p12 into Postman"
        f" (password {P12_PASSWORD})"
    )


def test_show_without_a_kit_says_how_to_make_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """certs show on an empty dir exits 2 with one line naming manifest.json."""
    code, out, err = run(capsys, "certs", "show", str(tmp_path))
    assert (code, out) == (2, "")
    assert err == (
        f"mtls-conformance: error: {tmp_path}/manifest.json: missing;"
        f" make a kit with: mtls-conformance certs init {tmp_path}\n"
    )


@pytest.mark.parametrize(
    "argv",
    [[], ["certs"], ["certs", "init"], ["certs", "init", "x", "--key-type", "dsa"], ["bogus"]],
    ids=["nothing", "certs", "init-no-dir", "bad-key-type", "unknown-command"],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Bad usage is argparse's usage line and exit 2, not a traceback."""
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert err.startswith("usage: mtls-conformance")


def test_help_exits_0_and_texts_follow_the_house_style(capsys: pytest.CaptureFixture[str]) -> None:
    """--help exits 0; every help text starts with a capital and has no trailing period."""
    code, out, _ = run(capsys, "certs", "init", "--help")
    assert code == 0
    assert "--key-type {ecdsa,rsa}" in out
    parser = cli.build_parser()
    for action in _all_actions(parser):
        if action.help and not isinstance(action, argparse._HelpAction):
            assert action.help[0].isupper(), action.help
            assert not action.help.endswith("."), action.help


def _all_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    actions = []
    for action in parser._actions:
        actions.append(action)
        if isinstance(action, argparse._SubParsersAction):
            actions += action._get_subactions()
            for sub in action.choices.values():
                actions += _all_actions(sub)
    return actions


# -- serve: delegated, loaded lazily -------------------------------------------------


@pytest.fixture
def fake_serve(monkeypatch: pytest.MonkeyPatch) -> list[argparse.Namespace]:
    """A stand-in reference.serve module; returns the args each run() received."""
    calls: list[argparse.Namespace] = []
    module = ModuleType("fake_serve")

    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--port", type=int, default=0, help="Port")

    def run(args: argparse.Namespace) -> int:
        calls.append(args)
        if args.port == 13:
            raise KeyboardInterrupt
        return 0

    module.add_arguments = add_arguments  # type: ignore[attr-defined]
    module.run = run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_serve", module)
    monkeypatch.setattr(cli, "SERVE_MODULE", "fake_serve")
    return calls


def test_serve_delegates_with_the_modules_own_options(
    fake_serve: list[argparse.Namespace], capsys: pytest.CaptureFixture[str]
) -> None:
    """serve adds the reference module's options and hands the parsed args to its run()."""
    assert run(capsys, "serve", "--port", "8443")[0] == 0
    assert [args.port for args in fake_serve] == [8443]


def test_interrupt_is_one_line_and_exit_130(
    fake_serve: list[argparse.Namespace], capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C while serving prints one line and exits 130."""
    assert run(capsys, "serve", "--port", "13")[::2] == (130, "mtls-conformance: interrupted\n")


def test_certs_work_without_the_serve_module(
    made: tuple[Kit, int, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With no reference server installed, certs still works and serve fails in one line."""
    monkeypatch.setattr(cli, "SERVE_MODULE", "mtls_conformance.no_such_module")
    assert run(capsys, "certs", "show", str(made[0].directory))[0] == 0
    code, _, err = run(capsys, "serve")
    assert code == 2
    assert err.startswith("mtls-conformance: error: serve: the reference server is not part")
    assert err.count("\n") == 1


def test_python_dash_m_runs_the_cli(made: tuple[Kit, int, str]) -> None:
    """`python -m mtls_conformance` is the same command, errors included, without traceback."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "mtls_conformance", "certs", "show"]
    ok = subprocess.run([*command, str(made[0].directory)], capture_output=True, text=True, env=env)
    assert ok.returncode == 0
    assert "ca-signed" in ok.stdout
    bad = subprocess.run([*command, "/nonexistent"], capture_output=True, text=True, env=env)
    assert bad.returncode == 2
    assert bad.stderr == (
        "mtls-conformance: error: /nonexistent/manifest.json: missing;"
        " make a kit with: mtls-conformance certs init /nonexistent\n"
    )
