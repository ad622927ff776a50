"""The real-server launcher: ports from the OS, retry on a taken port, logs on failure, cleanup."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import realservers
from realservers import LOOPBACK, NginxServer, ServerStartError, render

pytestmark = [pytest.mark.selftest, pytest.mark.realserver]

PLAIN = "server { listen 127.0.0.1:@port@; location / { return 200 '@greeting@'; } }"


@pytest.fixture(autouse=True)
def _need_nginx() -> None:
    if not NginxServer.available():
        pytest.fail("nginx is not installed: apt-get install nginx, or use -m 'not realserver'")


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


def test_server_starts_serves_and_cleans_up() -> None:
    """nginx runs on an OS-picked port from a temp prefix, and stop() frees both."""
    with NginxServer(PLAIN, values={"greeting": "hi"}) as server:
        port, prefix = server.port, server.prefix
        assert prefix is not None
        assert (prefix / "nginx.conf").read_text().count("return 200 'hi'") == 1
        assert answers(port)
    assert not answers(port)
    assert not prefix.exists()


def test_start_retries_when_a_port_was_taken_meanwhile(
    listener: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A port grabbed between picking and binding makes start() pick again, not fail."""
    taken = listener.getsockname()[1]
    picks = iter([[taken]])
    real = realservers.free_ports
    monkeypatch.setattr(realservers, "free_ports", lambda n: next(picks, None) or real(n))
    with NginxServer(PLAIN, values={"greeting": "hi"}) as server:
        assert server.port != taken
        assert answers(server.port)


def test_bad_config_fails_with_nginx_s_own_words() -> None:
    """A config nginx rejects raises ServerStartError carrying nginx's error log."""
    with pytest.raises(ServerStartError, match='unknown directive "no_such_directive"'):
        NginxServer("no_such_directive on;").start()


def test_unknown_placeholder_is_an_error() -> None:
    """A placeholder without a value is refused rather than left in the config."""
    with pytest.raises(KeyError, match="@cert@ has no value"):
        render("ssl_certificate @cert@;", {"port": 1})
