"""A plain-HTTP echo backend for real load balancers under test (the reference DLB's own)."""

from __future__ import annotations

from mtls_conformance.reference.echo import EchoBackend as EchoServer

__all__ = ["EchoServer"]
