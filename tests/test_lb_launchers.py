"""The HAProxy, Apache and Caddy launchers: start from a temp prefix, serve, retry, stop clean."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import realservers
from realservers import LOOPBACK, ApacheServer, CaddyServer, HAProxyServer, RealServer

pytestmark = [pytest.mark.selftest, pytest.mark.realserver]


@dataclass(frozen=True)
class Plain:
    """A config that answers plain HTTP with @greeting@, and one the server refuses."""

    launcher: type[RealServer]
    serving: str
    broken: str
    complaint: str  # the server's own words about `broken`


PLAIN = [
    Plain(
        HAProxyServer,
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n"
        "    timeout server 5s\n"
        "frontend plain\n    bind 127.0.0.1:@port@\n"
        '    http-request return status 200 content-type text/plain string "@greeting@"\n',
        "no_such_keyword on\n",
        "unknown keyword 'no_such_keyword'",
    ),
    Plain(
        ApacheServer,
        # No DocumentRoot the worker (nobody, when run as root) could read: every request
        # is refused on purpose, with our text as the error page.
        "Listen 127.0.0.1:@port@\n<VirtualHost 127.0.0.1:@port@>\n"
        "    <Location />\n        Require all denied\n"
        '        ErrorDocument 403 "@greeting@"\n    </Location>\n</VirtualHost>\n',
        "NoSuchDirective on\n",
        "Invalid command 'NoSuchDirective'",
    ),
    Plain(
        CaddyServer,
        'http://127.0.0.1:@port@ {\n\tbind 127.0.0.1\n\trespond "@greeting@"\n}\n',
        "http://127.0.0.1:@port@ {\n\tno_such_directive\n}\n",
        "unrecognized directive: no_such_directive",
    ),
]
IDS = [plain.launcher.executable for plain in PLAIN]


@pytest.fixture(params=PLAIN, ids=IDS)
def plain(request: pytest.FixtureRequest) -> Plain:
    config: Plain = request.param
    if not config.launcher.available():
        pytest.fail(
            f"{config.launcher.executable} is not installed: apt-get install it, "
            "or use -m 'not realserver'"
        )
    return config


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback port held open by someone else."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        sock.listen()
        yield sock


def answers(port: int) -> bool:
    try:
        socket.create_connection((LOOPBACK, port), timeout=1).close()
    except OSError:
        return False
    return True


def body(port: int) -> str:
    """The body of GET / on the port, whatever the status."""
    try:
        with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/", timeout=5) as response:
            return str(response.read().decode())
    except urllib.error.HTTPError as error:
        return str(error.read().decode())


def test_server_starts_serves_and_cleans_up(plain: Plain) -> None:
    """The server runs on an OS-picked port from a temp prefix; stop() frees both."""
    with plain.launcher(plain.serving, values={"greeting": "hello from the launcher"}) as server:
        port, prefix = server.port, server.prefix
        assert prefix is not None
        assert (prefix / server.config_name).exists()
        assert "hello from the launcher" in body(port)
    assert not answers(port)
    assert not prefix.exists()


def test_start_retries_when_a_port_was_taken_meanwhile(
    plain: Plain, listener: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A port grabbed between picking and binding makes start() pick again, not fail."""
    taken = listener.getsockname()[1]
    picks = iter([[taken]])
    real = realservers.free_ports
    monkeypatch.setattr(realservers, "free_ports", lambda n: next(picks, None) or real(n))
    with plain.launcher(plain.serving, values={"greeting": "picked again"}) as server:
        assert server.port != taken
        assert "picked again" in body(server.port)


def test_bad_config_fails_with_the_server_s_own_words(plain: Plain) -> None:
    """A config the server rejects raises ServerStartError carrying the server's message."""
    with pytest.raises(realservers.ServerStartError, match=plain.complaint):
        plain.launcher(plain.broken).start()
