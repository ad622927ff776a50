"""The suite end to end against the reference DLB: green as shipped, writing its three reports;
red on the covering scenario when the reference DLB is deliberately misconfigured; and one
clear line (never a traceback) when the run cannot go on.

Every run is a real ``pytest`` in a child process, judged from its exit status and reports.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from suite_runner import PROJECT, SuiteRun, run_suite

from mtls_conformance.kit import Kit, create_kit
from mtls_conformance.reference import ListenerConfig, ReferenceDLB

pytestmark = pytest.mark.selftest


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    return create_kit(tmp_path_factory.mktemp("embedded") / "certs")


def _no_traceback(output: str) -> None:
    assert "Traceback" not in output
    assert "INTERNALERROR" not in output


def test_default_run_is_green_and_writes_three_reports(tmp_path: Path) -> None:
    """`pytest` alone: every scenario of both modes passes against the embedded DLB, and the
    Cucumber, JUnit and HTML reports hold one entry per scenario."""
    run = run_suite(reports=tmp_path)
    assert run.exit_code == 0, run.output
    results = run.scenarios()
    assert set(results.values()) == {"passed"}
    tags = {tag["name"] for feature in run.cucumber for tag in feature["tags"]}
    assert {"@mandatory", "@optional"} <= tags  # both modes ran
    junit = ElementTree.parse(tmp_path / "junit.xml").getroot()
    cases = junit.findall(".//testcase")
    assert len(cases) == sum(len(feature["elements"]) for feature in run.cucumber)
    assert len(cases) >= 30
    html = (tmp_path / "report.html").read_text()
    assert "A request without a client certificate is refused" in html


def test_smoke_subset_runs_alone(tmp_path: Path) -> None:
    """-m smoke selects a smaller gate that still covers both modes."""
    run = run_suite("-m", "smoke", reports=tmp_path)
    assert run.exit_code == 0, run.output
    assert 5 <= len(run.scenarios()) < 20


@pytest.mark.parametrize("tls", ["1.2", "1.3"])
def test_both_tls_versions_are_green(tmp_path: Path, tls: str) -> None:
    """Pinned to TLS 1.2 or to 1.3, every scenario still passes (the verdicts hold in both)."""
    run = run_suite("--tls-version", tls, reports=tmp_path)
    assert run.exit_code == 0, run.output
    outputs = [
        line
        for feature in run.cucumber
        for element in feature["elements"]
        for step in element["steps"]
        for line in step.get("output", [])
        if "): HTTP " in line
    ]
    assert outputs
    assert all(f"over TLS {tls}" in line for line in outputs)


# --- negative controls: the reference DLB, deliberately wrong


def _listener(kit: Kit, mode: str, truststore: Path | None = None, **flags: Any) -> ListenerConfig:
    return ListenerConfig(
        mode="mandatory" if mode == "mandatory" else "optional",
        server_cert=kit.server_cert,
        server_key=kit.server_key,
        truststore=truststore or kit.truststore,
        crl=kit.crl,
        **flags,
    )


def _against(kit: Kit, listener: ListenerConfig, reports: Path) -> SuiteRun:
    with ReferenceDLB([listener]) as dlb:
        return run_suite(
            "--host",
            "localhost",
            "--connect-to",
            "127.0.0.1",
            "--port",
            str(dlb.port(0)),
            "--certs",
            str(kit.directory),
            "--server-ca",
            str(kit.server_ca),
            "--mode",
            listener.mode,
            "--echo-path",
            dlb.echo_path,
            "--with-crl",
            reports=reports,
        )


def _ca_only_truststore(kit: Kit, directory: Path) -> Path:
    first = kit.truststore.read_text().split("-----END CERTIFICATE-----")[0]
    path = directory / "ca-only.pem"
    path.write_text(first + "-----END CERTIFICATE-----\n")
    return path


MISCONFIGURATIONS = [
    pytest.param(
        "mandatory",
        {"mandatory_behaves_optional": True},
        False,
        "A request without a client certificate is refused",
        "looks set to Optional",
        id="mandatory-behaves-optional",
    ),
    pytest.param(
        "mandatory",
        {},
        True,
        "A trusted client certificate is accepted: self-signed-trusted",
        "does not hold the self-signed client certificate",
        id="truststore-partial",
    ),
    pytest.param(
        "mandatory",
        {"pass_client_identity_headers": True},
        False,
        "Forged identity headers are dropped for a verified client",
        "passes identity headers sent by the client",
        id="spoofed-headers-pass",
    ),
    pytest.param(
        "optional",
        {"pass_client_identity_headers": True},
        False,
        "Forged identity headers are dropped for a client without a certificate",
        "passes identity headers sent by the client",
        id="spoofed-headers-pass-optional",
    ),
    pytest.param(
        "mandatory",
        {"forward_verify_header": False},
        False,
        "The backend learns who the verified client is: ca-signed",
        "does not forward X-SSL-Client-Verify",
        id="verify-header-missing",
    ),
    pytest.param(
        "mandatory",
        {"swallow_errors": True},
        False,
        "An invalid client certificate is refused: expired",
        "an error page swallows the rejection",
        id="errors-swallowed",
    ),
    pytest.param(
        "optional",
        {"forward_invalid": False},
        False,
        "An invalid certificate is never passed off as verified: expired",
        "refuses invalid certificates in Optional mode",
        id="optional-no-forward",
    ),
]


@pytest.mark.parametrize(("mode", "flags", "partial", "scenario", "cause"), MISCONFIGURATIONS)
def test_misconfigured_reference_fails_the_covering_scenario(
    kit: Kit,
    tmp_path: Path,
    mode: str,
    flags: dict[str, Any],
    partial: bool,
    scenario: str,
    cause: str,
) -> None:
    """Each misconfiguration makes the suite exit 1 on the scenario that covers it, with the
    likely cause in plain words."""
    truststore = _ca_only_truststore(kit, tmp_path) if partial else None
    run = _against(kit, _listener(kit, mode, truststore, **flags), tmp_path / "reports")
    assert run.exit_code == 1, run.output
    assert scenario in run.failed(), run.scenarios()
    assert cause in run.error_messages()[scenario]
    _no_traceback(run.output)


def test_correct_reference_passes_as_a_remote_host(kit: Kit, tmp_path: Path) -> None:
    """The control of the misconfigurations: the same listener, configured right, passes."""
    for mode in ("mandatory", "optional"):
        run = _against(kit, _listener(kit, mode), tmp_path / mode)
        assert run.exit_code == 0, run.output
    # pytest took the kit directory for its rootdir (the kit is outside the project), yet
    # wrote no cache into the user's kit.
    assert not (kit.directory / ".pytest_cache").exists()


# --- the run cannot go on: one line, a defined exit status, reports still written


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (("--host", "localhost"), "--certs is required with --host"),
        (("--host", "localhost", "--certs", "/nonexistent"), "--certs: "),
        (("--port", "abc"), "--port abc: not a number"),
        (("--mode", "sometimes"), "--mode sometimes: must be one of mandatory, optional"),
        (("--profile", "f5"), "--profile f5: unknown profile"),
        (("--timeout", "-1"), "--timeout -1: must be more than 0"),
    ],
)
def test_bad_options_give_one_line_and_exit_4(
    tmp_path: Path, args: tuple[str, ...], line: str
) -> None:
    """A bad option value or kit stops pytest with exit 4 and one line naming it."""
    run = run_suite(*args, reports=tmp_path)
    assert run.exit_code == 4, run.output
    assert line in run.output
    _no_traceback(run.output)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def plain_http_port() -> Iterator[int]:
    """A port that answers HTTP, not TLS."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                client, _ = server.accept()
            except OSError:
                continue
            with client:
                client.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join()
    server.close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    yield int(server.getsockname()[1])
    server.close()


UNTESTABLE = {
    "refused": "connection refused",
    "dns": "the host name does not resolve",
    "not-tls": "the port does not speak TLS",
    "timeout": "no answer within 1 s (--timeout)",
    "server-cert": "the server certificate was rejected",
}


@pytest.mark.parametrize("situation", list(UNTESTABLE))
def test_untestable_target_stops_with_one_line_and_reports(
    kit: Kit, tmp_path: Path, plain_http_port: int, silent_port: int, situation: str
) -> None:
    """A target that cannot be tested stops the run (exit 3) with one line saying what and
    where, and the reports are still written."""
    host, address = "localhost", "127.0.0.1"
    trust = ["--server-ca", str(kit.server_ca)]
    with contextlib.ExitStack() as stack:
        if situation == "refused":
            port = _closed_port()
        elif situation == "dns":
            host = address = "no-such-host.mtls-conformance.invalid"
            port = 443
        elif situation == "not-tls":
            port = plain_http_port
        elif situation == "timeout":
            port = silent_port
        else:  # server-cert: the system trust store does not know the kit's server CA
            port = stack.enter_context(ReferenceDLB([_listener(kit, "mandatory")])).port(0)
            trust = []
        run = run_suite(
            "--host",
            host,
            "--connect-to",
            address,
            "--port",
            str(port),
            "--certs",
            str(kit.directory),
            "--timeout",
            "1",
            *trust,
            reports=tmp_path,
        )
    assert run.exit_code == 3, run.output
    lines = [line for line in run.output.splitlines() if "cannot test the target" in line]
    assert len(lines) == 1, run.output
    assert f"{host}:{port} -> " in lines[0]
    assert UNTESTABLE[situation] in lines[0]
    _no_traceback(run.output)
    assert (tmp_path / "junit.xml").exists()
    assert (tmp_path / "cucumber.json").exists()


@pytest.mark.parametrize(
    ("damage", "line"),
    [
        ("missing-manifest", "manifest.json: missing; make a kit with"),
        ("garbled-cert", "clients/ca-signed.pem"),
        ("empty-truststore", "truststore.pem"),
    ],
)
def test_damaged_kit_gives_one_line_naming_the_file(
    kit: Kit, tmp_path: Path, damage: str, line: str
) -> None:
    """--certs pointing at a damaged kit: exit 4, one line naming the file, no traceback."""
    damaged = tmp_path / "certs"
    shutil.copytree(kit.directory, damaged)
    if damage == "missing-manifest":
        (damaged / "manifest.json").unlink()
    elif damage == "garbled-cert":
        (damaged / "clients" / "ca-signed.pem").write_text("-----BEGIN CERTIFICATE-----\nxx\n")
    else:
        (damaged / "truststore.pem").write_text("")
    run = run_suite("--host", "localhost", "--certs", str(damaged), reports=tmp_path / "r")
    assert run.exit_code == 4, run.output
    assert line in run.output
    _no_traceback(run.output)


def test_bad_targets_file_gives_one_line_naming_file_and_line(tmp_path: Path) -> None:
    """A --targets file with a bad line: exit 4 and FILE:LINE: in one line."""
    targets = tmp_path / "targets.txt"
    targets.write_text("dlb.example.com\ndlb2.example.com mode=sometimes\n")
    run = run_suite("--targets", str(targets), "--certs", "/nonexistent", reports=tmp_path / "r")
    assert run.exit_code == 4, run.output
    assert f"{targets}:2: mode sometimes: must be one of mandatory, optional" in run.output
    _no_traceback(run.output)


def test_ctrl_c_stops_promptly_and_keeps_the_reports(
    kit: Kit, tmp_path: Path, silent_port: int
) -> None:
    """Ctrl-C while the run waits on a silent target: exit 2 within seconds (not after the
    30 s timeout), no traceback, and the reports are written."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:randomly",
        f"--cucumberjson={tmp_path / 'cucumber.json'}",
        f"--junitxml={tmp_path / 'junit.xml'}",
        "--host",
        "localhost",
        "--connect-to",
        "127.0.0.1",
        "--port",
        str(silent_port),
        "--certs",
        str(kit.directory),
        "--server-ca",
        str(kit.server_ca),
        "--timeout",
        "30",
    ]
    process = subprocess.Popen(
        command, cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    seen: list[str] = []
    for line in process.stdout:  # wait until the run is really under way (collected)
        seen.append(line)
        if "collected" in line:
            break
    time.sleep(0.5)  # now inside the reachability check, waiting on the silent port
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=25)  # raises if it waited out the 30 s timeout
    output = "".join(seen) + rest
    assert process.returncode == 2, output
    _no_traceback(output)
    assert (tmp_path / "junit.xml").exists()
    assert (tmp_path / "cucumber.json").exists()
