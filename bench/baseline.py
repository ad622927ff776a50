"""The baseline: the suite's checks as a sequential loop of curl calls, one per probe.

Each scenario the suite runs against a target becomes one ``curl`` (or, for the CA names a
target advertises, which curl cannot show, one ``openssl s_client``) with the same client
certificate and key, the same path, Host header and SNI, and the same verdict: the HTTP status
(or the TLS alert curl reports), and for the echo endpoint the identity headers the backend
received. The loop judges every answer the way the Then steps do, so "the same checks" is
something the benchmark prints (``checks as expected: 20/20``), not a claim.

The list mirrors the Gherkin features for the mulesoft-dlb profile (refusal = HTTP 400).
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from measure import Sample, run_measured

from mtls_conformance.forgery import FORGED_MARK, forged_headers
from mtls_conformance.kit import Kit
from mtls_conformance.profiles.base import HeaderNames
from mtls_conformance.values import same_dn, same_serial

HEADERS = HeaderNames()  # the DLB's X-SSL-Client-Verify, -DN, X-SSL-Issuer, -Serial
OTHER_SNI = "sni-mismatch.mtls-conformance.invalid"  # as steps/calls.py
STATUS_MARK = "@@status="
WARN_DAYS = 30  # --cert-warn-days default

# A verdict: None when the answer is what a conforming DLB gives, else what differs.
Judge = Callable[[int, str], str | None]


@dataclass(frozen=True)
class Endpoint:
    """Where the checks go: ``host`` for SNI, Host and verification, ``address`` to connect."""

    host: str
    port: int
    address: str
    path: str
    echo_path: str


@dataclass(frozen=True)
class Check:
    name: str
    argv: tuple[str, ...]
    judge: Judge


@dataclass(frozen=True)
class LoopResult:
    sample: Sample  # wall of the whole loop; CPU summed over the calls; the largest peak RSS
    checks: int
    mismatches: tuple[str, ...]


def run_loop(checks: Sequence[Check], timeout: float = 30.0) -> LoopResult:
    """Every check, one after the other, each a fresh process (as a shell loop would)."""
    cpu = 0.0
    peak = 0
    mismatches: list[str] = []
    started = time.perf_counter()
    for check in checks:
        done = run_measured(check.argv, timeout=timeout)
        cpu += done.cpu
        peak = max(peak, done.maxrss_kib)
        problem = check.judge(done.returncode, done.output)
        if problem is not None:
            mismatches.append(f"{check.name}: {problem}")
    wall = time.perf_counter() - started
    return LoopResult(Sample(wall, cpu, peak), len(checks), tuple(mismatches))


# --- building the list


class CheckList:
    """The checks for one kit; the client files the curl calls present live in ``workdir``."""

    def __init__(self, kit: Kit, workdir: Path | None = None) -> None:
        self.kit = kit
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="mtls-bench-curl-"))
        chain = kit.client("intermediate-signed").cert.read_text()
        end = "-----END CERTIFICATE-----"
        self.leaf_only = self.workdir / "intermediate-signed-leaf-only.pem"
        self.leaf_only.write_text(chain[: chain.index(end) + len(end)] + "\n")

    def for_mode(self, endpoint: Endpoint, mode: str, *, server_side: bool = True) -> list[Check]:
        """The probes of the scenarios ``pytest --mode MODE`` runs, in feature order."""
        checks = self._mandatory(endpoint) if mode == "mandatory" else self._optional(endpoint)
        if server_side:
            checks += self._server_side(endpoint)
        return checks

    # --- scenarios of each mode (features/*.feature)

    def _mandatory(self, e: Endpoint) -> list[Check]:
        checks = [self._api(e, "mandatory", None, _status(400))]
        for role in ("ca-signed", "self-signed-trusted"):
            checks.append(self._api(e, "mandatory", role, _status(200)))
        for role in ("ca-signed", "self-signed-trusted"):
            checks.append(self._echo(e, "mandatory", role, self._verified(role)))
        for role in ("expired", "untrusted", "not-yet-valid", "self-signed-untrusted", "revoked"):
            checks.append(self._api(e, "mandatory", role, _status(400)))
        checks += [
            self._api(e, "mandatory", "wrong-eku", _status(400)),
            self._api(e, "mandatory", "intermediate-signed", _status(200)),
            self._api(e, "mandatory", "leaf-only", _status(400)),
            self._echo(e, "mandatory", "ca-signed", _no_forgery, forged=True),
            self._other_site(e, sni=None),
            self._other_site(e, sni=OTHER_SNI),
        ]
        return checks

    def _optional(self, e: Endpoint) -> list[Check]:
        checks = [
            self._api(e, "optional", None, _status(200)),
            self._echo(e, "optional", None, _verify_header(lambda v: v == "NONE", "NONE")),
        ]
        for role in ("ca-signed", "self-signed-trusted"):
            checks.append(self._echo(e, "optional", role, self._verified(role)))
        failed = _verify_header(lambda v: v.startswith("FAILED:"), "FAILED:<reason>")
        for role in ("expired", "not-yet-valid", "untrusted", "self-signed-untrusted", "revoked"):
            checks.append(self._echo(e, "optional", role, failed))
        not_verified = _verify_header(lambda v: v != "SUCCESS", "anything but SUCCESS")
        checks += [
            self._echo(e, "optional", "wrong-eku", not_verified),
            self._echo(e, "optional", "intermediate-signed", self._verified("intermediate-signed")),
            self._echo(e, "optional", "leaf-only", not_verified),
            self._echo(e, "optional", None, _no_forgery, forged=True),
        ]
        return checks

    def _server_side(self, e: Endpoint) -> list[Check]:
        """server_side.feature and truststore.feature: they run in either mode."""
        url = f"https://{e.host}:{e.port}{e.path}"
        certificate = (
            *self._curl(e),
            "-o",
            "/dev/null",
            "-w",
            "%{certs}",
            url,
        )
        checks = [Check("server certificate valid, not expiring", certificate, _server_cert_ok)]
        for version in ("1.0", "1.1"):
            legacy = (
                *self._curl(e),
                f"--tlsv{version}",
                "--tls-max",
                version,
                "--ciphers",
                "DEFAULT@SECLEVEL=0",
                "-k",
                "-o",
                "/dev/null",
                url,
            )
            checks.append(Check(f"TLS {version} refused", legacy, _handshake_refused))
        ca_names = (
            "openssl",
            "s_client",
            "-connect",
            f"{e.address}:{e.port}",
            "-servername",
            e.host,
            "-nameopt",
            "RFC2253",
        )
        trusted = [
            cert.subject.rfc4514_string()
            for cert in x509.load_pem_x509_certificates(self.kit.truststore.read_bytes())
        ]
        checks.append(Check("truststore advertised", ca_names, _advertises(trusted)))
        return checks

    # --- one curl call

    def _curl(self, e: Endpoint) -> tuple[str, ...]:
        return (
            "curl",
            "-sS",
            "--max-time",
            "10",
            "--resolve",
            f"{e.host}:{e.port}:{e.address}",
            "--cacert",
            str(self.kit.server_ca),
        )

    def _client(self, role: str | None) -> tuple[str, ...]:
        if role is None:
            return ()
        if role == "leaf-only":
            key = self.kit.client("intermediate-signed").key
            return ("--cert", str(self.leaf_only), "--key", str(key))
        client = self.kit.client(role)
        return ("--cert", str(client.cert), "--key", str(client.key))

    def _api(self, e: Endpoint, mode: str, role: str | None, judge: Judge) -> Check:
        argv = (
            *self._curl(e),
            *self._client(role),
            "-w",
            f"\n{STATUS_MARK}%{{http_code}}",
            f"https://{e.host}:{e.port}{e.path}",
        )
        return Check(f"{mode} API, {role or 'no certificate'}", argv, judge)

    def _echo(
        self, e: Endpoint, mode: str, role: str | None, judge: Judge, *, forged: bool = False
    ) -> Check:
        headers: tuple[str, ...] = ()
        if forged:
            for name, value in forged_headers(HEADERS).items():
                headers += ("-H", f"{name}: {value}")
        argv = (
            *self._curl(e),
            *self._client(role),
            *headers,
            "-w",
            f"\n{STATUS_MARK}%{{http_code}}",
            f"https://{e.host}:{e.port}{e.echo_path}",
        )
        what = "forged headers" if forged else "echo"
        return Check(f"{mode} {what}, {role or 'no certificate'}", argv, judge)

    def _other_site(self, e: Endpoint, sni: str | None) -> Check:
        """No SNI (an IP address in the URL) or SNI naming another host; Host stays ours."""
        name = sni or e.address
        argv = (
            "curl",
            "-sS",
            "--max-time",
            "10",
            "-k",
            *(("--resolve", f"{sni}:{e.port}:{e.address}") if sni else ()),
            "-H",
            f"Host: {e.host}:{e.port}",
            "-w",
            f"\n{STATUS_MARK}%{{http_code}}",
            f"https://{name}:{e.port}{e.path}",
        )
        label = f"SNI {sni}" if sni else "no SNI"
        return Check(f"mandatory API, {label}, no certificate", argv, _status(400, 403, 421))

    def _verified(self, role: str) -> Judge:
        client = self.kit.client(role)

        def judge(code: int, output: str) -> str | None:
            status, headers = _echoed(code, output)
            if status != 200 or headers is None:
                return f"HTTP {status}, expected 200 with echoed headers"
            verify = headers.get(HEADERS.verify.lower(), "") if HEADERS.verify else ""
            if verify != "SUCCESS":
                return f"verify header {verify!r}"
            dn = headers.get((HEADERS.subject or "").lower(), "")
            issuer = headers.get((HEADERS.issuer or "").lower(), "")
            serial = headers.get((HEADERS.serial or "").lower(), "")
            if not same_dn(dn, client.subject) or not same_dn(issuer, client.issuer):
                return f"subject/issuer {dn!r} / {issuer!r}"
            if not same_serial(serial, client.serial):
                return f"serial {serial!r}"
            return None

        return judge


# --- judging an answer


def _status_of(output: str) -> int | None:
    found = re.search(re.escape(STATUS_MARK) + r"(\d{3})\s*$", output)
    return int(found.group(1)) if found else None


def _status(*wanted: int) -> Judge:
    def judge(code: int, output: str) -> str | None:
        status = _status_of(output)
        if code == 0 and status in wanted:
            return None
        return f"curl exit {code}, HTTP {status}; expected {wanted}: {output[-160:]!r}"

    return judge


def _echoed(code: int, output: str) -> tuple[int | None, dict[str, str] | None]:
    status = _status_of(output)
    if code != 0 or status is None:
        return status, None
    body = output[: output.rindex(STATUS_MARK)]
    try:
        raw = json.loads(body).get("headers")
    except (ValueError, AttributeError):
        return status, None
    if not isinstance(raw, dict):
        return status, None
    return status, {str(name).lower(): str(value) for name, value in raw.items()}


def _verify_header(ok: Callable[[str], bool], expected: str) -> Judge:
    def judge(code: int, output: str) -> str | None:
        status, headers = _echoed(code, output)
        if status != 200 or headers is None:
            return f"HTTP {status}, expected 200 with echoed headers"
        value = headers.get((HEADERS.verify or "").lower(), "NONE")
        return None if ok(value) else f"verify header {value!r}, expected {expected}"

    return judge


def _no_forgery(code: int, output: str) -> str | None:
    status, headers = _echoed(code, output)
    if status != 200 or headers is None:
        return f"HTTP {status}, expected 200 with echoed headers"
    leaked = [name for name, value in headers.items() if FORGED_MARK in value]
    return f"forged headers reached the backend: {leaked}" if leaked else None


def _server_cert_ok(code: int, output: str) -> str | None:
    if code != 0:
        return f"curl exit {code}: {output[-160:]!r}"
    found = re.search(r"Expire date:\s*(.+)", output)
    if found is None:
        return "no certificate details from curl"
    expires = datetime.strptime(found.group(1).strip(), "%b %d %H:%M:%S %Y %Z").replace(tzinfo=UTC)
    days = (expires - datetime.now(UTC)).days
    return None if days >= WARN_DAYS else f"expires in {days} days"


def _handshake_refused(code: int, output: str) -> str | None:
    # 35: the TLS handshake failed (the server's protocol_version alert, or no shared cipher)
    return None if code == 35 else f"curl exit {code}: {output[-160:]!r}"


def _advertises(trusted: list[str]) -> Judge:
    def judge(code: int, output: str) -> str | None:
        lines = output.splitlines()
        try:
            start = lines.index("Acceptable client certificate CA names") + 1
        except ValueError:
            return "no CA names in the handshake"
        names = []
        for line in lines[start:]:
            if not line or line.startswith(("Requested", "Client Certificate", "Shared", "---")):
                break
            names.append(line)
        missing = [t for t in trusted if not any(same_dn(n, t) for n in names)]
        return f"not advertised: {missing}" if missing else None

    return judge
