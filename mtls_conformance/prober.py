"""Run many independent probes at once, so a run costs about one round of handshakes.

Every probe still opens its own fresh connection (see probe.py); only the waiting overlaps.
Scenarios ask for their probe by a key and get the outcome in their own order, whenever the
network delivered it. A probe is any request with a ``run()``: an HTTP exchange
(ProbeRequest), or one of the handshake-only checks of the target's own side of TLS.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar

from mtls_conformance.handshake import (
    CaNames,
    LegacyAttempt,
    LegacyVersion,
    ServerCertificate,
    advertised_ca_names,
    server_certificate,
    try_legacy_protocol,
)
from mtls_conformance.outcome import Outcome
from mtls_conformance.probe import probe
from mtls_conformance.target import Target

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

# Probes spend their time waiting on the network, so threads, not cores, bound the
# overlap; past a few dozen, a small target's accept queue becomes the bottleneck. The
# bound is per target (address and port): ten targets get ten times the overlap.
DEFAULT_WORKERS = 32


@dataclass(frozen=True)
class ProbeRequest:
    """Everything that decides what one probe does."""

    target: Target
    path: str
    client_cert: tuple[Path, Path] | None = None
    headers: tuple[tuple[str, str], ...] = field(default=())
    echo: bool = False

    def run(self) -> Outcome:
        return probe(
            self.target,
            self.path,
            client_cert=self.client_cert,
            headers=dict(self.headers),
            echo=self.echo,
        )


@dataclass(frozen=True)
class CaNamesRequest:
    """Read the CA names the target advertises in its certificate request."""

    target: Target

    def run(self) -> CaNames:
        return advertised_ca_names(self.target)


@dataclass(frozen=True)
class ServerCertificateRequest:
    """Fetch and verify the target's own certificate."""

    target: Target

    def run(self) -> ServerCertificate:
        return server_certificate(self.target)


@dataclass(frozen=True)
class LegacyRequest:
    """Offer only a legacy TLS version."""

    target: Target
    version: LegacyVersion

    def run(self) -> LegacyAttempt:
        return try_legacy_protocol(self.target, self.version)


class Request(Protocol[T_co]):
    """What the prober runs: equal requests do the same thing (frozen dataclasses above)."""

    def run(self) -> T_co: ...


def in_background(work: Callable[[], T], gate: threading.Semaphore | None = None) -> Future[T]:
    """Run ``work`` on a daemon thread and return its future.

    Daemon threads, not a ThreadPoolExecutor: the executor's workers are joined at
    interpreter exit, so after Ctrl-C the run would hang until the slowest probe's timeout.
    A probe left running when the user interrupts is simply abandoned.
    """
    future: Future[T] = Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            if gate is None:
                result = work()
            else:
                with gate:
                    result = work()
        except BaseException as error:  # handed to whoever waits on the future
            future.set_exception(error)
        else:
            future.set_result(result)

    threading.Thread(target=run, name="probe", daemon=True).start()
    return future


def all_at_once(works: Sequence[Callable[[], T]]) -> list[T]:
    """Run every callable concurrently; their results in order."""
    return [future.result() for future in [in_background(work) for work in works]]


def _endpoint_of(request: Request[Any]) -> Hashable:
    """Where the request connects: its probes share that endpoint's bound on overlap."""
    target = getattr(request, "target", None)
    return (target.address, target.port) if isinstance(target, Target) else None


class Prober:
    """Probes running concurrently, addressed by caller-chosen keys (one probe per key)."""

    def __init__(self, workers: int = DEFAULT_WORKERS) -> None:
        self._workers = workers
        self._gates: dict[Hashable, threading.BoundedSemaphore] = {}
        self._futures: dict[Hashable, tuple[Request[Any], Future[Any]]] = {}
        self._lock = threading.Lock()

    def submit(self, key: Hashable, request: Request[Any]) -> None:
        """Start ``request`` in the background unless ``key`` was submitted already."""
        with self._lock:
            if key not in self._futures:
                gate = self._gates.setdefault(
                    _endpoint_of(request), threading.BoundedSemaphore(self._workers)
                )
                self._futures[key] = (request, in_background(request.run, gate))

    def outcome(self, key: Hashable, request: Request[T]) -> T:
        """The outcome for ``key``; runs ``request`` now if it was not planned (or planned
        differently: the plan is an optimisation, never allowed to change a verdict)."""
        with self._lock:
            planned = self._futures.pop(key, None)
        if planned is not None and planned[0] == request:
            result: T = planned[1].result()
            return result
        return request.run()

    def close(self) -> None:
        """Forget probes nobody collected (a deselected or failed scenario's)."""
        with self._lock:
            for _, future in self._futures.values():
                future.cancel()
            self._futures.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
