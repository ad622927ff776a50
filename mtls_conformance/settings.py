"""The run's settings: option values checked once, up front, into one frozen record."""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from mtls_conformance.endpoints import (
    Endpoint,
    check_host,
    check_mode,
    check_port,
    check_profile,
    check_url_path,
    read_targets_file,
)
from mtls_conformance.errors import InputError
from mtls_conformance.target import TLS_VERSIONS, TlsVersion


@dataclass(frozen=True)
class Settings:
    # Remote targets; empty: test the embedded reference DLB (both modes).
    endpoints: tuple[Endpoint, ...]
    # What --mode, --profile, --path, --echo-path said (the endpoints' defaults).
    defaults: Endpoint
    certs: Path | None
    server_ca: Path | None
    insecure: bool
    with_crl: bool
    timeout: float
    tls_version: TlsVersion | None
    # The target's own certificate: warn with fewer days of validity left, fail with fewer.
    cert_warn_days: int = 30
    cert_fail_days: int = 7

    @property
    def embedded(self) -> bool:
        return not self.endpoints


def parse_settings(raw: dict[str, Any]) -> Settings:
    """Check every option value; the first bad one raises InputError naming the option."""
    server_ca = _trust_file(_readable_file(raw.get("server_ca"), "--server-ca"))
    insecure = bool(raw.get("insecure"))
    if insecure and server_ca is not None:
        raise InputError("--insecure and --server-ca: choose one")
    defaults = Endpoint(
        host="",
        port=check_port(str(raw["port"]), "--port") if raw.get("port") is not None else 443,
        mode=check_mode(str(raw.get("mode") or "mandatory"), "--mode"),
        profile=check_profile(str(raw.get("profile") or "mulesoft-dlb"), "--profile"),
        path=check_url_path(str(raw.get("path") or "/"), "--path"),
        echo_path=check_url_path(str(raw["echo_path"]), "--echo-path")
        if raw.get("echo_path")
        else None,
        connect_to=check_host(str(raw["connect_to"]), "--connect-to")
        if raw.get("connect_to")
        else None,
    )
    return Settings(
        endpoints=_endpoints(raw, defaults),
        defaults=defaults,
        certs=_path(raw.get("certs")),
        server_ca=server_ca,
        insecure=insecure,
        with_crl=bool(raw.get("with_crl")),
        timeout=_timeout(raw.get("timeout")),
        tls_version=_tls_version(raw.get("tls_version")),
        cert_warn_days=_days(raw.get("cert_warn_days"), "--cert-warn-days", 30),
        cert_fail_days=_days(raw.get("cert_fail_days"), "--cert-fail-days", 7),
    )


def _endpoints(raw: dict[str, Any], defaults: Endpoint) -> tuple[Endpoint, ...]:
    hosts = raw.get("host") or []
    if isinstance(hosts, str):
        hosts = [hosts]
    endpoints = [
        Endpoint(**{**vars(defaults), "host": check_host(str(host), "--host")}) for host in hosts
    ]
    targets_file = _path(raw.get("targets"))
    if targets_file is not None:
        endpoints.extend(read_targets_file(targets_file, defaults))
    labels = [f"{e.label} {e.mode}" for e in endpoints]
    for label in labels:
        if labels.count(label) > 1:
            raise InputError(f"--host / --targets: {label} is given twice")
    return tuple(endpoints)


def _days(value: Any, option: str, default: int) -> int:
    if value is None:
        return default
    try:
        days = int(str(value))
    except ValueError:
        raise InputError(f"{option} {value}: not a whole number of days") from None
    if not 0 <= days <= 3650:
        raise InputError(f"{option} {value}: must be between 0 and 3650")
    return days


def _tls_version(value: Any) -> TlsVersion | None:
    if value in (None, "", "auto"):
        return None
    if value in TLS_VERSIONS:
        return cast(TlsVersion, value)
    raise InputError(f"--tls-version {value}: must be 1.2, 1.3 or auto")


def _timeout(value: Any) -> float:
    if value is None:
        return 10.0
    try:
        seconds = float(str(value))
    except ValueError:
        raise InputError(f"--timeout {value}: not a number of seconds") from None
    if not 0 < seconds <= 600:
        raise InputError(f"--timeout {value}: must be more than 0 and at most 600 seconds")
    return seconds


def _path(value: Any) -> Path | None:
    # Absolute, so repro lines and reports name the same file whatever the working directory.
    return None if value in (None, "") else Path(os.path.expanduser(str(value))).absolute()


def _trust_file(path: Path | None) -> Path | None:
    """The file must hold at least one CA certificate OpenSSL can load."""
    if path is None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cafile=str(path))
    except (ssl.SSLError, ValueError) as error:
        reason = getattr(error, "reason", None) or str(error)
        raise InputError(f"--server-ca {path}: not a PEM certificate file ({reason})") from None
    if not context.get_ca_certs():
        raise InputError(f"--server-ca {path}: holds no CA certificate")
    return path


def _readable_file(value: Any, option: str) -> Path | None:
    path = _path(value)
    if path is None:
        return None
    if not path.is_file():
        raise InputError(f"{option} {path}: no such file")
    if not os.access(path, os.R_OK):
        raise InputError(f"{option} {path}: not readable")
    return path
