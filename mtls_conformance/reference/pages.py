"""nginx 1.22's built-in error pages and response head, byte for byte (`server_tokens off`).

Measured: every page is HTTP/1.1, `Server: nginx`, a Date, `Content-Type: text/html`, the
Content-Length, `Connection: close`, then CRLF-terminated HTML. The 494-497 pages show the
real status (400) in <h1> and the reason in a second <center>. Browsers named MSIE would get
extra padding (msie_padding); no client of this suite is MSIE.
"""

from __future__ import annotations

from collections.abc import Sequence
from email.utils import formatdate
from http import HTTPStatus

SERVER = "nginx"

NO_CERT_TITLE = "400 No required SSL certificate was sent"
CERT_ERROR_TITLE = "400 The SSL certificate error"

# nginx's internal codes whose page reads "400 <reason>" (ngx_http_error_494_page ...).
_NGINX_400_REASONS: dict[int, str] = {
    494: "Request Header Or Cookie Too Large",
    495: "The SSL certificate error",
    496: "No required SSL certificate was sent",
    497: "The plain HTTP request was sent to HTTPS port",
}
# nginx's reason phrases where they differ from Python's.
_REASONS: dict[int, str] = {
    413: "Request Entity Too Large",
    414: "Request-URI Too Large",
    421: "Misdirected Request",
}
TAIL = f"<hr><center>{SERVER}</center>\r\n</body>\r\n</html>\r\n"


def reason(status: int) -> str:
    return _REASONS.get(status) or HTTPStatus(status).phrase


def error_page(code: int) -> bytes:
    """The whole response nginx sends for an error `code` (494-497 are sent as 400)."""
    if code in _NGINX_400_REASONS:
        status, why = 400, _NGINX_400_REASONS[code]
        title = f"400 {why}"
        heading = f"<center><h1>400 Bad Request</h1></center>\r\n<center>{why}</center>\r\n"
    else:
        status = code
        title = f"{code} {reason(code)}"
        heading = f"<center><h1>{title}</h1></center>\r\n"
    body = (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n{heading}{TAIL}").encode()
    return response_head(status, [("Content-Type", "text/html")], len(body)) + body


def response_head(
    status: int,
    headers: Sequence[tuple[str, str]],
    length: int | None,
    after: Sequence[tuple[str, str]] = (),
) -> bytes:
    """Status line, Server, Date, headers, Content-Length, Connection: close, then after.

    nginx's order: its own headers (Content-Type among them) first, the upstream's rest after.
    """
    lines = [f"HTTP/1.1 {status} {reason(status)}", f"Server: {SERVER}", f"Date: {_now()}"]
    lines += [f"{name}: {value}" for name, value in headers]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines.append("Connection: close")
    lines += [f"{name}: {value}" for name, value in after]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _now() -> str:
    return formatdate(usegmt=True)
