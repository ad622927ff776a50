"""One TLS listener: an accept thread plus one daemon thread per connection.

Failures a client causes (handshake aborted, reset, idle timeout) are routine and only
logged at debug level; anything else is a bug in the reference and goes to on_error, which
ReferenceDLB raises in the test thread on stop().
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import threading
from collections.abc import Callable

from OpenSSL import SSL

from mtls_conformance.reference.connection import Site, accept_stream, serve_connection
from mtls_conformance.reference.stream import TlsStream

log = logging.getLogger("mtls_conformance.reference")

ErrorHook = Callable[[str, BaseException], None]
_ROUTINE = (SSL.Error, OSError)  # TimeoutError and ConnectionError are OSErrors


class Listener:
    def __init__(self, site: Site, host: str, name: str, on_error: ErrorHook) -> None:
        self.site = site
        self.name = name
        self._on_error = on_error
        self._sock = socket.create_server((host, 0), family=_family(host), backlog=128)
        self._wake_r, self._wake_w = socket.socketpair()
        self._lock = threading.Lock()
        self._streams: set[TlsStream] = set()
        self._workers: set[threading.Thread] = set()
        self._accepting = threading.Thread(target=self._accept_loop, name=name, daemon=True)

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    def start(self) -> None:
        self._accepting.start()

    def stop(self, grace: float = 5.0) -> None:
        """Stop accepting, cut open connections, join every thread."""
        self._wake_w.send(b"x")
        if self._accepting.is_alive():
            self._accepting.join()
        self._sock.close()
        with self._lock:
            streams, workers = list(self._streams), list(self._workers)
        for stream in streams:
            # shutdown() wakes a worker blocked in poll(); the worker closes the socket.
            with contextlib.suppress(OSError):
                stream.sock.shutdown(socket.SHUT_RDWR)
        for worker in workers:
            worker.join(grace)
            if worker.is_alive():
                self._on_error(self.name, RuntimeError(f"{worker.name} did not stop"))
        self._wake_r.close()
        self._wake_w.close()

    def _accept_loop(self) -> None:
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(self._sock, selectors.EVENT_READ)
                selector.register(self._wake_r, selectors.EVENT_READ)
                while True:
                    ready = {key.fileobj for key, _ in selector.select()}
                    if self._wake_r in ready:
                        return
                    try:
                        client, _ = self._sock.accept()
                    except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                        continue
                    self._spawn(client)
        except BaseException as error:
            self._on_error(self.name, error)

    def _spawn(self, client: socket.socket) -> None:
        stream = accept_stream(self.site, client)
        worker = threading.Thread(
            target=self._work, args=(stream,), name=f"{self.name} connection", daemon=True
        )
        with self._lock:
            self._streams.add(stream)
            self._workers.add(worker)
        worker.start()

    def _work(self, stream: TlsStream) -> None:
        try:
            serve_connection(self.site, stream)
        except _ROUTINE as error:
            log.debug("%s: connection ended: %r", self.name, error)
        except BaseException as error:
            log.exception("%s: connection handler failed", self.name)
            self._on_error(self.name, error)
        finally:
            stream.close()
            with self._lock:
                self._streams.discard(stream)
                self._workers.discard(threading.current_thread())


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET
