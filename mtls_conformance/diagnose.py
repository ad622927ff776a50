"""Expected vs observed -> the likely cause in plain words, and lines that reproduce it."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from mtls_conformance.cases import NO_CERTIFICATE, Mode, is_trusted
from mtls_conformance.outcome import Outcome
from mtls_conformance.profiles.base import Expectation, HeaderNames
from mtls_conformance.target import Target
from mtls_conformance.verdict import is_accepted


@dataclass(frozen=True)
class Diagnosis:
    expected: str
    observed: str
    problems: tuple[str, ...]
    cause: str
    reproduce: tuple[str, ...]

    def render(self) -> str:
        lines = [f"expected: {self.expected}", f"observed: {self.observed}"]
        lines.extend(f"  - {problem}" for problem in self.problems)
        lines.append(f"likely cause: {self.cause}")
        lines.append("reproduce:")
        lines.extend(f"  {line}" for line in self.reproduce)
        return "\n".join(lines)


@dataclass(frozen=True)
class Situation:
    """Everything about one scenario's probe that a diagnosis may mention."""

    mode: Mode
    case: str
    target: Target
    path: str
    client_cert: tuple[Path, Path] | None
    headers: HeaderNames


def diagnose(
    situation: Situation, expectation: Expectation, outcome: Outcome, problems: list[str]
) -> Diagnosis:
    return Diagnosis(
        expected=expectation.describe(),
        observed=outcome.summary(),
        problems=tuple(problems),
        cause=likely_cause(situation, expectation, outcome, problems),
        reproduce=(curl_line(situation), openssl_line(situation)),
    )


def likely_cause(
    situation: Situation, expectation: Expectation, outcome: Outcome, problems: list[str]
) -> str:
    case, mode = situation.case, situation.mode
    verify_name = situation.headers.verify or "the verify header"
    observed_verify = outcome.echoed(verify_name) if situation.headers.verify else None
    if any("echo endpoint did not answer" in problem for problem in problems):
        return (
            f"{situation.path} is not an echo endpoint: point --echo-path at an endpoint "
            'behind the load balancer that answers {"headers": {...}} (httpbin /anything)'
        )
    if any("without a client certificate" in problem for problem in problems):
        return (
            "a request whose SNI does not name the protected site landed on a site that "
            "does not ask for a client certificate and was still routed to the API: require "
            "client certificates on the default / fallback site too, or reject requests "
            "whose Host differs from the SNI (nginx answers 421)"
        )
    if any("forged" in problem for problem in problems):
        return (
            "the target passes identity headers sent by the client through to the backend: "
            "set them unconditionally on every request (nginx: proxy_set_header) so the "
            "client's copies are replaced, whatever their letter case"
        )
    if outcome.untestable or outcome.kind in ("timeout", "error"):
        return f"the target could not be tested at this point ({outcome.summary()})"
    if not expectation.accepted and is_accepted(outcome):
        if case == NO_CERTIFICATE:
            return (
                "the target accepted a request without a client certificate; "
                "Client Certificate Validation looks set to Optional"
            )
        if observed_verify is not None and observed_verify.startswith("FAILED"):
            return (
                f"the target saw the {case} certificate fail verification ({observed_verify}) "
                "and still forwarded it: an error page rule (e.g. error_page 495 = @forward) "
                "or Optional validation swallows the rejection"
            )
        if case in ("untrusted", "self-signed-untrusted"):
            return (
                f"the target trusts the {case} certificate: the truststore holds a CA or "
                "certificate it should not (wrong CA uploaded?), or validation is off"
            )
        if case == "revoked":
            return "the target does not check revocation: no CRL loaded, or an outdated one"
        return (
            f"the target accepted the {case} certificate: client certificates are not "
            "validated (Optional, or an error page swallows the rejection)"
        )
    if expectation.accepted and not is_accepted(outcome):
        text = (outcome.page_title or "") + " " + outcome.body
        if "CRL" in text:
            return (
                "the target checks revocation but has no CRL for an issuer in this chain: "
                "upload the kit's crl.pem, which holds one from every issuer"
            )
        if case == "self-signed-trusted":
            return (
                "the truststore does not hold the self-signed client certificate: upload "
                "truststore.pem with both certificates (uploading only one is the classic "
                "mistake)"
            )
        if case == "ca-signed":
            return (
                "the truststore does not hold the kit's client CA: upload truststore.pem "
                "(wrong or partial truststore?)"
            )
        if case == "intermediate-signed":
            return (
                "the target rejects a chain through an intermediate CA: verify depth too "
                "small (nginx ssl_verify_depth defaults to 1) or the chain is not accepted"
            )
        if case == NO_CERTIFICATE and mode == "optional":
            return (
                "the target requires a client certificate although Optional mode was "
                "expected: Client Certificate Validation looks set to Mandatory"
            )
        if (
            case
            in (
                "expired",
                "not-yet-valid",
                "untrusted",
                "self-signed-untrusted",
                "revoked",
                "wrong-eku",
            )
            and mode == "optional"
        ):
            return (
                "the target refuses invalid certificates in Optional mode instead of "
                "forwarding them with FAILED:<reason>: check the profile (--profile nginx) "
                "or the error_page 495 forward rule"
            )
        return "the target refused a request it should accept"
    if not expectation.accepted:
        return (
            "the target refuses, but not the way this profile expects: pick the --profile "
            "that matches the target, or it refuses for another reason than expected"
        )
    if any("received no" in problem for problem in problems):
        if observed_verify is None and situation.headers.verify is not None:
            return (
                f"the target does not forward {verify_name} to the backend: add the header "
                "(nginx: proxy_set_header X-SSL-Client-Verify $ssl_client_verify)"
            )
        return "the target does not forward every identity header to the backend"
    expected_failure = any(value.startswith("FAILED") for value in expectation.verify_values)
    if observed_verify is not None and observed_verify.startswith("FAILED") and expected_failure:
        return (
            f"the target did reject the {case} certificate, but for another reason than "
            f"expected ({observed_verify}): a CRL that is (or is not) loaded changes the "
            "reason OpenSSL reports, and so can another OpenSSL version"
        )
    if observed_verify is not None and observed_verify.startswith("FAILED") and is_trusted(case):
        return (
            "the target could not verify a certificate that chains to the truststore: "
            "truststore incomplete, or a CRL missing for one issuer"
        )
    return "the target forwards identity headers with values that do not match the certificate"


def _bracketed(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def curl_line(situation: Situation) -> str:
    """curl doing what the probe did: same trust, certificate, TLS version, SNI and Host."""
    target = situation.target
    words = ["curl", "-sS", "-i"]
    if target.tls_version is not None:
        words += [f"--tlsv{target.tls_version}", "--tls-max", target.tls_version]
    if target.insecure:
        words.append("--insecure")
    elif target.server_ca is not None:
        words += ["--cacert", str(target.server_ca)]
    # curl sends the URL's host as SNI (none for an address), so a chosen SNI is put in the
    # URL and the Host header set apart.
    url_host = target.host
    if target.sni_overridden:
        url_host = target.server_name or target.address
        words += ["-H", f"Host: {target.authority}"]
    if target.connect_to is not None or url_host != target.host:
        destination = f"{_bracketed(target.address)}:{target.port}"
        words += ["--connect-to", f"{_bracketed(url_host)}:{target.port}:{destination}"]
    if situation.client_cert is not None:
        words += ["--cert", str(situation.client_cert[0]), "--key", str(situation.client_cert[1])]
    words.append(f"https://{_bracketed(url_host)}:{target.port}{situation.path}")
    return shlex.join(words)


def s_client_line(target: Target, *extra: str) -> str:
    """openssl s_client reaching ``target`` as the probes do, plus ``extra`` words."""
    words = ["openssl", "s_client", "-connect", f"{_bracketed(target.address)}:{target.port}"]
    name = target.server_name
    words += ["-servername", name] if name else ["-noservername"]
    return shlex.join([*words, *extra])


def openssl_line(situation: Situation) -> str:
    target = situation.target
    words: list[str] = []
    if target.tls_version is not None:
        words.append("-tls1_2" if target.tls_version == "1.2" else "-tls1_3")
    if target.server_ca is not None and not target.insecure:
        words += ["-CAfile", str(target.server_ca), "-verify_return_error"]
    if situation.client_cert is not None:
        words += ["-cert", str(situation.client_cert[0]), "-key", str(situation.client_cert[1])]
    return s_client_line(target, *words)
