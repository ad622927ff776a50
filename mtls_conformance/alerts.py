"""TLS alerts: recognise them in OpenSSL's error reasons and name them as RFC 8446 does."""

from __future__ import annotations

import re
import ssl

# RFC 8446 section 6 plus the TLS 1.2 alerts still seen in the wild.
ALERT_CODES: dict[str, int] = {
    "close_notify": 0,
    "unexpected_message": 10,
    "bad_record_mac": 20,
    "record_overflow": 22,
    "handshake_failure": 40,
    "bad_certificate": 42,
    "unsupported_certificate": 43,
    "certificate_revoked": 44,
    "certificate_expired": 45,
    "certificate_unknown": 46,
    "illegal_parameter": 47,
    "unknown_ca": 48,
    "access_denied": 49,
    "decode_error": 50,
    "decrypt_error": 51,
    "protocol_version": 70,
    "insufficient_security": 71,
    "internal_error": 80,
    "inappropriate_fallback": 86,
    "user_canceled": 90,
    "missing_extension": 109,
    "unsupported_extension": 110,
    "unrecognized_name": 112,
    "bad_certificate_status_response": 113,
    "unknown_psk_identity": 115,
    "certificate_required": 116,
    "no_application_protocol": 120,
}

# OpenSSL reports a received alert as e.g. SSLV3_ALERT_BAD_CERTIFICATE, TLSV1_ALERT_UNKNOWN_CA,
# TLSV13_ALERT_CERTIFICATE_REQUIRED, TLSV1_UNRECOGNIZED_NAME (no ALERT_ in that one).
_ALERT_REASON = re.compile(r"^(?:SSLV3|TLSV1|TLSV13)_(?:ALERT_)?([A-Z_]+)$")


def alert_from_error(error: BaseException) -> str | None:
    """The name of the TLS alert the peer sent, if ``error`` is OpenSSL reporting one."""
    if not isinstance(error, ssl.SSLError):
        return None
    reason = getattr(error, "reason", None) or ""
    match = _ALERT_REASON.match(reason)
    if match is None:
        return None
    name = match.group(1).lower()
    return name if name in ALERT_CODES else None


def describe_alert(name: str) -> str:
    """``bad_certificate (42)``: the form used in every message."""
    code = ALERT_CODES.get(name)
    return f"{name} ({code})" if code is not None else name
