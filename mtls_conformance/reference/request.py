"""Reading one HTTP/1.x request the way nginx 1.22 does, as far as the suite can tell.

Mirrored nginx behaviour: header names with characters other than letters, digits and '-'
are dropped silently (ignore_invalid_headers on, underscores_in_headers off), so
`X_SSL_Client_Verify` never reaches the backend; a second Host or an invalid one is a 400
(an HTTP/1.1 request without Host too, but after the 421 check); an absolute-form target's
host wins over Host; the host is lower-cased with its port and one trailing dot removed
(ngx_http_validate_host); a header line without a colon is a header with an empty value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_LINE = 8 * 1024  # large_client_header_buffers 4 8k
MAX_HEAD = 32 * 1024
MAX_BODY = 1024 * 1024  # client_max_body_size 1m

_REQUEST_LINE = re.compile(r"([A-Z_-]+) (\S+) HTTP/(\d)\.(\d)")
_VALID_NAME = re.compile(r"[A-Za-z0-9-]+")


class BadRequest(Exception):
    """The request cannot be served; code is the nginx status (494 prints as 400)."""

    def __init__(self, code: int, why: str) -> None:
        super().__init__(why)
        self.code = code


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # origin-form: what goes upstream
    version: str  # "HTTP/1.1"
    headers: tuple[tuple[str, str], ...]  # as received (valid names only), in order
    body: bytes
    host: str | None  # ngx_http_validate_host() result; None when the request names no host
    missing_host: bool = False  # HTTP/1.1 without a Host header

    def header(self, name: str) -> list[str]:
        lowered = name.lower()
        return [value for key, value in self.headers if key.lower() == lowered]


class Reader:
    """Buffered line and block reads over recv(n) -> bytes (b"" at end of stream)."""

    def __init__(self, recv: Callable[[int], bytes]) -> None:
        self._recv = recv
        self._buffer = b""

    def line(self, limit: int, code: int) -> bytes | None:
        """One CRLF- or LF-terminated line without its end; None at a clean end of stream."""
        while b"\n" not in self._buffer:
            if len(self._buffer) > limit:
                raise BadRequest(code, "line too long")
            chunk = self._recv(16384)
            if not chunk:
                if self._buffer:
                    raise BadRequest(400, "connection closed inside a line")
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        if len(line) > limit:
            raise BadRequest(code, "line too long")
        return line.removesuffix(b"\r")

    def exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            chunk = self._recv(65536)
            if not chunk:
                raise BadRequest(400, "connection closed inside the body")
            self._buffer += chunk
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


def read_request(reader: Reader, *, on_continue: Callable[[], None]) -> Request | None:
    """The next request, or None when the client closed the connection before sending one.

    on_continue sends `100 Continue` when the client asked for it and a body follows.
    """
    line = reader.line(MAX_LINE, 414)
    while line == b"":  # nginx skips empty lines before the request line
        line = reader.line(MAX_LINE, 414)
    if line is None:
        return None
    match = _REQUEST_LINE.fullmatch(line.decode("latin-1"))
    if match is None:
        raise BadRequest(400, "invalid request line")
    method, target, major, minor = match.groups()
    if major != "1":
        raise BadRequest(505 if major > "1" else 400, "unsupported HTTP version")
    headers = _read_headers(reader)
    request_host, target = _split_target(target)
    host = _host(headers, request_host)
    body = _read_body(reader, headers, on_continue)
    # An HTTP/1.1 request without Host is a 400, but only after the 421 check (policy.py).
    missing_host = minor != "0" and not any(n.lower() == "host" for n, _ in headers)
    return Request(method, target, f"HTTP/1.{minor}", headers, body, host, missing_host)


def validate_host(raw: str) -> str | None:
    """ngx_http_validate_host(): lower-case, drop the port and a trailing dot; None if bad."""
    host_len, dot_pos, literal, rest = len(raw), -2, False, False
    for i, ch in enumerate(raw):
        if ch == ".":
            if dot_pos == i - 1:
                return None
            dot_pos = i
        elif ch == ":":
            if not rest and not literal:
                host_len, rest = i, True
        elif ch == "[":
            literal = literal or i == 0
        elif ch == "]":
            if literal and not rest:
                host_len, rest = i + 1, True
        elif ch == "/" or ch <= " " or ch == "\x7f":
            return None
    if dot_pos == host_len - 1:
        host_len -= 1
    return raw[:host_len].lower() if host_len > 0 else None


def _read_headers(reader: Reader) -> tuple[tuple[str, str], ...]:
    headers: list[tuple[str, str]] = []
    total = 0
    while True:
        line = reader.line(MAX_LINE, 494)
        if line is None:
            raise BadRequest(400, "connection closed inside the headers")
        if not line:
            return tuple(headers)
        total += len(line)
        if total > MAX_HEAD:
            raise BadRequest(494, "headers too large")
        # nginx takes a line without a colon as a header with an empty value.
        name, _, value = line.decode("latin-1").partition(":")
        if not name or name[0] in " \t" or name[-1] in " \t":
            raise BadRequest(400, "invalid header line")
        if _VALID_NAME.fullmatch(name):
            headers.append((name, value.strip(" \t")))


def _split_target(target: str) -> tuple[str | None, str]:
    if target.startswith("/") or target == "*":
        return None, target
    parts = urlsplit(target)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise BadRequest(400, "invalid request target")
    path = parts.path or "/"
    return parts.netloc, path + (f"?{parts.query}" if parts.query else "")


def _host(headers: tuple[tuple[str, str], ...], request_host: str | None) -> str | None:
    hosts = [value for name, value in headers if name.lower() == "host"]
    if len(hosts) > 1:
        raise BadRequest(400, "duplicate Host header")
    for raw in (request_host, *hosts):
        if raw is not None:
            host = validate_host(raw)
            if host is None:
                raise BadRequest(400, "invalid host")
            return host
    return None


def _read_body(
    reader: Reader, headers: tuple[tuple[str, str], ...], on_continue: Callable[[], None]
) -> bytes:
    def values(name: str) -> list[str]:
        return [value for key, value in headers if key.lower() == name]

    lengths, encodings = values("content-length"), values("transfer-encoding")
    if lengths and encodings:
        raise BadRequest(400, "both Content-Length and Transfer-Encoding")
    if len(lengths) > 1 or (lengths and not lengths[0].isdigit()):
        raise BadRequest(400, "invalid Content-Length")
    if encodings and [e.lower() for e in encodings] != ["chunked"]:
        raise BadRequest(501, "unsupported Transfer-Encoding")
    size = int(lengths[0]) if lengths else 0
    if size > MAX_BODY:
        raise BadRequest(413, "body too large")
    if (size or encodings) and [v.lower() for v in values("expect")] == ["100-continue"]:
        on_continue()
    if encodings:
        return _read_chunked(reader)
    return reader.exactly(size) if size else b""


def _read_chunked(reader: Reader) -> bytes:
    body = b""
    while True:
        line = reader.line(MAX_LINE, 400)
        size_text = (line or b"").split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise BadRequest(400, "invalid chunk size") from None
        if len(body) + size > MAX_BODY:
            raise BadRequest(413, "body too large")
        if size == 0:
            while reader.line(MAX_LINE, 400):  # trailer fields, dropped like nginx does
                pass
            return body
        body += reader.exactly(size)
        if reader.exactly(2) != b"\r\n":
            raise BadRequest(400, "invalid chunk end")
