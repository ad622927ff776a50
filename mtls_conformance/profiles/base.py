"""What a profile is: per mode and certificate case, how acceptance and refusal look."""

from __future__ import annotations

from dataclasses import dataclass, field

from mtls_conformance.alerts import describe_alert
from mtls_conformance.cases import Mode


@dataclass(frozen=True)
class HeaderNames:
    """Names of the identity headers the target forwards to the backend (case-insensitive)."""

    verify: str | None = "X-SSL-Client-Verify"
    subject: str | None = "X-SSL-Client-DN"
    issuer: str | None = "X-SSL-Issuer"
    serial: str | None = "X-SSL-Client-Serial"

    def all(self) -> tuple[str, ...]:
        names = (self.verify, self.subject, self.issuer, self.serial)
        return tuple(name for name in names if name is not None)


@dataclass(frozen=True)
class Expectation:
    """What a conforming target does in one situation.

    Refusal may take any of the listed forms (an HTTP status with an optional exact page title,
    or one of several TLS alerts), because the same load balancer answers differently under
    TLS 1.2 and 1.3.
    """

    accepted: bool
    verify_values: frozenset[str] = frozenset()  # empty: the verify header is not checked
    identity: bool = False  # subject, issuer and serial must describe the presented certificate
    statuses: frozenset[int] = frozenset()
    page_title: str | None = None
    alerts: frozenset[str] = frozenset()
    note: str = field(default="", compare=False)

    def describe(self) -> str:
        if self.accepted:
            text = "accepted (HTTP 2xx)"
            if self.verify_values:
                text += " with verify header " + " or ".join(sorted(self.verify_values))
            return text
        forms: list[str] = []
        for status in sorted(self.statuses):
            title = f' page "{self.page_title}"' if self.page_title else ""
            forms.append(f"HTTP {status}{title}")
        forms.extend(f"TLS alert {describe_alert(alert)}" for alert in sorted(self.alerts))
        return "refused with " + " or ".join(forms) if forms else "refused"


@dataclass(frozen=True)
class Profile:
    """A kind of target. Subclasses override :meth:`expect`; everything else is data."""

    name: str
    summary: str
    headers: HeaderNames = HeaderNames()
    verify_success: str = "SUCCESS"
    verify_none: str = "NONE"

    def expect(self, mode: Mode, case: str, *, crl_loaded: bool) -> Expectation:
        """What a conforming target does; ``crl_loaded``: it has the kit's crl.pem."""
        raise NotImplementedError
