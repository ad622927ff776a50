"""The plain-HTTP backend behind the reference DLB: an httpbin-style echo and a tiny API.

`/anything` and everything under it answers what the backend received:
`{"method", "path", "args", "headers", "body"}`, where headers keeps each name as sent and
joins repeated names with ", " (RFC 9110 field combination), so a spoofed copy that slipped
through next to the real one is visible. Every other path answers the product list of the
DLB walk-through's /dev-portal-xapi/products API.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ECHO_PATH = "/anything"

PRODUCTS: list[dict[str, Any]] = [
    {"id": "P-1001", "name": "Trail running shoes", "price": 129.0, "currency": "USD"},
    {"id": "P-1002", "name": "Waterproof jacket", "price": 189.5, "currency": "USD"},
    {"id": "P-1003", "name": "Insulated bottle", "price": 24.0, "currency": "USD"},
]

ErrorHook = Callable[[str, BaseException], None]


class _Handler(BaseHTTPRequestHandler):
    server: _EchoHTTPServer
    protocol_version = "HTTP/1.0"  # nginx talks HTTP/1.0 upstream; one request, then close
    server_version = "echo-backend"
    sys_version = ""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        if parts.path == ECHO_PATH or parts.path.startswith(ECHO_PATH + "/"):
            document: Any = {
                "method": self.command,
                "path": parts.path,
                "args": parse_qs(parts.query),
                "headers": _merged(self.headers.items()),
                "body": body.decode("utf-8", "replace"),
            }
        else:
            document = PRODUCTS
        data = json.dumps(document, indent=2).encode() + b"\n"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the access log would drown test output


class _EchoHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog is 5: a run's burst of concurrent probes overflowed it,
    # the kernel dropped the SYN, and that probe waited out a 1 s retransmission.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], on_error: ErrorHook) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)
        self.on_error = on_error

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if error is not None and not isinstance(error, (ConnectionError, TimeoutError)):
            self.on_error("echo backend", error)


class EchoBackend:
    """Serves on host:<OS-chosen port> from a daemon thread until stop()."""

    def __init__(self, host: str, on_error: ErrorHook) -> None:
        self._server = _EchoHTTPServer((host, 0), on_error)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="reference-echo-backend",
            daemon=True,
        )

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()


def _merged(items: Any) -> dict[str, str]:
    merged: dict[str, str] = {}
    by_lower: dict[str, str] = {}
    for name, value in items:
        key = by_lower.setdefault(name.lower(), name)
        merged[key] = f"{merged[key]}, {value}" if key in merged else value
    return merged
