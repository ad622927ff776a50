"""nginx's $ssl_client_* variables, byte for byte, from a cryptography certificate.

Measured on nginx 1.22.1 / OpenSSL 3.0 (see examples/nginx/): $ssl_client_s_dn and
$ssl_client_i_dn are X509_NAME_print_ex(..., XN_FLAG_RFC2253), which this module ports
because the OpenSSL bindings we have do not expose it. Examples it reproduces:

    CN=ca-signed,OU=QA,O=mtls-conformance          (last RDN first)
    OU=\\#lead,L=tab\\09here\\7Fdel,1.2.3.4.5=#0C03756E6B,UID=uid1+CN=\\ #sp \\C3\\A9\\ ,
    emailAddress=a@b.c,O=Ex\\, Inc. \\+\\"q\\"\\;\\<x\\>\\\\=,C=DE

$ssl_client_serial is i2a_ASN1_INTEGER: uppercase hex of the magnitude bytes, so an even
number of digits with a leading zero kept (0x0A1B2C -> 0A1B2C, 1 -> 01, 0x80FF -> 80FF).
"""

from __future__ import annotations

from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.name import _ASN1Type

from mtls_conformance.reference import ossl
from mtls_conformance.reference.verify_errors import OPENSSL_30_VERIFY_ERRORS

# ASN.1 string types OpenSSL prints as text (tag2nbyte in crypto/asn1/a_strex.c), with the
# codec that turns cryptography's decoded value back into the characters OpenSSL sees.
_TEXT_TYPES: dict[int, str] = {
    _ASN1Type.UTF8String.value: "utf-8",
    _ASN1Type.NumericString.value: "latin-1",
    _ASN1Type.PrintableString.value: "latin-1",
    _ASN1Type.T61String.value: "latin-1",
    _ASN1Type.IA5String.value: "latin-1",
    _ASN1Type.UTCTime.value: "latin-1",
    _ASN1Type.GeneralizedTime.value: "latin-1",
    _ASN1Type.VisibleString.value: "latin-1",
    _ASN1Type.UniversalString.value: "utf-32-be",
    _ASN1Type.BMPString.value: "utf-16-be",
}
_BACKSLASHED = frozenset(',+"\\<>;')  # RFC 2253 specials (mkcharmap.pl RFC2253_ESC)


def verify_value(has_cert: bool, result: int) -> str:
    """$ssl_client_verify: NONE, SUCCESS or FAILED:<OpenSSL 3.0 error string>."""
    if not has_cert:
        return "NONE"
    if result == 0:
        return "SUCCESS"
    reason = OPENSSL_30_VERIFY_ERRORS.get(result) or ossl.verify_error_string(result)
    return f"FAILED:{reason}"


def rfc2253(name: x509.Name) -> str:
    """X509_NAME_print_ex(XN_FLAG_RFC2253): reversed RDNs, ',' between, '+' inside one."""
    entries = [(index, attr) for index, rdn in enumerate(name.rdns) for attr in rdn]
    out: list[str] = []
    previous: int | None = None
    for index, attr in reversed(entries):
        if previous is not None:
            out.append("+" if index == previous else ",")
        previous = index
        out.append(_field(attr))
    return "".join(out)


def serial_hex(cert: x509.Certificate) -> str:
    """$ssl_client_serial: i2a_ASN1_INTEGER of the serial number."""
    serial = cert.serial_number
    sign = "-" if serial < 0 else ""
    magnitude = abs(serial)
    raw = magnitude.to_bytes(max(1, (magnitude.bit_length() + 7) // 8), "big")
    return sign + raw.hex().upper()


def escaped_pem(cert: x509.Certificate) -> str:
    """$ssl_client_escaped_cert: the PEM, URL-escaped like ngx_escape_uri(URI_COMPONENT)."""
    # nginx leaves only ALPHA DIGIT - . _ ~ unescaped, which is quote()'s own safe set.
    return quote(cert.public_bytes(Encoding.PEM).decode("ascii"), safe="")


def _field(attr: x509.NameAttribute[str | bytes]) -> str:
    oid = attr.oid.dotted_string
    sn = ossl.short_name(oid)
    tag = attr._type.value
    if sn is None:  # XN_FLAG_DUMP_UNKNOWN_FIELDS: dotted OID and the DER of the value
        return f"{oid}={_dump(tag, attr.value)}"
    codec = _TEXT_TYPES.get(tag)
    if codec is None or isinstance(attr.value, bytes):  # ASN1_STRFLGS_DUMP_UNKNOWN
        return f"{sn}={_dump(tag, attr.value)}"
    return f"{sn}={_escape(attr.value)}"


def _escape(value: str) -> str:
    # ASN1_STRFLGS_RFC2253 after UTF8_CONVERT: bytes >= 0x80 and controls as \XX,
    # specials backslashed, '#' first and ' ' first or last backslashed.
    data = value.encode("utf-8")
    out: list[str] = []
    last = len(data) - 1
    for i, byte in enumerate(data):
        char = chr(byte)
        if byte > 0x7E or byte < 0x20:
            out.append(f"\\{byte:02X}")
        elif char in _BACKSLASHED or ((char == "#" and i == 0) or (char == " " and i in (0, last))):
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


def _dump(tag: int, value: str | bytes) -> str:
    # ASN1_STRFLGS_DUMP_DER: '#' and the hex of tag, length and content.
    if isinstance(value, bytes):
        content = b"\x00" + value if tag == _ASN1Type.BitString.value else value
    else:
        content = value.encode(_TEXT_TYPES.get(tag, "utf-8"))
    return "#" + (bytes([tag]) + _der_length(len(content)) + content).hex().upper()


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw
