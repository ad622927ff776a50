"""Run many independent probes at once, so a run costs about one round of handshakes.

Every probe still opens its own fresh connection (see probe.py); only the waiting overlaps.
Scenarios ask for their probe by a key and get the outcome in their own order, whenever the
network delivered it.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

from mtls_conformance.outcome import Outcome
from mtls_conformance.probe import probe
from mtls_conformance.target import Target

# Probes spend their time waiting on the network, so threads, not cores, bound the
# overlap; past a few dozen, a small target's accept queue becomes the bottleneck.
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


class Prober:
    """A thread pool of probes, addressed by caller-chosen keys (one probe per key)."""

    def __init__(self, workers: int = DEFAULT_WORKERS) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="probe")
        self._futures: dict[Hashable, tuple[ProbeRequest, Future[Outcome]]] = {}
        self._lock = threading.Lock()

    def submit(self, key: Hashable, request: ProbeRequest) -> None:
        """Start ``request`` in the background unless ``key`` was submitted already."""
        with self._lock:
            if key not in self._futures:
                self._futures[key] = (request, self._pool.submit(request.run))

    def outcome(self, key: Hashable, request: ProbeRequest) -> Outcome:
        """The outcome for ``key``; runs ``request`` now if it was not planned (or planned
        differently: the plan is an optimisation, never allowed to change a verdict)."""
        with self._lock:
            planned = self._futures.pop(key, None)
        if planned is not None and planned[0] == request:
            return planned[1].result()
        return request.run()

    def close(self) -> None:
        """Stop: probes not started are dropped, running ones finish (each has a timeout)."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
