"""Remote targets: one per --host, or one per line of a --targets file.

A targets file line is ``HOST[:PORT] [mode=...] [profile=...] [path=...] [echo-path=...]
[connect-to=...]``; blank lines and ``#`` comments are ignored. Whatever a line leaves out
comes from the command line's options (or their defaults).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from mtls_conformance.cases import MODES, Mode
from mtls_conformance.errors import InputError
from mtls_conformance.profiles import PROFILES

_KEYS = {"mode", "profile", "path", "echo-path", "connect-to"}


@dataclass(frozen=True)
class Endpoint:
    """One remote load balancer listener and what it is supposed to do."""

    host: str
    port: int = 443
    mode: Mode = "mandatory"
    profile: str = "mulesoft-dlb"
    path: str = "/"
    echo_path: str | None = None
    connect_to: str | None = None

    @property
    def label(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def check_host(value: str, where: str) -> str:
    text = value.strip()
    if not text or any(c.isspace() for c in text) or "/" in text:
        raise InputError(f"{where} {value!r}: expected a host name or address")
    return text.strip("[]")


def check_port(value: str, where: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise InputError(f"{where} {value}: not a number") from None
    if not 1 <= port <= 65535:
        raise InputError(f"{where} {value}: must be between 1 and 65535")
    return port


def check_mode(value: str, where: str) -> Mode:
    mode = value.lower()
    for known in MODES:
        if mode == known:
            return known
    raise InputError(f"{where} {value}: must be one of {', '.join(MODES)}")


def check_url_path(value: str, where: str) -> str:
    if not value.startswith("/") or any(c.isspace() for c in value):
        raise InputError(f"{where} {value!r}: must start with / and contain no spaces")
    return value


def check_profile(value: str, where: str) -> str:
    if value not in PROFILES:
        known = ", ".join(sorted(PROFILES))
        raise InputError(f"{where} {value}: unknown profile (known: {known})")
    return value


def read_targets_file(path: Path, defaults: Endpoint) -> tuple[Endpoint, ...]:
    """Every endpoint in ``path``; errors name ``FILE:LINE``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"--targets {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"--targets {path}: cannot read ({error})") from None
    endpoints: list[Endpoint] = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split("#", 1)[0].split()
        if words:
            endpoints.append(_endpoint(words, defaults, f"{path}:{number}:"))
    if not endpoints:
        raise InputError(f"--targets {path}: no targets in the file")
    return tuple(endpoints)


def _endpoint(words: list[str], defaults: Endpoint, where: str) -> Endpoint:
    host, port = _host_and_port(words[0], defaults.port, where)
    endpoint = replace(defaults, host=host, port=port)
    for word in words[1:]:
        key, sep, value = word.partition("=")
        if not sep or key not in _KEYS:
            known = ", ".join(sorted(_KEYS))
            raise InputError(f"{where} {word!r}: expected key=value with a key among {known}")
        if key == "mode":
            endpoint = replace(endpoint, mode=check_mode(value, f"{where} mode"))
        elif key == "profile":
            endpoint = replace(endpoint, profile=check_profile(value, f"{where} profile"))
        elif key == "path":
            endpoint = replace(endpoint, path=check_url_path(value, f"{where} path"))
        elif key == "echo-path":
            endpoint = replace(endpoint, echo_path=check_url_path(value, f"{where} echo-path"))
        else:
            endpoint = replace(endpoint, connect_to=check_host(value, f"{where} connect-to"))
    return endpoint


def _host_and_port(word: str, default_port: int, where: str) -> tuple[str, int]:
    if word.startswith("["):  # [IPv6]:port
        host, _, rest = word[1:].partition("]")
        port = check_port(rest[1:], f"{where} port") if rest.startswith(":") else default_port
        return check_host(host, f"{where} host"), port
    if word.count(":") == 1:
        host, port_text = word.split(":")
        return check_host(host, f"{where} host"), check_port(port_text, f"{where} port")
    return check_host(word, f"{where} host"), default_port
