"""The suite's command-line options, registered as an installed pytest plugin.

Why a plugin and not conftest.py: pytest picks its rootdir and its conftest.py files from the
command line *before* any conftest.py can declare options, so in
``pytest --host h --certs /elsewhere/kit`` it would take ``/elsewhere/kit`` for a test path,
never load this project's conftest.py, and fail with "unrecognized arguments". An installed
plugin (entry point ``pytest11``) is loaded in time for pytest to read those values as values.
This module only declares options; everything else lives in conftest.py's plugins.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

PLUGIN_NAME = "mtls-conformance"
MODES = ("mandatory", "optional")
# mtls_conformance.profiles is checked against this
PROFILE_NAMES = "mulesoft-dlb, nginx, haproxy, apache, caddy"


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("mtls", "mTLS conformance target")
    option = _adder(group)
    option(
        "--host",
        action="append",
        help="Target host name (SNI, Host header, certificate check); repeat it to test "
        "several hosts in one run; without it the embedded reference DLB is tested",
    )
    option(
        "--targets",
        help="File with one target per line: HOST[:PORT] [mode=...] [profile=...] "
        "[path=...] [echo-path=...] [connect-to=...]",
    )
    option("--port", help="Target port (default 443)")
    option("--path", help="Endpoint the status scenarios call (default /)")
    option(
        "--echo-path",
        help="Endpoint whose JSON body echoes the headers the backend "
        'received ({"headers": {...}}); header scenarios skip without it',
    )
    option(
        "--mode",
        help="The client certificate validation the target is supposed to have: "
        "mandatory or optional (default mandatory; the embedded run covers both)",
    )
    option(
        "--profile",
        help=f"How the target refuses and which headers it forwards: "
        f"{PROFILE_NAMES} (default mulesoft-dlb)",
    )
    option(
        "--certs",
        help="The cert kit directory (mtls-conformance certs init DIR); required with --host",
    )
    option(
        "--server-ca",
        help="CA file that verifies the target's server certificate "
        "(default: the system trust store)",
    )
    option("--insecure", action="store_true", help="Do not verify the target's server certificate")
    option(
        "--connect-to",
        help="Connect to this address but keep --host for SNI, Host and "
        "verification (like curl --resolve)",
    )
    option(
        "--with-crl",
        action="store_true",
        help="The target has the kit's crl.pem loaded: revoked scenarios must be refused",
    )
    option("--timeout", help="Seconds allowed for one connection and request (default 10)")
    option(
        "--tls-version",
        help="Pin the TLS version of every probe: 1.2, 1.3 or auto "
        "(default auto: what the target offers)",
    )
    option(
        "--cert-warn-days",
        help="Warn when the target's own certificate expires within this many days (default 30)",
    )
    option(
        "--cert-fail-days",
        help="Fail when the target's own certificate expires within this many days (default 7)",
    )
    option(
        "--no-reports",
        dest="mtls_no_reports",
        action="store_true",
        help="Do not write reports/cucumber.json, junit.xml and report.html by default",
    )


def _adder(group: Any) -> Any:
    def option(name: str, **kwargs: Any) -> None:
        # Another plugin may own this name (pytest-timeout has --timeout); its value, read
        # under the same dest, means the same thing.
        with contextlib.suppress(ValueError):
            group.addoption(name, **kwargs)

    return option
