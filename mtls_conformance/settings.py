"""The run's settings: option values checked once, up front, into one frozen record."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from mtls_conformance.cases import MODES, Mode
from mtls_conformance.errors import InputError
from mtls_conformance.profiles import get_profile
from mtls_conformance.target import TLS_VERSIONS, TlsVersion


@dataclass(frozen=True)
class Settings:
    host: str | None  # None: test the embedded reference DLB
    port: int
    path: str
    echo_path: str | None
    mode: Mode
    profile: str
    certs: Path | None
    server_ca: Path | None
    insecure: bool
    connect_to: str | None
    with_crl: bool
    timeout: float
    tls_version: TlsVersion | None

    @property
    def embedded(self) -> bool:
        return self.host is None


def parse_settings(raw: dict[str, Any]) -> Settings:
    """Check every option value; the first bad one raises InputError naming the option."""
    host = _optional_text(raw.get("host"), "--host")
    mode = str(raw.get("mode") or "mandatory").lower()
    if mode not in MODES:
        raise InputError(f"--mode {mode}: must be one of {', '.join(MODES)}")
    profile = str(raw.get("profile") or "mulesoft-dlb")
    get_profile(profile)
    certs = _path(raw.get("certs"))
    server_ca = _readable_file(raw.get("server_ca"), "--server-ca")
    insecure = bool(raw.get("insecure"))
    if insecure and server_ca is not None:
        raise InputError("--insecure and --server-ca: choose one")
    tls = raw.get("tls_version")
    if tls in (None, "", "auto"):
        tls_version = None
    elif tls in TLS_VERSIONS:
        tls_version = cast(TlsVersion, tls)
    else:
        raise InputError(f"--tls-version {tls}: must be 1.2, 1.3 or auto")
    return Settings(
        host=host,
        port=_port(raw.get("port")),
        path=_url_path(raw.get("path") or "/", "--path"),
        echo_path=_url_path(raw["echo_path"], "--echo-path") if raw.get("echo_path") else None,
        mode=mode,
        profile=profile,
        certs=certs,
        server_ca=server_ca,
        insecure=insecure,
        connect_to=_optional_text(raw.get("connect_to"), "--connect-to"),
        with_crl=bool(raw.get("with_crl")),
        timeout=_timeout(raw.get("timeout")),
        tls_version=tls_version,
    )


def _optional_text(value: Any, option: str) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if not text or any(c.isspace() for c in text) or "/" in text:
        raise InputError(f"{option} {value!r}: expected a host name or address")
    return text.strip("[]")


def _port(value: Any) -> int:
    if value is None:
        return 443
    try:
        port = int(str(value))
    except ValueError:
        raise InputError(f"--port {value}: not a number") from None
    if not 1 <= port <= 65535:
        raise InputError(f"--port {value}: must be between 1 and 65535")
    return port


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


def _url_path(value: Any, option: str) -> str:
    text = str(value)
    if not text.startswith("/") or any(c.isspace() for c in text):
        raise InputError(f"{option} {text!r}: must start with / and contain no spaces")
    return text


def _path(value: Any) -> Path | None:
    # Absolute, so repro lines and reports name the same file whatever the working directory.
    return None if value in (None, "") else Path(os.path.expanduser(str(value))).absolute()


def _readable_file(value: Any, option: str) -> Path | None:
    path = _path(value)
    if path is None:
        return None
    if not path.is_file():
        raise InputError(f"{option} {path}: no such file")
    if not os.access(path, os.R_OK):
        raise InputError(f"{option} {path}: not readable")
    return path
