"""Option values are checked once, up front, into one-line errors that name the option."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mtls_conformance.errors import InputError
from mtls_conformance.settings import parse_settings

pytestmark = pytest.mark.selftest


def test_defaults_describe_the_embedded_target() -> None:
    """No options at all: embedded target, port 443, path /, Mandatory, the DLB profile."""
    settings = parse_settings({})
    assert settings.embedded
    assert (settings.port, settings.path, settings.mode, settings.profile) == (
        443, "/", "mandatory", "mulesoft-dlb")
    assert settings.tls_version is None
    assert settings.timeout == 10.0


def test_remote_values_are_kept(tmp_path: Path) -> None:
    """Every option given reaches the settings in its checked form."""
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    settings = parse_settings({
        "host": "dlb.example.com", "port": "8443", "path": "/api", "echo_path": "/anything",
        "mode": "optional", "profile": "nginx", "certs": str(tmp_path), "server_ca": str(ca),
        "connect_to": "127.0.0.1", "with_crl": True, "timeout": "2.5", "tls_version": "1.3",
    })
    assert not settings.embedded
    assert (settings.host, settings.port, settings.mode, settings.profile) == (
        "dlb.example.com", 8443, "optional", "nginx")
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
        ({"host": "https://dlb.example.com/"}, "--host 'https://dlb.example.com/': expected"),
        ({"host": "a b"}, "--host 'a b': expected a host name or address"),
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
    ca.write_text("x")
    with pytest.raises(InputError, match="--insecure and --server-ca"):
        parse_settings({"insecure": True, "server_ca": str(ca)})


def test_ipv6_host_loses_its_brackets() -> None:
    """[::1] is accepted as the address ::1 (brackets belong in URLs, not in SNI)."""
    assert parse_settings({"host": "[::1]"}).host == "::1"
