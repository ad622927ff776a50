"""ReferenceDLB: an echo backend plus N TLS listeners with nginx semantics, on loopback.

Lifecycle like pytest-httpserver: start() binds port 0 for everything and reads the real
ports back, daemon threads serve, stop() shuts down and joins, and errors raised inside
server threads are logged at once and raised from stop() (or check()) in the caller's thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from types import TracebackType

from mtls_conformance.errors import InputError, MtlsConformanceError
from mtls_conformance.reference import crl30, tls
from mtls_conformance.reference.config import ListenerConfig, ListenerMode
from mtls_conformance.reference.connection import Site
from mtls_conformance.reference.echo import ECHO_PATH, EchoBackend
from mtls_conformance.reference.listener import Listener

log = logging.getLogger("mtls_conformance.reference")


class ReferenceServerError(MtlsConformanceError):
    """Something failed inside a server thread of the reference DLB (a bug, not a verdict)."""


class ReferenceDLB:
    """The embedded reference DLB: `with ReferenceDLB([ListenerConfig(...)]) as dlb: ...`."""

    def __init__(
        self,
        listeners: Sequence[ListenerConfig],
        *,
        host: str = "127.0.0.1",
        timeout: float = 10.0,
    ) -> None:
        if not listeners:
            raise InputError("ReferenceDLB needs at least one listener")
        self.configs: tuple[ListenerConfig, ...] = tuple(listeners)
        self.host = host
        self.timeout = timeout  # idle time allowed per client step, and for the backend
        self._errors: list[tuple[str, BaseException]] = []
        self._errors_lock = threading.Lock()
        self._echo: EchoBackend | None = None
        self._listeners: list[Listener] = []
        self._started = False
        self._stopped = False

    @property
    def echo_path(self) -> str:
        return ECHO_PATH

    @property
    def is_running(self) -> bool:
        return self._started and not self._stopped

    @property
    def backend_address(self) -> tuple[str, int]:
        return self._require_running()._echo_address()

    def start(self) -> None:
        """Bind every port and start serving. A ReferenceDLB starts once."""
        if self._started:
            raise ReferenceServerError("reference DLB already started; make a new one")
        self._started = True
        try:
            self._echo = EchoBackend(self.host, self._record)
            sites = [self._site(config) for config in self.configs]
            for index, site in enumerate(sites):
                name = f"reference-dlb[{index}:{site.config.mode}]"
                self._listeners.append(Listener(site, self.host, name, self._record))
        except BaseException:
            self._shutdown()
            raise
        self._echo.start()
        for listener in self._listeners:
            listener.start()

    def stop(self) -> None:
        """Stop serving and join every thread; then raise what went wrong inside them."""
        if not self._started or self._stopped:
            return
        self._shutdown()
        self.check()

    def check(self) -> None:
        """Raise ReferenceServerError if any server thread failed so far."""
        with self._errors_lock:
            errors = list(self._errors)
        if errors:
            where, first = errors[0]
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise ReferenceServerError(f"reference DLB: {where} failed: {first!r}{more}") from first

    @property
    def errors(self) -> list[tuple[str, BaseException]]:
        with self._errors_lock:
            return list(self._errors)

    def port(self, which: ListenerMode | int) -> int:
        """The port of listener `which`: its index, or the first listener with that mode."""
        return self._listener(which).port

    def url(self, which: ListenerMode | int, path: str = "/") -> str:
        return f"https://{_url_host(self.host)}:{self.port(which)}{path}"

    def _listener(self, which: ListenerMode | int) -> Listener:
        self._require_running()
        if isinstance(which, int):
            if not 0 <= which < len(self._listeners):
                raise IndexError(f"no listener {which}; there are {len(self._listeners)}")
            return self._listeners[which]
        for listener in self._listeners:
            if listener.site.config.mode == which:
                return listener
        modes = ", ".join(sorted({c.mode for c in self.configs}))
        raise KeyError(f"no {which!r} listener; modes: {modes}")

    def _site(self, config: ListenerConfig) -> Site:
        return Site(
            config=config,
            context=tls.server_context(config),
            server_names=tls.server_names(config),
            backend=self._echo_address(),
            timeout=self.timeout,
            crls=tuple(crl30.load_crls(config.crl)) if config.crl else (),
        )

    def _echo_address(self) -> tuple[str, int]:
        assert self._echo is not None
        return self._echo.address

    def _require_running(self) -> ReferenceDLB:
        if not self.is_running:
            raise ReferenceServerError("reference DLB is not running; call start() first")
        return self

    def _record(self, where: str, error: BaseException) -> None:
        log.error("reference DLB: %s failed: %r", where, error)
        with self._errors_lock:
            self._errors.append((where, error))

    def _shutdown(self) -> None:
        self._stopped = True
        for listener in self._listeners:
            listener.stop()
        if self._echo is not None:
            self._echo.stop()

    def __enter__(self) -> ReferenceDLB:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc is None:
            self.stop()
        else:  # don't mask the caller's exception with ours
            self._shutdown()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
