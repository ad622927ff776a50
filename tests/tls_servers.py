"""Small real TLS servers for the probe's self-tests, run in-process on loopback.

Free of pytest, like pytest-httpserver's server: `start()` binds port 0 and reads the port
back, a daemon thread accepts, one thread serves each connection, `stop()` closes and joins;
a context manager wraps both, starting twice is an error. Each server writes down what it
saw on every connection (`Seen`: SNI, TLS version, client certificate, requests), so a test
asserts on the server's side of the wire, not only on what the client says. A bug in a
server thread (anything but a network error) is raised again in the test thread by stop().

- `HttpsServer` speaks HTTP/1.1 over TLS with keep-alive, pages by path and `/echo`, which
  answers httpbin-style `{"headers": {...}}` with the headers it received.
- `ScriptedTLSServer` does one scripted thing per connection (reset after the request,
  refuse a missing client certificate, ...), to drive the probe's alert recovery.
- `PlainHttpServer` answers anything with an HTTP 400, as nginx's plain port does to a
  TLS ClientHello; `SilentListener` accepts TCP and never answers; `closed_port()` refuses.
- `OpensslServer` runs `openssl s_server -www` as a process, for OpenSSL's own alerts.
"""

from __future__ import annotations

import json
import re
import selectors
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

LOOPBACK = "127.0.0.1"
_IO_SECONDS = 10.0  # a server thread never waits longer than this for its peer

TLS_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


@dataclass(frozen=True)
class Request:
    """One HTTP request head as it arrived: header names as the client spelled them."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]

    def values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]


@dataclass
class Seen:
    """What the server saw on one connection, filled in as it happened."""

    number: int  # 0 for the server's first connection
    sni: str | None = None
    tls_version: str | None = None
    peer_cert: bytes | None = None  # DER of the client certificate, None when none was sent
    requests: list[Request] = field(default_factory=list)
    received: bytes = b""  # what a silent-after-handshake connection was sent
    error: str | None = None  # why the server's side ended early (handshake refused, ...)


class LoopbackServer:
    """Accepts on an OS-chosen loopback port; subclasses serve one connection in `serve`."""

    def __init__(self) -> None:
        self.connections: list[Seen] = []
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._bugs: list[BaseException] = []
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        """The port the server listens on (still readable after stop(), for messages)."""
        if self._listener is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._port

    def serve(self, sock: socket.socket, seen: Seen) -> None:
        raise NotImplementedError

    def start(self) -> Self:
        if self._listener is not None:
            raise RuntimeError(f"{type(self).__name__} is already started")
        self._listener = socket.create_server((LOOPBACK, 0), backlog=16)
        self._port: int = self._listener.getsockname()[1]
        self._spawn(self._accept_loop, self._listener)
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._threads:
            self._threads[0].join()  # the accept loop: no connection thread starts after it
        for thread in self._threads[1:]:
            thread.join(timeout=_IO_SECONDS + 5)
        if self._listener is not None:
            self._listener.close()
        if self._bugs:
            raise RuntimeError(f"{type(self).__name__} failed in its thread") from self._bugs[0]

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=self._guarded, args=(target, *args), daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _guarded(self, target: object, *args: object) -> None:
        try:
            target(*args)  # type: ignore[operator]
        except Exception as bug:  # raised again in the test thread by stop()
            self._bugs.append(bug)

    def _accept_loop(self, listener: socket.socket) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(listener, selectors.EVENT_READ)
            while not self._stopping.is_set():
                if not selector.select(timeout=0.05):
                    continue
                sock, _ = listener.accept()
                seen = Seen(number=len(self.connections))
                self.connections.append(seen)  # before any byte is answered
                self._spawn(self._serve_and_close, sock, seen)

    def _serve_and_close(self, sock: socket.socket, seen: Seen) -> None:
        sock.settimeout(_IO_SECONDS)
        try:
            self.serve(sock, seen)
        except OSError as error:  # ssl.SSLError included: the peer's doing, not a bug
            seen.error = seen.error or f"{type(error).__name__}: {error}"
        finally:
            sock.close()


def server_context(
    cert: Path,
    key: Path,
    *,
    client_ca: Path | None = None,
    require_client_cert: bool = False,
    tls_version: str | None = None,
) -> ssl.SSLContext:
    """A server context; with `client_ca` it asks for a client certificate (optional unless
    `require_client_cert`), verified against that CA."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    if client_ca is not None:
        context.load_verify_locations(str(client_ca))
        context.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    if tls_version is not None:
        context.minimum_version = context.maximum_version = TLS_VERSIONS[tls_version]
    return context


def _handshake(sock: socket.socket, context: ssl.SSLContext, seen: Seen) -> ssl.SSLSocket:
    """Wrap `sock` server-side, complete the handshake and note SNI, version, client cert."""

    def note_sni(_tls: object, server_name: str | None, _context: ssl.SSLContext) -> None:
        seen.sni = server_name

    context.sni_callback = note_sni  # each connection has a context of its own
    # wrap_socket takes `sock`'s descriptor over: from here on only `tls` can close it.
    tls = context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
    try:
        tls.do_handshake()
    except ssl.SSLError as error:
        seen.error = f"handshake: {error.reason or error}"
        tls.close()
        raise
    except BaseException:
        tls.close()
        raise
    seen.tls_version = (tls.version() or "").removeprefix("TLSv")
    seen.peer_cert = tls.getpeercert(binary_form=True)
    return tls


def _read_head(stream: socket.socket, buffer: bytearray) -> bytes | None:
    """The next request head (up to the blank line), or None at end of stream."""
    while b"\r\n\r\n" not in buffer:
        chunk = stream.recv(65536)
        if not chunk:
            return None
        buffer.extend(chunk)
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    buffer[:] = rest
    return head


def _parse(head: bytes) -> Request:
    request_line, *lines = head.decode("latin-1").split("\r\n")
    method, path, _version = request_line.split(" ", 2)
    headers = tuple(
        (name.strip(), value.strip()) for name, _, value in (line.partition(":") for line in lines)
    )
    return Request(method, path, headers)


def _response(status: int, body: bytes, content_type: str, *, close: bool) -> bytes:
    reason = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found"}.get(status, "X")
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n"
    )
    return head.encode("latin-1") + body


@dataclass(frozen=True)
class Page:
    status: int
    body: str
    content_type: str = "text/html"


def echo_body(request: Request) -> bytes:
    """httpbin's `/headers`: every header received; a repeated name gives a list."""
    headers: dict[str, str | list[str]] = {}
    for name, value in request.headers:
        previous = headers.get(name)
        if previous is None:
            headers[name] = value
        elif isinstance(previous, list):
            previous.append(value)
        else:
            headers[name] = [previous, value]
    return json.dumps({"headers": headers}).encode()


class HttpsServer(LoopbackServer):
    """HTTP/1.1 over TLS with keep-alive: `pages` by path, `/echo` echoes the headers."""

    def __init__(
        self,
        cert: Path,
        key: Path,
        *,
        client_ca: Path | None = None,
        tls_version: str | None = None,
        pages: Mapping[str, Page] | None = None,
    ) -> None:
        super().__init__()
        self._context_args = (cert, key, client_ca, tls_version)
        self.pages = dict(pages or {})

    def serve(self, sock: socket.socket, seen: Seen) -> None:
        cert, key, client_ca, tls_version = self._context_args
        context = server_context(cert, key, client_ca=client_ca, tls_version=tls_version)
        with _handshake(sock, context, seen) as tls:
            buffer = bytearray()
            while (head := _read_head(tls, buffer)) is not None:
                request = _parse(head)
                seen.requests.append(request)
                close = any(v.lower() == "close" for v in request.values("Connection"))
                if request.path == "/echo":
                    body, content_type, status = echo_body(request), "application/json", 200
                else:
                    page = self.pages.get(request.path, Page(404, "not found", "text/plain"))
                    body, content_type, status = page.body.encode(), page.content_type, page.status
                tls.sendall(_response(status, body, content_type, close=close))
                if close:
                    return


Step = Literal[
    "reset-before-handshake",  # read part of the ClientHello, then RST: never any TLS
    "reset-after-request",  # handshake, read the request, then RST (SO_LINGER 0), no alert
    "close-after-request",  # handshake, read the request, then FIN: no alert, no response
    "refuse-without-cert",  # handshake demands a client certificate: alert if none is sent
    "reset-after-handshake",  # handshake, then RST at once, no alert
    "silent-after-handshake",  # handshake, then say nothing until the client goes away
]


def _reset(sock: socket.socket) -> None:
    # SO_LINGER on, timeout 0: close() discards the send queue and sends RST instead of FIN.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class ScriptedTLSServer(LoopbackServer):
    """Connection n does `steps[n]`; connections past the end repeat the last step."""

    def __init__(
        self, cert: Path, key: Path, client_ca: Path, steps: Sequence[Step], *, tls_version: str
    ) -> None:
        super().__init__()
        if not steps:
            raise ValueError("ScriptedTLSServer needs at least one step")
        self._cert, self._key, self._client_ca = cert, key, client_ca
        self.steps = list(steps)
        self.tls_version = tls_version

    def serve(self, sock: socket.socket, seen: Seen) -> None:
        step = self.steps[min(seen.number, len(self.steps) - 1)]
        if step == "reset-before-handshake":
            sock.recv(1)
            _reset(sock)
            return
        context = server_context(
            self._cert,
            self._key,
            client_ca=self._client_ca,
            require_client_cert=step == "refuse-without-cert",
            tls_version=self.tls_version,
        )
        with _handshake(sock, context, seen) as tls:
            if step in ("reset-after-request", "close-after-request"):
                head = _read_head(tls, bytearray())
                if head is not None:
                    seen.requests.append(_parse(head))
                if step == "reset-after-request":
                    _reset(tls)
            elif step == "reset-after-handshake":
                _reset(tls)
            elif step == "silent-after-handshake":
                while chunk := tls.recv(65536):
                    seen.received += chunk
        # refuse-without-cert: a client that sent a certificate got this far; say nothing.


class PlainHttpServer(LoopbackServer):
    """Plain HTTP that answers whatever arrives with a 400, as nginx does to TLS bytes."""

    def serve(self, sock: socket.socket, seen: Seen) -> None:
        if sock.recv(65536):
            sock.sendall(_response(400, b"<title>400 Bad Request</title>", "text/html", close=True))


class SilentListener:
    """A port that accepts TCP (the kernel's backlog does) but never reads or answers."""

    def __init__(self) -> None:
        self._sock = socket.create_server((LOOPBACK, 0), backlog=16)
        self.port: int = self._sock.getsockname()[1]

    def close(self) -> None:
        self._sock.close()


def closed_port() -> socket.socket:
    """A socket bound to a loopback port but not listening: connecting to it is refused.

    Kept bound (the caller closes it) so no one else can take the port meanwhile.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((LOOPBACK, 0))
    return sock


class OpensslServer:
    """`openssl s_server -www` on an OS-chosen loopback port, with the caller's options.

    s_server binds `-accept 127.0.0.1:0` itself and prints the port it got (`ACCEPT
    127.0.0.1:PORT`), so there is no window in which another process could take it.
    """

    def __init__(self, *options: str) -> None:
        self.options = options
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Path | None = None

    def start(self) -> Self:
        if self._process is not None:
            raise RuntimeError("OpensslServer is already started")
        self._log = Path(tempfile.mkstemp(prefix="mtls-s_server-", suffix=".log")[1])
        with self._log.open("wb") as out:
            self._process = subprocess.Popen(
                ["openssl", "s_server", "-accept", f"{LOOPBACK}:0", "-www", *self.options],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 10
        while (match := re.search(rf"^ACCEPT {LOOPBACK}:(\d+)$", self.log_text(), re.M)) is None:
            if self._process.poll() is not None or time.monotonic() > deadline:
                log = self.log_text()
                self.stop()
                raise RuntimeError(f"openssl s_server did not start:\n{log}")
            time.sleep(0.05)
        self.port = int(match.group(1))
        return self

    def log_text(self) -> str:
        return self._log.read_text(errors="replace") if self._log is not None else ""

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.unlink(missing_ok=True)
            self._log = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
