"""What one probe observed: a frozen record that every later stage reads and nothing mutates."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from mtls_conformance.alerts import describe_alert

OutcomeKind = Literal[
    "http",  # the target answered with an HTTP response
    "alert",  # the target refused inside TLS with an alert
    "reset",  # the connection was reset (RST) without a readable alert
    "eof",  # the connection was closed without a readable alert
    "timeout",  # no answer in time
    "refused",  # TCP connection refused
    "dns",  # the host name does not resolve
    "not-tls",  # something answered, but not TLS
    "server-cert",  # we rejected the target's own certificate
    "error",  # anything else, described in ``detail``
]

# Kinds that mean the target could not be tested at all, as opposed to it saying no.
UNTESTABLE_KINDS: frozenset[OutcomeKind] = frozenset({"refused", "dns", "not-tls", "server-cert"})

_TITLE = re.compile(r"<title>(.*?)</title>", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Outcome:
    """One fresh connection plus one request, as the client saw it."""

    kind: OutcomeKind
    detail: str = ""
    status: int | None = None
    body: str = ""
    response_headers: Mapping[str, str] = field(default_factory=dict)
    # Headers the backend received, read from an echo endpoint's JSON body; keys lowercased
    # because header names are case-insensitive (HAProxy lowercases them).
    echoed_headers: Mapping[str, str] | None = None
    # The probe asked an echo endpoint: then a missing ``echoed_headers`` is a finding (the
    # endpoint does not echo), not merely a status-only call.
    echo_requested: bool = False
    alert: str | None = None
    # True when the alert was recovered by a second read after requests reported a bare EOF.
    alert_recovered: bool = False
    tls_version: str | None = None
    elapsed: float = 0.0

    @property
    def page_title(self) -> str | None:
        match = _TITLE.search(self.body)
        return " ".join(match.group(1).split()) if match else None

    @property
    def echo_missing(self) -> bool:
        """An echo endpoint answered, but not with ``{"headers": {...}}``."""
        return self.echo_requested and self.kind == "http" and self.echoed_headers is None

    @property
    def untestable(self) -> bool:
        return self.kind in UNTESTABLE_KINDS

    def echoed(self, name: str) -> str | None:
        """The value of header ``name`` as the backend received it (None when absent)."""
        if self.echoed_headers is None:
            return None
        return self.echoed_headers.get(name.lower())

    def summary(self) -> str:
        """One line in plain words, used in every report."""
        version = f" over TLS {self.tls_version}" if self.tls_version else ""
        if self.kind == "http":
            title = self.page_title
            page = f' page "{title}"' if title else ""
            return f"HTTP {self.status}{page}{version}"
        if self.kind == "alert" and self.alert is not None:
            how = " (read after the connection seemed to close)" if self.alert_recovered else ""
            return f"TLS alert {describe_alert(self.alert)}{how}{version}"
        labels = {
            "reset": "connection reset without a TLS alert",
            "eof": "connection closed without a TLS alert or HTTP response",
            "timeout": "no answer in time",
            "refused": "connection refused",
            "dns": "host name does not resolve",
            "not-tls": "the port does not speak TLS",
            "server-cert": "the target's server certificate was rejected",
            "error": "error",
        }
        text = labels.get(self.kind, self.kind)
        return f"{text}: {self.detail}" if self.detail else text
