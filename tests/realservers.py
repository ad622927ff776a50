"""Start real TLS servers (nginx, HAProxy, Apache httpd, Caddy) for the self-tests.

Free of pytest, like pytest-httpserver's server: a test or fixture wraps it. Each server
runs from its own temp prefix (config, pid, logs, temp dirs: nothing under /var), on
loopback ports the OS picked, and is stopped by pid.

Config text is a template: `@name@` is replaced by a value. Every server knows `@port@`
(the first port), `@port0@`, `@port1@`, ... and `@prefix@`; callers add their own (file
paths, say) through `values`. `@` was chosen because `{}` and `$` mean things in nginx,
HAProxy and Apache configs; a placeholder left unknown is an error, never silently kept.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

LOOPBACK = "127.0.0.1"
_PLACEHOLDER = re.compile(r"@([a-z_][a-z0-9_]*)@")


class ServerStartError(RuntimeError):
    """The server did not come up; the message carries its log."""


def free_ports(count: int) -> list[int]:
    """Ports the OS says are free now (bound to port 0, read back, closed).

    Another process may take one before the server binds it: start() retries on
    "address in use". All sockets stay open until every port is read, so they differ.
    """
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((LOOPBACK, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _accepts(port: int) -> bool:
    try:
        socket.create_connection((LOOPBACK, port), timeout=0.5).close()
    except OSError:
        return False
    return True


def render(template: str, values: Mapping[str, object]) -> str:
    """Replace every @name@ in template with str(values[name])."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(f"config placeholder @{name}@ has no value (known: {sorted(values)})")
        return str(values[name])

    return _PLACEHOLDER.sub(one, template)


class RealServer:
    """A server process started from a config template; subclasses say how to run it."""

    executable: ClassVar[str]
    config_name: ClassVar[str] = "server.conf"
    addr_in_use: ClassVar[str] = "Address already in use"
    start_attempts: ClassVar[int] = 5

    def __init__(
        self,
        config: str,
        *,
        values: Mapping[str, object] | None = None,
        port_count: int = 1,
        start_timeout: float = 10.0,
    ) -> None:
        self.template = config
        self.values = dict(values or {})
        self.port_count = port_count
        self.start_timeout = start_timeout
        self.ports: tuple[int, ...] = ()
        self.prefix: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @classmethod
    def available(cls) -> bool:
        return shutil.which(cls.executable) is not None

    @property
    def port(self) -> int:
        if not self.ports:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self.ports[0]

    # -- for subclasses ----------------------------------------------------------------
    def wrap(self, config: str) -> str:
        """The whole config file around the caller's text (rendered afterwards)."""
        return config

    def command(self, prefix: Path, config: Path) -> list[str]:
        raise NotImplementedError

    def log_paths(self, prefix: Path) -> list[Path]:
        """Files whose text explains a failed start, besides the process's own output."""
        return []

    def state_paths(self, prefix: Path) -> list[Path]:
        """Files the server leaves behind (pid files) that ready() looks at."""
        return []

    def ready(self, prefix: Path) -> bool:
        """Whether the server says it has bound its ports (beyond the ports accepting)."""
        return True

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> Self:
        if self._process is not None:
            raise RuntimeError(f"{type(self).__name__} is already started")
        self.prefix = Path(tempfile.mkdtemp(prefix=f"mtls-{self.executable}-"))
        try:
            for _ in range(self.start_attempts):
                if self._start_once(self.prefix):
                    return self
            raise ServerStartError(
                f"{self.executable}: ports stayed in use after {self.start_attempts} tries"
            )
        except BaseException:
            self.stop()
            raise

    def _start_once(self, prefix: Path) -> bool:
        """True once the server is up; False if a port was taken meanwhile (then retry)."""
        for path in [prefix / "output.log", *self.log_paths(prefix), *self.state_paths(prefix)]:
            path.unlink(missing_ok=True)  # a retry must not see the last attempt's traces
        self.ports = tuple(free_ports(self.port_count))
        names = {"port": self.ports[0], "prefix": prefix}
        names |= {f"port{i}": port for i, port in enumerate(self.ports)}
        config = prefix / self.config_name
        config.write_text(render(self.wrap(self.template), names | self.values))
        with (prefix / "output.log").open("wb") as out:
            self._process = subprocess.Popen(
                self.command(prefix, config),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches pytest, which stops us cleanly
            )
        deadline = time.monotonic() + self.start_timeout
        while True:
            code = self._process.poll()
            log = self.log_text()
            if self.addr_in_use in log:
                self._end_process()
                return False
            if code is not None:
                self._process = None
                raise ServerStartError(f"{self.executable} exited with {code} at start:\n{log}")
            # A port that accepts is not proof on its own: whoever took it meanwhile
            # accepts too. ready() asks the server itself (nginx: its pid file).
            if self.ready(prefix) and all(_accepts(port) for port in self.ports):
                return True
            if time.monotonic() > deadline:
                raise ServerStartError(
                    f"{self.executable}: not serving on {list(self.ports)} after "
                    f"{self.start_timeout:g}s:\n{log}"
                )
            time.sleep(0.05)

    def log_text(self) -> str:
        """Everything the server wrote so far (output, then its own log files)."""
        if self.prefix is None:
            return ""
        parts = []
        for path in [self.prefix / "output.log", *self.log_paths(self.prefix)]:
            if path.exists():
                text = path.read_text(errors="replace").strip()
                if text:
                    parts.append(f"--- {path.name}\n{text}")
        return "\n".join(parts)

    def _end_process(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def stop(self) -> None:
        self._end_process()
        if self.prefix is not None:
            shutil.rmtree(self.prefix, ignore_errors=True)
            self.prefix = None
        self.ports = ()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class NginxServer(RealServer):
    """nginx in the foreground; the caller's text goes inside `http { }`.

    `main_config` is placed at the top level (load_module lines, a stream block).
    """

    executable = "nginx"
    config_name = "nginx.conf"

    def __init__(
        self,
        http_config: str,
        *,
        main_config: str = "",
        values: Mapping[str, object] | None = None,
        port_count: int = 1,
        start_timeout: float = 10.0,
    ) -> None:
        super().__init__(
            http_config, values=values, port_count=port_count, start_timeout=start_timeout
        )
        self.main_config = main_config

    def wrap(self, config: str) -> str:
        # As root, nginx would hand requests to workers running as nobody, which cannot
        # read a prefix under a 0700 temp dir; `user` is only valid (and needed) as root.
        user = "user root;\n" if os.geteuid() == 0 else ""
        temp_paths = "".join(
            f"    {kind}_temp_path @prefix@/{kind}_temp;\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        return (
            f"{user}worker_processes 1;\n"
            "pid @prefix@/nginx.pid;\n"
            "error_log @prefix@/error.log info;\n"
            f"{self.main_config}\n"
            "events { worker_connections 128; }\n"
            "http {\n"
            "    access_log @prefix@/access.log;\n"
            f"{temp_paths}"
            f"{config}\n"
            "}\n"
        )

    def command(self, prefix: Path, config: Path) -> list[str]:
        # -e: the log nginx opens before reading the config (else /var/log/nginx/...).
        return [
            self.executable,
            "-p",
            f"{prefix}/",
            "-e",
            str(prefix / "error.log"),
            "-c",
            str(config),
            "-g",
            "daemon off;",
        ]

    def log_paths(self, prefix: Path) -> list[Path]:
        return [prefix / "error.log"]

    def state_paths(self, prefix: Path) -> list[Path]:
        return [prefix / "nginx.pid"]

    def ready(self, prefix: Path) -> bool:
        # nginx writes its pid file only after every listening socket is bound.
        return (prefix / "nginx.pid").exists()


class HAProxyServer(RealServer):
    """HAProxy in the foreground (`-W -db`); the caller's text follows a minimal global section.

    Master-worker mode (`-W`) is used only for its pid file, which the master writes once
    every listener is bound: plain `-db` writes none, so readiness could not be told from
    someone else answering on the port.
    """

    executable = "haproxy"
    config_name = "haproxy.cfg"

    def wrap(self, config: str) -> str:
        return (
            "global\n"
            "    log stderr format raw local0 info\n"
            "    stats socket @prefix@/admin.sock mode 600\n"
            f"{config}\n"
        )

    def command(self, prefix: Path, config: Path) -> list[str]:
        return [self.executable, "-W", "-db", "-f", str(config), "-p", str(prefix / "haproxy.pid")]

    def state_paths(self, prefix: Path) -> list[Path]:
        return [prefix / "haproxy.pid"]

    def ready(self, prefix: Path) -> bool:
        return (prefix / "haproxy.pid").exists()

    def stop(self) -> None:
        ports = self.ports
        super().stop()
        # The master passes its listening sockets to the worker over a UNIX socket, and the
        # kernel may close such a socket a moment after both processes are gone: wait for
        # it, so a stopped server is one nobody can connect to (measured: a few ms).
        deadline = time.monotonic() + 5
        while any(_accepts(port) for port in ports) and time.monotonic() < deadline:
            time.sleep(0.01)


APACHE_MODULES = Path("/usr/lib/apache2/modules")


class ApacheServer(RealServer):
    """Apache httpd as one foreground process (`apache2 -X`) with its own ServerRoot.

    Everything Debian's /etc/apache2 would provide is in `wrap`: the MPM, the modules an
    mTLS proxy needs (loaded by full path), pid file, logs, mutexes and runtime dir in the
    prefix. As root, httpd serves as `nobody` after reading its config, keys and CRLs.
    """

    executable = "apache2"
    config_name = "httpd.conf"
    modules: ClassVar[tuple[tuple[str, str], ...]] = (
        ("mpm_event_module", "mod_mpm_event.so"),
        ("authz_core_module", "mod_authz_core.so"),
        ("ssl_module", "mod_ssl.so"),
        ("socache_shmcb_module", "mod_socache_shmcb.so"),
        ("headers_module", "mod_headers.so"),
        ("proxy_module", "mod_proxy.so"),
        ("proxy_http_module", "mod_proxy_http.so"),
    )

    def wrap(self, config: str) -> str:
        user = "User nobody\nGroup nogroup\n" if os.geteuid() == 0 else ""
        loads = "".join(
            f"LoadModule {name} {APACHE_MODULES / file}\n" for name, file in self.modules
        )
        return (
            "ServerRoot @prefix@\n"
            "PidFile @prefix@/httpd.pid\n"
            "ErrorLog @prefix@/error.log\n"
            "LogLevel info\n"
            "DefaultRuntimeDir @prefix@\n"
            "Mutex file:@prefix@ default\n"
            f"{user}"
            f"{loads}"
            "ServerName localhost\n"
            "SSLSessionCache shmcb:@prefix@/ssl_scache(512000)\n"
            f"{config}\n"
        )

    def command(self, prefix: Path, config: Path) -> list[str]:
        return [self.executable, "-X", "-d", str(prefix), "-f", str(config)]

    def log_paths(self, prefix: Path) -> list[Path]:
        return [prefix / "error.log"]

    def state_paths(self, prefix: Path) -> list[Path]:
        return [prefix / "httpd.pid"]

    def ready(self, prefix: Path) -> bool:
        # httpd writes its pid file after binding its listeners.
        return (prefix / "httpd.pid").exists()


class CaddyServer(RealServer):
    """Caddy from a Caddyfile (`caddy run --adapter caddyfile`), global options prepended.

    The admin endpoint is off, HTTP->HTTPS redirects (a listener on port 80) are off, only
    HTTP/1.1 and HTTP/2 are served (no UDP listener), and storage, HOME and the XDG dirs
    (where Caddy autosaves its config) are in the prefix.
    """

    executable = "caddy"
    config_name = "Caddyfile"
    addr_in_use = "address already in use"  # Go's wording

    def wrap(self, config: str) -> str:
        return (
            "{\n"
            "\tadmin off\n"
            "\tauto_https disable_redirects\n"
            "\tstorage file_system @prefix@/storage\n"
            "\tservers {\n\t\tprotocols h1 h2\n\t}\n"
            "\tlog {\n\t\toutput stderr\n\t\tlevel INFO\n\t}\n"
            "}\n"
            f"{config}\n"
        )

    def command(self, prefix: Path, config: Path) -> list[str]:
        # env execs caddy, so the pid we signal is Caddy's own.
        return [
            "env",
            f"HOME={prefix}",
            f"XDG_DATA_HOME={prefix}/data",
            f"XDG_CONFIG_HOME={prefix}/config",
            self.executable,
            "run",
            "--config",
            str(config),
            "--adapter",
            "caddyfile",
            "--pidfile",
            str(prefix / "caddy.pid"),
        ]

    def state_paths(self, prefix: Path) -> list[Path]:
        return [prefix / "caddy.pid"]

    def ready(self, prefix: Path) -> bool:
        # caddy run writes its pid file once the config (listeners included) is running.
        return (prefix / "caddy.pid").exists()
