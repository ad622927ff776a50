"""The reference DLB's echo backend, standing alone behind real load balancers under test."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from mtls_conformance.reference.echo import EchoBackend


class EchoServer:
    """Context manager around EchoBackend on 127.0.0.1; errors in its threads fail the exit."""

    def __init__(self) -> None:
        self.errors: list[tuple[str, BaseException]] = []
        self._backend = EchoBackend(
            "127.0.0.1", lambda where, error: self.errors.append((where, error))
        )

    @property
    def port(self) -> int:
        return self._backend.address[1]

    def __enter__(self) -> Self:
        self._backend.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._backend.stop()
        if self.errors and exc is None:
            where, error = self.errors[0]
            raise RuntimeError(f"{where} failed: {error!r}") from error
