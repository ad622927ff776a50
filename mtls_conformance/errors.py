"""Typed, one-line errors. Every message names what is wrong and where; callers print str(e)."""

from __future__ import annotations


class MtlsConformanceError(Exception):
    """Base of every error this project raises on purpose; its text is shown to the user as is."""


class InputError(MtlsConformanceError, ValueError):
    """Bad input: an option value or a file the user gave us (names the option or the file)."""


class KitError(InputError):
    """The cert kit is missing, incomplete or unreadable (names the kit file)."""


class TargetUnreachable(MtlsConformanceError):
    """The target cannot be tested at all: DNS, refused, timeout, not TLS, server cert rejected.

    A rejection *by* the target is a result, never this error.
    """

    def __init__(self, host: str, port: int, what: str) -> None:
        self.host = host
        self.port = port
        self.what = what
        super().__init__(f"{host}:{port} -> {what}")
