"""Compare forwarded identity values by meaning, not by spelling.

Load balancers print the same distinguished name and serial number in several ways:
nginx ``CN=a,OU=b,O=c`` (RFC 2253, most specific first), HAProxy / Apache ``/O=c/OU=b/CN=a``
(OpenSSL's one-line form, most general first), serials in hex of any case, with or without
colons, or in decimal (Caddy).
"""

from __future__ import annotations

import re

DnParts = tuple[tuple[str, str], ...]

# Long names some servers print instead of the short RFC 4514 keys.
_ATTRIBUTE_ALIASES = {
    "commonname": "cn",
    "organizationname": "o",
    "organizationalunitname": "ou",
    "countryname": "c",
    "localityname": "l",
    "stateorprovincename": "st",
    "st": "st",
    "s": "st",
    "emailaddress": "emailaddress",
    "email": "emailaddress",
    "domaincomponent": "dc",
}


def _split_unescaped(text: str, separators: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char in separators:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value.strip())


def parse_dn(text: str) -> DnParts:
    """A DN as (attribute, value) pairs, most specific first, whatever form it came in."""
    text = text.strip()
    slash_form = text.startswith("/")
    pieces = _split_unescaped(text[1:], "/") if slash_form else _split_unescaped(text, ",+")
    parts: list[tuple[str, str]] = []
    for piece in pieces:
        if not piece.strip():
            continue
        name, sep, value = piece.partition("=")
        if not sep:
            raise ValueError(f"not a distinguished name: {text!r}")
        key = name.strip().lower()
        parts.append((_ATTRIBUTE_ALIASES.get(key, key), _unescape(value)))
    return tuple(reversed(parts)) if slash_form else tuple(parts)


def same_dn(observed: str, expected: str) -> bool:
    try:
        return parse_dn(observed) == parse_dn(expected)
    except ValueError:
        return False


def parse_serial(text: str) -> int | None:
    """A serial number from hex (any case, optional colons or 0x) or decimal; None if neither.

    A string of decimal digits is ambiguous; callers compare both readings (see same_serial).
    """
    cleaned = text.strip().replace(":", "").lower().removeprefix("0x")
    if not cleaned or not re.fullmatch(r"[0-9a-f]+", cleaned):
        return None
    return int(cleaned, 16)


def same_serial(observed: str, expected: int) -> bool:
    cleaned = observed.strip()
    if cleaned.isdigit() and int(cleaned) == expected:
        return True
    return parse_serial(cleaned) == expected


def nginx_serial(serial: int) -> str:
    """The serial as nginx's ``$ssl_client_serial`` prints it: uppercase hex, even length."""
    text = f"{serial:X}"
    return text if len(text) % 2 == 0 else f"0{text}"
