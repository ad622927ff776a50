"""Option values are checked once, up front, into one-line errors that name the option."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trustme

from mtls_conformance.errors import InputError
from mtls_conformance.settings import parse_settings

pytestmark = pytest.mark.selftest


def test_defaults_describe_the_embedded_target() -> None:
    """No options at all: embedded target, port 443, path /, Mandatory, the DLB profile."""
    settings = parse_settings({})
    assert settings.embedded
    defaults = settings.defaults
    assert (defaults.port, defaults.path, defaults.mode, defaults.profile) == (
        443,
        "/",
        "mandatory",
        "mulesoft-dlb",
    )
    assert settings.tls_version is None
    assert settings.timeout == 10.0


def test_remote_values_are_kept(tmp_path: Path) -> None:
    """Every option given reaches the settings in its checked form."""
    ca = tmp_path / "ca.pem"
    ca.write_bytes(trustme.CA().cert_pem.bytes())
    settings = parse_settings(
        {
            "host": ["dlb.example.com"],
            "port": "8443",
            "path": "/api",
            "echo_path": "/anything",
            "mode": "optional",
            "profile": "nginx",
            "certs": str(tmp_path),
            "server_ca": str(ca),
            "connect_to": "127.0.0.1",
            "with_crl": True,
            "timeout": "2.5",
            "tls_version": "1.3",
        }
    )
    assert not settings.embedded
    (endpoint,) = settings.endpoints
    assert (endpoint.host, endpoint.port, endpoint.mode, endpoint.profile) == (
        "dlb.example.com",
        8443,
        "optional",
        "nginx",
    )
    assert (endpoint.path, endpoint.echo_path, endpoint.connect_to) == (
        "/api",
        "/anything",
        "127.0.0.1",
    )
    assert settings.server_ca == ca
    assert settings.timeout == 2.5
    assert settings.tls_version == "1.3"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"port": "abc"}, "--port abc: not a number"),
        ({"port": "0"}, "--port 0: must be between 1 and 65535"),
        ({"port": "70000"}, "--port 70000: must be between 1 and 65535"),
        ({"mode": "sometimes"}, "--mode sometimes: must be one of mandatory, optional"),
        ({"profile": "f5"}, "--profile f5: unknown profile"),
        ({"path": "api"}, "--path 'api': must start with /"),
        ({"echo_path": "/a b"}, "--echo-path '/a b': must start with / and contain no spaces"),
        ({"timeout": "soon"}, "--timeout soon: not a number of seconds"),
        ({"timeout": "0"}, "--timeout 0: must be more than 0"),
        ({"tls_version": "1.1"}, "--tls-version 1.1: must be 1.2, 1.3 or auto"),
        ({"server_ca": "/nonexistent/ca.pem"}, "--server-ca /nonexistent/ca.pem: no such file"),
        ({"host": ["https://dlb.example.com/"]}, "--host 'https://dlb.example.com/': expected"),
        ({"host": ["a b"]}, "--host 'a b': expected a host name or address"),
        ({"host": ["a", "a"]}, "--host / --targets: a:443 mandatory is given twice"),
        ({"targets": "/nonexistent/targets.txt"}, "--targets /nonexistent/targets.txt: no such"),
    ],
)
def test_bad_values_name_the_option(raw: dict[str, Any], message: str) -> None:
    """Each bad value gives one line that starts with the option and says what is wrong."""
    with pytest.raises(InputError) as caught:
        parse_settings(raw)
    text = str(caught.value)
    assert text.startswith(message)
    assert "\n" not in text


def test_insecure_and_server_ca_conflict(tmp_path: Path) -> None:
    """Asking to verify with a CA and not to verify at all is contradictory: refused."""
    ca = tmp_path / "ca.pem"
    ca.write_bytes(trustme.CA().cert_pem.bytes())
    with pytest.raises(InputError, match="--insecure and --server-ca"):
        parse_settings({"insecure": True, "server_ca": str(ca)})


def test_ipv6_host_loses_its_brackets() -> None:
    """[::1] is accepted as the address ::1 (brackets belong in URLs, not in SNI)."""
    assert parse_settings({"host": ["[::1]"]}).endpoints[0].host == "::1"


def test_targets_file_lines_override_the_options(tmp_path: Path) -> None:
    """Each line is one endpoint; what a line leaves out comes from the options."""
    targets = tmp_path / "targets.txt"
    targets.write_text(
        "# nightly\n"
        "dlb-eu.example.com\n"
        "dlb-us.example.com:8443 mode=optional profile=nginx echo-path=/anything  # us\n"
        "[::1]:9443 path=/health connect-to=127.0.0.1\n"
    )
    settings = parse_settings({"targets": str(targets), "path": "/api", "mode": "mandatory"})
    eu, us, local = settings.endpoints
    assert (eu.host, eu.port, eu.mode, eu.path, eu.profile) == (
        "dlb-eu.example.com",
        443,
        "mandatory",
        "/api",
        "mulesoft-dlb",
    )
    assert (us.host, us.port, us.mode, us.profile, us.echo_path) == (
        "dlb-us.example.com",
        8443,
        "optional",
        "nginx",
        "/anything",
    )
    assert (local.host, local.port, local.path, local.connect_to) == (
        "::1",
        9443,
        "/health",
        "127.0.0.1",
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("dlb:99999", ":1: port 99999: must be between 1 and 65535"),
        ("dlb mode=sometimes", ":1: mode sometimes: must be one of mandatory, optional"),
        ("dlb profile=f5", ":1: profile f5: unknown profile"),
        ("dlb colour=blue", ":1: 'colour=blue': expected key=value with a key among"),
        ("dlb path=api", ":1: path 'api': must start with /"),
    ],
)
def test_bad_targets_lines_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    """A bad line in a targets file is reported as FILE:LINE: and what is wrong with it."""
    targets = tmp_path / "targets.txt"
    targets.write_text(line + "\n")
    with pytest.raises(InputError) as caught:
        parse_settings({"targets": str(targets)})
    assert str(caught.value).startswith(f"{targets}{message}")


def test_empty_targets_file_is_refused(tmp_path: Path) -> None:
    """A targets file with only comments tests nothing: refused rather than silently embedded."""
    targets = tmp_path / "targets.txt"
    targets.write_text("# nothing yet\n\n")
    with pytest.raises(InputError, match="no targets in the file"):
        parse_settings({"targets": str(targets)})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a PEM certificate file"),
        (b"hello", "not a PEM certificate file"),
        (b"-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n", "not a PEM certificate"),
    ],
)
def test_server_ca_must_hold_a_certificate(tmp_path: Path, content: bytes, message: str) -> None:
    """An empty, garbled or non-certificate --server-ca is refused up front, in one line."""
    ca = tmp_path / "ca.pem"
    ca.write_bytes(content)
    with pytest.raises(InputError) as caught:
        parse_settings({"server_ca": str(ca)})
    assert str(caught.value).startswith(f"--server-ca {ca}: ")
    assert message in str(caught.value)
