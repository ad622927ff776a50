"""A pyOpenSSL server connection with an idle timeout on every step.

pyOpenSSL over a non-blocking socket raises WantRead/WantWrite; we wait with poll() until
the socket is ready or the idle timeout passes, so a silent client never pins a thread.
Closing the socket from another thread (ReferenceDLB.stop) wakes the wait at once.
"""

from __future__ import annotations

import contextlib
import select
import socket
import time
from collections.abc import Callable
from typing import TypeVar

from OpenSSL import SSL

T = TypeVar("T")


class TlsStream:
    def __init__(self, context: SSL.Context, sock: socket.socket, timeout: float) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.connection = SSL.Connection(context, sock)
        self.connection.set_accept_state()
        self._timeout = timeout

    def is_tls(self) -> bool:
        """Whether the client opened with a TLS record (nginx peeks for 0x16 or SSLv2's 0x80)."""
        first = self._plain(lambda: self.sock.recv(1, socket.MSG_PEEK))
        return not first or first[0] == 0x16 or first[0] & 0x80 != 0

    def plain_recv(self, size: int) -> bytes:
        return self._plain(lambda: self.sock.recv(size))

    def plain_sendall(self, data: bytes) -> None:
        offset = 0
        while offset < len(data):
            offset += self._plain(lambda: self.sock.send(data[offset:]))  # noqa: B023

    def handshake(self) -> None:
        self._retry(self.connection.do_handshake)

    def recv(self, size: int) -> bytes:
        """Up to size bytes; b"" when the client closed (with or without close_notify)."""
        try:
            return self._retry(lambda: self.connection.recv(size))
        except SSL.ZeroReturnError:
            return b""
        except SSL.SysCallError as error:
            if error.args and error.args[0] in (-1, 0):  # EOF without close_notify
                return b""
            raise

    def sendall(self, data: bytes) -> None:
        offset = 0
        while offset < len(data):
            chunk = data[offset : offset + 16384]
            offset += self._retry(lambda: self.connection.send(chunk))  # noqa: B023

    def close(self) -> None:
        """close_notify when the connection still allows it, then close the socket."""
        with contextlib.suppress(SSL.Error, OSError):
            self.connection.shutdown()
        self.sock.close()

    def _retry(self, operation: Callable[[], T]) -> T:
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                return operation()
            except SSL.WantReadError:
                self._wait(deadline, read=True)
            except SSL.WantWriteError:
                self._wait(deadline, read=False)

    def _plain(self, operation: Callable[[], T]) -> T:
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                return operation()
            except BlockingIOError:
                self._wait(deadline, read=True)

    def _wait(self, deadline: float, *, read: bool) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or self.sock.fileno() < 0:
            raise TimeoutError("client idle too long")
        # poll(), not select(): a busy test process may hand us descriptors above 1024.
        poller = select.poll()
        poller.register(self.sock, select.POLLIN if read else select.POLLOUT)
        if not poller.poll(remaining * 1000):
            raise TimeoutError("client idle too long")
